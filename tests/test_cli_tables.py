"""The command line's tables at 80 and 120 columns: the main column (a title, a name) gets
the width the others can spare, short values (dates, ids, statuses) stay whole, a line
breaks between words or after a hyphen, never inside a word (a listing's least useful
columns are left out, and named, where there is no room for that), and nothing is ever cut
with "…" or lost, whatever the terminal's width."""

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
from awareness.cli.tables import column_widths, measure, wrap
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
                main: str | None = None, optional: tuple[str, ...] = ()) -> str:
    monkeypatch.setenv("COLUMNS", str(columns))
    table(headings, rows, empty="none", main=main, optional=optional)
    return capsys.readouterr().out


def said_left_out(output: str) -> list[str]:
    """The columns the line under a table says were left out (none: no such line)."""
    found = re.search(r"Left out at this width: (.*?) \(a wider", " ".join(output.split()))
    return re.split(r", | and ", found.group(1)) if found else []


def column_lines(output: str) -> dict[str, list[str]]:
    """Each printed column's lines with text, top to bottom, by heading."""
    lines = output.splitlines()
    top = next(line for line in lines if line.startswith("┏"))
    headings = _columns(lines, "┃", len(top[1:-1].split("┳")), " ")
    rows = [[part.strip() for part in line.split("│")[1:-1]]
            for line in lines if line.startswith("│")]
    return {heading: [row[i] for row in rows if row[i]] for i, heading in enumerate(headings)}


def broken_words(output: str, values: dict[str, str]) -> list[str]:
    """Where a column of ``output`` breaks a line inside a word of ``values`` (each column's
    text, its rows joined by spaces, by heading), as ``heading: end of line|start of the
    next``; none when every line ends between words, after a hyphen or a slash, or inside
    a word longer than the column (which is folded, nothing else being possible)."""
    found = []
    texts = {re.sub(r"\s", "", h): value for h, value in values.items()}
    for (heading, lines), width in zip(column_lines(output).items(), printed(output).widths,
                                       strict=True):
        ends = _word_ends(texts[re.sub(r"\s", "", heading)])  # a heading may be folded
        text, starts = "", []
        for line in lines:
            starts.append(len(text))
            text += re.sub(r"\s", "", line)
        for place in starts[1:]:
            start = max(end for end in ends if end <= place)
            longer = min((end for end in ends if end > place), default=len(text)) - start
            if place not in ends and longer <= width:
                found.append(f"{heading}: {text[:place][-12:]}|{text[place:][:12]}")
    return found


def _word_ends(value: str) -> set[int]:
    """The places in ``value`` (its spaces taken out) where a line may break: between
    words, and inside one after a hyphen or slash with more of the word on either side
    ("developing-|people", never "|-x" or "a-|-b")."""
    ends, length = {0}, 0
    for word in value.split():
        start = 0
        for j in range(1, len(word) - 1):
            if word[j] in "-/" and j > start:
                ends.add(length + j + 1)
                start = j + 1
        length += len(word)
        ends.add(length)
    return ends


# --- the widths, on their own ---------------------------------------------------------------

REVIEW_HEADINGS = ["id", "topic", "status", "score", "publisher", "title", "drivers"]
REVIEW_ROW = ["12", "leadership", "Waiting", "6.74", ITEMS[0][1], ITEMS[0][0],
              "developing-people-improving-care-a-national-framework-for-action-on-improvement"
              ", implementing-the-nhs-five-year-forward-view-aligning-policies-with-the-plan"]


TOPICS_HEADINGS = ["slug", "name", "review", "30 days", "90 days", "trend", "query"]
TOPICS_ROW = ["workforce-planning-and-retention", "Workforce planning and retention",
              "required", "67% of 12 !", "71% of 40", "falling",
              '"workforce plan*" OR "staff retention" OR "long-term workforce plan"\n'
              '    AND (NHS OR "integrated care board*")']
BULLETINS_HEADINGS = ["bulletin", "title", "sends", "latest", "status", "due or sent",
                      "issues sent"]
BULLETINS_ROW = ["workforce-and-organisational-development",
                 "Workforce and organisational development bulletin", "every Friday at 9am",
                 "12", "approved", "11 Dec 2026 09:00", "11"]
# Each seven-column listing, its main column and the columns it may leave out, as the
# commands give them.
SEVEN = [(REVIEW_HEADINGS, REVIEW_ROW, "title", ("score", "drivers")),
         (TOPICS_HEADINGS, TOPICS_ROW, "query", ("90 days", "trend")),
         (BULLETINS_HEADINGS, BULLETINS_ROW, "title", ("issues sent", "latest"))]


def test_the_title_gets_the_width_the_other_text_can_spare(capsys, monkeypatch):
    # At 80 columns `review list` gave the title 12 characters, a word a line, as wide as
    # the publisher beside it and the list of driver slugs.
    out = print_table(capsys, monkeypatch, 80, REVIEW_HEADINGS, [REVIEW_ROW], main="title",
                      optional=("score", "drivers"))
    shown = printed(out)
    assert shown.width_of("title") >= 17
    assert shown.width_of("title") > max(shown.width_of("publisher"), shown.width_of("drivers"))
    assert [shown.width_of(h) for h in ("id", "topic", "status")] == [2, 10, 7]
    # The score, the least useful, made way for every word whole; a line says so.
    assert "score" not in shown.headings
    assert "Left out at this width: score (a wider terminal, or --json, shows it)." in out


@pytest.mark.parametrize("columns", [80, 120])
@pytest.mark.parametrize(("headings", "row", "main", "optional"), SEVEN)
def test_seven_columns_break_lines_between_words_only(capsys, monkeypatch, columns, headings,
                                                      row, main, optional):
    # At 80 columns rich broke words wherever a column ended: "Departmen" over "t of
    # Health", "developi" over "ng-people-improv" over "ing-care", a bulletin's slug and
    # a topic's. A line now breaks between words or after a hyphen, every value whole.
    out = print_table(capsys, monkeypatch, columns, headings, [row], main=main,
                      optional=optional)
    shown = printed(out)
    assert broken_words(out, dict(zip(headings, row, strict=True))) == []
    assert "…" not in out and max(map(len, out.splitlines())) <= columns
    left_out = [h for h in headings if h not in shown.headings]
    assert set(left_out) <= set(optional) and shown.headings == [
        h for h in headings if h not in left_out]
    assert shown.texts == [re.sub(r"\s", "", row[headings.index(h)]) for h in shown.headings]
    assert said_left_out(out) == left_out
    if columns == 120:
        assert left_out == []  # room for every column, every word whole


def test_wrapping_keeps_every_word_and_breaks_after_hyphens():
    # A word goes whole onto the next line when it fits there ("nhs-england", an id to
    # copy); one too long for a line breaks after its hyphens, as far as each line goes.
    assert wrap("a nhs-england", 11) == "a\nnhs-england"
    assert wrap("developing-people-improving-care, interim-nhs-people-plan", 14) == (
        "developing-\npeople-\nimproving-\ncare,\ninterim-nhs-\npeople-plan")
    assert wrap("see https://www.gov.uk/government/publications", 24) == (
        "see\nhttps://www.gov.uk/\ngovernment/publications")
    assert wrap('leader* OR "talent\n    AND culture', 12) == (
        'leader* OR\n"talent\n    AND\nculture')  # a line's indent kept
    assert wrap("a" * 25 + " b", 10) == "aaaaaaaaaa\naaaaaaaaaa\naaaaa b"  # too long: folded


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
    # wrapped between words or, a word longer than its column, folded onto the next line;
    # only the optional columns are left out, and the line under the table names them.
    headings = [f"column {i}" for i in range(count)]
    rows = data.draw(st.lists(st.lists(TEXT, min_size=count, max_size=count), min_size=1,
                              max_size=4))
    main = data.draw(st.sampled_from([None, *headings]))
    others = [h for h in headings if h != main]
    optional = data.draw(st.lists(st.sampled_from(others), unique=True)) if others else []
    out = StringIO()
    with pytest.MonkeyPatch.context() as patch, redirect_stdout(out):
        patch.setenv("COLUMNS", str(columns))
        table(headings, rows, empty="none", main=main, optional=optional)
    text = out.getvalue()
    assert "…" not in text
    assert max(map(len, text.splitlines())) <= columns
    shown = printed(text)
    named = {re.sub(r"\s", "", h): h for h in headings}  # a heading may be folded too
    on_show = [named[re.sub(r"\s", "", h)] for h in shown.headings]
    left_out = [h for h in headings if h not in on_show]
    assert set(left_out) == set(optional[:len(left_out)]) and said_left_out(text) == left_out
    assert shown.texts == [re.sub(r"\s", "", "".join(row[headings.index(h)] for row in rows))
                           for h in on_show]
    assert broken_words(text, {h: " ".join(row[i] for row in rows)
                               for i, h in enumerate(headings)}) == []


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
# The columns a listing leaves out, least useful first, on a terminal too narrow for the
# rest with every word whole (README, "Command line").
OPTIONAL = {("sources", "list"): ("items", "errors", "publisher"),
            ("review", "list"): ("score", "drivers"),
            ("matches", "list"): ("score", "drivers"), ("topics", "list"): ("90 days", "trend"),
            ("bulletins", "list"): ("issues sent", "latest"), ("drivers", "list"): ("tags", "kind"),
            ("subscribers", "list"): ("last digest", "confirmed")}
# The columns of things to copy (a slug, an address), never broken over lines while an
# optional column can go instead (`subscribers list` broke an address mid-word at 80), unless
# one is too long to keep whole beside the rest.
WHOLE = {("drivers", "list"): "slug", ("drivers", "due"): "slug", ("topics", "list"): "slug",
         ("subscribers", "list"): "email", ("sources", "list"): "id",
         ("bulletins", "list"): "bulletin"}


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
        # Each column holds what it holds on a terminal wide enough for every line; only a
        # column the command names as optional is left out, and a line says which.
        left_out = [h for h in whole.headings if h not in shown.headings]
        assert set(left_out) <= set(OPTIONAL.get(command[:2], ())), (command, out.output)
        assert said_left_out(out.output) == left_out, (command, out.output)
        assert shown.texts == [whole.text_of(h) for h in shown.headings], (command, out.output)
        # Every line breaks between words, or after a hyphen (a word longer than its
        # column aside): "Departmen" over "t of Health" was the publisher at 80 columns.
        values = {h: " ".join(lines) for h, lines in column_lines(wide.output).items()}
        assert broken_words(out.output, values) == [], (command, out.output)
        # The main column keeps 16 characters a line (two or three words of a title), or
        # all it needs; `review list` gave its title 12, a word a line.
        main = MAIN_OF.get(command[:2]) or MAIN[command[0]]
        longest = max(len(line.split("│")[whole.headings.index(main) + 1].strip())
                      for line in wide.output.splitlines() if line.startswith("│"))
        assert shown.width_of(main) >= min(16, longest), (command, out.output)
        if command[:2] in WHOLE:
            copied = [v for v in column_lines(wide.output)[WHOLE[command[:2]]] if v]
            assert copied
            if max(map(len, copied)) <= columns // 2:  # a MAP-toolkit slug may be longer
                assert all(any(value in line for line in out.output.splitlines())
                           for value in copied), (command, out.output)
