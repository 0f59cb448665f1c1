"""Fuzz the feed parser with atheris (RELIABILITY.md P15): ``make fuzz``, or

    .venv/bin/python tests/fuzz_parse.py [libFuzzer flags…]

Every input goes through ``parse_feed`` as fetched bytes. A finding is:

- an exception other than ``ParseError``, or a ``ParseError`` wrapping an exception raised in our
  own code (feedparser raising on hostile input is expected and becomes a feed error by design,
  finding 4; our normalisation raising would lose a whole feed's items);
- a returned feed that breaks the stored-text contract (types, caps, unique keys, http(s) links);
- one input taking longer than the worker's budget, or the process growing past the worker's
  memory limit (the same bounds a parse has in production, ``sources/worker.py``).

libFuzzer writes a failing input to ``var/fuzz/`` and exits non-zero; save it under
``tests/data/hostile-feeds/`` so ``test_fuzz_parse.py`` keeps it as a regression case. Seeds are
feedparser's corpus and the hostile feeds in ``tests/data``; new interesting inputs go to
``var/fuzz/corpus`` so a later local run starts where the last one stopped.
"""

from __future__ import annotations

import gc
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import FunctionType, TracebackType
from typing import Any

import feedparser

from awareness.errors import ParseError
from awareness.model import ParsedFeed
from awareness.sources.parse import (
    CATEGORY_CAP,
    GUID_CAP,
    LINK_CAP,
    MAX_CATEGORIES,
    SUMMARY_HTML_CAP,
    SUMMARY_TEXT_CAP,
    TITLE_CAP,
    WARNING_CAP,
    parse_feed,
)
from awareness.sources.worker import PARSE_MEMORY_LIMIT, PARSE_TIMEOUT

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SEEDS = (DATA / "feedparser-corpus", DATA / "hostile-feeds")
WORK = ROOT / "var" / "fuzz"
FEED_URL = "https://pub.example/feed/"
NOW = datetime(2026, 1, 25, 12, 0, tzinfo=UTC)
DEFAULTS = {
    "max_total_time": "60",
    "timeout": str(int(PARSE_TIMEOUT)),
    "rss_limit_mb": str(PARSE_MEMORY_LIMIT // (1024 * 1024)),
    # Long enough for any corpus feed's structure; larger seeds (the 700 KB nesting, the
    # 280 KB entity bomb) are cut to this, which keeps each run short enough to mutate often.
    "max_len": "65536",
}
# Top-level packages whose code a feed body runs through (loaded by the warm-up parse).
INSTRUMENTED = frozenset({"awareness", "feedparser", "feedparser_sgmllib", "html", "urllib",
                          "xml"})
_FEEDPARSER = Path(feedparser.__file__).resolve().parent


def raised_in_feedparser(error: BaseException) -> bool:
    """Did ``error`` pass through feedparser (and so come from parsing, not from our code)?"""
    frame: TracebackType | None = error.__traceback__
    while frame is not None:
        if Path(frame.tb_frame.f_code.co_filename).resolve().is_relative_to(_FEEDPARSER):
            return True
        frame = frame.tb_next
    return False


def check_feed(feed: ParsedFeed) -> None:
    """The stored-text contract: every field a capped, encodable ``str``; links http(s)."""

    def text(value: str, cap: int) -> None:
        assert isinstance(value, str), repr(value)
        value.encode("utf-8")  # raises on lone surrogates
        assert len(value) <= cap, (len(value), cap)

    for warning in feed.warnings:
        text(warning, WARNING_CAP)
    if feed.title is not None:
        text(feed.title, TITLE_CAP)
    keys = [item.key for item in feed.items]
    assert len(keys) == len(set(keys)), keys
    for item in feed.items:
        text(item.title, TITLE_CAP)
        text(item.summary_html, SUMMARY_HTML_CAP)
        text(item.summary_text, SUMMARY_TEXT_CAP)
        if item.link is not None:
            text(item.link, LINK_CAP)
            assert item.link.lower().startswith(("http://", "https://")), item.link
        if item.guid is not None:
            text(item.guid, GUID_CAP)
        assert len(item.categories) <= MAX_CATEGORIES
        for category in item.categories:
            text(category, CATEGORY_CAP)
        assert item.published is None or item.published.tzinfo is not None


def check(data: bytes) -> None:
    """One input: a clean feed, or a ParseError the parser owns. Anything else raises."""
    try:
        feed = parse_feed(data, url=FEED_URL, now=NOW)
    except ParseError as error:
        cause = error.__cause__
        if cause is not None and not raised_in_feedparser(cause):
            raise cause from None  # its own traceback points at our code
        return
    check_feed(feed)


def libfuzzer_args(args: list[str]) -> list[str]:
    """``args`` with our bounds added where not given, the seed folders last."""
    given = {arg.lstrip("-").split("=", 1)[0] for arg in args if arg.startswith("-")}
    options = [f"-{name}={value}" for name, value in DEFAULTS.items() if name not in given]
    options.append(f"-artifact_prefix={WORK}/")
    folders = [] if any(not arg.startswith("-") for arg in args) else [WORK / "corpus", *SEEDS]
    return [*options, *args, *map(str, folders)]


def instrument(atheris: Any) -> int:
    """Coverage feedback from the parsing code only: instrumenting everything loaded costs
    more start-up time than a whole CI run is allowed to fuzz."""
    check(b"<rss version='2.0'><channel><item><title>warm</title></item></channel></rss>")
    functions = [obj for obj in gc.get_objects() if isinstance(obj, FunctionType)
                 and (obj.__module__ or "").partition(".")[0] in INSTRUMENTED]
    for function in functions:
        atheris.instrument_func(function)
    return len(functions)


def main() -> None:
    import atheris

    print(f"INFO: instrumented {instrument(atheris)} functions", file=sys.stderr)
    (WORK / "corpus").mkdir(parents=True, exist_ok=True)
    atheris.Setup([sys.argv[0], *libfuzzer_args(sys.argv[1:])], check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
