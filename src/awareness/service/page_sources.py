"""Polling the sources without a feed: HTML listing pages and sitemaps (shell).

The extraction itself is pure (``sources.listing``, ``sources.sitemap``); this module does the
fetching around it: the child sitemaps of an index and, for sitemap URLs not seen before, their
pages — a few per poll, through the same guarded fetcher, one after another.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from typing import Any

from awareness.errors import FetchError, ParseError
from awareness.links import normalise_link
from awareness.model import ParsedFeed, ParsedItem
from awareness.service.context import Context
from awareness.sources.decide import StoredEntry
from awareness.sources.fetch import FetchResult, Validators, fetch
from awareness.sources.listing import extract_listing
from awareness.sources.rules import SitemapRules
from awareness.sources.sitemap import (
    SitemapEntry,
    newest_first,
    page_item,
    parse_sitemap,
    url_item,
)
from awareness.sources.worker import shared_pool
from awareness.subscriptions import SourceDef

log = logging.getLogger(__name__)

# The first poll of a sitemap stores at most this many existing URLs as the baseline.
BASELINE_CAP = 5_000


# A child sitemap's validators: url → (etag, last_modified), as sources store them.
ChildValidators = Mapping[str, tuple[str | None, str | None]]


@dataclass(frozen=True)
class Extracted:
    """Items from a page source; ``complete`` is False when new URLs wait for the next poll.
    ``child_validators``: a sitemap index's children read now, each with its validators."""

    feed: ParsedFeed
    complete: bool = True
    child_validators: ChildValidators = field(default_factory=dict)


@dataclass
class SitemapRead:
    """What a sitemap and its children gave: the wanted entries, warnings, the validators of
    each child read now, and whether some child answered "not modified"."""

    entries: list[SitemapEntry]
    warnings: list[str]
    child_validators: dict[str, tuple[str | None, str | None]]
    unchanged_children: int = 0


def extract(ctx: Context, definition: SourceDef, body: bytes, url: str,
            baseline: bool, seen: AbstractSet[str] = frozenset(),
            children: ChildValidators | None = None) -> Extracted:
    """The items of a fetched ``html`` or ``sitemap`` source body. Raises ParseError.

    ``seen`` holds the normalised links the source has stored or had deleted: a sitemap's
    pages among them are not fetched again (``seen_links``). ``children``: the validators
    each child sitemap last answered with, for conditional requests."""
    if definition.kind == "html" and definition.html is not None:
        return Extracted(extract_listing(body, url=url, rules=definition.html, now=ctx.now()))
    if definition.kind == "sitemap" and definition.sitemap is not None:
        return _sitemap_items(ctx, definition.sitemap, body, url, baseline, seen,
                              children or {})
    raise ParseError(f"source kind '{definition.kind}' has no extraction rules")


def sitemap_entries(ctx: Context, rules: SitemapRules, body: bytes, url: str,
                    children: ChildValidators | None = None) -> SitemapRead:
    """The wanted entries of a sitemap, following an index to its newest child sitemaps.

    Each child is asked for with the validators it last answered with (``children``): one
    that answers "304 not modified" holds no URL the source has not stored, so its entries
    are not read again (issue 16). The validators returned are those of the children this
    index lists and that answered, so they never outgrow the index."""
    now = ctx.now()
    document = parse_sitemap(body, url=url, now=now)
    read = SitemapRead(list(document.entries), [], {})
    wanted = [c for c in newest_first(document.children) if rules.wants_sitemap(c.loc)]
    for child in wanted[:rules.max_sitemaps]:
        _read_child(ctx, child.loc, (children or {}).get(child.loc), read)
    if len(wanted) > rules.max_sitemaps:
        read.warnings.append(f"read the {rules.max_sitemaps} newest of {len(wanted)} child "
                             "sitemaps")
    read.entries = newest_first([e for e in read.entries if rules.wants(e.loc)])
    return read


def _read_child(ctx: Context, loc: str, stored: tuple[str | None, str | None] | None,
                read: SitemapRead) -> None:
    try:
        fetched = fetch(loc, validators=Validators(*(stored or (None, None))),
                        policy=ctx.fetch_policy, resolver=ctx.resolver)
        if fetched.status == "not_modified":
            read.unchanged_children += 1
        else:
            read.entries.extend(parse_sitemap(fetched.body, url=fetched.url, now=ctx.now())
                                .entries)
    except (FetchError, ParseError) as exc:
        read.warnings.append(f"child sitemap {loc}: {exc}")
        return  # no validators kept: the next poll reads it whole
    if fetched.validators.etag or fetched.validators.last_modified:
        read.child_validators[loc] = (fetched.validators.etag, fetched.validators.last_modified)


def _sitemap_items(ctx: Context, rules: SitemapRules, body: bytes, url: str,
                   baseline: bool, seen: AbstractSet[str],
                   children: ChildValidators) -> Extracted:
    read = sitemap_entries(ctx, rules, body, url, {} if baseline else children)
    entries, warnings = read.entries, read.warnings
    if not entries and not read.unchanged_children:
        raise ParseError("no URLs in the sitemap match the source's include patterns")
    if baseline:
        # Existing pages are never alerted: record them without reading thousands of pages.
        items = [url_item(entry) for entry in entries[:BASELINE_CAP]]
        return Extracted(ParsedFeed(items=tuple(items), warnings=tuple(warnings)),
                         child_validators=read.child_validators)
    new = [e for e in entries if normalise_link(e.loc) not in seen]
    items = [_page(ctx, entry, warnings) for entry in new[:rules.max_pages]]
    if len(new) > rules.max_pages:
        warnings.append(f"{len(new) - rules.max_pages} new pages left for the next poll "
                        f"(at most {rules.max_pages} are read per poll)")
    return Extracted(ParsedFeed(items=tuple(items), warnings=tuple(warnings)),
                     complete=len(new) <= rules.max_pages,
                     child_validators=read.child_validators)


def _page(ctx: Context, entry: SitemapEntry, warnings: list[str]) -> ParsedItem:
    try:
        fetched = fetch(entry.loc, validators=Validators(), policy=ctx.fetch_policy,
                        resolver=ctx.resolver)
    except FetchError as exc:
        warnings.append(f"page {entry.loc}: {exc}; titled from its address")
        return url_item(entry)
    return page_item(fetched.body, entry, ctx.now())


def seen_links(stored: Iterable[StoredEntry], tombstones: Iterable[str]) -> set[str]:
    """The normalised links a source has stored, or had deleted by a librarian."""
    seen = {normalise_link(entry.known.link) for entry in stored if entry.known.link}
    seen.update(key.removeprefix("link:") for key in tombstones if key.startswith("link:"))
    return seen


def preview_source(ctx: Context, definition: SourceDef, *, max_pages: int = 3) -> dict[str, Any]:
    """What ``definition`` extracts from its live page now, for ``awareness sources test``.

    Nothing is stored. A sitemap's newest ``max_pages`` wanted pages are fetched for their
    titles; the rest are listed by address. Raises FetchError or ParseError with one sentence.
    """
    result = fetch(definition.url, validators=Validators(), policy=ctx.fetch_policy,
                   resolver=ctx.resolver)
    warnings: list[str] = []
    if definition.kind == "drivers":
        return _preview_records(definition, result)
    if definition.kind == "sitemap" and definition.sitemap is not None:
        read = sitemap_entries(ctx, definition.sitemap, result.body, result.url)
        entries, warnings = read.entries, read.warnings
        items = [_page(ctx, e, warnings) for e in entries[:max_pages]]
        items += [url_item(e) for e in entries[max_pages:]]
    elif definition.kind == "feed":
        parsed = shared_pool().parse(result.body, url=result.url,
                                     content_type=result.content_type, now=ctx.now())
        items, warnings = list(parsed.items), list(parsed.warnings)
    else:
        parsed = extract(ctx, definition, result.body, result.url, baseline=True).feed
        items, warnings = list(parsed.items), list(parsed.warnings)
    return {
        "source": definition.id, "kind": definition.kind, "url": definition.url,
        "final_url": result.url, "count": len(items),
        "dated": sum(1 for item in items if item.published),
        "with_summary": sum(1 for item in items if item.summary_text),
        "items": [{"title": item.title, "link": item.link,
                   "published": item.published.isoformat() if item.published else None}
                  for item in items],
        "warnings": warnings,
    }


def _preview_records(definition: SourceDef, result: FetchResult) -> dict[str, Any]:
    """What a ``drivers`` source's page holds: its records (title, link), and what the
    importer skipped or could not place."""
    from awareness.drivers.html import html_to_text, looks_like_html
    from awareness.drivers.importer import read_driver_page
    from awareness.service.drivers import page_text

    text = page_text(result.body, result.content_type)
    page = read_driver_page(html_to_text(text) if looks_like_html(text) else text)
    return {
        "source": definition.id, "kind": definition.kind, "url": definition.url,
        "final_url": result.url, "count": len(page.records), "dated": 0,
        "with_summary": sum(1 for r in page.records if r.summary),
        "items": [{"title": r.title, "link": r.link or None, "published": None}
                  for r in page.records],
        "warnings": [f"skipped: {p.title} ({p.reason})" for p in page.skipped_posts]
                    + [f"not placed in {u.title}: {u.text[:120]}" for u in page.unplaced],
    }
