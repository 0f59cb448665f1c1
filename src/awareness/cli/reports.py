"""The impact report: ``awareness report --period 2026-Q3 --format html|csv|json``."""

from __future__ import annotations

from pathlib import Path

import click

from awareness.cli.base import State, cli, pass_state
from awareness.errors import AwarenessError


@cli.command("report")
@click.option("--period", required=True,
              help="A quarter (2026-Q3), a month (2026-07) or a year (2026).")
@click.option("--format", "form", type=click.Choice(["html", "csv", "json"]), default="html",
              show_default=True, help="HTML with charts (prints to PDF), CSV or JSON.")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this new file instead of standard output.")
@click.option("--force", is_flag=True, help="Replace the --output file if it exists.")
@pass_state
def report(state: State, period: str, form: str, output: Path | None, force: bool) -> None:
    """The library's impact figures for a period: readers by organisation and topic,
    messages sent, feedback and "useful" rate per topic, items per topic and source,
    precision, driver records reviewed on time and overdue, sources' health. A period not
    over is reported so far; one not begun is refused."""
    from awareness.reports.figures import parse_period
    from awareness.service.reports import rendered

    try:
        chosen = parse_period(period)
    except ValueError as err:
        raise AwarenessError(str(err)) from None
    if output is not None:
        check_output(output, force)  # before the report is made
    text = rendered(state.ctx, chosen, form)
    if output is None:
        click.echo(text, nl=False)
        return
    try:
        with output.open("w" if force else "x", encoding="utf-8", newline="") as handle:
            handle.write(text)
    except FileExistsError:  # made meanwhile
        raise AwarenessError(_exists(output)) from None
    click.echo(f"wrote {output}", err=True)


def check_output(path: Path, force: bool) -> None:
    """Stop, saying what to do, when the file ``path`` cannot be written: its folder is
    missing, or it exists and ``force`` does not say to replace it."""
    if not path.parent.is_dir():
        raise AwarenessError(f"no folder {path.parent}; create it first")
    if path.exists() and not force:
        raise AwarenessError(_exists(path))


def _exists(path: Path) -> str:
    return f"{path} exists already; name a new file, or give --force to replace it"
