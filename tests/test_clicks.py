"""Counted clicks (issue 17), off unless the library turns them on: a signed redirect that
goes only where it was signed to, one count per reader and item, and no count for mail
gateways (known user agents, or within seconds of delivery) or HEAD requests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from awareness.clicks import SALT, Click, click_url, is_counted, is_scanner, read_click
from awareness.service import people
from awareness.storage.models import ItemClick
from tests.conftest import Clock, orm_session
from tests.test_feedback import approved_item, the_digest
from tests.test_self_service import StaffSite, links_in, serving
from tests.test_web import EMAIL

FIXTURE_TIERS = {"staff_site": "integration", "counting_site": "integration"}
KEY = "a secret key for the tests, long enough"
BASE = "https://library.example.nhs.uk"
TARGET = "https://www.england.nhs.uk/a/"
FIREFOX = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


# --- pure ---------------------------------------------------------------------------------------

def test_a_counted_link_goes_only_where_it_was_signed() -> None:
    url = click_url(BASE, KEY, 42, 7, TARGET)
    token = url.removeprefix(f"{BASE}/click/")
    assert read_click(KEY, token) == Click(42, 7, TARGET)
    _, _, signature = token.rpartition(".")
    evil = URLSafeSerializer(KEY, salt=SALT).dumps(["c", 42, 7, "https://evil.example/"])
    assert read_click(KEY, evil.rpartition(".")[0] + "." + signature) is None
    assert read_click("another key", token) is None
    assert read_click(KEY, URLSafeSerializer(KEY, salt="awareness feedback v1").dumps(
        ["c", 42, 7, TARGET])) is None
    # Even a token we signed never sends anyone to a script or data URL.
    assert read_click(KEY, URLSafeSerializer(KEY, salt=SALT).dumps(
        ["c", 42, 7, "javascript:alert(1)"])) is None
    with pytest.raises(ValueError):
        click_url(BASE, KEY, 42, 7, "javascript:alert(1)")


def test_scanners_and_clicks_on_arrival_are_not_counted() -> None:
    for agent in ("", "Mozilla/5.0 (compatible; BingPreview/1.0b)", "python-httpx/0.28.1",
                  "Mimecast Link Scanner", "curl/8.5.0", "Microsoft Office/16.0",
                  "Mozilla/5.0 HeadlessChrome/120.0"):
        assert is_scanner(agent), agent
    assert not is_scanner(FIREFOX)
    later = T0 + timedelta(seconds=121)
    assert is_counted(user_agent=FIREFOX, delivered_at=T0, now=later, ignore_seconds=120)
    assert not is_counted(user_agent=FIREFOX, delivered_at=T0,
                          now=T0 + timedelta(seconds=120), ignore_seconds=120)
    assert not is_counted(user_agent="curl/8.5.0", delivered_at=T0, now=later,
                          ignore_seconds=120)
    assert is_counted(user_agent=FIREFOX, delivered_at=None, now=T0, ignore_seconds=120)


# --- over HTTP ----------------------------------------------------------------------------------

@pytest.fixture
def staff_site(make_context, smtp_server) -> Iterator[StaffSite]:
    with serving(make_context, smtp_server) as site:
        yield site


@pytest.fixture
def counting_site(make_context, smtp_server) -> Iterator[StaffSite]:
    with serving(make_context, smtp_server, AWARENESS_MAIL_TRACK_CLICKS="true") as site:
        yield site


def counted(site: StaffSite) -> list[tuple[int, int]]:
    with orm_session(site.ctx) as session:
        return [(r.subscriber_id, r.item_id) for r in session.execute(
            select(ItemClick.subscriber_id, ItemClick.item_id)).all()]


def test_off_by_default_links_go_straight_to_the_publisher(staff_site: StaffSite,
                                                           clock: Clock) -> None:
    digest = the_digest(staff_site, clock)
    assert TARGET in links_in(digest, "https://")
    assert not any("/click/" in link for link in links_in(digest, staff_site.url))


def test_a_reader_counts_once_per_item_and_scanners_not_at_all(counting_site: StaffSite,
                                                               clock: Clock) -> None:
    site = counting_site
    digest = the_digest(site, clock)
    assert TARGET not in links_in(digest, "https://")  # only the counted link
    [link] = {link for link in links_in(digest, site.url) if "/click/" in link}
    with httpx.Client(follow_redirects=False) as client:
        for agent in ("Mimecast Link Scanner", FIREFOX):  # a gateway, then Safe Links on arrival
            gone = client.get(link, headers={"user-agent": agent})
            assert (gone.status_code, gone.headers["location"]) == (302, TARGET)
        assert counted(site) == []
        clock.advance(minutes=10)
        assert client.head(link, headers={"user-agent": FIREFOX}).status_code == 302
        assert counted(site) == []  # a link checker's HEAD
        for _ in range(3):
            assert client.get(link, headers={"user-agent": FIREFOX}).status_code == 302
    assert counted(site) == [(1, approved_item(site))]
    people.erase_subscriber(site.ctx, EMAIL)
    assert counted(site) == []


def test_the_redirect_refuses_any_target_it_did_not_sign(counting_site: StaffSite,
                                                         clock: Clock) -> None:
    site = counting_site
    [link] = {link for link in links_in(the_digest(site, clock), site.url) if "/click/" in link}
    token = link.rsplit("/", 1)[1]
    signature = token.rpartition(".")[2]
    key = site.ctx.settings.secret_key()
    swapped = URLSafeSerializer(key, salt=SALT).dumps(
        ["c", 1, approved_item(site), "https://evil.example/"]).rpartition(".")[0]
    clock.advance(minutes=10)
    with httpx.Client(base_url=site.url, follow_redirects=False,
                      headers={"user-agent": FIREFOX}) as client:
        for bad in (f"{swapped}.{signature}", "x" * 40, "x" * 5000):
            answer = client.get(f"/click/{bad}")
            assert answer.status_code == 404 and "location" not in answer.headers, bad
        assert client.get("/click/", params={"url": "https://evil.example/"}
                          ).status_code == 404
        assert counted(site) == []
        # A target added to a good link is ignored: it still goes where it was signed to.
        answer = client.head(f"/click/{token}", params={"url": "https://evil.example/"})
        assert answer.headers["location"] == TARGET
