"""A subscriber's history: who changed what about them, and when. How each change reads
(pure), what storage keeps and that it goes with the subscriber (SQLite and PostgreSQL, and
migration 0020), and that every way a subscriber changes — a librarian, the person
themselves, the service after a hard bounce — records one line in the same transaction, while
the person's own export never names a librarian."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import column, delete, func, insert, inspect, select, table

from awareness.digests.subscribers import Subscriber
from awareness.errors import AwarenessError
from awareness.model import SubscriberEvent
from awareness.service import bulletins, digests, people, roster, subscribing
from awareness.service.context import Context
from awareness.signup import Choice
from awareness.storage import subscribers
from awareness.storage.db import MIGRATIONS, make_engine, reading, writing
from awareness.storage.models import OutboxMessage, UTCDateTime
from awareness.storage.models import Subscriber as SubscriberRow
from awareness.storage.models import SubscriberEvent as EventRow
from awareness.subscriber_history import (
    A_LIBRARIAN,
    SERVICE,
    SUSPENDED,
    THEMSELVES,
    UNSUBSCRIBED,
    changes,
    checked_librarian,
    for_them,
    gets,
    reason_for_them,
    undo_until,
    what_changed,
)
from tests.conftest import ROOT, Clock, orm_session
from tests.test_outbox import add_match

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
LONDON = ZoneInfo("Europe/London")
READER = "jo.reader@trust.nhs.uk"
LIBRARIAN = "quentin"


def person(**fields: object) -> Subscriber:
    values: dict = {"id": 1, "email": READER, "frequency": "weekly", "token": "t",
                    "created_at": NOW, "unsubscribed_at": None, "suspended_reason": None,
                    "topics": (), "confirmed_at": NOW, "subscriptions": (), **fields}
    return Subscriber(**values)


# --- how a change reads (pure) ----------------------------------------------------------------

@pytest.mark.parametrize(("fields", "line"), [
    ({"subscriptions": (("workforce", "weekly"), ("leadership", "weekly"))},
     "topics: leadership, workforce; weekly"),
    ({"subscriptions": (("leadership", "daily"), ("digital", "weekly"))},
     "topics: digital (weekly), leadership (daily)"),
    ({"subscriptions": (("leadership", "daily"),), "bulletins": True},
     "topics: leadership; daily; bulletins"),
    ({"bulletins": True}, "bulletins only"),
    ({}, "nothing"),
])
def test_what_they_get_reads_in_a_line(fields: dict, line: str) -> None:
    assert gets(person(**fields)) == line


def test_a_change_says_what_changed_as_it_is_now() -> None:
    before = person(subscriptions=(("leadership", "weekly"),))
    assert what_changed(before, before) == ""
    assert what_changed(before, person(subscriptions=(("leadership", "daily"),))) == (
        "topics: leadership; daily")
    assert what_changed(before, person(bulletins=True)) == "no topics; bulletins on"
    assert what_changed(person(bulletins=True, subscriptions=before.subscriptions),
                        before) == "bulletins off"


def test_changes_name_the_kind_of_each() -> None:
    active = person(subscriptions=(("leadership", "weekly"),))
    gone = person(subscriptions=(("leadership", "weekly"),), unsubscribed_at=NOW)
    paused = person(subscriptions=(("leadership", "weekly"),),
                    paused_until=datetime(2026, 12, 24, tzinfo=LONDON))
    assert changes(None, active, now=NOW, tz=LONDON) == [
        ("added", "topics: leadership; weekly")]
    assert changes(gone, active, now=NOW, tz=LONDON) == [
        ("resubscribed", "topics: leadership; weekly")]
    assert changes(active, active, now=NOW, tz=LONDON) == []
    assert changes(active, paused, now=NOW, tz=LONDON) == [("paused", "until 24 December 2026")]
    assert changes(paused, paused, now=NOW, tz=LONDON) == []
    assert changes(paused, active, now=NOW, tz=LONDON) == [("resumed", "pause ended")]
    # A pause already over is no pause: ending it is no change.
    assert changes(paused, active, now=NOW + timedelta(days=60), tz=LONDON) == []


def test_what_goes_to_the_person_names_no_librarian() -> None:
    for by, told in ((LIBRARIAN, A_LIBRARIAN), (THEMSELVES, THEMSELVES), (SERVICE, SERVICE)):
        event = SubscriberEvent(1, "suspended", "left the trust", by, NOW)
        assert for_them(event) == {"at": "2026-11-23T09:00:00+00:00", "what": "suspended",
                                   "detail": "left the trust", "by": told}
    # A reason stored before the history existed named the librarian at its end.
    stored = f"Left the trust (in October) (suspended by {LIBRARIAN})"
    assert reason_for_them(stored) == "Left the trust (in October)"
    assert reason_for_them("hard bounce: 550 5.1.1 unknown") == "hard bounce: 550 5.1.1 unknown"
    assert reason_for_them(None) is None


@pytest.mark.parametrize("name", ["themselves", "The Service", " a librarian "])
def test_no_librarian_acts_under_the_names_kept_for_others(name: str) -> None:
    with pytest.raises(AwarenessError, match="act under your own name"):
        checked_librarian(name)
    assert checked_librarian("themselves.smith") == "themselves.smith"


# --- storage (SQLite and PostgreSQL) ---------------------------------------------------------

def test_storage_keeps_the_history_newest_first_and_erases_it_with_them(
        database_url: str) -> None:
    engine = make_engine(database_url)
    try:
        with writing(engine) as connection:
            ids = [subscribers.subscribe(connection, email=email, choices=[("leadership", "daily")],
                                         token=f"token-{email}", now=NOW).id
                   for email in (READER, "other@trust.nhs.uk")]
            for n, (what, when) in enumerate([("added", NOW), ("changed", NOW),
                                               ("suspended", NOW + timedelta(hours=1))]):
                subscribers.record_event(connection, ids[0], what, f"detail {n}",
                                         by=LIBRARIAN, now=when)
            subscribers.record_event(connection, ids[1], "added", "x" * 5000, by=SERVICE,
                                     now=NOW)
        with reading(engine) as connection:
            mine = subscribers.events(connection, ids[0])
            assert [(e.what, e.detail, e.by, e.at) for e in mine] == [
                ("suspended", "detail 2", LIBRARIAN, NOW + timedelta(hours=1)),
                ("changed", "detail 1", LIBRARIAN, NOW),  # the same moment: the later line
                ("added", "detail 0", LIBRARIAN, NOW)]
            assert subscribers.events(connection, ids[0], 1) == mine[:1]
            [other] = subscribers.events(connection, ids[1])
            assert len(other.detail) == subscribers.MAX_DETAIL
        with writing(engine) as connection:
            subscribers.erase(connection, ids[0])
        with reading(engine) as connection:
            assert subscribers.events(connection, ids[0]) == []
            assert [e.subscriber_id for e in subscribers.events(connection, ids[1])] == [ids[1]]
    finally:
        engine.dispose()


def test_migration_0020_adds_the_history_which_goes_with_its_subscriber(
        empty_database_url: str) -> None:
    engine = make_engine(empty_database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    rows = table("subscribers", column("id"), column("email"), column("frequency"),
                 column("token"), column("created_at", UTCDateTime()))
    try:
        command.upgrade(config, "0019")
        with engine.begin() as connection:
            connection.execute(insert(rows), [
                {"id": 1, "email": READER, "frequency": "daily", "token": "a" * 32,
                 "created_at": NOW},
                {"id": 2, "email": "b@trust.nhs.uk", "frequency": "weekly", "token": "b" * 32,
                 "created_at": NOW}])
        command.upgrade(config, "0020")
        with engine.begin() as connection:
            assert connection.scalar(select(func.count()).select_from(EventRow)) == 0
            connection.execute(insert(EventRow), [
                {"subscriber_id": n, "what": "added", "detail": "", "by": LIBRARIAN,
                 "at": NOW} for n in (1, 2)])
        with engine.begin() as connection:  # a subscriber deleted by any means: no history
            connection.execute(delete(SubscriberRow).where(SubscriberRow.id == 1))
        with engine.connect() as connection:
            assert connection.execute(select(EventRow.subscriber_id)).scalars().all() == [2]
        command.downgrade(config, "0019")
        assert "subscriber_events" not in inspect(engine).get_table_names()
        with engine.connect() as connection:
            assert connection.execute(select(rows.c.email)).scalars().all() == [
                "b@trust.nhs.uk"]
    finally:
        engine.dispose()


# --- every change is recorded ----------------------------------------------------------------

def history(ctx: Context, email: str = READER) -> list[tuple[str, str, str]]:
    """Their history, newest first, as (what, detail, by)."""
    return [(e.what, e.detail, e.by) for e in roster.history(ctx, email)]


def test_a_librarians_changes_carry_their_name(make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    found, _ = roster.add(ctx, READER, [Choice("leadership", "daily")], librarian=LIBRARIAN)
    roster.add(ctx, READER, [Choice("leadership", "daily")], librarian="bob")  # no change
    roster.set_topics(ctx, READER, [Choice("leadership", "weekly"), Choice("digital", "weekly")],
                      True, librarian="bob")
    roster.suspend(ctx, found.id, "  Left the   trust ", LIBRARIAN)
    roster.resume(ctx, found.id, LIBRARIAN)
    roster.remove(ctx, found.id, "bob")
    roster.remove(ctx, found.id, "bob")  # they had stopped already: nothing new
    roster.add(ctx, READER, [Choice("leadership", "weekly")], librarian=LIBRARIAN)
    assert history(ctx) == [
        ("resubscribed", "topics: leadership; weekly", LIBRARIAN),  # afresh, as a sign-up
        ("unsubscribed", "", "bob"),
        ("resumed", "suspension lifted", LIBRARIAN),
        ("suspended", "Left the trust", LIBRARIAN),  # the reason, without the name
        ("changed", "topics: digital, leadership; weekly; bulletins on", "bob"),
        ("added", "topics: leadership; daily", LIBRARIAN)]
    assert {e.at for e in roster.history(ctx, READER)} == {ctx.now()}


def test_what_they_do_themselves_is_theirs(make_context: Callable[..., Context],
                                           clock: Clock) -> None:
    ctx = make_context()
    pending = subscribing.request_signup(
        ctx, email=READER, choices=[Choice("leadership", "daily"), Choice("digital", "weekly")],
        bulletins=False, client="192.0.2.1")
    found = subscribing.confirm(ctx, subscribing.confirmation_token(ctx, pending))
    assert found is not None
    clock.advance(hours=1)
    subscribing.save_preferences(ctx, found.token, choices=[Choice("leadership", "daily")],
                                 paused_until=date(2026, 12, 24), bulletins=True)
    subscribing.save_preferences(ctx, found.token, choices=[Choice("leadership", "daily")],
                                 paused_until=date(2026, 12, 24), bulletins=True)  # the same
    subscribing.save_preferences(ctx, found.token, choices=[Choice("leadership", "daily")],
                                 paused_until=None, bulletins=True)
    subscribing.leave_topic(ctx, found.token, "leadership")
    bulletins.stop_bulletins(ctx, found.token)  # the last thing they got
    subscribing.save_preferences(ctx, found.token, choices=[Choice("digital", "weekly")],
                                 paused_until=None, bulletins=False)
    subscribing.leave_all(ctx, found.token)
    subscribing.save_preferences(ctx, found.token, choices=[Choice("digital", "weekly")],
                                 paused_until=None, bulletins=False)
    assert subscribing.unsubscribe(ctx, found.token)
    assert subscribing.unsubscribe(ctx, found.token)  # again: harmless, and not recorded twice
    assert history(ctx) == [
        ("unsubscribed", subscribing.BY_LINK, THEMSELVES),
        ("resubscribed", "topics: digital; weekly", THEMSELVES),
        ("unsubscribed", "", THEMSELVES),
        ("resubscribed", "topics: digital; weekly", THEMSELVES),
        ("unsubscribed", "nothing left to receive", THEMSELVES),
        ("changed", "bulletins off", THEMSELVES),
        ("changed", "no topics", THEMSELVES),
        ("resumed", "pause ended", THEMSELVES),
        ("paused", "until 24 December 2026", THEMSELVES),
        ("changed", "topics: leadership; daily; bulletins on", THEMSELVES),
        ("confirmed", "topics: digital (weekly), leadership (daily)", THEMSELVES)]


def test_a_sign_up_left_with_nothing_is_ended_by_the_service(
        make_context: Callable[..., Context], tmp_path: Path) -> None:
    folder = tmp_path / "subscriptions"
    shutil.copytree(ROOT / "subscriptions", folder)
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(folder))
    pending = subscribing.request_signup(ctx, email=READER, choices=[Choice("digital", "weekly")],
                                         bulletins=False, client="192.0.2.1")
    (folder / "topics" / "digital.toml").unlink()  # withdrawn before they confirmed
    assert subscribing.confirm(ctx, subscribing.confirmation_token(ctx, pending))
    assert history(ctx) == [("unsubscribed", "nothing left to receive", SERVICE),
                            ("confirmed", "nothing", THEMSELVES)]


def no_bulletin_for_subscribers(folder: Path) -> None:
    """Give the only bulletin a fixed address as its audience instead of the subscribers."""
    path = folder / "bulletins" / "weekly.toml"
    path.write_text(path.read_text(encoding="utf-8")
                    .replace("subscribers = true", "subscribers = false")
                    .replace("addresses = []", 'addresses = ["team@trust.nhs.uk"]'),
                    encoding="utf-8")


@pytest.mark.parametrize("change", ["audience", "file removed"])
def test_a_sign_up_for_bulletins_none_goes_to_is_ended_by_the_service(
        make_context: Callable[..., Context], tmp_path: Path, change: str) -> None:
    # Confirming the bulletins alone after the last bulletin for subscribers went made an
    # active subscriber nothing was ever sent to, as withdrawn topics did before.
    folder = tmp_path / "subscriptions"
    shutil.copytree(ROOT / "subscriptions", folder)
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(folder))
    pending = subscribing.request_signup(ctx, email=READER, choices=[], bulletins=True,
                                         client="192.0.2.1")
    if change == "audience":
        no_bulletin_for_subscribers(folder)
    else:
        (folder / "bulletins" / "weekly.toml").unlink()
    found = subscribing.confirm(ctx, subscribing.confirmation_token(ctx, pending))
    assert found is not None and not found.active and found.bulletins
    assert history(ctx) == [("unsubscribed", "nothing left to receive", SERVICE),
                            ("confirmed", "bulletins only", THEMSELVES)]
    with orm_session(ctx) as session:  # no welcome to nothing
        assert list(session.scalars(select(OutboxMessage.kind))) == ["signup_confirm"]


def test_leaving_the_last_topic_with_no_bulletin_to_have_ends_it(
        make_context: Callable[..., Context], tmp_path: Path) -> None:
    folder = tmp_path / "subscriptions"
    shutil.copytree(ROOT / "subscriptions", folder)
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(folder))
    found, _ = roster.add(ctx, READER, [Choice("leadership", "daily")], bulletins=True,
                          librarian=LIBRARIAN)
    no_bulletin_for_subscribers(folder)
    after = subscribing.leave_topic(ctx, found.token, "leadership")
    assert not after.active and after.bulletins
    assert history(ctx)[0] == ("unsubscribed", "nothing left to receive", THEMSELVES)


def test_a_hard_bounce_is_the_services_and_recorded_once(make_context: Callable[..., Context],
                                                         smtp_server) -> None:
    controller, inbox = smtp_server
    ctx = make_context(AWARENESS_MAIL_BACKEND="smtp", AWARENESS_MAIL_SMTP_HOST="127.0.0.1",
                       AWARENESS_MAIL_SMTP_PORT=str(controller.port),
                       AWARENESS_WEB_BASE_URL="https://library.example.nhs.uk")
    roster.add(ctx, READER, [Choice("leadership", "daily")], librarian=LIBRARIAN)
    add_match(ctx, "Leadership framework published")
    inbox.refuse[READER] = "550 5.1.1 No such user"
    report = digests.send_digests(ctx)  # the welcome and the digest both bounce
    assert report.suspended == 2
    [(what, detail, by), added] = history(ctx)
    assert (what, by) == ("suspended", SERVICE) and "550 5.1.1 No such user" in detail
    assert added == ("added", "topics: leadership; daily", LIBRARIAN)


def test_a_change_and_its_line_are_one_transaction(make_context: Callable[..., Context],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    ctx = make_context()
    found, _ = roster.add(ctx, READER, [Choice("leadership", "daily")], librarian=LIBRARIAN)

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the history could not be written")

    monkeypatch.setattr(subscribers, "record_event", broken)
    with pytest.raises(RuntimeError):
        roster.suspend(ctx, found.id, "bounces", LIBRARIAN)
    assert people.subscriber(ctx, READER).suspended_reason is None


def test_nobody_acts_as_the_person_or_the_service(make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    found, _ = roster.add(ctx, READER, [Choice("leadership", "daily")], librarian=LIBRARIAN)
    for act in (lambda: roster.suspend(ctx, found.id, "bounces", "themselves"),
                lambda: roster.remove(ctx, found.id, "the service"),
                lambda: roster.set_topics(ctx, READER, [], True, librarian="Themselves")):
        with pytest.raises(AwarenessError, match="act under your own name"):
            act()
    assert people.subscriber(ctx, READER).active
    assert history(ctx) == [("added", "topics: leadership; daily", LIBRARIAN)]


def test_erasing_them_leaves_no_line_and_the_export_names_no_librarian(
        make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    found, _ = roster.add(ctx, READER, [Choice("leadership", "daily")], librarian=LIBRARIAN)
    roster.suspend(ctx, found.id, "Asked by their manager", LIBRARIAN)
    exported = people.export_subscriber(ctx, READER)
    assert LIBRARIAN not in repr(exported)
    assert exported["suspended_reason"] == "Asked by their manager"
    assert exported["history"] == [
        {"at": ctx.now().isoformat(), "what": "suspended", "detail": "Asked by their manager",
         "by": A_LIBRARIAN},
        {"at": ctx.now().isoformat(), "what": "added", "detail": "topics: leadership; daily",
         "by": A_LIBRARIAN}]
    roster.erase(ctx, found.id, LIBRARIAN)
    with orm_session(ctx) as session:
        assert session.scalar(select(func.count()).select_from(EventRow)) == 0


def test_only_a_librarian_s_unsubscribe_is_undone_and_only_for_a_day() -> None:
    at = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    assert undo_until(SubscriberEvent(1, UNSUBSCRIBED, "", "alice", at)) == at + timedelta(days=1)
    for own in (THEMSELVES, SERVICE):
        assert undo_until(SubscriberEvent(1, UNSUBSCRIBED, "", own, at)) is None
    assert undo_until(SubscriberEvent(1, SUSPENDED, "bounces", "alice", at)) is None
    assert undo_until(None) is None
