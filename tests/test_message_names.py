"""Each outbox message named as librarians name it (pure core): "Weekly digest, week
beginning 7 Dec 2026" rather than ``digest 2/weekly:2026-W50``. The keys are made and read
back in ``mail.outbox``; the property tests make keys with the functions the service queues
them with, so a key format changed on one side only fails here."""

from __future__ import annotations

import string
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awareness.dates import short_date
from awareness.digests.build import iso_week, period_key
from awareness.mail import account, outbox
from awareness.mail.outbox import (
    KIND_NAMES,
    Names,
    bulletin_key,
    describe,
    digest_key,
    driver_back_key,
    driver_changed_key,
    driver_gone_key,
    file_problem_key,
    kind_name,
    record_named,
    sources_report_key,
    stewardship_key,
)

LONDON = ZoneInfo("Europe/London")
TITLES = {"weekly": "Library weekly bulletin"}
RECORDS = {"people-plan": "Interim NHS People Plan"}
MONDAY = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
# Just after midnight in London on 1 June, still 31 May in UTC.
SUMMER_NIGHT = datetime(2026, 5, 31, 23, 30, tzinfo=UTC)


def named(kind: str, key: str) -> str:
    return describe(kind, key, Names(TITLES), LONDON)


@pytest.mark.parametrize(("kind", "key", "expected"), [
    (outbox.DIGEST, digest_key(2, period_key("weekly", MONDAY, LONDON)),
     "Weekly digest, week beginning 7 Dec 2026"),
    (outbox.DIGEST, digest_key(2, period_key("daily", MONDAY, LONDON)),
     "Daily digest, 7 Dec 2026"),
    (outbox.BULLETIN, bulletin_key("weekly", 1, "s1"), "Library weekly bulletin #1"),
    (outbox.BULLETIN, bulletin_key("staff-news", 12, "a0123456789abcdef"),
     "Bulletin staff-news #12"),  # its file removed since: the slug, not nothing
    (outbox.BULLETIN_TEST, bulletin_key("weekly", 3, "test-3f2a9c01b2d4"),
     "Test copy of Library weekly bulletin #3"),
    (outbox.BULLETIN_REMINDER, bulletin_key("weekly", 3, "alice/smith"),
     "Reminder to edit Library weekly bulletin #3"),
    (outbox.STEWARDSHIP, stewardship_key("FG", iso_week(date(2026, 12, 9))),
     "Driver record reminder, week beginning 7 Dec 2026"),
    (outbox.SOURCES_REPORT, sources_report_key(date(2026, 12, 7)),
     "Source health report, 7 Dec 2026"),
    (outbox.FILE_PROBLEM, file_problem_key(date(2026, 12, 7), "topics/x.toml:3: bad"),
     "Notice of a problem in a subscription file, 7 Dec 2026"),
    (outbox.DRIVER_CHANGED, driver_changed_key("map-site", "people-plan", "ab" * 32),
     "Driver record added or updated: people-plan"),
    (outbox.DRIVER_CHANGED, driver_gone_key("map-site", "people-plan", SUMMER_NIGHT),
     "Driver record gone from the MAP site: people-plan, 1 Jun 2026"),
    (outbox.DRIVER_CHANGED, driver_back_key("map-site", "people-plan", SUMMER_NIGHT),
     "Driver record back on the MAP site: people-plan"),
    (outbox.DRIVER_CHANGED, driver_back_key("map-site", "people-plan", None),
     "Driver record back on the MAP site: people-plan"),
    (account.CONFIRM, account.account_key(7, "7731233b2471322e"), "Sign-up confirmation"),
    (account.WELCOME, account.account_key(2, "7731233b2471322e"), "Welcome mail"),
    (account.SIGN_IN, account.account_key(2, "7731233b2471322e"),
     "Link to manage a subscription"),
    (account.DATA_LINK, outbox.data_link_key(2, "download", MONDAY),
     "Link to download their data"),
    (account.DATA_LINK, outbox.data_link_key(2, "erase", MONDAY), "Link to erase their data"),
])
def test_each_message_is_named_in_words(kind: str, key: str, expected: str) -> None:
    assert named(kind, key) == expected


@pytest.mark.parametrize(("key", "expected"), [
    (driver_changed_key("map-site", "people-plan", "ab" * 32),
     "Driver record added or updated: Interim NHS People Plan"),
    (driver_gone_key("map-site", "people-plan", SUMMER_NIGHT),
     "Driver record gone from the MAP site: Interim NHS People Plan, 1 Jun 2026"),
    (driver_back_key("map-site", "people-plan", None),
     "Driver record back on the MAP site: Interim NHS People Plan"),
    (driver_back_key("map-site", "gone-for-good", None),  # no such record now: its slug
     "Driver record back on the MAP site: gone-for-good"),
])
def test_a_driver_record_notice_names_the_record_by_its_title(key: str, expected: str) -> None:
    # The slug ("people-plan") named the record, which a librarian knows by its title; the
    # slug stays in the key shown beneath.
    assert record_named(outbox.DRIVER_CHANGED, key) == key.split("/")[1]
    assert describe(outbox.DRIVER_CHANGED, key, Names(TITLES, RECORDS), LONDON) == expected


def test_only_a_driver_record_notice_names_a_record() -> None:
    assert record_named(outbox.BULLETIN, bulletin_key("weekly", 1, "s1")) is None
    assert record_named(outbox.DRIVER_CHANGED, "map-site") is None
    assert record_named(outbox.DRIVER_CHANGED, "map-site//gone/20261207T070000") is None


@pytest.mark.parametrize(("kind", "key"), [
    (outbox.DIGEST, "nonsense"), (outbox.DIGEST, "2/monthly:2026-12"),
    (outbox.DIGEST, "x/weekly:2026-W50"), (outbox.DIGEST, "2/weekly:2026-W54"),
    (outbox.DIGEST, "２/daily:2026-12-07"),  # a full-width digit is no subscriber id
    (outbox.BULLETIN, "weekly"), (outbox.BULLETIN, "weekly/one/s1"),
    (outbox.BULLETIN_TEST, "weekly/3"), (outbox.STEWARDSHIP, "2026-W50"),
    (outbox.STEWARDSHIP, "FG/2026-50"), (outbox.SOURCES_REPORT, "yesterday"),
    (outbox.FILE_PROBLEM, "today/3f2a"), (outbox.DRIVER_CHANGED, "map-site/people-plan"),
    (outbox.DRIVER_CHANGED, "map-site/people-plan/gone/last-week"),
    (outbox.DRIVER_CHANGED, "map-site/people-plan/moved/20261207T070000"),
    (account.DATA_LINK, "2/download"), (account.DATA_LINK, "2/export/20261207T0700"),
    (account.DATA_LINK, "x/erase/20261207T0700"), (account.DATA_LINK, "2/erase/today"),
])
def test_a_key_it_cannot_read_gives_the_kinds_name(kind: str, key: str) -> None:
    assert named(kind, key) == KIND_NAMES[kind].one


def test_a_kind_it_does_not_know_reads_as_words() -> None:
    assert named("carrier_pigeon", "1/2") == "Carrier pigeon"
    assert kind_name("carrier_pigeon") == "Carrier pigeon"
    assert kind_name(outbox.DIGEST) == "Topic digests"
    assert kind_name(outbox.DIGEST, many=False) == "Topic digest"


def test_every_kind_is_named_and_only_the_account_mails_need_no_key() -> None:
    kinds = {outbox.DIGEST, outbox.STEWARDSHIP, outbox.SOURCES_REPORT, outbox.BULLETIN,
             outbox.BULLETIN_TEST, outbox.BULLETIN_REMINDER, outbox.DRIVER_CHANGED,
             outbox.FILE_PROBLEM, *account.TEMPLATES}
    assert set(KIND_NAMES) == kinds
    # A kind whose key says more than the kind (a period, an issue, what a data link does)
    # is read for it.
    assert set(outbox._DESCRIBERS) == kinds - set(account.TEMPLATES) | {account.DATA_LINK}


def test_a_data_link_is_keyed_by_the_ten_minutes_it_was_asked_in() -> None:
    # Asked twice over (a reload, a double click), it is one mail; ten minutes on, another.
    key = outbox.data_link_key(2, "download", MONDAY)
    assert key == "2/download/20261207T0700"
    assert outbox.data_link_key(2, "download", MONDAY + timedelta(minutes=9, seconds=59)) \
        == key
    assert outbox.data_link_key(2, "download", MONDAY + timedelta(minutes=10)) != key
    assert outbox.data_link_key(2, "download", MONDAY.astimezone(LONDON)) == key


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1),
                    timezones=st.just(UTC)),
       st.integers(min_value=1, max_value=2**31 - 1))
def test_every_digest_key_reads_back(now: datetime, subscriber: int) -> None:
    day = now.astimezone(LONDON).date()
    monday = day - timedelta(days=day.weekday())
    assert named(outbox.DIGEST, digest_key(subscriber, period_key("daily", now, LONDON))) \
        == f"Daily digest, {short_date(day)}"
    assert named(outbox.DIGEST, digest_key(subscriber, period_key("weekly", now, LONDON))) \
        == f"Weekly digest, week beginning {short_date(monday)}"


@given(st.dates(min_value=date(2000, 1, 3), max_value=date(2100, 1, 1)), st.text(max_size=80))
def test_every_key_of_a_day_or_week_reads_back(day: date, problem: str) -> None:
    monday = day - timedelta(days=day.weekday())
    assert named(outbox.STEWARDSHIP, stewardship_key("FG", iso_week(day))) \
        == f"Driver record reminder, week beginning {short_date(monday)}"
    assert named(outbox.SOURCES_REPORT, sources_report_key(day)) \
        == f"Source health report, {short_date(day)}"
    assert named(outbox.FILE_PROBLEM, file_problem_key(day, problem)).endswith(short_date(day))


SLUG = st.from_regex(r"[a-z0-9]+(-[a-z0-9]+)*", fullmatch=True)


@given(SLUG, st.integers(min_value=1, max_value=10_000),
       st.text(string.printable, min_size=1, max_size=40))
def test_every_bulletin_key_reads_back(slug: str, number: int, recipient: str) -> None:
    key = bulletin_key(slug, number, recipient)
    assert named(outbox.BULLETIN, key) == f"{TITLES.get(slug, f'Bulletin {slug}')} #{number}"
    assert named(outbox.BULLETIN_REMINDER, key).startswith("Reminder to edit ")


@given(SLUG, SLUG, st.datetimes(min_value=datetime(2000, 1, 1), timezones=st.just(UTC)),
       st.text(string.hexdigits, min_size=16, max_size=64))
def test_every_driver_notice_key_reads_back(source: str, record: str, at: datetime,
                                           page_hash: str) -> None:
    assert named(outbox.DRIVER_CHANGED, driver_changed_key(source, record, page_hash)) \
        == f"Driver record added or updated: {record}"
    assert named(outbox.DRIVER_CHANGED, driver_gone_key(source, record, at)) \
        == f"Driver record gone from the MAP site: {record}, {short_date(at.astimezone(LONDON))}"
    assert named(outbox.DRIVER_CHANGED, driver_back_key(source, record, at)) \
        == f"Driver record back on the MAP site: {record}"
