"""The page header in a real headless Chromium, measured rather than photographed: its links'
boxes say whether a menu keeps one row, fits the screen and has targets a finger can press.

The librarians' menu took a second row at 1280 px once "Your password" joined it; the staff
menu's "My subscription" wrapped at 375 px. Screenshots of the header are kept for a person to
look at when ``AWARENESS_TEST_SCREENSHOTS`` names a folder (``keep_screenshot``).
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Locator, Page

from awareness.service import librarians
from tests.test_bulletin_pages import site, subscriptions
from tests.test_web import PASSWORD, Site
from tests.test_web_browser import browser, check_page, keep_screenshot, visitor_page

FIXTURE_TIERS = {"site": "integration"}
__all__ = ["browser", "site", "subscriptions"]  # fixtures, shared

# An administrator (the role with the most links) whose single sign-on name is an address.
LONG_NAME = "firstname.lastname-with-a-long-surname@nhs.net"
SMALLEST_TARGET = 24  # px each way (WCAG 2.2, 2.5.8 "Target size (minimum)")
SMALLEST_TEXT = 14  # px


def boxes(links: Locator) -> list[dict[str, Any]]:
    """Each visible link's or button's box, with its text and font size."""
    return links.evaluate_all("""els => els.filter(e => e.getClientRects().length).map(e => {
        const r = e.getBoundingClientRect();
        return {text: e.innerText.trim(), top: r.top, width: r.width,
                height: r.height, font: parseFloat(getComputedStyle(e).fontSize)};
    })""")


def tops(found: list[dict[str, Any]]) -> dict[int, list[str]]:
    """The links by the top of their box, to the pixel: one key is one row."""
    rows: dict[int, list[str]] = {}
    for box in found:
        rows.setdefault(round(box["top"]), []).append(box["text"])
    return rows


def assert_pressable_and_readable(found: list[dict[str, Any]], width: int) -> None:
    for box in found:
        assert box["width"] >= SMALLEST_TARGET and box["height"] >= SMALLEST_TARGET, (
            f"{box['text']!r} at {width} px is a {box['width']:.0f}×{box['height']:.0f} target")
        assert box["font"] >= SMALLEST_TEXT, f"{box['text']!r} at {width} px: {box['font']} px"


def signed_in_administrator(browser: Browser, site: Site, width: int) -> Page:
    librarians.add_librarian(site.ctx, LONG_NAME, PASSWORD, role="administrator")
    _, watched = visitor_page(browser, width)
    page = watched.page
    page.goto(f"{site.url}/login")
    page.get_by_label("Name").fill(LONG_NAME)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/review")
    page.goto(f"{site.url}/dashboard")
    return page


def test_the_librarians_menu_keeps_one_row_at_1280(browser: Browser, site: Site) -> None:
    page = signed_in_administrator(browser, site, 1280)
    header = page.locator(".site-header")
    keep_screenshot(header, "header-librarian-1280")
    menu = boxes(page.get_by_role("navigation", name="Main").get_by_role("link"))
    assert len(tops(menu)) == 1, f"the menu takes rows {tops(menu)}"
    assert [box["text"] for box in menu][-1] == "Librarians"  # every link an administrator has
    account = boxes(page.get_by_role("navigation", name="Your account").locator("a, button"))
    assert [box["text"] for box in account] == ["Your password", "Sign out"]
    assert len(tops(account)) == 1, f"the account links take rows {tops(account)}"
    brand = page.get_by_role("link", name="Library current awareness").bounding_box()
    assert brand is not None  # the account links beside the service's name, the menu below
    middle = account[0]["top"] + account[0]["height"] / 2
    assert brand["y"] < middle < brand["y"] + brand["height"] <= menu[0]["top"] + 1
    assert f"Signed in as {LONG_NAME} (administrator)" in header.inner_text()
    check_page(page, "dashboard-long-name")
    page.context.close()


@pytest.mark.parametrize("width", [390, 375])
def test_the_librarians_header_on_a_phone(browser: Browser, site: Site, width: int) -> None:
    """No sideways scrolling (a long sign-on name wraps), every link a target a finger can
    press, text no smaller than 14 px, the menu below the account links."""
    page = signed_in_administrator(browser, site, width)
    header = page.locator(".site-header")
    keep_screenshot(header, f"header-librarian-{width}")
    found = boxes(header.locator("a, button"))
    assert len(found) == 14  # the name, two account links, eleven in the menu
    assert_pressable_and_readable(found, width)
    who = header.locator(".who")
    assert float(who.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")) >= SMALLEST_TEXT
    assert LONG_NAME in who.inner_text()
    check_page(page, "dashboard-long-name")  # axe-core, and no sideways scrolling
    page.context.close()


@pytest.mark.parametrize("width", [1280, 390, 375, 360])
def test_the_staff_menu_keeps_one_row(browser: Browser, site: Site, width: int) -> None:
    """Sign-up, the preference centre and a bulletin's archive: "Topics", "My subscription"
    and "Policy documents" on one row down to 360 px, each 44 px tall."""
    context, watched = visitor_page(browser, width)
    page = watched.page
    for path in ("/subscribe", f"/preferences/{site.token}", "/bulletins/workforce"):
        page.goto(site.url + path)
        menu = boxes(page.get_by_role("navigation", name="Main").get_by_role("link"))
        assert [box["text"] for box in menu] == ["Topics", "My subscription",
                                                 "Policy documents"]
        assert len(tops(menu)) == 1, f"{path} at {width} px: rows {tops(menu)}"
        assert_pressable_and_readable(menu, width)
        assert min(box["height"] for box in menu) >= 44
    keep_screenshot(page.locator(".site-header"), f"header-staff-{width}")
    check_page(page, "bulletin-archive-header")
    assert watched.problems == []
    context.close()


def test_a_header_link_in_focus_is_dark_on_yellow(browser: Browser, site: Site) -> None:
    """The header's white text won over the focus style's: white on yellow, unreadable."""
    page = signed_in_administrator(browser, site, 1280)
    seen = []
    for _ in range(16):  # the skip link, the name, two account links, eleven in the menu
        page.keyboard.press("Tab")
        focused = page.evaluate("""() => { const e = document.activeElement;
            const style = getComputedStyle(e);
            return e.closest('.site-header') && [e.innerText.trim(), style.color,
                                                  style.backgroundColor]; }""")
        if focused:
            seen.append(focused)
    assert len(seen) == 14
    assert {(colour, background) for _, colour, background in seen} == {
        ("rgb(33, 43, 50)", "rgb(255, 235, 59)")}, seen
    page.context.close()
