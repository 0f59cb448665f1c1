"""What a source definition says about pages (pure): an ``html`` source's CSS selectors and a
``sitemap`` source's URL filter. Apart from the parsers that use them, so that reading the
librarians' files does not load the feed and page parsers."""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from selectolax.lexbor import LexborHTMLParser, SelectolaxError


@dataclass(frozen=True)
class HtmlRules:
    """The CSS selectors of an ``html`` source. Only ``item`` and ``title`` are required.

    ``link`` defaults to the title element when it is an ``<a>``, else the first ``a[href]``
    in the item; ``date`` reads a ``datetime`` or ``content`` attribute before the text.
    """

    item: str
    title: str
    link: str = ""
    date: str = ""
    summary: str = ""

    def selectors(self) -> dict[str, str]:
        """The selectors that are set, by key."""
        return {key: value for key, value in vars(self).items() if value}


def selector_error(selector: str) -> str | None:
    """Why ``selector`` is not a usable CSS selector, or None when it is."""
    try:
        LexborHTMLParser("<p></p>").css(selector)
    except (SelectolaxError, ValueError):
        return f"'{selector}' is not a valid CSS selector"
    return None


@dataclass(frozen=True)
class SitemapRules:
    """The URL filter and politeness bounds of a ``sitemap`` source."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    sitemaps: tuple[str, ...] = ()
    max_pages: int = 10
    max_sitemaps: int = 5

    def wants(self, url: str) -> bool:
        """Does ``url`` pass the include/exclude path patterns?"""
        path = unquote(urlsplit(url).path) or "/"
        included = not self.include or any(fnmatch.fnmatchcase(path, p) for p in self.include)
        return included and not any(fnmatch.fnmatchcase(path, p) for p in self.exclude)

    def wants_sitemap(self, url: str) -> bool:
        """Should this child sitemap of an index be read?"""
        path = unquote(urlsplit(url).path) or "/"
        return not self.sitemaps or any(fnmatch.fnmatchcase(path, p) for p in self.sitemaps)
