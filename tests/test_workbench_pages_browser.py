"""The librarians' workbench pages clicked through in a real headless Chromium (issue 14,
item 1): the dashboard, items and one item, sources with "test now" and pause, topics, sends
with retry and the next-digest preview. Every page is checked with axe-core at 1280 and
390 px wide and must fit without sideways scrolling; a screenshot of each is kept when
``AWARENESS_TEST_SCREENSHOTS`` names a folder.
"""

from __future__ import annotations

from datetime import date

import pytest
from playwright.sync_api import Browser, Locator, Page

from awareness.errors import QuerySyntaxError
from awareness.mail.account import TEMPLATES, account_key
from awareness.mail.outbox import (
    BULLETIN,
    BULLETIN_REMINDER,
    BULLETIN_TEST,
    DRIVER_CHANGED,
    FILE_PROBLEM,
    SOURCES_REPORT,
    STEWARDSHIP,
    bulletin_key,
    driver_gone_key,
    file_problem_key,
    sources_report_key,
    stewardship_key,
)
from awareness.storage.models import OutboxMessage
from awareness.subscriptions import parse_topic
from awareness.topics.query import parse_query
from tests.conftest import orm_session
from tests.test_web import EMAIL, WHEN, Site
from tests.test_web_browser import browser, check_page, signed_in_page
from tests.test_workbench_pages import (
    LONG_BROKEN_QUERY,
    add_a_board_appointment,
    bench,
    break_a_topics_query,
    site,
)

FIXTURE_TIERS = {"site": "integration", "bench": "integration"}
WIDTHS = (1280, 390)
__all__ = ["bench", "browser", "site"]  # fixtures, shared


def check(page: Page, name: str) -> None:
    check_page(page, f"workbench-{name}")


def queue_one_of_every_kind(site: Site) -> None:
    """A pending message of each kind, as its key is made, beside the bench's digests."""
    with orm_session(site.ctx) as session, session.begin():
        for kind, key in (
                (BULLETIN, bulletin_key("weekly", 1, "s1")),
                (BULLETIN_TEST, bulletin_key("weekly", 1, "test-3f2a9c01b2d4")),
                (BULLETIN_REMINDER, bulletin_key("weekly", 2, "alice")),
                (STEWARDSHIP, stewardship_key("FG", "2026-W48")),
                (SOURCES_REPORT, sources_report_key(date(2026, 11, 26))),
                (DRIVER_CHANGED, driver_gone_key("map", "interim-nhs-people-plan", WHEN)),
                (FILE_PROBLEM, file_problem_key(date(2026, 11, 26), "topics/x.toml:1: bad")),
                *((kind, account_key(1, kind)) for kind in TEMPLATES)):
            session.add(OutboxMessage(
                kind=kind, key=key, sender="library@trust.nhs.uk", recipient=EMAIL,
                message_id=f"<{kind}@x>", message=b"x", status="pending", attempts=0,
                created_at=WHEN))


@pytest.mark.parametrize("width", WIDTHS)
def test_the_workbench_in_a_browser(browser: Browser, bench: Site, width: int) -> None:
    site = bench
    context, watched = signed_in_page(browser, site, width)
    page = watched.page

    page.get_by_role("link", name="Dashboard").click()
    page.wait_for_url(f"{site.url}/dashboard")
    assert page.get_by_role("link", name="Leadership").is_visible()
    check(page, "dashboard")

    page.get_by_role("link", name="Items", exact=True).click()
    page.wait_for_url(f"{site.url}/items")
    check(page, "items")
    page.get_by_label("Search words").fill("compassionate AND leadership")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url("**/items?q=*")
    check(page, "items-search")
    page.get_by_role("link", name="NHS sets out compassionate leadership programme").click()
    page.wait_for_url("**/items/*")
    assert page.get_by_role("link", name="Interim NHS People Plan").is_visible()
    check(page, "item")
    # A status is never broken inside its word: "Approv ed" was the matches table squeezing
    # its column beside long driver titles at 1280 px (the feed-text rule lets words break).
    assert set(page.locator(".status").evaluate_all(
        "all => all.map(e => getComputedStyle(e).whiteSpace)")) == {"nowrap"}
    page.goto(f"{site.url}/items?q=leadership+AND+(")
    check(page, "items-bad-search")

    page.goto(f"{site.url}/sources")
    check(page, "sources")
    page.get_by_role("button", name="Test now Loopback news").click()
    page.get_by_text("Workforce plan refreshed").wait_for()
    check(page, "source-test")
    page.goto(f"{site.url}/sources")
    page.get_by_role("button", name="Pause Loopback news").click()
    page.get_by_text("Paused loopback").wait_for()
    check(page, "sources-paused")
    page.get_by_role("button", name="Resume Loopback news").click()
    page.get_by_text("Resumed loopback").wait_for()

    page.get_by_role("link", name="Topics", exact=True).click()
    page.wait_for_url(f"{site.url}/topics/manage")
    check(page, "topics")

    queue_one_of_every_kind(site)
    page.get_by_role("link", name="Sends", exact=True).click()
    page.wait_for_url(f"{site.url}/sends")
    # Every kind's name, the longest ("Sign-up confirmations") among them, fits a phone.
    assert page.get_by_role("rowheader", name="Sign-up confirmations").is_visible()
    # ... and so does every status's column: its box would scroll, hiding "Failed" half-way.
    assert page.locator(".table-scroll").evaluate("box => box.scrollWidth <= box.clientWidth")
    check(page, "sends")
    page.get_by_role("button", name="Retry").click()
    page.get_by_text("is queued again").wait_for()
    check(page, "sends-retried")
    page.get_by_role("link", name="What will someone get next?").click()
    page.get_by_label("Their e-mail address").fill(EMAIL)
    page.get_by_role("button", name="Show").click()
    page.get_by_text("Already approved item").wait_for()
    check(page, "sends-next")
    page.get_by_role("link", name="Dashboard").click()  # every kind waits, by its name
    page.get_by_role("link", name="Bulletin copies to readers, pending").wait_for()
    check(page, "dashboard-unsent")
    # The bad search answers 400; nothing else goes wrong.
    assert [p for p in watched.problems if "status of 400" not in p] == []
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_trying_one_topic_then_another_then_a_draft(browser: Browser, bench: Site,
                                                     width: int) -> None:
    # Choosing Leadership, then Digital health and AI, tried Leadership twice: the box kept
    # Leadership's strategy and the text won over the topic chosen.
    site = bench
    context, watched = signed_in_page(browser, site, width)
    page = watched.page
    page.goto(f"{site.url}/topics/try")
    check(page, "try")
    results = page.locator("#tried")
    page.get_by_label("Topic", exact=True).select_option(label="Leadership")
    page.get_by_role("button", name="Try this topic").click()
    results.get_by_text("The saved topic Leadership:").wait_for()
    assert page.get_by_role("textbox", name="Strategy").input_value().strip().startswith("leader*")
    check(page, "try-leadership")
    page.get_by_label("Topic", exact=True).select_option(label="Digital health and AI")
    page.get_by_role("button", name="Try this topic").click()
    results.get_by_text("The saved topic Digital health and AI:").wait_for()
    titles = page.locator(".match-title").all_inner_texts()
    assert titles == ["Digital item, no review"]
    page.get_by_role("textbox", name="Strategy").fill("compassionate AND \"sets out\"")
    page.get_by_role("button", name="Try this draft").click()
    results.get_by_text("Your draft:").wait_for()
    assert page.locator(".match-title").all_inner_texts() == [
        "NHS sets out compassionate leadership programme"]
    assert page.get_by_label("Topic", exact=True).input_value() == ""
    check(page, "try-draft")
    # The draft started from Digital health and AI's strategy: it cannot replace it while
    # it loses what that topic's test set must find, and the page says which.
    page.get_by_role("button", name="Download digital.toml with this strategy").click()
    page.get_by_text("It cannot replace Digital health and AI yet").wait_for()
    assert "expected a match for" in page.locator("#update-problems").inner_text()
    check(page, "try-update-refused")
    assert watched.problems == [  # the refusal's own status, which the browser notes
        "Failed to load resource: the server responded with a status of 400 (Bad Request)"]
    watched.problems.clear()
    # Make the draft a topic: the file to download, its test set the match ticked.
    page.get_by_role("button", name="Download the topic file").click()  # the browser asks
    assert page.evaluate("document.querySelector('#name').validity.valueMissing")
    page.get_by_label("Name", exact=True).fill("Compassionate leadership")
    page.get_by_label("What it covers").fill("Compassionate leadership in the NHS.")
    page.get_by_label("NHS sets out compassionate leadership programme").check()
    check(page, "try-make-a-topic")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the topic file").click()
    assert download.value.suggested_filename == "compassionate-leadership.toml"
    with open(download.value.path(), encoding="utf-8") as file:
        topic = parse_topic(file.read(), "compassionate-leadership.toml",
                            "compassionate-leadership")
    assert topic.query.ast == parse_query('compassionate AND "sets out"').ast
    assert [e.title for e in topic.examples] == [
        "NHS sets out compassionate leadership programme"]
    assert watched.problems == []
    context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_why_it_matched_wraps(browser: Browser, bench: Site, width: int) -> None:
    # An explanation's preformatted lines (a feed's unbroken words among them) widened the
    # page to some 7,000 px and the headings slid off the screen. Each result's reasons are
    # now a list of the strategy's parts that found it, under the strategy shown once.
    site = bench
    add_a_board_appointment(site)
    context, watched = signed_in_page(browser, site, width)
    page = watched.page
    page.goto(f"{site.url}/topics/try?topic=leadership")
    reasons = page.get_by_role("list", name="Why it matched")
    assert reasons.count() == 4
    assert reasons.first.get_by_text("leader*").is_visible()
    assert page.locator(".strategy").count() == 1
    check(page, "try-why-it-matched")
    assert watched.problems == []
    context.close()


# Where the marked character is, as the browser lays the problem out: the character (and its
# column in the query's line), how many lines that query line takes, whether the mark comes
# straight after the character before it (same line, touching) or starts a line of its own,
# whether it lies inside the box, and whether it is on a later line than the query's start.
MARK_IN_PLACE = """pre => {
  const mark = pre.querySelector("mark.at-fault"), before = mark.previousSibling;
  const lineStart = before.data.lastIndexOf("\\n") + 1;
  const box = range => range.getBoundingClientRect();
  const span = (node, from, to) => {
    const range = document.createRange();
    range.setStart(node, from);
    range.setEnd(node, to);
    return range;
  };
  const whole = span(before, lineStart, before.data.length);
  whole.setEndAfter(mark.nextSibling || mark);
  const tops = new Set([...whole.getClientRects()].map(r => Math.round(r.top)));
  const prev = box(span(before, before.data.length - 1, before.data.length));
  const at = mark.getBoundingClientRect(), frame = pre.getBoundingClientRect();
  const left = frame.left + parseFloat(getComputedStyle(pre).paddingLeft);
  return {character: mark.textContent, column: before.data.length - lineStart + 1,
          lines: tops.size,
          follows: Math.abs(prev.top - at.top) < 1 && Math.abs(at.left - prev.right) < 2,
          startsLine: at.top > prev.top && Math.abs(at.left - left) < 2,
          inside: at.left >= frame.left && at.right <= frame.right,
          laterLine: at.top > Math.min(...[...whole.getClientRects()].map(r => r.top)) + 1};
}"""


def assert_marked_in_place(pre: Locator, query: str, indent: int, width: int) -> None:
    """The problem shown in ``pre`` marks the character of ``query`` its error points at,
    where that character is laid out, and no caret line is left."""
    with pytest.raises(QuerySyntaxError) as caught:
        parse_query(query)
    column = caught.value.column
    found = pre.evaluate(MARK_IN_PLACE)
    assert (found["character"], found["column"]) == (query[column - 1], indent + column), found
    assert found["inside"] and (found["follows"] or found["startsLine"]), found
    if width == 390:  # the case a caret line got wrong: the query wraps before its error
        assert found["lines"] > 1 and found["laterLine"], found
    assert "^" not in pre.inner_text()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_query_error_marks_the_character_at_fault_at_any_width(browser: Browser, bench: Site,
                                                                  width: int) -> None:
    # The banner on every librarian page, and the try page's error, put a caret on the line
    # under the query; at 390 px the query's line wrapped and the caret sat under some other
    # character. The character itself is marked now.
    site = bench
    break_a_topics_query(site, LONG_BROKEN_QUERY)
    context, watched = signed_in_page(browser, site, width)
    page = watched.page
    page.goto(f"{site.url}/dashboard")
    assert_marked_in_place(page.locator(".error-summary pre.file-problem"), LONG_BROKEN_QUERY,
                           4, width)
    check(page, "file-problem")
    page.goto(f"{site.url}/topics/try")
    page.get_by_role("textbox", name="Strategy").fill(LONG_BROKEN_QUERY)
    page.get_by_role("button", name="Try this draft").click()
    page.locator("#query-error").wait_for()
    assert_marked_in_place(page.locator("#query-error pre"), LONG_BROKEN_QUERY, 0, width)
    check(page, "try-query-error")
    assert watched.problems == []
    context.close()
