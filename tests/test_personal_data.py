"""What a subscriber's export of their data says (a subject access request, UK GDPR art. 15):
exactly what is stored about them and what they get — each topic with its own frequency, a
pause and until when, the bulletins, their status — the same as the librarians' list says,
with their messages, answers, clicks and history. SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from sqlalchemy import select

from awareness.service import people, roster, subscribing
from awareness.service.context import Context
from awareness.signup import Choice
from awareness.storage import clicks
from awareness.storage.db import writing
from awareness.storage.models import Match, Signup, Subscriber, Subscription
from tests.conftest import orm_session
from tests.test_outbox import add_match

READER = "jo.reader@trust.nhs.uk"


def test_the_export_says_each_topics_frequency_and_the_pause_as_stored(
        make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    # Added weekly by a librarian, then on their own page: digital daily, leadership weekly,
    # the bulletins, and a pause. The subscriber row's old "frequency" said weekly throughout.
    found, _ = roster.add(ctx, READER, [Choice("digital", "weekly")], librarian="quentin")
    back = ctx.now().astimezone(ctx.settings.timezone).date() + timedelta(days=10)
    subscribing.save_preferences(
        ctx, found.token, choices=[Choice("digital", "daily"), Choice("leadership", "weekly")],
        paused_until=back, bulletins=True)

    exported = people.export_subscriber(ctx, READER)

    with orm_session(ctx) as session:
        row = session.scalars(select(Subscriber).where(Subscriber.email == READER)).one()
        topics = session.execute(select(Subscription.topic_slug, Subscription.frequency)
                                 .where(Subscription.subscriber_id == row.id)).all()
    assert sorted((s["topic"], s["frequency"]) for s in exported["subscriptions"]) == sorted(
        topics) == [("digital", "daily"), ("leadership", "weekly")]
    assert "frequency" not in exported  # no one frequency claims to be all of theirs
    assert row.paused_until is not None
    assert exported["paused_until"] == row.paused_until.isoformat()
    assert (exported["status"], exported["active"], exported["bulletins"]) == (
        "paused", True, True)
    assert exported["confirmed_at"] == row.confirmed_at.isoformat()  # type: ignore[union-attr]
    assert exported["unsubscribed_at"] is None and exported["suspended_reason"] is None
    # Everything the librarians' list says of them, the export says the same way.
    [listed] = [e.as_json() for e in roster.everyone(ctx) if e.email == READER]
    assert {key: exported[key] for key in listed} == listed


def test_the_export_has_their_clicks_and_a_sign_up_waiting_for_them(
        make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    found, _ = roster.add(ctx, READER, [Choice("leadership", "daily")], librarian="quentin")
    match = add_match(ctx, "Leadership framework published")
    with orm_session(ctx) as session:
        item_id = session.get_one(Match, match).item_id
    with writing(ctx.engine) as connection:
        clicks.record(connection, found.id, item_id, ctx.now())
    subscribing.request_signup(ctx, email=READER, choices=[Choice("digital", "weekly")],
                               bulletins=False, client="192.0.2.1")

    exported = people.export_subscriber(ctx, READER)

    assert exported["clicks"] == [{"item": item_id, "title": "Leadership framework published",
                                   "at": ctx.now().isoformat()}]
    with orm_session(ctx) as session:
        waiting = session.scalars(select(Signup)).one()
    assert exported["pending_signups"] == [{
        "topics": [{"topic": "digital", "frequency": "weekly"}], "bulletins": False,
        "created_at": waiting.created_at.isoformat(),
        "expires_at": waiting.expires_at.isoformat()}]


def test_erasing_them_deletes_a_sign_up_of_theirs_waiting_for_confirmation(
        make_context: Callable[..., Context]) -> None:
    # It stayed, with their address, for up to a week, and its link subscribed them again.
    ctx = make_context()
    roster.add(ctx, READER, [Choice("leadership", "daily")], librarian="quentin")
    other = "someone.else@trust.nhs.uk"
    for address in (READER, other):
        subscribing.request_signup(ctx, email=address, choices=[Choice("digital", "weekly")],
                                   bulletins=False, client="192.0.2.1")
    people.erase_subscriber(ctx, READER)
    with orm_session(ctx) as session:
        assert session.scalars(select(Signup.email)).all() == [other]
