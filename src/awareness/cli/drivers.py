"""Driver records."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from awareness.cli.base import (
    State,
    as_option,
    bars,
    cli,
    emit_json,
    pass_state,
    person,
    printed_instead,
    table,
)
from awareness.dates import local_date, long_date, short_date

if TYPE_CHECKING:
    from datetime import tzinfo

    from awareness.drivers.views import DriverView


@cli.group()
def drivers() -> None:
    """Driver records (the library's database of policy documents)."""


@drivers.command("import")
@click.argument("pages", nargs=-1, required=True, metavar="FILE_OR_URL...")
@click.option("--dry-run", is_flag=True, help="Show what would change; change nothing.")
@click.option("--overwrite-edits", is_flag=True,
              help="Take the page's values even where a librarian edited the record here.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@as_option
@pass_state
def drivers_import(state: State, pages: tuple[str, ...], dry_run: bool, overwrite_edits: bool,
                   as_json: bool, by: str | None) -> None:
    """Import records from each FILE_OR_URL: a MAP-toolkit page (saved as text or HTML, or
    its https:// address, fetched like a source) or a plain JSON file. A value a librarian
    changed here since the last import is kept, and said so (--overwrite-edits takes the
    page's)."""
    from awareness.service.drivers import import_paths

    sources = [page if page.startswith(("https://", "http://")) else Path(page)
               for page in pages]
    with bars() as steps:
        report = import_paths(state.ctx, sources, dry_run=dry_run, changed_by=person(by),
                              steps=steps, overwrite_edits=overwrite_edits)
    if as_json:
        emit_json({"dry_run": dry_run, "outcomes": [o.as_json() for o in report.outcomes]})
        return
    marks = {"created": "+", "updated": "~", "unchanged": "=", "skipped": "-", "redacted": "!",
             "unplaced": "?", "kept": "*", "overwritten": "*", "draft": "#"}
    for o in report.outcomes:
        click.echo(f"{marks.get(o.action, '?')} {o.action:9} {o.slug or o.title}  ({o.reason})")
    kinds = [r.kind for r in report.records]
    skipped = sum(o.action == "skipped" for o in report.outcomes)
    unplaced = sum(o.action == "unplaced" for o in report.outcomes)
    held = sum(o.action == "draft" for o in report.outcomes)
    kept = counted(len(report.kept), "librarian's edit", "librarians' edits")
    verb = "would import" if dry_run else "imported"
    click.echo(f"{verb} {counted(kinds.count('driver'), 'driver')} and "
               f"{counted(kinds.count('case_study'), 'case study', 'case studies')} "
               f"({len(report.created)} new, {len(report.updated)} updated, "
               f"{len(report.unchanged)} unchanged); {counted(skipped, 'post')} skipped"
               + (f"; {counted(unplaced, 'passage')} not placed in any field (marked ?)"
                  if unplaced else "")
               + (f"; {kept} kept (marked *; --overwrite-edits takes the page's values)"
                  if report.kept else "")
               + (f"; {held} left {'a draft' if held == 1 else 'drafts'}, with nothing "
                  "under “What this means for libraries” (marked #)" if held else ""))


def counted(count: int, one: str, many: str = "") -> str:
    """"1 driver", "2 drivers", "1 case study", "0 case studies"."""
    return f"{count} {one if count == 1 else many or one + 's'}"


@drivers.command("export")
@click.argument("target", type=click.Path(path_type=Path))
@pass_state
def drivers_export(state: State, target: Path) -> None:
    """Write every record as plain JSON to TARGET: one file per record into TARGET as a
    folder (made if need be), or all in one file when TARGET ends in .json."""
    from awareness.service.drivers import export_drivers

    written = export_drivers(state.ctx, target)
    click.echo(f"wrote {len(written)} file{'s' if len(written) != 1 else ''} to {target}")


@drivers.command("list")
@click.option("--tag", default="", help="Only records with this tag.")
@click.option("--source", default="", help="Only records whose source contains this.")
@click.option("--member", default="", help="Only records this member (initials) looks after.")
@click.option("--due", type=click.Choice(["overdue", "due-soon", "current", "no-date"]),
              help="Only records with this review status.")
@click.option("--search", default="", help="Only records containing every one of these words.")
@click.option("--deleted", is_flag=True,
              help="Deleted records instead (`drivers restore` brings one back).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def drivers_list(state: State, tag: str, source: str, member: str, due: str | None,
                 search: str, deleted: bool, as_json: bool) -> None:
    """Driver records and case studies, optionally narrowed."""
    from awareness.drivers.views import DriverFilter
    from awareness.service.driver_views import list_drivers

    views = list_drivers(state.ctx, DriverFilter(tag=tag, source=source, member=member,
                                                 due=due or "", search=search,
                                                 deleted=deleted))
    if as_json:
        emit_json([v.as_json() for v in views])
        return
    zone = state.ctx.settings.timezone
    table(["slug", "kind", "source", "tags", "title", "site"],
          [[v.slug, _kind(v), v.source, ", ".join(v.tags), v.title, _site_flag(v, zone)]
           for v in views],
          empty="no driver records match" if tag or source or member or due or search
          else "no deleted driver records" if deleted
          else "no driver records: `awareness drivers import` brings them in",
          main="title", optional=("tags", "kind"), whole=("slug",))


def _kind(view: DriverView) -> str:
    """The record's kind, and "draft" or "deleted" when it is not published."""
    return view.kind if view.status == "active" else f"{view.kind}, {view.status}"


def _site_flag(view: DriverView, zone: tzinfo) -> str:
    """"gone since <date>" for a record whose page left the MAP site, else nothing."""
    gone = view.gone_from_site_at
    return f"gone since {local_date(gone, zone, short=True)}" if gone else ""


@drivers.command("show")
@click.argument("slug")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def drivers_show(state: State, slug: str, as_json: bool) -> None:
    """The record SLUG (as `drivers list` shows it) with every field, in the order of a
    MAP-toolkit page."""
    from awareness.drivers.labels import in_page_order
    from awareness.service.drivers import get_driver

    view = get_driver(state.ctx, slug)
    if as_json:
        emit_json(view.as_json())
        return
    click.echo(f"{view.title}  [{_kind(view)}]")
    if view.status == "draft":
        click.echo("A draft: librarians see it; `awareness drivers edit "
                   f"{view.slug} --activate` publishes it")
    elif view.status == "deleted":
        click.echo("Deleted: out of every list, link and digest, kept with its history; "
                   f"`awareness drivers restore {view.slug}` brings it back")
    if view.gone_from_site_at:
        since = local_date(view.gone_from_site_at, state.ctx.settings.timezone)
        click.echo(f"Gone from the MAP site since {since}: its page answers 404/410")
    for key in in_page_order(view.kind, view.fields):
        click.echo(f"\n{key.replace('_', ' ').capitalize()}:\n{view.fields[key]}")


@drivers.command("edit")
@click.argument("slug")
@click.option("--impact", default=None, help="What this means for libraries.")
@click.option("--summary", default=None, help="The summary.")
@click.option("--set", "settings", multiple=True, metavar="FIELD=VALUE",
              help="Set another field (repeatable), e.g. --set due_for_review='March 2027'.")
@click.option("--activate", is_flag=True, help="Publish a draft record (make it active).")
@as_option
@pass_state
def drivers_edit(state: State, slug: str, impact: str | None, summary: str | None,
                 settings: tuple[str, ...], activate: bool, by: str | None) -> None:
    """Complete or correct the record SLUG; an empty VALUE clears the field."""
    from awareness.service.driver_edits import EDITABLE_FIELDS, edit_driver

    changes: dict[str, str] = {}
    for setting in settings:
        name, sep, value = setting.partition("=")
        if not sep:
            raise click.BadParameter(f"{setting!r} is not FIELD=VALUE (fields: "
                                     f"{', '.join(EDITABLE_FIELDS)})", param_hint="--set")
        changes[name.strip()] = value
    changes.update({k: v for k, v in (("impact", impact), ("summary", summary)) if v is not None})
    result = edit_driver(state.ctx, slug, changes=changes, activate=activate,
                         changed_by=person(by))
    if result.redacted:
        click.echo(f"personal data removed from: {', '.join(result.redacted)}")
    if not result.changed and not result.activated:
        click.echo(f"{slug}: nothing changed")
        return
    if result.changed:
        click.echo(f"{slug}: changed {', '.join(result.changed)}")
    if result.activated:
        click.echo(f"{slug}: published (active)")


@drivers.command("due")
@click.option("--member", default="", help="Only this member's records (initials, e.g. FG).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def drivers_due(state: State, member: str, as_json: bool) -> None:
    """Records needing attention: past their review date, or with a new edition or the same
    document seen since they were last marked reviewed; then the published records nobody
    looks after, and those with no review date, which no weekly mail mentions."""
    from awareness.service.stewardship import attention_overview

    overview = attention_overview(state.ctx, member)
    entries = overview.entries()
    if as_json:
        emit_json([e.as_json() for e in entries])
        return
    table(["member", "slug", "review due", "why"],
          [[e.member or "-", e.slug, short_date(e.review_due_on) if e.review_due_on else "",
            "; ".join(map(str, e.reasons))] for e in entries],
          empty=f"no records need attention{f' for {member}' if member else ''}",
          main="why", whole=("slug",),
          note=_adoption_note(len(overview.no_one_responsible), len(overview.no_review_date)))


def _adoption_note(no_one: int, undated: int) -> str:
    """The line under `drivers due` about records no weekly mail mentions, and what to do."""
    parts = ([f"the {counted(no_one, 'record')} with no member responsible (a member adopts "
              "one with `awareness drivers edit SLUG --set member_responsible=XX`)"]
             if no_one else []) \
        + ([f"the {counted(undated, 'record')} with no review date (`awareness drivers "
            "mark-reviewed SLUG` gives one)"] if undated else [])
    return f"No weekly mail reminds anyone of {' or '.join(parts)}." if parts else ""


@drivers.command("mark-reviewed")
@click.argument("slug")
@click.option("--next", "next_review", default="", metavar="DATE",
              help="Its next review date, e.g. 'March 2028' (default: a year from today).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@as_option
@pass_state
def drivers_mark_reviewed(state: State, slug: str, next_review: str, as_json: bool,
                          by: str | None) -> None:
    """The record SLUG is checked: date it today and set its next review, which takes it
    off its member's needs-attention list."""
    from awareness.service.driver_edits import mark_reviewed

    done = mark_reviewed(state.ctx, slug, next_review=next_review, changed_by=person(by))
    if as_json:
        emit_json({"slug": done.slug, "reviewed_on": done.reviewed_on.isoformat(),
                   "next_review": done.next_review.isoformat(),
                   "due_for_review": done.next_review_text})
        return
    click.echo(f"{slug}: reviewed {long_date(done.reviewed_on)}; next review "
               f"{long_date(done.next_review)}")


@drivers.command("remind")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_state
def drivers_remind(state: State, as_json: bool) -> None:
    """Send this week's stewardship e-mail to each member now (once per member and week);
    exit 1 while any of them is unsent. Members without an address, and records naming no
    member, are warned about on stderr: no run reaches them until members.toml or the record
    is put right."""
    from awareness.service import stewardship

    with printed_instead(state, stewardship.log, stewardship.NEVER_TOLD, stewardship.NOT_SENT):
        report = stewardship.send_stewardship(state.ctx)
    if as_json:
        emit_json(dict(report.__dict__))
    else:
        for label, names in report.__dict__.items():
            if names and label not in ("no_address", "no_member", "warnings"):
                click.echo(f"{label.replace('_', ' ')}: {', '.join(names)}")
    for warning in report.warnings:  # on stderr, so that it shows beside --json too
        click.echo(f"warning: {warning}", err=True)
    if report.failed or report.retrying:
        raise SystemExit(1)


@drivers.command("draft")
@click.argument("match_id", type=int)
@as_option
@pass_state
def drivers_draft(state: State, match_id: int, by: str | None) -> None:
    """Turn the item of match MATCH_ID into a draft driver record to complete (drafting
    again from the same match gives the draft made before)."""
    from awareness.service.drafts import draft_from_match

    drafted = draft_from_match(state.ctx, match_id, changed_by=person(by))
    if drafted.made:
        click.echo(f"draft driver record {drafted.slug}")
    else:
        click.echo(f"draft driver record {drafted.slug} already exists (drafted from match "
                   f"{match_id} before); `awareness drivers edit {drafted.slug}` completes it")


@drivers.command("delete")
@click.argument("slug")
@as_option
@pass_state
def drivers_delete(state: State, slug: str, by: str | None) -> None:
    """Delete the record SLUG: out of every list, link and digest; kept with its history."""
    from awareness.service.driver_edits import delete_driver

    title = delete_driver(state.ctx, slug, changed_by=person(by))
    click.echo(f"deleted {slug}: {title}")


@drivers.command("restore")
@click.argument("slug")
@as_option
@pass_state
def drivers_restore(state: State, slug: str, by: str | None) -> None:
    """Bring the deleted record SLUG back as it was before it was deleted (published or a
    draft), with the items linked to it."""
    from awareness.service.driver_edits import restore_driver

    done = restore_driver(state.ctx, slug, changed_by=person(by))
    back = "published" if done.status == "active" else "a draft"
    items = counted(done.linked, "linked item") if done.linked else "no linked items"
    click.echo(f"restored {slug}: {done.title} ({back}, {items})")
