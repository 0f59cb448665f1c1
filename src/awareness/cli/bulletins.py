"""Bulletins: list, show, draft, preview, approve and send issues (docs/bulletins.md)."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import TYPE_CHECKING

import click

from awareness.cli.base import (
    State,
    bars,
    cli,
    emit_json,
    pass_state,
    said_time,
    table,
    time_cell,
    times_note,
)

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from awareness.bulletins.build import Issue


def _librarian(name: str | None) -> str:
    return name or getpass.getuser()


@cli.group()
def bulletins() -> None:
    """Weekly bulletins: curated, numbered issues sent to a whole audience."""


@bulletins.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def bulletins_list(state: State, as_json: bool) -> None:
    """Every bulletin with its latest issue and when the next one is due."""
    from awareness.service import bulletins as service

    rows, defined = [], state.ctx.bulletins()
    for bulletin in defined:
        found = service.issues(state.ctx, bulletin.slug)
        latest = found[0] if found else None
        rows.append({
            "slug": bulletin.slug, "title": bulletin.title,
            "send": f"{bulletin.send_day} {bulletin.send_time}",
            "latest_issue": latest.number if latest else None,
            "status": latest.status if latest else None,
            "due_at": latest.due_at.isoformat() if latest else None,
            "sent_at": latest.sent_at.isoformat() if latest and latest.sent_at else None,
            "sent_issues": sum(i.status == "sent" for i in found)})
    if as_json:
        emit_json(rows)
        return
    zone = state.ctx.settings.timezone
    table(["bulletin", "title", "sends", "latest", "status", "due or sent", "issues sent"],
          [[r["slug"], r["title"], bulletin.schedule, r["latest_issue"] or "-",
            r["status"] or "-",
            time_cell(r["sent_at"] if r["status"] == "sent" else r["due_at"], zone) or "-",
            r["sent_issues"]]
           for bulletin, r in zip(defined, rows, strict=True)],
          empty="no bulletins: add one under subscriptions/bulletins/ (docs/bulletins.md)",
          main="title", optional=("issues sent", "latest"), whole=("bulletin",),
          note=times_note(zone))


def _issue_json(found: object) -> dict[str, object]:
    from awareness.bulletins.build import Issue

    assert isinstance(found, Issue)
    return {
        "bulletin": found.bulletin, "number": found.number, "status": found.status,
        "due_at": found.due_at.isoformat(), "covers_from": found.covers_from.isoformat(),
        "approved_by": found.approved_by,
        "sent_at": found.sent_at.isoformat() if found.sent_at else None,
        "held": found.held_at is not None and found.status != "sent",
        "intro": found.intro,
        "spotlight": found.spotlight.slug if found.spotlight else None,
        "entries": [{"entry": e.entry_id, "section": e.section, "title": e.title,
                     "link": e.link, "publisher": e.publisher, "note": e.note,
                     "removed": e.removed, "also_published_by": list(e.also_published_by)}
                    for e in found.entries]}


def _number(state: State, slug: str, number: int | None) -> int:
    from awareness.service import bulletins as service

    if number is not None:
        return number
    return service.draft(state.ctx, slug).number


@bulletins.command("draft")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def bulletins_draft(state: State, slug: str, as_json: bool) -> None:
    """Draft the next issue of the bulletin SLUG now (or bring its open draft up to date
    with new approvals). SLUG is the bulletin's file name under subscriptions/bulletins/,
    without .toml, as `bulletins list` shows it."""
    from awareness.service import bulletins as service

    found = service.draft(state.ctx, slug)
    if as_json:
        emit_json(_issue_json(found))
        return
    click.echo(f"{slug} issue {found.number} ({found.status}): {len(found.shown)} items, "
               f"due {said_time(found.due_at, state.ctx.settings.timezone)}")


@bulletins.command("show")
@click.argument("slug")
@click.argument("number", type=int, required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def bulletins_show(state: State, slug: str, number: int | None, as_json: bool) -> None:
    """Issue NUMBER of the bulletin SLUG, with its entries. Without NUMBER, the open issue
    (drafted first, or brought up to date, as `bulletins draft` does)."""
    from awareness.service import bulletins as service

    found = service.issue(state.ctx, slug, _number(state, slug, number))
    if as_json:
        emit_json(_issue_json(found))
        return
    click.echo(f"{slug} issue {found.number}: {_when(found, state.ctx.settings.timezone)}")
    table(["entry", "section", "title", "publisher", "removed"],
          [[e.entry_id, e.section, e.title, e.publisher, "yes" if e.removed else ""]
           for e in found.entries],
          empty="no entries yet", main="title")


def _when(found: Issue, tz: ZoneInfo) -> str:
    """An issue's state and time: when it went out, once sent (its slot is history then,
    and an issue sent early went days before it), else when it is due."""
    if found.status == "sent" and found.sent_at is not None:
        return f"sent {said_time(found.sent_at, tz)}"
    return f"{found.status}, due {said_time(found.due_at, tz)}"


@bulletins.command("preview")
@click.argument("slug")
@click.argument("number", type=int, required=False)
@click.option("--html", "html_file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the HTML part to this file (open it in a browser).")
@pass_state
def bulletins_preview(state: State, slug: str, number: int | None,
                      html_file: Path | None) -> None:
    """Print the subject and text part of issue NUMBER of the bulletin SLUG exactly as
    readers will get them. Without NUMBER, the open issue (drafted first, or brought up to
    date, as `bulletins draft` does)."""
    from awareness.service import bulletins as service

    number = _number(state, slug, number)
    shown = service.preview(state.ctx, slug, number)
    if not shown.items:
        click.echo(f"note: issue {number} has no items yet; it cannot be approved until it has "
                   "some", err=True)
    click.echo(f"Subject: {shown.subject}\n\n{shown.text}")
    if html_file:
        html_file.write_text(shown.html, encoding="utf-8")
        click.echo(f"HTML part written to {html_file}", err=True)


@bulletins.command("approve")
@click.argument("slug")
@click.argument("number", type=int)
@click.option("--as", "by", help="Who approves (default: your user name).")
@pass_state
def bulletins_approve(state: State, slug: str, number: int, by: str | None) -> None:
    """Approve issue NUMBER, a draft, of the bulletin SLUG: it goes out at its time."""
    from awareness.service import bulletins as service

    found = service.approve(state.ctx, slug, number, by=_librarian(by))
    click.echo(f"{slug} issue {found.number} approved; it goes out "
               f"{said_time(found.due_at, state.ctx.settings.timezone)}")


@bulletins.command("send")
@click.argument("slug")
@click.argument("number", type=int)
@pass_state
def bulletins_send(state: State, slug: str, number: int) -> None:
    """Send issue NUMBER of the bulletin SLUG, once approved, now without waiting for its
    time; a rerun sends nothing twice. Exits 1 while any message is still unsent."""
    from awareness.service import bulletins as service
    from awareness.service.outbox import relay

    queued = service.send_issue(state.ctx, slug, number)
    with bars() as steps:
        report = relay(state.ctx, steps)
    click.echo(f"{slug} issue {number}: {queued} copies queued, {report.sent} sent")
    if report.unsent:
        from awareness.mail.outbox import unsent_lines

        for line in unsent_lines(report.unsent):
            click.echo(line, err=True)
        raise SystemExit(1)
