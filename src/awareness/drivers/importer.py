"""Read a MAP-toolkit page, saved as text, into driver and case-study records (pure).

Many people typed these pages over a decade, so the reader works the way a person does. A
record starts at a *title line*: a line that is followed soon (after blank lines, boilerplate
or a byline) by a record label. Each label line opens a field; its value is the rest of that
line plus the unlabelled lines after it, up to the next label. docs/driver-records.md lists
the field names and label spellings, and gives the page layout behind each rule.

The reader works on lines, so a later HTML reader only has to turn each saved post into lines.
Merging the same record from several pages happens outside this module.

The module is longer than most because the label vocabulary, the line reader and the value
rules of one page format only make sense together; ``parse_free_date`` lives here because the
page's date fields are its only readers so far.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import date
from typing import NamedTuple

from awareness.model import DriverRecord, RecordKind


class FieldSpec(NamedTuple):
    """A canonical field name and the label spellings that mean it (matched ignoring case)."""

    name: str
    labels: tuple[str, ...]


DRIVER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("title_of_driver", ("Title of driver", "Title of document", "Title")),
    FieldSpec("source", ("Source", "Issuing body", "Publisher")),
    FieldSpec("link", ("Link to main document", "Link to document", "Link")),
    FieldSpec("publication_format", ("Publication format", "Format")),
    FieldSpec("date_of_publication", ("Date of publication", "Publication date", "Date published")),
    FieldSpec("summary", ("Summary of driver", "Summary of document")),
    FieldSpec("key_features", ("Key features of driver", "Key features", "Key points")),
    FieldSpec("primary_audience", ("Primary audience", "Target audience", "Audience")),
    FieldSpec(
        "impact",
        (
            "Impact on library policy/practice",
            "Impact on library policy",
            "Impact on library practice",
            "What does this mean for libraries?",
            "What this means for libraries",
            "Implications for libraries",
            "Impact",
        ),
    ),
    FieldSpec("date_last_updated", ("Date last updated", "Last updated", "Date updated")),
    FieldSpec("due_for_review", ("Due for review", "Date due for review", "Review date")),
    FieldSpec("member_responsible", ("Group member responsible", "Member responsible")),
    FieldSpec("notes", ()),  # boilerplate such as "A policy briefing is available…"
)

CASE_STUDY_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("project_team", ("Project Team",)),
    FieldSpec("resources_required", ("Resources Required", "Resources")),
    FieldSpec("timeline", ("Timeline", "Timescale", "Timeframe", "Period")),  # or a bare line
    FieldSpec("story", ("“The Story”", "Story")),
    FieldSpec(
        "alignment",
        ("Alignment to local, regional and national drivers", "Alignment to drivers", "Alignment"),
    ),
    FieldSpec("impact", ("Impact of this project/service", "Impact of this project", "Impact")),
    FieldSpec("lessons_learned", ("Lessons Learned", "Lessons learnt")),
    FieldSpec("sustainability", ("Sustainability / next steps?", "Sustainability", "Next steps")),
    FieldSpec("contact", ("Contact details", "Contact")),
    FieldSpec("date_completed", ("Date case study completed", "Date completed")),
    FieldSpec("notes", ()),
)

# A title line followed by one of these always starts a new record.
HEAD_FIELDS = frozenset({"title_of_driver", "project_team"})
# Once one of these has its value the record is complete; unlabelled lines after it are not
# part of it (they belong to the next post, or to no record at all).
TERMINAL_FIELDS = frozenset({"member_responsible", "date_completed"})
# Short-valued fields whose multi-word labels may take a value without a colon
# ("Due for review June 2019"); other labels need a colon, or a line of their own, so that
# prose such as "Lessons learned from this were…" is not taken for a label.
LOOSE_FIELDS = frozenset(
    {
        "date_of_publication",
        "date_last_updated",
        "due_for_review",
        "member_responsible",
        "publication_format",
        "date_completed",
    }
)

BOILERPLATE = (
    re.compile(r"^(?:an?\s+)?policy briefing\b.*\bavailable\b", re.IGNORECASE),
    re.compile(r"\bfeel free to reproduce\b", re.IGNORECASE),
)
_PAGE_TAG = re.compile(r"^\s*(?:tag archives?|tag)\s*:\s*(?P<tag>\S.*?)\s*$", re.IGNORECASE)
_BYLINE = re.compile(r"^\s*(?:posted on|posted by)\b", re.IGNORECASE)
# WordPress post footers: they end a post, and may name its tags.
_FOOTER = re.compile(
    r"^\s*(?:this entry was posted in\b|posted in\b.*(?:\||\btagged\b|\bcomment)|tags\s*:|"
    r"tagged\b:?\s*[^.]{1,120}$|(?:leave a comment|comments are closed)\.?\s*$)",
    re.IGNORECASE,
)
_FOOTER_TAGS = re.compile(r"(?:\btagged\b|^\s*tags\s*:)\s*:?\s*(?P<tags>[^|]+)", re.IGNORECASE)
_URL = re.compile(r"https?://[^\s<>\"“”‘’]+", re.IGNORECASE)
_QUOTE = "[\"“”‘’']"
_BULLET = re.compile(
    r"^(?P<indent> *)(?:[•·▪◦●○‣∙]\s*|[-–—*] +|(?P<num>\d{1,2}[.)]) +)(?P<text>\S.*)$"
)
_LOOKAHEAD = 12  # lines; how "soon" a label must follow a title line


class _Label(NamedTuple):
    field: str
    kind: RecordKind | None  # None: the spelling is used by both record kinds
    loose: bool
    pattern: re.Pattern[str]


class _LabelHit(NamedTuple):
    field: str
    kind: RecordKind | None
    value: str


def _compile_labels() -> tuple[_Label, ...]:
    driver = {_spelling_key(s): f.name for f in DRIVER_FIELDS for s in f.labels}
    case = {_spelling_key(s): f.name for f in CASE_STUDY_FIELDS for s in f.labels}
    labels = []
    # Longest first, so "Impact on library policy/practice" wins over "Impact".
    for key in sorted(driver.keys() | case.keys(), key=lambda k: (-len(k), k)):
        name = driver.get(key) or case[key]
        kind: RecordKind | None = None
        if key not in case:
            kind = "driver"
        elif key not in driver:
            kind = "case_study"
        body = r"\s+".join(re.escape(w) for w in key.split()).replace("/", r"\s*/\s*")
        pattern = re.compile(rf"^\s*{_QUOTE}?{body}{_QUOTE}?(?:\s*\?)?(?P<rest>.*)$", re.I)
        labels.append(_Label(name, kind, name in LOOSE_FIELDS and " " in key, pattern))
    return tuple(labels)


def _spelling_key(spelling: str) -> str:
    """Lower case, no quotes: "Sustainability / next steps?" → "sustainability/next steps"."""
    key = re.sub(r"\s*/\s*", "/", spelling.strip(' ?:"“”').lower())
    return re.sub(r"\s+", " ", key)


_LABELS = _compile_labels()


def match_label(line: str, *, inline: bool = False) -> _LabelHit | None:
    """The field a label line opens and the value on its line, or None for a non-label line.

    ``inline`` is for text after another label on the same line; there only the colon form
    counts ("Source:  Link to main document: http://…"), so a value is not cut up by accident.
    """
    for label in _LABELS:
        m = label.pattern.match(line)
        if not m:
            continue
        rest = m.group("rest")
        sep = re.match(r"\s*(?::|[–—]|-(?=\s))\s*(.*)$", rest)
        if sep:
            return _LabelHit(label.field, label.kind, sep.group(1).strip())
        if inline:
            continue
        if not rest.strip():
            return _LabelHit(label.field, label.kind, "")
        if label.loose and rest[:1].isspace():
            return _LabelHit(label.field, label.kind, rest.strip())
    return None


def _label_hits(line: str) -> list[_LabelHit]:
    """Every label on a line; "Source:  Link to main document: http://…" holds two."""
    hits: list[_LabelHit] = []
    hit = match_label(line)
    while hit is not None and len(hits) < 4:
        inner = match_label(hit.value, inline=True) if hit.value else None
        hits.append(hit._replace(value="") if inner else hit)
        hit = inner
    return hits


def is_boilerplate(line: str) -> bool:
    """Is ``line`` a stock paragraph (e.g. "A policy briefing is available…"), not content?"""
    return any(p.search(line) for p in BOILERPLATE)


@dataclass(frozen=True)
class DriverPage:
    """What one page yielded: its records, its tag, and the lines that were in no record."""

    records: tuple[DriverRecord, ...]
    page_tag: str | None = None
    skipped: tuple[str, ...] = ()


@dataclass
class _Draft:
    title: str
    values: dict[str, list[str]] = field(default_factory=dict)
    current: str | None = None
    closed: bool = False
    votes: dict[str, int] = field(default_factory=lambda: {"driver": 0, "case_study": 0})
    tags: list[str] = field(default_factory=list)

    def kind(self) -> RecordKind:
        return "case_study" if self.votes["case_study"] > self.votes["driver"] else "driver"

    def open(self, name: str, value: str) -> None:
        lines = self.values.setdefault(name, [])
        if any(line.strip() for line in lines):
            lines.append("")  # the same label twice: keep both values as paragraphs
        if value:
            lines.append(value)
        self.current = name
        self.closed = name in TERMINAL_FIELDS and bool(value)

    def add(self, line: str) -> None:
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
    for draft in reader.drafts:
        record = _finish(draft, tag)
        if record is None:
            reader.skipped.append(f"a record without a title (fields: {', '.join(draft.values)})")
        else:
            records.append(record)
    return DriverPage(tuple(_with_unique_slugs(records)), tag, tuple(reader.skipped))


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
            elif _FOOTER.match(line):
                self._footer(line)
            elif _BYLINE.match(line):
                continue
            elif hits := _label_hits(line):
                self._labels(hits)
            elif is_boilerplate(line):
                self._boilerplate(line)
            else:
                self._text(i, line)

    def _blank(self) -> None:
        draft = self.draft
        if draft is not None and draft.current is not None and not draft.closed:
            draft.add("")

    def _footer(self, line: str) -> None:
        if self.draft is None or self.outside:
            self.outside = False  # the footer of a skipped post: its tags are not ours
            return
        self.draft.closed = True
        if m := _FOOTER_TAGS.search(line):
            tags = re.sub(r"\.?\s*bookmark the permalink.*$", "", m.group("tags"), flags=re.I)
            self.draft.tags += [t.strip(" .") for t in tags.split(",") if t.strip(" .")]

    def _labels(self, hits: list[_LabelHit]) -> None:
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
        elif self._byline_follows(i) and draft is not None:
            draft.closed = True  # a post without labels (meeting notes, news) ends the record
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

    def _label_ahead(self, i: int) -> _LabelHit | None:
        for line in self.lines[i + 1 : i + 1 + _LOOKAHEAD]:
            if not line.strip() or _BYLINE.match(line) or is_boilerplate(line):
                continue
            hits = _label_hits(line)
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


def is_period(line: str) -> bool:
    """Is ``line`` only a period of time, such as "April 2012 onwards" or "2012 – 2013"?"""
    text = line.strip()
    if len(text) > 60 or not re.search(r"\b(?:19|20)\d{2}\b", text):
        return False
    rest = re.sub(
        rf"(?i)\b(?:{_MONTH}|onwards?|to|from|until|since|present|ongoing|and|"
        r"\d{1,2}(?:st|nd|rd|th)?|(?:19|20)\d{2})\b",
        "",
        text,
    )
    return not re.sub(r"[\s\-–—/,.&]", "", rest)


def _finish(draft: _Draft, page_tag: str | None) -> DriverRecord | None:
    fields = {name: _finish_value(lines) for name, lines in draft.values.items()}
    title = _squash(draft.title) or fields.get("title_of_driver", "")
    if not title:
        return None
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


_MONTH = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DAY = r"(?P<d>\d{1,2})(?:st|nd|rd|th)?"
_DATE_FORMS = (
    re.compile(r"\b(?P<y>\d{4})-(?P<m>\d{1,2})-(?P<d>\d{1,2})\b"),
    re.compile(r"\b(?P<d>\d{1,2})/(?P<m>\d{1,2})/(?P<y>\d{4})\b"),  # UK order: day first
    re.compile(rf"(?i)\b{_DAY}\s+(?:of\s+)?(?P<mn>{_MONTH})\b\.?,?\s+(?P<y>\d{{4}})\b"),
    re.compile(rf"(?i)\b(?P<mn>{_MONTH})\b\.?\s+{_DAY},?\s+(?P<y>\d{{4}})\b"),
    re.compile(
        rf"(?i)\b(?P<mn>(?:{_MONTH})\b\.?(?:\s*(?:/|-|–|—|to|or|and|&)\s*(?:{_MONTH})\b\.?)*)"
        r"\s+(?P<y>\d{4})\b"
    ),
    re.compile(r"^\s*(?P<y>(?:19|20)\d{2})\s*$"),
)


def parse_free_date(text: str) -> date | None:
    """The date a free-text date names, or None: "June 2019", "31st March 2017", "Oct/Nov 2016".

    A month without a day means its first day; a range of months ("Oct/Nov 2016") means the
    first day of its *later* month, because the writer promised nothing sooner; a bare year
    means 1 January. Numeric dates are read day first (UK). The first form that matches wins.
    Only the first 200 characters are read: a date field is short, and longer text is prose.
    """
    text = text[:200]
    for form in _DATE_FORMS:
        m = form.search(text)
        if m is None:
            continue
        parts = m.groupdict()
        month = int(parts["m"]) if parts.get("m") else _month_number(parts.get("mn"))
        try:
            return date(int(parts["y"]), month, int(parts.get("d") or 1))
        except ValueError:
            return None
    return None


def _month_number(names: str | None) -> int:
    if not names:
        return 1
    last = re.findall(rf"(?i){_MONTH}", names)[-1].lower()
    months = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    return months.index(last[:3]) + 1
