"""Bulletin issues and their entries (storage: all their SQL).

An issue is unique by bulletin and number, an entry by issue and item, so two processes that
draft at once add each once. Values returned are the core's (``bulletins.build``).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, bindparam, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite

from awareness.bulletins.build import Issue, IssueEntry, NewEntry, Placed, Spotlight
from awareness.digests.build import Candidate, DigestDriver, LinkedRecord
from awareness.sources.identity import link_digest
from awareness.storage.models import (
    BulletinEntry,
    BulletinIssue,
    DriverRecordRow,
    Item,
    Match,
    Source,
)
from awareness.storage.models import Subscriber as SubscriberRow
from awareness.storage.outbox import SENDABLE, linked_records

_STORY = func.coalesce(Item.story_id, Item.id)
_ISSUE_COLUMNS = (BulletinIssue.id, BulletinIssue.bulletin, BulletinIssue.number,
                  BulletinIssue.status, BulletinIssue.covers_from, BulletinIssue.due_at,
                  BulletinIssue.created_at, BulletinIssue.intro, BulletinIssue.spotlight_id,
                  BulletinIssue.approved_by, BulletinIssue.approved_at, BulletinIssue.sent_at,
                  BulletinIssue.held_at, BulletinIssue.corrected_at, BulletinIssue.correction)
_ISSUES = select(*_ISSUE_COLUMNS).order_by(BulletinIssue.number)
_ENTRIES = (
    select(BulletinEntry.id, BulletinEntry.item_id, BulletinEntry.match_id,
           BulletinEntry.section, BulletinEntry.position, Item.title, Item.link,
           Source.publisher, Item.published_at, Item.summary_text, BulletinEntry.note, _STORY,
           BulletinEntry.removed, Match.topic_slug)
    .join(Item, Item.id == BulletinEntry.item_id).join(Source, Source.id == Item.source_id)
    .outerjoin(Match, Match.id == BulletinEntry.match_id)
    .where(BulletinEntry.issue_id == bindparam("issue_id"))
    .order_by(BulletinEntry.position, BulletinEntry.id))
# Each story's publishers: its first item (whose story_id may be unset) and the others.
_PUBLISHERS = (select(_STORY, Source.publisher).join(Source, Source.id == Item.source_id)
               .where(or_(Item.story_id.in_(bindparam("stories", expanding=True)),
                          Item.id.in_(bindparam("stories", expanding=True))))
               .order_by(Item.id))
_CANDIDATES = (
    select(Match.id, Match.item_id, Match.topic_slug, Item.title, Item.link, Source.publisher,
           Item.published_at, Item.summary_text, Match.score,
           func.coalesce(Match.reader_note, ""), _STORY)
    .join(Item, Item.id == Match.item_id).join(Source, Source.id == Item.source_id)
    .where(Match.topic_slug.in_(bindparam("topics", expanding=True)),
           Match.status.in_(SENDABLE), Item.first_seen_at >= bindparam("since"))
    .order_by(Match.id))
_PLACED = select(BulletinEntry.id, BulletinEntry.section, BulletinEntry.position,
                 BulletinEntry.removed).where(BulletinEntry.issue_id == bindparam("issue_id"))
_ADD_ISSUE = {"postgresql": postgresql.insert(BulletinIssue).on_conflict_do_nothing()
              .returning(BulletinIssue.id),
              "sqlite": sqlite.insert(BulletinIssue).on_conflict_do_nothing()
              .returning(BulletinIssue.id)}
_ADD_ENTRY = {"postgresql": postgresql.insert(BulletinEntry).on_conflict_do_nothing(),
              "sqlite": sqlite.insert(BulletinEntry).on_conflict_do_nothing()}
_EDITABLE = frozenset({"intro", "spotlight_id", "status", "approved_by", "approved_at",
                       "sent_at", "held_at", "corrected_at", "correction", "due_at"})
_ITEM_CHOICE = (select(Item.id, Item.title, Source.publisher, Item.published_at, Item.link)
                .join(Source, Source.id == Item.source_id))


def issues(connection: Connection, bulletin: str, *, sent_only: bool = False,
           with_entries: bool = False, limit: int | None = None) -> list[Issue]:
    """The bulletin's issues, newest first (at most ``limit``), with their entries when
    asked."""
    query = _ISSUES.where(BulletinIssue.bulletin == bulletin).order_by(None).order_by(
        BulletinIssue.number.desc()).limit(limit)
    if sent_only:
        query = query.where(BulletinIssue.status == "sent")
    return [_issue(connection, row, with_entries) for row in connection.execute(query)]


def issue(connection: Connection, bulletin: str, number: int) -> Issue | None:
    """One issue with its entries and spotlight."""
    row = connection.execute(_ISSUES.where(BulletinIssue.bulletin == bulletin,
                                           BulletinIssue.number == number)).first()
    return _issue(connection, row, True) if row else None


def latest(connection: Connection, bulletin: str) -> Issue | None:
    """The bulletin's newest issue, without its entries."""
    found = issues(connection, bulletin, limit=1)
    return found[0] if found else None


def add_issue(connection: Connection, *, bulletin: str, number: int, covers_from: datetime,
              due_at: datetime, now: datetime) -> int | None:
    """A new draft issue; None when another process added that number first."""
    return connection.execute(_ADD_ISSUE[connection.dialect.name], {
        "bulletin": bulletin, "number": number, "status": "draft", "covers_from": covers_from,
        "due_at": due_at, "intro": "", "correction": "", "created_at": now}).scalar()


def change_issue(connection: Connection, issue_id: int, **changes: Any) -> None:
    """Set the named columns of an issue (intro, status, approval, sending, correction)."""
    unknown = set(changes) - _EDITABLE
    if unknown:
        raise ValueError(f"not an issue field: {', '.join(sorted(unknown))}")
    connection.execute(update(BulletinIssue).where(BulletinIssue.id == issue_id).values(changes))


def locked_state(connection: Connection, issue_id: int) -> tuple[str, datetime | None,
                                                                  str | None]:
    """(status, sent_at, approved_by) of an issue, locked until the transaction ends
    (PostgreSQL; a SQLite write transaction holds the whole file), so a change decided on
    them cannot cross a send or an approval."""
    row = connection.execute(select(BulletinIssue.status, BulletinIssue.sent_at,
                                    BulletinIssue.approved_by)
                             .where(BulletinIssue.id == issue_id).with_for_update()).one()
    return row.status, row.sent_at, row.approved_by


def begin_sending(connection: Connection, issue_id: int, now: datetime) -> None:
    """Mark an issue as going out from ``now`` if it is still approved and not going out
    already (an editor's change since it was read made it a draft)."""
    connection.execute(update(BulletinIssue).where(BulletinIssue.id == issue_id,
                                                   BulletinIssue.status == "approved",
                                                   BulletinIssue.sent_at.is_(None))
                       .values(sent_at=now))


def candidates(connection: Connection, topics: Collection[str], since: datetime) -> list[Candidate]:
    """The sendable matches of ``topics`` whose items were first seen at ``since`` or later,
    with their linked active driver records."""
    if not topics:
        return []
    rows = connection.execute(_CANDIDATES, {"topics": sorted(topics), "since": since}).all()
    records = linked_records(connection, [row[0] for row in rows])
    return [Candidate(*row, records=tuple(records.get(row[0], ()))) for row in rows]


def stories_in(connection: Connection, bulletin: str, since: datetime) -> set[int]:
    """The stories any issue of the bulletin holds (removed entries too) among items first
    seen at ``since`` or later: they are never drafted again."""
    return set(connection.scalars(
        select(_STORY).join(BulletinEntry, BulletinEntry.item_id == Item.id)
        .join(BulletinIssue, BulletinIssue.id == BulletinEntry.issue_id)
        .where(BulletinIssue.bulletin == bulletin, Item.first_seen_at >= since)))


def add_entries(connection: Connection, issue_id: int, entries: Sequence[NewEntry]) -> None:
    """Add entries to an issue (an item already in it is left as it is)."""
    if entries:
        connection.execute(_ADD_ENTRY[connection.dialect.name], [
            {"issue_id": issue_id, "item_id": e.item_id, "match_id": e.match_id,
             "section": e.section, "position": e.position, "note": e.note, "removed": False}
            for e in entries])


def placed(connection: Connection, issue_id: int) -> list[Placed]:
    """Where each entry of the issue is."""
    return [Placed(row.id, row.section, row.position, bool(row.removed))
            for row in connection.execute(_PLACED, {"issue_id": issue_id})]


def move(connection: Connection, issue_id: int, changes: Iterable[Placed]) -> None:
    """Write new positions (and sections) for entries of the issue."""
    for change in changes:
        connection.execute(update(BulletinEntry).where(
            BulletinEntry.id == change.entry_id, BulletinEntry.issue_id == issue_id)
            .values(section=change.section, position=change.position))


def change_entry(connection: Connection, issue_id: int, entry_id: int, **changes: Any) -> bool:
    """Set an entry's ``note`` or ``removed``; False when the issue has no such entry."""
    if set(changes) - {"note", "removed"}:
        raise ValueError("only an entry's note and removed can change")
    done = connection.execute(update(BulletinEntry).where(
        BulletinEntry.id == entry_id, BulletinEntry.issue_id == issue_id).values(changes))
    return bool(done.rowcount)


def undo_removal(connection: Connection, issue_id: int, item_id: int) -> None:
    """Put the item's entry back in the issue if an editor had removed it."""
    connection.execute(update(BulletinEntry).where(
        BulletinEntry.issue_id == issue_id, BulletinEntry.item_id == item_id)
        .values(removed=False))


def find_items(connection: Connection, text: str, limit: int = 20) -> list[Row[Any]]:
    """Items to add by hand: the one at a link, else those whose title holds ``text``,
    newest first; rows of (id, title, publisher, published_at, link)."""
    text = text.strip()
    digest = link_digest(text) if text.startswith(("http://", "https://")) else None
    if digest:
        return list(connection.execute(_ITEM_CHOICE.where(Item.link_key == digest)
                                       .order_by(Item.id.desc()).limit(limit)))
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    return list(connection.execute(_ITEM_CHOICE.where(Item.title.ilike(pattern, escape="\\"))
                                   .order_by(Item.first_seen_at.desc(), Item.id.desc())
                                   .limit(limit)))


def item_match(connection: Connection, item_id: int,
               topics: Collection[str]) -> tuple[int, str, str] | None:
    """(match id, topic, note for readers) of the item's best sendable match among
    ``topics``, if it has one."""
    row = connection.execute(
        select(Match.id, Match.topic_slug, func.coalesce(Match.reader_note, ""))
        .where(Match.item_id == item_id, Match.topic_slug.in_(sorted(topics)),
               Match.status.in_(SENDABLE)).order_by(Match.score.desc(), Match.id)).first()
    return (row[0], row[1], row[2]) if row else None


def item_exists(connection: Connection, item_id: int) -> bool:
    return connection.scalar(select(Item.id).where(Item.id == item_id)) is not None


def spotlight_choices(connection: Connection) -> list[tuple[int, str, str]]:
    """(id, slug, title) of every active driver record, by title."""
    return [(row.id, row.slug, row.title) for row in connection.execute(
        select(DriverRecordRow.id, DriverRecordRow.slug, DriverRecordRow.title)
        .where(func.coalesce(DriverRecordRow.status, "active") == "active")
        .order_by(DriverRecordRow.title))]


def audience(connection: Connection, now: datetime) -> list[tuple[int, str, str]]:
    """(id, address, preference token) of every subscriber a bulletin goes to now:
    confirmed, subscribed, not paused, and who chose bulletins."""
    return [(row.id, row.email, row.token) for row in connection.execute(
        select(SubscriberRow.id, SubscriberRow.email, SubscriberRow.token).where(
            SubscriberRow.bulletins.is_(True), SubscriberRow.unsubscribed_at.is_(None),
            SubscriberRow.confirmed_at.is_not(None),
            or_(SubscriberRow.paused_until.is_(None), SubscriberRow.paused_until <= now))
        .order_by(SubscriberRow.id))]


def _issue(connection: Connection, row: Any, with_entries: bool) -> Issue:
    entries = _entries(connection, row.id) if with_entries else ()
    spotlight = _spotlight(connection, row.spotlight_id) if row.spotlight_id else None
    return Issue(id=row.id, bulletin=row.bulletin, number=row.number, status=row.status,
                 covers_from=row.covers_from, due_at=row.due_at, created_at=row.created_at,
                 intro=row.intro or "", spotlight=spotlight, approved_by=row.approved_by,
                 approved_at=row.approved_at, sent_at=row.sent_at, held_at=row.held_at,
                 corrected_at=row.corrected_at, correction=row.correction or "",
                 entries=entries)


def _entries(connection: Connection, issue_id: int) -> tuple[IssueEntry, ...]:
    rows = connection.execute(_ENTRIES, {"issue_id": issue_id}).all()
    records = linked_records(connection, [row.match_id for row in rows if row.match_id])
    stories = sorted({row[11] for row in rows})
    publishers: dict[int, list[str]] = {}
    if stories:
        for story, publisher in connection.execute(_PUBLISHERS, {"stories": stories}):
            publishers.setdefault(story, []).append(publisher)
    return tuple(_entry(row, publishers, records) for row in rows)


def _entry(row: Any, publishers: dict[int, list[str]],
           records: dict[int, list[LinkedRecord]]) -> IssueEntry:
    return IssueEntry(
        entry_id=row[0], item_id=row[1], match_id=row[2], section=row[3], position=row[4],
        title=row[5], link=row[6], publisher=row[7], published=row[8], summary=row[9],
        note=row[10], story=row[11], removed=bool(row[12]),
        also_published_by=_others(publishers.get(row[11], []), row[7]),
        drivers=tuple(DigestDriver(r.title, r.impact, f"/drivers/{r.slug}")
                      for r in (records.get(row[2], []) if row[2] else [])),
        topic=row[13] or "")


def _others(publishers: list[str], own: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(p for p in publishers if p != own))


def _spotlight(connection: Connection, driver_id: int) -> Spotlight | None:
    row = connection.execute(select(
        DriverRecordRow.slug, DriverRecordRow.title, DriverRecordRow.summary,
        DriverRecordRow.impact).where(DriverRecordRow.id == driver_id,
                                      func.coalesce(DriverRecordRow.status, "active") == "active")
    ).first()
    return Spotlight(row.slug, row.title, row.summary or "", row.impact or "",
                     f"/drivers/{row.slug}") if row else None


def spotlight_id(connection: Connection, slug: str) -> int | None:
    """The id of the active driver record ``slug``."""
    return connection.scalar(select(DriverRecordRow.id).where(
        DriverRecordRow.slug == slug, func.coalesce(DriverRecordRow.status, "active") == "active"))


