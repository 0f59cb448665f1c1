"""Is an item a new edition of a driver record? (pure)

Policy documents come in series: "State of Care 2013/14" is followed by "State of Care 2014/15",
an "interim" plan by the "final" one, a plan by its "refresh". A title is split into its
*series* (the words that name the document, normalised) and its *edition* (the start year of
any year or year range, then a stage: interim < plain < final < refresh/update/revised). An
item is a new edition of a record when both name the same series and the item's edition is
later. The item's series may carry a prefix the record's lacks ("Press release: CQC publishes
State of Care 2014/15"), but only a prefix, and only when the record's series has two or more
words: "State of Care" never matches "State of Health", nor "State of Care in mental health".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import NamedTuple

from awareness.model import DriverRecord

_YEAR = re.compile(r"\b((?:19|20)\d{2})(?:\s*[/–—-]\s*(?:(?:19|20)?\d{2}))?\b")
_STAGES = {"interim": 0, "draft": 0, "consultation": 0, "final": 2, "refresh": 3,
           "refreshed": 3, "update": 3, "updated": 3, "revised": 3, "revision": 3}
_EDITION_WORDS = re.compile(r"\b(?:\d+(?:st|nd|rd|th)|first|second|third|new)\s+edition\b")
# GOV.UK's type prefixes ("Policy paper: …") and our own noise words.
_PREFIX = re.compile(r"^\s*[A-Za-z ]{3,30}:\s+")
_NOISE = frozenset({"the", "a", "an", "edition", "report", "version", "document"})
PLAIN = 1


class Edition(NamedTuple):
    """A title's series words and its edition (start year or 0, stage)."""

    series: tuple[str, ...]
    year: int
    stage: int

    def is_later_than(self, other: Edition) -> bool:
        """Is this edition after ``other`` (a later year, or the same year and a later stage)?"""
        if self.year and other.year and self.year != other.year:
            return self.year > other.year
        if bool(self.year) != bool(other.year) and self.stage == other.stage:
            return False  # "Plan 2019" vs "Plan": no way to tell which came first
        return self.stage > other.stage


def edition_of(title: str) -> Edition:
    """The series and edition a title names."""
    text = title.replace("’", "'").replace("‘", "'")
    text = _PREFIX.sub("", text)
    years = [int(m.group(1)) for m in _YEAR.finditer(text)]
    text = _EDITION_WORDS.sub(" ", _YEAR.sub(" ", text.casefold()))
    words = re.findall(r"[a-z0-9']+", text)
    stages = [_STAGES[w] for w in words if w in _STAGES]
    series = tuple(w for w in words if w not in _STAGES and w not in _NOISE)
    return Edition(series, years[0] if years else 0, max(stages, default=PLAIN))


def is_new_edition(item_title: str, record_titles: list[str]) -> tuple[bool, str]:
    """Is the item a later edition of a record known by any of ``record_titles``? With why."""
    return is_later_edition(edition_of(item_title),
                            [(name, edition_of(name)) for name in record_titles])


def is_later_edition(item: Edition, records: list[tuple[str, Edition]]) -> tuple[bool, str]:
    """``is_new_edition`` with the titles already read as editions (name, edition)."""
    for name, record in records:
        if _same_series(item.series, record.series) and item.is_later_than(record):
            return True, f"a new edition of “{name}” (same series: {' '.join(record.series)})"
    return False, ""


def latest_edition(records: Sequence[DriverRecord]) -> DriverRecord | None:
    """The record whose title names the latest edition (the first of equals), e.g. "State of
    Care 2014/15" of it and "State of Care 2013/14"; None for no records."""
    return max(records, key=lambda record: edition_of(record.title)[1:], default=None)


def _same_series(item: tuple[str, ...], record: tuple[str, ...]) -> bool:
    if not record:
        return False
    if item == record:
        return True
    return len(record) >= 2 and item[-len(record):] == record
