"""The web app over a real uvicorn server on 127.0.0.1, spoken to with httpx.

Covers RELIABILITY.md 4.2 (W1-W5, W9, W11, W13) and the RFC 8058 rows E9-E11: login and its
throttle, CSRF on every state-changing route, session cookies that die at logout, security
headers on every response, one-click unsubscribe, and hostile feed text rendered inert.
"""

from __future__ import annotations

import re
import secrets
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import html5lib
import httpx
import pytest
import uvicorn
from argon2 import Parameters, Type, extract_parameters
from itsdangerous import TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import select, text
from starlette.applications import Starlette
from starlette.routing import Route

from awareness.service import librarians
from awareness.service.context import Context
from awareness.storage.models import (
    DriverRecordRow,
    Item,
    Librarian,
    Match,
    MatchDriver,
    Review,
    Source,
    Subscriber,
    Subscription,
)
from awareness.web.app import create_app
from awareness.web.pages import make_environment
from awareness.web.security import CSP, SESSION_MAX_AGE, LoginThrottle, is_safe_next
from tests.conftest import LIVE_SERVER, ROOT, SERVICE_DUMMY_HASH, SERVICE_HASHER, orm_session

FIXTURE_TIERS = {"site": "integration"}  # tiers of this module's fixtures (conftest.py)

PASSWORD = "correct horse battery staple"
HOSTILE_TITLE = "<img src=x onerror=alert(1)>"
HOSTILE_SUMMARY = '"><svg onload=alert(1)>'
LONG_WORD = "https://evil.example/" + "a" * 300  # an unbreakable string must not widen a phone page
EMAIL = "jo.bloggs@trust.nhs.uk"
WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


# --- a running site -------------------------------------------------------------------------

@dataclass
class Site:
    """A migrated database with review data, and the app serving it on a real socket."""

    url: str
    ctx: Context
    app: Starlette
    ids: dict[str, int]
    token: str

    def client(self, address: str | None = None, **kwargs: Any) -> httpx.Client:
        """A client without redirects; ``address`` picks the loopback source address."""
        transport = httpx.HTTPTransport(local_address=address) if address else None
        return httpx.Client(base_url=self.url, follow_redirects=False, transport=transport,
                            timeout=30, **kwargs)

    def status_of(self, key: str) -> str:
        with orm_session(self.ctx) as session:
            return session.get_one(Match, self.ids[key]).status

    def unsubscribed_at(self) -> datetime | None:
        with orm_session(self.ctx) as session:
            row = session.scalar(select(Subscriber).where(Subscriber.token == self.token))
            assert row is not None
            return row.unsubscribed_at

    def snapshot(self) -> tuple[object, ...]:
        """Everything a request could change: statuses, reviews, sessions, subscriptions."""
        with orm_session(self.ctx) as session:
            return (
                sorted(session.execute(select(Match.id, Match.status)).all()),
                session.scalar(select(text("count(*)")).select_from(Review)),
                sorted(session.execute(select(Librarian.name, Librarian.session_version)).all()),
                sorted(session.execute(select(Subscriber.id, Subscriber.unsubscribed_at)).all()),
                sorted(session.execute(select(MatchDriver.id, MatchDriver.state)).all()),
                sorted(session.execute(select(DriverRecordRow.slug, DriverRecordRow.status))
                       .all()),
            )


def listening_socket() -> socket.socket:
    """A socket bound to a free loopback port, for ``LiveServer``.

    Made with ``IPPROTO_TCP`` named: asyncio sets TCP_NODELAY only on accepted sockets whose
    ``proto`` says TCP, and one made as ``socket.socket()`` says 0. Without it, uvicorn's
    separate writes of headers and body met the client's delayed ACK: 45 ms of waiting in
    every request, a minute of the suite in one test alone."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class LiveServer:
    """uvicorn serving ``app`` on an already-bound socket (``listening_socket``), in a
    background thread.

    Leaving it does not wait for the server to stop: uvicorn notices ``should_exit`` at its
    next tick (every 0.1 s) and then sleeps 0.1 s more while connections close, about 0.2 s
    that some 700 tests paid in their teardown. The test's requests are over by then; the
    thread finishes on its own, and none outlives the session (``conftest.py``)."""

    def __init__(self, app: Starlette, sock: socket.socket):
        if sock.proto != socket.IPPROTO_TCP:
            raise ValueError("serve on listening_socket(): see its docstring")
        config = uvicorn.Config(app, lifespan="off", ws="none", log_level="warning",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [sock]},
                                       daemon=True, name=LIVE_SERVER)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self.thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True


def seed(ctx: Context) -> tuple[dict[str, int], str]:
    """Review data with hostile feed strings; returns row ids by name and a subscriber token."""
    token = secrets.token_urlsafe(32)
    with orm_session(ctx) as session, session.begin():
        session.add_all([
            Source(id="nhs-england", name="NHS England news", publisher="NHS England",
                   url="https://www.england.nhs.uk/feed/", kind="feed"),
            Source(id="hostile", name="Hostile", publisher="Evil <b onmouseover=alert(1)>Pub</b>",
                   url="https://evil.example/feed", kind="feed"),
        ])
        session.flush()
        driver = DriverRecordRow(
            slug="interim-nhs-people-plan", kind="driver", title="Interim NHS People Plan",
            source="NHS England", link="https://www.longtermplan.nhs.uk/people-plan/",
            impact="Libraries can support new digital skills.", summary="The plan sets out…",
            tags=["Leadership"], created_at=WHEN, updated_at=WHEN,
            fields={"date_of_publication": "June 2019", "primary_audience": "All NHS staff",
                    "link": "https://www.longtermplan.nhs.uk/people-plan/"})
        evil_driver = DriverRecordRow(
            slug="evil-record", kind="case_study", title="<script>alert(1)</script>",
            source=HOSTILE_SUMMARY, link="javascript:alert(1)", impact=HOSTILE_TITLE,
            summary=LONG_WORD, tags=["<i onclick=alert(1)>tag</i>"], created_at=WHEN,
            updated_at=WHEN, fields={"story": HOSTILE_TITLE, "contact": "javascript:alert(2)"})
        session.add_all([driver, evil_driver])
        items = {
            "good": Item(source_id="nhs-england", key="good",
                         title="NHS sets out compassionate leadership programme",
                         link="https://www.england.nhs.uk/2026/11/leadership/",
                         summary_text="A national programme for boards and senior managers.",
                         published_at=WHEN, first_seen_at=WHEN),
            "hostile": Item(source_id="hostile", key="hostile", title=HOSTILE_TITLE,
                            link="javascript:alert(1)",
                            summary_text=f"{HOSTILE_SUMMARY} leadership {LONG_WORD}",
                            first_seen_at=WHEN),
            "approved": Item(source_id="nhs-england", key="a", title="Already approved item",
                             link="https://www.england.nhs.uk/a/", first_seen_at=WHEN),
            "rejected": Item(source_id="nhs-england", key="r", title="Already rejected item",
                             link="https://www.england.nhs.uk/r/", first_seen_at=WHEN),
            "auto": Item(source_id="nhs-england", key="d", title="Digital item, no review",
                         link="https://www.england.nhs.uk/d/", first_seen_at=WHEN),
        }
        session.add_all(items.values())
        session.flush()
        statuses = {"good": "pending", "hostile": "pending", "approved": "approved",
                    "rejected": "rejected", "auto": "auto"}
        matches = {key: Match(item_id=items[key].id, status=status,
                              topic_slug="digital" if key == "auto" else "leadership",
                              hits=[{"term": "leadership", "field": "title",
                                     "word": HOSTILE_TITLE if key == "hostile" else "leadership"}],
                              score=3.0 if key == "good" else 1.0, created_at=WHEN)
                   for key, status in statuses.items()}
        session.add_all(matches.values())
        session.flush()
        session.add_all([
            MatchDriver(match_id=matches["good"].id, driver_id=driver.id, kind="related",
                        score=0.8, reason="shares the tag Leadership"),
            MatchDriver(match_id=matches["hostile"].id, driver_id=evil_driver.id,
                        kind="related", score=0.5, reason=HOSTILE_SUMMARY),
        ])
        subscriber = Subscriber(email=EMAIL, frequency="weekly", token=token, created_at=WHEN,
                                confirmed_at=WHEN)
        subscriber.subscriptions.append(Subscription(topic_slug="leadership"))
        session.add(subscriber)
        session.flush()
        ids = {key: match.id for key, match in matches.items()}
    librarians.add_librarian(ctx, "alice", PASSWORD)
    librarians.add_librarian(ctx, "bob", PASSWORD)
    return ids, token


@contextmanager
def running_site(make_context: Callable[..., Context], base_url: str | None = None, *,
                 seeded: bool = True, **settings: str) -> Iterator[Site]:
    """Bind port 0 first, so the settings can name the real URL, then serve the app.
    ``settings`` are more AWARENESS_* settings (a test's own subscriptions folder). Not
    ``seeded``: a new deployment's, with alice's account and nothing else."""
    sock = listening_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ctx = make_context(AWARENESS_WEB_BASE_URL=base_url or url, **settings)
    if seeded:
        ids, token = seed(ctx)
    else:
        ids, token = {}, ""
        librarians.add_librarian(ctx, "alice", PASSWORD)
    app = create_app(ctx)
    with LiveServer(app, sock):
        yield Site(url=url, ctx=ctx, app=app, ids=ids, token=token)


@pytest.fixture
def site(make_context: Callable[..., Context]) -> Iterator[Site]:
    with running_site(make_context) as running:
        yield running


# --- helpers --------------------------------------------------------------------------------

def parse(page: str) -> ElementTree.Element:
    return html5lib.parse(page, namespaceHTMLElements=False)


class _CsrfInputs(HTMLParser):
    """The values of a page's ``<input name="csrf">`` elements. The standard library's
    parser, not html5lib: finding a token is most of what many tests parse a page for, and
    html5lib takes three times as long (4 s of the suite's CPU went to it)."""

    def __init__(self) -> None:
        super().__init__()
        self.tokens: set[str | None] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        if tag == "input" and named.get("name") == "csrf":
            self.tokens.add(named.get("value"))


def csrf_of(page: str) -> str:
    inputs = _CsrfInputs()
    inputs.feed(page)
    inputs.close()
    tokens = inputs.tokens
    assert len(tokens) == 1, f"expected one CSRF token on the page, got {tokens}"
    token = tokens.pop()
    assert token
    return token


def login(client: httpx.Client, name: str = "alice", password: str = PASSWORD,
          next_url: str = "") -> httpx.Response:
    token = csrf_of(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": password, "csrf": token,
                                       "next": next_url})


@contextmanager
def signed_in(site: Site) -> Iterator[tuple[httpx.Client, str]]:
    """A client signed in as alice, and the CSRF token of its session."""
    with site.client() as client:
        assert login(client).status_code == 303
        yield client, csrf_of(client.get("/review").text)


def cookie_header(response: httpx.Response, name: str) -> str:
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{name}="):
            return header
    raise AssertionError(f"no Set-Cookie for {name}: {response.headers.get_list('set-cookie')}")


def session_cookie(response: httpx.Response) -> str:
    return cookie_header(response, "awareness_session").split(";")[0].split("=", 1)[1]


def goes_to_login(response: httpx.Response) -> bool:
    return response.status_code == 303 and response.headers["location"].startswith("/login")


# --- login ----------------------------------------------------------------------------------

LIBRARIAN_GETS = ["/review", "/review?status=approved", "/review?status=rejected",
                  "/review?status=auto&page=2", "/review/1", "/review/1?q=plan"]


def test_every_librarian_route_sends_visitors_to_login(site: Site) -> None:
    before = site.snapshot()
    with site.client() as client:
        for path in LIBRARIAN_GETS:
            response = client.get(path)
            assert goes_to_login(response), path
        assert client.get("/review?status=approved").headers["location"] == (
            "/login?next=%2Freview%3Fstatus%3Dapproved")
        good = site.ids["good"]
        for path in (f"/review/{good}/approve", f"/review/{good}/reject", "/logout",
                     "/review/many", f"/review/{good}/undo", f"/review/{site.ids['auto']}/withdraw",
                     f"/review/{good}/links/remove", "/drivers/interim-nhs-people-plan/delete",
                     "/account/password"):
            assert goes_to_login(client.post(path, data={"csrf": "x"})), path
    assert site.snapshot() == before


def test_the_home_page_opens_the_topics_for_staff_and_the_dashboard_for_librarians(
        site: Site) -> None:
    """Staff who opened the service's address landed on the librarians' sign-in."""
    with site.client() as anonymous:
        assert anonymous.get("/").headers["location"] == "/topics"
        topics = anonymous.get("/", follow_redirects=True)
        assert topics.url.path == "/topics" and "Librarians sign in" not in topics.text
        footer = parse(topics.text).find(".//footer")
        assert footer is not None
        [sign_in] = [a for a in footer.iter("a")]
        assert (sign_in.get("href"), sign_in.text) == ("/login", "Librarians: sign in")
        assert "/login" not in anonymous.get("/login").text.split("<footer")[1]
    with signed_in(site) as (client, _):
        assert client.get("/").headers["location"] == "/dashboard"
        assert 'href="/login"' not in client.get("/dashboard").text


def test_passwords_are_hashed_at_the_production_cost(make_context: Callable[..., Context],
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    # The rest of the suite hashes at argon2's lowest cost (conftest.py); the service itself
    # uses argon2id with RFC 9106's second recommended parameters, for real names and for the
    # dummy hash an unknown name is checked against (so both cost the same).
    monkeypatch.setattr(librarians, "_hasher", SERVICE_HASHER)
    monkeypatch.setattr(librarians, "_dummy_hash", SERVICE_DUMMY_HASH)
    ctx = make_context()
    librarians.add_librarian(ctx, "carol", PASSWORD)
    with orm_session(ctx) as session:
        stored = session.scalars(select(Librarian.password_hash)).one()
    production = Parameters(type=Type.ID, version=19, salt_len=16, hash_len=32, time_cost=3,
                            memory_cost=64 * 1024, parallelism=4)
    assert extract_parameters(stored) == extract_parameters(SERVICE_DUMMY_HASH()) == production
    assert librarians.authenticate(ctx, "carol", PASSWORD) == ("carol", 1)
    assert librarians.authenticate(ctx, "carol", PASSWORD + "!") is None
    assert librarians.authenticate(ctx, "nobody", PASSWORD) is None


def test_wrong_password_and_unknown_name_get_the_same_generic_answer(site: Site) -> None:
    with site.client() as client:
        for name, password in (("alice", "wrong password!"), ("nobody", PASSWORD)):
            response = login(client, name, password)
            assert response.status_code == 200
            assert "name or password is wrong" in response.text
            assert "nobody" not in response.text.replace('value="nobody"', "")
            assert goes_to_login(client.get("/review"))


def test_right_password_rotates_the_cookie_and_opens_review(site: Site) -> None:
    with site.client() as client:
        before = session_cookie(client.get("/login"))
        token = csrf_of(client.get("/login").text)
        response = client.post("/login", data={"name": "alice", "password": PASSWORD,
                                               "csrf": token})
        assert response.status_code == 303
        assert response.headers["location"] == "/review"
        after = session_cookie(response)
        assert after != before
        page = client.get("/review")
        assert page.status_code == 200
        assert csrf_of(page.text) != token  # a new CSRF token at login, too
        assert "NHS sets out compassionate leadership programme" in page.text


@pytest.mark.parametrize("next_url, lands_on", [
    ("/review?status=approved", "/review?status=approved"),
    ("//evil.example/review", "/review"),
    ("https://evil.example/", "/review"),
    ("/\\evil.example", "/review"),
    ("javascript:alert(1)", "/review"),
])
def test_login_only_follows_same_site_next(site: Site, next_url: str, lands_on: str) -> None:
    with site.client() as client:
        assert login(client, next_url=next_url).headers["location"] == lands_on


def test_safe_next_accepts_only_relative_paths() -> None:
    assert is_safe_next("/drivers/x?y=1")
    for bad in ("", "review", "//x.example", "/\\x.example", "/\tx", "http://x.example/",
                "/review\r\nX: y", None):
        assert not is_safe_next(bad), bad


def test_throttle_per_address(site: Site) -> None:
    with site.client() as client:
        for attempt in range(5):
            assert login(client, f"guess{attempt}", "wrong password!").status_code == 200
        refused = login(client, "alice", PASSWORD)
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "60"
        assert "Too many failed attempts" in refused.text
        assert goes_to_login(client.get("/review"))
    # Another address is not affected, and alice herself is not locked out.
    with site.client("127.0.0.9") as other:
        assert login(other).status_code == 303


def test_throttle_per_name_across_addresses(site: Site) -> None:
    for n in range(2, 7):
        with site.client(f"127.0.0.{n}") as client:
            assert login(client, "alice", "wrong password!").status_code == 200
    with site.client("127.0.0.8") as client:
        assert login(client, "alice", PASSWORD).status_code == 429
        assert login(client, "bob", PASSWORD).status_code == 303


def test_throttle_forgets_after_the_window() -> None:
    now = [1000.0]
    throttle = LoginThrottle(limit=5, window=60, clock=lambda: now[0])
    for _ in range(5):
        throttle.record_failure("10.0.0.1", "alice")
    assert throttle.is_blocked("10.0.0.1", "someone")
    assert throttle.is_blocked("10.0.0.2", "Alice")
    now[0] += 59
    assert throttle.is_blocked("10.0.0.2", "alice")
    now[0] += 2
    assert not throttle.is_blocked("10.0.0.1", "alice")


def test_throttle_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_keys=100, clock=lambda: 5.0)
    for n in range(1000):
        throttle.record_failure(f"10.0.{n // 250}.{n % 250}", f"name{n}")
    assert len(throttle._failures) <= 100


# --- review and CSRF ------------------------------------------------------------------------

def test_approve_and_reject_change_status_and_say_so(site: Site) -> None:
    with signed_in(site) as (client, token):
        good, hostile = site.ids["good"], site.ids["hostile"]
        response = client.post(f"/review/{good}/approve",
                               data={"csrf": token, "note": "useful for boards"})
        assert response.status_code == 303
        assert response.headers["location"] == "/review"
        assert site.status_of("good") == "approved"
        page = client.get("/review")
        assert "Approved: NHS sets out compassionate leadership programme" in page.text
        assert f'id="match-{good}"' not in page.text
        assert "Approved:" not in client.get("/review").text  # a flash shows once

        assert client.post(f"/review/{hostile}/reject",
                           data={"csrf": token, "back": "pending"}).status_code == 303
        assert site.status_of("hostile") == "rejected"
        assert f'id="match-{good}"' in client.get("/review?status=approved").text
    with orm_session(site.ctx) as session:
        reviews = session.scalars(select(Review).order_by(Review.id)).all()
        assert [(r.librarian, r.decision, r.note) for r in reviews] == [
            ("alice", "approved", "useful for boards"), ("alice", "rejected", "")]


def test_review_lists_by_status_and_refuses_unknown_status(site: Site) -> None:
    with signed_in(site) as (client, _):
        pending = client.get("/review").text
        assert "Already approved item" not in pending
        assert "Already approved item" in client.get("/review?status=approved").text
        assert "Already rejected item" in client.get("/review?status=rejected").text
        assert "Digital item, no review" in client.get("/review?status=auto").text
        bad = client.get("/review?status=<b>nope</b>")
        assert bad.status_code == 400
        assert "&lt;b&gt;nope" in bad.text


def test_deciding_a_match_that_needs_no_review_is_a_400_page(site: Site) -> None:
    with signed_in(site) as (client, token):
        response = client.post(f"/review/{site.ids['auto']}/approve", data={"csrf": token})
        assert response.status_code == 400
        assert "needs no review" in response.text
        assert client.post("/review/999999/approve", data={"csrf": token}).status_code == 404
    assert site.status_of("auto") == "auto"


REFUSALS: dict[str, Callable[[str], tuple[dict[str, str], dict[str, str]]]] = {
    "no token": lambda token: ({}, {}),
    "wrong token": lambda token: ({"csrf": token[:-2] + "xx"}, {}),
    "empty token": lambda token: ({"csrf": ""}, {}),
    "foreign origin": lambda token: ({"csrf": token}, {"origin": "https://evil.example"}),
    "null origin": lambda token: ({"csrf": token}, {"origin": "null"}),
    "cross-site fetch": lambda token: ({"csrf": token}, {"sec-fetch-site": "cross-site"}),
}


@pytest.mark.parametrize("refusal", REFUSALS)
@pytest.mark.parametrize("action", ["approve", "reject"])
def test_cross_site_decisions_are_refused(site: Site, refusal: str, action: str) -> None:
    with signed_in(site) as (client, token):
        data, headers = REFUSALS[refusal](token)
        response = client.post(f"/review/{site.ids['good']}/{action}", data=data,
                               headers=headers)
        assert response.status_code == 403
        assert "came from another site" in response.text
    assert site.status_of("good") == "pending"


def test_every_post_route_but_unsubscribe_needs_the_token(site: Site) -> None:
    # The JSON API's POSTs take a token, never a cookie (tests/test_api.py: a signed-in
    # browser gets 401 there).
    posts = [r.path for r in site.app.routes
             if isinstance(r, Route) and "POST" in (r.methods or ())
             and not r.path.startswith("/api/")]
    for one_click in ("/unsubscribe/{token}", "/bulletins/stop/{token}"):  # RFC 8058
        assert one_click in posts
        posts.remove(one_click)
    assert len(posts) >= 4
    before = site.snapshot()
    with orm_session(site.ctx) as session:
        reader = session.scalar(select(Subscriber.id).where(Subscriber.token == site.token))
    with signed_in(site) as (client, token):
        for path in posts:
            url = path.replace("{match_id:int}", str(site.ids["good"])).replace(
                "{subscriber_id:int}", str(reader)).replace("{slug}", "weekly").replace(
                "{number:int}", "1").replace("{message_id:int}", "1").replace(
                "{action:str}", "remove")
            assert client.post(url, data={"csrf": "forged"}).status_code == 403, path
            assert client.post(url, data={"csrf": token},
                               headers={"origin": "https://evil.example"}).status_code == 403
    assert site.snapshot() == before


def test_same_origin_requests_with_the_token_are_accepted(site: Site) -> None:
    with signed_in(site) as (client, token):
        response = client.post(f"/review/{site.ids['good']}/approve", data={"csrf": token},
                               headers={"origin": site.url, "sec-fetch-site": "same-origin"})
        assert response.status_code == 303
    assert site.status_of("good") == "approved"


def test_get_never_changes_state(site: Site) -> None:
    before = site.snapshot()
    with signed_in(site) as (client, _):
        for path in ("/", "/login", "/review", "/review?status=approved", "/drivers",
                     "/drivers/interim-nhs-people-plan", f"/unsubscribe/{site.token}",
                     "/healthz", f"/review/{site.ids['good']}/approve",
                     f"/review/{site.ids['good']}/reject", "/logout",
                     f"/review/{site.ids['good']}", f"/review/{site.ids['good']}?q=plan",
                     "/review?status=auto&page=2", f"/review/{site.ids['good']}/undo",
                     f"/review/{site.ids['auto']}/withdraw", "/review/many",
                     f"/review/{site.ids['good']}/links/remove",
                     "/drivers/interim-nhs-people-plan/delete",
                     "/drivers/interim-nhs-people-plan/edit"):
            assert client.get(path).status_code in (200, 303, 405), path
        assert client.get(f"/review/{site.ids['good']}/approve").status_code == 405
    assert site.snapshot() == before


def test_form_bodies_are_capped(site: Site) -> None:
    with signed_in(site) as (client, token):
        response = client.post(f"/review/{site.ids['good']}/approve",
                               data={"csrf": token, "note": "x" * 200_000})
        assert response.status_code == 413
        assert response.headers["content-security-policy"] == CSP
    assert site.status_of("good") == "pending"


# --- sessions -------------------------------------------------------------------------------

def test_logout_kills_every_cookie_of_the_librarian(site: Site) -> None:
    with signed_in(site) as (client, token), signed_in(site) as (second, _):
        old = client.cookies["awareness_session"]
        response = client.post("/logout", data={"csrf": token})
        assert response.status_code == 303
        assert response.headers["location"] == "/login"
        cleared = cookie_header(response, "awareness_session")
        assert "Max-Age=0" in cleared or "expires=Thu, 01 Jan 1970" in cleared
        with site.client() as replay:
            response = replay.get("/review", headers={"cookie": f"awareness_session={old}"})
            assert goes_to_login(response)
        assert goes_to_login(second.get("/review"))  # the other browser is out too
        assert login(client).status_code == 303  # and signing in again works


class TwelveHoursAgo(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - SESSION_MAX_AGE - 60


def test_forged_tampered_and_expired_session_cookies_are_refused(site: Site) -> None:
    key = site.ctx.settings.secret_key()
    claims = {"c": "token", "n": "alice", "v": 1}
    with signed_in(site) as (client, _):
        good = client.cookies["awareness_session"]
        payload = good.split(".")[0]
        cookies = {
            "tampered": good.replace(payload, payload[:-1] + ("A" if payload[-1] != "A" else "B")),
            "other key": URLSafeTimedSerializer("another key", salt="session").dumps(claims),
            "other salt": URLSafeTimedSerializer(key, salt="flash").dumps(claims),
            "expired": URLSafeTimedSerializer(key, salt="session",
                                              signer=TwelveHoursAgo).dumps(claims),
        }
    fresh = URLSafeTimedSerializer(key, salt="session").dumps(claims)
    with site.client() as other:
        # The control: the same claims, signed properly, are accepted.
        assert other.get("/review", headers={"cookie": f"awareness_session={fresh}"}
                         ).status_code == 200
        for name, cookie in cookies.items():
            response = other.get("/review", headers={"cookie": f"awareness_session={cookie}"})
            assert goes_to_login(response), name


def test_cookie_flags_on_plain_http(site: Site) -> None:
    with site.client() as client:
        token = csrf_of(client.get("/login").text)
        response = client.post("/login", data={"name": "alice", "password": PASSWORD,
                                               "csrf": token})
        header = cookie_header(response, "awareness_session").lower()
        for flag in ("httponly", "samesite=lax", "path=/", "max-age=43200"):
            assert flag in header
        assert "secure" not in header  # browsers drop Secure cookies on http
        assert "strict-transport-security" not in response.headers


@pytest.mark.integration
def test_cookie_flags_and_hsts_behind_https(make_context: Callable[..., Context]) -> None:
    with (running_site(make_context, base_url="https://library.example.nhs.uk") as site,
          site.client() as client):
        first = client.get("/login")
        assert first.headers["strict-transport-security"].startswith("max-age=")
        set_cookie = cookie_header(first, "__Host-awareness_session")
        cookie = set_cookie.split(";")[0]
        response = client.post("/login", headers={"cookie": cookie}, data={
            "name": "alice", "password": PASSWORD, "csrf": csrf_of(first.text)})
        assert response.status_code == 303
        header = cookie_header(response, "__Host-awareness_session").lower()
        for flag in ("secure", "httponly", "samesite=lax", "path=/", "max-age=43200"):
            assert flag in header
        assert "domain=" not in header  # the __Host- prefix forbids it


# --- headers and errors ---------------------------------------------------------------------

def test_security_headers_on_every_response(site: Site) -> None:
    with signed_in(site) as (client, token), site.client() as anonymous:
        responses = [
            client.get("/review"), client.get("/drivers"), client.get("/drivers/nope"),
            client.get("/static/style.css"), client.get("/static/missing.css"),
            client.get("/no/such/page"), client.get("/healthz"), client.put("/review"),
            client.post(f"/review/{site.ids['good']}/approve", data={}),
            client.get("/review?status=bogus"), anonymous.get("/review"),
            anonymous.get("/login"), anonymous.get(f"/unsubscribe/{site.token}"),
            anonymous.post(f"/unsubscribe/{site.token}"),
            client.post(f"/review/{site.ids['good']}/reject", data={"csrf": token}),
        ]
    for response in responses:
        where = f"{response.request.method} {response.request.url.path}"
        assert response.headers["content-security-policy"] == CSP, where
        assert response.headers["x-content-type-options"] == "nosniff", where
        assert response.headers["referrer-policy"] == "same-origin", where
        assert response.headers["x-frame-options"] == "DENY", where
        assert "strict-transport-security" not in response.headers, where
    assert "script-src 'self'" in CSP and "unsafe-inline" not in CSP


def test_unexpected_error_is_a_500_page_with_a_request_id(
        site: Site, caplog: pytest.LogCaptureFixture) -> None:
    with signed_in(site) as (client, _):
        with site.ctx.engine.begin() as connection:
            connection.execute(text("ALTER TABLE match_drivers RENAME TO match_drivers_gone"))
        response = client.get("/review")
    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{16}", request_id)
    assert request_id in response.text
    for leak in ("Traceback", "SELECT", "match_drivers", "sqlalchemy", "OperationalError"):
        assert leak not in response.text
    assert response.headers["content-security-policy"] == CSP
    logged = [r for r in caplog.records if request_id in r.getMessage()]
    assert logged and logged[0].exc_info is not None


def test_unknown_driver_is_a_404_page(site: Site) -> None:
    with site.client() as client:
        response = client.get("/drivers/no-such-record")
        assert response.status_code == 404
        assert "Page not found" in response.text or "Not Found" in response.text
        assert "no driver record" in response.text


def test_an_error_page_keeps_a_librarians_layout_and_a_visitors(site: Site) -> None:
    # A visitor is sent back to the topics staff sign up from, in the public layout; a
    # librarian keeps their navigation, and is sent back to their dashboard.
    def start_again(page: str) -> str:
        [link] = [a.get("href") for p in parse(page).iter("p")
                  if "start again" in "".join(p.itertext()) for a in p.iter("a")]
        return str(link)

    with site.client() as client:
        for path in ("/no-such-page", "/drivers/no-such-record"):
            page = client.get(path)
            assert page.status_code == 404 and start_again(page.text) == "/topics"
            assert "Sign out" not in page.text and 'href="/review"' not in page.text
    with signed_in(site) as (client, _):
        for path in ("/no-such-page", "/drivers/no-such-record"):
            page = client.get(path)
            assert page.status_code == 404 and start_again(page.text) == "/dashboard"
            assert 'Sign out</button>' in page.text
            assert '"who-name" title="alice">alice</span> (administrator)' in page.text
            assert 'href="/review"' in page.text


def test_healthz_reports_checks(site: Site) -> None:
    with site.client() as client:
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "role": "web", "checks": {
            "mail": {"ok": True, "detail": "0 messages to send"},
            "files": {"ok": True, "detail": "ok"}}}

        def failing() -> tuple[str, bool, str]:
            return ("scheduler", False, "no heartbeat for 300 s")

        def broken() -> tuple[str, bool, str]:
            raise RuntimeError("boom")

        site.app.state.health_checks.extend([failing, broken])
        response = client.get("/healthz")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unhealthy"
        assert body["checks"]["scheduler"] == {"ok": False, "detail": "no heartbeat for 300 s"}
        assert body["checks"]["broken"]["ok"] is False


# --- public pages ---------------------------------------------------------------------------

def test_driver_pages_are_public_and_complete(site: Site) -> None:
    with site.client() as client:
        listing = client.get("/drivers")
        assert listing.status_code == 200
        assert 'href="/drivers/interim-nhs-people-plan"' in listing.text
        page = client.get("/drivers/interim-nhs-people-plan")
        assert page.status_code == 200
        for text_ in ("Interim NHS People Plan", "What this means for libraries",
                      "Libraries can support new digital skills.", "Date of publication",
                      "June 2019", "Primary audience", "All NHS staff", "Leadership",
                      # Its one linked item waits for review: the public does not see it.
                      "No items have been linked to this record yet."):
            assert text_ in page.text, text_
        links = {a.get("href"): a.get("rel") for a in parse(page.text).iter("a")}
        assert links["https://www.longtermplan.nhs.uk/people-plan/"] == (
            "noopener noreferrer nofollow")
        assert "Sign out" not in page.text


# --- unsubscribe (RFC 8058) -----------------------------------------------------------------

def test_unsubscribe_get_only_confirms(site: Site) -> None:
    with site.client() as client:
        for _ in range(3):  # link scanners and prefetchers follow links repeatedly
            response = client.get(f"/unsubscribe/{site.token}")
            assert response.status_code == 200
        assert client.head(f"/unsubscribe/{site.token}").status_code == 200
    forms = [f for f in parse(response.text).iter("form")
             if f.get("action") == f"/unsubscribe/{site.token}"]
    assert forms and forms[0].get("method") == "post"
    assert EMAIL not in response.text  # masked, never the whole address (W8)
    assert "j…@trust.nhs.uk" in response.text
    # What they would stop, by the names they chose them by, each at its own frequency.
    assert "<li>Leadership (weekly digest)</li>" in response.text
    assert "The library's bulletins" not in response.text  # they never chose bulletins
    assert "set-cookie" not in response.headers
    assert site.unsubscribed_at() is None


def multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = secrets.token_hex(12)
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
             for name, value in fields.items()]
    return "".join([*parts, f"--{boundary}--\r\n"]).encode(), (
        f"multipart/form-data; boundary={boundary}")


def one_click(site: Site, token: str, encoding: str, **headers: str) -> httpx.Response:
    if encoding == "multipart":
        body, content_type = multipart({"List-Unsubscribe": "One-Click"})
    else:
        body, content_type = b"List-Unsubscribe=One-Click", "application/x-www-form-urlencoded"
    with site.client() as client:  # a fresh client: no cookies at all
        return client.post(f"/unsubscribe/{token}", content=body,
                           headers={"content-type": content_type, **headers})


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_unsubscribe(site: Site, encoding: str) -> None:
    response = one_click(site, site.token, encoding)
    assert response.status_code == 200
    assert "You are unsubscribed" in response.text
    assert 'href="/topics">choose your topics and sign up again' in response.text
    assert "set-cookie" not in response.headers
    assert "location" not in response.headers
    assert site.unsubscribed_at() == site.ctx.now()


def test_one_click_needs_no_origin_and_ignores_cross_site_markers(site: Site) -> None:
    response = one_click(site, site.token, "urlencoded", origin="https://mail.example",
                         **{"sec-fetch-site": "cross-site"})
    assert response.status_code == 200
    assert site.unsubscribed_at() is not None


def test_repeated_unsubscribe_is_idempotent(site: Site) -> None:
    assert one_click(site, site.token, "urlencoded").status_code == 200
    first = site.unsubscribed_at()
    second = one_click(site, site.token, "multipart")
    assert second.status_code == 200
    assert "You are unsubscribed" in second.text
    assert site.unsubscribed_at() == first
    with site.client() as client:
        assert "already unsubscribed" in client.get(f"/unsubscribe/{site.token}").text


@pytest.mark.parametrize("tamper", [
    lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),
    lambda t: t[:-4],
    lambda t: t + "x",
    lambda t: "short",
    lambda t: t.upper(),
])
def test_tampered_unsubscribe_token_is_a_404_and_changes_nothing(
        site: Site, tamper: Callable[[str], str]) -> None:
    before = site.snapshot()
    token = tamper(site.token)
    response = one_click(site, token, "urlencoded")
    assert response.status_code == 404
    assert "not recognised" in response.text
    with site.client() as client:
        assert client.get(f"/unsubscribe/{token}").status_code == 404
    assert site.snapshot() == before


# --- hostile feed text (W1, W2, W10) --------------------------------------------------------

def assert_inert(page: str) -> ElementTree.Element:
    """No script but our own files from /static, no event handler, no javascript:/data: URL
    anywhere in the page."""
    tree = parse(page)
    for element in tree.iter():
        if element.tag == "script":
            assert re.fullmatch(r"/static/[a-z]+\.js", element.attrib.get("src", "")), \
                element.attrib
            assert not "".join(element.itertext()).strip()
            continue
        assert element.tag not in ("svg", "img", "iframe", "object"), element.tag
        for name, value in element.attrib.items():
            assert not name.lower().startswith("on"), (element.tag, name)
            if name in ("href", "src", "action", "formaction"):
                assert not value.strip().lower().startswith(("javascript:", "data:")), value
    return tree


def test_hostile_feed_strings_are_escaped_on_the_review_page(site: Site) -> None:
    with signed_in(site) as (client, _):
        page = client.get("/review").text
    tree = assert_inert(page)
    texts = " ".join(" ".join(el.itertext()) for el in tree.iter("h2"))
    assert HOSTILE_TITLE in texts  # shown as text, not as a link (its link is javascript:)
    assert "&lt;svg onload=alert(1)&gt;" in page
    outward = [a for a in tree.iter("a") if a.get("href", "").startswith("http")]
    assert outward
    for anchor in outward:
        assert anchor.get("rel") == "noopener noreferrer nofollow"
        assert anchor.get("target") is None


def test_hostile_driver_record_is_escaped(site: Site) -> None:
    with site.client() as client:
        for path in ("/drivers", "/drivers/evil-record"):
            response = client.get(path)
            assert response.status_code == 200
            assert_inert(response.text)
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in response.text


def test_every_web_template_is_autoescaped(site: Site) -> None:
    env = make_environment(ROOT / "templates", site.ctx.settings.timezone)
    names = sorted(p.name for p in (ROOT / "templates" / "web").glob("*.html"))
    assert {"base.html", "review.html", "login.html", "error.html"} <= set(names)
    assert env.autoescape is True
    for name in names:
        template = env.get_template(name)
        assert template.environment.autoescape is True, name
    assert env.from_string("{{ x }}").render(x=HOSTILE_TITLE) == (
        "&lt;img src=x onerror=alert(1)&gt;")


SAFE_ALLOW_LIST: set[str] = set()  # template paths allowed to use |safe (none)


def test_no_template_switches_escaping_off() -> None:
    pattern = re.compile(r"\|\s*safe\b|autoescape\s+false|Markup\s*\(", re.IGNORECASE)
    found = set()
    for path in sorted((ROOT / "templates").rglob("*")):
        if path.is_file() and pattern.search(path.read_text(encoding="utf-8")):
            found.add(str(path.relative_to(ROOT)))
    for path in sorted((ROOT / "src" / "awareness" / "web").rglob("*.py")):
        if re.search(r"Markup\s*\(|\|\s*safe\b", path.read_text(encoding="utf-8")):
            found.add(str(path.relative_to(ROOT)))
    assert found == SAFE_ALLOW_LIST


def test_page_helpers_are_pure_text(site: Site) -> None:
    env = make_environment(ROOT / "templates", site.ctx.settings.timezone)
    assert env.filters["safe_url"]("javascript:alert(1)") is None
    assert env.filters["safe_url"]("https://www.england.nhs.uk/") == "https://www.england.nhs.uk/"
    assert env.filters["field_label"]("date_of_publication") == "Date of publication"
    assert env.filters["field_label"]("impact", "case_study") == "Impact of this project or service"
    assert env.filters["local_date"](datetime(2026, 6, 30, 23, 30, tzinfo=UTC)) == "1 July 2026"


def test_static_files_are_served(site: Site) -> None:
    with site.client() as client:
        response = client.get("/static/style.css")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/css")
    assert "#005eb8" in response.text
    assert Path(ROOT / "src" / "awareness" / "web" / "static" / "style.css").is_file()


def test_an_id_past_the_databases_integers_is_not_found(site: Site) -> None:
    """Ids in paths are 32-bit integers in the database: a larger one is "not found" on
    every page, never PostgreSQL's "integer out of range" as a 500."""
    huge = str(2**40)
    paths = [r.path for r in site.app.routes if isinstance(r, Route) and ":int}" in r.path
             and not r.path.startswith("/api/")]
    assert len(paths) >= 10
    before = site.snapshot()
    with signed_in(site) as (client, token):
        for path in paths:
            url = re.sub(r"\{\w+:int\}", huge, path).replace("{slug}", "weekly").replace(
                "{action:str}", "remove")
            route = next(r for r in site.app.routes if isinstance(r, Route) and r.path == path)
            if "GET" in (route.methods or ()):
                assert client.get(url).status_code in (400, 404), url
            if "POST" in (route.methods or ()):
                answer = client.post(url, data={"csrf": token},
                                     headers={"origin": site.url})
                assert answer.status_code in (400, 404), (url, answer.status_code)
    assert site.snapshot() == before


@pytest.mark.parametrize(("status", "keys"), [
    ("pending", ["j", "k", "a", "r", "x"]), ("approved", ["j", "k", "r", "x"]),
    ("rejected", ["j", "k", "a", "x"])])
def test_the_keyboard_hint_offers_only_keys_this_tab_answers(site: Site, status: str,
                                                            keys: list[str]) -> None:
    # "a approve" on the Approved tab, where no match has an Approve button, did nothing.
    with signed_in(site) as (client, _):
        page = client.get(f"/review?status={status}").text
    [hint] = [p for p in parse(page).iter("p") if p.get("id") == "keyboard-help"]
    assert [kbd.text for kbd in hint.iter("kbd")] == keys


@pytest.mark.integration
def test_an_error_page_speaks_plainly_and_gives_the_librarys_address(
        make_context: Callable[..., Context]) -> None:
    with running_site(make_context, AWARENESS_LIBRARY_CONTACT_EMAIL="library@trust.nhs.uk"
                      ) as site:
        with site.client() as anonymous:
            page = anonymous.get("/digest/1/not-a-signature")
            assert page.status_code == 404
            [heading] = [h.text for h in parse(page.text).iter("h1")]
            assert heading == "Page not found"  # not HTTP's "Not Found"
            assert 'write to <a href="mailto:library@trust.nhs.uk">' in page.text
            assert anonymous.post("/topics").status_code == 405
            assert "That cannot be done here" in anonymous.post("/topics").text
        with signed_in(site) as (client, _):  # a librarian is not told to write to themselves
            assert "mailto:library@trust.nhs.uk" not in client.get("/no-such-page").text
