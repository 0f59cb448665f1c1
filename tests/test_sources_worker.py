"""Parsing in worker processes: a runaway parse is bounded and blocks nobody (P8, P7)."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from awareness.errors import ParseError
from awareness.model import ParsedFeed
from awareness.sources.parse import MEMORY_REJECTION
from awareness.sources.worker import ParsePool

pytestmark = pytest.mark.integration  # parse workers are child processes

HOSTILE = Path(__file__).parent / "data" / "hostile-feeds"
NOW = datetime(2026, 1, 25, 12, 0, tzinfo=UTC)
URL = "https://pub.example/feed"
SMALL = (b"<rss version='2.0'><channel><item><title>Small</title>"
         b"<link>https://pub.example/a</link></item></channel></rss>")
# No test here depends on how fast the machine is. An ordinary parse gets a budget no loaded
# machine comes near; the runaway is a parse that never ends, so any budget stops it.
GENEROUS = 60.0
RUNAWAY_BUDGET = 1.0


class HeldFeed:
    """A feed body that reaches the worker only when the test sends it.

    The worker reads it from a FIFO while it unpickles the request, so its parse cannot end
    before ``release``; never released, it is a parse that never ends within any budget. (A
    real runaway such as hostile-feeds/deep-nesting-100k.xml ends after some seconds, fewer
    on a faster machine, so no budget tells it from an ordinary parse on every machine.)
    """

    def __init__(self, fifo: Path):
        os.mkfifo(fifo)
        self.fifo = fifo

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.read_bytes, (self.fifo,))

    def release(self, body: bytes) -> None:
        self.fifo.write_bytes(body)  # opening blocks until the worker opens the other end


def big_feed(items: int) -> bytes:
    entries = b"".join(b"<item><title>t%d</title><description>%s</description></item>"
                       % (n, b"x" * 300) for n in range(items))
    return b"<rss version='2.0'><channel>" + entries + b"</channel></rss>"


def parse(pool: ParsePool, body: bytes | HeldFeed) -> ParsedFeed:
    # A HeldFeed turns into bytes in the worker, as it is unpickled.
    return pool.parse(body, url=URL, content_type=None, now=NOW)  # type: ignore[arg-type]


@pytest.fixture
def pool() -> Iterator[ParsePool]:
    pool = ParsePool(2, timeout=GENEROUS)
    yield pool
    pool.close()


def test_a_parse_returns_the_same_items_as_in_process(pool: ParsePool) -> None:
    assert parse(pool, SMALL).items[0].title == "Small"


def test_a_runaway_parse_is_killed_and_the_worker_replaced(pool: ParsePool,
                                                           tmp_path: Path) -> None:
    pool.timeout = RUNAWAY_BUDGET  # how long to wait for a parse that will never end
    with pytest.raises(ParseError, match=r"took longer than 1 s"):
        parse(pool, HeldFeed(tmp_path / "never"))
    pool.timeout = GENEROUS
    for _ in range(3):  # every slot still has a working process behind it
        assert parse(pool, SMALL).items


def test_bad_feeds_are_parse_errors_and_the_worker_is_kept(pool: ParsePool) -> None:
    with pytest.raises(ParseError, match="could not parse feed"):
        parse(pool, (HOSTILE / "crash-nbsp-in-namespace-uri.xml").read_bytes())
    with pytest.raises(ParseError, match="entity expansion"):
        parse(pool, (HOSTILE / "entity-quadratic-20MB-per-field.xml").read_bytes())
    assert parse(pool, SMALL).items


def test_a_parse_over_the_memory_limit_is_an_error_not_a_crash() -> None:
    pool = ParsePool(1, timeout=GENEROUS, memory_limit=64 * 1024 * 1024)
    try:
        with pytest.raises(ParseError) as caught:
            parse(pool, big_feed(20_000))
        assert str(caught.value) in (MEMORY_REJECTION,
                                     "the parser process died (the feed needed too much memory)")
        assert parse(pool, SMALL).items
    finally:
        pool.close()


def test_a_slow_parse_does_not_block_the_other_worker(pool: ParsePool, tmp_path: Path) -> None:
    held = HeldFeed(tmp_path / "held")
    results: list[ParsedFeed] = []
    parse(pool, SMALL)  # both workers may now be started
    thread = threading.Thread(target=lambda: results.append(parse(pool, held)), daemon=True)
    thread.start()
    assert parse(pool, SMALL).items  # while the held parse cannot have ended
    assert thread.is_alive() and not results
    held.release(SMALL)
    thread.join()
    assert results[0].items[0].title == "Small"


def test_a_closed_pool_refuses_work() -> None:
    pool = ParsePool(1)
    pool.close()
    with pytest.raises(RuntimeError):
        parse(pool, SMALL)
