"""Turning a fetched feed body into sanitised items (pure).

``parse_feed`` gives feedparser 6.0.x the response **bytes** and Content-Type only, never a
URL or a path (feedparser opens files and URLs it is given as strings). Relative links are
resolved here, against the entry's ``xml:base`` and the final feed URL.

Everything feedparser returns is treated as untrusted (RELIABILITY.md findings 4-6): titles
become plain text, summaries are sanitised with nh3 against a small allow-list (no images:
remote images are tracking pixels; links resolved against the entry's ``xml:base`` or the feed
URL), links are kept only when they are absolute http(s) URLs,
and every field is capped. A guard installed at import rejects documents whose internal DTD
entities would expand past ``ENTITY_EXPANSION_LIMIT`` characters (finding 2/3); feedparser
itself neither fetches external entities nor expands nested ones.

Item key contract (an item's identity within its source; see docs/item-identity.md):

1. ``"link:" + normalise_link(link)`` when the entry has a safe http(s) link;
2. else ``"guid:" + guid`` when the entry's id is not blank;
3. else ``"hash:" + sha256(title + "\\n" + summary_text)[:32]`` (hex).

The link comes first because GOV.UK Atom ids change on every edit of the page. When
several entries of one parse produce the same key, all are kept, each key suffixed with
``"|" + guid``, else ``"|hash:" + a hash of its title and summary``, and only when even that
repeats ``"|" + its position in the feed``.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import urljoin

import feedparser
import feedparser.api
import nh3

from awareness.errors import ParseError
from awareness.htmlparsing import LenientHTMLParser
from awareness.links import is_safe_link, normalise_link
from awareness.model import ParsedFeed, ParsedItem

ENTITY_EXPANSION_LIMIT = 1_000_000
ENTITY_REJECTION = "rejected: DTD entity expansion over limit"
MEMORY_REJECTION = "feed too large: parsing it needed more memory than allowed"

TITLE_CAP = 500
SUMMARY_HTML_CAP = 20_000
SUMMARY_TEXT_CAP = 5_000
CATEGORY_CAP = 200
MAX_CATEGORIES = 50
GUID_CAP = 1_000
LINK_CAP = 2_048
WARNING_CAP = 300
# Work on at most this much of one summary: enough for any excerpt, bounded for any feed.
SUMMARY_INPUT_CAP = 10 * SUMMARY_HTML_CAP

EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
FUTURE_SLACK = timedelta(days=1)

SUMMARY_TAGS = frozenset(
    {"a", "abbr", "b", "blockquote", "br", "code", "em", "i", "li", "ol", "p", "strong", "ul",
     "h3", "h4"}
)
LINK_REL = "noopener noreferrer nofollow"

# Control characters, lone surrogates and non-characters: never valid in stored text.
_CONTROL_CHARS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
# WordPress excerpts (NHS England) end in " [&#8230;]"; one ellipsis says the same.
_EXCERPT_MARKER = re.compile(r"\s*\[(?:…|&#8230;|\.\.\.)\]$")
_ENTITY_REFERENCE = re.compile(rb"&(\w+);")


# --- the entity-expansion guard (RELIABILITY.md finding 3) -----------------------------------


class _EntityExpansionGuard:
    """feedparser's ``replace_doctype``, refusing documents whose entities expand too far.

    It runs after feedparser's own charset conversion, so it sees UTF-16 documents as UTF-8.
    """

    def __init__(self, original: Callable[[bytes], tuple[Any, bytes, dict[str, str]]]):
        self._original = original

    def __call__(self, data: bytes) -> tuple[Any, bytes, dict[str, str]]:
        version, stripped, entities = self._original(data)
        if entities and _expanded_size(stripped, entities) > ENTITY_EXPANSION_LIMIT:
            # feedparser calls replace_doctype outside any try block, so this reaches parse_feed.
            raise ParseError(ENTITY_REJECTION)
        return version, stripped, entities


def _expanded_size(data: bytes, entities: Mapping[str, str]) -> int:
    """Σ len(value) × references, in one pass (a count per entity would be quadratic)."""
    sizes = {name.encode("utf-8"): len(value) for name, value in entities.items()}
    total = 0
    for match in _ENTITY_REFERENCE.finditer(data):
        total += sizes.get(match.group(1), 0)
        if total > ENTITY_EXPANSION_LIMIT:
            break
    return total


def _install_entity_guard() -> None:
    if not isinstance(feedparser.api.replace_doctype, _EntityExpansionGuard):
        feedparser.api.replace_doctype = _EntityExpansionGuard(feedparser.api.replace_doctype)


def guard_installed() -> bool:
    """Is the entity guard hooked into feedparser, and is feedparser the 6.0 series it hooks?"""
    return isinstance(
        feedparser.api.replace_doctype, _EntityExpansionGuard
    ) and feedparser.__version__.startswith("6.0.")


_install_entity_guard()


# --- text and HTML ---------------------------------------------------------------------------

_BREAKING_TAGS = frozenset(
    {"address", "article", "blockquote", "br", "dd", "div", "dl", "dt", "figcaption", "footer",
     "h1", "h2", "h3", "h4", "h5", "h6", "header", "hr", "li", "ol", "p", "pre", "section",
     "table", "td", "th", "tr", "ul"}
)
_HIDDEN_TAGS = frozenset({"script", "style", "template", "head", "title"})


class _TextCollector(LenientHTMLParser):
    """Collects the text a reader would see, with a space wherever a block breaks."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        elif tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden = max(0, self._hidden - 1)
        elif tag in _BREAKING_TAGS:
            self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(fragment: str) -> str:
    """The plain text of an HTML fragment: entities decoded, whitespace collapsed."""
    collector = _TextCollector()
    collector.feed(fragment)
    collector.close()
    return _clean_text("".join(collector.parts))


# A tag as nh3 writes one: it escapes "<" and ">" in text and attribute values alike.
_SANITISED_TAG = re.compile(r"</?([a-z0-9]+)[^>]*>")


def sanitised_html_to_text(fragment: str) -> str:
    """``html_to_text`` for what ``sanitise_html`` returns, at a fraction of the cost.

    The sanitiser's output is regular: only allow-listed tags, no comments, and ``<``
    and ``>`` escaped wherever they are not markup. So its tags can be found by a pattern
    instead of a parser (a Hypothesis test checks the two agree)."""

    def tag(match: re.Match[str]) -> str:
        return " " if match.group(1) in _BREAKING_TAGS else ""

    return _clean_text(html.unescape(_SANITISED_TAG.sub(tag, fragment)))


def _clean_text(text: str, cap: int | None = None) -> str:
    """One line of text: control characters removed, whitespace collapsed, capped."""
    text = " ".join(_CONTROL_CHARS.sub("", text).split())
    if cap is not None and len(text) > cap:
        return text[: cap - 1].rstrip() + "…"
    return text


def _is_mailto(url: str) -> bool:
    return url.lower().startswith("mailto:") and not any(
        ch.isspace() or ord(ch) < 32 for ch in url
    )


def _href_filter(base: str | None) -> Callable[[str, str, str], str | None]:
    """nh3's attribute filter: links made absolute against ``base``; unsafe ones dropped."""

    def keep(tag: str, attribute: str, value: str) -> str | None:
        # nh3 hands over the decoded value, so "jav&#x09;ascript:" arrives with its tab in it.
        if attribute != "href" or _is_mailto(value):
            return value
        value = value.strip()
        if base and not is_safe_link(value):
            try:
                value = urljoin(base, value)
            except ValueError:
                return None
        return value if is_safe_link(value) else None

    return keep


def sanitise_html(fragment: str, base: str | None = None) -> str:
    """``fragment`` cleaned with nh3 against the summary allow-list (the only HTML we store),
    relative links resolved against ``base``."""
    return _cleaner(base).clean(_CONTROL_CHARS.sub("", fragment))


@lru_cache(maxsize=64)
def _cleaner(base: str | None) -> nh3.Cleaner:
    # One per base URL (a feed's entries share one): building the sanitiser cost twice as
    # much as running it.
    return nh3.Cleaner(
        tags=set(SUMMARY_TAGS),
        # "*" replaces nh3's default generic attributes (title, lang) with none.
        attributes={"a": {"href"}, "*": set()},
        url_schemes={"http", "https", "mailto"},
        link_rel=LINK_REL,
        strip_comments=True,
        attribute_filter=_href_filter(base),
    )


def _capped_summary_html(fragment: str, base: str | None) -> str:
    full = sanitise_html(fragment[:SUMMARY_INPUT_CAP], base)
    clean, limit = full, SUMMARY_HTML_CAP
    while len(clean) > SUMMARY_HTML_CAP:
        # Re-sanitising a cut closes its open tags and drops a half-cut tag.
        limit = limit * 3 // 4
        clean = sanitise_html(full[:limit])
    return clean


# --- one entry -------------------------------------------------------------------------------


def _plain_title(value: str | None, detail: dict[str, Any] | None) -> str:
    text = value or ""
    if "html" in (dict.get(detail or {}, "type") or ""):
        text = html_to_text(text)
    return _clean_text(text, TITLE_CAP)


def _summary_source(entry: Mapping[str, Any], base: str) -> tuple[str, str]:
    """The entry's summary as HTML, ``summary`` else its first ``content``, and the URL its
    relative links resolve against (``xml:base`` where the feed sets one)."""
    contents = entry.get("content") or []
    value: str = entry.get("summary") or ""
    # feedparser fills in ``summary`` from ``content`` without a ``summary_detail``.
    detail: dict[str, Any] = entry.get("summary_detail") or (contents or [{}])[0]
    if not value.strip() and contents:
        value, detail = dict.get(contents[0], "value") or "", contents[0]
    if "html" not in (dict.get(detail, "type") or "text/html"):
        value = html.escape(value)
    try:
        return value, urljoin(base, dict.get(detail, "base") or "")
    except ValueError:  # an xml:base such as "http://[pub.example/"
        return value, base


def _summary_text(summary_html: str) -> str:
    text = _EXCERPT_MARKER.sub("…", sanitised_html_to_text(summary_html))
    return _clean_text(text, SUMMARY_TEXT_CAP)


def _published(entry: Mapping[str, Any], now: datetime) -> datetime | None:
    """When the entry was published, in UTC; future dates clamped to ``now`` (P16)."""
    parsed = entry.get("published_parsed") or entry.get("updated_parsed")
    if not parsed:
        return None
    try:
        year, month, day, hour, minute, second = parsed[:6]
        # struct_time allows leap seconds (60, 61); datetime does not.
        when = datetime(year, month, day, hour, minute, min(second, 59), tzinfo=UTC)
    except (TypeError, ValueError, OverflowError):
        return None
    if when < EARLIEST_DATE:
        return None
    return now if when > now + FUTURE_SLACK else when


def _safe_link(entry: Mapping[str, Any], base: str) -> str | None:
    raw = (entry.get("link") or "").strip()
    if not raw or len(raw) > LINK_CAP:
        return None
    try:
        candidate = urljoin(base, raw)
    except ValueError:
        return None
    return candidate if is_safe_link(candidate) else None


def _guid(entry: Mapping[str, Any]) -> str | None:
    guid = _CONTROL_CHARS.sub("", entry.get("id") or "").strip()[:GUID_CAP]
    return guid or None


def _categories(entry: Mapping[str, Any]) -> tuple[str, ...]:
    terms: dict[str, None] = {}
    for tag in entry.get("tags") or []:
        term = _clean_text(dict.get(tag, "term") or "", CATEGORY_CAP)
        if term:
            terms.setdefault(term, None)
        if len(terms) >= MAX_CATEGORIES:
            break
    return tuple(terms)


def item_key(link: str | None, guid: str | None, title: str, summary_text: str) -> str:
    """An item's identity within its source, per the contract in this module's docstring."""
    if link:
        return "link:" + normalise_link(link)
    if guid and guid.strip():
        return "guid:" + guid
    digest = hashlib.sha256(f"{title}\n{summary_text}".encode()).hexdigest()
    return "hash:" + digest[:32]


def _parse_item(entry: Mapping[str, Any], published: datetime | None, base: str) -> ParsedItem:
    title = _plain_title(entry.get("title"), entry.get("title_detail"))
    link = _safe_link(entry, base)
    guid = _guid(entry)
    summary_html = _capped_summary_html(*_summary_source(entry, base))
    summary_text = _summary_text(summary_html)
    return ParsedItem(
        key=item_key(link, guid, title, summary_text),
        title=title,
        link=link,
        summary_html=summary_html,
        summary_text=summary_text,
        published=published,
        categories=_categories(entry),
        guid=guid,
    )


# --- the whole feed --------------------------------------------------------------------------


def _unique_keys(numbered: list[tuple[int, ParsedItem]]) -> list[ParsedItem]:
    """Keep items that share a key apart (D3): every one of them gets a suffix, so that a
    new entry sharing the key never takes over the stored item that had it first."""
    counts = Counter(item.key for _, item in numbered)
    used: set[str] = set()
    items = []
    for index, item in numbered:
        key = item.key
        if counts[key] > 1:
            key = next(c for c in _suffixed_keys(item, index) if c not in used)
        while key in used:
            key = f"{key}|{index}"
        used.add(key)
        items.append(item if key == item.key else replace(item, key=key))
    return items


def _suffixed_keys(item: ParsedItem, index: int) -> list[str]:
    """Keys for an item whose key repeats, most stable first: a position is the last resort."""
    key = item.key
    candidates = []
    if item.guid and not key.startswith("guid:"):
        candidates.append(f"{key}|{item.guid}")
    if not key.startswith("hash:"):  # a hash key already is the content
        content = hashlib.sha256(f"{item.title}\n{item.summary_text}".encode()).hexdigest()
        candidates.append(f"{key}|hash:{content[:16]}")
    return [*candidates, f"{key}|{index}"]


def _newest_indices(dates: list[datetime | None], max_items: int) -> list[int]:
    """Positions of the ``max_items`` newest entries (undated last), in document order."""

    def newest_first(i: int) -> tuple[bool, float, int]:
        when = dates[i]
        return (when is None, -when.timestamp() if when else 0.0, i)

    return sorted(sorted(range(len(dates)), key=newest_first)[:max_items])


def _looks_like_html(body: bytes, content_type: str | None) -> bool:
    head = body[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if (content_type or "").lower().startswith("text/html"):
        return True
    return head.startswith(b"<!doctype html") or b"<html" in head


def _warnings(result: Mapping[str, Any], total: int, max_items: int) -> tuple[str, ...]:
    warnings = []
    if result.get("bozo"):
        exc = result.get("bozo_exception")
        warnings.append(
            _clean_text(f"feed is not well-formed ({type(exc).__name__}: {exc})", WARNING_CAP)
        )
    if total > max_items:
        warnings.append(f"feed has {total} items; kept the newest {max_items}")
    return tuple(warnings)


# feedparser's own HTML sanitiser and its resolver of links inside HTML are off: every
# summary is sanitised with nh3, which resolves its links too (``sanitise_html``), and
# feedparser's sanitiser is bypassable (finding 5).
FEEDPARSER_OPTIONS: Mapping[str, bool] = {"sanitize_html": False,
                                          "resolve_relative_uris": False}


def run_feedparser(body: bytes, content_type: str | None) -> Any:
    """feedparser as this module uses it: on bytes, with our options.

    The feed URL is not passed as ``Content-Location``: given one, feedparser re-resolves its
    base URL at every element, a fifth of a parse. Links it leaves relative (it still applies
    ``xml:base``) are resolved against the feed URL here, in ``_safe_link`` and
    ``_summary_source``.
    """
    headers = {"content-type": content_type or "application/xml"}
    return feedparser.parse(body, response_headers=headers, **FEEDPARSER_OPTIONS)


def _parse(body: bytes, url: str, content_type: str | None, now: datetime,
           max_items: int) -> ParsedFeed:
    result = run_feedparser(body, content_type)
    # Plain dicts: FeedParserDict's lookup (key aliases, deprecated fallbacks) cost a fifth of
    # the work after feedparser, and every key read here is one feedparser stores by name.
    # (Its nested dicts, details and tags, are read the same way, with ``dict.get``.)
    entries = [dict(entry) for entry in result.get("entries") or []]
    feed = result.get("feed") or {}
    if not result.get("version") and not entries:
        if _looks_like_html(body, content_type):
            raise ParseError("not a feed: got an HTML page")
        if not feed:
            raise ParseError("not a feed: no RSS or Atom content found")
    dates = [_published(entry, now) for entry in entries]
    kept = _newest_indices(dates, max_items)
    numbered = [(i, _parse_item(entries[i], dates[i], url)) for i in kept]
    return ParsedFeed(
        items=tuple(_unique_keys(numbered)),
        title=_plain_title(feed.get("title"), feed.get("title_detail")) or None,
        warnings=_warnings(result, len(entries), max_items),
    )


def parse_feed(body: bytes, *, url: str, content_type: str | None = None, now: datetime,
               max_items: int = 500) -> ParsedFeed:
    """Parse a fetched RSS/Atom body into sanitised items.

    ``url`` is the final URL the body came from (the base for relative links); ``now`` is
    timezone-aware and bounds future publication dates. At most ``max_items`` newest items
    are kept, with a warning. Raises ``ParseError`` with one line for the source-health page
    when the body is not a feed, is rejected by the entity guard, or makes the parser fail.
    """
    if not isinstance(body, bytes):
        raise TypeError("parse_feed takes the response bytes, never a str (feedparser would "
                        "treat a str as a URL or a file path)")
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if not body.strip():
        raise ParseError("not a feed: the response was empty")
    try:
        return _parse(body, url, content_type, now.astimezone(UTC), max_items)
    except ParseError:
        raise
    except MemoryError:
        raise ParseError(MEMORY_REJECTION) from None
    except Exception as exc:  # feedparser can raise on hostile input (finding 4)
        raise ParseError(f"could not parse feed ({type(exc).__name__})") from exc
