"""The librarians' subscriber list, pure (``awareness.roster``): statuses, what a search asks
for, which rows make a page when pending sign-ups come before subscribers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awareness.digests.subscribers import Subscriber
from awareness.errors import AwarenessError
from awareness.roster import (
    PAGE_SIZE,
    STATUSES,
    Search,
    page_of,
    search_from,
    status_of,
    subscriber_entry,
    waiting,
    window,
)
from awareness.signup import Choice, PendingSignup

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TITLES = {"leadership": "Leadership", "digital": "Digital health and AI"}


def person(n: int = 1, **changes: object) -> Subscriber:
    values: dict[str, object] = {
        "id": n, "email": f"p{n:03}@trust.nhs.uk", "frequency": "weekly", "token": f"t{n}",
        "created_at": NOW - timedelta(days=30), "unsubscribed_at": None,
        "suspended_reason": None, "topics": ("leadership",),
        "confirmed_at": NOW - timedelta(days=30),
        "subscriptions": (("leadership", "weekly"), ("digital", "daily")), **changes}
    return Subscriber(**values)  # type: ignore[arg-type]


def signup(email: str, minutes: int = 0, topic: str = "digital") -> PendingSignup:
    made = NOW - timedelta(minutes=minutes)
    return PendingSignup(minutes, email, (Choice(topic, "daily"),), False, made,
                         made + timedelta(days=7))


@pytest.mark.parametrize(("changes", "expected"), [
    ({}, "active"),
    ({"paused_until": NOW + timedelta(days=1)}, "paused"),
    ({"paused_until": NOW}, "active"),  # the pause ends at that moment
    ({"unsubscribed_at": NOW}, "unsubscribed"),
    ({"unsubscribed_at": NOW, "suspended_reason": "550 unknown"}, "suspended"),
    ({"unsubscribed_at": NOW, "paused_until": NOW + timedelta(days=1)}, "unsubscribed"),
    ({"confirmed_at": None}, "pending"),
])
def test_status_of(changes: dict[str, object], expected: str) -> None:
    assert status_of(person(**changes), NOW) == expected


@given(offset=st.integers(0, 500), size=st.integers(1, 100), first=st.integers(0, 300),
       second=st.integers(0, 300))
def test_a_window_is_the_slice_of_both_lists_shown_in_turn(offset: int, size: int, first: int,
                                                           second: int) -> None:
    both = [("first", n) for n in range(first)] + [("second", n) for n in range(second)]
    rows = window(offset, size, first)
    firsts = [("first", n) for n in range(first)][rows.first]
    seconds = [("second", n) for n in range(second)][
        rows.second_offset:rows.second_offset + rows.second_limit]
    assert firsts + seconds == both[offset:offset + size]
    assert 0 <= rows.second_limit <= size


def test_search_from_parameters() -> None:
    assert search_from({}, TITLES) == Search()
    assert search_from({"q": "  Jo.Bloggs@ ", "status": "paused", "topic": "digital",
                        "page": "3"}, TITLES) == Search("jo.bloggs@", "paused", "digital", 3)
    assert Search("jo", "paused", page=3).query(page="", format="json") == {
        "q": "jo", "status": "paused", "format": "json"}


@pytest.mark.parametrize(("params", "message"), [
    ({"status": "gone"}, "unknown status 'gone': use one of " + ", ".join(STATUSES)),
    ({"topic": "nope"}, "no topic 'nope' (known topics: leadership, digital)"),
    ({"page": "0"}, "page must be a whole number from 1, not '0'"),
    ({"page": "-1"}, "page must be a whole number"),
    ({"page": "2x"}, "page must be a whole number"),
])
def test_search_from_names_what_is_wrong(params: dict[str, str], message: str) -> None:
    with pytest.raises(AwarenessError, match="^" + message.replace("(", r"\(")
                       .replace(")", r"\)")):
        search_from(params, TITLES)


def test_waiting_lists_the_latest_sign_up_of_each_address() -> None:
    found = waiting([signup("b@trust.nhs.uk", 5), signup("a@trust.nhs.uk", 9),
                     signup("b@trust.nhs.uk", 1, "leadership")])
    assert [(p.email, p.id) for p in found] == [("a@trust.nhs.uk", 9), ("b@trust.nhs.uk", 1)]
    assert [p.email for p in waiting([signup("a@trust.nhs.uk"), signup("b@trust.nhs.uk",
                                                                        topic="leadership")],
                                     "leadership")] == ["b@trust.nhs.uk"]


def test_a_page_shows_titles_in_order_and_counts_pending_sign_ups() -> None:
    pending = [signup("new@trust.nhs.uk")]
    page = page_of(Search(), pending=pending, counts={"active": 2, "suspended": 1},
                   subscribers=[person(1), person(2, suspended_reason="bounced",
                                                  unsubscribed_at=NOW)],
                   last_digests={1: NOW}, now=NOW, titles=TITLES, bulletins_sent=True)
    assert page.total == 4 and page.pages == 1 and page.everyone == 4
    assert page.counts == {"pending": 1, "active": 2, "paused": 0, "suspended": 1,
                           "unsubscribed": 0}
    assert [(e.email, e.status) for e in page.entries] == [
        ("new@trust.nhs.uk", "pending"), ("p001@trust.nhs.uk", "active"),
        ("p002@trust.nhs.uk", "suspended")]
    assert [(c.title, c.frequency) for c in page.entries[1].topics] == [
        ("Digital health and AI", "daily"), ("Leadership", "weekly")]
    assert page.entries[1].last_digest == NOW and page.entries[2].last_digest is None
    only = page_of(Search(status="active"), pending=pending, counts={"active": 2},
                   subscribers=[], last_digests={}, now=NOW, titles=TITLES,
                   bulletins_sent=True)
    assert only.total == 2 and only.entries == []  # sign-ups are listed under pending only


@pytest.mark.parametrize(("changes", "bulletins_sent", "gets_nothing"), [
    ({"subscriptions": (), "bulletins": True}, False, True),
    ({"subscriptions": (), "bulletins": True, "paused_until": NOW + timedelta(days=3)}, False,
     True),
    ({"subscriptions": (), "bulletins": True}, True, False),
    ({"bulletins": True}, False, False),  # their topics' digests still go
    ({"subscriptions": (), "bulletins": True, "unsubscribed_at": NOW}, False, False),
])
def test_someone_with_the_bulletins_alone_gets_nothing_once_none_goes_to_subscribers(
        changes: dict[str, object], bulletins_sent: bool, gets_nothing: bool) -> None:
    # Listed as active, with "none: bulletins only", while nothing could be sent to them.
    entry = subscriber_entry(person(**changes), NOW, TITLES, bulletins_sent=bulletins_sent)
    assert entry.gets_nothing is gets_nothing
    assert entry.as_json()["gets_nothing"] is gets_nothing


def test_page_count() -> None:
    def pages(total: int) -> int:
        return page_of(Search(), pending=[], counts={"active": total}, subscribers=[],
                       last_digests={}, now=NOW, titles={}, bulletins_sent=True).pages
    assert [pages(n) for n in (0, 1, PAGE_SIZE, PAGE_SIZE + 1)] == [1, 1, 1, 2]
