"""The workbench pages' pure parts (issue 14): what an item or send search asks for, paging,
matches by week, masked outbox rows, and when the next digests go (UK time, bank holidays)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from awareness.errors import AwarenessError
from awareness.workbench import (
    PAGE_SIZE,
    ItemSearch,
    Sent,
    item_search_from,
    listed,
    next_digest_send,
    page_of,
    send_search_from,
    weekly_counts,
)

LONDON = ZoneInfo("Europe/London")
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # a Monday


def test_item_search_reads_every_parameter() -> None:
    search = item_search_from({"q": " leadership ", "source": "nhs", "topic": "digital",
                               "from": "2026-11-01", "to": "2026-11-30", "page": "3",
                               "spelling": "uk-us"}, ["nhs"], ["digital"])
    assert search == ItemSearch("leadership", "uk-us", "nhs", "digital", date(2026, 11, 1),
                                date(2026, 11, 30), 3)
    assert search.query(page="") == {"q": "leadership", "spelling": "uk-us", "source": "nhs",
                                     "topic": "digital", "from": "2026-11-01",
                                     "to": "2026-11-30"}
    assert item_search_from({}, [], []) == ItemSearch()


@pytest.mark.parametrize("params, says", [
    ({"source": "nope"}, "no source"), ({"topic": "nope"}, "no topic"),
    ({"from": "31/02/2027"}, "from must be a date"), ({"to": "2027-02-31"}, "to must be"),
    ({"from": "2026-11-02", "to": "2026-11-01"}, "before"), ({"page": "0"}, "page"),
    ({"to": "9999-12-31"}, "between"), ({"from": "0001-01-01"}, "between"),
    ({"page": "x"}, "page")])
def test_a_bad_item_search_says_what_is_wrong(params: dict[str, str], says: str) -> None:
    with pytest.raises(AwarenessError, match=says):
        item_search_from(params, [], [])


def test_the_window_is_whole_local_days() -> None:
    # 1 July is in British Summer Time: local midnight is 23:00 UTC the day before.
    start, end = ItemSearch(start=date(2026, 7, 1), end=date(2026, 7, 1)).window(LONDON)
    assert start == datetime(2026, 6, 30, 23, 0, tzinfo=UTC)
    assert end == datetime(2026, 7, 1, 23, 0, tzinfo=UTC)
    assert ItemSearch().window(LONDON) == (None, None)


def test_pages_of_fifty() -> None:
    rows = list(range(120))
    third = page_of(rows, 3)
    assert (list(third.rows), third.total, third.pages) == (list(range(100, 120)), 120, 3)
    assert page_of([], 1).pages == 1 and len(page_of(rows, 1).rows) == PAGE_SIZE


def test_weekly_counts_oldest_first() -> None:
    times = [NOW, NOW - timedelta(days=6), NOW - timedelta(days=7),
             NOW - timedelta(weeks=7, days=6), NOW - timedelta(weeks=8), NOW + timedelta(hours=1)]
    assert weekly_counts(times, NOW) == [1, 0, 0, 0, 0, 0, 1, 2]


def test_send_search_and_masking() -> None:
    assert send_search_from({"kind": "digest", "status": "failed"}, ["digest"]).query() == {
        "kind": "digest", "status": "failed"}
    for params in ({"kind": "x"}, {"status": "lost"}, {"page": "-1"}):
        with pytest.raises(AwarenessError):
            send_search_from(params, ["digest"])
    row = Sent(1, "digest", "1/weekly:2026-W48", "failed", "jo.bloggs@trust.nhs.uk", 5, NOW,
               None, None, "550 mailbox full", 1)
    shown = listed(row, lambda kind, key: f"{kind} {key} in words")
    assert shown.recipient == "j…@trust.nhs.uk"
    assert "jo.bloggs" not in str(shown.as_json())
    assert shown.as_json()["description"] == "digest 1/weekly:2026-W48 in words"
    assert shown.as_json()["key"] == "1/weekly:2026-W48"  # kept, for support


def schedule(frequency: str, now: datetime, *, skip: bool = False) -> datetime:
    return next_digest_send(frequency, now, LONDON, daily_time="07:00", weekly_day="mon",
                            weekly_time="07:30", skip_holidays=skip,
                            is_holiday=lambda day: day == date(2026, 12, 28))


def test_next_digest_sends_in_uk_time() -> None:
    assert schedule("daily", NOW) == datetime(2026, 11, 24, 7, 0, tzinfo=LONDON)
    assert schedule("daily", NOW.replace(hour=6)) == datetime(2026, 11, 23, 7, 0, tzinfo=LONDON)
    assert schedule("weekly", NOW) == datetime(2026, 11, 30, 7, 30, tzinfo=LONDON)
    summer = datetime(2026, 7, 6, 5, 0, tzinfo=UTC)  # 06:00 BST, a Monday
    assert schedule("weekly", summer) == datetime(2026, 7, 6, 7, 30, tzinfo=LONDON)


def test_next_digest_sends_skip_bank_holidays_when_asked() -> None:
    christmas = datetime(2026, 12, 27, 12, 0, tzinfo=UTC)  # Sunday; Monday 28th a holiday
    assert schedule("daily", christmas) == datetime(2026, 12, 28, 7, 0, tzinfo=LONDON)
    assert schedule("daily", christmas, skip=True) == datetime(2026, 12, 29, 7, 0,
                                                               tzinfo=LONDON)
    assert schedule("weekly", christmas, skip=True) == datetime(2026, 12, 29, 7, 30,
                                                                tzinfo=LONDON)
