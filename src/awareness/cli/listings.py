"""Sources, items, matches and the review of matches."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import click

from awareness.cli.base import (
    State,
    as_option,
    cli,
    date_cell,
    emit_json,
    pass_state,
    person,
    table,
    time_cell,
    times_note,
)
from awareness.review import STATUS_LABELS, status_label


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
        emit_json(rows)
        return
    zone = state.ctx.settings.timezone
    table(["id", "publisher", "state", "last success", "errors", "last error", "items"],
           [[r["id"], r["publisher"], r["state"], time_cell(r["last_success_at"], zone),
             r["error_count"], r["last_error"], r["items"]] for r in rows],
           empty="no sources: add them to subscriptions/sources.toml (docs/sources.md)",
           main="last error", optional=("items", "errors", "publisher"), whole=("id",),
           note=times_note(zone))


@sources.command("export")
@click.option("--opml", "as_opml", is_flag=True, required=True,
              help="Write OPML 2.0 (the format feed readers import).")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Write to this file instead of standard output.")
@pass_state
def sources_export(state: State, as_opml: bool, output: Path | None) -> None:
    """Write the feed sources as OPML, one folder a publisher."""
    from awareness.sources.opml import export_opml

    del as_opml  # the one format so far; the flag says which
    text = export_opml(state.ctx.sources(), title=state.ctx.settings.library.name,
                       now=state.ctx.now())
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"wrote {output}")


@sources.command("import")
@click.argument("opml_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path),
              help="Where to write the new [[source]] tables (default: sources-imported.toml "
                   "beside sources.toml).")
@pass_state
def sources_import(state: State, opml_file: Path, output: Path | None) -> None:
    """Turn OPML_FILE, a feed reader's export, into [[source]] tables in a new file, for you
    to review and paste into sources.toml (which this never changes)."""
    from awareness.sources.opml import import_opml, read_opml

    feeds = read_opml(opml_file.read_bytes(), str(opml_file))
    text, known = import_opml(feeds, state.ctx.sources())
    target = output or state.ctx.subscriptions_dir / "sources-imported.toml"
    if not text:
        click.echo(f"nothing new: all {known} feeds in {opml_file} are sources already")
        return
    if target.exists():
        raise click.UsageError(f"{target} exists; review it first, or give --output")
    header = (f"# New sources from {opml_file.name}. Review them (ids, names, publishers), "
              "then paste them into sources.toml\n# and run `awareness check`.\n\n")
    target.write_text(header + text, encoding="utf-8")
    click.echo(f"wrote {text.count('[[source]]')} new sources to {target} ({known} already "
               "sources); review it, then paste into sources.toml")


@sources.command("test")
@click.argument("source_id")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def sources_test(state: State, source_id: str, as_json: bool) -> None:
    """Fetch the live page of the source SOURCE_ID (its id in sources.toml) and show what
    its definition extracts (stores nothing)."""
    from awareness.errors import FetchError, ParseError
    from awareness.service.page_sources import preview_source

    definitions = {d.id: d for d in state.ctx.sources()}
    if source_id not in definitions:
        raise click.ClickException(f"no source '{source_id}' in sources.toml; known: "
                                   + ", ".join(sorted(definitions)))
    try:
        report = preview_source(state.ctx, definitions[source_id])
    except (FetchError, ParseError) as exc:
        if as_json:
            emit_json({"source": source_id, "error": str(exc)})
        raise click.ClickException(f"{source_id}: {exc}") from None
    if as_json:
        emit_json(report)
        return
    table(["published", "title", "link"],
          [[date_cell(r["published"], state.ctx.settings.timezone), r["title"], r["link"] or ""]
           for r in report["items"]],
          empty=f"no items in {report['final_url']} ({report['kind']})", main="title")
    if report["items"]:
        click.echo(f"{report['count']} items from {report['final_url']} ({report['kind']}); "
                   f"{report['dated']} dated, {report['with_summary']} with a summary")
    for warning in report["warnings"]:
        click.echo(f"warning: {warning}")


@sources.command("pause")
@click.argument("source_id")
@as_option
@pass_state
def sources_pause(state: State, source_id: str, by: str | None) -> None:
    """Stop fetching the source SOURCE_ID until it is resumed (kept in the database;
    sources.toml is never changed)."""
    from awareness.service.workbench import pause_source

    done = (f"paused {source_id}" if pause_source(state.ctx, source_id, by=person(by))
            else f"{source_id} is paused already")
    click.echo(f"{done}: it is not fetched until `awareness sources resume {source_id}`")


@sources.command("resume")
@click.argument("source_id")
@as_option
@pass_state
def sources_resume(state: State, source_id: str, by: str | None) -> None:
    """Fetch the paused source SOURCE_ID again, from the next poll."""
    from awareness.service.workbench import resume_source

    if resume_source(state.ctx, source_id, by=person(by)):
        click.echo(f"resumed {source_id}: it is fetched at the next poll")
    else:
        click.echo(f"{source_id} is not paused: it is fetched as usual")


@cli.group()
def items() -> None:
    """Stored items."""


@items.command("list")
@click.option("--source", help="Only items from this source.")
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="Show at most this many items (0: all).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def items_list(state: State, source: str | None, limit: int, as_json: bool) -> None:
    """Stored items, newest first: by publication date, or by when an item arrived if its
    feed gave no date (the order of the web's items page)."""
    from awareness.service.listing import list_items

    rows = list_items(state.ctx, source=source, limit=limit or None)
    if source and not rows:
        from awareness.service.listing import source_health

        # sources.toml's, and those stored since (a removed source's items stay)
        _known("source", source, {d.id for d in state.ctx.sources()}
               | {row["id"] for row in source_health(state.ctx)})
    if as_json:
        emit_json(rows)
        return
    zone = state.ctx.settings.timezone
    table(["id", "source", "published", "arrived", "title"],
           [[r["id"], r["source_id"], date_cell(r["published_at"], zone),
             date_cell(r["first_seen_at"], zone), r["title"]] for r in rows],
           empty=f"no items from {source}" if source
           else "no items yet: `awareness poll` fetches them", main="title")


@items.command("delete")
@click.argument("item_ids", nargs=-1, type=int, required=True)
@as_option
@pass_state
def items_delete(state: State, item_ids: tuple[int, ...], by: str | None) -> None:
    """Delete the items ITEM_IDS (the ids `items list` shows) and their matches; the feed
    will never bring them back. The service's log says who deleted what."""
    from awareness.service.polling import delete_item

    for item_id in item_ids:
        delete_item(state.ctx, item_id, by=person(by))
        click.echo(f"deleted item {item_id}")


def _print_matches(views: list[Any], as_json: bool, *, empty: str) -> None:
    if as_json:
        emit_json([v.as_json() for v in views])
        return
    table(["id", "topic", "status", "score", "publisher", "title", "drivers"],
           [[v.id, v.topic_slug, status_label(v.status), f"{v.score:g}", v.publisher, v.title,
             ", ".join(d.slug for d in v.drivers)] for v in views], empty=empty,
          main="title", optional=("score", "drivers"))


@cli.group()
def matches() -> None:
    """Items that matched a topic."""


@matches.command("list")
@click.option("--status", type=click.Choice(list(STATUS_LABELS)),
              help='Only matches with this status (the table says "Waiting" for pending and '
                   '"Sent without review" for auto).')
@click.option("--topic", help="Only this topic's matches (its slug, as `topics list` "
                                "shows it; default: every topic).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def matches_list(state: State, status: str | None, topic: str | None, as_json: bool) -> None:
    """Matches, best first."""
    from awareness.service.review import list_matches

    none = f"no matches {status_label(status).lower()}" if status else "no matches"
    _print_matches(_of_a_known_topic(state, list_matches(state.ctx, status=status, topic=topic),
                                     topic), as_json,
                   empty=f"{none} for {topic}" if topic else none)


def _of_a_known_topic(state: State, found: list[Any], topic: str | None) -> list[Any]:
    """``found``, unless nothing was found for a topic no file defines: a one-line error
    then, naming the topics (a removed topic's stored matches are still listed)."""
    if topic and not found:
        _known("topic", topic, (t.slug for t in state.ctx.topics()))
    return found


def _known(kind: str, name: str, known: Iterable[str]) -> None:
    names = sorted(known)
    if name not in names:
        raise click.ClickException(f"no {kind} {name!r} (known {kind}s: {', '.join(names)})"
                                   if names else f"no {kind} {name!r}: there are no {kind}s")


@cli.group()
def review() -> None:
    """Review matches before they go out."""


@review.command("list")
@click.option("--topic", help="Only this topic's matches (its slug, as `topics list` "
                                "shows it; default: every topic).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def review_list(state: State, topic: str | None, as_json: bool) -> None:
    """Matches waiting for a librarian."""
    from awareness.service.review import list_matches

    _print_matches(_of_a_known_topic(state, list_matches(state.ctx, status="pending",
                                                         topic=topic), topic), as_json,
                   empty=f"nothing waiting for review{f' in {topic}' if topic else ''}")


def _decide(state: State, match_ids: tuple[int, ...], decision: str, note: str,
            by: str | None, reader_note: str | None = None) -> None:
    from awareness.service.review import decide

    who = person(by)
    for match_id in match_ids:
        done = decide(state.ctx, match_id, decision, librarian=who, note=note,
                      reader_note=reader_note)
        view = done.view
        if done.recorded:
            click.echo(f"{decision} match {view.id}: {view.title}")
        else:  # the same decision again, with nothing new for the log or the readers
            click.echo(f"match {view.id} was already {decision}; nothing changed: {view.title}")


@review.command("approve")
@click.argument("match_ids", nargs=-1, type=int, required=True)
@click.option("--note", default="",
              help="A note for the review log: librarians only, never sent.")
@click.option("--reader-note", default=None,
              help="A note for readers: shown under the item in digests.")
@as_option
@pass_state
def review_approve(state: State, match_ids: tuple[int, ...], note: str,
                   reader_note: str | None, by: str | None) -> None:
    """Approve the matches MATCH_IDS (the ids `review list` shows) so they go into digests,
    with the waiting matches of the same story in the topic."""
    _decide(state, match_ids, "approved", note, by, reader_note)


@review.command("reject")
@click.argument("match_ids", nargs=-1, type=int, required=True)
@click.option("--note", default="",
              help="A note for the review log: librarians only, never sent.")
@as_option
@pass_state
def review_reject(state: State, match_ids: tuple[int, ...], note: str, by: str | None) -> None:
    """Reject the matches MATCH_IDS (the ids `review list` shows); they are never sent."""
    _decide(state, match_ids, "rejected", note, by)


@review.command("undo")
@click.argument("match_id", type=int)
@click.option("--note", default="", help="A note for the review log.")
@as_option
@pass_state
def review_undo(state: State, match_id: int, note: str, by: str | None) -> None:
    """Take back the decision (or the withdrawal) on match MATCH_ID, until it has been
    sent."""
    from awareness.service.review import undo

    view = undo(state.ctx, match_id, librarian=person(by), note=note)
    click.echo(f"undone: match {view.id} is {status_label(view.status).lower()} again: "
               f"{view.title}")


@review.command("withdraw")
@click.argument("match_id", type=int)
@click.option("--note", default="", help="A note for the review log.")
@as_option
@pass_state
def review_withdraw(state: State, match_id: int, note: str, by: str | None) -> None:
    """Stop match MATCH_ID, sent without review, before its digest goes."""
    from awareness.service.review import withdraw

    view = withdraw(state.ctx, match_id, librarian=person(by), note=note)
    click.echo(f"withdrawn match {view.id}: {view.title}")


@review.command("history")
@click.argument("match_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def review_history(state: State, match_id: int, as_json: bool) -> None:
    """Who decided what on match MATCH_ID, and when, with the review-log notes (oldest
    first)."""
    from awareness.service.review import match_history

    rows = [{"when": e.decided_at.isoformat(), "who": e.librarian, "what": e.decision,
             "note": e.note} for e in match_history(state.ctx, match_id).history]
    if as_json:
        emit_json(rows)
        return
    zone = state.ctx.settings.timezone
    table(["when", "who", "what", "note"],
          [[time_cell(row["when"], zone), row["who"], row["what"], row["note"]] for row in rows],
          empty=f"match {match_id} has not been decided on", main="note",
          note=times_note(zone))


