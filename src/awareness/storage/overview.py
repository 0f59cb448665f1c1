"""Read-only counts and listings for the librarians' workbench pages (issue 14): stored items
by source, topic and first-seen time, one item and its story, pending matches by topic,
matches by week, and the outbox as librarians list it; plus the two writes of those pages,
pausing or resuming a source and retrying a failed message.

Values returned are the core's (``awareness.workbench``, ``awareness.model``), never rows.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Select, func, select, update

from awareness.model import ItemText
from awareness.storage.items import NEWEST_FIRST
from awareness.storage.models import Item, Match, Source
from awareness.storage.models import OutboxMessage as Outbox
from awareness.workbench import PAGE_SIZE, ItemSearch, ListedItem, SendSearch, Sent

_LISTED = (select(Item.id, Item.source_id, Source.publisher, Item.title, Item.link,
                  Item.published_at, Item.first_seen_at, Item.baseline)
           .join(Source, Source.id == Item.source_id))
_STORY = func.coalesce(Item.story_id, Item.id)
_SENT_COLUMNS = (Outbox.id, Outbox.kind, Outbox.key, Outbox.status, Outbox.recipient,
                 Outbox.attempts, Outbox.created_at, Outbox.sent_at, Outbox.next_attempt_at,
                 Outbox.last_error, Outbox.subscriber_id)


def _listed(row: Any) -> ListedItem:
    return ListedItem(row.id, row.source_id, row.publisher, row.title, row.link,
                      row.published_at, row.first_seen_at, bool(row.baseline))


def _filtered(query: Select[*tuple[Any, ...]], search: ItemSearch, start: datetime | None,
              end: datetime | None) -> Select[*tuple[Any, ...]]:
    if search.source:
        query = query.where(Item.source_id == search.source)
    if search.topic:
        query = query.where(Item.id.in_(select(Match.item_id)
                                        .where(Match.topic_slug == search.topic)))
    if start is not None:
        query = query.where(Item.first_seen_at >= start)
    if end is not None:
        query = query.where(Item.first_seen_at < end)
    return query


def item_page(conn: Connection, search: ItemSearch, start: datetime | None,
              end: datetime | None) -> tuple[list[ListedItem], int]:
    """The search's page of items, newest first (``items.NEWEST_FIRST``), and how many match
    it in all (the search's words aside: those the service matches itself)."""
    total = conn.scalar(_filtered(select(func.count(Item.id)), search, start, end)) or 0
    rows = conn.execute(_filtered(_LISTED, search, start, end).order_by(*NEWEST_FIRST)
                        .offset((search.page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    return [_listed(row) for row in rows], int(total)


def items_to_search(conn: Connection, search: ItemSearch, start: datetime | None,
                    end: datetime | None) -> Iterator[tuple[ListedItem, ItemText]]:
    """Every item the search's filters keep, newest first (``items.NEWEST_FIRST``), with the
    text polling matches (the same fields as ``items.since``), read in batches."""
    query = _filtered(select(*_LISTED.selected_columns, Item.summary_text, Item.categories)
                      .join(Source, Source.id == Item.source_id), search, start, end)
    for row in conn.execution_options(yield_per=500).execute(query.order_by(*NEWEST_FIRST)):
        yield _listed(row), ItemText(title=row.title, summary=row.summary_text,
                                     categories=tuple(row.categories or ()),
                                     source=f"{row.publisher} {row.source_id}")


def item(conn: Connection, item_id: int) -> tuple[ListedItem, str, tuple[str, ...],
                                                   str | None] | None:
    """One item with its summary, categories and DOI, if it exists."""
    row = conn.execute(select(*_LISTED.selected_columns, Item.summary_text, Item.categories,
                              Item.doi).join(Source, Source.id == Item.source_id)
                       .where(Item.id == item_id)).first()
    if row is None:
        return None
    return _listed(row), row.summary_text or "", tuple(row.categories or ()), row.doi


def matched_topics(conn: Connection, item_ids: list[int]) -> dict[int, list[tuple[str, str]]]:
    """For each of the items, the topics that matched it and each match's status, by topic."""
    found: dict[int, list[tuple[str, str]]] = {}
    if item_ids:
        rows = conn.execute(select(Match.item_id, Match.topic_slug, Match.status)
                            .where(Match.item_id.in_(item_ids)).order_by(Match.topic_slug))
        for item_id, slug, status in rows:
            found.setdefault(item_id, []).append((slug, status))
    return found


def story_siblings(conn: Connection, item_id: int) -> list[ListedItem]:
    """The other items of the item's story: the same document from other publishers."""
    story = select(_STORY).where(Item.id == item_id).scalar_subquery()
    rows = conn.execute(_LISTED.where(story == _STORY, Item.id != item_id)
                        .order_by(Item.first_seen_at, Item.id))
    return [_listed(row) for row in rows]


def source_names(conn: Connection) -> dict[str, str]:
    """Every stored source's name by id."""
    return dict(conn.execute(select(Source.id, Source.name).order_by(Source.id)).all())


def source_state(conn: Connection, source_id: str) -> str | None:
    """The source's state (active, broken, gone, paused), or None when there is no such
    source."""
    return conn.scalar(select(Source.state).where(Source.id == source_id))


def pending_by_topic(conn: Connection) -> dict[str, int]:
    """How many matches wait for review, by topic slug."""
    rows = conn.execute(select(Match.topic_slug, func.count(Match.id))
                        .where(Match.status == "pending").group_by(Match.topic_slug))
    return {slug: int(count) for slug, count in rows}


def match_times(conn: Connection, since: datetime) -> dict[str, list[datetime]]:
    """When each topic's matches since ``since`` were made, by topic slug."""
    found: dict[str, list[datetime]] = {}
    for slug, created in conn.execute(select(Match.topic_slug, Match.created_at)
                                      .where(Match.created_at >= since)):
        found.setdefault(slug, []).append(created)
    return found


def outbox_counts(conn: Connection) -> dict[tuple[str, str], int]:
    """How many messages the outbox holds, by (kind, status)."""
    rows = conn.execute(select(Outbox.kind, Outbox.status, func.count(Outbox.id))
                        .group_by(Outbox.kind, Outbox.status))
    return {(kind, status): int(count) for kind, status, count in rows}


def retrying(conn: Connection) -> tuple[int, str]:
    """How many messages wait to be tried again after a failed try, and why the try of the
    one due last failed (the latest reason; "" when none waits)."""
    waiting = (Outbox.status == "pending") & Outbox.last_error.is_not(None)
    count = conn.scalar(select(func.count(Outbox.id)).where(waiting)) or 0
    reason = conn.scalar(select(Outbox.last_error).where(waiting)
                         .order_by(Outbox.next_attempt_at.desc(), Outbox.id.desc()).limit(1))
    return int(count), reason or ""


def outbox_page(conn: Connection, search: SendSearch) -> tuple[list[Sent], int]:
    """The search's page of outbox rows, newest first, and how many match it in all."""
    query = select(*_SENT_COLUMNS)
    counted = select(func.count(Outbox.id))
    for column, value in ((Outbox.kind, search.kind), (Outbox.status, search.status)):
        if value:
            query, counted = query.where(column == value), counted.where(column == value)
    rows = conn.execute(query.order_by(Outbox.id.desc())
                        .offset((search.page - 1) * PAGE_SIZE).limit(PAGE_SIZE))
    return [Sent(*row) for row in rows], int(conn.scalar(counted) or 0)


def outbox_row(conn: Connection, row_id: int) -> Sent | None:
    """One outbox row (never the message), if it exists."""
    row = conn.execute(select(*_SENT_COLUMNS).where(Outbox.id == row_id)).first()
    return Sent(*row) if row else None


def due_now(conn: Connection, row_id: int, now: datetime) -> bool:
    """Make a failed message, or a pending one waiting for its next try after a failed
    attempt, due now; False, changing nothing, for any other."""
    waiting = ((Outbox.status == "pending") & (Outbox.attempts > 0)
               & (Outbox.next_attempt_at > now))  # not a message queued to go later
    done = conn.execute(update(Outbox).where(Outbox.id == row_id, Outbox.message.is_not(None),
                                             (Outbox.status == "failed") | waiting)
                        .values(status="pending", next_attempt_at=now))
    return done.rowcount == 1


def set_paused(conn: Connection, source_id: str, paused: bool, now: datetime) -> bool:
    """Pause an active (or broken) source, or resume a paused one (due at once); False when
    it was not in a state to change."""
    if paused:
        statement = (update(Source).where(Source.id == source_id,
                                          Source.state.in_(("active", "broken")))
                     .values(state="paused"))
    else:
        statement = (update(Source).where(Source.id == source_id, Source.state == "paused")
                     .values(state="active", next_check_at=now))
    return conn.execute(statement).rowcount == 1
