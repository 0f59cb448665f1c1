"""The review pages in a real headless Chromium (Debian's ``chromium``), driven by Playwright.

A browser is the only judge of what CSP blocks, whether hostile text runs, and whether the
page fits a phone. Chromium is a required test dependency: without it these tests fail.
Screenshots go to ``<system temp>/awareness-web-screenshots/`` for a person to look at.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, ConsoleMessage, Dialog, Page, sync_playwright
from sqlalchemy import select

from awareness.service.context import Context
from awareness.storage.models import Match, Review
from tests.conftest import orm_session
from tests.test_web import PASSWORD, Site, running_site

FIXTURE_TIERS = {"site": "integration"}  # tiers of this module's fixtures (conftest.py)

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SCREENSHOTS = Path(tempfile.gettempdir()) / "awareness-web-screenshots"
NHS_BLUE = "rgb(0, 94, 184)"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: install the Debian package `chromium` "
                    "(apt-get install chromium); the browser tests need a real browser")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS,
                                              headless=True)
        yield launched
        launched.close()


@pytest.fixture
def site(make_context: Callable[..., Context]) -> Iterator[Site]:
    with running_site(make_context) as running:
        yield running


class Watched:
    """A page whose CSP complaints, script dialogs and console errors are collected."""

    def __init__(self, page: Page):
        self.page = page
        self.problems: list[str] = []
        page.on("console", self._console)
        page.on("dialog", self._dialog)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.problems.append(message.text)

    def _dialog(self, dialog: Dialog) -> None:
        self.problems.append(f"script ran and opened a dialog: {dialog.message}")
        dialog.dismiss()


def check_page(page: Page, name: str) -> None:
    """axe-core finds nothing, the page fits the viewport, and a screenshot is kept as
    ``<name>-<width>.png`` for a person to look at."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    width = page.viewport_size["width"] if page.viewport_size else 0
    page.screenshot(path=str(SCREENSHOTS / f"{name}-{width}.png"), full_page=True)
    results = Axe().run(page)
    violations = [(v["id"], v["help"], [n["target"] for n in v["nodes"]][:3])
                  for v in results.response["violations"]]
    assert violations == [], f"{name} at {width} px: {violations}"
    scroll = page.evaluate("document.documentElement.scrollWidth")
    assert scroll <= width, f"{name} at {width} px scrolls sideways ({scroll} px)"


def sign_in(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/review")
    assert "/login?next=" in page.url
    page.get_by_label("Name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/review")


def test_approve_in_a_real_browser(browser: Browser, site: Site) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page())
    page = watched.page
    sign_in(page, site)
    good = page.locator(f"#match-{site.ids['good']}")
    assert good.is_visible()
    assert page.locator(f"#match-{site.ids['hostile']}").is_visible()
    header = page.locator(".site-header").evaluate("e => getComputedStyle(e).backgroundColor")
    assert header == NHS_BLUE  # the stylesheet loaded under the CSP

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "review-desktop.png"), full_page=True)
    good.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{site.url}/review")
    assert page.get_by_role("status").inner_text().startswith("Approved: NHS sets out")
    assert page.locator(f"#match-{site.ids['good']}").count() == 0
    assert site.status_of("good") == "approved"
    assert watched.problems == []
    context.close()


def test_review_page_fits_a_phone(browser: Browser, site: Site) -> None:
    context = browser.new_context(viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    watched = Watched(context.new_page())
    page = watched.page
    sign_in(page, site)
    page.locator(f"#match-{site.ids['hostile']}").scroll_into_view_if_needed()
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the review page scrolls sideways on a phone ({width}px wide)"
    for button in page.get_by_role("button", name="Approve").all():
        box = button.bounding_box()
        assert box is not None and box["height"] >= 44  # a thumb-sized tap target
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "review-phone.png"), full_page=True)
    for name in ("evil-record", "interim-nhs-people-plan"):
        page.goto(f"{site.url}/drivers/{name}")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390, name
    page.screenshot(path=str(SCREENSHOTS / "driver-phone.png"), full_page=True)
    assert watched.problems == []
    context.close()


def test_two_notes_by_their_labels(browser: Browser, site: Site) -> None:
    """Issue 12: a librarian finds both notes by their labels and each lands where it says."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    watched = Watched(context.new_page())
    page = watched.page
    sign_in(page, site)
    good = page.locator(f"#match-{site.ids['good']}")
    good.get_by_text("Add notes").click()
    good.get_by_label("Note for readers (appears in the digest)").fill("For board members.")
    good.get_by_label("Note for the review log (never sent)").fill("Checked with Sam.")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    good.screenshot(path=str(SCREENSHOTS / "review-two-notes.png"))
    good.get_by_role("button", name="Approve").click()
    page.wait_for_url(f"{site.url}/review")
    with orm_session(site.ctx) as session:
        assert session.get_one(Match, site.ids["good"]).reader_note == "For board members."
        assert session.scalars(select(Review.note)).all() == ["Checked with Sam."]
    assert watched.problems == []
    context.close()


def test_view_in_browser_keeps_the_mails_styles_and_fits_a_phone(browser: Browser,
                                                                 site: Site) -> None:
    from tests.test_digest_readers import queued_digest

    path, _ = queued_digest(site)
    context = browser.new_context(viewport={"width": 390, "height": 844},
                                  device_scale_factor=2, is_mobile=True, has_touch=True)
    watched = Watched(context.new_page())
    page = watched.page
    page.goto(site.url + path)
    background = page.locator("body").evaluate("e => getComputedStyle(e).backgroundColor")
    assert background == "rgb(240, 244, 245)"  # the inline styles apply under its own CSP
    assert page.get_by_role("link", name="Talent management guide for trusts").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "digest-view-phone.png"), full_page=True)
    assert watched.problems == []
    context.close()
