"""The label vocabulary of MAP-toolkit pages: canonical field names and their spellings (pure).

``match_label`` tells whether a line opens a field, which one, and the value on its line.
docs/driver-records.md lists the spellings and the reason for each rule.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from awareness.model import RecordKind

_QUOTE = "[\"“”‘’']"

class FieldSpec(NamedTuple):
    """A canonical field name and the label spellings that mean it (matched ignoring case)."""

    name: str
    labels: tuple[str, ...]


DRIVER_FIELDS: tuple[FieldSpec, ...] = (
    FieldSpec("title_of_driver", ("Title of driver", "Title of document", "Title")),
    FieldSpec("also_known_as", ("Also known as", "Also called")),
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
    FieldSpec("impact", ("Impact of this project/service", "Impact of this project",
                         "Impact on the service", "Impact", "Outcomes", "Outcome",
                         "Difference made", "Difference it made", "Benefits", "Results")),
    FieldSpec("lessons_learned", ("Lessons Learned", "Lessons learnt")),
    FieldSpec("sustainability", ("Sustainability / next steps?", "Sustainability", "Next steps")),
    FieldSpec("contact", ("Contact details", "Contact")),
    FieldSpec("date_completed", ("Date case study completed", "Date completed")),
    FieldSpec("notes", ()),
)


def in_page_order(kind: RecordKind | str, names: Iterable[str]) -> list[str]:
    """``names`` in the order a MAP-toolkit page of ``kind`` gives its fields
    (``DRIVER_FIELDS``, ``CASE_STUDY_FIELDS``), then any other names alphabetically."""
    specs = CASE_STUDY_FIELDS if kind == "case_study" else DRIVER_FIELDS
    rank = {spec.name: index for index, spec in enumerate(specs)}
    return sorted(names, key=lambda name: (rank.get(name, len(rank)), name))


# A title line followed by one of these always starts a new record.
HEAD_FIELDS = frozenset({"title_of_driver", "project_team"})
# Once one of these has its value the record is complete; unlabelled lines after it are not
# part of it (they belong to the next post, or to no record at all).
TERMINAL_FIELDS = frozenset({"member_responsible", "date_completed"})
# Fields whose value is one short line or paragraph: a paragraph after a blank line is not
# part of it ("Title of driver: …, also known as …" then the summary, unlabelled). Such text
# is reported as not placed rather than read into the wrong field.
SHORT_FIELDS = frozenset(
    {
        "title_of_driver",
        "also_known_as",
        "source",
        "link",
        "publication_format",
        "date_of_publication",
        "date_last_updated",
        "due_for_review",
        "member_responsible",
        "date_completed",
        "contact",
    }
)
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
        "also_known_as",
    }
)

class _Label(NamedTuple):
    field: str
    kind: RecordKind | None  # None: the spelling is used by both record kinds
    loose: bool
    pattern: re.Pattern[str]


class LabelHit(NamedTuple):
    """A label found on a line: the field it opens, its record kind (None: both), its value."""

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


def match_label(line: str, *, inline: bool = False) -> LabelHit | None:
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
            return LabelHit(label.field, label.kind, sep.group(1).strip())
        if inline:
            continue
        if not rest.strip():
            return LabelHit(label.field, label.kind, "")
        if label.loose and rest[:1].isspace():
            return LabelHit(label.field, label.kind, rest.strip())
    return None


def label_hits(line: str) -> list[LabelHit]:
    """Every label on a line; "Source:  Link to main document: http://…" holds two."""
    hits: list[LabelHit] = []
    hit = match_label(line)
    while hit is not None and len(hits) < 4:
        inner = match_label(hit.value, inline=True) if hit.value else None
        hits.append(hit._replace(value="") if inner else hit)
        hit = inner
    return hits


