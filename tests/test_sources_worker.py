"""Parsing in worker processes: a runaway parse is bounded and blocks nobody (P8, P7)."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from awareness.errors import ParseError
from awareness.model import ParsedFeed
from awareness.sources.parse import MEMORY_REJECTION
from awareness.sources.worker import ParsePool

pytestmark = pytest.mark.integration  # parse workers are child processes

HOSTILE = Path(__file__).parent / "data" / "hostile-feeds"
NOW = datetime(2026, 1, 25, 12, 0, tzinfo=UTC)
SMALL = (b"<rss version='2.0'><channel><item><title>Small</title>"
         b"<link>https://pub.example/a</link></item></channel></rss>")


def big_feed(items: int) -> bytes:
    entries = b"".join(b"<item><title>t%d</title><description>%s</description></item>"
                       % (n, b"x" * 300) for n in range(items))
    return b"<rss version='2.0'><channel>" + entries + b"</channel></rss>"


def parse(pool: ParsePool, body: bytes) -> ParsedFeed:
    return pool.parse(body, url="https://pub.example/feed", content_type=None, now=NOW)


@pytest.fixture
def pool() -> Iterator[ParsePool]:
    # deep-nesting-100k.xml takes seconds to parse; a fifth of a second is far below that.
    pool = ParsePool(2, timeout=0.2)
    yield pool
    pool.close()


def test_a_parse_returns_the_same_items_as_in_process(pool: ParsePool) -> None:
    assert parse(pool, SMALL).items[0].title == "Small"


def test_a_runaway_parse_is_killed_and_the_worker_replaced(pool: ParsePool) -> None:
    with pytest.raises(ParseError, match=r"took longer than 0\.2 s"):
        parse(pool, (HOSTILE / "deep-nesting-100k.xml").read_bytes())
    for _ in range(3):  # every slot still has a working process behind it
        assert parse(pool, SMALL).items


def test_bad_feeds_are_parse_errors_and_the_worker_is_kept(pool: ParsePool) -> None:
    with pytest.raises(ParseError, match="could not parse feed"):
        parse(pool, (HOSTILE / "crash-nbsp-in-namespace-uri.xml").read_bytes())
    with pytest.raises(ParseError, match="entity expansion"):
        parse(pool, (HOSTILE / "entity-quadratic-20MB-per-field.xml").read_bytes())
    assert parse(pool, SMALL).items


def test_a_parse_over_the_memory_limit_is_an_error_not_a_crash() -> None:
    pool = ParsePool(1, timeout=60, memory_limit=64 * 1024 * 1024)
    try:
        with pytest.raises(ParseError) as caught:
            parse(pool, big_feed(20_000))
        assert str(caught.value) in (MEMORY_REJECTION,
                                     "the parser process died (the feed needed too much memory)")
        assert parse(pool, SMALL).items
    finally:
        pool.close()


def test_a_slow_parse_does_not_block_the_other_worker() -> None:
    pool = ParsePool(2, timeout=60)
    slow_done = threading.Event()

    def slow() -> None:
        with contextlib.suppress(ParseError):
            parse(pool, (HOSTILE / "deep-nesting-100k.xml").read_bytes())
        slow_done.set()

    try:
        parse(pool, SMALL)  # both workers may now be started
        thread = threading.Thread(target=slow)
        thread.start()
        assert parse(pool, SMALL).items
        assert not slow_done.is_set()  # the small feed did not wait for the deep one
        thread.join()
    finally:
        pool.close()


def test_a_closed_pool_refuses_work() -> None:
    pool = ParsePool(1)
    pool.close()
    with pytest.raises(RuntimeError):
        parse(pool, SMALL)
