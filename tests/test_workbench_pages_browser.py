"""The librarians' workbench pages clicked through in a real headless Chromium (issue 14,
item 1): the dashboard, items and one item, sources with "test now" and pause, topics, sends
with retry and the next-digest preview. Every page is checked with axe-core at 1280 and
390 px wide and must fit without sideways scrolling; a screenshot of each is kept when
``AWARENESS_TEST_SCREENSHOTS`` names a folder.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page

from tests.test_web import EMAIL, Site
from tests.test_web_browser import browser, check_page, signed_in_page
from tests.test_workbench_pages import add_a_board_appointment, bench, break_a_topics_query, site

FIXTURE_TIERS = {"site": "integration", "bench": "integration"}
WIDTHS = (1280, 390)
__all__ = ["bench", "browser", "site"]  # fixtures, shared


def check(page: Page, name: str) -> None:
    check_page(page, f"workbench-{name}")


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

    page.get_by_role("link", name="Sends", exact=True).click()
    page.wait_for_url(f"{site.url}/sends")
    check(page, "sends")
    page.get_by_role("button", name="Retry").click()
    page.get_by_text("is queued again").wait_for()
    check(page, "sends-retried")
    page.get_by_role("link", name="What will someone get next?").click()
    page.get_by_label("Their e-mail address").fill(EMAIL)
    page.get_by_role("button", name="Show").click()
    page.get_by_text("Already approved item").wait_for()
    check(page, "sends-next")
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


# The caret's left edge and that of the character above it in the query line, and whether the
# caret is on a line below it, measured on the banner's text as the browser lays it out.
CARET_AND_ABOVE = """pre => {
  const text = pre.firstChild, lines = text.data.split("\\n");
  const row = lines.findIndex(line => /^ *\\^$/.test(line)), column = lines[row].indexOf("^");
  const at = (r, c) => lines.slice(0, r).reduce((n, line) => n + line.length + 1, 0) + c;
  const box = offset => {
    const range = document.createRange();
    range.setStart(text, offset);
    range.setEnd(text, offset + 1);
    return range.getBoundingClientRect();
  };
  const caret = box(at(row, column)), above = box(at(row - 1, column));
  return [caret.left, above.left, caret.top > above.top];
}"""


@pytest.mark.parametrize("width", WIDTHS)
def test_a_topic_files_query_error_points_at_its_column(browser: Browser, bench: Site,
                                                        width: int) -> None:
    # The banner on every librarian page ran the query and its caret into one paragraph.
    site = bench
    break_a_topics_query(site)
    context, watched = signed_in_page(browser, site, width)
    page = watched.page
    page.goto(f"{site.url}/dashboard")
    banner = page.locator(".error-summary pre.file-problem")
    caret, above, below = banner.evaluate(CARET_AND_ABOVE)
    assert below and abs(caret - above) < 1, (caret, above)
    check(page, "file-problem")
    assert watched.problems == []
    context.close()
