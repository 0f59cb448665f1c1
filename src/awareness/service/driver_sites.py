"""A MAP-toolkit site as a source (issue 16, item 2): driver records kept current from the
site without saving and re-importing pages by hand.

A source of kind ``drivers`` names one archive page of the site (a WordPress tag or category
archive, or a single post). It is fetched like any source — the hardened fetcher, conditional
requests, the same schedule — and when the page changed its records are imported as
``awareness drivers import`` would: created or updated by slug, every change in the record's
history under "source <id>". The steering-group member responsible for a record that was
added or changed is told by e-mail (not on the source's first poll, which only takes stock),
once per record and version of the page. Nothing is ever deleted because it left the page: a
tag archive shows its newest posts, so older records fall off it in the ordinary way.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from awareness.drivers.members import member_for
from awareness.drivers.records import member_initials
from awareness.errors import ImportFormatError
from awareness.mail.compose import Sender, compose, key_parts, message_id
from awareness.mail.outbox import Queued
from awareness.model import DriverRecord
from awareness.service.context import Context
from awareness.service.drivers import ImportOutcome, import_page_text, page_text
from awareness.service.stewardship import load_members
from awareness.sources.decide import SourceState
from awareness.sources.fetch import FetchResult
from awareness.storage import outbox
from awareness.storage.db import writing

log = logging.getLogger(__name__)

DRIVER_CHANGED = "driver_changed"


@dataclass(frozen=True)
class SiteImport:
    """What one poll of a ``drivers`` source did."""

    created: int
    updated: int
    warnings: tuple[str, ...]


def import_site_page(ctx: Context, state: SourceState, result: FetchResult, body_hash: str,
                     *, tell: bool) -> SiteImport:
    """Import the records on the fetched page; tell their members when ``tell``."""
    try:
        report = import_page_text(ctx, page_text(result.body, result.content_type),
                                  origin=state.address, changed_by=f"source {state.id}")
    except ImportFormatError as exc:
        return SiteImport(0, 0, (str(exc),))
    changed = [o for o in report.outcomes if o.action in ("created", "updated")]
    warnings = [f"{o.title}: {o.reason}" for o in report.outcomes if o.action == "unplaced"]
    if tell and changed:
        records = {r.slug: r for r in report.records}
        warnings += _tell_members(ctx, state, body_hash, changed, records)
    return SiteImport(sum(o.action == "created" for o in changed),
                      sum(o.action == "updated" for o in changed), tuple(warnings))


def _tell_members(ctx: Context, state: SourceState, body_hash: str,
                  changed: list[ImportOutcome],
                  records: dict[str, DriverRecord]) -> list[str]:
    """Queue a mail to the member responsible for each changed record; the warnings for
    records whose member has no address in members.toml."""
    s = ctx.settings
    members = load_members(ctx)
    warnings: list[str] = []
    now = ctx.now()
    with writing(ctx.engine) as connection:
        for outcome in changed:
            record = records[outcome.slug]
            initials = member_initials(str(record.fields.get("member_responsible", "")))
            member = member_for(members, initials) if initials else None
            if member is None:
                if initials:
                    warnings.append(f"{record.title}: no address for member {initials} in "
                                    "members.toml")
                continue
            key = f"{state.id}/{outcome.slug}/{body_hash[:16]}"
            verb = "added to" if outcome.action == "created" else "updated in"
            text = (f"{record.title} was {verb} the library's driver records from the MAP "
                    f"site ({state.address}).\n\n"
                    + (f"What changed: {outcome.reason.removeprefix('changed: ')}\n\n"
                       if outcome.action == "updated" else "")
                    + f"The record: {s.base_url}/drivers/{outcome.slug}\n\n"
                    "You are named as the group member responsible for it; check that it "
                    "reads well, and that its review date is right.\n\n"
                    f"{s.library.name}\n")
            mail = compose(
                sender=Sender(s.mail.from_addr, s.mail.from_name), to=member.email,
                to_name=member.name, subject=f"Driver record {verb} the records: "
                f"{record.title}", text=text,
                message_id=message_id("driver-changed", *key_parts(key),
                                      domain=s.mail.domain),
                date=now.astimezone(s.timezone))
            outbox.queue(connection, Queued(DRIVER_CHANGED, key, mail), now)
    return warnings
