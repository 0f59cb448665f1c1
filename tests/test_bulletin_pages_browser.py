"""The bulletin pages clicked through in a real headless Chromium (issue 13): an editor signs
in, writes the introduction, moves an item up and one to another section (by keyboard),
removes one, writes why one matters, chooses the policy spotlight, adds an item found by its
title, previews, sends a test and approves; the issue is sent; then anyone reads the
archive, the issue's page (also as printed) and the feed, a correction shows on the page,
and a subscriber stops bulletins. Every page passes axe-core at 1280 and 390 px and fits
without sideways scrolling; a screenshot of each is kept for a person to look at when
``AWARENESS_TEST_SCREENSHOTS`` names a folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import feedparser
import pytest
from playwright.sync_api import Browser, Page

from awareness.service import bulletins, librarians, outbox
from awareness.service.context import Context
from awareness.storage.models import Match
from tests.conftest import orm_writing
from tests.test_bulletin_pages import PRIVATE, drafted, site, subscriptions
from tests.test_bulletins import add_item
from tests.test_web import Site, running_site
from tests.test_web_browser import (
    Watched,
    browser,
    check_page,
    keep_screenshot,
    signed_in_page,
    visitor_page,
)

FIXTURE_TIERS = {"site": "integration"}
WIDTHS = (1280, 390)
__all__ = ["browser", "site", "subscriptions"]  # fixtures, shared


def check(page: Page, name: str) -> None:
    check_page(page, f"bulletin-{name}")


def flash(page: Page, text: str) -> None:
    page.get_by_role("status").filter(has_text=text).wait_for()


def get_it_by_email(page: Page, url: str) -> None:
    """Open the bulletin page ``url`` and follow its "Get it by e-mail" to the sign-up."""
    page.goto(url)
    page.get_by_role("link", name="Get it by e-mail").click()
    page.wait_for_url(url.split("/bulletins/")[0] + "/subscribe?bulletins=yes")


def shoot_frames(page: Page, url: str, width: int) -> None:
    """Each preview frame on its own: a full-page shot leaves frames below the fold blank.
    (In a page of its own: after a shot of a sandboxed frame, Chromium ignored the next
    click on that page.)"""
    page.goto(url)
    for frame in ("mail-wide", "mail-phone"):
        keep_screenshot(page.locator(f"iframe.{frame}"), f"bulletin-preview-{frame}-{width}")
    page.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_editor_journey_then_the_archive(browser: Browser, site: Site, width: int) -> None:
    ctx = site.ctx
    with orm_writing(ctx) as session:  # hostile feed text in the issue too
        session.get_one(Match, site.ids["hostile"]).status = "approved"
    drafted(site)
    add_item(ctx, "Workforce plan refreshed for 2027", status="pending")
    librarians.set_email(ctx, "alice", "alice@library.nhs.uk")
    context, watched = signed_in_page(browser, site, width)
    page = watched.page

    page.get_by_role("link", name="Bulletins").click()
    page.wait_for_url(f"{site.url}/bulletins")
    check(page, "list")
    page.get_by_role("link", name="Edit issue 1").click()
    edit = f"{site.url}/bulletins/workforce/1/edit"
    page.wait_for_url(edit)
    check(page, "edit")

    page.get_by_label("Your introduction").fill("Boards and nurses this week.\n\nAnd wards.")
    page.get_by_role("button", name="Save introduction").click()
    flash(page, "Introduction saved.")
    nursing = page.locator(".entry").filter(has_text="Compassionate leadership in nursing")
    nursing.get_by_role("button", name="Move up").click()
    flash(page, "Moved up.")
    # To another section, by keyboard: choose it, then Tab to its button.
    lead = page.locator(".entry").filter(has_text="Leadership framework for NHS boards")
    move_to = lead.get_by_label("Move to section")
    move_to.focus()
    move_to.select_option("Digital")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    flash(page, "Moved to the end of Digital.")
    digital = page.locator("ol.entries").nth(1)
    assert digital.locator("h4").all_inner_texts() == [
        "Virtual wards guidance", "Leadership framework for NHS boards"]
    page.locator(".entry").filter(has_text="Virtual wards guidance").get_by_role(
        "button", name="Remove").click()
    flash(page, "Removed.")
    nursing = page.locator(".entry").filter(has_text="Compassionate leadership in nursing")
    nursing.get_by_label("Why it matters").fill("Nursing leads asked for this.")
    nursing.get_by_role("button", name="Save note").click()
    flash(page, "Why it matters: saved.")
    page.get_by_label("Driver record").select_option(label="Interim NHS People Plan")
    page.get_by_role("button", name="Save spotlight").click()
    flash(page, "Policy spotlight chosen.")

    page.get_by_label("Words from its title, or its address").fill("workforce plan")
    page.get_by_role("button", name="Find").click()
    page.wait_for_url(f"{edit}?find=workforce+plan#add")
    check(page, "edit-found")
    found = page.locator(".found-items li").filter(has_text="Workforce plan refreshed")
    found.get_by_label("Add to section").select_option("Leadership")
    found.get_by_role("button", name="Add").click()
    flash(page, "Added at the end of Leadership.")
    check(page, "edit-changed")

    page.get_by_role("link", name="Preview").click()
    page.wait_for_url(f"{site.url}/bulletins/workforce/1/preview")
    phone = page.frame_locator("iframe.mail-phone")
    phone.get_by_text("Nursing leads asked for this.").wait_for()
    assert phone.locator("p").filter(has_text="And wards.").count() == 1  # a paragraph of its own
    check(page, "preview")
    shoot_frames(context.new_page(), page.url, width)
    page.get_by_role("link", name="Back to the editor").click()
    page.wait_for_url(edit)

    assert page.get_by_label("Send a test to").input_value() == "alice@library.nhs.uk"
    page.get_by_role("button", name="Send a test to me").click()
    flash(page, "A test copy, marked [TEST], is on its way to alice@library.nhs.uk.")
    page.get_by_role("button", name="Approve", exact=True).click()
    flash(page, "Approved.")
    check(page, "edit-approved")
    # A change after approval makes it a draft again, and the notice says so.
    page.get_by_label("Your introduction").fill("Boards, nurses and wards this week.")
    page.get_by_role("button", name="Save introduction").click()
    flash(page, "The issue changed after alice approved it, so it is a draft again")
    check(page, "edit-changed-after-approval")
    page.get_by_role("button", name="Approve", exact=True).click()
    flash(page, "Approved.")

    assert bulletins.send_issue(ctx, "workforce", 1) == 2  # the reader, the directorate
    outbox.relay(ctx)

    reader = browser.new_context(viewport={"width": width, "height": 900})
    public = Watched(reader.new_page())
    page_ = public.page
    page_.goto(f"{site.url}/bulletins/workforce")
    check(page_, "archive")
    page_.get_by_role("link", name="Issue 1").click()
    page_.wait_for_url(f"{site.url}/bulletins/workforce/1")
    page_.get_by_text("Nursing leads asked for this.").wait_for()
    assert page_.get_by_role("heading", name="Interim NHS People Plan").is_visible()
    digital = page_.get_by_role("region", name="Digital")
    assert digital.get_by_role("heading", level=3).all_inner_texts() == [
        "Leadership framework for NHS boards"]
    check(page_, "issue")
    page_.emulate_media(media="print")
    assert not page_.locator(".site-header").is_visible()
    keep_screenshot(page_, f"bulletin-issue-print-{width}", full_page=True)
    page_.emulate_media(media="screen")
    response = reader.request.get(f"{site.url}/bulletins/workforce.atom")
    assert response.headers["content-type"] == "application/atom+xml"
    feed = feedparser.parse(response.body())
    assert [e.link for e in feed.entries] == [f"{site.url}/bulletins/workforce/1"]

    page.goto(edit)
    page.get_by_label("Correction note").fill("The framework link was wrong; it is fixed.")
    page.get_by_role("button", name="Save correction note").click()
    flash(page, "Correction note saved")
    check(page, "edit-sent")
    page_.reload()
    page_.get_by_text("The framework link was wrong; it is fixed.").wait_for()
    check(page_, "issue-corrected")

    page_.goto(f"{site.url}/bulletins/stop/{site.token}")
    check(page_, "stop")
    page_.get_by_role("button", name="Stop receiving bulletins").click()
    page_.get_by_text("digests continue").wait_for()
    check(page_, "stopped")
    assert watched.problems == [] and public.problems == []
    context.close()
    reader.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_from_an_issue_to_getting_the_bulletin_by_email(browser: Browser, site: Site,
                                                       width: int) -> None:
    """A reader of an issue follows "Get it by e-mail" to the sign-up form, the bulletins box
    ticked and each bulletin explained; the preference page explains them the same way."""
    drafted(site)
    bulletins.approve(site.ctx, "workforce", 1, by="alice")
    bulletins.send_issue(site.ctx, "workforce", 1)
    context, watched = visitor_page(browser, width)
    page = watched.page
    get_it_by_email(page, f"{site.url}/bulletins/workforce/1")
    assert page.get_by_label("Send me the library's bulletins").is_checked()
    choice = page.get_by_role("group", name="The library's bulletins")
    assert "Workforce bulletin – every Monday at 9am." in choice.inner_text()
    check(page, "signup-with-bulletins")
    page.goto(f"{site.url}/bulletins/workforce")
    page.get_by_role("link", name="Get it by e-mail").wait_for()
    page.goto(f"{site.url}/preferences/{site.token}")
    assert page.get_by_label("Send me the library's bulletins").is_checked()
    check(page, "preferences-with-bulletins")
    assert watched.problems == []
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_visitor_lists_the_public_bulletins(browser: Browser, site: Site, width: int) -> None:
    """The list of bulletins sent visitors to the librarians' sign-in."""
    drafted(site)
    bulletins.approve(site.ctx, "workforce", 1, by="alice")
    bulletins.send_issue(site.ctx, "workforce", 1)
    context, watched = visitor_page(browser, width)
    page = watched.page
    page.goto(f"{site.url}/bulletins")
    assert page.get_by_role("heading", level=2).all_inner_texts() == ["Workforce bulletin"]
    check(page, "list-public")
    page.get_by_role("link", name="Issue 1 of Workforce bulletin").click()
    page.wait_for_url(f"{site.url}/bulletins/workforce/1")
    assert watched.problems == []
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_visitor_reads_that_no_bulletin_is_public(browser: Browser, width: int,
                                                    make_context: Callable[..., Context],
                                                    subscriptions: Path) -> None:
    (subscriptions / "bulletins" / "board.toml").write_text(PRIVATE, encoding="utf-8")
    with running_site(make_context, AWARENESS_PATHS_SUBSCRIPTIONS=str(subscriptions)) as site:
        context, watched = visitor_page(browser, width)
        page = watched.page
        page.goto(f"{site.url}/bulletins")
        page.get_by_text("The library has no bulletin to read here.").wait_for()
        check(page, "list-none-public")
        assert watched.problems == []
        context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_preview_of_an_empty_issue_in_a_browser(browser: Browser, site: Site,
                                                    width: int) -> None:
    bulletins.draft(site.ctx, "workforce")  # nothing approved for it yet
    context, watched = signed_in_page(browser, site, width)
    page = watched.page
    page.goto(f"{site.url}/bulletins/workforce/1/preview")
    flash(page, "This issue has no items yet")
    check(page, "preview-empty")
    page.get_by_role("link", name="add some in the editor").click()
    page.wait_for_url(f"{site.url}/bulletins/workforce/1/edit")
    context.close()
    assert watched.problems == []


def test_typed_words_are_not_lost_to_another_forms_button(browser: Browser, site: Site) -> None:
    """The editor is many forms, each saved by its own button: pressing another's, or
    leaving the page, asks first while the introduction holds unsaved words; Cancel keeps
    them. Its own button, and any button once nothing is unsaved, asks nothing."""
    drafted(site)
    context, watched = signed_in_page(browser, site)
    page = watched.page
    edit = f"{site.url}/bulletins/workforce/1/edit"
    page.goto(edit)
    intro = page.get_by_label("Your introduction")
    intro.fill("Boards this week.")
    nursing = page.locator(".entry").filter(has_text="Compassionate leadership in nursing")
    with watched.dialogs_expected() as dialogs:
        nursing.get_by_role("button", name="Save note").click()
    assert dialogs == ["confirm: Not saved yet: the introduction.\n\n"
                       "Cancel to go back and save it; OK to carry on and lose it."]
    with watched.dialogs_expected() as dialogs:
        page.get_by_role("link", name="Preview").click()
    assert dialogs == ["beforeunload: "]
    assert page.url == edit and intro.input_value() == "Boards this week."
    assert bulletins.issue(site.ctx, "workforce", 1).intro == ""

    page.get_by_role("button", name="Save introduction").click()
    flash(page, "Introduction saved.")
    nursing.get_by_label("Why it matters").fill("Nursing leads asked for this.")
    nursing.get_by_role("button", name="Save note").click()
    flash(page, "Why it matters: saved.")
    issue = bulletins.issue(site.ctx, "workforce", 1)
    assert issue.intro == "Boards this week."
    assert [e.note for e in issue.entries if e.note] == ["Nursing leads asked for this."]
    assert watched.problems == []
    context.close()
