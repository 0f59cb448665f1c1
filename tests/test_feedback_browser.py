"""The feedback pages in a real headless Chromium (issue 17): the links of a delivered
digest, opened at 1280 and 390 px, pass axe-core, fit a phone, and their one button
records the answer."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser

from awareness.feedback import USEFUL
from tests.conftest import Clock
from tests.test_feedback import answers, feedback_links, the_digest
from tests.test_self_service import StaffSite, serving
from tests.test_web_browser import Watched, browser, check_page

FIXTURE_TIERS = {"staff_site": "integration"}
__all__ = ["browser"]  # the module-scoped fixture, shared


@pytest.fixture
def staff_site(make_context, smtp_server) -> Iterator[StaffSite]:
    with serving(make_context, smtp_server) as site:
        yield site


@pytest.mark.parametrize("width", (1280, 390))
def test_feedback_pages_in_a_browser(browser: Browser, staff_site: StaffSite, clock: Clock,
                                     width: int) -> None:
    site = staff_site
    useful, _, more = feedback_links(the_digest(site, clock), site)
    context = browser.new_context(viewport={"width": width, "height": 900})
    watched = Watched(context.new_page())
    page = watched.page

    page.goto(site.url + useful)
    check_page(page, "feedback-useful")
    assert answers(site) == []
    page.get_by_label("Anything to add? (optional)").fill("Shared with the ward team.")
    page.get_by_role("button", name="Send my answer: Useful").click()
    page.get_by_role("heading", name="Thank you").wait_for()
    check_page(page, "feedback-thanks")
    [(_, _, answer, comment, _)] = answers(site)
    assert (answer, comment) == (USEFUL, "Shared with the ward team.")

    page.goto(site.url + more)
    check_page(page, "feedback-more")
    page.get_by_label("Your comments").fill("More on digital, please.")
    page.get_by_role("button", name="Send").click()
    page.get_by_role("heading", name="Thank you").wait_for()
    assert len(answers(site)) == 2

    assert watched.problems == []

    page.goto(site.url + "/feedback/not-a-token/useful")  # a 404, which the console reports
    check_page(page, "feedback-invalid")
    context.close()
