"""Strategy precision (issue 17): approved ÷ decided per topic and per source over 30 and
90 days, its trend, and the flag on a topic below the threshold (in `topics list` and the
weekly stewardship mail). The database tests seed
reviews whose counts are written out here by hand."""

from __future__ import annotations

import email
import email.policy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from awareness.cli import cli
from awareness.precision import Decisions, is_flagged, percent, precision_table, trend
from awareness.service import librarians
from awareness.service.context import Context
from awareness.service.precision import precision
from awareness.service.stewardship import send_stewardship
from awareness.storage.models import Item, Match, Review, Source
from awareness.web.app import create_app
from tests.conftest import Clock, orm_session, settings_env
from tests.test_drivers_stewardship import seed as seed_records
from tests.test_web import PASSWORD, LiveServer, listening_socket, login, parse

# --- pure ---------------------------------------------------------------------------------------


def test_precision_is_approved_over_decided() -> None:
    assert Decisions(2, 3).precision == 0.4 and Decisions(2, 3).decided == 5
    assert Decisions().precision is None
    assert percent(0.4) == "40%" and percent(2 / 3) == "67%" and percent(None) == "–"


def test_trend_and_flag() -> None:
    assert trend(Decisions(2, 3), Decisions(6, 4)) == "falling"  # 40% against 60%
    assert trend(Decisions(3, 0), Decisions(5, 1)) == "rising"  # 100% against 83%
    assert trend(Decisions(6, 4), Decisions(12, 8)) == "steady"
    assert trend(Decisions(), Decisions(1, 1)) == ""
    assert is_flagged(Decisions(2, 3), threshold=0.5, min_decisions=5)
    assert not is_flagged(Decisions(2, 3), threshold=0.5, min_decisions=6)  # too few
    assert not is_flagged(Decisions(5, 5), threshold=0.5, min_decisions=1)  # not below
    assert not is_flagged(Decisions(), threshold=0.5, min_decisions=0)


def test_the_table_keeps_the_order_given_and_adds_unnamed_keys() -> None:
    table = precision_table([("b", "Bee"), ("a", "Ay")], {"a": Decisions(1, 0)},
                            {"a": Decisions(1, 1), "gone": Decisions(0, 2)},
                            threshold=0.5, min_decisions=1)
    assert [(p.key, p.name) for p in table] == [("b", "Bee"), ("a", "Ay"), ("gone", "gone")]
    assert table[0].last_30 == Decisions() and table[0].trend == "" and not table[0].flagged
    assert table[1].trend == "rising"


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_precision_is_a_fraction(approved: int, rejected: int) -> None:
    value = Decisions(approved, rejected).precision
    assert value is None if approved + rejected == 0 else 0 <= value <= 1


# --- over the database --------------------------------------------------------------------------

def seed_reviews(ctx: Context, now: datetime) -> None:
    """Decisions, counted by hand:

    leadership, last 30 days: 2 approved, 3 rejected (one of them approved first, 40 days
    ago, then rejected 5 days ago: it counts once, as rejected) → 40%, 5 decided.
    leadership, 31-90 days ago: 4 approved, 1 rejected → over 90 days 6 of 10 = 60%.
    digital, last 30 days: 3 approved → 100%; 90 days: 3 approved, 1 rejected 60 days ago → 75%.
    A decision 100 days ago and a pending match count nowhere.
    By source: nhs-england holds every leadership match, kings-fund every digital one.
    """
    plan = [  # (topic, source, status in force, [(decision, days ago)])
        *[("leadership", "nhs-england", "approved", [("approved", 3)])] * 2,
        *[("leadership", "nhs-england", "rejected", [("rejected", 10)])] * 2,
        ("leadership", "nhs-england", "rejected", [("approved", 40), ("rejected", 5)]),
        *[("leadership", "nhs-england", "approved", [("approved", 45)])] * 4,
        ("leadership", "nhs-england", "rejected", [("rejected", 80)]),
        ("leadership", "nhs-england", "approved", [("approved", 100)]),
        ("leadership", "nhs-england", "pending", []),
        *[("digital", "kings-fund", "approved", [("approved", 1)])] * 3,
        ("digital", "kings-fund", "rejected", [("rejected", 60)]),
    ]
    with orm_session(ctx) as session, session.begin():
        for source_id, name in (("nhs-england", "NHS England news"),
                                ("kings-fund", "The King's Fund")):
            if session.get(Source, source_id) is None:
                session.add(Source(id=source_id, name=name, publisher=name,
                                   url=f"https://{source_id}.example/feed", kind="feed"))
        session.flush()
        for number, (topic, source_id, status, decisions) in enumerate(plan):
            item = Item(source_id=source_id, key=f"k{number}", title=f"Item {number}",
                        first_seen_at=now - timedelta(days=120))
            session.add(item)
            session.flush()
            match = Match(item_id=item.id, topic_slug=topic, status=status, hits=[],
                          score=1.0, created_at=now - timedelta(days=120))
            session.add(match)
            session.flush()
            session.add_all(Review(match_id=match.id, librarian="alice", decision=decision,
                                   note="", decided_at=now - timedelta(days=days))
                            for decision, days in decisions)


def test_precision_per_topic_and_source(make_context: Callable[..., Context]) -> None:
    ctx = make_context(AWARENESS_REPORTS_PRECISION_MIN_DECISIONS="5")
    seed_reviews(ctx, ctx.now())
    report = precision(ctx)
    figures = {p.key: (p.last_30, p.last_90, p.trend, p.flagged) for p in report.topics}
    assert figures == {
        "leadership": (Decisions(2, 3), Decisions(6, 4), "falling", True),
        "digital": (Decisions(3, 0), Decisions(3, 1), "rising", False),
    }
    assert [p.name for p in report.topics] == ["Digital health and AI", "Leadership"]
    assert [p.key for p in report.flagged] == ["leadership"]
    assert {p.name: (p.last_30, p.last_90) for p in report.sources} == {
        "NHS England news": (Decisions(2, 3), Decisions(6, 4)),
        "The King's Fund": (Decisions(3, 0), Decisions(3, 1)),
    }


def test_topics_list_shows_precision(make_context: Callable[..., Context], tmp_path: Path,
                                     database_url: str) -> None:
    ctx = make_context()
    seed_reviews(ctx, datetime.now(UTC))  # the CLI reads the real clock
    env = settings_env(tmp_path, database_url, AWARENESS_REPORTS_PRECISION_MIN_DECISIONS="5")
    runner = CliRunner()
    out = runner.invoke(cli, ["topics", "list", "--json"], env=env)
    assert out.exit_code == 0, out.output
    by_slug = {row["slug"]: row["precision"] for row in json.loads(out.output)}
    assert by_slug["leadership"] == {
        "key": "leadership", "name": "Leadership", "flagged": True, "trend": "falling",
        "30d_approved": 2, "30d_decided": 5, "30d_precision": 0.4,
        "90d_approved": 6, "90d_decided": 10, "90d_precision": 0.6}
    assert by_slug["digital"]["30d_precision"] == 1.0 and not by_slug["digital"]["flagged"]
    out = runner.invoke(cli, ["topics", "list"], env={**env, "COLUMNS": "200"})
    assert out.exit_code == 0, out.output
    assert "40% of 5 !" in out.output and "60% of 10" in out.output
    assert "100% of 3" in out.output and "75% of 4" in out.output


def test_the_stewardship_mail_names_topics_below_the_threshold(
        make_context: Callable[..., Context], clock: Clock, smtp_server) -> None:
    controller, inbox = smtp_server
    ctx = make_context(AWARENESS_MAIL_BACKEND="smtp", AWARENESS_MAIL_SMTP_HOST="127.0.0.1",
                       AWARENESS_MAIL_SMTP_PORT=str(controller.port),
                       AWARENESS_WEB_BASE_URL="https://library.example.nhs.uk",
                       AWARENESS_REPORTS_PRECISION_MIN_DECISIONS="5")
    seed_reviews(ctx, ctx.now())
    seed_records(ctx, clock)
    assert send_stewardship(ctx).sent == ["FG", "LK"]
    parsed = email.message_from_bytes(inbox.messages[0][2], policy=email.policy.strict)
    text = parsed.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "fewer than 50% of the" in text
    assert "* Leadership: 40% of 5 approved (90 days: 60% of 10)" in text
    assert "Digital health and AI" not in text
    html = parsed.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "Leadership: 40% of 5 approved" in html
    assert 'href="https://library.example.nhs.uk/topics/try"' in html


@pytest.mark.db
def test_topics_list_works_before_the_database_exists(tmp_path: Path) -> None:
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'not-yet.db'}")
    out = CliRunner().invoke(cli, ["topics", "list", "--json"], env=env)
    assert out.exit_code == 0, out.output
    assert {row["slug"]: row["precision"] for row in json.loads(out.output)} == {
        "digital": None, "leadership": None}


@pytest.mark.integration
def test_the_try_page_shows_each_topics_precision(make_context: Callable[..., Context]) -> None:
    ctx = make_context(AWARENESS_REPORTS_PRECISION_MIN_DECISIONS="5")
    seed_reviews(ctx, ctx.now())
    librarians.add_librarian(ctx, "alice", PASSWORD)
    sock = listening_socket()
    with LiveServer(create_app(ctx), sock), httpx.Client(
            base_url=f"http://127.0.0.1:{sock.getsockname()[1]}") as client:
        assert login(client).status_code == 303
        page = client.get("/topics/try")
    assert page.status_code == 200
    rows = {row.findtext("th/a"): [" ".join("".join(td.itertext()).split())
                                   for td in row.findall("td")]
            for row in parse(page.text).iter("tr") if row.find("th/a") is not None}
    assert rows == {"Digital health and AI": ["100% of 3", "75% of 4", "rising"],
                    "Leadership": ["40% of 5", "60% of 10", "falling"]}
    assert "below 50%" in page.text and page.text.count('class="flagged"') == 1
