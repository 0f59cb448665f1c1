"""The atheris harness for the parser (P15) and the inputs it found.

The time-boxed fuzz run itself is ``make fuzz``, run by ``.ci/run`` after ``make test``: its
result varies from run to run, so it stays out of the deterministic suite. What is kept here:
every saved finding (``hostile-feeds/crash-*.xml``) passes the harness's check, and the
harness can tell a finding from an expected parse error.
"""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from awareness.errors import ParseError
from awareness.model import ParsedFeed
from awareness.sources.parse import TITLE_CAP, parse_feed
from tests.fuzz_parse import FEED_URL, NOW, check, check_feed, libfuzzer_args, raised_in_feedparser

HARNESS = Path(__file__).with_name("fuzz_parse.py")
FINDINGS = sorted((Path(__file__).parent / "data" / "hostile-feeds").glob("crash-*.xml"))
# Findings whose fix has not landed: strict, so the fix fails this test until the entry goes.
# ``make fuzz`` fails on them as well, since they are seeds.
OPEN: dict[str, tuple[type[Exception], str]] = {}
FIXED = [path for path in FINDINGS if path.name not in OPEN]


def _finding(path: Path) -> object:
    if path.name not in OPEN:
        return pytest.param(path, id=path.name)
    raises, reason = OPEN[path.name]
    return pytest.param(path, id=path.name, marks=pytest.mark.xfail(
        reason=f"{reason}; parse_feed rejects the whole feed", raises=raises, strict=True))


@pytest.mark.parametrize("path", [_finding(path) for path in FINDINGS])
def test_saved_findings_pass_the_harness(path: Path) -> None:
    check(path.read_bytes())


@pytest.mark.integration
def test_saved_findings_pass_under_atheris() -> None:
    """The ``make fuzz`` entry point starts on this Python and replays the findings."""
    done = subprocess.run([sys.executable, str(HARNESS), *map(str, FIXED)],
                          capture_output=True, text=True, timeout=110, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert all(f"Executed {path}" in done.stderr for path in FIXED)


def test_feedparser_raising_is_a_parse_error_not_a_finding() -> None:
    body = (HARNESS.parent / "data" / "hostile-feeds" / "crash-nbsp-in-namespace-uri.xml")
    with pytest.raises(ParseError) as raised:
        parse_feed(body.read_bytes(), url=FEED_URL, now=NOW)
    assert raised.value.__cause__ is not None
    assert raised_in_feedparser(raised.value.__cause__)


def test_an_exception_from_our_own_code_is_a_finding() -> None:
    try:
        int("not a number")
    except ValueError as error:
        assert not raised_in_feedparser(error)


def test_a_feed_breaking_the_stored_text_contract_is_a_finding() -> None:
    feed = parse_feed(b"<rss version='2.0'><channel><item><title>T</title>"
                      b"<link>https://pub.example/a</link></item></channel></rss>",
                      url=FEED_URL, now=NOW)
    check_feed(feed)
    too_long = replace(feed.items[0], title="x" * (TITLE_CAP + 1))
    with pytest.raises(AssertionError):
        check_feed(ParsedFeed(items=(too_long,), title=feed.title, warnings=feed.warnings))
    unsafe = replace(feed.items[0], link="javascript:alert(1)")
    with pytest.raises(AssertionError):
        check_feed(ParsedFeed(items=(unsafe,), title=feed.title, warnings=feed.warnings))


def test_the_run_is_bounded_like_a_parse_in_production() -> None:
    args = libfuzzer_args(["-max_total_time=5"])
    assert "-timeout=10" in args  # worker.PARSE_TIMEOUT
    assert "-rss_limit_mb=1024" in args  # worker.PARSE_MEMORY_LIMIT
    assert [a for a in args if a.startswith("-max_total_time=")] == ["-max_total_time=5"]
    assert args[-2:] == [str(Path(__file__).parent / "data" / d)
                         for d in ("feedparser-corpus", "hostile-feeds")]
