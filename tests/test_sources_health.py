"""Source health as data: cadence and staleness next to the fetch state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from awareness.service import polling
from awareness.service.listing import source_health
from awareness.sources.health import is_stale
from awareness.web.pages import make_environment
from tests.conftest import ROOT, Response

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def rss(*slugs: str) -> bytes:
    items = "".join(f"<item><title>{s}</title><link>https://pub.example/{s}</link></item>"
                    for s in slugs)
    return f'<rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()


def test_staleness_is_measured_against_the_usual_gap() -> None:
    # Three a week: a fortnight of silence is within the floor, four weeks is not.
    assert not is_stale(3.0, NOW - timedelta(days=13), NOW)
    assert is_stale(3.0, NOW - timedelta(days=15), NOW)
    # One a month: quiet for six weeks is normal, five months is not.
    assert not is_stale(0.25, NOW - timedelta(weeks=6), NOW)
    assert is_stale(0.25, NOW - timedelta(weeks=20), NOW)
    assert not is_stale(0.0, None, NOW)


def one_feed(make_context, feed_server, tmp_path):
    """A context whose one source, "news", is the feed server's /news."""
    subs = tmp_path / "subs"
    (subs / "topics").mkdir(parents=True)
    (subs / "sources.toml").write_text(
        f'[[source]]\nid = "news"\nname = "News"\npublisher = "P"\nkind = "feed"\n'
        f'url = "{feed_server.url("/news")}"\n')
    return make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs))


def test_health_shows_cadence_and_a_source_that_went_quiet(make_context, feed_server, clock,
                                                          tmp_path):
    ctx = one_feed(make_context, feed_server, tmp_path)
    feed_server.routes["/news"] = Response(rss("a"))
    polling.poll(ctx, ["news"])  # baseline: not counted as publishing
    for day in range(7):
        clock.advance(days=1)
        feed_server.routes["/news"] = Response(rss("a", *"bcdefgh"[:day + 1]))
        polling.poll(ctx, ["news"])
    [health] = source_health(ctx)
    assert health["items_per_week"] == 0.58  # 7 new items in a 12-week window
    assert health["stale"] is False

    clock.advance(days=30)  # quiet for a month: within four usual gaps (48 days)
    polling.poll(ctx, ["news"])
    assert source_health(ctx)[0]["stale"] is False
    clock.advance(days=30)  # the feed keeps answering, with nothing new
    polling.poll(ctx, ["news"])
    [health] = source_health(ctx)
    assert health["last_error"] is None
    assert health["stale"] is True


def test_a_source_whose_fetches_fail_is_failing_while_it_is_still_active(
        make_context, feed_server, tmp_path):
    # The sources page and the dashboard showed a green "Active" beside "could not connect".
    ctx = one_feed(make_context, feed_server, tmp_path)
    feed_server.routes["/news"] = Response(rss("a"))
    polling.poll(ctx, ["news"])
    assert source_health(ctx)[0]["failing"] is False
    feed_server.routes["/news"] = Response(b"down", status=500)
    polling.poll(ctx, ["news"])
    [health] = source_health(ctx)
    assert (health["state"], health["error_count"], health["failing"]) == ("active", 1, True)
    environment = make_environment(ROOT / "templates", ZoneInfo("Europe/London"))
    badge = environment.get_template("source_badge.html").render(row=health)
    assert ">Failing<" in badge and "Active" not in badge
