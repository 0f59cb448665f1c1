"""Turn a saved WordPress page (post, tag, category or archive page) into text lines (pure).

The text importer reads lines the way a person reads a page, so the HTML reader only has to
lay the page out as a browser would when its text is copied: one line per block (paragraph,
heading, table cell, list item), ``<br>`` as a line break, list items as indented bullets
(the importer reads an indented bullet as a rendered list), and no site furniture (menus,
sidebars, the site footer, comment forms, scripts). Post footers ("Posted in … Tagged …")
are kept, because they carry the post's tags. Uses only the standard library's parser, which
never raises on malformed markup.
"""

from __future__ import annotations

import re

from awareness.drivers.labels import match_label
from awareness.htmlparsing import LenientHTMLParser


def _names(text: str) -> frozenset[str]:
    return frozenset(text.split())


BLOCKS = _names(
    "address article aside blockquote body dd details div dl dt fieldset figcaption figure "
    "footer h1 h2 h3 h4 h5 h6 header hr li main nav ol p pre section summary table td th tr "
    "ul"
)
# Never text a reader would copy.
SKIPPED_TAGS = _names(
    "script style noscript template svg iframe form button select textarea nav aside head "
    "title"
)
# Site furniture that themes mark with these ids or classes (not the posts' own footers).
_FURNITURE = re.compile(
    r"(?:^|\s)(?:colophon|site-footer|site-header|masthead|secondary|sidebar|widget-area|"
    r"comments|respond|comment-respond|nav-links|navigation|skip-link|screen-reader-text|"
    r"sharedaddy|jp-relatedposts)(?:\s|$)"
)
VOID = _names("area base br col embed hr img input link meta param source track wbr")


def html_to_text(html: str) -> str:
    """The text of a saved page, one block per line, ready for ``read_driver_page``."""
    reader = _TextReader()
    reader.feed(html)
    reader.close()
    return reader.text()


class _TextReader(LenientHTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.stack: list[tuple[str, bool]] = []  # (tag, skipped) of open elements
        self.lists: list[list[int]] = []  # one counter per open list; [-1] for <ul>
        self.links: list[str] = []  # the href of each open <a>

    @property
    def skipping(self) -> bool:
        return any(skipped for _, skipped in self.stack)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = " ".join(value or "" for key, value in attrs if key in ("id", "class"))
        if tag == "br":
            self._break()
            return
        if tag in VOID:
            return
        if tag == "a":
            self.links.append(dict(attrs).get("href") or "")
        skipped = tag in SKIPPED_TAGS or bool(_FURNITURE.search(names))
        self.stack.append((tag, skipped))
        if tag in BLOCKS:
            self._break()
        if tag in ("ul", "ol"):
            self.lists.append([0 if tag == "ol" else -1])
        elif tag == "li" and not self.skipping:
            self._bullet()

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID or not any(open_tag == tag for open_tag, _ in self.stack):
            return  # a stray end tag: browsers ignore it, so do we
        if tag == "a" and self.links:
            self._link_address(self.links.pop())
        while self.stack:
            open_tag, _ = self.stack.pop()
            if open_tag in ("ul", "ol") and self.lists:
                self.lists.pop()
            if open_tag in BLOCKS:
                self._break()
            if open_tag == tag:
                break
        if tag in ("p", "h1", "h2", "h3", "h4", "h5", "h6", "table", "ul", "ol", "article"):
            self.lines.append("")  # a paragraph gap, as copied text shows it

    def handle_data(self, data: str) -> None:
        if not self.skipping:
            self.current.append(data)

    def _link_address(self, href: str) -> None:
        """Keep the address of a link that is the record's document link: its words are the
        label ("Link to main document", linked) or follow it ("Link to document: here"),
        and copied text would lose the address (issue 16)."""
        if self.skipping or not re.match(r"https?://", href, re.IGNORECASE):
            return
        block = "".join(self.current).strip()
        hit = match_label(block)
        if hit is None or hit.field != "link" or href in block:
            return
        self.current.append(f": {href}" if not hit.value else f" {href}")

    def _bullet(self) -> None:
        if not self.lists:
            self.current.append("• ")
            return
        depth = "  " * len(self.lists)
        counter = self.lists[-1]
        if counter[0] < 0:
            self.current.append(f"{depth}• ")
        else:
            counter[0] += 1
            self.current.append(f"{depth}{counter[0]}. ")

    def _break(self) -> None:
        text = "".join(self.current)
        self.current = []
        bullet = re.match(r"( *)(?:•|\d+\.) ", text)
        indent = len(bullet.group(1)) if bullet else 0  # only a list item keeps its indent
        line = re.sub(r"\s+", " ", text).strip()
        if line:
            self.lines.append(" " * indent + line)

    def text(self) -> str:
        self._break()
        out: list[str] = []
        for line in self.lines:
            if line or (out and out[-1]):
                out.append(line)  # at most one blank line in a row
        return "\n".join(out).strip("\n") + "\n"


def looks_like_html(text: str) -> bool:
    """Is ``text`` a saved web page rather than a page saved as text?"""
    head = text.lstrip()[:2000].lower()
    return head.startswith(("<!doctype html", "<html")) or bool(
        re.search(r"<(?:body|article|div|p)\b[^>]*>", head)
    )


def post_links(html: str) -> dict[str, str]:
    """Each post's heading (WordPress marks it ``entry-title``) → the address its heading
    links to: the post's own page. A heading without a link (a single post's page) maps to
    "". Headings are keyed by ``heading_key``; the first post of a heading wins."""
    reader = _PostLinks()
    reader.feed(html)
    reader.close()
    return reader.links


def heading_key(text: str) -> str:
    """A post heading or record title as ``post_links`` keys it: case and spacing ignored."""
    return " ".join(text.split()).casefold()


class _PostLinks(LenientHTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: dict[str, str] = {}
        self.heading: str | None = None  # the open entry-title element's tag
        self.text: list[str] = []
        self.href = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if self.heading is None and "entry-title" in (values.get("class") or "").split():
            self.heading, self.text, self.href = tag, [], ""
        elif self.heading is not None and tag == "a" and not self.href:
            self.href = values.get("href") or ""

    def handle_data(self, data: str) -> None:
        if self.heading is not None:
            self.text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag != self.heading:
            return
        key = heading_key("".join(self.text))
        if key:
            self.links.setdefault(key, self.href)
        self.heading = None
