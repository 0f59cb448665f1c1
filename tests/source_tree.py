"""The package's own modules, read from source, for the tests that check its structure
(tests/test_boundary.py, tests/test_import_cycles.py).

Nothing here imports the package: the modules are found as files under ``src/awareness`` and
read with ``ast``, so a module that would fail to import, or would load a library we forbid,
is still seen.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "awareness"


def modules() -> dict[str, Path]:
    """Every module of the package by dotted name; a package is named by its ``__init__``."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


def parse(path: Path) -> ast.Module:
    """The module's syntax tree."""
    return ast.parse(path.read_text(encoding="utf-8"), filename=str(path))


def is_within(name: str, prefix: str) -> bool:
    """Is module ``name`` the module ``prefix`` or inside the package ``prefix``?"""
    return name == prefix or name.startswith(prefix + ".")


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def runtime_import_nodes(tree: ast.AST) -> Iterator[ast.Import | ast.ImportFrom]:
    """Every import statement that can run: at module level and deferred inside functions,
    but not under ``if TYPE_CHECKING:`` (those only exist for the type checker)."""
    if isinstance(tree, ast.Import | ast.ImportFrom):
        yield tree
        return
    if isinstance(tree, ast.If) and _is_type_checking(tree.test):
        children: list[ast.AST] = list(tree.orelse)
    else:
        children = list(ast.iter_child_nodes(tree))
    for child in children:
        yield from runtime_import_nodes(child)


def imported_modules(name: str, tree: ast.AST, known: set[str]) -> set[str]:
    """The modules of ``known`` that module ``name`` imports when it runs.

    ``from package import module`` counts as importing the module; ``from module import name``
    as importing the module. Parent packages loaded on the way are not counted: importing
    ``awareness.web.app`` runs ``awareness/web/__init__.py`` too, but a package that
    re-exports its own modules is not a cycle worth refusing.
    """
    found = set()
    for node in runtime_import_nodes(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
            continue
        base = _absolute(name, node, is_package=name in _packages(known))
        for alias in node.names:
            if f"{base}.{alias.name}" in known:
                found.add(f"{base}.{alias.name}")
            elif base in known:
                found.add(base)
    found.discard(name)
    return found


def _absolute(name: str, node: ast.ImportFrom, *, is_package: bool) -> str:
    if not node.level:
        return node.module or ""
    parts = name.split(".")
    keep = len(parts) - node.level + (1 if is_package else 0)
    return ".".join(parts[:keep] + ([node.module] if node.module else []))


def _packages(known: set[str]) -> set[str]:
    return {name.rsplit(".", 1)[0] for name in known if "." in name}
