"""Items from an HTML listing page read with CSS selectors (pure).

Publishers without a working feed (The King's Fund, CQC's own site, Nuffield Trust, ...) list
their news and publications as repeated blocks of markup. A source of kind ``html`` names, in
sources.toml, the selector of one block (``item``) and, inside each block, the selectors of its
``title``, ``link``, ``date`` and ``summary``. Items are identified by their link (resolved
against the page's URL), so a re-ordered or re-styled page brings nothing new.

Everything read from the page is untrusted: titles are plain text, summaries go through the
same nh3 sanitiser as feed summaries, and only absolute http(s) links are kept.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import urljoin

from selectolax.lexbor import LexborHTMLParser, LexborNode, SelectolaxError

from awareness.errors import ParseError
from awareness.links import is_safe_link
from awareness.model import ParsedFeed, ParsedItem
from awareness.sources.parse import (
    LINK_CAP,
    SUMMARY_TEXT_CAP,
    TITLE_CAP,
    html_to_text,
    item_key,
    sanitise_html,
)
from awareness.sources.rules import HtmlRules

FUTURE_SLACK = timedelta(days=1)
EARLIEST_DATE = datetime(1990, 1, 1, tzinfo=UTC)
# Written dates as UK publishers print them; the ISO forms are tried first.
_DATE_FORMATS = ("%d %B %Y", "%d %b %Y", "%B %d, %Y", "%b %d, %Y", "%d/%m/%Y", "%d.%m.%Y",
                 "%B %Y", "%b %Y")
_ORDINAL = re.compile(r"(\d)(st|nd|rd|th)\b")
_SPACE = re.compile(r"\s+")


def parse_date(text: str | None, now: datetime) -> datetime | None:
    """A lenient reading of a date on a web page, as UTC; None when it is not a usable date.

    Dates without a zone are taken as UTC; dates more than a day ahead of ``now`` are clamped
    to ``now`` so they cannot sort above everything else.
    """
    if not text:
        return None
    text = _SPACE.sub(" ", _ORDINAL.sub(r"\1", text)).strip()[:100]
    value = _iso_date(text) or _written_date(text)
    if value is None or value < EARLIEST_DATE:
        return None
    return min(value, now) if value > now + FUTURE_SLACK else value


def _iso_date(text: str) -> datetime | None:
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _written_date(text: str) -> datetime | None:
    for candidate in (text, text.split(" ", 1)[-1]):  # "Published 3 March 2025", "Tue 3 Mar"
        for form in _DATE_FORMATS:
            try:
                return datetime.strptime(candidate, form).replace(tzinfo=UTC)
            except ValueError:
                continue
    return None


def _link(block: LexborNode, rules: HtmlRules, title: LexborNode, base: str) -> str | None:
    if rules.link:
        node = block.css_first(rules.link)
    elif title.tag == "a":
        node = title
    else:
        node = block.css_first("a[href]") if block.tag != "a" else block
    href = (node.attributes.get("href") if node is not None else None) or ""
    link = urljoin(base, href.strip())[:LINK_CAP] if href.strip() else None
    return link if link and is_safe_link(link) else None


def _date_text(block: LexborNode, selector: str) -> str | None:
    node = block.css_first(selector) if selector else None
    if node is None:
        return None
    return node.attributes.get("datetime") or node.attributes.get("content") or node.text()


def _summary(block: LexborNode, selector: str) -> tuple[str, str]:
    node = block.css_first(selector) if selector else None
    if node is None:
        return "", ""
    summary_html = sanitise_html(node.html or "")
    return summary_html, html_to_text(summary_html)[:SUMMARY_TEXT_CAP]


def _item(block: LexborNode, rules: HtmlRules, base: str, now: datetime) -> ParsedItem | None:
    title_node = block.css_first(rules.title)
    if title_node is None:
        return None
    title = _SPACE.sub(" ", title_node.text(deep=True, separator=" ")).strip()[:TITLE_CAP]
    link = _link(block, rules, title_node, base)
    if not title or link is None:
        return None
    summary_html, summary_text = _summary(block, rules.summary)
    return ParsedItem(key=item_key(link, None, title, summary_text), title=title, link=link,
                      summary_html=summary_html, summary_text=summary_text,
                      published=parse_date(_date_text(block, rules.date), now))


def extract_listing(body: bytes, *, url: str, rules: HtmlRules, now: datetime,
                    max_items: int = 200) -> ParsedFeed:
    """The items of a listing page ``body`` fetched from ``url``, read with ``rules``.

    Blocks without a title or a usable link are skipped with a warning; a page where the
    ``item`` selector finds nothing is a ParseError, because it means the site has changed.
    """
    try:
        page = LexborHTMLParser(body)
        blocks = page.css(rules.item)
    except (SelectolaxError, ValueError) as exc:
        raise ParseError(f"could not read the listing page: {exc}") from None
    if not blocks:
        raise ParseError(f"no items found: the selector '{rules.item}' matches nothing on the "
                         "page (has the site changed?)")
    items: dict[str, ParsedItem] = {}
    skipped = 0
    for block in blocks[:max_items]:
        item = _item(block, rules, url, now)
        if item is None:
            skipped += 1
        else:
            items.setdefault(item.key, item)  # a link listed twice (a "featured" copy) is one
    warnings = []
    if skipped:
        warnings.append(f"{skipped} of {min(len(blocks), max_items)} blocks had no title or "
                        "no usable link and were skipped")
    if len(blocks) > max_items:
        warnings.append(f"only the first {max_items} of {len(blocks)} blocks were read")
    if not items:
        raise ParseError("no items found: every block lacked a title or a usable link "
                         f"(selectors: {rules.selectors()})")
    title_node = page.css_first("title")
    page_title = title_node.text().strip()[:TITLE_CAP] if title_node is not None else None
    return ParsedFeed(items=tuple(items.values()), title=page_title or None,
                      warnings=tuple(warnings))
