"""Items from a sitemap: ``sitemap.xml`` or a sitemap index, with ``lastmod`` (pure).

A source of kind ``sitemap`` points at a publisher's sitemap and keeps only the URLs matching
its ``include`` patterns (and none of its ``exclude`` patterns); patterns are shell-style
globs matched against the URL's path (``/insight-and-analysis/reports/*``). A sitemap index is
followed to the child sitemaps whose own URL matches ``sitemaps`` (all of them when unset),
newest ``lastmod`` first and at most ``max_sitemaps`` of them.

The page of a URL is fetched only when the URL is new, and at most ``max_pages`` a poll, for
its ``<title>`` and meta description (``page_item``); the rest wait for the next poll. The
first poll stores the existing URLs without fetching their pages (``url_item``): they are the
baseline, never alerted, so reading thousands of pages would only burden the publisher.

The document is read with an HTML parser, which knows no DTDs: no entity is ever expanded
and nothing external is fetched.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import unquote, urljoin, urlsplit

from selectolax.lexbor import LexborHTMLParser

from awareness.errors import ParseError
from awareness.links import is_safe_link
from awareness.model import ParsedItem
from awareness.sources.listing import parse_date
from awareness.sources.parse import (
    LINK_CAP,
    SUMMARY_TEXT_CAP,
    TITLE_CAP,
    html_to_text,
    item_key,
)

_CDATA = re.compile(rb"<!\[CDATA\[(.*?)\]\]>", re.S)
_SPACE = re.compile(r"\s+")
_TITLE_SUFFIX = re.compile(r"\s+[|\u2013\u2014-]\s+[^|\u2013\u2014-]{2,60}$")
_PIPE_SUFFIX = re.compile(r"\s+\|\s+[^|]{2,60}$")


@dataclass(frozen=True)
class SitemapEntry:
    """One ``<url>`` (or, in an index, one ``<sitemap>``): its address and last change."""

    loc: str
    lastmod: datetime | None = None


@dataclass(frozen=True)
class Sitemap:
    """A parsed sitemap: page entries, or for an index, child sitemaps to read."""

    entries: tuple[SitemapEntry, ...] = ()
    children: tuple[SitemapEntry, ...] = ()


def parse_sitemap(body: bytes, *, url: str, now: datetime) -> Sitemap:
    """The entries of a sitemap or sitemap index ``body`` fetched from ``url``.

    Locations are resolved against ``url``; anything that is not an absolute http(s) address
    is dropped. A document that is neither a urlset nor an index is a ParseError.
    """
    page = LexborHTMLParser(_CDATA.sub(rb"\1", body))
    if page.css_first("sitemapindex") is not None:
        return Sitemap(children=_entries(page, "sitemap", url, now))
    if page.css_first("urlset") is None:
        raise ParseError("not a sitemap: expected <urlset> or <sitemapindex>")
    return Sitemap(entries=_entries(page, "url", url, now))


def _entries(page: LexborHTMLParser, tag: str, base: str,
             now: datetime) -> tuple[SitemapEntry, ...]:
    found: dict[str, SitemapEntry] = {}
    for node in page.css(tag):
        loc_node = node.css_first("loc")
        loc = urljoin(base, loc_node.text().strip())[:LINK_CAP] if loc_node is not None else ""
        if not loc or not is_safe_link(loc) or loc in found:
            continue
        lastmod = node.css_first("lastmod")
        found[loc] = SitemapEntry(loc, parse_date(lastmod.text() if lastmod else None, now))
    return tuple(found.values())


def newest_first(entries: tuple[SitemapEntry, ...] | list[SitemapEntry]) -> list[SitemapEntry]:
    """Entries by ``lastmod``, newest first; undated ones last, in document order."""
    dated = sorted((e for e in entries if e.lastmod is not None),
                   key=lambda e: e.lastmod or datetime.min, reverse=True)
    return dated + [e for e in entries if not e.lastmod]


def url_item(entry: SitemapEntry) -> ParsedItem:
    """An item for a URL whose page is not read: titled from the last part of its path."""
    slug = unquote(urlsplit(entry.loc).path.rstrip("/").rsplit("/", 1)[-1])
    title = _SPACE.sub(" ", re.sub(r"[-_]+", " ", slug)).strip().capitalize() or entry.loc
    return ParsedItem(key=item_key(entry.loc, None, title, ""), title=title[:TITLE_CAP],
                      link=entry.loc, summary_html="", summary_text="",
                      published=entry.lastmod)


def page_item(body: bytes, entry: SitemapEntry, now: datetime) -> ParsedItem:
    """An item for a fetched page: its title (og:title, else <title>) and meta description."""
    page = LexborHTMLParser(body)
    title = _without_site(_meta(page, 'meta[property="og:title"]'),
                          _meta(page, 'meta[property="og:site_name"]')) or _title(page)
    title = _SPACE.sub(" ", html_to_text(title)).strip()[:TITLE_CAP]
    if not title:
        return url_item(entry)
    description = _meta(page, 'meta[name="description"]') or _meta(
        page, 'meta[property="og:description"]')
    summary_text = _SPACE.sub(" ", html_to_text(description)).strip()[:SUMMARY_TEXT_CAP]
    published = entry.lastmod or parse_date(
        _meta(page, 'meta[property="article:published_time"]'), now)
    summary_html = f"<p>{html.escape(summary_text)}</p>" if summary_text else ""
    return ParsedItem(key=item_key(entry.loc, None, title, summary_text), title=title,
                      link=entry.loc, summary_html=summary_html, summary_text=summary_text,
                      published=published)


def _meta(page: LexborHTMLParser, selector: str) -> str:
    node = page.css_first(selector)
    return (node.attributes.get("content") or "") if node is not None else ""


def _without_site(title: str, site: str) -> str:
    """``og:title`` without the site's name after it ("Report | Nuffield Trust" → "Report"):
    the ``og:site_name`` after any separator, else whatever follows a last " | ". A dash is
    not enough on its own there: og:titles use it inside titles ("Covid-19 - what next")."""
    title = _SPACE.sub(" ", title).strip()
    site = _SPACE.sub(" ", site).strip()
    if site:
        for separator in (" | ", " - ", " \u2013 ", " \u2014 ", " : "):
            if title.endswith(separator + site) and len(title) > len(separator + site):
                return title[:-len(separator + site)].rstrip()
    return _PIPE_SUFFIX.sub("", title)


def _title(page: LexborHTMLParser) -> str:
    node = page.css_first("title")
    text = _SPACE.sub(" ", node.text()).strip() if node is not None else ""
    return _TITLE_SUFFIX.sub("", text)  # "Report name | The King's Fund" → "Report name"
