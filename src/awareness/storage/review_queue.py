"""The review queue as the review page reads it: one match per story, a page at a time, every
tab's count, and the siblings of the matches shown (shell: SQL only).

A story is the same document from several publishers (``items.story_id``). Within one topic
and one status, the match with the lowest id stands for its story; the others are its
siblings, shown under it and decided with it (issue 14).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, and_, exists, func, select
from sqlalchemy.orm import aliased

from awareness.review import MatchView, Sibling
from awareness.storage.matches import VIEWS, was_sent, with_drivers
from awareness.storage.models import Item, Match, Source

_OTHER = aliased(Match)
_OTHER_ITEM = aliased(Item)
# No other match of the same topic and status whose item is in the same story has a lower id.
# An item in no story (story_id NULL) compares equal to nothing, so it always stands alone.
_LEADS_ITS_STORY = ~exists().where(
    _OTHER.topic_slug == Match.topic_slug, _OTHER.status == Match.status,
    _OTHER.id < Match.id, _OTHER.item_id == _OTHER_ITEM.id,
    _OTHER_ITEM.story_id == Item.story_id)
_BEST_FIRST = (Match.score.desc(), func.coalesce(Item.published_at, Item.first_seen_at).desc(),
               Match.id)


def _filtered(query: Select[Any], status: str, topic: str | None) -> Select[Any]:
    query = query.where(Match.status == status, _LEADS_ITS_STORY)
    return query.where(Match.topic_slug == topic) if topic else query


def queue_page(conn: Connection, *, status: str, topic: str | None, offset: int,
               limit: int) -> list[MatchView]:
    """``limit`` matches of ``status`` (and ``topic``) from ``offset``, one per story, best
    first (score, then newest, then oldest match), each with its driver links."""
    query = _filtered(VIEWS, status, topic).order_by(*_BEST_FIRST).offset(offset).limit(limit)
    return with_drivers(conn, list(conn.execute(query)))


def counts(conn: Connection, *, topic: str | None) -> dict[str, int]:
    """How many stories each status holds (of ``topic``, when given)."""
    query = (select(Match.status, func.count()).select_from(Match)
             .join(Item, Item.id == Match.item_id).where(_LEADS_ITS_STORY)
             .group_by(Match.status))
    if topic:
        query = query.where(Match.topic_slug == topic)
    return {status: number for status, number in conn.execute(query)}


def siblings(conn: Connection, match_ids: Sequence[int]) -> dict[int, list[Sibling]]:
    """For each match, the other matches of its topic whose items are in its story."""
    if not match_ids:
        return {}
    lead_item = aliased(Item)
    rows = conn.execute(
        select(_OTHER.id.label("lead"), Match.id, Match.status, Item.title, Item.link,
               Source.publisher)
        .select_from(_OTHER)
        .join(lead_item, lead_item.id == _OTHER.item_id)
        .join(Match, and_(Match.topic_slug == _OTHER.topic_slug, Match.id != _OTHER.id))
        .join(Item, and_(Item.id == Match.item_id, Item.story_id == lead_item.story_id))
        .join(Source, Source.id == Item.source_id)
        .where(_OTHER.id.in_(list(match_ids)))
        .order_by(Match.id))
    found: dict[int, list[Sibling]] = {match_id: [] for match_id in match_ids}
    for row in rows:
        found[row.lead].append(Sibling(row.id, row.status, row.title, row.link, row.publisher))
    return found


def unsent_siblings(conn: Connection, match_id: int, status: str) -> list[int]:
    """The ids of the match's siblings with ``status`` that have not been sent."""
    return [sibling.match_id for sibling in siblings(conn, [match_id])[match_id]
            if sibling.status == status and not was_sent(conn, sibling.match_id)]
