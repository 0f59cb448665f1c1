"""Topic profiles."""

from __future__ import annotations

import click

from awareness.cli.base import State, cli, emit_json, pass_state, table


@cli.group()
def topics() -> None:
    """Topic profiles (subscriptions/topics/*.toml)."""


@topics.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def topics_list(state: State, as_json: bool) -> None:
    """Every topic with its query."""
    rows = [{"slug": t.slug, "name": t.name, "review": t.review, "query": t.query.text,
             "sources": list(t.sources), "driver_tags": list(t.driver_tags)}
            for t in state.ctx.topics()]
    if as_json:
        emit_json(rows)
        return
    table(["slug", "name", "review", "query"],
           [[r["slug"], r["name"], r["review"], r["query"]] for r in rows])


