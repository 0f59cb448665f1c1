"""A MAP-toolkit site as a source (issue 16, item 2): driver records kept current from the
site without saving and re-importing pages by hand.

A source of kind ``drivers`` names one archive page of the site (a WordPress tag or category
archive, or a single post). It is fetched like any source — the hardened fetcher, conditional
requests, the same schedule — and when the page changed its records are imported as
``awareness drivers import`` would: created or updated by slug, every change in the record's
history under "source <id>". The steering-group member responsible for a record that was
added or changed is told by e-mail (not on the source's first poll, which only takes stock),
once per record and version of the page.

Nothing is ever deleted because it left the page: a tag archive shows its newest posts, so
older records fall off it in the ordinary way. Each record the page lists is remembered with
its own post's address; once it is off the listing, that address is asked for (a few records
a poll, each at most daily), and only a 404 or 410 from it flags the record "gone from the
site" (``drivers.site``). The flag is cleared when the page answers again or the record is
listed again; the member is told both ways.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection

from awareness.drivers.html import looks_like_html, post_links
from awareness.drivers.members import member_for
from awareness.drivers.records import member_initials
from awareness.drivers.site import (
    CHECKS_PER_POLL,
    RECHECK_AFTER,
    Verdict,
    page_verdict,
    record_pages,
)
from awareness.drivers.views import StoredDriver
from awareness.errors import FetchError, ImportFormatError
from awareness.mail.compose import Mail, Sender, compose, key_parts, message_id
from awareness.mail.outbox import (
    DRIVER_CHANGED,
    Queued,
    driver_back_key,
    driver_changed_key,
    driver_gone_key,
)
from awareness.model import DriverRecord
from awareness.service.context import Context
from awareness.service.drivers import ImportOutcome, import_page_text, page_text
from awareness.service.stewardship import load_members
from awareness.sources.decide import SourceState
from awareness.sources.fetch import FetchResult, Validators, fetch
from awareness.storage import drivers as store
from awareness.storage import outbox
from awareness.storage.db import reading, writing

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class SiteImport:
    """What one poll of a ``drivers`` source did."""

    created: int
    updated: int
    warnings: tuple[str, ...]


@dataclass(frozen=True)
class Notice:
    """One mail to a record's member: the outbox key, the subject's verb and what to say."""

    record: DriverRecord
    key: str
    verb: str
    text: str


def import_site_page(ctx: Context, state: SourceState, result: FetchResult, body_hash: str,
                     *, tell: bool) -> SiteImport:
    """Import the records on the fetched page and remember them as listed (clearing the
    flag of any that had gone); tell their members when ``tell``."""
    text = page_text(result.body, result.content_type)
    try:
        report = import_page_text(ctx, text, origin=state.address,
                                  changed_by=f"source {state.id}")
    except ImportFormatError as exc:
        return SiteImport(0, 0, (str(exc),))
    changed = [o for o in report.outcomes if o.action in ("created", "updated")]
    warnings = [f"{o.title}: {o.reason}" for o in report.outcomes if o.action == "unplaced"]
    pages = record_pages(report.records, post_links(text) if looks_like_html(text) else {},
                         result.url)
    back = _listed(ctx, state, [r.slug for r in report.records], pages)
    if tell:
        records = {r.slug: r for r in report.records}
        kept = _kept_by_slug(report.kept)
        notices = [_changed_notice(ctx, state, body_hash, o, records[o.slug],
                                   kept.pop(o.slug, [])) for o in changed]
        notices += [_kept_notice(ctx, state, body_hash, records[slug], reasons)
                    for slug, reasons in kept.items()]
        notices += [_back_notice(ctx, state, d, "it is listed again") for d in back]
        warnings += _tell_members(ctx, notices)
    return SiteImport(sum(o.action == "created" for o in changed),
                      sum(o.action == "updated" for o in changed), tuple(warnings))


def _listed(ctx: Context, state: SourceState, slugs: list[str],
            pages: dict[str, str]) -> list[StoredDriver]:
    """Remember the listed records' pages; clear the flag of those that had gone from the
    site, with a history entry. Returns those."""
    now = ctx.now()
    with writing(ctx.engine) as conn:
        stored = store.drivers_by_slugs(conn, slugs)
        store.list_on_site(conn, state.id, {d.id: pages[d.record.slug] for d in stored
                                            if d.record.slug in pages}, now)
        back = [d for d in stored if d.gone_at is not None and d.status != "deleted"]
        for driver in back:
            _set_gone(conn, state, driver, None, now, pages.get(driver.record.slug, ""),
                      "listed again")
    return back


def check_off_listing(ctx: Context, state: SourceState) -> int:
    """Ask for the own pages of a few records the source listed before but lists no more:
    a 404 or 410 flags the record gone from the site, an answer clears the flag, anything
    else changes nothing (``drivers.site``). Returns how many pages were asked for."""
    now = ctx.now()
    with reading(ctx.engine) as conn:
        due = store.off_listing(conn, state.id, checked_before=now - RECHECK_AFTER,
                                limit=CHECKS_PER_POLL)
    if not due:
        return 0  # the usual case: no write, so no lock taken
    answers = [(driver, url, *_ask(ctx, url)) for driver, url in due]
    notices: list[Notice] = []
    with writing(ctx.engine) as conn:
        store.mark_checked(conn, [driver.id for driver, *_ in answers], now)
        for driver, url, verdict, answer in answers:
            if verdict == "gone" and driver.gone_at is None:
                _set_gone(conn, state, driver, now, now, url, answer)
                notices.append(_gone_notice(ctx, state, driver, url, answer, now))
            elif verdict == "there" and driver.gone_at is not None:
                _set_gone(conn, state, driver, None, now, url, answer)
                notices.append(_back_notice(ctx, state, driver, f"its page {url} answers again"))
        # In the same transaction: the flag and its mail are written together, or neither.
        warnings = _queue_notices(ctx, conn, notices)
    for warning in warnings:
        log.warning("source %s: %s", state.id, warning)
    return len(answers)


def _ask(ctx: Context, url: str) -> tuple[Verdict, str]:
    """What a record's own page answers, and the answer in words."""
    try:
        result = fetch(url, validators=Validators(), policy=ctx.fetch_policy,
                       resolver=ctx.resolver)
    except FetchError as exc:
        return page_verdict(exc.status), str(exc)
    return page_verdict(result.http_status), f"HTTP {result.http_status}"


def _set_gone(conn: Connection, state: SourceState, driver: StoredDriver,
              gone_at: datetime | None, now: datetime, url: str, answer: str) -> None:
    store.set_gone(conn, driver.id, gone_at)
    store.add_version(conn, driver.id, now=now, changed_by=f"source {state.id}",
                      action="gone from site" if gone_at else "back on site",
                      changes={"site_page": [url, answer]})


def _kept_by_slug(kept: list[ImportOutcome]) -> dict[str, list[str]]:
    """The reasons of the edits an import kept, record by record, in page order."""
    by_slug: dict[str, list[str]] = {}
    for outcome in kept:
        by_slug.setdefault(outcome.slug, []).append(outcome.reason)
    return by_slug


def _changed_notice(ctx: Context, state: SourceState, body_hash: str, outcome: ImportOutcome,
                    record: DriverRecord, kept: list[str]) -> Notice:
    verb = "added to" if outcome.action == "created" else "updated in"
    text = (f"{record.title} was {verb} the library's driver records from the MAP "
            f"site ({state.address}).\n\n"
            + (f"What changed: {outcome.reason.removeprefix('changed: ')}\n\n"
               if outcome.action == "updated" else "")
            + _kept_paragraph(kept)
            + f"The record: {ctx.settings.base_url}/drivers/{outcome.slug}\n\n"
            "You are named as the group member responsible for it; check that it "
            "reads well, and that its review date is right.\n\n")
    return Notice(record, driver_changed_key(state.id, outcome.slug, body_hash), verb, text)


def _kept_notice(ctx: Context, state: SourceState, body_hash: str, record: DriverRecord,
                 kept: list[str]) -> Notice:
    """The MAP site's page differs from a record only where a librarian edited it here."""
    text = (f"{record.title} on the MAP site ({state.address}) differs from the library's "
            "record where librarians edited it here.\n\n"
            + _kept_paragraph(kept)
            + f"The record: {ctx.settings.base_url}/drivers/{record.slug}\n\n"
            "You are named as the group member responsible for it; if the site is right, "
            "edit the record to match it; if the record is right, ask the site's editors "
            "to bring the post up to date.\n\n")
    return Notice(record, driver_changed_key(state.id, record.slug, body_hash),
                  "differs from", text)


def _kept_paragraph(kept: list[str]) -> str:
    """The edits kept, one a line, with why: the site's value did not replace them."""
    if not kept:
        return ""
    lines = "".join(f"- {reason}\n" for reason in kept)
    return ("Edits made here since the last import were kept, not replaced by the site's "
            f"values:\n{lines}\n")


def _gone_notice(ctx: Context, state: SourceState, driver: StoredDriver, url: str,
                 answer: str, now: datetime) -> Notice:
    record = driver.record
    text = (f"{record.title} is no longer on the MAP site: it left the page {state.address}, "
            f"and its own page {url} answered \"{answer}\".\n\n"
            "The library's record is kept, marked \"gone from the MAP site\": "
            f"{ctx.settings.base_url}/drivers/{record.slug}\n\n"
            "You are named as the group member responsible for it; check whether the post "
            "was withdrawn or moved, and edit or delete the record.\n\n")
    return Notice(record, driver_gone_key(state.id, record.slug, now), "gone from", text)


def _back_notice(ctx: Context, state: SourceState, driver: StoredDriver, how: str) -> Notice:
    record = driver.record
    text = (f"{record.title} is back on the MAP site ({how}); it is no longer marked "
            f"\"gone from the MAP site\".\n\n"
            f"The record: {ctx.settings.base_url}/drivers/{record.slug}\n\n")
    return Notice(record, driver_back_key(state.id, record.slug, driver.gone_at), "back on",
                  text)


def _tell_members(ctx: Context, notices: list[Notice]) -> list[str]:
    """Queue each notice to the member responsible for its record; the warnings for
    records whose member has no address in members.toml."""
    if not notices:
        return []
    with writing(ctx.engine) as connection:
        return _queue_notices(ctx, connection, notices)


def _queue_notices(ctx: Context, connection: Connection, notices: list[Notice]) -> list[str]:
    """``_tell_members`` inside the caller's write transaction."""
    if not notices:
        return []
    members = load_members(ctx)
    warnings: list[str] = []
    for notice in notices:
        initials = member_initials(str(notice.record.fields.get("member_responsible", "")))
        member = member_for(members, initials) if initials else None
        if member is None:
            if initials:
                warnings.append(f"{notice.record.title}: no address for member {initials} "
                                "in members.toml")
            continue
        outbox.queue(connection, Queued(DRIVER_CHANGED, notice.key,
                                        _mail(ctx, notice, member.email, member.name)),
                     ctx.now())
    return warnings


def _mail(ctx: Context, notice: Notice, email: str, name: str) -> Mail:
    s = ctx.settings
    about = "MAP site" if notice.verb in ("gone from", "back on", "differs from") \
        else "records"
    return compose(
        sender=Sender(s.mail.from_addr, s.mail.from_name), to=email, to_name=name,
        subject=f"Driver record {notice.verb} the {about}: {notice.record.title}",
        text=notice.text + f"{s.library.name}\n",
        message_id=message_id("driver-changed", *key_parts(notice.key), domain=s.mail.domain),
        date=ctx.now().astimezone(s.timezone))
