"""Three `awareness run` processes on one PostgreSQL schema (issue 15; RELIABILITY S1, S2).

They start at the same moment after sources were added to sources.toml (each syncs the file
and checks the schema at start), each with a data folder of its own, as on three hosts: one
leads, every source is fetched once (counted at the feed server), `kill -9` of the leader
hands the lead to another, and a leader whose lock session is ended stops scheduling.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.conftest import ROOT, FeedServer, Response, free_port, settings_env
from tests.databases import PG_URL, Templates
from tests.test_polling import FLU, LEADERSHIP, rss

pytestmark = [
    pytest.mark.integration, pytest.mark.db,
    pytest.mark.skipif(not PG_URL, reason="needs AWARENESS_TEST_DATABASE_URL (PostgreSQL)"),
]
SOURCES = ("alpha", "beta", "gamma")


class Node:
    """One `python -m awareness run` process, its port and its log file."""

    def __init__(self, name: str, env: dict[str, str], log: Path):
        self.name, self.port, self.log = name, free_port(), log
        self.process = subprocess.Popen(
            [sys.executable, "-m", "awareness", "run"],
            env={**env, "AWARENESS_WEB_PORT": str(self.port),
                 "AWARENESS_PATHS_DATA": str(log.parent / name)},
            cwd=ROOT, stdout=log.open("w"), stderr=subprocess.STDOUT)

    def role(self) -> str | None:
        """What /healthz says this process is; None while it does not answer."""
        if self.process.poll() is not None:
            return None
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=5).json()["role"]
        except (httpx.TransportError, ValueError):
            return None

    def output(self) -> str:
        return self.log.read_text(errors="replace")


def wait_for(condition: Callable[[], object], what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting: {what}"
        time.sleep(0.2)


def leaders(nodes: list[Node]) -> list[Node]:
    return [node for node in nodes if node.role() == "leader"]


@pytest.fixture
def schema_url(database_templates: Templates, tmp_path: Path) -> Iterator[str]:
    with database_templates.database("postgresql", tmp_path, migrated=True) as url:
        yield url


@pytest.fixture
def cluster(schema_url: str, tmp_path: Path, feed_server: FeedServer) -> Iterator[list[Node]]:
    subs = tmp_path / "subscriptions"
    (subs / "topics").mkdir(parents=True)
    (subs / "topics" / "leadership.toml").write_text(
        'name = "Leadership"\ndescription = "x"\nreview = "required"\nquery = "leader*"\n')
    (subs / "sources.toml").write_text("".join(
        f'[[source]]\nid = "{name}"\nname = "{name}"\npublisher = "NHS England"\n'
        f'kind = "feed"\nurl = "{feed_server.url(f"/{name}")}"\n\n' for name in SOURCES))
    for name in SOURCES:
        feed_server.routes[f"/{name}"] = Response(rss(FLU, LEADERSHIP))
    env = {**os.environ, **settings_env(tmp_path, schema_url,
                                        AWARENESS_PATHS_SUBSCRIPTIONS=str(subs),
                                        AWARENESS_SCHEDULE_POLL_SECONDS="1")}
    nodes = [Node(f"node{n}", env, tmp_path / f"node{n}.log") for n in range(3)]
    try:
        yield nodes
    finally:
        for node in nodes:
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGINT)
        for node in nodes:
            try:
                node.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()


def lock_session(schema_url: str) -> int:
    """The backend pid of the session holding this schema's scheduler lock."""
    engine = create_engine(schema_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND objid::bigint"
                " = hashtext('awareness-scheduler:' || current_schema())::bigint & 4294967295"
            )).scalar_one())
    finally:
        engine.dispose()


def end_session(schema_url: str, pid: int) -> None:
    engine = create_engine(schema_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
    finally:
        engine.dispose()


def polled(schema_url: str) -> int:
    """How many sources have a poll written (committed) to the database."""
    engine = create_engine(schema_url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text(
                "SELECT count(*) FROM sources WHERE last_attempt_at IS NOT NULL")).scalar_one())
    finally:
        engine.dispose()


def fetches(feed_server: FeedServer) -> dict[str, int]:
    paths = [path for path, _ in feed_server.requests]
    return {name: paths.count(f"/{name}") for name in SOURCES}


def test_three_processes_one_leader_each_source_once_and_takeover(
        cluster: list[Node], schema_url: str, feed_server: FeedServer) -> None:
    nodes = cluster
    wait_for(lambda: all(node.role() for node in nodes), "every process answers /healthz")
    wait_for(lambda: len(leaders(nodes)) == 1, "one leader")
    roles = sorted(str(node.role()) for node in nodes)
    assert roles == ["leader", "standby", "standby"]
    # Every poll written, so that the kill below cannot cut one short (which would rightly
    # make the next leader fetch that source again).
    wait_for(lambda: polled(schema_url) == len(SOURCES), "every source polled")

    # kill -9 the leader: another process leads (within 15 s: docs/scaling.md).
    [first] = leaders(nodes)
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    rest = [node for node in nodes if node is not first]
    wait_for(lambda: len(leaders(rest)) == 1, "a new leader after kill -9")
    [second] = leaders(rest)

    # End the new leader's lock session: it stops scheduling at once, and someone leads again.
    end_session(schema_url, lock_session(schema_url))
    wait_for(lambda: "lost the scheduler lock" in second.output(),
             "the leader notices the lost session")
    wait_for(lambda: len(leaders(rest)) == 1, "a leader again")

    # Every source was fetched once in all of this: each interval is an hour, and no
    # process, leader or not, polled a source another had already polled.
    assert fetches(feed_server) == {name: 1 for name in SOURCES}
    assert [node.process.poll() for node in rest] == [None, None]  # nobody crashed
    for node in nodes:
        assert "Traceback" not in node.output(), node.output()
        assert "IntegrityError" not in node.output()
    assert "this process runs the scheduler" in second.output()
