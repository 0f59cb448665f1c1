"""Matches as librarians review them (storage/matches.py, storage/reviews.py) and the one
"was this match sent?" question that review and re-matching both ask, on SQLite and
PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from awareness.errors import AwarenessError, NotFound
from awareness.service.context import Context
from awareness.service.review import decide, list_matches
from awareness.storage import matches
from awareness.storage.db import reading
from awareness.storage.models import (
    DeliveryItem,
    DriverRecordRow,
    Item,
    Match,
    MatchDriver,
    OutboxMessage,
    Review,
    Source,
    Subscriber,
)
from tests.conftest import Clock, orm_session, orm_writing


def add_item(ctx: Context, title: str) -> int:
    with orm_writing(ctx) as session:
        if session.get(Source, "src") is None:
            session.add(Source(id="src", name="NHS England news", publisher="NHS England",
                               url="https://www.england.nhs.uk/news/feed/", kind="feed"))
        item = Item(source_id="src", key=f"link:{title}", title=title,
                    link=f"https://www.england.nhs.uk/{len(title)}/", summary_text="Summary.",
                    first_seen_at=ctx.now(), published_at=None)
        session.add(item)
        session.flush()
        return item.id


def add_match(ctx: Context, item_id: int, topic: str, *, status: str = "pending",
              score: float = 1.0) -> int:
    with orm_writing(ctx) as session:
        match = Match(item_id=item_id, topic_slug=topic, status=status, score=score,
                      hits=[{"term": topic, "field": "title", "word": topic}],
                      created_at=ctx.now())
        session.add(match)
        session.flush()
        return match.id


def add_driver_link(ctx: Context, match_id: int, slug: str, score: float) -> None:
    with orm_writing(ctx) as session:
        driver = session.scalar(select(DriverRecordRow).where(DriverRecordRow.slug == slug))
        if driver is None:
            driver = DriverRecordRow(slug=slug, kind="driver", title=slug.title(),
                                     impact=f"Impact of {slug}", tags=[], fields={},
                                     created_at=ctx.now(), updated_at=ctx.now())
            session.add(driver)
            session.flush()
        session.add(MatchDriver(match_id=match_id, driver_id=driver.id, kind="related",
                                score=score, reason=f"shares a tag with {slug}"))


def put_in_digest(ctx: Context, match_id: int, *, status: str) -> None:
    """An outbox row holding the match's item, as the digest job writes it before sending."""
    with orm_writing(ctx) as session:
        match = session.get(Match, match_id)
        assert match is not None
        subscriber = Subscriber(email=f"r{match_id}@trust.nhs.uk", frequency="daily",
                                token=f"{match_id:032d}", created_at=ctx.now())
        session.add(subscriber)
        session.flush()
        digest = OutboxMessage(kind="digest", key=f"{subscriber.id}/2026-11-{match_id:02d}",
                               subscriber_id=subscriber.id, sender="awareness@trust.nhs.uk",
                               recipient=subscriber.email, status=status,
                               message_id=f"<{match_id}@x>", message=b"", attempts=0,
                               created_at=ctx.now())
        session.add(digest)
        session.flush()
        session.add(DeliveryItem(outbox_id=digest.id, subscriber_id=subscriber.id,
                                 item_id=match.item_id, match_id=match_id))


@pytest.mark.parametrize("delivery_status", ["sent", "pending"])
def test_a_match_counts_as_sent_once_its_digest_is_in_the_outbox(
        make_context: Callable[..., Context], delivery_status: str) -> None:
    # Two topics matched the same item; only one of those matches went into a digest. A
    # digest still waiting to be sent counts too: it is sent, or retried until it is.
    ctx = make_context()
    item = add_item(ctx, "Leadership and digital")
    in_digest, other = add_match(ctx, item, "leadership"), add_match(ctx, item, "digital")
    put_in_digest(ctx, in_digest, status=delivery_status)
    with reading(ctx.engine) as conn:
        assert matches.was_sent(conn, in_digest) is True
        assert matches.was_sent(conn, other) is False
        assert matches.was_sent(conn, other + 1000) is False


def test_a_sent_match_cannot_be_decided_again(make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    item = add_item(ctx, "Leadership and digital")
    sent, unsent = add_match(ctx, item, "leadership"), add_match(ctx, item, "digital")
    decide(ctx, sent, "approved", librarian="alice")
    put_in_digest(ctx, sent, status="sent")
    with pytest.raises(AwarenessError, match="already been sent"):
        decide(ctx, sent, "rejected", librarian="bob")
    assert decide(ctx, unsent, "rejected", librarian="bob", note="Not ours.").view.status == \
        "rejected"
    with orm_session(ctx) as session:
        reviews = session.execute(select(Review.match_id, Review.librarian, Review.decision,
                                         Review.note).order_by(Review.id)).all()
        status = session.scalar(select(Match.status).where(Match.id == sent))
    assert status == "approved", "the refused decision changed nothing"
    assert [tuple(r) for r in reviews] == [(sent, "alice", "approved", ""),
                                           (unsent, "bob", "rejected", "Not ours.")]


def test_deciding_the_same_way_twice_records_one_review(
        make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    match_id = add_match(ctx, add_item(ctx, "Leadership"), "leadership")
    first = decide(ctx, match_id, "approved", librarian="alice")
    again = decide(ctx, match_id, "approved", librarian="bob")
    assert first.view == again.view and (first.recorded, again.recorded) == (True, False)
    with orm_session(ctx) as session:
        assert session.scalars(select(Review.librarian)).all() == ["alice"]
    with pytest.raises(NotFound):
        decide(ctx, match_id + 1000, "approved", librarian="alice")
    with reading(ctx.engine) as conn:
        assert matches.match_status(conn, match_id) == "approved"
        assert matches.match_status(conn, match_id + 1000) is None
        assert matches.match_view(conn, match_id + 1000) is None


def test_each_match_carries_its_own_drivers_best_first(
        make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    item = add_item(ctx, "People plan refreshed")
    first, second = add_match(ctx, item, "leadership"), add_match(ctx, item, "workforce")
    add_driver_link(ctx, first, "people-plan", 0.4)
    add_driver_link(ctx, first, "long-term-plan", 0.9)
    add_driver_link(ctx, second, "people-plan", 0.7)
    with reading(ctx.engine) as conn:
        views = {v.id: v for v in matches.matches_for_review(conn)}
        one = matches.match_view(conn, first)
    assert [(d.slug, d.score) for d in views[first].drivers] == [("long-term-plan", 0.9),
                                                                 ("people-plan", 0.4)]
    assert [(d.slug, d.impact) for d in views[second].drivers] == [
        ("people-plan", "Impact of people-plan")]
    assert one == views[first]
    assert (one.title, one.publisher, one.source_id, one.item_id, one.summary) == (
        "People plan refreshed", "NHS England", "src", item, "Summary.")
    assert one.hits == [{"term": "leadership", "field": "title", "word": "leadership"}]


def test_the_limit_keeps_the_newest_then_ranks_them(make_context: Callable[..., Context],
                                                    clock: Clock) -> None:
    ctx = make_context()
    with reading(ctx.engine) as conn:
        assert matches.matches_for_review(conn) == []
    oldest = add_match(ctx, add_item(ctx, "Oldest"), "leadership", score=9.0)
    clock.advance(hours=1)
    low = add_match(ctx, add_item(ctx, "Low"), "leadership", score=1.0)
    clock.advance(hours=1)
    high = add_match(ctx, add_item(ctx, "High"), "leadership", score=5.0)
    add_match(ctx, add_item(ctx, "Other topic"), "digital", status="auto", score=7.0)
    ranked = list_matches(ctx, status="pending", topic="leadership", limit=2)
    assert [v.id for v in ranked] == [high, low], "the oldest match fell outside the limit"
    assert [v.id for v in list_matches(ctx, topic="leadership")] == [oldest, high, low]
    assert [v.topic_slug for v in list_matches(ctx, status="auto")] == ["digital"]
