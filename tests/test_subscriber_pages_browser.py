"""The librarians' subscriber pages clicked through in a real headless Chromium (issue 12,
item 6): the list, a status tab, a search, one subscriber, suspend and resume, erase's
question, adding someone. Every page is checked with axe-core at 1280 and 390 px wide, must
fit without sideways scrolling (the list becomes cards on a phone); a screenshot of each
is kept when ``AWARENESS_TEST_SCREENSHOTS`` names a folder.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from awareness.service import roster
from awareness.service.context import Context
from awareness.signup import Choice
from tests.conftest import ROOT
from tests.test_subscriber_history import no_bulletin_for_subscribers
from tests.test_subscriber_pages import ALONE, BOUNCED, PENDING, people, site, subscriber_id
from tests.test_web import EMAIL, Site, running_site
from tests.test_web_browser import browser, check_page, signed_in_page, visitor_page

FIXTURE_TIERS = {"site": "integration", "people": "integration"}
WIDTHS = (1280, 390)
LONG = "firstname.middlename.lastname-with-a-long-team-name@very-long-trust-name.nhs.uk"
__all__ = ["browser", "people", "site"]  # fixtures, shared


def check(page: Page, name: str) -> None:
    check_page(page, f"subscribers-{name}")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_subscriber_pages_in_a_browser(browser: Browser, people: Site, width: int) -> None:
    site = people
    roster.add(site.ctx, LONG, [Choice("leadership", "daily"), Choice("digital", "weekly")],
               librarian="alice")
    context, watched = signed_in_page(browser, site, width)
    page = watched.page

    page.get_by_role("link", name="Subscribers").click()
    page.wait_for_url(f"{site.url}/subscribers")
    check(page, "list")
    assert page.get_by_role("row").filter(has_text=PENDING).is_visible()
    assert "Suspended" in page.get_by_role("row").filter(has_text=BOUNCED).inner_text()

    page.get_by_role("link", name="Suspended 1").click()
    page.wait_for_url(f"{site.url}/subscribers?status=suspended")
    assert page.get_by_text("550 5.1.1 mailbox unknown").is_visible()
    check(page, "suspended")

    page.get_by_role("link", name="All 6").click()
    page.get_by_label("Address contains").fill("bloggs")
    page.get_by_label("Topic").select_option(label="Leadership")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(f"{site.url}/subscribers?q=bloggs&topic=leadership")
    check(page, "search")
    page.get_by_role("link", name=EMAIL).click()
    reader = subscriber_id(site, EMAIL)
    page.wait_for_url(f"{site.url}/subscribers/{reader}")
    check(page, "subscriber")

    page.get_by_label("Reason for suspending").fill("Left the trust in October")
    page.get_by_role("button", name="Suspend").click()
    page.get_by_text(f"Suspended {EMAIL}.").wait_for()
    check(page, "subscriber-suspended")
    page.get_by_role("button", name="Resume digests").click()
    page.get_by_text(f"Digests to {EMAIL} resumed.").wait_for()
    changes = page.locator("table:has(caption:text('newest first')) td[data-label=Change]")
    assert [" ".join(text.split()) for text in changes.all_inner_texts()] == [
        "Resumed suspension lifted", "Suspended Left the trust in October"]
    assert page.locator("td[data-label=By]").all_inner_texts() == ["alice", "alice"]
    check(page, "subscriber-history")

    page.get_by_role("link", name="Erase them").click()
    page.wait_for_url(f"{site.url}/subscribers/{reader}/erase")
    check(page, "erase")

    page.goto(f"{site.url}/subscribers/new")
    check(page, "new")
    page.get_by_label("Their e-mail address").fill("new.starter@trust.nhs.uk")
    page.get_by_role("button", name="Subscribe them").click()
    page.get_by_text("Choose at least one topic, or the library's bulletins.").first.wait_for()
    check(page, "new-refused")
    page.get_by_label("Leadership").select_option("daily")
    page.get_by_role("button", name="Subscribe them").click()
    page.get_by_text("a welcome mail with their preference link is on its way").wait_for()
    assert page.get_by_text("Leadership (daily)").is_visible()

    page.goto(f"{site.url}/subscribers?q=very-long")
    check(page, "long-address")
    # The refused form answers 400; nothing else goes wrong.
    assert [p for p in watched.problems if "status of 400" not in p] == []
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_someone_nothing_is_sent_to_in_a_browser(browser: Browser, tmp_path: Path,
                                                 make_context: Callable[..., Context],
                                                 width: int) -> None:
    # The bulletins alone, and no bulletin goes to subscribers now: the list, their page and
    # their own preference page say that nothing is sent.
    subs = tmp_path / "subs"
    shutil.copytree(ROOT / "subscriptions", subs)
    with running_site(make_context, AWARENESS_PATHS_SUBSCRIPTIONS=str(subs)) as site:
        found, _ = roster.add(site.ctx, ALONE, [], bulletins=True, librarian="alice")
        no_bulletin_for_subscribers(subs)
        context, watched = signed_in_page(browser, site, width)
        page = watched.page
        page.goto(f"{site.url}/subscribers")
        nothing = page.get_by_text("Nothing is sent: they chose").first
        assert nothing.is_visible()
        check(page, "nothing-sent")
        page.get_by_role("link", name=ALONE).click()
        page.wait_for_url(f"{site.url}/subscribers/{found.id}")
        assert nothing.is_visible()
        check(page, "subscriber-nothing-sent")
        context.close()
        context, watched = visitor_page(browser, width)
        watched.page.goto(f"{site.url}/preferences/{found.token}")
        assert watched.page.get_by_text("Nothing is sent to you").is_visible()
        check(watched.page, "preferences-nothing-sent")
        assert watched.problems == []
        context.close()
