"""Driver records."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from awareness.cli.base import State, cli, emit_json, pass_state, table


@cli.group()
def drivers() -> None:
    """Driver records (the library's database of policy documents)."""


@drivers.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False,
                                                                   path_type=Path))
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def drivers_import(state: State, paths: tuple[Path, ...], dry_run: bool, as_json: bool) -> None:
    """Import records from MAP-toolkit pages saved as text."""
    from awareness.service.drivers import import_drivers

    results: list[dict[str, Any]] = []
    for path in paths:
        report = import_drivers(state.ctx, path, dry_run=dry_run)
        kinds = [r.kind for r in report.records]
        results.append({"path": str(path), "drivers": kinds.count("driver"),
                        "case_studies": kinds.count("case_study"), "created": report.created,
                        "updated": report.updated, "unchanged": report.unchanged})
    if as_json:
        emit_json(results)
        return
    verb = "would import" if dry_run else "imported"
    for r in results:
        click.echo(f"{r['path']}: {verb} {r['drivers']} drivers and {r['case_studies']} case "
                   f"studies ({len(r['created'])} new, {len(r['updated'])} updated, "
                   f"{len(r['unchanged'])} unchanged)")
        for slug in r["created"]:
            click.echo(f"  + {slug}")
        for slug in r["updated"]:
            click.echo(f"  ~ {slug}")


@drivers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def drivers_list(state: State, as_json: bool) -> None:
    """Every driver record."""
    from awareness.service.drivers import list_drivers

    views = list_drivers(state.ctx)
    if as_json:
        emit_json([v.as_json() for v in views])
        return
    table(["slug", "kind", "source", "tags", "title"],
           [[v.slug, v.kind, v.source, ", ".join(v.tags), v.title] for v in views])


@drivers.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def drivers_show(state: State, slug: str, as_json: bool) -> None:
    """One record with every field."""
    from awareness.service.drivers import get_driver

    view = get_driver(state.ctx, slug)
    if as_json:
        emit_json(view.as_json())
        return
    click.echo(f"{view.title}  [{view.kind}]")
    for key, value in view.fields.items():
        click.echo(f"\n{key.replace('_', ' ').capitalize()}:\n{value}")


