"""feedparser's own test corpus (v6.0.14, BSD-2; see data/feedparser-corpus/SOURCES.md).

P1: every XML file goes through *our* ingest without an exception, with valid, capped text.
P2: the corpus's ``Expect:`` lines still hold for ``feedparser.parse(bytes)`` called with our
options: a silent feedparser upgrade that changes what we rely on fails here. The expressions
are evaluated after an AST allow-list check, never with a bare ``eval``. We switch off
feedparser's HTML sanitiser and its resolver of links inside HTML (nh3 does both), so the
cases about those are checked against *our* output instead (P11 and link resolution below).
"""

from __future__ import annotations

import ast
import codecs
import datetime
import re
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import feedparser
import pytest
from html5lib.html5parser import parseFragment

from awareness.errors import ParseError
from awareness.links import is_safe_link
from awareness.model import ParsedFeed
from awareness.sources.parse import (
    FEEDPARSER_OPTIONS,
    parse_feed,
    run_feedparser,
)
from tests.fuzz_parse import check_feed
from tests.test_parse import assert_safe_html

CORPUS = Path(__file__).parent / "data" / "feedparser-corpus"
UPSTREAM_SERVER = "http://127.0.0.1:8097"  # only a base URL in the expectations; never contacted
FOLDERS = ("wellformed", "illformed", "encoding", "entities")
FEED_URL = "https://pub.example/feed/"
NOW = datetime.datetime(2026, 1, 25, 12, 0, tzinfo=UTC)
_HEADER = re.compile(r"^(\w+):\s*(.*?)\s*$")
_CODEC = re.compile(r"__import__\('codecs'\)\.lookup\('([^']+)'\)")


def corpus_files() -> list[Path]:
    return sorted(p for folder in FOLDERS for p in (CORPUS / folder).rglob("*.xml"))


def test_the_corpus_is_complete() -> None:
    # SOURCES.md: 2,242 .xml files, of which 9 are the http/ cases served by a live server.
    assert len(corpus_files()) == 2242 - 9


class Case:
    """One corpus file and the fields of its leading comment."""

    def __init__(self, path: Path):
        self.path = path
        self.body = path.read_bytes()
        self.headers: dict[str, str] = {}
        self.expect = ""
        self.skip_unless = ""
        for line in _comment_lines(self.body):
            found = _HEADER.match(line)
            if not found:
                continue
            name, value = found.groups()
            if name == "Header":
                key, _, header_value = value.partition(":")
                self.headers[key.strip().lower()] = header_value.strip()
            elif name == "Expect":
                self.expect = value
            elif name == "SkipUnless":
                self.skip_unless = value.split("(optional)")[0].strip()

    def runnable(self) -> bool:
        """Upstream's ``SkipUnless``: the codec or module the case needs is available."""
        codec = _CODEC.search(self.skip_unless)
        if codec:
            try:
                codecs.lookup(codec.group(1))
            except LookupError:
                return False
        if "chardet" in self.skip_unless:
            try:
                __import__("chardet")
            except ImportError:
                return False
        return True


def _comment_lines(body: bytes) -> Iterator[str]:
    # The header comment is ASCII; UTF-16/32 files are decoded to find it.
    for encoding in ("utf-8", "utf-16", "utf-32"):
        text = body.decode(encoding, errors="ignore")
        start = text.find("<!--")
        if start != -1 and "Expect:" in text[start:start + 4000]:
            end = text.find("-->", start)
            yield from text[start + 4:end].splitlines()
            return


# --- P1 --------------------------------------------------------------------------------------


def test_p1_every_corpus_file_goes_through_our_ingest() -> None:
    """No exception but ParseError; items whenever feedparser finds entries; bozo → warnings."""
    stored = flagged = rejected = 0
    for path in corpus_files():
        case = Case(path)
        content_type = case.headers.get("content-type")
        # feedparser called exactly as parse_feed calls it, to compare counts and bozo.
        upstream = run_feedparser(case.body, content_type)
        try:
            feed = parse_feed(case.body, url=FEED_URL, now=NOW, content_type=content_type)
        except ParseError:
            assert not upstream.entries, path
            rejected += 1
            continue
        check_feed(feed)
        assert len(feed.items) == len(upstream.entries), path
        stored += len(feed.items)
        if upstream.bozo:
            assert any("not well-formed" in w for w in feed.warnings), path
            flagged += 1
    # Sanity: the loop really ingested the corpus (1,207 items, 294 flagged, 1 rejected at
    # feedparser 6.0.14) rather than rejecting it.
    assert stored > 1000
    assert flagged > 250
    assert rejected <= 5


def test_p1_illformed_files_store_items_and_flag_the_feed() -> None:
    for path in sorted((CORPUS / "illformed").rglob("*.xml")):
        case = Case(path)
        if not case.expect.startswith("bozo"):
            continue  # upstream expects this one to parse cleanly after all
        try:
            feed = parse_feed(case.body, url=FEED_URL, now=NOW,
                              content_type=case.headers.get("content-type"))
        except ParseError:
            continue  # e.g. the empty document: nothing to store, the error says so
        assert feed.warnings, path


def upstream_headers(case: Case) -> dict[str, str]:
    """The headers feedparser saw upstream. ``http*`` cases were served by a local server, so
    the document's URL is their base; we pass it the way we pass ours, as Content-Location."""
    headers = dict(case.headers)
    if case.path.name.startswith("http") or case.path.parent.name == "http":
        served_at = f"{UPSTREAM_SERVER}/tests/{case.path.relative_to(CORPUS).as_posix()}"
        location = urljoin(served_at, headers.get("content-location", ""))
        # feedparser falls back to the document's URL when Content-Location is unsafe.
        headers["content-location"] = location if location.startswith("http") else served_at
        headers.setdefault("content-type", "application/xml")  # what that server sent
    return headers


# --- P2: the restricted evaluator ------------------------------------------------------------

_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.Compare,
    ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
    ast.Subscript, ast.Slice, ast.Attribute, ast.Name, ast.Load, ast.Constant, ast.Tuple,
    ast.List, ast.Dict, ast.Call, ast.BinOp, ast.Add,
)
_ALLOWED_CALLS = frozenset({"len", "ord", "isinstance", "locals", "get", "has_key", "keys",
                            "timedelta"})


class UnsafeExpression(ValueError):
    pass


def check_expression(source: str) -> ast.Expression:
    """Parse ``source`` and refuse any node outside the allow-list."""
    tree = ast.parse(source, mode="eval")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED_NODES):
            raise UnsafeExpression(f"{type(node).__name__} not allowed")
        if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
            raise UnsafeExpression(f"attribute {node.attr!r} not allowed")
        if isinstance(node, ast.Call):
            name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(
                node.func, "id", "")
            if name not in _ALLOWED_CALLS:
                raise UnsafeExpression(f"call to {name!r} not allowed")
    return tree


def evaluate(source: str, result: dict[str, Any]) -> bool:
    """Evaluate an ``Expect:`` expression against a parse result, as upstream's runner does."""
    tree = check_expression(source)
    names: dict[str, Any] = dict(result)
    names["locals"] = lambda: result
    allowed = {"len": len, "ord": ord, "isinstance": isinstance, "feedparser": feedparser,
               "datetime": datetime}
    code = compile(tree, "<expect>", "eval")
    try:
        # Safe: the tree passed the allow-list above and no builtins are reachable.
        return bool(eval(code, {"__builtins__": {}, **allowed}, names))
    except NameError:
        return False  # a result key the expression needs is missing


@pytest.mark.parametrize("source", [
    "__import__('os')", "().__class__", "open('x')", "[x for x in ()]", "lambda: 1",
    "feed.__dict__",
])
def test_the_evaluator_refuses_anything_else(source: str) -> None:
    with pytest.raises((UnsafeExpression, SyntaxError)):
        check_expression(source)


def test_p2_expectations_hold_for_feedparser_on_bytes() -> None:
    failures = []
    checked = 0
    for path in corpus_files():
        case = Case(path)
        if not case.expect or not case.runnable():
            continue
        if _about_markup_we_rewrite(case.path):
            continue
        result = feedparser.parse(case.body, response_headers=upstream_headers(case),
                                  **FEEDPARSER_OPTIONS)
        checked += 1
        if not evaluate(case.expect, result):
            failures.append(str(path.relative_to(CORPUS)))
    assert checked > 1200  # 1,275 at feedparser 6.0.14
    assert failures == KNOWN_BYTES_DIFFERENCES


# Upstream's result has ``etag`` only when feedparser made the HTTP request itself; we fetch
# and keep the validators ourselves (F7). Any other failure is a change in feedparser.
KNOWN_BYTES_DIFFERENCES = ["wellformed/http/headers_etag.xml"]


# With its sanitiser off, feedparser hands HTML over as the feed wrote it. These cases expect
# the markup feedparser's sanitiser writes (``<br />`` for ``<br>``, SVG and MathML kept,
# entities re-encoded); nh3 writes the markup we store, and P11 checks it.
MARKUP_CASES = frozenset({
    "encoding/bozo_linenoise.xml", "encoding/demoronize-3.xml",
    "wellformed/atom10/missing_quote_in_attr.xml", "wellformed/atom10/qna.xml",
    "wellformed/atom10/tag_in_attr.xml", "wellformed/namespace/atommathml.xml",
    "wellformed/namespace/atomsvg.xml", "wellformed/namespace/atomsvgdesc.xml",
    "wellformed/namespace/atomsvgtitle.xml", "wellformed/namespace/atomxlink.xml",
    "wellformed/namespace/rss2.0mathml.xml", "wellformed/namespace/rss2.0svg.xml",
    "wellformed/namespace/rss2.0svg5.xml", "wellformed/namespace/rss2.0svgtitle.xml",
    "wellformed/namespace/rss2.0xlink.xml", "wellformed/rss/item_description_br.xml",
    "wellformed/rss/item_description_br_shorttag.xml",
    "wellformed/rss/item_description_not_a_doctype.xml",
    "wellformed/sgml/charref_uppercase_x.xml",
})


def _about_markup_we_rewrite(path: Path) -> bool:
    """Cases about feedparser's sanitiser (``sanitize/``) or its resolving of links inside
    HTML (``base/``, ``relative_uri*``): both are nh3's job in our pipeline."""
    relative = path.relative_to(CORPUS).as_posix()
    return (relative.startswith(("wellformed/sanitize/", "wellformed/base/"))
            or path.name.startswith("relative_uri") or relative in MARKUP_CASES)


# --- what we do instead of feedparser's sanitiser and resolver -------------------------------


def _ours(case: Case) -> ParsedFeed:
    headers = upstream_headers(case)
    return parse_feed(case.body, url=headers.get("content-location", FEED_URL), now=NOW,
                      content_type=headers.get("content-type"))


def test_p11_the_sanitiser_cases_are_safe_after_our_pipeline() -> None:
    checked = 0
    for path in sorted((CORPUS / "wellformed" / "sanitize").rglob("*.xml")):
        for item in _ours(Case(path)).items:
            assert_safe_html(item.summary_html)
            checked += 1
    assert checked > 400


def _hrefs(fragment: str) -> list[str]:
    root = parseFragment(fragment, treebuilder="etree", namespaceHTMLElements=False)
    return [el.get("href") for el in root.iter() if el.get("href")]


def test_links_inside_summaries_resolve_as_feedparser_resolves_them() -> None:
    """Every safe link feedparser's resolver gives (xml:base, Content-Location, the document
    URL, spaces around the href) is the link we store, and we store no other."""
    compared = 0
    for path in corpus_files():
        if not _about_markup_we_rewrite(path) or "sanitize" in path.parts:
            continue
        case = Case(path)
        resolved = feedparser.parse(case.body, response_headers=upstream_headers(case))
        for entry, item in zip(resolved.entries, _ours(case).items, strict=True):
            summary = entry.get("summary") or ""
            theirs = [href for href in _hrefs(summary) if is_safe_link(href)]
            assert _hrefs(item.summary_html) == theirs, path
            compared += bool(theirs)
    assert compared >= 30  # the loop really compared links (30 at feedparser 6.0.14)


def test_entry_links_resolve_as_feedparser_resolves_them() -> None:
    """Given the feed URL, feedparser resolves entry links itself; we resolve them after it,
    and must end with the same absolute links for the whole corpus."""
    linked = 0
    for path in corpus_files():
        case = Case(path)
        headers = upstream_headers(case)
        headers.setdefault("content-location", FEED_URL)
        resolved = feedparser.parse(case.body, response_headers=headers)
        try:
            ours = _ours(case)
        except ParseError:
            continue
        for entry, item in zip(resolved.entries, ours.items, strict=True):
            link = (entry.get("link") or "").strip()
            assert item.link == (link if is_safe_link(link) else None), path
            linked += item.link is not None
    assert linked >= 90  # the loop compared real links (94 at feedparser 6.0.14)
