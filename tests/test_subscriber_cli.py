"""``awareness subscribers`` (issue 12, item 6): ``add`` queues the welcome mail, ``set``
replaces someone's topics exactly, ``list`` shows each person's status and filters by it;
errors are one line naming what would be right."""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select

from awareness.cli import cli
from awareness.cli.base import person
from awareness.errors import AwarenessError, ConfigError, NotFound
from awareness.service import subscribing
from awareness.service.context import Context
from awareness.signup import Choice
from awareness.storage import subscribers
from awareness.storage.db import reading, writing
from awareness.storage.models import OutboxMessage, SubscriberEvent
from tests.conftest import ROOT, Clock, orm_session, settings_env

READER = "reader@trust.nhs.uk"


@pytest.fixture
def awareness(make_context: Callable[..., Context], tmp_path: Path,
              database_url: str) -> Callable[..., Result]:
    make_context()  # migrates the database the commands use
    env = {**settings_env(tmp_path, database_url), "COLUMNS": "200"}  # rows unwrapped

    def run(*args: str) -> Result:
        return CliRunner().invoke(cli, list(args), env=env)

    return run


def topics_of(ctx: Context, email: str) -> tuple[tuple[str, str], ...] | None:
    with reading(ctx.engine) as connection:
        found = subscribers.by_email(connection, email)
    return found.subscriptions if found else None


def test_add_subscribes_and_queues_the_welcome_mail(awareness: Callable[..., Result],
                                                    make_context: Callable[..., Context]
                                                    ) -> None:
    out = awareness("subscribers", "add", READER, "--topic", "leadership", "--frequency", "daily")
    assert out.exit_code == 0, out.output
    assert out.output == (f"subscribed {READER} to leadership (daily); welcome mail queued\n")
    ctx = make_context()
    assert topics_of(ctx, READER) == (("leadership", "daily"),)
    with orm_session(ctx) as session:
        assert session.execute(select(OutboxMessage.kind, OutboxMessage.recipient)).all() == [
            ("welcome", READER)]


def test_adding_what_they_have_already_sends_no_second_welcome(
        awareness: Callable[..., Result], make_context: Callable[..., Context]) -> None:
    awareness("subscribers", "add", READER, "--topic", "leadership")
    again = awareness("subscribers", "add", READER, "--topic", "leadership")
    assert again.exit_code == 0, again.output
    assert again.output == f"{READER} already gets leadership (weekly); nothing changed, no mail\n"
    more = awareness("subscribers", "add", READER, "--topic", "digital")
    assert more.output.endswith("welcome mail queued\n")  # told of the topic added for them
    with orm_session(make_context()) as session:
        assert session.execute(select(OutboxMessage.kind, OutboxMessage.recipient)).all() == [
            ("welcome", READER), ("welcome", READER)]


def test_erase_asks_first_and_only_about_someone_there(
        awareness: Callable[..., Result], make_context: Callable[..., Context],
        tmp_path: Path, database_url: str) -> None:
    env = {**settings_env(tmp_path, database_url), "COLUMNS": "200"}

    def erase(email: str, answer: str) -> Result:
        return CliRunner().invoke(cli, ["subscribers", "erase", email], env=env, input=answer)

    nobody = erase("nobody@trust.nhs.uk", "y\n")
    assert nobody.exit_code == 1 and "Erase" not in nobody.output  # said before any question
    assert str(nobody.exception) == (  # the address as typed: the librarian's own words
        "no subscriber nobody@trust.nhs.uk: check the address (`awareness subscribers list` "
        "shows every one)")
    awareness("subscribers", "add", READER, "--topic", "leadership")
    kept = erase(READER, "n\n")
    assert kept.exit_code == 1 and "Erase reader@trust.nhs.uk" in kept.output
    assert topics_of(make_context(), READER) is not None
    gone = erase(READER, "y\n")
    assert gone.exit_code == 0 and "erased the subscriber and 1 stored" in gone.output
    assert topics_of(make_context(), READER) is None


def test_changes_are_recorded_under_the_name_given_with_as(
        awareness: Callable[..., Result], make_context: Callable[..., Context],
        caplog: pytest.LogCaptureFixture) -> None:
    # The commands recorded nothing: who changed a subscriber from the command line was lost.
    assert awareness("subscribers", "add", READER, "--topic", "leadership",
                     "--as", "quentin").exit_code == 0
    assert awareness("subscribers", "set", READER, "--topic", "digital", "--frequency",
                     "daily", "--bulletins").exit_code == 0  # no --as: the user's own name
    assert awareness("subscribers", "remove", READER, "--as", " rita ").exit_code == 0
    listed = json.loads(awareness("subscribers", "history", READER, "--json").output)
    assert [(e["what"], e["detail"], e["by"]) for e in listed] == [
        ("unsubscribed", "", "rita"),
        ("changed", "topics: digital; daily; bulletins on", person(None)),
        ("added", "topics: leadership; weekly", "quentin")]
    assert all(datetime.fromisoformat(e["at"]).tzinfo is not None for e in listed)
    table = awareness("subscribers", "history", READER.upper()).output.splitlines()
    [header] = [line for line in table if "when" in line]
    assert re.findall(r"\w+", header) == ["when", "what", "detail", "by"]
    [added] = [line for line in table if "quentin" in line]  # the oldest line, last
    assert table.index(added) > table.index(header) + 3
    assert re.findall(r"[\w:;]+", added)[-5:] == [
        "Added", "topics:", "leadership;", "weekly", "quentin"]

    reader = subscribers_id(make_context(), READER)
    with caplog.at_level(logging.INFO, logger="awareness.service.roster"):
        gone = awareness("subscribers", "erase", READER, "--yes", "--as", "rita")
    assert gone.exit_code == 0, gone.output
    assert f"librarian rita erased subscriber {reader}" in caplog.messages
    with orm_session(make_context()) as session:  # nothing about them is left
        assert session.scalar(select(func.count()).select_from(SubscriberEvent)) == 0


def subscribers_id(ctx: Context, email: str) -> int:
    with reading(ctx.engine) as connection:
        found = subscribers.by_email(connection, email)
    assert found is not None
    return found.id


@pytest.mark.parametrize("args", [
    ("add", READER, "--topic", "digital"), ("set", READER, "--bulletins"), ("remove", READER),
    ("erase", READER, "--yes")])
def test_nobody_acts_as_the_subscriber_or_the_service(awareness: Callable[..., Result],
                                                      args: tuple[str, ...]) -> None:
    awareness("subscribers", "add", READER, "--topic", "leadership", "--as", "quentin")
    for name in ("themselves", "the service"):
        out = awareness("subscribers", *args, "--as", name)
        assert type(out.exception) is AwarenessError, out.output
        assert str(out.exception) == (
            f"{name!r} is how a subscriber's history names someone who is not a librarian: "
            "act under your own name (--as NAME)")
    listed = json.loads(awareness("subscribers", "history", READER, "--json").output)
    assert [(e["what"], e["by"]) for e in listed] == [("added", "quentin")]


def test_history_of_someone_unknown_or_with_nothing_recorded(
        awareness: Callable[..., Result], make_context: Callable[..., Context]) -> None:
    out = awareness("subscribers", "history", "nobody@trust.nhs.uk")
    assert type(out.exception) is NotFound
    assert str(out.exception).startswith("no subscriber nobody@trust.nhs.uk")
    with writing(make_context().engine) as connection:  # from before histories were kept
        subscribers.subscribe(connection, email=READER, choices=[("leadership", "daily")],
                              token="t" * 32, now=datetime.now(UTC))
    quiet = awareness("subscribers", "history", READER)
    assert quiet.exit_code == 0 and quiet.output == f"nothing recorded about {READER} yet\n"
    assert json.loads(awareness("subscribers", "history", READER, "--json").output) == []


def test_adding_an_address_outside_the_sign_up_domains_says_so(
        awareness: Callable[..., Result]) -> None:
    out = awareness("subscribers", "add", "locum@gmail.com", "--topic", "leadership")
    assert out.exit_code == 0, out.output  # the librarian vouches for them
    assert out.output.splitlines()[-1] == (
        "note: gmail.com is not one of the domains staff may sign up with ([signup] "
        "allowed_domains: nhs.net, nhs.uk)")
    assert "note:" not in awareness("subscribers", "add", READER, "--topic", "leadership").output


def test_set_replaces_topics_exactly(awareness: Callable[..., Result],
                                     make_context: Callable[..., Context]) -> None:
    awareness("subscribers", "add", READER, "--topic", "leadership", "--topic", "digital")
    out = awareness("subscribers", "set", READER, "--topic", "digital", "--frequency", "daily")
    assert out.exit_code == 0, out.output
    assert out.output == f"{READER} now gets digital (daily)\n"
    assert topics_of(make_context(), READER) == (("digital", "daily"),)
    out = awareness("subscribers", "set", READER.upper(), "--topic", "leadership",
                    "--topic", "digital", "--frequency", "weekly")
    assert out.exit_code == 0, out.output
    assert topics_of(make_context(), READER) == (("digital", "weekly"), ("leadership", "weekly"))


def test_set_keeps_an_unsubscribed_person_unsubscribed(awareness: Callable[..., Result],
                                                       make_context: Callable[..., Context]
                                                       ) -> None:
    awareness("subscribers", "add", READER, "--topic", "leadership")
    awareness("subscribers", "remove", READER)
    out = awareness("subscribers", "set", READER, "--topic", "digital", "--frequency", "daily")
    assert out.exit_code == 0 and "they are unsubscribed" in out.output
    listed = json.loads(awareness("subscribers", "list", "--json").output)
    assert [(p["email"], p["status"], p["topics"]) for p in listed] == [
        (READER, "unsubscribed", ["digital"])]


@pytest.mark.parametrize(("args", "error", "message"), [
    (("set", READER, "--topic", "nope", "--frequency", "daily"), ConfigError,
     "no topic 'nope' (known topics: digital, leadership)"),
    (("set", "nobody@trust.nhs.uk", "--topic", "digital", "--frequency", "daily"), NotFound,
     "no subscriber nobody@trust.nhs.uk: add them with `awareness subscribers add`"),
    (("add", "not-an-address", "--topic", "digital"), AwarenessError,
     "'not-an-address' is not an e-mail address: it needs exactly one '@'"),
    (("add", READER, "--topic", "nope"), ConfigError, "no topic 'nope' (known topics: "),
])
def test_errors_are_one_line(awareness: Callable[..., Result], args: tuple[str, ...],
                             error: type[Exception], message: str) -> None:
    # ``awareness.cli.main`` prints these as ``error: <message>`` (test_end_to_end.py).
    awareness("subscribers", "add", READER, "--topic", "leadership")
    out = awareness("subscribers", *args)
    assert type(out.exception) is error
    assert str(out.exception).startswith(message) and "\n" not in str(out.exception)



def test_set_needs_a_frequency_and_a_topic(awareness: Callable[..., Result]) -> None:
    assert awareness("subscribers", "set", READER, "--topic", "digital").exit_code == 2
    assert awareness("subscribers", "set", READER, "--frequency", "daily").exit_code == 2


def test_list_shows_status_and_filters_by_it(awareness: Callable[..., Result],
                                             make_context: Callable[..., Context],
                                             clock: Clock) -> None:
    clock.now = datetime.now(UTC)  # the commands read the real clock
    ctx = make_context()
    awareness("subscribers", "add", READER, "--topic", "leadership")
    awareness("subscribers", "add", "away@trust.nhs.uk", "--topic", "digital")
    subscribing.request_signup(ctx, email="asked@trust.nhs.uk", bulletins=False,
                               choices=[Choice("digital", "daily")], client="127.0.0.1")
    with writing(ctx.engine) as connection:
        away = subscribers.by_email(connection, "away@trust.nhs.uk")
        assert away is not None
        subscribers.set_preferences(connection, away.id, bulletins=False,
                                    paused_until=clock.now + timedelta(days=30))
    listed = json.loads(awareness("subscribers", "list", "--json").output)
    assert [(p["email"], p["status"]) for p in listed] == [
        ("asked@trust.nhs.uk", "pending"), ("away@trust.nhs.uk", "paused"),
        (READER, "active")]
    assert listed[2]["subscriptions"] == [
        {"topic": "leadership", "title": "Leadership", "frequency": "weekly"}]
    assert listed[2]["active"] is True and listed[2]["topics"] == ["leadership"]
    paused = awareness("subscribers", "list", "--status", "paused")
    assert paused.exit_code == 0, paused.output
    assert "away@trust.nhs.uk" in paused.output and READER not in paused.output
    assert "paused until" in paused.output
    pending = json.loads(awareness("subscribers", "list", "--status", "pending", "--json").output)
    assert [p["email"] for p in pending] == ["asked@trust.nhs.uk"]
    assert awareness("subscribers", "list", "--status", "gone").exit_code == 2


def test_add_and_set_the_bulletins_alone(awareness: Callable[..., Result],
                                         make_context: Callable[..., Context]) -> None:
    # `--topic` was required, so a librarian could not sign someone up for the bulletin alone.
    out = awareness("subscribers", "add", READER, "--bulletins")
    assert out.exit_code == 0, out.output
    assert out.output == f"subscribed {READER} to bulletins only; welcome mail queued\n"
    ctx = make_context()
    with reading(ctx.engine) as connection:
        found = subscribers.by_email(connection, READER)
    assert found is not None and found.active and found.bulletins and found.subscriptions == ()
    with orm_session(ctx) as session:
        assert session.execute(select(OutboxMessage.kind, OutboxMessage.recipient)).all() == [
            ("welcome", READER)]
    assert awareness("subscribers", "add", READER, "--bulletins").output == (
        f"{READER} already gets bulletins only; nothing changed, no mail\n")

    listed = json.loads(awareness("subscribers", "list", "--json").output)
    assert [(p["email"], p["status"], p["topics"], p["bulletins"]) for p in listed] == [
        (READER, "active", [], True)]
    assert "bulletins only" in awareness("subscribers", "list").output

    out = awareness("subscribers", "set", READER, "--topic", "digital", "--frequency", "daily")
    assert out.output == f"{READER} now gets digital (daily) + bulletins\n"  # kept, unnamed
    out = awareness("subscribers", "set", READER, "--bulletins")
    assert out.exit_code == 0, out.output
    assert out.output == f"{READER} now gets bulletins only\n"
    assert topics_of(make_context(), READER) == ()
    out = awareness("subscribers", "set", READER, "--topic", "leadership", "--frequency",
                    "weekly", "--no-bulletins")
    assert out.output == f"{READER} now gets leadership (weekly)\n"


@pytest.mark.parametrize("args", [
    ("add", READER), ("set", READER), ("set", READER, "--no-bulletins"),
    ("set", READER, "--frequency", "daily"),
])
def test_nothing_at_all_is_refused(awareness: Callable[..., Result],
                                   args: tuple[str, ...]) -> None:
    awareness("subscribers", "add", "someone@trust.nhs.uk", "--topic", "leadership")
    out = awareness("subscribers", *args)
    assert out.exit_code == 2 and "--bulletins" in out.output


def test_the_bulletins_alone_need_a_bulletin_for_subscribers(
        tmp_path: Path, database_url: str, make_context: Callable[..., Context]) -> None:
    make_context()
    subs = tmp_path / "no-bulletins"
    shutil.copytree(ROOT / "subscriptions", subs)
    shutil.rmtree(subs / "bulletins")
    env = settings_env(tmp_path, database_url, AWARENESS_PATHS_SUBSCRIPTIONS=str(subs))
    out = CliRunner().invoke(cli, ["subscribers", "add", READER, "--bulletins"], env=env)
    assert type(out.exception) is AwarenessError
    assert str(out.exception) == (
        "Choose at least one topic: the library sends no bulletin at the moment.")
