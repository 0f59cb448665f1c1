"""Polling against a real HTTP server on loopback: baseline, conditional GET, edits, failures."""

from __future__ import annotations

import contextlib
import dataclasses
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from awareness.service import polling
from awareness.storage import items
from awareness.storage.db import reading
from awareness.storage.models import Item, Match, Source
from tests.conftest import DATA, Response, orm_session

LEADERSHIP = ("leadership-programme", "New compassionate leadership programme for NHS boards",
              "Boards and senior leaders will be supported to build an inclusive culture.")
DIGITAL = ("nhs-app", "Record numbers using NHS App to manage health",
           "More people than ever are using the NHS App.")
FLU = ("flu", "NHS issues flu jab SOS",
       "People eligible for a flu vaccine are urged to come forward.")


def rss(*items: tuple[str, str, str]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>https://www.england.nhs.uk/{slug}/</link>"
        f"<pubDate>Mon, 23 Nov 2026 00:01:00 +0000</pubDate>"
        f"<description>{summary}</description></item>" for slug, title, summary in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{body}</channel></rss>'.encode()


@pytest.fixture
def site(make_context, feed_server, tmp_path):
    subs = tmp_path / "subs"
    (subs / "topics").mkdir(parents=True)
    for name in ("leadership.toml", "digital.toml"):
        source = DATA.parent.parent / "subscriptions" / "topics" / name
        (subs / "topics" / name).write_text(source.read_text(encoding="utf-8"), encoding="utf-8")
    (subs / "sources.toml").write_text("".join(
        f'[[source]]\nid = "{sid}"\nname = "{sid}"\npublisher = "NHS England"\nkind = "feed"\n'
        f'url = "{feed_server.url("/" + sid)}"\n\n' for sid in ("news", "other")))
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs))
    return ctx, feed_server


def count(ctx, model, *where) -> int:
    with orm_session(ctx) as session:
        return session.scalar(select(func.count()).select_from(model).where(*where)) or 0


def source(ctx, source_id: str) -> Source:
    with orm_session(ctx) as session:
        return session.get_one(Source, source_id)


def test_first_poll_is_a_baseline_then_new_items_match(site, clock):
    ctx, feeds = site
    feeds.routes["/news"] = Response(rss(LEADERSHIP))
    [outcome] = polling.poll(ctx, ["news"])
    assert (outcome.status, outcome.new_items, outcome.baseline, outcome.new_matches) == (
        "ok", 1, True, 0)
    assert count(ctx, Match) == 0

    feeds.routes["/news"] = Response(rss(LEADERSHIP, DIGITAL, FLU))
    clock.advance(hours=1)
    [outcome] = polling.poll(ctx, ["news"])
    assert (outcome.new_items, outcome.new_matches, outcome.baseline) == (2, 1, False)
    with orm_session(ctx) as session:
        [(topic, status)] = session.execute(select(Match.topic_slug, Match.status)).all()
    assert (topic, status) == ("digital", "auto")  # digital needs no review


def test_one_polls_items_are_listed_newest_first(site):
    # The archive lists what arrived last first; one poll's items arrive together, and the
    # feed gives them newest first: the list must too, on the first poll and on later ones.
    ctx, feeds = site

    def feed(*days: int) -> bytes:
        body = "".join(
            f"<item><title>Item of {day} November</title>"
            f"<link>https://www.england.nhs.uk/{day}/</link>"
            f"<pubDate>{day:02d} Nov 2026 09:00:00 +0000</pubDate></item>" for day in days)
        return f'<?xml version="1.0"?><rss version="2.0"><channel>{body}</channel></rss>'.encode()

    feeds.routes["/news"] = Response(feed(3, 2, 1))
    polling.poll(ctx, ["news"])
    feeds.routes["/news"] = Response(feed(6, 5, 4, 3, 2, 1))
    polling.poll(ctx, ["news"])
    with reading(ctx.engine) as connection:
        listed = [item.title for item in items.newest(connection)]
    assert listed == [f"Item of {day} November" for day in (6, 5, 4, 3, 2, 1)]


def test_review_required_topic_makes_pending_matches(site):
    ctx, feeds = site
    feeds.routes["/news"] = Response(rss(FLU))
    polling.poll(ctx, ["news"])
    feeds.routes["/news"] = Response(rss(FLU, LEADERSHIP))
    polling.poll(ctx, ["news"])
    assert count(ctx, Match, Match.topic_slug == "leadership", Match.status == "pending") == 1


def test_conditional_get_sends_stored_validators_byte_for_byte(site):
    ctx, feeds = site
    feeds.routes["/news"] = Response(rss(FLU), headers={
        "ETag": 'W/"abc-123"', "Last-Modified": "Mon, 23 Nov 2026 08:00:00 GMT"})
    polling.poll(ctx, ["news"])
    feeds.routes["/news"] = Response(b"", status=304)
    [outcome] = polling.poll(ctx, ["news"])
    headers = feeds.requests[-1][1]
    assert headers["If-None-Match"] == 'W/"abc-123"'
    assert headers["If-Modified-Since"] == "Mon, 23 Nov 2026 08:00:00 GMT"
    assert outcome.status == "not_modified"
    assert source(ctx, "news").error_count == 0


def test_same_body_again_is_not_parsed_or_stored_twice(site):
    ctx, feeds = site
    feeds.routes["/news"] = Response(rss(FLU, LEADERSHIP))
    polling.poll(ctx, ["news"])
    [outcome] = polling.poll(ctx, ["news"])
    assert outcome.status == "unchanged"
    assert count(ctx, Item) == 2


def test_an_edited_item_is_updated_in_place_and_not_alerted_again(site):
    ctx, feeds = site
    feeds.routes["/news"] = Response(rss(FLU))
    polling.poll(ctx, ["news"])
    feeds.routes["/news"] = Response(rss(FLU, LEADERSHIP))
    polling.poll(ctx, ["news"])
    edited = (LEADERSHIP[0], LEADERSHIP[1] + " (updated)", LEADERSHIP[2])
    feeds.routes["/news"] = Response(rss(FLU, edited))
    [outcome] = polling.poll(ctx, ["news"])
    assert (outcome.new_items, outcome.updated_items, outcome.new_matches) == (0, 1, 0)
    assert count(ctx, Item) == 2
    assert count(ctx, Match) == 1
    with orm_session(ctx) as session:
        titles = set(session.scalars(select(Item.title)))
    assert edited[1] in titles


def test_a_failing_source_does_not_stop_the_others(site, clock):
    ctx, feeds = site
    feeds.routes["/news"] = Response(b"oops", status=500)
    feeds.routes["/other"] = Response(rss(FLU))
    outcomes = {o.source_id: o for o in polling.poll(ctx, ["news", "other"])}
    assert outcomes["news"].status == "failed" and "500" in (outcomes["news"].error or "")
    assert outcomes["other"].status == "ok"
    news = source(ctx, "news")
    assert news.error_count == 1 and news.last_error and news.state == "active"
    assert news.next_check_at is not None and news.next_check_at > clock.now


def test_a_run_of_failures_marks_the_source_broken_and_one_success_mends_it(site, clock):
    ctx, feeds = site
    feeds.routes["/news"] = Response(b"", status=503)
    for _ in range(10):
        polling.poll(ctx, ["news"])
        clock.advance(days=1)
    assert source(ctx, "news").state == "broken"
    assert "news" not in polling.due_sources(ctx)  # not polled on schedule any more
    feeds.routes["/news"] = Response(rss(FLU))
    polling.poll(ctx, ["news"])  # a librarian's manual poll
    mended = source(ctx, "news")
    assert (mended.state, mended.error_count, mended.last_error) == ("active", 0, None)


def test_gone_retires_the_source_but_keeps_its_items(site):
    ctx, feeds = site
    feeds.routes["/news"] = Response(rss(FLU))
    polling.poll(ctx, ["news"])
    feeds.routes["/news"] = Response(b"", status=410)
    polling.poll(ctx, ["news"])
    assert source(ctx, "news").state == "gone"
    assert count(ctx, Item) == 1


def test_hostile_feed_is_rejected_and_earlier_items_are_untouched(site):
    ctx, feeds = site
    feeds.routes["/news"] = Response(rss(FLU))
    polling.poll(ctx, ["news"])
    bomb = (DATA / "hostile-feeds" / "entity-quadratic-20MB-per-field.xml").read_bytes()
    feeds.routes["/news"] = Response(bomb)
    [outcome] = polling.poll(ctx, ["news"])
    assert outcome.status == "failed"
    assert "entity expansion" in (outcome.error or "")
    assert count(ctx, Item) == 1


class Crash(BaseException):
    """Stands for the process dying mid-poll."""


def test_crash_before_commit_loses_nothing(site, monkeypatch):
    # Validators move in the same transaction as the items (RELIABILITY F8): after a crash the
    # next poll fetches the same body again and stores its items once.
    ctx, feeds = site
    feeds.routes["/news"] = Response(rss(FLU))
    polling.poll(ctx, ["news"])
    feeds.routes["/news"] = Response(rss(FLU, LEADERSHIP), headers={"ETag": '"v2"'})

    topics = ctx.topics()
    leadership = next(t for t in topics if t.slug == "leadership")
    # A fake of the pure core: the real query, whose scoring dies mid-transaction.
    real = leadership.query

    class Exploding(type(real)):  # type: ignore[misc]
        def score(self, *args, **kwargs):
            raise Crash

    exploding = Exploding(**{f.name: getattr(real, f.name) for f in dataclasses.fields(real)})
    monkeypatch.setattr(ctx, "topics", lambda: (dataclasses.replace(leadership, query=exploding),))
    with pytest.raises(Crash):
        polling.poll(ctx, ["news"])
    assert count(ctx, Item) == 1
    assert source(ctx, "news").etag is None

    monkeypatch.setattr(ctx, "topics", lambda: topics)
    [outcome] = polling.poll(ctx, ["news"])
    assert outcome.new_items == 1
    assert count(ctx, Item) == 2
    assert source(ctx, "news").etag == '"v2"'


def test_sources_removed_from_the_file_are_disabled_not_deleted(site, tmp_path):
    ctx, feeds = site
    feeds.routes["/other"] = Response(rss(FLU))
    polling.poll(ctx, ["other"])
    sources_toml = ctx.subscriptions_dir / "sources.toml"
    text = sources_toml.read_text()
    sources_toml.write_text(text[: text.index('[[source]]\nid = "other"')])
    polling.sync_sources(ctx)
    assert source(ctx, "other").enabled is False
    assert count(ctx, Item) == 1


class OverlapCountingServer:
    """A real HTTP server that holds requests until four overlap, and records how many do."""

    def __init__(self) -> None:
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.active = 0
        self.most = 0
        lock = threading.Lock()
        together = threading.Barrier(4, timeout=15)
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                with lock:
                    server.active += 1
                    server.most = max(server.most, server.active)
                # Answer only once four requests are in at once, so that the overlap the test
                # looks for cannot be missed on a slow machine; a client that never sends four
                # breaks the barrier after 15 s (within its read timeout) and `most` says so.
                with contextlib.suppress(threading.BrokenBarrierError):
                    together.wait()
                with lock:
                    server.active -= 1
                body = rss(FLU)
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()
        self.port = self.httpd.server_address[1]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.integration
def test_sources_are_polled_concurrently_but_politely_per_host(make_context, tmp_path):
    server = OverlapCountingServer()
    try:
        subs = tmp_path / "concurrent"
        (subs / "topics").mkdir(parents=True)
        hosts = ["127.0.0.1", "localhost"]
        (subs / "sources.toml").write_text("".join(
            f'[[source]]\nid = "s{n}"\nname = "s{n}"\npublisher = "P"\nkind = "feed"\n'
            f'url = "http://{hosts[n % 2]}:{server.port}/feed{n}"\n\n' for n in range(8)))
        ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs),
                           AWARENESS_FETCH_ALLOWED_HOSTS="127.0.0.1,localhost",
                           AWARENESS_FETCH_CONCURRENCY="8", AWARENESS_FETCH_PER_HOST="2")
        outcomes = polling.poll(ctx, [f"s{n}" for n in range(8)])
    finally:
        server.close()
    assert [o.source_id for o in outcomes] == [f"s{n}" for n in range(8)]
    assert all(o.status == "ok" for o in outcomes), [o.error for o in outcomes]
    assert server.most == 4  # two hosts, two at a time each: parallel, but polite


def test_an_edited_strategy_takes_effect_without_a_restart(site, clock):
    # Issue 11: a running service used to keep the topics it read first for its lifetime.
    ctx, feeds = site
    feeds.routes["/news"] = Response(rss(FLU))
    polling.poll(ctx, ["news"])  # baseline; the context has now read the topics
    assert "flu" not in ctx.topic("leadership").query.text
    path = ctx.subscriptions_dir / "topics" / "leadership.toml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("query = '''\n", "query = '''\nflu OR "), encoding="utf-8")

    feeds.routes["/news"] = Response(rss(FLU, ("flu-2", "Flu cases rise in care homes",
                                               "Care homes report more flu this week.")))
    clock.advance(hours=1)
    [outcome] = polling.poll(ctx, ["news"])
    assert outcome.new_matches == 1
    with orm_session(ctx) as session:
        assert session.execute(select(Match.topic_slug)).scalars().all() == ["leadership"]


def test_a_source_added_to_the_file_is_polled_without_a_restart(site):
    ctx, feeds = site
    assert [s.id for s in ctx.sources()] == ["news", "other"]
    path = ctx.subscriptions_dir / "sources.toml"
    path.write_text(path.read_text(encoding="utf-8") + (
        f'[[source]]\nid = "third"\nname = "third"\npublisher = "CQC"\nkind = "feed"\n'
        f'url = "{feeds.url("/third")}"\n'), encoding="utf-8")
    feeds.routes["/third"] = Response(rss(FLU))
    [outcome] = polling.poll(ctx, ["third"])
    assert (outcome.status, outcome.new_items) == ("ok", 1)


def test_an_item_too_long_to_match_is_stored_flagged_and_blocks_nothing(site, clock, monkeypatch):
    # Issue 11: matching has a per-item budget. Here it is small, so one wordy item is over it
    # (a summary is cut at 5,000 characters, so only many wordy topics reach the real one).
    monkeypatch.setattr("awareness.topics.text.DEFAULT_BUDGET", 1_000)
    ctx, feeds = site
    (ctx.subscriptions_dir / "topics" / "retention.toml").write_text(
        'name = "Retention"\ndescription = "d"\nreview = "none"\n'
        'query = "(nurse* OR midwi*) NEAR/100 (retention OR retain*)"\n', encoding="utf-8")
    feeds.routes["/news"] = Response(rss(FLU))
    polling.poll(ctx, ["news"])  # the baseline
    wordy = ("wordy", "Nursing workforce survey",  # about 700 words × 4 terms of the NEAR
             "Nurses and midwives told us what would help retention. " * 100)
    short = ("short", "Retaining nurses", "Nurses said flexible rotas help retention.")
    feeds.routes["/news"] = Response(rss(FLU, wordy, short, DIGITAL))
    clock.advance(hours=1)
    [outcome] = polling.poll(ctx, ["news"])
    assert (outcome.status, outcome.new_items) == ("ok", 3)  # every new item stored
    with orm_session(ctx) as session:
        matched = set(session.execute(select(Item.title).join(Match)).scalars())
    assert matched == {short[1], DIGITAL[1]}  # the others matched as usual
    warnings = source(ctx, "news").warnings or ""
    assert "'Nursing workforce survey' was too long to match" in warnings


def test_a_quiet_source_is_polled_less_and_a_servers_freshness_is_respected(site, clock):
    # Issue 16: intervals were fixed, and Cache-Control was ignored.
    ctx, feeds = site
    feeds.routes["/news"] = Response(rss(FLU))
    feeds.routes["/other"] = Response(rss(DIGITAL), headers={"Cache-Control": "max-age=7200"})
    polling.poll(ctx, ["news", "other"])  # the baselines
    assert source(ctx, "news").next_check_at == clock.now + timedelta(hours=1)
    assert source(ctx, "other").next_check_at == clock.now + timedelta(hours=2)

    clock.advance(days=8)  # a week on, nothing new: "news" has shown its cadence
    polling.poll(ctx, ["news"])
    assert source(ctx, "news").next_check_at == clock.now + timedelta(hours=8)
    busy = [(f"n{n}", f"Report {n}", "Summary.") for n in range(41)]
    feeds.routes["/news"] = Response(rss(FLU, *busy))
    clock.advance(hours=8)
    polling.poll(ctx, ["news"])  # 41 new this week: one check every 7 days / 42 = 4 h
    assert source(ctx, "news").next_check_at == clock.now + timedelta(hours=4)
