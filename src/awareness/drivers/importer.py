"""Read a MAP-toolkit page, saved as text, into driver and case-study records (pure).

Many people typed these pages over a decade, so the reader works the way a person does. A
record starts at a *title line*: a line that is followed soon (after blank lines, boilerplate
or a byline) by a record label. Each label line opens a field; its value is the rest of that
line plus the unlabelled lines after it, up to the next label. docs/driver-records.md lists
the field names and label spellings, and gives the page layout behind each rule.

The label vocabulary lives in ``labels``, free-text dates in ``dates``; saved HTML is turned
into the same lines by ``html``. Merging the same record from several pages happens in
``records``.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace

from awareness.drivers.dates import is_period, parse_free_date
from awareness.drivers.labels import (
    CASE_STUDY_FIELDS,
    DRIVER_FIELDS,
    HEAD_FIELDS,
    SHORT_FIELDS,
    TERMINAL_FIELDS,
    FieldSpec,
    LabelHit,
    label_hits,
    match_label,
)
from awareness.model import DriverRecord, RecordKind

__all__ = [
    "CASE_STUDY_FIELDS",
    "DRIVER_FIELDS",
    "DriverPage",
    "FieldSpec",
    "SkippedPost",
    "Unplaced",
    "is_boilerplate",
    "is_period",
    "match_label",
    "parse_driver_page",
    "parse_free_date",
    "read_driver_page",
    "slugify",
]


BOILERPLATE = (
    re.compile(r"^(?:an?\s+)?policy briefing\b.*\bavailable\b", re.IGNORECASE),
    re.compile(r"\bfeel free to reproduce\b", re.IGNORECASE),
)
_PAGE_TAG = re.compile(r"^\s*(?:tag archives?|tag)\s*:\s*(?P<tag>\S.*?)\s*$", re.IGNORECASE)
# Other archive headings name a grouping that is not a topic tag; they are page furniture.
_PAGE_HEADING = re.compile(
    r"^\s*(?:category archives?|category|monthly archives?|archives?|author archives?)\s*:\s*\S",
    re.IGNORECASE,
)
_PROTECTED = re.compile(r"^\s*(?:protected|private)\s*:", re.IGNORECASE)
_BYLINE = re.compile(r"^\s*(?:posted on|posted by)\b", re.IGNORECASE)
# WordPress post footers: they end a post, and may name its tags.
_FOOTER = re.compile(
    r"^\s*(?:this entry was posted in\b|posted in\b.*(?:\||\btagged\b|\bcomment)|tags\s*:|"
    r"tagged\b:?\s*[^.]{1,120}$|(?:leave a comment|comments are closed)\.?\s*$)",
    re.IGNORECASE,
)
_FOOTER_TAGS = re.compile(r"(?:\btagged\b|^\s*tags\s*:)\s*:?\s*(?P<tags>[^|]+)", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"“”‘’]+", re.IGNORECASE)
_BULLET = re.compile(
    r"^(?P<indent> *)(?:[•·▪◦●○‣∙]\s*|[-–—*] +|(?P<num>\d{1,2}[.)]) +)(?P<text>\S.*)$"
)
_LOOKAHEAD = 12  # lines; how "soon" a label must follow a title line
# "Title of driver: NHS Long Term Workforce Plan, also known as the LTWP" or "(… aka …)"
_ALSO_KNOWN_AS = re.compile(
    r"\s*[,(;–—-]?\s*\b(?:also known as|also called|aka)\b\s*:?\s*(?P<name>[^)]+)\)?\s*$",
    re.IGNORECASE)


def is_boilerplate(line: str) -> bool:
    """Is ``line`` a stock paragraph (e.g. "A policy briefing is available…"), not content?"""
    return any(p.search(line) for p in BOILERPLATE)


@dataclass(frozen=True)
class DriverPage:
    """What one page yielded: its records, its tag, and the lines that were in no record."""

    records: tuple[DriverRecord, ...]
    page_tag: str | None = None
    skipped: tuple[str, ...] = ()
    skipped_posts: tuple[SkippedPost, ...] = ()
    unplaced: tuple[Unplaced, ...] = ()


@dataclass(frozen=True)
class Unplaced:
    """Text inside a record that no field took: it followed a short field's value after a
    blank line, so it is not that field's, and no label says what it is."""

    title: str
    after: str  # the field it followed
    text: str


@dataclass(frozen=True)
class SkippedPost:
    """A post on the page that is not a record (meeting notes, news), and why it was skipped."""

    title: str
    reason: str


@dataclass
class _Draft:
    title: str
    values: dict[str, list[str]] = field(default_factory=dict)
    current: str | None = None
    closed: bool = False
    votes: dict[str, int] = field(default_factory=lambda: {"driver": 0, "case_study": 0})
    tags: list[str] = field(default_factory=list)
    unplaced: list[tuple[str, str]] = field(default_factory=list)  # (after field, text)
    spilled: str | None = None  # a short field whose value ended at a blank line

    def kind(self) -> RecordKind:
        return "case_study" if self.votes["case_study"] > self.votes["driver"] else "driver"

    def open(self, name: str, value: str) -> None:
        lines = self.values.setdefault(name, [])
        if any(line.strip() for line in lines):
            lines.append("")  # the same label twice: keep both values as paragraphs
        if value:
            lines.append(value)
        self.current = name
        self.spilled = None
        self.closed = name in TERMINAL_FIELDS and bool(value)

    def blank(self) -> None:
        """A blank line: it ends a short field's value; in others it is a paragraph gap."""
        name = self.current
        if name in SHORT_FIELDS and any(v.strip() for v in self.values.get(name or "", [])):
            self.spilled, self.current = name, None
        elif name is not None:
            self.add("")

    def add(self, line: str) -> None:
        if self.spilled is not None:
            if line.strip():
                self.unplaced.append((self.spilled, line.strip()))
            return
        name = self.current or "notes"
        self.values.setdefault(name, []).append(line)
        if name in TERMINAL_FIELDS and line.strip():
            self.closed = True


def parse_driver_page(text: str, *, page_tag: str | None = None) -> list[DriverRecord]:
    """The driver and case-study records on a MAP-toolkit page saved as text.

    ``page_tag`` overrides the tag read from a "Tag Archives: …" heading; either way the page
    tag is attached to every record. Never raises on odd input: a page without records gives [].
    """
    return list(read_driver_page(text, page_tag=page_tag).records)


def read_driver_page(text: str, *, page_tag: str | None = None) -> DriverPage:
    """Like ``parse_driver_page``, also reporting the page tag and the lines no record took."""
    reader = _PageReader(_clean_lines(text))
    reader.run()
    tag = page_tag or reader.page_tag
    records = []
    unplaced = []
    for draft in reader.drafts:
        record = _finish(draft, tag)
        if record is None:
            reader.skipped.append(f"a record without a title (fields: {', '.join(draft.values)})")
        else:
            records.append(record)
            unplaced += [Unplaced(record.title, after, text) for after, text in draft.unplaced]
    return DriverPage(tuple(_with_unique_slugs(records)), tag, tuple(reader.skipped),
                      tuple(reader.skipped_posts), tuple(unplaced))


def _clean_lines(text: str) -> list[str]:
    # No-break and other odd spaces are typing artefacts, never meaning; curly quotes are kept.
    for odd in ("\u00a0", "\u2007", "\u202f", "\t"):
        text = text.replace(odd, " ")
    for invisible in ("\u200b", "\ufeff", "\u00ad"):
        text = text.replace(invisible, "")
    return [line.rstrip() for line in text.splitlines()]


class _PageReader:
    """Walks the lines once, building drafts; each line kind has one small handler."""

    def __init__(self, lines: list[str]):
        self.lines = lines
        self.drafts: list[_Draft] = []
        self.skipped: list[str] = []
        self.skipped_posts: list[SkippedPost] = []
        self.page_tag: str | None = None
        self.outside = False  # inside a post that is not a record (its lines are skipped)

    @property
    def draft(self) -> _Draft | None:
        return self.drafts[-1] if self.drafts else None

    def run(self) -> None:
        for i, line in enumerate(self.lines):
            if not line.strip():
                self._blank()
            elif (tag := _PAGE_TAG.match(line)) is not None:
                self.page_tag = self.page_tag or tag.group("tag")
            elif _PAGE_HEADING.match(line):
                continue
            elif _FOOTER.match(line):
                self._footer(line)
            elif _BYLINE.match(line):
                continue
            elif hits := label_hits(line):
                self._labels(hits)
            elif is_boilerplate(line):
                self._boilerplate(line)
            else:
                self._text(i, line)

    def _blank(self) -> None:
        draft = self.draft
        if draft is not None and not draft.closed:
            draft.blank()

    def _footer(self, line: str) -> None:
        if self.draft is None or self.outside:
            self.outside = False  # the footer of a skipped post: its tags are not ours
            return
        self.draft.closed = True
        if m := _FOOTER_TAGS.search(line):
            tags = re.sub(r"\.?\s*bookmark the permalink.*$", "", m.group("tags"), flags=re.I)
            self.draft.tags += [t.strip(" .") for t in tags.split(",") if t.strip(" .")]

    def _labels(self, hits: list[LabelHit]) -> None:
        draft = self.draft
        first = hits[0]
        if (
            draft is None
            or self.outside
            or (first.field in draft.values and (draft.closed or first.field in HEAD_FIELDS))
        ):
            # A record with no title line: its "Title of driver" (if any) names it.
            draft = self._start(first.value if first.field == "title_of_driver" else "")
        for hit in hits:
            draft.open(hit.field, hit.value)
            if hit.kind is not None:
                draft.votes[hit.kind] += 1

    def _boilerplate(self, line: str) -> None:
        if self.draft is None or self.draft.closed:
            self._skip(line)
            return
        notes = self.draft.values.setdefault("notes", [])
        notes += ["", line] if notes else [line]

    def _text(self, i: int, line: str) -> None:
        draft = self.draft
        if self._starts_record(i, line):
            self._start(line)
        elif self._byline_follows(i):
            if draft is not None:
                draft.closed = True  # a post without labels (meeting notes, news) ends a record
            reason = ("a password-protected post" if _PROTECTED.match(line)
                      else "a post without record labels (news or meeting notes)")
            self.skipped_posts.append(SkippedPost(_squash(line), reason))
            self._skip(line)
        elif draft is None or draft.closed:
            self._skip(line)
        elif draft.kind() == "case_study" and "timeline" not in draft.values and is_period(line):
            # Case studies give their period ("April 2012 onwards") as a bare line.
            draft.open("timeline", line.strip())
        else:
            draft.add(line)

    def _start(self, title: str) -> _Draft:
        self.drafts.append(_Draft(_squash(title)))
        self.outside = False
        return self.drafts[-1]

    def _skip(self, line: str) -> None:
        self.skipped.append(line.strip())
        self.outside = True

    def _starts_record(self, i: int, line: str) -> bool:
        if not _is_title_like(line):
            return False
        hit = self._label_ahead(i)
        if hit is None:
            return False
        draft = self.draft
        return (
            draft is None
            or draft.closed
            or hit.field in HEAD_FIELDS
            or hit.field in draft.values  # a field repeats: this line began the next record
            or self._byline_follows(i)  # "Posted on …" follows only a post's title
        )

    def _byline_follows(self, i: int) -> bool:
        following = (line for line in self.lines[i + 1 : i + 1 + _LOOKAHEAD] if line.strip())
        return bool(_BYLINE.match(next(following, "")))

    def _label_ahead(self, i: int) -> LabelHit | None:
        for line in self.lines[i + 1 : i + 1 + _LOOKAHEAD]:
            if not line.strip() or _BYLINE.match(line) or is_boilerplate(line):
                continue
            hits = label_hits(line)
            return hits[0] if hits else None
        return None


def _is_title_like(line: str) -> bool:
    text = line.strip()
    return (
        len(text) <= 250
        and any(ch.isalpha() for ch in text)
        and not text.endswith(":")
        and not _BULLET.match(text)
    )


def _finish(draft: _Draft, page_tag: str | None) -> DriverRecord | None:
    fields = {name: _finish_value(lines) for name, lines in draft.values.items()}
    title = _squash(draft.title) or fields.get("title_of_driver", "")
    if not title:
        return None
    if (also := _ALSO_KNOWN_AS.search(fields.get("title_of_driver", ""))) is not None:
        fields.setdefault("also_known_as", also.group("name").strip())
        fields["title_of_driver"] = fields["title_of_driver"][:also.start()].strip(" ,")
    if fields.get("title_of_driver") == title:
        del fields["title_of_driver"]  # only an alternative name is worth keeping
    kind = draft.kind()
    links = _URL.findall(fields.get("link", ""))
    tags = _unique([t for t in [page_tag or "", *draft.tags] if t.strip()])
    return DriverRecord(
        kind=kind,
        slug=slugify(title),
        title=title,
        source=fields.get("source", ""),
        link=links[0].rstrip(".,;:)") if links else "",
        impact=fields.get("impact", ""),
        # A case study has no summary; its story plays that part for linking and digests.
        summary=fields.get("summary" if kind == "driver" else "story", ""),
        tags=tuple(tags),
        fields=fields,
    )


def _finish_value(lines: list[str]) -> str:
    """Trimmed text: bullets as "- " lines (nested by indent), one blank line between paragraphs."""
    bullets = [m for m in map(_bullet, lines) if m is not None]
    indents = sorted({len(m.group("indent")) for m in bullets})
    out = []
    for line in lines:
        m = _bullet(line)
        if m is None:
            out.append(_squash(line))
        else:
            level = indents.index(len(m.group("indent")))
            out.append("  " * level + "- " + _squash(m.group("text")))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip("\n")


def _bullet(line: str) -> re.Match[str] | None:
    m = _BULLET.match(line)
    # "  1. Item" is a rendered HTML list; a flush-left "1. Smith (2011)" is typed text, such
    # as a numbered reference, and stays as typed.
    if m is None or (m.group("num") and not m.group("indent")):
        return None
    return m


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def _unique(tags: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for tag in tags:
        if tag.casefold() not in seen:
            seen.add(tag.casefold())
            out.append(tag.strip())
    return out


def slugify(title: str, *, max_length: int = 80) -> str:
    """A URL slug for a title: "State of Care 2013/14" → "state-of-care-2013-14"."""
    text = title.replace("&", " and ")
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    text = re.sub(r"['’‘]", "", text.lower())
    slug = re.sub(r"[^a-z0-9]+", "-", text).strip("-")
    if len(slug) > max_length:
        slug = slug[: max_length + 1].rsplit("-", 1)[0]
    return slug or "record"


def _with_unique_slugs(records: list[DriverRecord]) -> list[DriverRecord]:
    taken: set[str] = set()
    out = []
    for record in records:
        slug, n = record.slug, 1
        while slug in taken:
            n += 1
            slug = f"{record.slug}-{n}"
        taken.add(slug)
        out.append(replace(record, slug=slug))
    return out

