"""Permanent redirects (F11, F12) and URLs carrying credentials or unusual ports (F19)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awareness.errors import AddressNotAllowed, FetchError
from awareness.links import redact_url
from awareness.service import polling
from awareness.service.listing import source_health
from awareness.sources.fetch import FetchPolicy, Validators, check_url_allowed, fetch
from awareness.sources.redirects import CONFIRMATIONS, RedirectState, after_fetch
from awareness.storage.models import Source
from tests.conftest import Response, orm_session, orm_writing

FEED = (b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item>'
        b'<title>One</title><link>https://example.org/one</link></item></channel></rss>')
UA = "awareness-test/1.0 (+https://awareness.example/about)"
OLD, NEW = "https://old.example/feed", "https://new.example/feed"


# ---------------------------------------------------------------- the rule (pure)


def moved(state: RedirectState, target: str | None, others: dict[str, str] | None = None,
          url: str = OLD) -> RedirectState:
    return after_fetch(state, configured_url=url, permanent_url=target,
                       other_sources=others or {})


def test_the_address_moves_after_three_identical_permanent_redirects():
    state = RedirectState()
    for seen in range(1, CONFIRMATIONS):
        state = moved(state, NEW)
        assert (state.fetch_url, state.target, state.count) == (None, NEW, seen)
    assert moved(state, NEW) == RedirectState(fetch_url=NEW)


def test_a_different_target_or_no_redirect_starts_the_count_again():
    state = moved(moved(RedirectState(), NEW), "https://other.example/feed")
    assert (state.target, state.count) == ("https://other.example/feed", 1)
    assert moved(state, None) == RedirectState()


def test_never_downgrade_to_http():
    state = RedirectState()
    for _ in range(CONFIRMATIONS + 1):
        state = moved(state, "http://old.example/feed")
    assert state == RedirectState()


def test_a_redirect_onto_another_source_is_a_duplicate_and_does_not_move():
    others = {"https://new.example/feed": "new-source"}
    state = RedirectState()
    for _ in range(CONFIRMATIONS + 1):
        state = moved(state, NEW + "?utm_source=rss", others)
    assert (state.fetch_url, state.duplicate_of) == (None, "new-source")


@given(st.lists(st.sampled_from([None, NEW, "https://b.example/", "http://new.example/feed"]),
                max_size=12))
def test_the_address_only_ever_moves_to_a_target_seen_three_times_in_a_row(targets):
    state, run, last = RedirectState(), 0, None
    for target in targets:
        run = run + 1 if target == last else 1
        last = target
        before = state.fetch_url
        state = moved(state, target)
        if state.fetch_url != before:
            assert state.fetch_url == target and target.startswith("https:")
            assert run >= CONFIRMATIONS


# ---------------------------------------------------------------- on loopback


@pytest.fixture
def site(make_context, feed_server, tmp_path):
    subs = tmp_path / "subs"
    (subs / "topics").mkdir(parents=True)
    (subs / "sources.toml").write_text("".join(
        f'[[source]]\nid = "{sid}"\nname = "{sid}"\npublisher = "P"\nkind = "feed"\n'
        f'url = "{feed_server.url(path)}"\n\n' for sid, path in (("a", "/old"), ("b", "/b"))))
    return make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs)), feed_server


def row(ctx, source_id: str) -> Source:
    with orm_session(ctx) as session:
        return session.get_one(Source, source_id)


def test_polling_follows_a_permanent_move_on_the_third_poll(site, clock):
    ctx, feeds = site
    feeds.routes["/old"] = Response(b"", 301, {"Location": "/new"})
    feeds.routes["/new"] = Response(FEED)
    for poll in range(1, CONFIRMATIONS + 1):
        [outcome] = polling.poll(ctx, ["a"])
        assert outcome.status in ("ok", "unchanged")
        source = row(ctx, "a")
        if poll < CONFIRMATIONS:
            assert (source.fetch_url, source.redirect_count) == (None, poll)
        clock.advance(hours=2)
    assert row(ctx, "a").fetch_url == feeds.url("/new")
    feeds.requests.clear()
    polling.poll(ctx, ["a"])
    assert [path for path, _ in feeds.requests] == ["/new"]  # straight to the new address


def test_a_temporary_redirect_never_moves_the_address(site, clock):
    ctx, feeds = site
    feeds.routes["/old"] = Response(b"", 302, {"Location": "/new"})
    feeds.routes["/new"] = Response(FEED)
    for _ in range(CONFIRMATIONS + 1):
        polling.poll(ctx, ["a"])
        clock.advance(hours=2)
    assert (row(ctx, "a").fetch_url, row(ctx, "a").redirect_count) == (None, 0)


def test_a_redirect_onto_another_source_says_duplicate_of(site, clock):
    ctx, feeds = site
    feeds.routes["/old"] = Response(b"", 308, {"Location": "/b"})
    feeds.routes["/b"] = Response(FEED)
    for _ in range(CONFIRMATIONS + 1):
        polling.poll(ctx, ["a"])
        clock.advance(hours=2)
    health = {s["id"]: s for s in source_health(ctx)}
    assert (health["a"]["duplicate_of"], health["a"]["fetch_url"]) == ("b", None)


def test_fetch_reports_where_the_permanent_hops_led(feed_server):
    policy = FetchPolicy(user_agent=UA, allowed_hosts=frozenset({"127.0.0.1"}))
    feed_server.routes["/a"] = Response(b"", 301, {"Location": "/b"})
    feed_server.routes["/b"] = Response(b"", 302, {"Location": "/c"})
    feed_server.routes["/c"] = Response(FEED)
    feed_server.routes["/t"] = Response(b"", 307, {"Location": "/a"})
    assert fetch(feed_server.url("/a"), validators=Validators(),
                 policy=policy).permanent_url == feed_server.url("/b")
    assert fetch(feed_server.url("/t"), validators=Validators(), policy=policy).permanent_url \
        is None
    assert fetch(feed_server.url("/c"), validators=Validators(), policy=policy).permanent_url \
        is None


# ---------------------------------------------------------------- F19


def test_credentials_never_appear_in_errors_or_the_listing(site):
    ctx, feeds = site
    secret_url = feeds.url("/missing").replace("http://", "http://librarian:s3cret@")
    policy = FetchPolicy(user_agent=UA, allowed_hosts=frozenset({"127.0.0.1"}))
    with pytest.raises(FetchError) as caught:
        fetch(secret_url, validators=Validators(), policy=policy)
    assert "s3cret" not in str(caught.value) and "s3cret" not in (caught.value.url or "")
    assert caught.value.url == feeds.url("/missing")
    refused = secret_url.replace(str(feeds.httpd.server_address[1]), "1")
    with pytest.raises(FetchError) as caught:
        fetch(refused, validators=Validators(), policy=policy)
    assert "s3cret" not in str(caught.value) + (caught.value.url or "")
    polling.sync_sources(ctx)
    with orm_writing(ctx) as session:
        session.get_one(Source, "a").url = secret_url
    assert "s3cret" not in str(source_health(ctx))


@pytest.mark.parametrize("text", [
    "https://user:pw@example.org/feed", "see https://user@example.org/x?q=@ for details"])
def test_redact_url(text):
    assert "user" not in redact_url(text) and "example.org" in redact_url(text)


def public(host: str, port: int) -> list[str]:
    return ["93.184.216.34"]


def test_unusual_ports_only_on_allowed_hosts():
    policy = FetchPolicy(user_agent=UA)
    check_url_allowed("https://feeds.example/rss", policy=policy, resolver=public)
    check_url_allowed("http://feeds.example:80/rss", policy=policy, resolver=public)
    with pytest.raises(AddressNotAllowed, match="port 8080 not allowed"):
        check_url_allowed("http://feeds.example:8080/rss", policy=policy, resolver=public)
    allowed = FetchPolicy(user_agent=UA, allowed_hosts=frozenset({"feeds.example"}))
    check_url_allowed("http://feeds.example:8080/rss", policy=allowed, resolver=public)
