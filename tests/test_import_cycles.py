"""No import cycles among the package's modules (issue 11, docs/architecture.md).

The graph is built from the source with ``ast``. Deferred imports inside functions count as
well as module-level ones: the cycle this test was written for (``web/app.py`` importing the
page modules inside ``_routes()`` while they imported ``app.py`` at the top) was hidden by
exactly such a deferred import. Imports under ``if TYPE_CHECKING:`` never run and do not
count.
"""

from __future__ import annotations

import ast

from tests.source_tree import imported_modules, modules, parse

# Cycles that may stay until a rewrite under way elsewhere lands, one set of modules per
# cycle. Only modules being rewritten at the moment may appear here (service/digests*,
# people, stewardship, source_report, driver*, review; digests/); the lead empties this when
# those rewrites are merged. None exists today.
ALLOWED_CYCLES: set[frozenset[str]] = set()


def import_graph() -> dict[str, set[str]]:
    """Each module of the package → the package's modules it imports when it runs."""
    found = modules()
    known = set(found)
    return {name: imported_modules(name, parse(path), known) for name, path in found.items()}


def cycles(graph: dict[str, set[str]]) -> list[frozenset[str]]:
    """The strongly connected components of more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[frozenset[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while (member := stack.pop()) != node:
                component.append(member)
            if component:
                found.append(frozenset([node, *component]))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def describe(component: frozenset[str], graph: dict[str, set[str]]) -> str:
    """The imports that hold one cycle together, one ``a -> b`` per line."""
    return "\n".join(f"  {source} -> {target}" for source in sorted(component)
                     for target in sorted(graph[source] & component))


def test_no_module_takes_part_in_an_import_cycle():
    graph = import_graph()
    found = [c for c in cycles(graph) if c not in ALLOWED_CYCLES]
    assert not found, "import cycles:\n" + "\n\n".join(describe(c, graph) for c in found)


def test_every_allowed_cycle_still_exists():
    # An allowance that outlived its cycle would let the cycle come back unnoticed.
    assert set(cycles(import_graph())) >= ALLOWED_CYCLES


def test_only_the_entry_point_imports_the_web_app():
    # The page modules get their helpers from web/guards.py, never from app.py (issue 11).
    graph = import_graph()
    assert {name for name, targets in graph.items() if "awareness.web.app" in targets} == {
        "awareness.cli.run"}


def test_the_graph_sees_deferred_imports_and_the_check_finds_a_cycle():
    # Guards the tests above: a deferred import is an edge (cli.pipeline imports the entry
    # point inside its `run` command), and two modules importing each other are a cycle.
    graph = import_graph()
    assert "awareness.cli.run" in graph["awareness.cli.pipeline"]
    assert "awareness.web.guards" in graph["awareness.web.app"]
    looped = {**graph, "awareness.web.guards": graph["awareness.web.guards"] | {
        "awareness.web.app"}}
    assert any({"awareness.web.app", "awareness.web.guards"} <= c for c in cycles(looped))


def test_imports_under_type_checking_do_not_count():
    tree = ast.parse("from typing import TYPE_CHECKING\n"
                     "if TYPE_CHECKING:\n    import awareness.a\n"
                     "def f():\n    import awareness.b\n"
                     "from awareness import c\n")
    known = {"awareness.a", "awareness.b", "awareness.c", "awareness.x"}
    assert imported_modules("awareness.x", tree, known) == {"awareness.b", "awareness.c"}
