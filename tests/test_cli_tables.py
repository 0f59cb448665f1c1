"""The command line's tables at 80 and 120 columns: the main column (a title, a name) gets
the width the others can spare, short values (dates, ids, statuses) stay whole, and nothing
is ever cut with "…" or lost, whatever the terminal's width."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import timedelta
from io import StringIO
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from awareness.cli import cli
from awareness.cli.base import table
from awareness.cli.tables import column_widths, measure
from awareness.service import api_tokens, bulletins, librarians, roster
from awareness.service.context import Context
from awareness.service.drivers import import_drivers
from awareness.service.review import decide
from awareness.signup import Choice
from awareness.storage.models import DriverRecordRow, Item, Match, MatchDriver, Source
from tests.conftest import ROOT, Clock, orm_writing, settings_env

READER = "reader.with.a.long.name@library.example.nhs.uk"
LONG_ERROR = ("fetch failed: the server answered 503 Service Unavailable five times in a row; "
              "retrying with backoff")
# Titles and publishers as the feeds give them (the demo's own), so that every listing has
# long text beside its short columns.
ITEMS = [
    ("Policy paper: Health and social care workforce: talent management and leadership "
     "development", "Department of Health and Social Care", "pending"),
    ("Press release: Strong leadership drives improvement in NHS trusts, CQC finds",
     "Care Quality Commission", "pending"),
    ("Consultation outcome: Regulating NHS managers", "Department of Health and Social Care",
     "approved"),
    ("NHS artificial intelligence (AI) trial to diagnose prostate cancer up to a month faster",
     "NHS England", "auto"),
]


# --- the tables as printed ------------------------------------------------------------------

@dataclass(frozen=True)
class Printed:
    """A table as the terminal shows it: each column's heading, width (inside its padding)
    and text, its lines joined and every space taken out (so that what was wrapped or
    folded reads as what was given)."""

    headings: list[str]
    widths: list[int]
    texts: list[str]

    def width_of(self, heading: str) -> int:
        return self.widths[self.headings.index(heading)]

    def text_of(self, heading: str) -> str:
        return self.texts[self.headings.index(heading)]


def printed(output: str) -> Printed:
    lines = output.splitlines()
    top = next(line for line in lines if line.startswith("┏"))
    widths = [len(segment) - 2 for segment in top[1:-1].split("┳")]
    return Printed(_columns(lines, "┃", len(widths), " "), widths,
                   _columns(lines, "│", len(widths), ""))


def _columns(lines: list[str], bar: str, count: int, joiner: str) -> list[str]:
    rows = [line.split(bar)[1:-1] for line in lines if line.startswith(bar)]
    assert all(len(row) == count for row in rows), lines
    return [joiner.join(row[i].strip() for row in rows if row[i].strip()) if joiner
            else re.sub(r"\s", "", "".join(row[i] for row in rows)) for i in range(count)]


def print_table(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
                columns: int, headings: list[str], rows: list[list[str]],
                main: str | None = None) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    table(headings, rows, empty="none", main=main)
    return capsys.readouterr().out


# --- the widths, on their own ---------------------------------------------------------------

REVIEW_HEADINGS = ["id", "topic", "status", "score", "publisher", "title", "drivers"]
REVIEW_ROW = ["12", "leadership", "Waiting", "6.74", ITEMS[0][1], ITEMS[0][0],
              "developing-people-improving-care-a-national-framework-for-action-on-improvement"
              ", implementing-the-nhs-five-year-forward-view-aligning-policies-with-the-plan"]


def test_the_title_gets_the_width_the_other_text_can_spare(capsys, monkeypatch):
    # At 80 columns `review list` gave the title 12 characters, a word a line, as wide as
    # the publisher beside it and the list of driver slugs.
    shown = printed(print_table(capsys, monkeypatch, 80, REVIEW_HEADINGS, [REVIEW_ROW],
                                main="title"))
    assert shown.width_of("title") >= 17
    assert shown.width_of("title") > max(shown.width_of("publisher"), shown.width_of("drivers"))
    assert [shown.width_of(h) for h in ("id", "topic", "status", "score")] == [2, 10, 7, 5]


def test_a_table_that_fits_is_left_as_rich_lays_it_out():
    columns = [measure("id", ["1"]), measure("title", ["A short title"])]
    assert column_widths(columns, 80, 1) is None


def test_a_short_column_wraps_at_a_space_before_a_word_is_split():
    # Too narrow for the date and the publisher's longest word side by side: the date goes
    # onto two lines ("7 Dec 2026" over "18:08"), "Department" stays whole.
    columns = [measure("id", ["nhs-england-news"]), measure("last success", ["7 Dec 2026 18:08"]),
               measure("publisher", ["Department of Health and Social Care"])]
    assert column_widths(columns, 40, None) == [16, 10, 14]


TEXT = st.text(alphabet="abcdefghijklmnop ABCDEF-0123456789:,.’()[]/", max_size=90)


@given(st.integers(min_value=40, max_value=160), st.integers(min_value=1, max_value=6),
       st.data())
def test_nothing_is_cut_or_lost_at_any_width(columns, count, data):
    # rich cut a value with "…" where its column was too narrow: "2026-12-…" in `bulletins
    # list`, half a slug in `review list`'s drivers. Every value is now printed whole,
    # wrapped at spaces or, a word longer than its column, folded onto the next line.
    headings = [f"column {i}" for i in range(count)]
    rows = data.draw(st.lists(st.lists(TEXT, min_size=count, max_size=count), min_size=1,
                              max_size=4))
    main = data.draw(st.sampled_from([None, *headings]))
    out = StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(out):
        patch.setenv("COLUMNS", str(columns))
        table(headings, rows, empty="none", main=main)
    text = out.getvalue()
    assert "…" not in text
    assert max(map(len, text.splitlines())) <= columns
    shown = printed(text)
    assert shown.texts == [re.sub(r"\s", "", "".join(row[i] for row in rows))
                           for i in range(count)]


def test_feed_text_is_printed_as_written_not_read_as_markup(capsys, monkeypatch):
    # rich took "[pdf]" for a style and printed "Report  on care": part of a title lost.
    title = "Report [pdf] on [b]care[/b] and [link=https://example.org]links[/link]"
    out = print_table(capsys, monkeypatch, 200, ["id", "title"], [["1", title]])
    assert title in out


# --- every listing, on a database with long titles, publishers and slugs ---------------------

@dataclass
class Listings:
    ctx: Context
    env: dict[str, str]
    decided: int


@pytest.fixture
def listings(make_context: Callable[..., Context], clock: Clock, tmp_path: Path,
             database_url: str) -> Iterator[Listings]:
    """A database behind every listing: sources (one failing), items and matches linked to
    driver records with long slugs, a decision with a long note, a subscriber with a
    history, a librarian with API tokens, and a sent bulletin issue."""
    ctx = make_context()
    import_drivers(ctx, ROOT / "src" / "awareness" / "demo" / "map-toolkit-leadership.txt")
    ids = [add_item(ctx, clock, title, publisher, status) for title, publisher, status in ITEMS]
    with orm_writing(ctx) as session:
        session.get_one(Source, "care-quality-commission").last_error = LONG_ERROR
        session.get_one(Source, "care-quality-commission").error_count = 5
        drivers = session.query(DriverRecordRow.id).order_by(DriverRecordRow.slug).all()
        for match_id in ids[:2]:
            for (driver_id,) in drivers[:3]:
                session.add(MatchDriver(match_id=match_id, driver_id=driver_id,
                                        kind="related", score=1.0))
    decided = decide(ctx, ids[1], "approved", librarian="Jo Bloggs",
                     note="good for the board pack, as discussed with the director").view.id
    roster.add(ctx, READER, [Choice("leadership", "daily"), Choice("digital", "weekly")],
               bulletins=True, librarian="Jo Bloggs")
    roster.set_topics(ctx, READER, [Choice("leadership", "weekly")], librarian="Jo Bloggs")
    librarians.add_librarian(ctx, "alice", "a long enough password")
    api_tokens.create(ctx, "alice", "reading list sync for the intranet team's weekly report")
    found = bulletins.draft(ctx, "weekly")
    bulletins.approve(ctx, "weekly", found.number, by="alice")
    bulletins.send_issue(ctx, "weekly", found.number)
    yield Listings(ctx, settings_env(tmp_path, database_url), decided)


def add_item(ctx: Context, clock: Clock, title: str, publisher: str, status: str) -> int:
    """An item of ``publisher`` with a match for leadership; the match's id."""
    clock.advance(minutes=7)
    source_id = publisher.lower().replace(" ", "-")
    with orm_writing(ctx) as session:
        if session.get(Source, source_id) is None:
            session.add(Source(id=source_id, name=publisher, publisher=publisher, kind="feed",
                               url=f"https://{source_id}.example.org/feed",
                               last_success_at=clock.now))
        item = Item(source_id=source_id, key=f"link:{title}", title=title,
                    link=f"https://{source_id}.example.org/{len(title)}",
                    summary_text=title, first_seen_at=clock.now,
                    published_at=clock.now - timedelta(days=1))
        session.add(item)
        session.flush()
        match = Match(item_id=item.id, topic_slug="leadership", status=status, hits=[],
                      score=len(title) / 10, created_at=clock.now)
        session.add(match)
        session.flush()
        return match.id


def commands(listings: Listings) -> list[tuple[str, ...]]:
    return [("sources", "list"), ("review", "list"), ("matches", "list"), ("items", "list"),
            ("topics", "list"), ("subscribers", "list"), ("subscribers", "history", READER),
            ("bulletins", "list"), ("bulletins", "show", "weekly", "1"), ("drivers", "list"),
            ("drivers", "due"), ("librarians", "list"), ("librarians", "tokens", "alice"),
            ("review", "history", str(listings.decided))]


# Each listing's main column: a title, a name, what a row is about.
MAIN = {"sources": "last error", "review": "title", "matches": "title", "items": "title",
        "topics": "query", "subscribers": "email", "bulletins": "title", "drivers": "title",
        "librarians": "name"}
MAIN_OF = {("subscribers", "history"): "detail", ("review", "history"): "note",
           ("drivers", "due"): "why", ("librarians", "tokens"): "label"}


@pytest.mark.parametrize("columns", [80, 120])
def test_every_listing_keeps_every_value_whole(listings: Listings, columns: int) -> None:
    for command in commands(listings):
        wide = CliRunner().invoke(cli, list(command), env={**listings.env, "COLUMNS": "1000"})
        out = CliRunner().invoke(cli, list(command), env={**listings.env,
                                                          "COLUMNS": str(columns)})
        assert out.exit_code == 0 and wide.exit_code == 0, (command, out.output)
        assert "…" not in out.output, (command, out.output)
        assert max(map(len, out.output.splitlines())) <= columns, (command, out.output)
        shown, whole = printed(out.output), printed(wide.output)
        # Each column holds what it holds on a terminal wide enough for every line.
        assert shown.headings == whole.headings and shown.texts == whole.texts, (
            command, out.output)
        # The main column keeps 16 characters a line (two or three words of a title), or
        # all it needs; `review list` gave its title 12, a word a line.
        main = MAIN_OF.get(command[:2]) or MAIN[command[0]]
        longest = max(len(line.split("│")[whole.headings.index(main) + 1].strip())
                      for line in wide.output.splitlines() if line.startswith("│"))
        assert shown.width_of(main) >= min(16, longest), (command, out.output)
