"""The staff journey clicked through in a real headless Chromium (Debian's ``chromium``):
catalogue → sign up → the confirmation mail at a real SMTP server → confirm → change topics →
unsubscribe from one → from all → download their data and erase it through the links mailed
to them → sign up again → a digest's unsubscribe link (issue 12).
Every page is checked with axe-core at 1280 and 390 px wide and must fit a phone without
sideways scrolling; a screenshot of each is kept when ``AWARENESS_TEST_SCREENSHOTS`` names a
folder.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from tests.test_bulletin_pages_browser import get_it_by_email
from tests.test_self_service import NEW, StaffSite, serving, stored, the_link
from tests.test_web import EMAIL
from tests.test_web_browser import Watched, browser, check_page, visitor_page

FIXTURE_TIERS = {"staff_site": "integration"}
WIDTHS = (1280, 390)
__all__ = ["browser"]  # the module-scoped fixture, shared


@pytest.fixture
def staff_site(make_context, smtp_server) -> Iterator[StaffSite]:
    with serving(make_context, smtp_server) as site:
        yield site


def check(page: Page, name: str) -> None:
    check_page(page, f"staff-{name}")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_staff_journey_in_a_browser(browser: Browser, staff_site: StaffSite,
                                        width: int) -> None:
    site = staff_site
    context = browser.new_context(viewport={"width": width, "height": 900})
    watched = Watched(context.new_page())
    page = watched.page

    page.goto(f"{site.url}/topics")
    check(page, "catalogue")
    page.get_by_label("Choose").first.check()  # the first topic by title: Digital
    page.get_by_role("button", name="Subscribe to the chosen topics").click()
    page.wait_for_url(f"{site.url}/subscribe?topic=digital")
    check(page, "subscribe")
    assert page.get_by_label("Digital", exact=False).first.is_checked()
    page.get_by_label("Your work e-mail address").fill("not-an-address")
    page.get_by_role("button", name="Subscribe", exact=True).click()
    page.wait_for_load_state()
    # The browser's own check stops a malformed address before it is sent.
    assert page.url.endswith("/subscribe?topic=digital")
    page.get_by_label("Your work e-mail address").fill("someone@gmail.com")
    page.get_by_role("button", name="Subscribe", exact=True).click()
    page.get_by_text("Use your work address").first.wait_for()
    check(page, "subscribe-refused")
    page.get_by_label("Your work e-mail address").fill(NEW)
    page.get_by_label("How often for Leadership").select_option("daily")
    page.get_by_label("Leadership", exact=False).first.check()
    page.get_by_role("button", name="Subscribe", exact=True).click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()
    check(page, "check-email")
    assert stored(site, NEW) is None

    confirm = the_link(site.deliver(), site, "/confirm/")
    page.goto(site.url + confirm)
    check(page, "confirm")
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text("your digests are confirmed").wait_for()
    check(page, "preferences")
    person = stored(site, NEW)
    assert person is not None and sorted(person.subscriptions) == [
        ("digital", "weekly"), ("leadership", "daily")]

    page.get_by_label("How often for Digital").select_option("daily")
    page.get_by_label("Pause until (optional)").fill("2026-12-24")
    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Saved.").wait_for()
    person = stored(site, NEW)
    assert person is not None and dict(person.subscriptions)["digital"] == "daily"
    assert person.paused_until is not None

    page.get_by_role("button", name="Unsubscribe from Leadership").click()
    page.get_by_text("Unsubscribed from Leadership").wait_for()
    person = stored(site, NEW)
    assert person is not None and person.subscriptions == (("digital", "daily"),)

    page.get_by_role("button", name="Unsubscribe from everything").click()
    page.get_by_text("You are unsubscribed from every digest").wait_for()
    check(page, "preferences-unsubscribed")
    person = stored(site, NEW)
    assert person is not None and not person.active

    page.goto(f"{site.url}/preferences")
    check(page, "ask-for-link")
    your_data(page, site, person.token)
    page.goto(f"{site.url}/confirm/1.{'0' * 32}")
    check(page, "link-expired")

    page.goto(f"{site.url}/subscribe?topic=leadership")
    page.get_by_label("Your work e-mail address").fill(NEW)
    page.get_by_role("button", name="Subscribe", exact=True).click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()
    page.goto(site.url + the_link(site.deliver(), site, "/confirm/"))
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text("your digests are confirmed").wait_for()
    person = stored(site, NEW)
    assert person is not None and person.active
    assert person.subscriptions == (("leadership", "weekly"),)

    # A digest's unsubscribe link: what would stop, by name; the button acts.
    page.goto(f"{site.url}/unsubscribe/{person.token}")
    check(page, "unsubscribe")
    page.get_by_text("Leadership (weekly digest)").wait_for()
    page.get_by_role("button", name="Unsubscribe").click()
    page.get_by_role("heading", name="You are unsubscribed").wait_for()
    check(page, "unsubscribed")
    assert not stored(site, NEW).active  # type: ignore[union-attr]
    page.get_by_role("link", name="choose your topics and sign up again").click()
    page.wait_for_url(f"{site.url}/topics")
    # The refused sign-up (400) and the dead link (404) are answered as such; nothing else.
    assert [p for p in watched.problems if "status of 400" not in p
            and "status of 404" not in p] == []
    context.close()


def your_data(page: Page, site: StaffSite, token: str) -> None:
    """From the preference page, have the link to download their data mailed, download it;
    then the link to erase it, and erase them; the used link then offers a new one."""
    page.goto(f"{site.url}/preferences/{token}")
    page.get_by_role("button", name="E-mail me a link to download my data").click()
    page.get_by_text("We have e-mailed a link to download your data to n…@trust.nhs.uk; "
                     "it works for an hour.").wait_for()
    check(page, "data-link-asked")
    page.goto(site.url + the_link(site.deliver(), site, "/your-data/"))
    check(page, "data-link-download")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download my data").click()
    assert download.value.suggested_filename == "my-digests.json"
    assert json.loads(Path(download.value.path()).read_text())["email"] == NEW

    page.goto(f"{site.url}/preferences/{token}")
    page.get_by_role("button", name="E-mail me a link to erase my data").click()
    page.get_by_text("We have e-mailed a link to erase your data").wait_for()
    erase = site.url + the_link(site.deliver(), site, "/your-data/")
    page.goto(erase)
    check(page, "data-link-erase")
    page.get_by_role("button", name="Erase everything").click()
    page.get_by_role("heading", name="Your data is erased").wait_for()
    check(page, "erased")
    assert stored(site, NEW) is None
    page.goto(erase)
    page.get_by_role("heading", name="This link has expired or is not valid").wait_for()
    check(page, "data-link-expired")


@pytest.mark.parametrize("width", WIDTHS)
def test_the_bulletins_alone_from_an_archive_in_a_browser(browser: Browser,
                                                          staff_site: StaffSite,
                                                          width: int) -> None:
    """A reader of the bulletin's archive follows "Get it by e-mail" and signs up for the
    bulletins alone, then adds a topic on the preference page."""
    site = staff_site
    context, watched = visitor_page(browser, width)
    page = watched.page
    get_it_by_email(page, f"{site.url}/bulletins/weekly")
    check(page, "subscribe-bulletins")
    page.get_by_text("Have it on its own, or as well as digests on the topics above.").wait_for()
    page.get_by_label("Your work e-mail address").fill(NEW)
    page.get_by_label("Send me the library's bulletins").uncheck()
    page.get_by_role("button", name="Subscribe", exact=True).click()
    page.get_by_text("Choose at least one topic, or the library's bulletins.").first.wait_for()
    check(page, "subscribe-nothing-refused")
    assert page.get_by_label("Your work e-mail address").input_value() == NEW
    page.get_by_label("Send me the library's bulletins").check()
    page.get_by_role("button", name="Subscribe", exact=True).click()
    page.get_by_role("heading", name="Check your e-mail").wait_for()

    page.goto(site.url + the_link(site.deliver(), site, "/confirm/"))
    page.get_by_role("heading", name="Confirm the library's bulletins").wait_for()
    check(page, "confirm-bulletins")
    page.get_by_role("button", name="Confirm").click()
    page.get_by_text("the library's bulletins are confirmed").wait_for()
    page.get_by_text("You get the library's bulletins only").wait_for()
    check(page, "preferences-bulletins-only")
    person = stored(site, NEW)
    assert person is not None and person.active and person.bulletins
    assert person.subscriptions == ()

    page.get_by_label("Digital", exact=False).first.check()
    page.get_by_role("button", name="Save my choices").click()
    page.get_by_text("Saved. Your next digest follows these choices.").wait_for()
    person = stored(site, NEW)
    assert person is not None and person.bulletins
    assert person.subscriptions == (("digital", "weekly"),)
    assert [p for p in watched.problems if "status of 400" not in p] == []
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_refused_sign_up_is_found_from_the_summary(browser: Browser, staff_site: StaffSite,
                                                     width: int) -> None:
    """GOV.UK's error summary: it has the focus when the refused form comes back, so a
    screen reader reads it first; each problem links to its field, which says it again, is
    described by it and is marked invalid."""
    site = staff_site
    context, watched = visitor_page(browser, width)
    page = watched.page
    page.goto(f"{site.url}/subscribe")
    page.get_by_label("Your work e-mail address").fill("someone@gmail.com")
    page.get_by_label("Send me the library's bulletins").check()  # the bulletins alone
    page.get_by_role("button", name="Subscribe", exact=True).click()
    summary = page.locator(".error-summary")
    summary.wait_for()
    check(page, "subscribe-refused-bulletins")
    assert summary.evaluate("box => box === document.activeElement")
    said = ("The library's bulletins can only be sent to addresses ending in @nhs.net or "
            "@nhs.uk. Use your work address.")
    field = page.get_by_label("Your work e-mail address")
    assert field.get_attribute("aria-invalid") == "true"
    described = (field.get_attribute("aria-describedby") or "").split()
    assert "email-error" in described
    assert page.locator("#email-error").text_content() == f"Error: {said}"

    page.keyboard.press("Tab")  # the summary's first link is the next stop
    link = summary.get_by_role("link", name=said)
    assert link.evaluate("a => a === document.activeElement")
    page.keyboard.press("Enter")
    assert field.evaluate("input => input === document.activeElement")

    # Neither a topic nor the bulletins, and a bad address: both are said, in the form's
    # order, each linked to its field.
    page.get_by_label("Send me the library's bulletins").uncheck()
    page.get_by_role("button", name="Subscribe", exact=True).click()
    page.get_by_text("The library's mail can only be sent to").first.wait_for()
    check(page, "subscribe-refused-twice")
    links = summary.get_by_role("link")
    assert [links.nth(n).get_attribute("href") for n in range(links.count())] == [
        "#email", "#topic-digital"]
    links.nth(1).click()
    assert page.locator("#topic-digital").evaluate("box => box === document.activeElement")
    topics = page.get_by_role("group", name="Topics, and how often you want each")
    assert topics.get_attribute("aria-describedby") == "topics-error"
    assert [p for p in watched.problems if "status of 400" not in p] == []
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_refused_change_of_preferences_is_found_from_the_summary(
        browser: Browser, staff_site: StaffSite, width: int) -> None:
    site = staff_site
    person = stored(site, EMAIL)
    assert person is not None
    context, watched = visitor_page(browser, width)
    page = watched.page
    page.goto(f"{site.url}/preferences/{person.token}")
    for box in page.get_by_role("checkbox", checked=True).all():
        box.uncheck()
    pause = page.get_by_label("Pause until (optional)")
    # More than a year away, sent as a browser that does not hold the field to its range.
    pause.evaluate("input => input.removeAttribute('max')")
    pause.fill("2029-01-04")
    page.get_by_role("button", name="Save my choices").click()
    summary = page.locator(".error-summary")
    summary.wait_for()
    check(page, "preferences-refused")
    assert summary.evaluate("box => box === document.activeElement")
    links = summary.get_by_role("link")
    assert [links.nth(n).get_attribute("href") for n in range(links.count())] == [
        "#topic-digital", "#paused_until"]
    assert pause.get_attribute("aria-invalid") == "true"
    links.nth(1).click()
    assert pause.evaluate("input => input === document.activeElement")
    assert [p for p in watched.problems if "status of 400" not in p] == []
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_what_staff_are_told_at_a_dead_end_in_a_browser(browser: Browser, make_context,
                                                        smtp_server, width: int) -> None:
    """A link opened again or broken, the answer to "E-mail me a link", and a limit, with
    the library's address to write to."""
    with serving(make_context, smtp_server,  # one request an hour: the link's, then none
                 AWARENESS_LIBRARY_CONTACT_EMAIL="library@trust.nhs.uk",
                 AWARENESS_SIGNUP_PER_CLIENT_PER_HOUR="1") as site:
        context, watched = visitor_page(browser, width)
        page = watched.page
        page.goto(f"{site.url}/confirm/1.{'0' * 32}")
        page.get_by_role("heading", name="This confirmation link has been used or has expired"
                         ).wait_for()
        check(page, "confirm-used")
        for path, name in [(f"/unsubscribe/{'x' * 43}", "unsubscribe-unknown"),
                           (f"/bulletins/stop/{'x' * 43}", "bulletin-stop-unknown")]:
            page.goto(site.url + path)
            page.get_by_role("link", name="library@trust.nhs.uk").wait_for()
            check(page, name)
        page.goto(f"{site.url}/preferences")
        page.get_by_label("Your e-mail address").fill(EMAIL)
        page.get_by_role("button", name="E-mail me a link").click()
        page.get_by_text("a message is on its way to that address").wait_for()
        check(page, "check-email-link")
        page.goto(f"{site.url}/subscribe?topic=leadership")
        page.get_by_label("Your work e-mail address").fill(NEW)
        page.get_by_role("button", name="Subscribe", exact=True).click()
        page.get_by_text("Try again in an hour.").wait_for()
        check(page, "subscribe-limited")
        assert page.locator(".error-summary").get_by_role(
            "link", name="library@trust.nhs.uk").is_visible()
        assert [p for p in watched.problems if "status of 404" not in p
                and "status of 429" not in p] == []
        context.close()
