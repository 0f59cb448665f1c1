"""The librarians' ``/reports`` page (issue 17) on a real server: librarians only, its own
strict policy, downloads; and in a real browser at 1280 and 390 px: axe-core passes, the
charts draw, and each chart's table holds the numbers counted by hand in
``tests/test_reports.py``; the "try a query" page's precision table passes axe-core too."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest
from playwright.sync_api import Browser

from awareness.service import librarians
from awareness.service.context import Context
from awareness.web.app import create_app
from tests.test_reports import EXPECTED, seed
from tests.test_web import PASSWORD, LiveServer, listening_socket, login
from tests.test_web_browser import Watched, browser, check_page

FIXTURE_TIERS = {"report_site": "integration"}
__all__ = ["browser"]  # the module-scoped fixture, shared


@contextmanager
def serving(make_context: Callable[..., Context]) -> Iterator[tuple[str, Context]]:
    sock = listening_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ctx = make_context(AWARENESS_WEB_BASE_URL=url)
    seed(ctx)
    librarians.add_librarian(ctx, "alice", PASSWORD)
    with LiveServer(create_app(ctx), sock):
        yield url, ctx


@pytest.fixture
def report_site(make_context: Callable[..., Context]) -> Iterator[tuple[str, Context]]:
    with serving(make_context) as site:
        yield site


def test_reports_are_for_librarians_with_downloads(report_site: tuple[str, Context]) -> None:
    url, _ = report_site
    with httpx.Client(base_url=url, follow_redirects=False) as client:
        assert client.get("/reports").headers["location"] == "/login?next=%2Freports"
        assert login(client).status_code == 303
        page = client.get("/reports")  # the last complete quarter: 2026-Q3 on 23 November
        assert page.status_code == 200 and "Impact report: 2026-Q3" in page.text
        assert '<a href="/dashboard">Back to the dashboard</a>' in page.text
        policy = page.headers["content-security-policy"]
        assert "script-src 'none'" in policy and "default-src 'none'" in policy
        assert "<script" not in page.text
        figures = client.get("/reports", params={"period": "2026-Q3", "format": "json"})
        assert figures.headers["content-disposition"] == (
            'attachment; filename="impact-report-2026-Q3.json"')
        data = figures.json()
        data.pop("made_at")
        assert data == EXPECTED
        table = client.get("/reports", params={"period": "2026-Q3", "format": "csv"})
        assert table.headers["content-type"].startswith("text/csv")
        assert "2026-Q3,readers,,readers,3" in table.text
        assert client.get("/reports", params={"period": "soon"}).status_code == 400
        ahead = client.get("/reports", params={"period": "2030"})  # on 23 November 2026
        assert ahead.status_code == 400 and (
            "2030 has not begun: the latest year is 2026 (reported so far)" in ahead.text)
        assert client.get("/reports", params={"format": "pdf"}).status_code == 400
        empty = client.get("/reports", params={"period": "2025"})
        assert empty.status_code == 200 and "Nothing to show for this period." in empty.text


def table_of(page, chart: str) -> dict[str, list[str]]:  # type: ignore[no-untyped-def]
    rows = page.locator(f"#table-{chart} tbody tr")
    found = {}
    for i in range(rows.count()):
        row = rows.nth(i)
        found[row.locator("th").inner_text()] = [c.inner_text() for c in row.locator("td").all()]
    return found


def table_of_cells(page, table: str) -> list[list[str]]:  # type: ignore[no-untyped-def]
    rows = page.locator(f"#table-{table} tbody tr")
    return [[c.inner_text() for c in rows.nth(i).locator("td").all()]
            for i in range(rows.count())]


@pytest.mark.parametrize("width", (1280, 390))
def test_the_report_page_in_a_browser(browser: Browser, report_site: tuple[str, Context],
                                      width: int) -> None:
    url, _ = report_site
    context = browser.new_context(viewport={"width": width, "height": 900})
    watched = Watched(context.new_page())
    page = watched.page
    page.goto(f"{url}/reports?period=2026-Q3")
    page.get_by_label("Name").fill("alice")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/reports?period=2026-Q3")
    check_page(page, "impact-report")
    # Every chart drew, with its title for screen readers.
    charts = page.locator("svg[role=img]")
    assert charts.count() == 6
    for i in range(6):
        box = charts.nth(i).bounding_box()
        assert box is not None and box["width"] > 300 and box["height"] > 50
    assert page.get_by_role("img", name="Readers by organisation").count() == 1
    # Every word of every chart is legible at this width, at least 11 px as drawn, and inside
    # its chart: charts drawn 640 wide and scaled to a phone had text of about 7 px.
    drawn_text = page.evaluate("""() => [...document.querySelectorAll("svg[role=img] text")]
        .map(text => {
            const chart = text.ownerSVGElement.getBoundingClientRect();
            const box = text.getBoundingClientRect();
            const size = parseFloat(getComputedStyle(text).fontSize) * text.getScreenCTM().a;
            return [text.textContent, size >= 11 && box.left >= chart.left
                    && box.right <= chart.right];
        })""")
    assert len(drawn_text) > 20 and [text for text, fits in drawn_text if not fits] == []
    # The tables beside the charts hold the numbers counted by hand.
    assert table_of(page, "readers-by-organisation") == {"trust-a.nhs.uk": ["2"],
                                                          "nhs.net": ["1"]}
    assert table_of(page, "readers-by-topic") == {"Digital health and AI": ["2"],
                                                   "Leadership": ["2"]}
    assert table_of(page, "useful-by-topic") == {"Digital health and AI": ["100%", "1"],
                                                  "Leadership": ["67%", "3"]}
    assert table_of(page, "items-by-topic") == {"Leadership": ["3", "2"],
                                                 "Digital health and AI": ["2", "1"]}
    assert table_of(page, "items-by-source") == {"NHS England news": ["4", "3"],
                                                  "The King's Fund": ["2", "2"]}
    assert table_of(page, "precision-by-topic") == {"Leadership": ["67%", "3"]}
    assert table_of(page, "precision-by-source") == {"NHS England news": ["100%", "2"],
                                                      "The King's Fund": ["0%", "1"]}
    assert table_of(page, "driver-reviews") == {
        "Due for review in the period": ["3"], "Reviewed by the date": ["1"],
        "Reviewed after the date": ["1"], "Not reviewed yet": ["1"],
        "Overdue at the end of the period, whenever the date fell": ["2"]}
    assert table_of(page, "source-health") == {
        "NHS England news": ["active", "4"], "The King's Fund": ["broken", "2"],
        "Old feed": ["gone", "0"]}
    assert table_of_cells(page, "reader-comments") == [
        ["2026-08-06", "N3 (Digital health and AI)", "Useful", "great"],
        ["2026-09-02", "The updates in general", "", "more please"]]
    # The values drawn in a chart are the table's.
    drawn = page.locator("#readers-by-organisation text.value").all_text_contents()
    assert sorted(drawn) == ["1", "2"]
    page.get_by_role("textbox", name="Period").fill("2026-08")
    page.get_by_role("button", name="Show").click()
    page.get_by_role("heading", name="Impact report: 2026-08 (1 August 2026 – 31 August 2026)"
                     ).wait_for()
    page.emulate_media(media="print")
    assert page.locator(".choose").is_hidden()
    page.emulate_media(media="screen")
    # The strategy page shows each topic's precision too.
    page.goto(f"{url}/topics/try")
    check_page(page, "topics-try-precision")
    assert page.locator("table.precision tbody tr").count() == 2
    assert watched.problems == []
    context.close()
