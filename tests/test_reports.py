"""The impact report (issue 17): figures from a seeded database whose counts are written out
here by hand (never recomputed by the report's code), in JSON, CSV and HTML, from the CLI and
the librarians' page; and charts whose text keeps its size at any width."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from awareness.cli import cli
from awareness.errors import AwarenessError
from awareness.reports.figures import (
    DriverReviews,
    Period,
    driver_reviews,
    last_complete_quarter,
    organisation,
    overdue_at,
    parse_period,
    period_on,
)
from awareness.service.context import Context
from awareness.service.reports import rendered
from awareness.storage.models import (
    DriverRecordRow,
    DriverRecordVersion,
    Feedback,
    Item,
    ItemClick,
    Match,
    OutboxMessage,
    Review,
    Source,
    Subscriber,
    Subscription,
)
from tests.conftest import Clock, orm_writing, settings_env

LONDON_TZ = "Europe/London"
Q3 = parse_period("2026-Q3")


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


# --- pure ---------------------------------------------------------------------------------------

def test_periods() -> None:
    assert parse_period("2026-Q3") == Period("2026-Q3", date(2026, 7, 1), date(2026, 10, 1))
    assert parse_period("2026-q4").after == date(2027, 1, 1)
    assert parse_period("2026-02") == Period("2026-02", date(2026, 2, 1), date(2026, 3, 1))
    assert parse_period("2026-12").after == date(2027, 1, 1)
    assert parse_period("2025") == Period("2025", date(2025, 1, 1), date(2026, 1, 1))
    assert Q3.label == "2026-Q3 (1 July 2026 – 30 September 2026)"
    for bad in ("2026-Q5", "2026-13", "2026-00", "Q3", "", "2026-Q3; drop"):
        with pytest.raises(ValueError, match="not a period"):
            parse_period(bad)
    assert last_complete_quarter(date(2026, 11, 23)).name == "2026-Q3"
    assert last_complete_quarter(date(2026, 2, 1)).name == "2025-Q4"
    assert [p.kind for p in (Q3, parse_period("2026-07"), parse_period("2026"))] == [
        "quarter", "month", "year"]
    assert [period_on(kind, date(2026, 11, 23)).name for kind in ("quarter", "month", "year")
            ] == ["2026-Q4", "2026-11", "2026"]


def test_organisation_is_the_address_domain() -> None:
    assert organisation("Jo.Bloggs@Trust-A.NHS.uk") == "trust-a.nhs.uk"


def test_driver_reviews_on_time_late_and_waiting() -> None:
    from zoneinfo import ZoneInfo
    tz = ZoneInfo(LONDON_TZ)
    moves = [(1, utc(2026, 8, 1, 12), "15 August 2026"),   # on time
             (2, utc(2026, 9, 10, 12), "1 September 2026"),  # late
             (5, utc(2026, 5, 1, 12), "1 May 2026"),         # due before the period
             (6, utc(2026, 8, 14, 23, 30), "15 August 2026")]  # 00:30 on the 15th in London
    current = [(1, date(2027, 8, 15)), (2, date(2027, 9, 1)), (3, date(2026, 9, 20)),
               (4, date(2026, 12, 1)), (7, None)]
    # Overdue at the end of the period: 3 (due 20 September, never reviewed). Record 6 was
    # moved within the period and is not among the active records now, so not counted.
    assert driver_reviews(current, moves, Q3, tz, until=utc(2026, 9, 30, 23)) == DriverReviews(
        due=4, on_time=2, late=1, not_reviewed=1, overdue=1)


def test_overdue_records_are_counted_as_their_review_dates_stood_then() -> None:
    # "Driver records reviewed on time: 0 of 0" while records were years overdue: a record
    # whose review date fell before the period counted nowhere.
    from zoneinfo import ZoneInfo
    tz = ZoneInfo(LONDON_TZ)
    end_of_q3 = utc(2026, 9, 30, 23)  # midnight in London
    current = [(1, date(2023, 3, 1)),   # years overdue, never reviewed
               (2, date(2027, 9, 1)),   # reviewed after the period: it was due 1 May 2025
               (3, date(2021, 1, 1)),   # imported in October with an old date: not yet there
               (4, date(2026, 9, 30)),  # due on the period's last day: overdue at its end
               (5, date(2026, 10, 1)),  # due the day after
               (6, None)]
    moves = [(2, utc(2026, 10, 20), "1 May 2025"), (2, utc(2026, 11, 2), "1 September 2026"),
             (3, utc(2026, 10, 2), ""), (9, utc(2026, 10, 2), "1 May 2020")]  # 9: deleted
    assert overdue_at(current, moves, end_of_q3, tz) == 3  # 1, 2 and 4
    assert driver_reviews(current, moves, Q3, tz, until=end_of_q3).overdue == 3
    # Now (23 November), with record 2 reviewed and record 3 imported: 1, 3, 4 and 5.
    assert overdue_at(current, moves, utc(2026, 11, 23, 9), tz) == 4


# --- a seeded database --------------------------------------------------------------------------

def seed(ctx: Context) -> None:
    """Rows whose figures for 2026-Q3 (1 July – 30 September 2026, Europe/London) are:

    readers at the end: 3 (a, b, c); d left on 1 September, e confirmed in October, f never
      confirmed. By organisation: trust-a.nhs.uk 2, nhs.net 1. By topic: Leadership 2 (a, b),
      Digital health and AI 2 (a, c). New readers: 2 (b, c).
    sent: digest 4, stewardship 1. One digest sent at 23:30 UTC on 30 June (00:30 on 1 July
      in London: inside), one at 23:30 UTC on 30 September (00:30 on 1 October: outside), one
      pending.
    answers: Leadership 2 useful, 1 not useful (67%); Digital 1 useful (100%); 2 comments.
      One answer in June is outside.
    clicks: 2 (one in June is outside).
    items by topic: Leadership 3 matched, 2 approved; Digital 2 matched, 1 sent without review.
    items by source: NHS England news 4 new (its baseline item is not news), 3 matched;
      The King's Fund 2 new, 2 matched.
    precision: Leadership 2 of 3 (67%); NHS England news 2 of 2; The King's Fund 0 of 1.
    driver records due: 3; on time 1, late 1, not reviewed 1. Overdue at the end: 2 (r3, due
      in the period, and r5, due in 2023).
    sources: NHS England news active, The King's Fund broken, Old feed gone.
    """
    with orm_writing(ctx) as s:
        s.add_all([
            Source(id="nhs", name="NHS England news", publisher="NHS England",
                   url="https://nhs.example/feed", kind="feed"),
            Source(id="kf", name="The King's Fund", publisher="The King's Fund",
                   url="https://kf.example/feed", kind="feed", state="broken", error_count=4),
            Source(id="old", name="Old feed", publisher="Old", url="https://old.example/feed",
                   kind="feed", state="gone")])
        s.flush()
        people = {}
        for name, domain, confirmed, left, topics in (
                ("a", "trust-a.nhs.uk", utc(2026, 5, 1), None, ["leadership", "digital"]),
                ("b", "trust-a.nhs.uk", utc(2026, 8, 10), None, ["leadership"]),
                ("c", "nhs.net", utc(2026, 7, 15), None, ["digital"]),
                ("d", "trust-b.nhs.uk", utc(2026, 4, 1), utc(2026, 9, 1), ["leadership"]),
                ("e", "trust-b.nhs.uk", utc(2026, 10, 5), None, ["leadership"]),
                ("f", "trust-b.nhs.uk", None, None, ["leadership"])):
            person = Subscriber(email=f"{name}@{domain}", frequency="weekly", token=name * 20,
                                created_at=utc(2026, 1, 1), confirmed_at=confirmed,
                                unsubscribed_at=left)
            person.subscriptions = [Subscription(topic_slug=t) for t in topics]
            s.add(person)
            people[name] = person
        s.flush()
        for number, (kind, status, sent_at) in enumerate((
                ("digest", "sent", utc(2026, 6, 30, 23, 30)), ("digest", "sent", utc(2026, 8, 3)),
                ("digest", "sent", utc(2026, 8, 10)), ("digest", "sent", utc(2026, 9, 30, 22)),
                ("digest", "sent", utc(2026, 9, 30, 23, 30)), ("digest", "sent", utc(2026, 6, 1)),
                ("digest", "pending", None), ("stewardship", "sent", utc(2026, 9, 7)))):
            s.add(OutboxMessage(kind=kind, key=f"k{number}", subscriber_id=people["a"].id,
                                sender="x@example.org", recipient="a@trust-a.nhs.uk",
                                message_id=f"<{number}@x>", message=b"", status=status,
                                created_at=utc(2026, 6, 1), sent_at=sent_at))
        items = {}
        for key, source, seen, baseline in (
                ("N1", "nhs", utc(2026, 7, 2), False), ("N2", "nhs", utc(2026, 7, 20), False),
                ("N3", "nhs", utc(2026, 8, 5), False), ("N4", "nhs", utc(2026, 9, 9), False),
                ("N5", "nhs", utc(2026, 7, 1, 9), True), ("K1", "kf", utc(2026, 8, 1), False),
                ("K2", "kf", utc(2026, 9, 29), False), ("OLD", "nhs", utc(2026, 6, 10), False),
                ("NOW", "nhs", utc(2026, 11, 22), False)):
            items[key] = Item(source_id=source, key=key, title=key, first_seen_at=seen,
                              baseline=baseline)
        s.add_all(items.values())
        s.flush()
        matches = {}
        for key, topic, status, made in (
                ("N1", "leadership", "approved", utc(2026, 7, 2)),
                ("N2", "leadership", "approved", utc(2026, 7, 20)),
                ("K1", "leadership", "rejected", utc(2026, 8, 1)),
                ("N3", "digital", "auto", utc(2026, 8, 5)),
                ("K2", "digital", "pending", utc(2026, 9, 29)),
                ("OLD", "leadership", "approved", utc(2026, 6, 10))):
            matches[key] = Match(item_id=items[key].id, topic_slug=topic, status=status,
                                 hits=[], score=1.0, created_at=made)
        s.add_all(matches.values())
        s.flush()
        s.add_all(Review(match_id=matches[key].id, librarian="alice", decision=decision,
                         note="", decided_at=when) for key, decision, when in (
            ("N1", "approved", utc(2026, 7, 10)), ("N2", "approved", utc(2026, 8, 1)),
            ("K1", "rejected", utc(2026, 8, 2)), ("OLD", "approved", utc(2026, 6, 15))))
        for who, target, item, topic, answer, comment, when in (
                ("a", "N1", "N1", "leadership", "useful", "", utc(2026, 7, 12)),
                ("b", "N1", "N1", "leadership", "useful", "", utc(2026, 8, 12)),
                ("a", "N2", "N2", "leadership", "not_useful", "", utc(2026, 8, 1)),
                ("c", "N3", "N3", "digital", "useful", "great", utc(2026, 8, 6)),
                ("a", "OLD", "OLD", "leadership", "useful", "", utc(2026, 6, 20)),
                ("b", "message:x", None, None, None, "more please", utc(2026, 9, 2))):
            s.add(Feedback(subscriber_id=people[who].id,
                           target=target if item is None else f"item:{items[item].id}",
                           item_id=items[item].id if item else None, topic_slug=topic,
                           answer=answer, comment=comment, created_at=when, updated_at=when))
        s.add_all(ItemClick(subscriber_id=people[who].id, item_id=items[item].id,
                            clicked_at=when) for who, item, when in (
            ("a", "N1", utc(2026, 7, 12)), ("b", "N1", utc(2026, 8, 12)),
            ("a", "OLD", utc(2026, 6, 12))))
        records = {}
        for slug, due in (("r1", date(2027, 8, 15)), ("r2", date(2027, 9, 1)),
                          ("r3", date(2026, 9, 20)), ("r4", date(2026, 12, 1)),
                          ("r5", date(2023, 3, 1))):
            records[slug] = DriverRecordRow(
                slug=slug, kind="driver", title=slug, created_at=utc(2026, 1, 1),
                updated_at=utc(2026, 1, 1), review_due_on=due, tags=[], fields={})
        s.add_all(records.values())
        s.flush()
        s.add_all(DriverRecordVersion(
            driver_id=records[slug].id, changed_at=when, changed_by="alice", action="edited",
            changes={"fields.due_for_review": [old, new]}) for slug, when, old, new in (
            ("r1", utc(2026, 8, 1), "15 August 2026", "15 August 2027"),
            ("r2", utc(2026, 9, 10), "1 September 2026", "1 September 2027")))


EXPECTED = {
    "period": "2026-Q3", "from": "2026-07-01", "until": "2026-10-01", "complete": True,
    "readers": 3, "new_readers": 2,
    "readers_by_organisation": {"trust-a.nhs.uk": 2, "nhs.net": 1},
    "readers_by_topic": {"Digital health and AI": 2, "Leadership": 2},
    "sent_by_kind": {"digest": 4, "stewardship": 1}, "digests_sent": 4,
    "feedback_by_topic": {
        "Digital health and AI": {"useful": 1, "not_useful": 0, "useful_rate": 1.0},
        "Leadership": {"useful": 2, "not_useful": 1, "useful_rate": 0.667}},
    "comments": 2, "clicks": 2,
    "items_by_topic": {"Leadership": {"matched": 3, "for_readers": 2},
                       "Digital health and AI": {"matched": 2, "for_readers": 1}},
    "items_by_source": {"NHS England news": {"new": 4, "matched": 3},
                        "The King's Fund": {"new": 2, "matched": 2}},
    "precision_by_topic": {"Leadership": {"approved": 2, "rejected": 1, "decided": 3,
                                          "precision": 0.667, "flagged": False}},
    "precision_by_source": {
        "NHS England news": {"approved": 2, "rejected": 0, "decided": 2, "precision": 1.0,
                             "flagged": False},
        "The King's Fund": {"approved": 0, "rejected": 1, "decided": 1, "precision": 0.0,
                            "flagged": False}},
    "driver_reviews": {"due": 3, "on_time": 1, "late": 1, "not_reviewed": 1, "overdue": 2},
    "sources_by_health": {"active": 1, "broken": 1, "gone": 1},
    "reader_comments": [
        {"date": "2026-08-06", "topic": "Digital health and AI", "about": "N3",
         "answer": "useful", "comment": "great"},
        {"date": "2026-09-02", "topic": "", "about": "", "answer": None,
         "comment": "more please"}],
}


def test_the_figures_match_the_seeded_counts(make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    seed(ctx)
    figures = json.loads(rendered(ctx, Q3, "json"))
    assert figures.pop("made_at") == ctx.now().isoformat()
    assert figures == EXPECTED


def test_the_page_says_when_it_was_made_in_the_services_time(
        make_context: Callable[..., Context], clock: Clock) -> None:
    clock.now = datetime(2026, 7, 6, 23, 30, tzinfo=UTC)  # British Summer Time: 00:30 next day
    ctx = make_context()
    page = rendered(ctx, Q3, "html")
    assert "Made on Tue 7 Jul 2026, 00:30 (UK time)" in page
    assert "2026-07-06" not in page


def test_a_period_not_begun_is_refused_and_one_not_over_is_reported_so_far(
        make_context: Callable[..., Context]) -> None:
    # "2027-Q1" reported "0 readers at the end of the period" while the quarter was to come.
    ctx = make_context()  # its clock: 23 November 2026
    seed(ctx)
    for name, latest in (("2027-Q1", "quarter is 2026-Q4"), ("2026-12", "month is 2026-11"),
                         ("2030", "year is 2026")):
        with pytest.raises(AwarenessError) as refused:
            rendered(ctx, parse_period(name), "html")
        assert str(refused.value) == f"{name} has not begun: the latest {latest} (reported so far)"
    q4 = parse_period("2026-Q4")
    page = rendered(ctx, q4, "html")
    assert "<h1>Impact report: 2026-Q4 (1 October 2026 – 31 December 2026), so far</h1>" in page
    assert "2026-Q4 is not over: its figures run to then." in page
    assert "<strong>4</strong> readers now" in page and "at the end of the period" not in page
    assert "<strong>2</strong> driver records overdue for review now" in page  # r3 and r5
    figures = json.loads(rendered(ctx, q4, "json"))
    assert (figures["complete"], figures["readers"], figures["new_readers"]) == (False, 4, 1)
    assert figures["driver_reviews"]["overdue"] == 2
    assert "so far" not in rendered(ctx, Q3, "html")


def test_the_csv_holds_the_same_numbers(make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    seed(ctx)
    rows = list(csv.reader(io.StringIO(rendered(ctx, Q3, "csv"))))
    assert rows[0] == ["period", "section", "label", "measure", "value"]
    found = {tuple(row[1:4]): row[4] for row in rows[1:]}
    assert all(row[0] == "2026-Q3" for row in rows[1:])
    assert found["readers", "", "readers"] == "3"
    assert found["readers_by_organisation", "trust-a.nhs.uk", "count"] == "2"
    assert found["feedback_by_topic", "Leadership", "useful_rate"] == "0.667"
    assert found["driver_reviews", "on_time", "count"] == "1"
    assert found["precision_by_source", "The King's Fund", "precision"] == "0.0"


def test_the_cli_writes_each_format(make_context: Callable[..., Context], tmp_path: Path,
                                    database_url: str) -> None:
    ctx = make_context()
    seed(ctx)
    env = settings_env(tmp_path, database_url)
    runner = CliRunner()
    out = runner.invoke(cli, ["report", "--period", "2026-Q3", "--format", "json"], env=env)
    assert out.exit_code == 0, out.output
    figures = json.loads(out.output)
    figures.pop("made_at")
    assert figures == EXPECTED
    target = tmp_path / "q3.html"
    out = runner.invoke(cli, ["report", "--period", "2026-Q3", "-o", str(target)], env=env)
    assert out.exit_code == 0, out.output
    page = target.read_text(encoding="utf-8")
    assert "<script" not in page and "http://" not in page.replace(
        "http://www.w3.org/2000/svg", "")  # nothing loaded from anywhere
    assert page.count('role="img"') == 6 and "@media print" in page
    # Messages by what they are to the report's readers, not by the outbox's kinds.
    assert "<td>Topic digests</td>" in page and "<td>digest</td>" not in page
    assert "<td>Driver record reminders to the steering group</td>" in page
    out = runner.invoke(cli, ["report", "--period", "2026-Q9"], env=env)
    assert "not a period" in str(out.exception)  # main() prints it as one "error:" line
    out = runner.invoke(cli, ["report", "--period", "2999"], env=env)
    assert str(out.exception).startswith("2999 has not begun: the latest year is ")


def test_the_cli_never_replaces_a_file_unless_told_to(make_context: Callable[..., Context],
                                                      tmp_path: Path, database_url: str) -> None:
    # `-o FILE` wrote over last quarter's report without a word.
    make_context()
    env = settings_env(tmp_path, database_url)
    runner = CliRunner()
    kept = tmp_path / "q2.html"
    kept.write_text("last quarter's report")
    out = runner.invoke(cli, ["report", "--period", "2026-Q3", "-o", str(kept)], env=env)
    assert str(out.exception) == (
        f"{kept} exists already; name a new file, or give --force to replace it")
    assert kept.read_text() == "last quarter's report"
    out = runner.invoke(cli, ["report", "--period", "2026-Q3", "-o", str(kept), "--force"],
                        env=env)
    assert out.exit_code == 0 and "Impact report: 2026-Q3" in kept.read_text()
    nowhere = tmp_path / "reports" / "q3.html"
    out = runner.invoke(cli, ["report", "--period", "2026-Q3", "-o", str(nowhere)], env=env)
    assert str(out.exception) == f"no folder {nowhere.parent}; create it first"


def test_a_chart_is_accessible_self_contained_and_the_same_each_time() -> None:
    from awareness.reports.charts import bar_chart

    rows = [("trust-a.nhs.uk", 2), ("nhs.net", 1)]
    svg = bar_chart("readers", "Readers <by> organisation", "Readers & their domains", rows)
    assert svg == bar_chart("readers", "Readers <by> organisation", "Readers & their domains",
                            rows)
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg" id="readers"')
    assert 'role="img" aria-labelledby="readers-title readers-desc"' in svg
    assert '<title id="readers-title">Readers &lt;by&gt; organisation</title>' in svg
    assert '<desc id="readers-desc">Readers &amp; their domains</desc>' in svg
    assert "<script" not in svg and "<!--" not in svg and "href" not in svg
    assert bar_chart("readers", "Readers", "", []) == ""
    with pytest.raises(ValueError):
        bar_chart('x" onload="alert(1)', "t", "d", rows)


def test_a_chart_keeps_its_text_at_its_size_at_any_width() -> None:
    from awareness.reports.charts import bar_chart

    svg = bar_chart("sources", "New items by source", "", [
        ("Medicines and Healthcare products Regulatory Agency", 42), ("NHS", 0)])
    # Nothing scales it (no viewBox): bars are drawn in shares of the width it is given.
    assert 'width="100%"' in svg and "viewBox" not in svg
    assert set(re.findall(r'font-size="([0-9]+)"', svg)) == {"14", "16"}
    # A long label is broken between words onto lines above its bar, never cut.
    assert ('<tspan x="0" dy="0">Medicines and Healthcare products</tspan>'
            '<tspan x="0" dy="18">Regulatory Agency</tspan>') in svg
    assert re.findall(r'class="bar" x="0" y="[0-9]+" width="([0-9.]+)%"', svg) == ["80", "0"]
    assert re.findall(r'class="value"[^>]*>([^<]*)<', svg) == ["42", "0"]
    rates = bar_chart("rates", "Precision", "", [("Leadership", 2 / 3)], percent=True)
    assert re.findall(r'class="value" x="([0-9.]+)%"[^>]*>([^<]*)<', rates) == [
        ("53.33", "67%")]
