"""A bulletin as its readers see it, in a real headless Chromium (issue 13): the HTML part
received by a real SMTP server, at 600 px (a desktop mail client's reading pane) and 390 px
(a phone), in light and dark mode and with images off. axe-core finds nothing, nothing
scrolls sideways, and screenshots are kept for a person to look at when
``AWARENESS_TEST_SCREENSHOTS`` names a folder.
"""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from playwright.sync_api import Browser

from awareness.service import bulletins, outbox
from awareness.storage.models import DriverRecordRow
from tests.conftest import orm_writing
from tests.test_bulletins import add_item, bulletin_ctx, subscriptions
from tests.test_web_browser import browser, check_page

__all__ = ["browser", "bulletin_ctx", "subscriptions"]  # fixtures, shared
LONG_TITLE = ("Supporting-the-wellbeing-of-internationally-recruited-nurses-and-midwives: "
              "a framework for NHS trusts and integrated care boards")


def sent_issue_html(ctx, inbox, clock) -> str:
    now = ctx.now()
    with orm_writing(ctx) as session:
        session.add(DriverRecordRow(
            slug="nhs-long-term-workforce-plan", kind="driver",
            title="NHS Long Term Workforce Plan", source="NHS England",
            link="https://www.england.nhs.uk/ltwp/", created_at=now, updated_at=now,
            status="active",
            summary="The plan sets out how the NHS will train, retain and reform its workforce "
                    "over the next fifteen years.",
            impact="Library services support education and training, evidence for workforce "
                   "redesign and the retention of staff through knowledge mobilisation."))
    lead = add_item(ctx, "Leadership framework for NHS boards", score=3.0,
                    note="Appraisal season starts in January: board members will ask for it.")
    add_item(ctx, "Leadership framework for NHS boards", publisher="Care Quality Commission",
             story_of=lead)
    add_item(ctx, LONG_TITLE, score=2.0)
    add_item(ctx, "Virtual wards: operational guidance", topic="digital")
    bulletins.draft(ctx, "workforce")
    bulletins.set_intro(ctx, "workforce", 1, "Welcome to the first issue.\n\nThis week the "
                        "workforce plan, board leadership and virtual wards.", by="alice")
    bulletins.set_spotlight(ctx, "workforce", 1, "nhs-long-term-workforce-plan", by="alice")
    bulletins.approve(ctx, "workforce", 1, by="alice")
    clock.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    bulletins.tick(ctx)
    outbox.relay(ctx)
    data = next(d for _, rcpts, d in inbox.messages if rcpts == ["reader@trust.nhs.uk"])
    message = message_from_bytes(data, policy=policy.default)
    return message.get_body(("html",)).get_content()  # type: ignore[union-attr]


@pytest.mark.parametrize(("width", "scheme"), [(600, "light"), (390, "light"), (390, "dark")])
def test_the_bulletin_mail_reads_well_in_a_browser(browser: Browser, bulletin_ctx, clock,
                                                   width: int, scheme: str) -> None:
    ctx, inbox = bulletin_ctx
    html = sent_issue_html(ctx, inbox, clock)
    context = browser.new_context(viewport={"width": width, "height": 900},
                                  color_scheme=scheme)
    page = context.new_page()
    page.route("**/*", lambda route: route.abort())  # images off: nothing is fetched
    page.set_content(html)
    assert page.get_by_role("heading", name="Workforce bulletin").is_visible()
    assert page.get_by_text("Policy spotlight").is_visible()
    assert page.get_by_text("Also published by Care Quality Commission").is_visible()
    card = page.locator("table.card, table[bgcolor='#ffffff']").first
    assert card.bounding_box()["width"] <= 600
    if scheme == "dark":
        body = page.locator("body").evaluate("e => getComputedStyle(e).backgroundColor")
        assert body == "rgb(26, 26, 26)"  # the dark-mode rules survived inlining
    check_page(page, f"bulletin-mail-{scheme}")
    context.close()
