"""Single sign-on clicked through in Debian's Chromium: the login page's "Sign in with …"
button, the identity provider's page (a real OpenID provider on 127.0.0.1, another origin),
and back. The round trip through httpx (test_sso.py) cannot see what a browser refuses: the
button posts a form whose answer redirects to the provider, and Chromium holds that redirect
to the page's Content-Security-Policy ``form-action``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Locator, Page

from awareness.service import librarians
from tests.test_sso import sso_site
from tests.test_web import PASSWORD, Site
from tests.test_web_browser import Watched, browser, check_page, signed_in_page, visitor_page

FIXTURE_TIERS = {"sso_site": "integration"}
pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")
__all__ = ["browser", "sso_site"]  # fixtures, shared


def at_the_provider(page: Page, issuer: str, sub: str) -> Locator:
    """From the login page's "Sign in with …" button to the provider's page, the user
    ``sub`` chosen there; the button that sends them back."""
    page.get_by_role("button", name="Sign in with NHSmail").click()
    page.wait_for_url(f"{issuer}/oauth2/authorize*")  # (its page fetches from the internet)
    page.locator("input[name=sub]").fill(sub)
    return page.locator("form button, form input[type=submit]").first


@pytest.mark.parametrize("width", (1280, 390))
def test_signing_in_with_the_identity_provider_in_a_browser(
        browser: Browser, sso_site: tuple[Site, str], width: int) -> None:
    site, issuer = sso_site
    assert urlsplit(issuer).port != urlsplit(site.url).port  # another origin, as in life
    context = browser.new_context(viewport={"width": width, "height": 900})
    watched = Watched(context.new_page())
    page = watched.page
    page.goto(f"{site.url}/review")  # where the editor was going
    page.wait_for_url(f"{site.url}/login?next=*")
    check_page(page, "sso-login")
    assert watched.problems == []
    at_the_provider(page, issuer, "ed").click()
    page.wait_for_url(f"{site.url}/review*")
    watched.problems.clear()
    page.reload()
    assert page.get_by_text("ed.itor@nhs.net").first.is_visible()
    assert watched.problems == []
    context.close()


@pytest.mark.parametrize("width", (1280, 390))
def test_the_one_who_left_is_shown_why_in_a_browser(
        browser: Browser, sso_site: tuple[Site, str], width: int) -> None:
    # Their name went to someone new: the page says their account was closed, and promises
    # no way back to it; the administrators' history says who tried.
    site, issuer = sso_site
    librarians.sign_in_from_sso(site.ctx, "ed.itor@nhs.net", "editor", "", f"{issuer} ed")
    librarians.remove(site.ctx, "ed.itor@nhs.net", by="alice")
    librarians.add_librarian(site.ctx, "ed.itor@nhs.net", PASSWORD, role="editor", by="alice")
    context, watched = visitor_page(browser, width)
    page = watched.page
    page.goto(f"{site.url}/login")
    with page.expect_navigation(url=lambda url: url.startswith(site.url)):
        at_the_provider(page, issuer, "ed").click()
    assert urlsplit(page.url).path == "/auth/oidc/callback"  # not signed in and sent on
    assert page.get_by_text("an administrator closed your account on this service").is_visible()
    check_page(page, "sso-closed")
    context.close()

    context, watched = signed_in_page(browser, site, width)
    page = watched.page
    page.goto(f"{site.url}/librarians")
    assert page.get_by_text("Sign-in refused: the name's former holder").is_visible()
    check_page(page, "librarians-barred")
    assert watched.problems == []
    context.close()
