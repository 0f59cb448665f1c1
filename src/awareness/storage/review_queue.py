"""The review queue as the review page reads it: one match per story, a page at a time, every
tab's count, and the siblings of the matches shown (shell: SQL only).

A story is the same document from several publishers (``items.story_id``, or the item's own
id for a story's first item). Within one topic and one status, the match with the lowest id
stands for its story; the others are its siblings, shown under it and decided with it
(issue 14).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Select, func, select, union

from awareness.review import MatchView, Sibling
from awareness.storage.matches import VIEWS, was_sent, with_drivers
from awareness.storage.models import Item, Match, Source

# An item's story is named by its first item's id: ``story_id``, or its own id when it is
# the first (docs/item-identity.md).
_STORY = func.coalesce(Item.story_id, Item.id)
_BEST_FIRST = (Match.score.desc(), func.coalesce(Item.published_at, Item.first_seen_at).desc(),
               Match.id)


def _leaders(status: str | None, topic: str | None) -> Select[Any]:
    """The id of the match standing for each story: the lowest of its topic and status. One
    grouped pass over the matches, however many there are."""
    query = (select(func.min(Match.id)).join(Item, Item.id == Match.item_id)
             .group_by(Match.topic_slug, Match.status, _STORY))
    if status:
        query = query.where(Match.status == status)
    return query.where(Match.topic_slug == topic) if topic else query


def _filtered(query: Select[Any], status: str, topic: str | None) -> Select[Any]:
    return query.where(Match.id.in_(_leaders(status, topic)))


def queue_page(conn: Connection, *, status: str, topic: str | None, offset: int,
               limit: int) -> list[MatchView]:
    """``limit`` matches of ``status`` (and ``topic``) from ``offset``, one per story, best
    first (score, then newest, then oldest match), each with its driver links."""
    query = _filtered(VIEWS, status, topic).order_by(*_BEST_FIRST).offset(offset).limit(limit)
    return with_drivers(conn, list(conn.execute(query)))


def counts(conn: Connection, *, topic: str | None) -> dict[str, int]:
    """How many stories each status holds (of ``topic``, when given)."""
    leaders = _leaders(None, topic).add_columns(Match.status.label("status")).subquery()
    query = select(leaders.c.status, func.count()).group_by(leaders.c.status)
    return {status: number for status, number in conn.execute(query)}


def siblings(conn: Connection, match_ids: Sequence[int]) -> dict[int, list[Sibling]]:
    """For each match, the other matches of its topic whose items are in its story."""
    found: dict[int, list[Sibling]] = {match_id: [] for match_id in match_ids}
    if not found:
        return found
    leads = {row.id: (row.topic_slug, row.story) for row in conn.execute(
        select(Match.id, Match.topic_slug, _STORY.label("story"))
        .join(Item, Item.id == Match.item_id).where(Match.id.in_(list(found))))}
    stories = list({story for _, story in leads.values()})
    # A story's items are its first item and those naming it: two index look-ups (the
    # primary key, and the partial index on story_id of migration 0014).
    in_stories = union(select(Item.id).where(Item.id.in_(stories)),
                       select(Item.id).where(Item.story_id.in_(stories)))
    members: dict[tuple[str, int], list[Any]] = {}
    for row in conn.execute(
            select(Match.id, Match.topic_slug, Match.status, Item.title, Item.link,
                   Source.publisher, _STORY.label("story"))
            .join(Item, Item.id == Match.item_id).join(Source, Source.id == Item.source_id)
            .where(Match.item_id.in_(in_stories)).order_by(Match.id)):
        members.setdefault((row.topic_slug, row.story), []).append(row)
    for lead, key in leads.items():
        found[lead] = [Sibling(row.id, row.status, row.title, row.link, row.publisher)
                       for row in members.get(key, []) if row.id != lead]
    return found


def unsent_siblings(conn: Connection, match_id: int, status: str) -> list[int]:
    """The ids of the match's siblings with ``status`` that have not been sent."""
    return [sibling.match_id for sibling in siblings(conn, [match_id])[match_id]
            if sibling.status == status and not was_sent(conn, sibling.match_id)]
