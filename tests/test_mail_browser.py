"""Every kind of mail the service writes, as its reader sees it in a real headless Chromium:
the HTML part of each kind of message in the outbox — a digest, the sign-up confirmation, the
welcome (both also for the bulletins alone), the sign-in link, the link to erase one's data and
the stewardship mail — at
600 px (a desktop mail client's reading pane) and 390 px (a phone), in light and dark mode,
with images off.
axe-core finds nothing and nothing scrolls sideways; screenshots are kept for a person to
look at when ``AWARENESS_TEST_SCREENSHOTS`` names a folder. (The bulletin has its own test:
``test_bulletin_mail_browser.py``; the broken-sources report to the web team is plain text.)
"""

from __future__ import annotations

from collections.abc import Callable
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from jinja2 import FileSystemLoader
from playwright.sync_api import Browser
from sqlalchemy import select

from awareness.digests.render import make_environment
from awareness.mail.account import CONFIRM, DATA_LINK, SIGN_IN, WELCOME
from awareness.mail.outbox import DIGEST, STEWARDSHIP
from awareness.service import digests, people, roster, subscribing
from awareness.service.context import Context
from awareness.service.stewardship import Steward, send_stewardship
from awareness.signup import Choice
from awareness.storage.models import OutboxMessage
from tests.conftest import Clock, orm_session
from tests.test_digest_render import parts
from tests.test_drivers_stewardship import seed as seed_records
from tests.test_mail_frame import account_mail, stewardship_mail
from tests.test_outbox import add_match
from tests.test_web_browser import browser, check_page

__all__ = ["browser"]  # fixture, shared
KINDS = {DIGEST, CONFIRM, WELCOME, SIGN_IN, DATA_LINK, STEWARDSHIP}
BULLETINS_ONLY = "bulletins.reader@trust.nhs.uk"
TEMPLATES = Path(__file__).parent.parent / "templates"
# 64 characters, the longest a local part may be, and nowhere a browser may break a line.
LONG_ADDRESS = "firstname.middlename.lastname.workforcedevelopment.team" + "0" * 9 + "@trust.nhs.uk"


def every_kind_of_mail(ctx: Context, clock: Clock) -> dict[str, str]:
    """The HTML part of one message of each kind, by kind, as the outbox holds them."""
    people.add_subscriber(ctx, "reader@trust.nhs.uk", ["leadership"], "daily")
    add_match(ctx, "Leadership framework for NHS boards published")
    digests.enqueue(ctx, digests.SendReport(), frequency=None, dry_run=False)
    subscribing.request_signup(ctx, email="new.starter@trust.nhs.uk", client="192.0.2.1",
                               choices=[Choice("leadership", "weekly")], bulletins=False)
    subscribing.request_link(ctx, email="reader@trust.nhs.uk", client="192.0.2.1")
    reader = people.subscriber(ctx, "reader@trust.nhs.uk")
    subscribing.request_data_link(ctx, reader.token, "erase", client="192.0.2.1")
    roster.add(ctx, "ward.manager@trust.nhs.uk", [Choice("digital", "weekly")], librarian="alice")
    # The confirmation and the welcome of the bulletins alone say so in their own words.
    subscribing.request_signup(ctx, email=BULLETINS_ONLY, client="192.0.2.1", choices=[],
                               bulletins=True)
    roster.add(ctx, BULLETINS_ONLY, [], bulletins=True, librarian="alice")
    seed_records(ctx, clock)
    send_stewardship(ctx)
    found: dict[str, str] = {}
    with orm_session(ctx) as session:
        for kind, to, raw in session.execute(
                select(OutboxMessage.kind, OutboxMessage.recipient, OutboxMessage.message)
                .order_by(OutboxMessage.id)):
            message = message_from_bytes(raw, policy=policy.default)
            body = message.get_body(("html",))
            assert body is not None, f"{kind} has no HTML part"
            name = f"{kind}-bulletins-only" if to == BULLETINS_ONLY else kind
            found.setdefault(name, body.get_content())  # type: ignore[attr-defined]
    return found


@pytest.mark.parametrize(("width", "scheme"), [(600, "light"), (390, "light"), (390, "dark")])
def test_every_mail_reads_well_in_a_browser(browser: Browser, make_context: Callable[..., Context],
                                            clock: Clock, width: int, scheme: str) -> None:
    ctx = make_context(AWARENESS_WEB_BASE_URL="https://library.example.nhs.uk",
                       AWARENESS_LIBRARY_CONTACT_EMAIL="library@trust.nhs.uk")
    mails = every_kind_of_mail(ctx, clock)
    assert set(mails) == KINDS | {f"{CONFIRM}-bulletins-only", f"{WELCOME}-bulletins-only"}
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  color_scheme=scheme)
    page = context.new_page()
    page.route("**/*", lambda route: route.abort())  # images off: nothing is fetched
    for kind, html in sorted(mails.items()):
        page.set_content(html)
        assert page.locator("body").inner_text().strip(), kind
        check_page(page, f"mail-{kind}-{scheme}")
    context.close()


def test_a_long_address_wraps_on_a_phone(browser: Browser) -> None:
    """Why: the account mails name the reader's address in bold, and an address with nowhere
    to break widened their column past a phone's screen (721 px at 390), until they were
    drawn on the frame every mail shares, whose column breaks long words."""
    env = make_environment(FileSystemLoader(TEMPLATES))
    context = browser.new_context(viewport={"width": 390, "height": 900})
    page = context.new_page()
    page.route("**/*", lambda route: route.abort())
    for kind in (CONFIRM, WELCOME, SIGN_IN, DATA_LINK):
        page.set_content(parts(account_mail(env, kind, to=LONG_ADDRESS))[1])
        assert LONG_ADDRESS in page.locator("body").inner_text(), kind
        check_page(page, f"mail-{kind}-long-address")
    context.close()


# What each reader of the weekly list can do on the site: mark records reviewed, tell an
# editor (a reviewer's login), or tell an editor and ask for a login (none).
STEWARDS = {
    "editor": Steward("alice.smith", "editor", ("alice.smith", "carol"), ("carol",)),
    "reviewer": Steward("alice.smith", "reviewer", ("carol",), ("carol",)),
    "no-login": Steward("", "", ("carol", "dev.patel@trust.nhs.uk"), ("carol",)),
}


@pytest.mark.parametrize("width", [600, 390])
def test_the_weekly_list_says_what_its_reader_can_do(browser: Browser, width: int) -> None:
    """Why: it told every member to press "Mark reviewed", a button that a reviewer's
    login and a member with no login never see."""
    env = make_environment(FileSystemLoader(TEMPLATES))
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    page.route("**/*", lambda route: route.abort())
    for name, steward in STEWARDS.items():
        page.set_content(parts(stewardship_mail(env, steward))[1])
        said = page.locator("body").inner_text()
        assert ("press “Mark reviewed”" in said) == (name == "editor"), name
        assert "The full list (librarians sign in)" in said
        check_page(page, f"mail-stewardship-{name}")
    context.close()
