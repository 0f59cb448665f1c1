"""OPML, the feed list every feed reader imports and exports (pure; issue 16).

``export_opml`` writes the feed sources as OPML 2.0 outlines, grouped by publisher.
``import_opml`` reads a reader's OPML file into new ``[[source]]`` tables as TOML text, for a
librarian to review and paste into sources.toml: the service never rewrites that file. An
OPML file is untrusted input: a document type or entity declaration is refused before it is
parsed (no entity expansion), and only http(s) feed addresses are taken.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from awareness.errors import ConfigError
from awareness.links import normalise_link
from awareness.subscriptions import SourceDef
from awareness.toml_checks import toml_string

MAX_OUTLINES = 5_000


@dataclass(frozen=True)
class OpmlFeed:
    """A feed found in an OPML file: its address, its title, and the folder it was in."""

    url: str
    title: str
    folder: str


def export_opml(sources: Iterable[SourceDef], *, title: str, now: datetime) -> str:
    """The feed sources (``kind = "feed"``) as an OPML 2.0 document, one folder a publisher.
    Listing pages and sitemaps are not feeds, so no reader could use them: they are left out."""
    root = ET.Element("opml", version="2.0")
    head = ET.SubElement(root, "head")
    ET.SubElement(head, "title").text = title
    ET.SubElement(head, "dateCreated").text = format_datetime(now)
    body = ET.SubElement(root, "body")
    folders: dict[str, ET.Element] = {}
    for source in sorted(sources, key=lambda s: (s.publisher.casefold(), s.name.casefold())):
        if source.kind != "feed":
            continue
        folder = folders.get(source.publisher)
        if folder is None:
            folder = folders[source.publisher] = ET.SubElement(
                body, "outline", text=source.publisher, title=source.publisher)
        ET.SubElement(folder, "outline", type="rss", text=source.name, title=source.name,
                      xmlUrl=source.url)
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") \
        + "\n"


def read_opml(data: bytes, path: str) -> list[OpmlFeed]:
    """The feeds of an OPML document, in document order; ConfigError when it is not one."""
    head = data[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in data.lower():
        raise ConfigError("OPML with a document type or entities is refused", path=path)
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise ConfigError(f"not an OPML file: {exc}", path=path) from None
    if root.tag != "opml" or root.find("body") is None:
        raise ConfigError("not an OPML file: no <opml><body>", path=path)
    found: list[OpmlFeed] = []
    _walk(root.find("body"), "", found)
    return found


def _walk(node: ET.Element | None, folder: str, found: list[OpmlFeed]) -> None:
    for outline in node.findall("outline") if node is not None else ():
        if len(found) >= MAX_OUTLINES:
            return
        text = " ".join((outline.get("title") or outline.get("text") or "").split())
        url = (outline.get("xmlUrl") or "").strip()
        if url:
            if url.startswith(("https://", "http://")):
                found.append(OpmlFeed(url, text[:200] or url, folder))
        else:
            _walk(outline, text[:200] or folder, found)


def import_opml(feeds: Iterable[OpmlFeed], existing: Iterable[SourceDef]) -> tuple[str, int]:
    """New ``[[source]]`` tables, as TOML text, for the feeds not already sources (by address),
    each with an id unique among the existing ones; and how many were already there."""
    known = list(existing)
    ids = {source.id for source in known}
    addresses = {normalise_link(source.url) for source in known}
    tables, skipped = [], 0
    for feed in feeds:
        key = normalise_link(feed.url)
        if key in addresses:
            skipped += 1
            continue
        addresses.add(key)
        source_id = _unique(_slug(feed.title) or _slug(feed.url), ids)
        ids.add(source_id)
        tables.append(
            "[[source]]\n"
            f"id = {toml_string(source_id)}\n"
            f"name = {toml_string(feed.title)}\n"
            f"publisher = {toml_string(feed.folder or feed.title)}\n"
            'kind = "feed"\n'
            f"url = {toml_string(feed.url)}\n")
    return "\n".join(tables), skipped


def _slug(text: str) -> str:
    words = re.findall(r"[a-z0-9]+", text.casefold().replace("'", ""))
    return "-".join(words)[:60].strip("-")


def _unique(slug: str, taken: set[str]) -> str:
    slug = slug or "feed"
    if slug not in taken:
        return slug
    n = 2
    while f"{slug}-{n}" in taken:
        n += 1
    return f"{slug}-{n}"
