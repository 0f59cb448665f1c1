"""Topic tools over a real database: dry runs, re-matching, `awareness check`, the CLI and the
"try a query" web page (served by uvicorn on 127.0.0.1)."""

from __future__ import annotations

import dataclasses
import json
import re
import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from markupsafe import escape
from sqlalchemy import select

from awareness.cli import cli
from awareness.errors import AwarenessError
from awareness.service.checks import check_all
from awareness.service.context import Context
from awareness.service.topics import parse_since, rematch, try_query
from awareness.settings import load_settings
from awareness.storage.models import (
    DeliveryItem,
    DriverRecordRow,
    Item,
    Match,
    MatchDriver,
    OutboxMessage,
    Review,
    Source,
    Subscriber,
)
from awareness.subscriptions import parse_topic
from awareness.topics.examples import run_examples
from awareness.topics.query import parse_query
from tests.conftest import ROOT, Clock, orm_session, settings_env
from tests.test_web import running_site, signed_in


def add_items(ctx: Context, when: datetime, rows: list[tuple[str, str, str]],
              baseline: frozenset[str] = frozenset()) -> dict[str, int]:
    """Items (source id, key, title) first seen at ``when``; returns ids by key."""
    with orm_session(ctx) as session, session.begin():
        for source_id, publisher in (("nhs-england", "NHS England"),
                                     ("kings-fund", "The King’s Fund")):
            if session.get(Source, source_id) is None:
                session.add(Source(id=source_id, name=publisher, publisher=publisher,
                                   url=f"https://{source_id}.example/feed", kind="feed"))
        session.flush()
        items = {key: Item(source_id=source_id, key=key, title=title, link=None,
                           summary_text="", categories=[], published_at=when,
                           first_seen_at=when, baseline=key in baseline)
                 for source_id, key, title in rows}
        session.add_all(items.values())
        session.flush()
        return {key: item.id for key, item in items.items()}


ROWS = [
    ("nhs-england", "lead", "Leadership in today’s NHS"),
    ("kings-fund", "talent", "Talent management for boards"),
    ("kings-fund", "leaders", "Leaders and leadership: leaders everywhere"),
    ("nhs-england", "flu", "Flu jab uptake rises"),
]


# ---------------------------------------------------------------- dry runs

def test_parse_since() -> None:
    assert parse_since("30d") == timedelta(days=30)
    assert parse_since("12h") == timedelta(hours=12)
    assert parse_since("2w") == timedelta(weeks=2)
    for bad in ("", "30", "d", "3y", "-1d"):
        with pytest.raises(AwarenessError, match="expected a number and h, d or w"):
            parse_since(bad)
    for nothing in ("0d", "00h"):  # well formed, but no period: said so, not "expected …"
        with pytest.raises(AwarenessError, match="a period of nothing finds nothing"):
            parse_since(nothing)


def test_try_ranks_explains_and_counts_per_source(make_context: Callable[..., Context],
                                                  clock: Clock) -> None:
    ctx = make_context()
    add_items(ctx, clock.now - timedelta(days=2), ROWS)
    add_items(ctx, clock.now - timedelta(days=40), [("nhs-england", "old", "Old leadership")])
    result = try_query(ctx, parse_query('leader* OR "talent management"'), timedelta(days=30))
    assert result.searched == 4
    assert result.per_source == {"kings-fund": (2, 2), "nhs-england": (1, 2)}
    assert result.matches[0].title == "Leaders and leadership: leaders everywhere"
    assert {m.title for m in result.matches} == {
        "Leadership in today’s NHS", "Talent management for boards",
        "Leaders and leadership: leaders everywhere"}
    assert all(m.explanation[0].startswith("+ ") for m in result.matches)
    assert result.as_json()["matched"] == 3
    with orm_session(ctx) as session:
        assert session.scalars(select(Match)).all() == [], "a dry run stores nothing"


def test_try_counts_every_match_whatever_it_shows(make_context: Callable[..., Context],
                                                  clock: Clock) -> None:
    # "matched" once counted the matches shown: 2 with --limit 2 when 47 had matched.
    ctx = make_context()
    add_items(ctx, clock.now - timedelta(days=2), ROWS)
    result = try_query(ctx, parse_query('leader* OR "talent management"'), timedelta(days=30),
                       limit=1)
    assert [m.title for m in result.matches] == ["Leaders and leadership: leaders everywhere"]
    assert result.matched == 3 and result.as_json()["matched"] == 3


def test_try_can_search_the_source_field(make_context: Callable[..., Context],
                                         clock: Clock) -> None:
    ctx = make_context()
    add_items(ctx, clock.now - timedelta(days=1), ROWS)
    result = try_query(ctx, parse_query('leader* AND source:"kings fund"'), timedelta(days=7))
    assert [m.source_id for m in result.matches] == ["kings-fund"]


# ---------------------------------------------------------------- re-matching

def test_rematch_adds_updates_withdraws_and_never_touches_what_was_sent(
        make_context: Callable[..., Context], clock: Clock) -> None:
    ctx = make_context()
    when = clock.now - timedelta(days=3)
    ids = add_items(ctx, when, [
        ("nhs-england", "new", "Leadership in today’s NHS"),
        ("nhs-england", "sent", "Leadership that was sent"),
        ("nhs-england", "stale", "Flu jab uptake rises"),
        ("nhs-england", "reviewed", "Flu vaccines approved"),
        ("nhs-england", "again", "Leaders meet"),
        ("nhs-england", "base", "Leadership from the back catalogue"),
    ], baseline=frozenset({"base"}))
    ids |= add_items(ctx, clock.now - timedelta(days=30),
                     [("nhs-england", "old", "Old leadership")])
    with orm_session(ctx) as session, session.begin():
        def old_match(key: str, status: str) -> Match:
            match = Match(item_id=ids[key], topic_slug="leadership", status=status,
                          hits=[{"term": "flu", "field": "title", "word": "flu"}], score=1.0,
                          created_at=when, profile_version="old")
            session.add(match)
            session.flush()
            return match
        sent = old_match("sent", "approved")
        stale = old_match("stale", "pending")
        driver = DriverRecordRow(slug="people-plan", kind="driver", title="People Plan",
                                 tags=["Leadership"], fields={}, created_at=when,
                                 updated_at=when)
        session.add(driver)
        session.flush()
        session.add(MatchDriver(match_id=stale.id, driver_id=driver.id, kind="related",
                                score=0.5, reason="shares the tag Leadership"))
        reviewed = old_match("reviewed", "approved")
        old_match("again", "pending")
        session.add(Review(match_id=reviewed.id, librarian="alice", decision="approved",
                           note="", decided_at=when))
        subscriber = Subscriber(email="a@nhs.example", frequency="weekly", token="t" * 32,
                                created_at=when)
        session.add(subscriber)
        session.flush()
        delivery = OutboxMessage(kind="digest", key=f"{subscriber.id}/weekly:2026-W47",
                                 subscriber_id=subscriber.id, sender="a@x", recipient="b@x",
                                 status="sent", message_id="<m@x>", message=b"",
                                 created_at=when, sent_at=when)
        session.add(delivery)
        session.flush()
        session.add(DeliveryItem(outbox_id=delivery.id, subscriber_id=subscriber.id,
                                 item_id=ids["sent"], match_id=sent.id))
    topic = ctx.topic("leadership")
    result = rematch(ctx, topic, timedelta(days=14))
    assert (result.searched, result.new, result.updated, result.withdrawn, result.kept_sent,
            result.kept_reviewed) == (5, 1, 1, 1, 1, 1)
    with orm_session(ctx) as session:
        rows = {m.item_id: m for m in session.scalars(select(Match))}
    assert rows[ids["new"]].status == "pending"
    assert rows[ids["new"]].profile_version == topic.query.version
    assert rows[ids["new"]].hits == [{"term": "leader*", "field": "title",
                                      "word": "leadership"}]
    assert rows[ids["sent"]].profile_version == "old", "sent matches are left alone"
    assert rows[ids["sent"]].hits[0]["word"] == "flu"
    assert ids["stale"] not in rows
    with orm_session(ctx) as session:
        links = session.scalars(select(MatchDriver)).all()
    assert {link.match_id for link in links} <= {m.id for m in rows.values()}
    assert rows[ids["reviewed"]].status == "approved"
    assert rows[ids["again"]].profile_version == topic.query.version
    assert rows[ids["again"]].status == "pending"
    assert ids["base"] not in rows and ids["old"] not in rows
    again = rematch(ctx, topic, timedelta(days=14))
    assert (again.new, again.withdrawn) == (0, 0), "re-matching twice changes nothing more"


def test_rematch_leaves_an_item_over_the_matching_budget_as_it_was(
        make_context: Callable[..., Context], clock: Clock,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("awareness.topics.text.DEFAULT_BUDGET", 3)  # steps, per item
    ctx = make_context()
    ids = add_items(ctx, clock.now - timedelta(days=1), [
        ("nhs-england", "wordy", "Leadership in today’s NHS"),  # the phrase scans 4 words
        ("nhs-england", "short", "Leaders meet"),  # the phrase cannot occur: nothing scanned
    ])
    topic = dataclasses.replace(ctx.topic("leadership"),
                                query=parse_query('"leadership in" OR leader*'))
    result = rematch(ctx, topic, timedelta(days=7))
    assert (result.searched, result.new, result.over_budget) == (2, 1, 1)
    with orm_session(ctx) as session:
        assert session.scalars(select(Match.item_id)).all() == [ids["short"]]


# ---------------------------------------------------------------- awareness check

def test_check_runs_topic_examples_and_reports_failures(tmp_path: Path) -> None:
    folder = tmp_path / "subscriptions"
    (folder / "topics").mkdir(parents=True)
    (folder / "sources.toml").write_text("", encoding="utf-8")
    (folder / "topics" / "t.toml").write_text('''name = "t"
description = "d"
query = "leader* NOT flu"
[[examples]]
title = "Flu leaders meet"
expect = "match"
''', encoding="utf-8")
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}",
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(folder))
    errors, _ = check_all(load_settings(environ=env, cwd=tmp_path))
    assert len(errors) == 1
    assert errors[0].startswith(f"{folder / 'topics' / 't.toml'}: examples #1: expected a match")
    assert "- NOT flu  [present: title: flu]" in errors[0]


def test_check_passes_on_the_shipped_topics(tmp_path: Path) -> None:
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    errors, _ = check_all(load_settings(environ=env, cwd=tmp_path))
    assert errors == []


# ---------------------------------------------------------------- CLI

def test_cli_try_and_rematch(make_context: Callable[..., Context], tmp_path: Path,
                             database_url: str) -> None:
    ctx = make_context()
    add_items(ctx, datetime.now(UTC) - timedelta(days=1), ROWS)  # the CLI reads the real clock
    env = settings_env(tmp_path, database_url)
    runner = CliRunner()
    out = runner.invoke(cli, ["topics", "try", "--query", "leader*", "--json"], env=env)
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["matched"] == 2 and data["searched"] == 4
    out = runner.invoke(cli, ["topics", "try", "--query", "leader*", "--limit", "1", "--json"],
                        env=env)
    data = json.loads(out.output)
    assert data["matched"] == 2 and len(data["matches"]) == 1
    out = runner.invoke(cli, ["topics", "try", "--query", "leader*", "--limit", "-1"], env=env)
    assert out.exit_code == 2 and "-1" in out.output  # refused, not taken as "all but one"
    out = runner.invoke(cli, ["topics", "try", "leadership", "--since", "7d"], env=env)
    assert out.exit_code == 0, out.output
    assert "3 of 4 items" in out.output and "+ leader*" in out.output
    # It gave its start as "since 2026-11-30 09:00 UTC", not in the service's zone.
    assert re.search(r"items since \w{3} \d{1,2} \w{3} \d{4}, \d\d:\d\d \(UK time\) would",
                     out.output), out.output
    out = runner.invoke(cli, ["topics", "try", "--query", "leader* AND ("], env=env)
    assert out.exit_code == 2
    assert "unbalanced parenthesis" in out.output and "              ^" in out.output
    out = runner.invoke(cli, ["topics", "try"], env=env)
    assert out.exit_code == 2
    assert ('nothing to try: give a TOPIC (known topics: digital, leadership) or a draft '
            'strategy with --query "..."') in out.output
    out = runner.invoke(cli, ["topics", "try", "leadership", "--query", "leader*"], env=env)
    assert out.exit_code == 2
    assert 'give either a TOPIC or --query "...", not both' in out.output
    out = runner.invoke(cli, ["topics", "try", "leadership", "--spelling", "uk-us"], env=env)
    assert out.exit_code == 2  # not silently ignored: the topic has its own spelling option
    assert "--spelling is for a --query draft; the topic leadership is tried with its own" in (
        out.output)
    out = runner.invoke(cli, ["topics", "rematch", "leadership", "--json"], env=env)
    assert out.exit_code == 0, out.output
    assert json.loads(out.output)["new"] == 3
    # Run again on the same topic: nothing is new, and what still matches is said as such,
    # not as "3 updated" as though the topic had changed them.
    again = runner.invoke(cli, ["topics", "rematch", "leadership"], env=env).output
    assert "0 new (waiting for review), 3 still matching (scores and driver links " in again
    out = runner.invoke(cli, ["topics", "rematch", "nope"], env=env)
    assert out.exit_code == 2 and "no topic 'nope'" in out.output


# ---------------------------------------------------------------- web page

@pytest.mark.integration
def test_the_try_page_needs_a_librarian(make_context: Callable[..., Context]) -> None:
    with running_site(make_context) as site, site.client() as client:
        response = client.get("/topics/try?q=leader*")
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=%2Ftopics%2Ftry%3Fq%3Dleader%2A"


@pytest.mark.integration
def test_the_try_page_shows_ranked_highlighted_results(
        make_context: Callable[..., Context]) -> None:
    with running_site(make_context) as site, signed_in(site) as (client, _):
        add_items(site.ctx, datetime.now(UTC) - timedelta(days=1), ROWS)
        page = client.get("/topics/try")
        assert page.status_code == 200 and "<textarea" in page.text
        page = client.get("/topics/try", params={"q": "leader*", "since": "7d"})
        assert page.status_code == 200
        assert "<mark>Leadership</mark> in today’s NHS" in page.text
        assert page.text.index("<mark>Leaders</mark> and") < page.text.index(
            "<mark>Leadership</mark> in today")
        assert "<code>leader*</code> found" in page.text
        page = client.get("/topics/try", params={"topic": "leadership", "since": "7d"})
        assert "Talent management" in page.text
        page = client.get("/topics/try", params={"q": '<b>x</b> AND ("'})
        assert page.status_code == 200
        assert "unbalanced quote" in page.text and "<b>x</b>" not in page.text
        page = client.get("/topics/try", params={"topic": "nope"})
        assert page.status_code == 400 and "no topic &#39;nope&#39;" in page.text


ORGANISATION_TOPIC = """name = "Organisation"
description = "Organisational culture, from one publisher."
query = '"organisational culture"'
spelling = "uk-us"
sources = ["kings-fund"]
"""


def heading_of_results(html: str) -> str:
    """The text of the results' heading: which strategy was tried, and how many matched."""
    start = html.index('<h2 id="tried">') + len('<h2 id="tried">')
    return html[start:html.index("</h2>", start)]


def titles_tried(html: str) -> list[str]:
    """The titles of the matches shown, without their marks."""
    return [re.sub(r"<[^>]+>", "", title).strip()
            for title in re.findall(r'<h3 class="match-title">(.*?)</h3>', html, re.S)]


@pytest.mark.integration
def test_the_try_page_tries_the_topic_chosen_not_the_text_left_in_the_box(
        make_context: Callable[..., Context], tmp_path: Path) -> None:
    # A librarian tried Leadership, then chose Digital health and AI and pressed the button
    # again: the box still held Leadership's strategy, which won, and a topic's own sources
    # and spelling option were dropped when its text came back as a draft.
    subs = tmp_path / "subs"
    shutil.copytree(ROOT / "subscriptions", subs)
    (subs / "topics" / "organisation.toml").write_text(ORGANISATION_TOPIC, encoding="utf-8")
    with running_site(make_context, AWARENESS_PATHS_SUBSCRIPTIONS=str(subs)) as site, \
            signed_in(site) as (client, _):
        add_items(site.ctx, site.ctx.now() - timedelta(days=1), [
            *ROWS, ("nhs-england", "ai", "Artificial intelligence reads scans"),
            ("kings-fund", "us", "Organizational culture on boards"),
            ("nhs-england", "uk", "Organisational culture in trusts")])
        leadership = site.ctx.topic("leadership").query.text
        page = client.get("/topics/try", params={"q": leadership, "topic": "digital",
                                                 "since": "7d"})
        assert titles_tried(page.text) == ["Artificial intelligence reads scans",
                                           "Digital item, no review"]
        assert heading_of_results(page.text) == (
            "The saved topic Digital health and AI: 2 of 12 items would have matched")
        assert '<option value="digital" selected>' in page.text
        organisation = site.ctx.topic("organisation").query.text
        page = client.get("/topics/try", params={"q": organisation, "topic": "organisation",
                                                 "since": "7d"})
        assert titles_tried(page.text) == ["Organizational culture on boards"]
        assert heading_of_results(page.text) == (
            "The saved topic Organisation: 1 of 3 items would have matched")
        # Sources by their names, as staff know them, not their ids.
        assert "Only from The King’s Fund<" in page.text and "UK and US spellings on" in page.text
        assert "kings-fund" not in page.text.partition("<section class=\"tried\"")[2]
        # The draft box starts from the topic's strategy; trying it is a draft, as written.
        assert f'aria-describedby="q-hint">{escape(organisation)}</textarea>' in page.text
        page = client.get("/topics/try", params={"q": organisation, "since": "7d"})
        assert heading_of_results(page.text) == (
            "Your draft: 1 of 12 items would have matched")
        assert titles_tried(page.text) == ["Organisational culture in trusts"]
        assert "Every source" in page.text and "UK and US spellings off" in page.text
        assert '<option value="organisation" selected>' not in page.text


@pytest.mark.integration
def test_the_try_page_counts_every_match_not_only_those_shown(
        make_context: Callable[..., Context]) -> None:
    # The heading counted the matches shown, so it never said more than 100.
    with running_site(make_context) as site, signed_in(site) as (client, _):
        add_items(site.ctx, site.ctx.now() - timedelta(days=1),
                  [("nhs-england", f"zebra-{n}", f"Zebra crossing {n}") for n in range(101)])
        page = client.get("/topics/try", params={"q": "zebra*", "since": "7d"})
        assert heading_of_results(page.text).startswith("Your draft: 101 of ")
        assert len(titles_tried(page.text)) == 100
        assert "The best 100 are shown below." in page.text


@pytest.mark.integration
def test_a_draft_is_made_a_topic_file_that_passes_the_check(
        make_context: Callable[..., Context], tmp_path: Path) -> None:
    # Topics are files: a librarian without the server's folder could try a strategy but
    # had to copy it into TOML by hand (quotes to escape) and write its test set from memory.
    subs = tmp_path / "subs"
    shutil.copytree(ROOT / "subscriptions", subs)
    before = sorted(p.name for p in (subs / "topics").iterdir())
    with running_site(make_context, AWARENESS_PATHS_SUBSCRIPTIONS=str(subs)) as site, \
            signed_in(site) as (client, _):
        ids = add_items(site.ctx, site.ctx.now() - timedelta(days=1), [
            *ROWS, ("nhs-england", "board", "Boards and governance")])
        with orm_session(site.ctx) as session, session.begin():
            session.get(Item, ids["board"]).summary_text = "What leaders on boards need."
        draft = {"q": 'leader* OR "talent management"', "since": "7d",
                 "name": "Leaders and boards", "description": "  Leading  NHS boards. ",
                 "review": "none", "example": [str(ids["lead"]), str(ids["board"])]}
        page = client.get("/topics/try", params={"q": draft["q"], "since": "7d"})
        assert 'action="/topics/try/file"' in page.text  # "Make it a topic", under a draft
        assert f'name="example" value="{ids["board"]}"' in page.text
        got = client.get("/topics/try/file", params=draft)
        assert got.status_code == 200, got.text
        assert got.headers["content-disposition"] == (
            'attachment; filename="leaders-and-boards.toml"')
        assert got.headers["content-type"] == "application/toml; charset=utf-8"
        topic = parse_topic(got.text, "leaders-and-boards.toml", "leaders-and-boards")
        assert (topic.name, topic.description, topic.review, topic.published) == (
            "Leaders and boards", "Leading NHS boards.", "none", False)
        assert topic.query.ast == parse_query(draft["q"]).ast
        # Its test set: each ticked match with only what the strategy needs to find it.
        assert [(e.title, e.summary) for e in topic.examples] == [
            ("Leadership in today’s NHS", ""),
            ("Boards and governance", "What leaders on boards need.")]
        assert run_examples(topic) == []
        (subs / "topics" / "leaders-and-boards.toml").write_text(got.text, encoding="utf-8")
        assert check_all(site.ctx.settings)[0] == []  # `awareness check` finds nothing wrong
        (subs / "topics" / "leaders-and-boards.toml").unlink()
        # Nothing was saved: the folder is as it was.
        assert sorted(p.name for p in (subs / "topics").iterdir()) == before
        published = client.get("/topics/try/file", params={**draft, "published": "yes",
                                                           "slug": "boards"})
        assert published.headers["content-disposition"] == 'attachment; filename="boards.toml"'
        assert "published" not in published.text and 'review = "none"' in published.text


@pytest.mark.integration
def test_making_a_topic_file_says_what_to_put_right(
        make_context: Callable[..., Context]) -> None:
    with running_site(make_context) as site, signed_in(site) as (client, _):
        assert client.get("/topics/try/file").status_code == 400
        page = client.get("/topics/try/file", params={"q": "leader*", "name": " LEADERSHIP "})
        assert page.status_code == 400 and "There is a problem" in page.text
        assert "The topic leadership is already called Leadership." in page.text
        assert "Say in a sentence or two what the topic covers." in page.text
        assert "There is already a topic leadership: choose another file name." in page.text
        assert 'aria-invalid="true"' in page.text and "<mark>" in page.text  # results kept
        page = client.get("/topics/try/file", params={
            "q": "leader* AND (", "name": "New", "description": "New.", "slug": "Bad Name!"})
        assert page.status_code == 400
        assert "Write a strategy that can be read before making it a topic." in page.text
        assert "Give a file name of lower-case letters, digits and single hyphens" in page.text
        # A topic's own form is not a draft: only ``q`` is made a topic.
        page = client.get("/topics/try/file", params={"topic": "leadership", "name": "N",
                                                      "description": "D."})
        assert page.status_code == 400 and "Write a strategy" in page.text
        with site.client() as anonymous:
            response = anonymous.get("/topics/try/file?q=leader*")
            assert response.status_code == 303
            assert response.headers["location"].startswith("/login?next=")


@pytest.mark.integration
def test_an_edited_strategy_becomes_the_topics_file_when_its_test_set_passes(
        make_context: Callable[..., Context], tmp_path: Path) -> None:
    # The precision table says "try a narrower strategy here before you edit its file", and
    # then the librarian had to carry the strategy into the file by hand.
    subs = tmp_path / "subs"
    shutil.copytree(ROOT / "subscriptions", subs)
    before = (subs / "topics" / "leadership.toml").read_text(encoding="utf-8")
    with running_site(make_context, AWARENESS_PATHS_SUBSCRIPTIONS=str(subs)) as site, \
            signed_in(site) as (client, _):
        add_items(site.ctx, site.ctx.now() - timedelta(days=1), ROWS)
        tried = client.get("/topics/try", params={"topic": "leadership", "since": "7d"})
        assert '<input type="hidden" name="from" value="leadership">' in tried.text
        wider = site.ctx.topic("leadership").query.text + 'OR "board development"\n'
        draft = client.get("/topics/try", params={"q": wider, "from": "leadership"})
        assert "Update Leadership" in draft.text and "Make it a new topic" in draft.text
        got = client.get("/topics/try/update", params={"q": wider, "from": "leadership",
                                                       "since": "7d"})
        assert got.status_code == 200, got.text
        assert got.headers["content-disposition"] == 'attachment; filename="leadership.toml"'
        # Only the strategy changed: comments, layout and every other key as they were.
        added = [line for line in got.text.splitlines() if line not in before.splitlines()]
        assert added == ['OR "board development"']
        assert before.split("query = ")[0] == got.text.split("query = ")[0]
        assert before.split("review = ")[1] == got.text.split("review = ")[1]
        topic = parse_topic(got.text, "leadership.toml", "leadership")
        assert topic.query.ast == parse_query(wider).ast and run_examples(topic) == []
        # A strategy that loses what the test set says it must find is refused, saying which.
        narrower = client.get("/topics/try/update", params={
            "q": '"talent management"', "from": "leadership"})
        assert narrower.status_code == 400 and "It cannot replace Leadership yet" in (
            narrower.text)
        assert "expected a match for &#34;Leadership in today’s NHS" in narrower.text
        other = client.get("/topics/try/update", params={"q": wider, "from": "leadership",
                                                         "spelling": "uk-us"})
        assert other.status_code == 400
        assert "Leadership has UK and US spellings off: try the draft that way" in other.text
        assert client.get("/topics/try/update", params={"q": wider}).status_code == 400
    assert (subs / "topics" / "leadership.toml").read_text(encoding="utf-8") == before


@pytest.mark.integration
def test_the_review_page_marks_matched_words_in_summaries(
        make_context: Callable[..., Context]) -> None:
    with running_site(make_context) as site, signed_in(site) as (client, _):
        when = datetime.now(UTC)
        ids = add_items(site.ctx, when, [("nhs-england", "marked", "Boards today")])
        with orm_session(site.ctx) as session, session.begin():
            item = session.get_one(Item, ids["marked"])
            item.summary_text = "Why <compassionate> leadership matters & what to do."
            session.add(Match(item_id=item.id, topic_slug="leadership", status="pending",
                              hits=[{"term": "leader*", "field": "summary", "word": "leadership"}],
                              score=9.0, created_at=when))
        page = client.get("/review")
        assert ("Why &lt;compassionate&gt; <mark>leadership</mark> matters &amp; what to do."
                in page.text)
