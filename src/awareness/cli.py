"""The ``awareness`` command line. Thin: parse arguments, call one service function, print.

Errors the user can fix are printed as one line (``error: …``) with exit status 1 (2 for
settings and subscriptions files); never a traceback unless ``--debug`` is given.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from awareness.errors import AwarenessError, ConfigError
from awareness.settings import Settings, load_settings

console = Console()
err_console = Console(stderr=True)


class State:
    """Per-invocation state: settings and the context, both built on first use."""

    def __init__(self, config: str | None, debug: bool):
        self.config = config
        self.debug = debug
        self._settings: Settings | None = None
        self._ctx: Any = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(self.config)
        return self._settings

    @property
    def ctx(self) -> Any:
        if self._ctx is None:
            from awareness.service.context import create_context

            self._ctx = create_context(self.settings)
        return self._ctx


pass_state = click.make_pass_decorator(State)


def _emit_json(data: object) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


@click.group()
@click.option("--config", envvar="AWARENESS_CONFIG", type=click.Path(dir_okay=False),
              help="Settings file (default: ./awareness.toml if present).")
@click.option("--debug", is_flag=True, help="Show tracebacks and debug logging.")
@click.version_option(package_name="awareness")
@click.pass_context
def cli(click_ctx: click.Context, config: str | None, debug: bool) -> None:
    """Current-awareness alerts for NHS library and knowledge services."""
    logging.basicConfig(level=logging.DEBUG if debug else logging.WARNING,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click_ctx.obj = State(config, debug)


@cli.command()
@pass_state
def init(state: State) -> None:
    """Create the database or upgrade it to the newest schema."""
    from awareness.service.polling import sync_sources
    from awareness.storage.db import upgrade

    before, after = upgrade(state.ctx.engine)
    sync_sources(state.ctx)
    if before == after:
        click.echo(f"database is up to date (schema {after})")
    else:
        verb = "upgraded" if before else "created"
        click.echo(f"database {verb}: schema {before or '-'} → {after}")


@cli.command()
@pass_state
def check(state: State) -> None:
    """Validate the settings and every file under subscriptions/."""
    from awareness.service.checks import check_all

    problems, warnings = check_all(state.settings)
    for warning in warnings:
        click.echo(f"warning: {warning}")
    for problem in problems:
        click.echo(problem)
    if problems:
        raise SystemExit(2)
    click.echo("ok: settings and subscriptions are valid")


@cli.command()
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Poll only this source.")
@click.option("--all", "poll_all", is_flag=True, help="Poll every enabled source, due or not.")
@pass_state
def poll(state: State, source_ids: tuple[str, ...], poll_all: bool) -> None:
    """Fetch due sources once, store new items and match them."""
    from awareness.service import polling

    ctx = state.ctx
    polling.sync_sources(ctx)
    if source_ids:
        known = {s.id for s in ctx.sources()}
        for source_id in source_ids:
            if source_id not in known:
                raise AwarenessError(
                    f"no source {source_id!r}; `awareness sources list` shows them")
        ids = list(source_ids)
    elif poll_all:
        ids = [s.id for s in ctx.sources() if s.enabled]
    else:
        ids = polling.due_sources(ctx)
    if not ids:
        click.echo("no source is due; use --all to poll every source now")
        return
    failed = 0
    with _progress("polling") as advance:
        def done(outcome: polling.PollOutcome) -> None:
            nonlocal failed
            failed += outcome.status == "failed"
            advance(_describe_outcome(outcome))
        polling.poll(ctx, ids, on_done=done)
    if failed:
        raise SystemExit(1)


def _describe_outcome(outcome: Any) -> str:
    if outcome.status == "failed":
        return f"[red]{outcome.source_id}: {outcome.error}[/red]"
    if outcome.status in ("not_modified", "unchanged"):
        return f"{outcome.source_id}: no change"
    baseline = " (first poll: stored as baseline, no alerts)" if outcome.baseline else ""
    return (f"{outcome.source_id}: {outcome.new_items} new, {outcome.updated_items} updated, "
            f"{outcome.new_matches} matches{baseline}")


@contextmanager
def _progress(label: str) -> Iterator[Callable[[str], None]]:
    """A progress display that prints one line per finished step."""
    with Progress(TextColumn(f"{label}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=err_console, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def advance(line: str) -> None:
            progress.console.print(line, highlight=False)
            progress.advance(task)

        yield advance


# --- listings ------------------------------------------------------------------------------

def _table(columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(*columns, show_lines=False, header_style="bold")
    for row in rows:
        table.add_row(*("" if v is None else str(v) for v in row))
    console.print(table)


@cli.group()
def sources() -> None:
    """Sources and their health."""


@sources.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def sources_list(state: State, as_json: bool) -> None:
    """Every source with its fetch state."""
    from awareness.service.listing import source_health

    rows = source_health(state.ctx)
    if as_json:
        _emit_json(rows)
        return
    _table(["id", "publisher", "state", "last success", "errors", "last error", "items"],
           [[r["id"], r["publisher"], r["state"], r["last_success_at"], r["error_count"],
             r["last_error"], r["items"]] for r in rows])


@cli.group()
def items() -> None:
    """Stored items."""


@items.command("list")
@click.option("--source", help="Only items from this source.")
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def items_list(state: State, source: str | None, limit: int, as_json: bool) -> None:
    """Newest items first."""
    from awareness.service.listing import list_items

    rows = list_items(state.ctx, source=source, limit=limit)
    if as_json:
        _emit_json(rows)
        return
    _table(["id", "source", "published", "title"],
           [[r["id"], r["source_id"], (r["published_at"] or "")[:10], r["title"]] for r in rows])


def _print_matches(views: list[Any], as_json: bool) -> None:
    if as_json:
        _emit_json([v.as_json() for v in views])
        return
    if not views:
        click.echo("nothing here")
        return
    _table(["id", "topic", "status", "score", "publisher", "title", "drivers"],
           [[v.id, v.topic_slug, v.status, f"{v.score:g}", v.publisher, v.title,
             ", ".join(d.slug for d in v.drivers)] for v in views])


@cli.group()
def matches() -> None:
    """Items that matched a topic."""


@matches.command("list")
@click.option("--status", type=click.Choice(["pending", "approved", "rejected", "auto"]))
@click.option("--topic")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def matches_list(state: State, status: str | None, topic: str | None, as_json: bool) -> None:
    """Matches, best first."""
    from awareness.service.review import list_matches

    _print_matches(list_matches(state.ctx, status=status, topic=topic), as_json)


@cli.group()
def review() -> None:
    """Review matches before they go out."""


@review.command("list")
@click.option("--topic")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def review_list(state: State, topic: str | None, as_json: bool) -> None:
    """Matches waiting for a librarian."""
    from awareness.service.review import list_matches

    _print_matches(list_matches(state.ctx, status="pending", topic=topic), as_json)


def _decide(state: State, match_ids: tuple[int, ...], decision: str, note: str) -> None:
    from awareness.service.review import decide

    who = os.environ.get("USER") or "cli"
    for match_id in match_ids:
        view = decide(state.ctx, match_id, decision, librarian=who, note=note)
        click.echo(f"{decision} match {view.id}: {view.title}")


@review.command("approve")
@click.argument("match_ids", nargs=-1, type=int, required=True)
@click.option("--note", default="", help="What this means for readers (kept with the review).")
@pass_state
def review_approve(state: State, match_ids: tuple[int, ...], note: str) -> None:
    """Approve matches so they go into digests."""
    _decide(state, match_ids, "approved", note)


@review.command("reject")
@click.argument("match_ids", nargs=-1, type=int, required=True)
@click.option("--note", default="")
@pass_state
def review_reject(state: State, match_ids: tuple[int, ...], note: str) -> None:
    """Reject matches; they are never sent."""
    _decide(state, match_ids, "rejected", note)


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
        _emit_json(rows)
        return
    _table(["slug", "name", "review", "query"],
           [[r["slug"], r["name"], r["review"], r["query"]] for r in rows])


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
        _emit_json(results)
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
        _emit_json([v.as_json() for v in views])
        return
    _table(["slug", "kind", "source", "tags", "title"],
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
        _emit_json(view.as_json())
        return
    click.echo(f"{view.title}  [{view.kind}]")
    for key, value in view.fields.items():
        click.echo(f"\n{key.replace('_', ' ').capitalize()}:\n{value}")


@cli.group()
def subscribers() -> None:
    """Staff who receive digests."""


@subscribers.command("add")
@click.argument("email")
@click.option("--topic", "topic_slugs", multiple=True, required=True, help="Topic slug (repeat).")
@click.option("--frequency", type=click.Choice(["daily", "weekly"]), default="weekly",
              show_default=True)
@pass_state
def subscribers_add(state: State, email: str, topic_slugs: tuple[str, ...], frequency: str) -> None:
    """Subscribe an address to one or more topics."""
    from awareness.service.people import add_subscriber

    view = add_subscriber(state.ctx, email, list(topic_slugs), frequency)
    click.echo(f"subscribed {view.email} to {', '.join(view.topics)} ({view.frequency})")


@subscribers.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def subscribers_list(state: State, as_json: bool) -> None:
    """Every subscriber and their topics."""
    from awareness.service.people import list_subscribers

    views = list_subscribers(state.ctx)
    if as_json:
        _emit_json([v.as_json() for v in views])
        return
    _table(["email", "frequency", "topics", "active"],
           [[v.email, v.frequency, ", ".join(v.topics), "yes" if v.active else "no"]
            for v in views])


@subscribers.command("remove")
@click.argument("email")
@pass_state
def subscribers_remove(state: State, email: str) -> None:
    """Stop sending digests to an address."""
    from awareness.service.people import remove_subscriber

    remove_subscriber(state.ctx, email)
    click.echo("unsubscribed")


@cli.group()
def librarians() -> None:
    """Librarian accounts for the web pages."""


@librarians.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@pass_state
def librarians_add(state: State, name: str, password_stdin: bool) -> None:
    """Create a librarian account (asks for the password)."""
    from awareness.service.people import add_librarian

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    add_librarian(state.ctx, name, password)
    click.echo(f"librarian {name} added")


@cli.group()
def digests() -> None:
    """Digest e-mails."""


@digests.command("send")
@click.option("--frequency", type=click.Choice(["daily", "weekly"]),
              help="Only subscribers of this frequency (default: all).")
@click.option("--dry-run", is_flag=True, help="Show who would get what; send nothing.")
@pass_state
def digests_send(state: State, frequency: str | None, dry_run: bool) -> None:
    """Send this period's digests (each subscriber at most once per period)."""
    from awareness.service.digests import send_digests

    report = send_digests(state.ctx, frequency=frequency, dry_run=dry_run)
    for email, digest in report.previews:
        click.echo(f"would send {digest.entry_count} items to {email} ({digest.period_key})")
        for section in digest.sections:
            for entry in section.entries:
                click.echo(f"  [{section.topic_slug}] {entry.title}")
    if not dry_run:
        click.echo(f"queued {report.queued}, sent {report.sent}, retrying {report.retrying}, "
                   f"failed {report.failed}, already done this period {report.already_queued}, "
                   f"nothing to send {report.nothing_to_send}")
    if report.failed:
        raise SystemExit(1)


@cli.command()
@click.option("--demo", is_flag=True, help="Serve sample publisher feeds on loopback and use them.")
@pass_state
def run(state: State, demo: bool) -> None:
    """Run the web app and the scheduler in one process."""
    from awareness.service.runner import run_service

    if not state.debug:
        logging.getLogger("awareness").setLevel(logging.INFO)
    run_service(state.settings, demo=demo)


def main() -> None:
    """Entry point: one-line errors, never a traceback unless --debug."""
    debug = "--debug" in sys.argv
    try:
        cli.main(standalone_mode=False)
    except click.exceptions.Abort:
        err_console.print("aborted")
        raise SystemExit(130) from None
    except click.ClickException as exc:
        exc.show()
        raise SystemExit(exc.exit_code) from None
    except ConfigError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from None
    except AwarenessError as exc:
        if debug:
            raise
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(1) from None
    except Exception as exc:
        if debug:
            raise
        click.echo(f"error: unexpected {type(exc).__name__}: {exc} (run with --debug for the "
                   "traceback)", err=True)
        raise SystemExit(1) from None
