"""The librarians' workbench pages (issue 14, item 1) over a real uvicorn server on
127.0.0.1: the dashboard, items and one item, sources with "test now" (against a feed server
on loopback) and pause, topics with their test sets, and sends with retry and the next-digest
preview. None of it reaches anyone not signed in, a GET changes nothing, and every POST needs
the session's token.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from datetime import date, timedelta
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from click.testing import CliRunner
from markupsafe import escape
from sqlalchemy import func, select, update

from awareness.cli import cli
from awareness.mail.outbox import DRIVER_CHANGED, driver_gone_key
from awareness.service import listing
from awareness.service.context import Context
from awareness.service.librarians import add_librarian
from awareness.service.polling import sync_sources
from awareness.storage import sources as source_store
from awareness.storage.db import reading
from awareness.storage.models import (
    DriverRecordRow,
    Item,
    Match,
    OutboxMessage,
    Source,
    Subscriber,
)
from awareness.web import dashboard, items, sends, sources, topic_admin
from tests.conftest import ROOT, FeedServer, Response, orm_session, settings_env
from tests.test_web import (
    EMAIL,
    HOSTILE_TITLE,
    PASSWORD,
    WHEN,
    Site,
    assert_inert,
    goes_to_login,
    login,
    parse,
    running_site,
    signed_in,
)

FIXTURE_TIERS = {"site": "integration", "bench": "integration"}
GONE_KEY = driver_gone_key("map", "interim-nhs-people-plan", WHEN)
MODULES = (dashboard, items, sources, topic_admin, sends)
FEED = b"""<?xml version="1.0"?><rss version="2.0"><channel><title>Loopback</title>
<item><title>Workforce plan refreshed</title><link>https://example.org/plan</link>
<pubDate>Fri, 20 Nov 2026 09:00:00 GMT</pubDate><description>The plan.</description></item>
<item><title>Second item</title><link>https://example.org/two</link></item>
</channel></rss>"""


@pytest.fixture
def site(make_context: Callable[..., Context], feed_server: FeedServer,
         tmp_path: Path) -> Iterator[Site]:
    """The seeded site, its subscriptions a copy of the repository's with one more source,
    served by the feed server on loopback."""
    subs = tmp_path / "subs"
    shutil.copytree(ROOT / "subscriptions", subs)
    with (subs / "sources.toml").open("a", encoding="utf-8") as file:
        file.write('\n[[source]]\nid = "loopback"\nname = "Loopback news"\n'
                   'publisher = "Loopback Trust"\nkind = "feed"\n'
                   f'url = "{feed_server.url("/feed.xml")}"\n')
    feed_server.routes["/feed.xml"] = Response(
        FEED, headers={"content-type": "application/rss+xml"})
    with running_site(make_context, AWARENESS_PATHS_SUBSCRIPTIONS=str(subs)) as running:
        yield running


@pytest.fixture
def bench(site: Site) -> Site:
    """The seeded site plus: the file's sources stored, a broken source, a story sibling of
    the good item, a sent and a failed message."""
    sync_sources(site.ctx)
    with orm_session(site.ctx) as session, session.begin():
        session.execute(update(Source).where(Source.id == "loopback").values(
            state="broken", error_count=7, last_error="HTTP 500 from the server"))
        good = session.scalar(select(Match.item_id).where(Match.id == site.ids["good"]))
        session.execute(update(Item).where(Item.id == good).values(story_id=good))
        session.add(Item(source_id="hostile", key="copy", story_id=good,
                         title="Compassionate leadership programme (copy)",
                         link="https://evil.example/copy", first_seen_at=WHEN))
        for status, error in (("sent", None), ("failed", "550 5.2.2 mailbox full")):
            session.add(OutboxMessage(
                kind="digest", key=f"1/weekly:2026-W4{len(status)}", subscriber_id=None,
                sender="library@trust.nhs.uk", recipient=EMAIL, message_id=f"<{status}@x>",
                message=b"x", status=status, attempts=5 if error else 1, created_at=WHEN,
                sent_at=WHEN if status == "sent" else None, last_error=error))
    return site


@pytest.fixture
def librarian(bench: Site) -> Iterator[tuple[httpx.Client, str]]:
    with signed_in(bench) as signed:
        yield signed


def state_of(site: Site, source_id: str) -> str:
    with reading(site.ctx.engine) as conn:
        return source_store.states(conn, [source_id])[source_id].state


def outbox_statuses(site: Site) -> list[str]:
    with orm_session(site.ctx) as session:
        return list(session.scalars(select(OutboxMessage.status).order_by(OutboxMessage.id)))


def everything(site: Site) -> tuple[object, ...]:
    """What any of these pages could change."""
    with orm_session(site.ctx) as session:
        return (site.snapshot(), outbox_statuses(site),
                sorted(session.execute(select(Source.id, Source.state,
                                              Source.next_check_at)).all()),
                session.scalar(select(func.count(Item.id))))


def text_of(page: str) -> str:
    return " ".join("".join(parse(page).itertext()).split())


GETS = ["/dashboard", "/dashboard?format=json", "/items", "/items?q=leadership",
        "/items?format=json", "/items/1", "/sources", "/sources?format=json", "/topics/manage",
        "/topics/manage?format=json", "/sends", "/sends?status=failed", "/sends/next",
        f"/sends/next?email={quote(EMAIL)}"]
POSTS = ["/sources/loopback/test", "/sources/loopback/pause", "/sources/loopback/resume",
         "/sends/1/retry"]


# --- librarians only --------------------------------------------------------------------------

def test_every_route_is_listed_here() -> None:
    every = {(method, route.path) for module in MODULES for route in module.routes()
             for method in route.methods or () if method != "HEAD"}
    assert every == {("GET", "/dashboard"), ("GET", "/items"), ("GET", "/items/{item_id:int}"),
                     ("GET", "/sources"), ("POST", "/sources/{source_id}/test"),
                     ("POST", "/sources/{source_id}/pause"),
                     ("POST", "/sources/{source_id}/resume"), ("GET", "/topics/manage"),
                     ("GET", "/sends"), ("GET", "/sends/next"),
                     ("POST", "/sends/{message_id:int}/retry")}


def test_visitors_are_sent_to_login_and_nothing_changes(bench: Site,
                                                        feed_server: FeedServer) -> None:
    before = everything(bench)
    with bench.client() as client:
        for path in GETS:
            response = client.get(path)
            assert goes_to_login(response), path
            assert response.headers["location"] == f"/login?next={quote(path, safe='')}"
            assert "@" not in response.text and "leadership" not in response.text, path
        for path in POSTS:
            assert goes_to_login(client.post(path, data={"csrf": "x"})), path
    assert everything(bench) == before
    assert feed_server.requests == []  # "test now" fetched nothing for a visitor


def test_get_changes_nothing(bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    before = everything(bench)
    for path in GETS:
        assert client.get(path).status_code == 200, path
    for path in POSTS:
        assert client.get(path).status_code == 405, path
    assert everything(bench) == before


def test_every_post_needs_the_token(bench: Site, librarian: tuple[httpx.Client, str],
                                   feed_server: FeedServer) -> None:
    client, token = librarian
    before = everything(bench)
    for path in POSTS:
        assert client.post(path, data={"csrf": "forged"}).status_code == 403, path
        assert client.post(path, data={"csrf": token},
                           headers={"origin": "https://evil.example"}).status_code == 403, path
    assert everything(bench) == before
    assert feed_server.requests == []


def test_home_is_the_dashboard(bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    assert client.get("/").headers["location"] == "/dashboard"
    page = client.get("/dashboard").text
    nav = next(el for el in parse(page).iter("nav") if el.get("aria-label") == "Main")
    links = {a.text: a.get("href") for a in nav.iter("a")}
    assert {"Dashboard": "/dashboard", "Items": "/items", "Sources": "/sources",
            "Topics": "/topics/manage", "Sends": "/sends"}.items() <= links.items()


# --- the dashboard ----------------------------------------------------------------------------

def test_dashboard_shows_the_week(bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    with orm_session(bench.ctx) as session, session.begin():
        session.execute(update(DriverRecordRow).where(
            DriverRecordRow.slug == "interim-nhs-people-plan").values(
            review_due_on=date(2026, 10, 1)))
        session.execute(update(DriverRecordRow).where(DriverRecordRow.slug == "evil-record")
                        .values(review_due_on=date(2027, 6, 1)))  # not due for months
    board = client.get("/dashboard?format=json").json()
    assert board["pending"] == [{"topic": "leadership", "title": "Leadership", "count": 2}]
    # nhs-england and hostile are not in sources.toml (disabled on purpose): not listed.
    assert [row["id"] for row in board["sources"]] == ["loopback"]
    names = [send["name"] for send in board["sends"]]
    assert "Daily digests" in names and "Weekly digests" in names
    # Monday 23 November 2026, 09:00 UTC: tomorrow's daily and next Monday's weekly, 07:00 UK.
    at = {send["name"]: send["at"] for send in board["sends"]}
    assert at["Daily digests"] == "2026-11-24T07:00:00+00:00"
    assert at["Weekly digests"] == "2026-11-30T07:00:00+00:00"
    assert {"kind": "digest", "status": "failed", "count": 1} in board["unsent"]
    assert board["records_due"] == [{"slug": "interim-nhs-people-plan",
                                     "title": "Interim NHS People Plan", "due": "overdue",
                                     "review_date": "2026-10-01"}]
    assert board["records"] == 2  # the one due, and a case study with no review date
    # Neither names a member: the steering group's to adopt (the card had no way to see
    # them, nor a link to the attention page).
    assert (board["records_needing_attention"], board["records_no_member"],
            board["records_no_review_date"]) == (0, 2, 0)
    html = client.get("/dashboard").text
    page = text_of(html)
    assert "Leadership 2" in page and "HTTP 500 from the server" in page
    assert "1 message failed" in page and "Tue 24 Nov 2026, 07:00" in page
    assert "Interim NHS People Plan overdue 1 October 2026" in page
    assert "2 records have no one responsible: no weekly e-mail reminds anyone of them." in page
    assert "Records needing attention: 0 on the members' lists." in page
    links = {a.get("href") for a in parse(html).iter("a")}
    assert {"/drivers/attention", "/drivers/attention#no-one-responsible"} <= links


def test_administrators_see_the_placeholder_addresses_on_the_dashboard(
        bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    # The shipped members.toml's addresses are placeholders: `awareness check` warns, and
    # the administrators' dashboard says the same; other librarians' does not.
    client, _ = librarian
    members = bench.ctx.subscriptions_dir / "members.toml"
    warning = (f"{members}:12: FG's address fg.example@example.nhs.uk is a placeholder: "
               "stewardship mail to it goes nowhere")
    assert warning in client.get("/dashboard?format=json").json()["placeholders"]
    section = next(s for s in parse(client.get("/dashboard").text).iter("section")
                   if s.get("aria-labelledby") == "h-placeholders")
    assert warning in [" ".join("".join(li.itertext()).split()) for li in section.iter("li")]
    add_librarian(bench.ctx, "rita", PASSWORD, role="reviewer")
    with bench.client() as reviewer:
        assert login(reviewer, "rita").status_code == 303
        assert reviewer.get("/dashboard?format=json").json()["placeholders"] == []
        assert "Placeholder addresses" not in reviewer.get("/dashboard").text


def test_dashboard_lists_unsent_messages_by_the_names_shown(
        bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    # They were in the order of the kinds behind the names ("digest" before "signup_confirm"),
    # so "Topic digests" came before "Sign-up confirmations" and "Source health reports".
    client, _ = librarian
    with orm_session(bench.ctx) as session, session.begin():
        for number, (kind, status) in enumerate((
                ("welcome", "pending"), ("sources_report", "pending"),
                ("signup_confirm", "pending"), ("signup_confirm", "failed"),
                ("bulletin", "pending"), ("digest", "pending"))):
            session.add(OutboxMessage(
                kind=kind, key=f"{number}/x", sender="library@trust.nhs.uk", recipient=EMAIL,
                message_id=f"<{number}@x>", message=b"x", status=status, attempts=0,
                created_at=WHEN))
    section = next(s for s in parse(client.get("/dashboard").text).iter("section")
                   if s.get("aria-labelledby") == "h-outbox")
    shown = [" ".join("".join(a.itertext()).split()) for a in section.iter("a")
             if "kind=" in (a.get("href") or "")]
    assert shown == ["Bulletin copies to readers, pending", "Sign-up confirmations, failed",
                     "Sign-up confirmations, pending", "Source health reports, pending",
                     "Topic digests, failed", "Topic digests, pending",
                     "Welcome mails, pending"]


# --- items ------------------------------------------------------------------------------------

def test_items_search_in_the_search_language(bench: Site,
                                             librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    every = client.get("/items?format=json").json()
    assert every["total"] == 6 and every["searched"] is None
    found = client.get("/items", params={"q": "compassionate AND leadership",
                                         "format": "json"}).json()
    assert {i["title"] for i in found["items"]} == {
        "NHS sets out compassionate leadership programme",
        "Compassionate leadership programme (copy)"}
    assert found["searched"] == 6
    only = client.get("/items", params={"q": "compassionate", "source": "nhs-england",
                                        "format": "json"}).json()
    assert [i["source_id"] for i in only["items"]] == ["nhs-england"]
    by_topic = client.get("/items", params={"topic": "digital", "format": "json"}).json()
    assert [i["title"] for i in by_topic["items"]] == ["Digital item, no review"]
    assert by_topic["items"][0]["matches"] == [{"topic": "digital", "status": "auto"}]
    assert {i["title"]: i["matches"] for i in found["items"]} == {
        "NHS sets out compassionate leadership programme": [
            {"topic": "leadership", "status": "pending"}],
        "Compassionate leadership programme (copy)": []}
    shown = text_of(client.get("/items", params={"q": "compassionate"}).text)
    assert "Leadership (waiting)" in shown and "no topic" in shown
    later = client.get("/items", params={"from": "2026-11-21", "format": "json"}).json()
    assert later["total"] == 0
    same_day = client.get("/items", params={"from": "2026-11-20", "to": "2026-11-20",
                                            "format": "json"}).json()
    assert same_day["total"] == 6


def test_the_cli_and_the_items_page_list_newest_published_first(
        site: Site, database_url: str, tmp_path: Path) -> None:
    # `items list` said "newest first" and meant by arrival, while showing publication dates;
    # both listings now mean the same: by publication date, an undated item by its arrival.
    # (published, arrived) in arrival order: the old report found last must not be on top,
    # and the undated one sits by its arrival among the others' publication dates.
    day = timedelta(days=1)
    arrivals = {"Embargoed report": (WHEN + 1.25 * day, WHEN + day),
                "Undated report": (None, WHEN + 2 * day),
                "On-time report": (WHEN + 2.5 * day, WHEN + 3 * day),
                "Old report found late": (WHEN - 30 * day, WHEN + 4 * day)}
    with orm_session(site.ctx) as session, session.begin():
        session.add(Source(id="archive", name="Archive", publisher="Archive Trust",
                           url="https://archive.example/feed", kind="feed"))
        session.flush()
        session.add_all(Item(source_id="archive", key=title, title=title, published_at=published,
                             first_seen_at=seen) for title, (published, seen) in arrivals.items())
    expected = ["On-time report", "Undated report", "Embargoed report", "Old report found late"]
    env = settings_env(tmp_path, database_url,
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(site.ctx.subscriptions_dir))
    out = CliRunner().invoke(cli, ["items", "list", "--source", "archive", "--json"], env=env)
    assert out.exit_code == 0, out.output
    assert [item["title"] for item in json.loads(out.output)] == expected
    with signed_in(site) as (client, _):
        for words in ("", "report"):
            page = client.get("/items", params={"source": "archive", "q": words,
                                                "format": "json"}).json()
            assert [item["title"] for item in page["items"]] == expected, words


def test_a_match_sent_without_review_is_called_that_in_tables_and_auto_in_json(
        bench: Site, librarian: tuple[httpx.Client, str], database_url: str,
        tmp_path: Path) -> None:
    # The web said "Sent without review" on the review page but "(auto)" on the items pages,
    # and the command line's tables said `auto`: every table now uses the review page's
    # words, and only JSON (which scripts read) and the options keep the stored value.
    client, _ = librarian
    digital = {"topic": "digital", "format": "json"}
    [row] = client.get("/items", params=digital).json()["items"]
    assert row["matches"] == [{"topic": "digital", "status": "auto"}]
    shown = text_of(client.get("/items", params={"topic": "digital"}).text)
    assert "Digital health and AI (sent without review)" in shown and "(auto)" not in shown
    one = text_of(client.get(f"/items/{row['id']}").text)
    assert "Sent without review" in one and " auto " not in f" {one} "
    env = {**settings_env(tmp_path, database_url,
                          AWARENESS_PATHS_SUBSCRIPTIONS=str(bench.ctx.subscriptions_dir)),
           "COLUMNS": "200"}  # rows unwrapped
    runner = CliRunner()
    listed = runner.invoke(cli, ["matches", "list", "--status", "auto"], env=env)
    assert listed.exit_code == 0, listed.output
    assert "Sent without review" in listed.output and " auto " not in listed.output
    waiting = runner.invoke(cli, ["review", "list"], env=env).output
    assert "Waiting" in waiting and "pending" not in waiting
    refused = runner.invoke(cli, ["review", "withdraw", str(bench.ids["good"])], env=env)
    assert "is waiting, not sent without review" in str(refused.exception)
    runner.invoke(cli, ["review", "withdraw", str(bench.ids["auto"])], env=env)
    undone = runner.invoke(cli, ["review", "undo", str(bench.ids["auto"])], env=env)
    assert "is sent without review again" in undone.output, undone.output
    as_json = runner.invoke(cli, ["matches", "list", "--status", "auto", "--json"], env=env)
    assert {match["status"] for match in json.loads(as_json.output)} == {"auto"}


def test_a_bad_search_says_where(bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    page = client.get("/items", params={"q": "leadership AND ("})
    assert page.status_code == 400
    assert "cannot be read" in page.text
    assert client.get("/items", params={"q": "(", "format": "json"}).json()["column"] >= 1
    for params in ({"source": "nope"}, {"topic": "nope"}, {"from": "31/02/2027"},
                   {"from": "2026-11-21", "to": "2026-11-20"}, {"page": "0"}):
        assert client.get("/items", params=params).status_code == 400, params


BROKEN_QUERY = "leader* OR (talent AND OR management)"
# Wider than a phone: the line wraps at 390 px, and "AND" (column 100) is on a later line.
LONG_BROKEN_QUERY = ('leader* OR "talent management" OR "succession planning" OR '
                     '"organisational development" OR (board* AND OR governance)')


def break_a_topics_query(site: Site, query: str = BROKEN_QUERY) -> str:
    """Leadership's file edited to a query that cannot be read; returns the problem the
    service reports (the file's line, the message and column, the query line, the caret)."""
    site.ctx.topics()  # the good version, which the service goes on with
    path = site.ctx.subscriptions_dir / "topics" / "leadership.toml"
    path.write_text('name = "Leadership"\ndescription = "Leaders."\n'
                    f"query = '{query}'\n", encoding="utf-8")
    [problem] = site.ctx.file_problems()
    return problem.text


def test_a_query_error_in_a_topic_file_marks_the_character_at_fault(
        bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    # The banner ran the query and caret lines into one paragraph, so the caret pointed at
    # nothing; then, kept as lines, the caret left its column whenever the query's line
    # wrapped. The page marks the character itself ("A" of the AND with nothing after it).
    client, _ = librarian
    problem = break_a_topics_query(bench)
    query_line, caret_line = problem.splitlines()[1:]
    assert query_line == f"    {BROKEN_QUERY}"
    assert caret_line.endswith("^") and caret_line.strip() == "^"
    column = len(caret_line) - 1
    marked = (f"{escape(query_line[:column])}<mark class=\"at-fault\">{query_line[column]}</mark>"
              f"{escape(query_line[column + 1:])}")
    assert query_line[column:].startswith("AND OR")
    for path in ("/dashboard", "/topics/try"):
        page = client.get(path).text
        assert f'<pre class="file-problem">{escape(problem.splitlines()[0])}\n{marked}</pre>' \
            in page, path


@pytest.mark.integration
def test_a_new_deployments_empty_lists_say_where_things_come_from(
        make_context: Callable[..., Context]) -> None:
    # A new deployment's first look: not "no item fits this search", which it never made.
    with running_site(make_context, seeded=False) as new, signed_in(new) as (client, _):
        empty = text_of(client.get("/items").text)
        assert "Nothing is stored yet: items arrive as the sources are polled." in empty
        assert "fits this search" not in empty
        searched = text_of(client.get("/items", params={"q": "leadership"}).text)
        assert "No stored item fits this search." in searched
        sends = text_of(client.get("/sends").text)
        assert "Nothing has been written to the outbox yet: digests are queued" in sends
        assert "No message here." in text_of(client.get("/sends?status=failed").text)
        board = text_of(client.get("/dashboard").text)
        assert "No driver records yet: awareness drivers import brings in" in board
        assert "due for review in the next 60 days" not in board


def test_items_fifty_a_page(bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    with orm_session(bench.ctx) as session, session.begin():
        session.add_all(Item(source_id="nhs-england", key=f"k{n}", title=f"Bulk item {n}",
                             first_seen_at=WHEN + timedelta(minutes=n)) for n in range(60))
    first = client.get("/items?format=json").json()
    assert (first["total"], first["pages"], len(first["items"])) == (66, 2, 50)
    assert first["items"][0]["title"] == "Bulk item 59"
    second = client.get("/items?page=2&format=json").json()
    assert len(second["items"]) == 16
    words = client.get("/items", params={"q": "bulk", "page": "2", "format": "json"}).json()
    assert (words["total"], len(words["items"])) == (60, 10)
    assert 'rel="next"' in client.get("/items").text


def test_one_item_with_matches_siblings_and_driver_links(
        bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    with orm_session(bench.ctx) as session:
        good = session.scalar(select(Match.item_id).where(Match.id == bench.ids["good"]))
    detail = client.get(f"/items/{good}?format=json").json()
    assert [(m["topic_slug"], m["status"]) for m in detail["matches"]] == [
        ("leadership", "pending")]
    assert [d["slug"] for d in detail["matches"][0]["drivers"]] == ["interim-nhs-people-plan"]
    assert [s["title"] for s in detail["siblings"]] == [
        "Compassionate leadership programme (copy)"]
    page = text_of(client.get(f"/items/{good}").text)
    assert "Leadership Waiting" in page and "Interim NHS People Plan" in page
    assert "Evil" in page  # the sibling's publisher, escaped
    assert client.get("/items/999999").status_code == 404
    assert client.get(f"/items/{2**40}").status_code == 404


def test_hostile_feed_strings_stay_text(bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    with orm_session(bench.ctx) as session:
        hostile = session.scalar(select(Match.item_id).where(Match.id == bench.ids["hostile"]))
    for path in ("/items", "/items?q=leadership", f"/items/{hostile}", "/sources",
                 "/dashboard", "/sends"):
        response = client.get(path)
        assert response.status_code == 200, path
        tree = assert_inert(response.text)
        for anchor in tree.iter("a"):
            if anchor.get("href", "").startswith("http"):
                assert anchor.get("rel") == "noopener noreferrer nofollow", path
    page = client.get(f"/items/{hostile}").text
    assert HOSTILE_TITLE in text_of(page) and "javascript:alert(1)" in text_of(page)


# --- sources ----------------------------------------------------------------------------------

def test_sources_table_is_the_cli_listing(bench: Site,
                                          librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    assert client.get("/sources?format=json").json() == listing.source_health(bench.ctx)
    page = client.get("/sources").text
    assert "HTTP 500 from the server" in page and "Loopback news" in page


def test_test_now_shows_what_the_definition_extracts_and_stores_nothing(
        bench: Site, librarian: tuple[httpx.Client, str], feed_server: FeedServer) -> None:
    client, token = librarian
    before = everything(bench)
    page = client.post("/sources/loopback/test", data={"csrf": token})
    assert page.status_code == 200
    shown = text_of(page.text)
    assert "2 items from" in shown and "Workforce plan refreshed" in shown
    assert len(feed_server.requests) == 1
    assert everything(bench) == before
    feed_server.routes["/feed.xml"] = Response(b"gone", status=404)
    failed = client.post("/sources/loopback/test", data={"csrf": token})
    assert failed.status_code == 200 and "The test failed" in failed.text
    assert client.post("/sources/nope/test", data={"csrf": token}).status_code == 404


def test_pause_and_resume_live_in_the_database(bench: Site,
                                               librarian: tuple[httpx.Client, str]) -> None:
    client, token = librarian
    toml = Path(bench.ctx.subscriptions_dir / "sources.toml").read_bytes()
    response = client.post("/sources/loopback/pause", data={"csrf": token})
    assert response.status_code == 303
    assert state_of(bench, "loopback") == "paused"  # it was broken: pausing is allowed too
    assert "Paused loopback" in client.get("/sources").text
    sync_sources(bench.ctx)  # the file says nothing about it: the pause stays
    assert state_of(bench, "loopback") == "paused"
    with reading(bench.ctx.engine) as conn:
        assert "loopback" not in source_store.due(conn, bench.ctx.now() + timedelta(days=30))
    # Pausing twice (two tabs, a double click) says so, and changes nothing.
    assert client.post("/sources/loopback/pause", data={"csrf": token}).status_code == 303
    assert "loopback was paused already" in client.get("/sources").text
    assert state_of(bench, "loopback") == "paused"
    assert client.post("/sources/loopback/resume", data={"csrf": token}).status_code == 303
    assert state_of(bench, "loopback") == "active"
    with reading(bench.ctx.engine) as conn:
        assert "loopback" in source_store.due(conn, bench.ctx.now())
    assert client.post("/sources/loopback/resume", data={"csrf": token}).status_code == 303
    assert "loopback is not paused: it is fetched as usual." in client.get("/sources").text
    assert client.post("/sources/nope/pause", data={"csrf": token}).status_code == 404
    assert Path(bench.ctx.subscriptions_dir / "sources.toml").read_bytes() == toml


def test_the_cli_pauses_and_resumes_the_same_way(bench: Site, database_url: str,
                                                  tmp_path: Path) -> None:
    env = settings_env(tmp_path, database_url,
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(bench.ctx.subscriptions_dir))
    runner = CliRunner()
    paused = runner.invoke(cli, ["sources", "pause", "loopback"], env=env)
    assert paused.exit_code == 0, paused.output
    assert "paused loopback" in paused.output and state_of(bench, "loopback") == "paused"
    # Asked twice, it says so and succeeds, as `librarians set-role` does: it exited 1.
    again = runner.invoke(cli, ["sources", "pause", "loopback"], env=env)
    assert again.exit_code == 0 and again.output == (
        "loopback is paused already: it is not fetched until `awareness sources resume "
        "loopback`\n")
    resumed = runner.invoke(cli, ["sources", "resume", "loopback"], env=env)
    assert resumed.exit_code == 0 and state_of(bench, "loopback") == "active"
    again = runner.invoke(cli, ["sources", "resume", "loopback"], env=env)
    assert again.exit_code == 0 and again.output == (
        "loopback is not paused: it is fetched as usual\n")


def test_listing_by_an_unknown_source_or_topic_names_the_known_ones(
        site: Site, database_url: str, tmp_path: Path) -> None:
    # A mistyped name is an error naming the right ones, not an empty table; a known one with
    # nothing to list is an empty table.
    env = settings_env(tmp_path, database_url,
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(site.ctx.subscriptions_dir))
    runner = CliRunner()
    mistyped = runner.invoke(cli, ["items", "list", "--source", "nhs-englnd"], env=env)
    assert mistyped.exit_code == 1
    [line] = mistyped.output.splitlines()
    assert line.startswith("Error: no source 'nhs-englnd' (known sources: ")
    known = line.split("known sources: ")[1].rstrip(")").split(", ")
    assert {"hostile", "loopback"} <= set(known)  # stored only; in sources.toml, never polled
    never_polled = runner.invoke(cli, ["items", "list", "--source", "loopback", "--json"],
                                 env=env)
    assert never_polled.exit_code == 0 and json.loads(never_polled.output) == []
    for command in (["matches", "list"], ["review", "list"]):
        wrong = runner.invoke(cli, [*command, "--topic", "leadrship"], env=env)
        assert wrong.exit_code == 1 and wrong.output == (
            "Error: no topic 'leadrship' (known topics: digital, leadership)\n"), command
        right = runner.invoke(cli, [*command, "--topic", "digital", "--json"], env=env)
        assert right.exit_code == 0, right.output
    assert json.loads(right.output) == []  # nothing pending in digital
    empty = tmp_path / "empty"
    (empty / "topics").mkdir(parents=True)
    (empty / "sources.toml").write_text("", encoding="utf-8")
    none = runner.invoke(cli, ["review", "list", "--topic", "nope"],
                         env={**env, "AWARENESS_PATHS_SUBSCRIPTIONS": str(empty)})
    assert none.output == "Error: no topic 'nope': there are no topics\n"
    table = runner.invoke(cli, ["items", "list", "--source", "loopback"], env=env)
    assert table.output == "no items from loopback\n"
    table = runner.invoke(cli, ["review", "list", "--topic", "digital"], env=env)
    assert table.output == "nothing waiting for review in digital\n"


def test_every_listing_with_nothing_in_it_says_what_that_means(database_url: str,
                                                               tmp_path: Path) -> None:
    # A new deployment: a line saying there is none and how to get some, not a table of
    # headings alone.
    folder = tmp_path / "subscriptions"
    (folder / "topics").mkdir(parents=True)
    (folder / "sources.toml").write_text("", encoding="utf-8")
    env = settings_env(tmp_path, database_url, AWARENESS_PATHS_SUBSCRIPTIONS=str(folder))
    runner = CliRunner()
    expected = {
        ("sources", "list"): "no sources: add them to subscriptions/sources.toml",
        ("topics", "list"): "no topics: add one under subscriptions/topics/",
        ("bulletins", "list"): "no bulletins: add one under subscriptions/bulletins/",
        ("items", "list"): "no items yet: `awareness poll` fetches them",
        ("matches", "list"): "no matches",
        ("matches", "list", "--status", "approved"): "no matches approved",
        ("matches", "list", "--status", "auto"): "no matches sent without review",
        ("review", "list"): "nothing waiting for review",
        ("subscribers", "list"): "no subscribers yet: `awareness subscribers add`, or staff "
                                 "sign up at /topics",
        ("subscribers", "list", "--status", "suspended"): "no suspended subscribers",
        ("librarians", "list"): "no librarian accounts: `awareness librarians add NAME`",
        ("drivers", "list"): "no driver records: `awareness drivers import` brings them in",
        ("drivers", "list", "--tag", "workforce"): "no driver records match",
        ("drivers", "due", "--member", "FG"): "no records need attention for FG",
    }
    for command, line in expected.items():
        result = runner.invoke(cli, list(command), env=env)
        assert result.exit_code == 0, (command, result.output)
        assert result.output.startswith(line) and result.output.count("\n") == 1, command
        assert json.loads(runner.invoke(cli, [*command, "--json"], env=env).output) == []


# --- topics -----------------------------------------------------------------------------------

def add_a_board_appointment(site: Site) -> None:
    """An item Leadership finds through one of its AND clauses as well as through leader*."""
    with orm_session(site.ctx) as session, session.begin():
        session.add(Item(source_id="nhs-england", key="board", link="https://example.org/b",
                         title="Trust board appoints a new chief executive",
                         summary_text="The leaders of the trust thank staff.",
                         published_at=WHEN, first_seen_at=WHEN))


def test_why_it_matched_is_the_parts_of_the_strategy_that_found_each_item(
        bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    # Under every result the try page repeated Leadership's whole strategy, eleven lines,
    # before the term or two that found the item: the strategy is now shown once, and each
    # result lists only the parts of it that found the item, with the words they found.
    client, _ = librarian
    add_a_board_appointment(bench)
    page = parse(client.get("/topics/try", params={"topic": "leadership"}).text)
    [tried] = page.iterfind(".//section[@class='tried']")
    assert " ".join("".join(tried.itertext()).split()).count('"fit and proper person*"') == 1
    why = {" ".join("".join(result.find(".//h3").itertext()).split()):
           [" ".join("".join(li.itertext()).split())
            for li in result.iterfind(".//div[@class='reasons']/ul/li")]
           for result in tried.iterfind(".//li[@class='match']")}
    assert why["Trust board appoints a new chief executive"] == [
        "leader* found leaders in summary",
        '"chief executive*" AND appoint*: "chief executive*" found chief executive in title '
        "appoint* found appoints in title"]
    assert why["NHS sets out compassionate leadership programme"] == [
        "leader* found leadership in title", '"senior manag*" found senior managers in summary']


def test_topics_show_the_file_the_test_set_and_weekly_matches(
        bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    topics = {t["slug"]: t for t in client.get("/topics/manage?format=json").json()}
    leadership = topics["leadership"]
    assert leadership["title"] == "Leadership" and leadership["review"] == "required"
    assert leadership["examples"] > 0 and leadership["examples_failing"] == []
    assert leadership["matches_per_week"] == [0] * 7 + [4]
    assert leadership["pending"] == 2
    assert topics["digital"]["matches_per_week"][-1] == 1
    page = client.get("/topics/manage")
    assert page.status_code == 200
    assert "/topics/try?topic=leadership" in page.text
    assert f"All {leadership['examples']} pass" in text_of(page.text)


def test_a_failing_example_is_shown(bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    topic = bench.ctx.subscriptions_dir / "topics" / "digital.toml"
    topic.write_text(topic.read_text(encoding="utf-8") + '\n[[examples]]\ntitle = '
                     '"Nothing about it at all"\nexpect = "match"\n', encoding="utf-8")
    found = {t["slug"]: t for t in client.get("/topics/manage?format=json").json()}
    assert any("Nothing about it at all" in m for m in found["digital"]["examples_failing"])
    assert "wrong" in text_of(client.get("/topics/manage").text)


# --- sends ------------------------------------------------------------------------------------

def test_sends_list_masks_addresses_and_never_shows_the_message(
        bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    page = client.get("/sends")
    assert EMAIL not in page.text and "j…@trust.nhs.uk" in page.text
    assert "550 5.2.2 mailbox full" in page.text
    data = client.get("/sends?format=json").json()
    assert data["total"] == 2 and "message" not in data["messages"][0]
    assert all(m["recipient"] == "j…@trust.nhs.uk" for m in data["messages"])
    failed = client.get("/sends?status=failed&format=json").json()
    assert [m["status"] for m in failed["messages"]] == ["failed"]
    assert client.get("/sends?status=nope").status_code == 400
    assert client.get("/sends?kind=nope").status_code == 400


def test_sends_name_each_message_in_words(bench: Site,
                                         librarian: tuple[httpx.Client, str]) -> None:
    # "Digest 1/weekly:2026-W46", "Bulletin weekly/1/s1", "Welcome 2/7731…": the outbox's
    # keys, which a librarian had to decode. The key stays, smaller, for support.
    client, _ = librarian
    with orm_session(bench.ctx) as session, session.begin():
        for kind, key in (("bulletin", "weekly/1/s1"), ("welcome", "2/7731233b2471322e"),
                          (DRIVER_CHANGED, GONE_KEY)):
            session.add(OutboxMessage(
                kind=kind, key=key, subscriber_id=None, sender="library@trust.nhs.uk",
                recipient=EMAIL, message_id=f"<{kind}@x>", message=b"x", status="pending",
                attempts=0, created_at=WHEN))
    data = client.get("/sends?format=json").json()
    assert {(m["description"], m["key"]) for m in data["messages"]} == {
        ("Weekly digest, week beginning 26 Oct 2026", "1/weekly:2026-W44"),
        ("Weekly digest, week beginning 9 Nov 2026", "1/weekly:2026-W46"),
        ("Library weekly bulletin #1", "weekly/1/s1"), ("Welcome mail", "2/7731233b2471322e"),
        ("Driver record gone from the MAP site: Interim NHS People Plan, 20 Nov 2026", GONE_KEY)}
    tree = parse(client.get("/sends").text)
    rows = {" ".join("".join(th.itertext()).split()) for th in tree.iter("th")
            if th.get("scope") == "row"}
    assert {"Library weekly bulletin #1 bulletin weekly/1/s1",
            "Welcome mail welcome 2/7731233b2471322e",
            "Weekly digest, week beginning 9 Nov 2026 digest 1/weekly:2026-W46",
            # The record by its title, as the drivers pages name it; its slug in the key.
            "Driver record gone from the MAP site: Interim NHS People Plan, 20 Nov 2026 "
            f"driver_changed {GONE_KEY}"} <= rows
    # The kind filter and the counts by kind use the kinds' names, in their order.
    options = [(o.get("value"), o.text) for o in tree.iter("option")]
    assert options == [("", "Every kind"), ("bulletin", "Bulletin copies to readers"),
                       ("driver_changed", "Driver record change notices"),
                       ("digest", "Topic digests"), ("welcome", "Welcome mails")]
    assert {"Bulletin copies to readers", "Topic digests", "Welcome mails"} <= rows
    failed = parse(client.get("/sends?status=failed").text)
    assert "Retry “Weekly digest, week beginning 9 Nov 2026” to j…@trust.nhs.uk" in [
        " ".join("".join(b.itertext()).split()) for b in failed.iter("button")]


def test_retry_a_failed_message(bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, token = librarian
    with orm_session(bench.ctx) as session:
        ids = dict(session.execute(select(OutboxMessage.status, OutboxMessage.id)).all())
    assert client.post(f"/sends/{ids['sent']}/retry", data={"csrf": token}).status_code == 400
    response = client.post(f"/sends/{ids['failed']}/retry", data={"csrf": token})
    assert response.status_code == 303
    assert outbox_statuses(bench) == ["sent", "pending"]
    assert "queued again" in client.get(response.headers["location"]).text
    assert client.post("/sends/999999/retry", data={"csrf": token}).status_code == 404


def test_a_message_waiting_for_its_next_try_is_sent_now(
        bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    # The mail server was down and is mended: its messages waited out their back-off, and
    # /sends offered nothing to send them.
    client, token = librarian
    now = bench.ctx.now()
    with orm_session(bench.ctx) as session, session.begin():
        failed = session.scalar(select(OutboxMessage).where(OutboxMessage.status == "failed"))
        assert failed is not None
        failed.status, failed.attempts = "pending", 1
        failed.next_attempt_at = now + timedelta(minutes=40)
        waiting = failed.id
    buttons = [" ".join("".join(b.itertext()).split()) for b in parse(
        client.get("/sends?status=pending").text).iter("button")]
    assert "Try now “Weekly digest, week beginning 9 Nov 2026” to j…@trust.nhs.uk" in buttons
    response = client.post(f"/sends/{waiting}/retry", data={"csrf": token})
    assert response.status_code == 303
    assert "is queued again, due now" in client.get(response.headers["location"]).text
    with orm_session(bench.ctx) as session:
        due = session.get(OutboxMessage, waiting)
        assert due is not None and (due.status, due.next_attempt_at) == ("pending", now)
    # Due already: nothing to bring forward, and no button.
    assert client.post(f"/sends/{waiting}/retry", data={"csrf": token}).status_code == 400
    # Nor for a message never tried that waits for a later time of its own.
    with orm_session(bench.ctx) as session, session.begin():
        later = session.get_one(OutboxMessage, waiting)
        later.attempts, later.next_attempt_at = 0, now + timedelta(hours=3)
    assert client.post(f"/sends/{waiting}/retry", data={"csrf": token}).status_code == 400
    assert not [b for b in parse(client.get("/sends?status=pending").text).iter("button")
                if "Try now" in "".join(b.itertext())]


def test_what_will_this_person_receive_next(bench: Site,
                                            librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    before = everything(bench)
    page = client.get("/sends/next", params={"email": EMAIL})
    shown = text_of(page.text)
    assert "Already approved item" in shown and "Weekly digest" in shown
    assert "Already rejected item" not in shown
    assert EMAIL not in shown and "Next for j…@trust.nhs.uk" in shown  # only the form echoes it
    assert everything(bench) == before
    with orm_session(bench.ctx) as session:
        reader = session.scalar(select(Subscriber.id).where(Subscriber.email == EMAIL))
    own_page = parse(client.get(f"/subscribers/{reader}").text)
    link = next(a for a in own_page.iter("a") if a.text == "What will they receive next?")
    assert link.get("href") == f"/sends/next?email={quote(EMAIL)}"
    unknown = client.get("/sends/next", params={"email": "nobody@trust.nhs.uk"})
    assert unknown.status_code == 404 and "Nobody with that address" in unknown.text



def test_what_someone_gets_next_after_this_weeks_digest_went(
        bench: Site, librarian: tuple[httpx.Client, str]) -> None:
    # Once this period's digest had gone the page said only "Nothing new: no digest would
    # go to them now": not when their next one goes, nor what it holds so far.
    from awareness.service import digests, review

    client, _ = librarian
    digests.send_digests(bench.ctx, frequency="weekly")  # Monday 23 November's, sent
    shown = text_of(client.get("/sends/next", params={"email": EMAIL}).text)
    assert ("Weekly digest, Mon 30 Nov 2026, 07:00 Nothing approved for them since their "
            "last digest yet.") in shown
    assert ("2 matches in their topics wait for review: approved before then, they go in "
            "too.") in shown
    assert "Already approved item" not in shown  # it went in this week's
    review.decide(bench.ctx, bench.ids["good"], "approved", librarian="alice")
    shown = text_of(client.get("/sends/next", params={"email": EMAIL}).text)
    assert ("Weekly digest, Mon 30 Nov 2026, 07:00 1 item so far Leadership NHS sets out "
            "compassionate leadership programme") in shown
    assert "1 match in their topics waits for review: approved before then, it goes in too."\
        in shown


def test_topics_show_precision_from_reviews(bench: Site,
                                            librarian: tuple[httpx.Client, str]) -> None:
    """Issue 17: precision guides strategy edits on the topics page."""
    from awareness.service import review

    client, _ = librarian
    with orm_session(bench.ctx) as session:
        waiting = session.scalars(select(Match.id).where(
            Match.topic_slug == "leadership", Match.status == "pending")
            .order_by(Match.id)).all()
    assert len(waiting) == 2
    review.decide(bench.ctx, waiting[0], "approved", librarian="alice")
    review.decide(bench.ctx, waiting[1], "rejected", librarian="alice")
    topics = {t["slug"]: t for t in client.get("/topics/manage?format=json").json()}
    figures = topics["leadership"]["precision"]
    assert (figures["30d_approved"], figures["30d_decided"], figures["30d_precision"]) == (
        1, 2, 0.5)
    assert topics["digital"]["precision"]["30d_decided"] == 0
    text = text_of(client.get("/topics/manage").text)
    assert "50% of 2 decided in 30 days" in text
    assert "Precision by source" in text


def test_items_list_limit_zero_is_all_and_a_negative_one_is_refused(
        site: Site, database_url: str, tmp_path: Path) -> None:
    env = settings_env(tmp_path, database_url,
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(site.ctx.subscriptions_dir))
    runner = CliRunner()

    def listed(*limit: str) -> list[int]:
        out = runner.invoke(cli, ["items", "list", "--json", *limit], env=env)
        assert out.exit_code == 0, out.output
        return [item["id"] for item in json.loads(out.output)]

    every = listed("--limit", "0")
    assert len(every) > 1 and listed("--limit", "1") == every[:1]
    assert listed() == every[:50]
    refused = runner.invoke(cli, ["items", "list", "--limit", "-5"], env=env)
    assert refused.exit_code == 2 and "-5" in refused.output


@pytest.mark.integration
def test_pages_name_the_zone_their_times_are_in(make_context: Callable[..., Context]) -> None:
    # The dashboard and the sources page said "UK time" whatever [schedule] timezone held.
    with running_site(make_context, AWARENESS_SCHEDULE_TIMEZONE="Europe/Dublin") as site, \
            signed_in(site) as (client, _):
        for path in ("/dashboard", "/sources"):
            shown = text_of(client.get(path).text)
            assert "Europe/Dublin time." in shown and "UK time" not in shown, path
