"""The pages of roles and single sign-on in a real headless Chromium: the login page with its
"Sign in with …" button, the administrators' librarians and settings pages, and a librarian
changing their own password, each checked
with axe-core at 1280 and 390 px (``check_page``) and saved as screenshots to look at."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select

from awareness.service import librarians
from awareness.service.context import Context
from awareness.storage.models import DriverRecordRow
from tests.conftest import orm_writing
from tests.test_web import PASSWORD, Site, running_site
from tests.test_web_browser import browser, check_page, visitor_page

FIXTURE_TIERS = {"site": "integration"}
__all__ = ["browser"]  # a fixture, shared


@pytest.fixture
def site(make_context: Callable[..., Context]) -> Iterator[Site]:
    # The provider is never contacted: these pages only name it.
    with running_site(make_context, AWARENESS_SSO_ISSUER="https://login.example.org/tenant/v2.0",
                      AWARENESS_SSO_CLIENT_ID="awareness", AWARENESS_SSO_NAME="NHSmail",
                      AWARENESS_WEB_SECRET_KEY="never-shown-on-the-settings-page"
                      ) as running:
        librarians.add_librarian(running.ctx, "rita", PASSWORD, role="reviewer", by="alice")
        yield running


def _sign_in_with_a_password(page: Page, site: Site, name: str) -> None:
    """From the login page, with the password form beside the single sign-on button."""
    page.get_by_label("Name").fill(name)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_url(f"{site.url}/review")


@pytest.mark.parametrize("width", [1280, 390])
def test_login_with_sso_and_the_administrators_pages(browser: Browser, site: Site,
                                                     width: int) -> None:
    context, watched = visitor_page(browser, width)
    page = watched.page
    page.goto(f"{site.url}/login")
    assert page.get_by_role("button", name="Sign in with NHSmail").is_visible()
    check_page(page, "login-sso")
    _sign_in_with_a_password(page, site, "alice")
    page.get_by_role("link", name="Librarians").click()
    page.wait_for_url(f"{site.url}/librarians")
    page.get_by_label("Role of rita").select_option("editor")
    page.get_by_role("button", name="Change the role of rita").click()
    page.get_by_text("rita is now an editor.").wait_for()
    check_page(page, "librarians")
    page.get_by_role("link", name="Settings in force").click()
    page.wait_for_url(f"{site.url}/settings")
    assert "never-shown-on-the-settings-page" not in page.content()
    check_page(page, "settings")
    assert watched.problems == []
    context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_a_librarian_changes_their_own_password(browser: Browser, site: Site,
                                                width: int) -> None:
    context, watched = visitor_page(browser, width)
    page = watched.page
    page.goto(f"{site.url}/login")
    _sign_in_with_a_password(page, site, "rita")
    page.get_by_role("link", name="Your password").click()  # next to "Sign out", any role
    page.wait_for_url(f"{site.url}/account/password")
    check_page(page, "account-password")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("New password again").fill("a brand new passphrase?")
    page.get_by_role("button", name="Change your password").click()
    page.get_by_role("link", name="The new password was typed differently").wait_for()
    assert watched.problems == ["Failed to load resource: the server responded with a status "
                                "of 400 (Bad Request)"]  # the refusal's status, as meant
    watched.problems.clear()
    assert page.get_by_label("New password again").get_attribute("aria-invalid") == "true"
    assert page.get_by_label("Current password").input_value() == ""  # nothing kept
    check_page(page, "account-password-problem")
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill("a brand new passphrase")
    page.get_by_label("New password again").fill("a brand new passphrase")
    page.get_by_role("button", name="Change your password").click()
    page.wait_for_url(f"{site.url}/dashboard")
    assert page.get_by_text("Your password is changed; you were signed out everywhere "
                            "else.").is_visible()
    assert watched.problems == []
    context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_a_reviewer_reads_who_can_mark_a_record_reviewed(browser: Browser, site: Site,
                                                         width: int) -> None:
    """A reviewer read "…then mark it reviewed" with no button and no word why."""
    with orm_writing(site.ctx) as session:
        row = session.scalars(select(DriverRecordRow).where(
            DriverRecordRow.slug == "interim-nhs-people-plan")).one()
        row.member, row.review_due_on = "FG", date(2026, 1, 1)
    context, watched = visitor_page(browser, width)
    page = watched.page
    page.goto(f"{site.url}/login")
    _sign_in_with_a_password(page, site, "rita")
    page.goto(f"{site.url}/drivers/interim-nhs-people-plan")
    box = page.locator("#needs-attention")
    assert box.get_by_role("button").count() == 0
    assert box.locator("#who-edits").inner_text().startswith(
        "Only editors and administrators can edit a record or mark it reviewed: alice, bob.")
    check_page(page, "driver-reviewer")
    page.goto(f"{site.url}/drivers/attention")
    assert page.locator("#who-edits").is_visible()
    check_page(page, "drivers-attention-reviewer")
    assert watched.problems == []
    context.close()
