"""A librarian's sign-in and approval never wait for a poll (issue 11).

A poll used to store *and match* in one write transaction, so on SQLite the database stayed
locked while a wordy feed was matched: web sign-in answered 500 ("database is locked") and
`review approve` failed after 30 s. Here a poll of wordy feeds against NEAR/100 strategies is
held in the middle of matching (a topic whose scoring waits on the test, a fake of the pure
core), and a librarian signs in and approves a match over real HTTP meanwhile.
"""

from __future__ import annotations

import dataclasses
import threading

import httpx
from sqlalchemy import select

from awareness.service import polling
from awareness.storage.models import Match
from awareness.web.app import create_app
from tests.conftest import Response, orm_session
from tests.test_web import LiveServer, csrf_of, listening_socket, login, seed

RETENTION = "(nurse* OR midwi*) NEAR/100 (retention OR retain*)"
WORDY = " ".join(["Nurses and midwives told us what would help retention."] * 60)


def rss(prefix: str, count: int, summary: str) -> bytes:
    body = "".join(f"<item><title>{prefix} workforce report {n}</title>"
                   f"<link>https://{prefix}.example/{n}</link>"
                   "<pubDate>Mon, 23 Nov 2026 00:01:00 +0000</pubDate>"
                   f"<description>{summary}</description></item>" for n in range(count))
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{body}</channel></rss>'.encode()


class Gate:
    """Holds whoever calls ``wait_here`` until the test releases it."""

    def __init__(self) -> None:
        self.entered, self.released = threading.Event(), threading.Event()

    def wait_here(self) -> None:
        self.entered.set()
        assert self.released.wait(timeout=60), "the test never released the poll"


def test_sign_in_and_approval_succeed_while_a_poll_matches_wordy_feeds(
        make_context, feed_server, tmp_path, monkeypatch):
    subs = tmp_path / "subs"
    (subs / "topics").mkdir(parents=True)
    for n in range(3):
        (subs / "topics" / f"retention{n}.toml").write_text(
            f'name = "Retention {n}"\ndescription = "d"\nreview = "required"\n'
            f'query = "{RETENTION}"\n', encoding="utf-8")
    (subs / "sources.toml").write_text("".join(
        f'[[source]]\nid = "wordy{n}"\nname = "w"\npublisher = "P{n}"\nkind = "feed"\n'
        f'url = "{feed_server.url(f"/wordy{n}")}"\n\n' for n in range(3)), encoding="utf-8")
    sock = listening_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs), AWARENESS_WEB_BASE_URL=url)
    ids, _ = seed(ctx)  # a librarian "alice" and a pending match, "good"
    for n in range(3):
        feed_server.routes[f"/wordy{n}"] = Response(rss(f"old{n}", 1, "Old."))
    wordy = [f"wordy{n}" for n in range(3)]
    polling.poll(ctx, wordy)  # the baselines
    for n in range(3):
        feed_server.routes[f"/wordy{n}"] = Response(rss(f"new{n}", 20, WORDY))

    gate = Gate()
    real = ctx.topics()
    held = real[0].query

    class Held(type(held)):  # type: ignore[misc]
        def score(self, *args, **kwargs):
            gate.wait_here()
            return super().score(*args, **kwargs)

    fields = {f.name: getattr(held, f.name) for f in dataclasses.fields(held)}
    topics = (dataclasses.replace(real[0], query=Held(**fields)), *real[1:])
    monkeypatch.setattr(ctx, "topics", lambda: topics)
    outcomes: list[polling.PollOutcome] = []
    poll = threading.Thread(target=lambda: outcomes.extend(polling.poll(ctx, wordy)))
    poll.start()
    try:
        assert gate.entered.wait(timeout=60), "the poll never reached matching"
        with LiveServer(create_app(ctx), sock), httpx.Client(base_url=url) as client:
            assert login(client).status_code == 303
            page = client.get("/review")
            assert page.status_code == 200
            approved = client.post(f"/review/{ids['good']}/approve",
                                   data={"csrf": csrf_of(page.text), "note": ""})
            assert approved.status_code == 303, approved.text
            assert poll.is_alive(), "the poll must still be matching: nobody waited for it"
    finally:
        gate.released.set()
        poll.join(timeout=60)
    assert [o.status for o in outcomes] == ["ok"] * 3
    assert sum(o.new_matches for o in outcomes) == 3 * 20 * 3
    with orm_session(ctx) as session:
        assert session.scalar(select(Match.status).where(Match.id == ids["good"])) == "approved"
