"""The librarian's review of matches: list what waits, approve or reject it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from awareness.errors import AwarenessError, NotFound
from awareness.service.context import Context
from awareness.storage.db import transaction
from awareness.storage.models import DeliveryItem, Item, Match, MatchDriver, Review


@dataclass(frozen=True)
class DriverLinkView:
    slug: str
    title: str
    impact: str
    kind: str
    score: float
    reason: str


@dataclass(frozen=True)
class MatchView:
    """A match as people see it: the item, the topic, why it matched, its drivers."""

    id: int
    topic_slug: str
    status: str
    score: float
    hits: list[dict[str, str]]
    item_id: int
    title: str
    link: str | None
    summary: str
    publisher: str
    source_id: str
    published_at: datetime | None
    first_seen_at: datetime
    drivers: list[DriverLinkView]

    @property
    def sort_date(self) -> datetime:
        return self.published_at or self.first_seen_at

    def as_json(self) -> dict[str, object]:
        data = dict(self.__dict__)
        data["published_at"] = self.published_at.isoformat() if self.published_at else None
        data["first_seen_at"] = self.first_seen_at.isoformat()
        data["drivers"] = [d.__dict__ for d in self.drivers]
        return data


def _view(match: Match) -> MatchView:
    item = match.item
    return MatchView(
        id=match.id, topic_slug=match.topic_slug, status=match.status, score=match.score,
        hits=list(match.hits or []), item_id=item.id, title=item.title, link=item.link,
        summary=item.summary_text, publisher=item.source.publisher, source_id=item.source_id,
        published_at=item.published_at, first_seen_at=item.first_seen_at,
        drivers=[DriverLinkView(d.driver.slug, d.driver.title, d.driver.impact, d.kind,
                                d.score, d.reason) for d in match.driver_links],
    )


def list_matches(ctx: Context, *, status: str | None = None, topic: str | None = None,
                 limit: int = 200) -> list[MatchView]:
    """Matches, best first then newest; ``status`` filters (pending, approved, rejected, auto)."""
    query = select(Match).options(
        selectinload(Match.item).selectinload(Item.source),
        selectinload(Match.driver_links).selectinload(MatchDriver.driver),
    )
    if status:
        query = query.where(Match.status == status)
    if topic:
        query = query.where(Match.topic_slug == topic)
    query = query.order_by(Match.created_at.desc(), Match.id.desc()).limit(limit)
    with ctx.sessions() as session:
        views = [_view(m) for m in session.scalars(query)]
    return sorted(views, key=lambda v: (-v.score, -v.sort_date.timestamp(), v.id))


def decide(ctx: Context, match_id: int, decision: str, *, librarian: str,
           note: str = "") -> MatchView:
    """Approve or reject a pending match; deciding twice the same way is a no-op."""
    if decision not in ("approved", "rejected"):
        raise AwarenessError(f"unknown decision {decision!r}: use approve or reject")
    with transaction(ctx.sessions) as session:
        match = session.get(Match, match_id)
        if match is None:
            raise NotFound(f"no match {match_id}; `awareness review list` shows pending matches")
        if match.status == decision:
            return _view(match)
        if match.status not in ("pending", "approved", "rejected"):
            raise AwarenessError(f"match {match_id} needs no review (its topic has review = none)")
        if _already_sent(session, match):
            raise AwarenessError(f"match {match_id} has already been sent; it cannot change")
        match.status = decision
        session.add(Review(match_id=match.id, librarian=librarian, decision=decision, note=note,
                           decided_at=ctx.now()))
        session.flush()
        return _view(match)


def _already_sent(session: Session, match: Match) -> bool:
    sent = select(DeliveryItem.id).where(DeliveryItem.match_id == match.id).limit(1)
    return session.scalar(sent) is not None
