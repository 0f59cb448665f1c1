"""Building a digest from a subscriber's unsent matches (pure: no clock, no I/O).

A digest is one subscriber's matches for one period, grouped by topic (sections in topic-name
order), best first. The same item can match two of a subscriber's topics, or arrive from two
feeds; it is shown once, in the topic where it scored best, and the folded duplicates are still
listed in ``Digest.match_ids`` so the caller marks them delivered too (otherwise they would come
back alone in the next digest).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

from awareness.dates import long_date
from awareness.links import is_safe_link, normalise_link
from awareness.model import Hit

FREQUENCIES = ("daily", "weekly")
ELLIPSIS = "…"
# Unicode categories that never belong in one line of text we show or put in a header:
# Cc controls (CR, LF, NUL…), Cf format characters (bidi overrides U+202A–U+202E and
# U+2066–U+2069, zero-width characters, BOM), Cs lone surrogates (unencodable).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs"})


class _InvisibleTable(dict[int, str | None]):
    """A ``str.translate`` table that drops the ``_INVISIBLE_CATEGORIES`` characters but for
    white space (which ``str.split`` treats as a gap), filled in as characters are met: one
    pass in C instead of a category lookup per character in Python (which was most of the
    time rendering a digest took), without building a table of every code point."""

    def __missing__(self, code: int) -> str | None:
        char = chr(code)
        kept = char.isspace() or unicodedata.category(char) not in _INVISIBLE_CATEGORIES
        self[code] = char if kept else None
        return self[code]


_INVISIBLE = _InvisibleTable()


@dataclass(frozen=True)
class DigestDriver:
    """An active driver record shown under an entry: its title, its *what this means for
    libraries* text, and ``url``, the record's page in the web app."""

    title: str
    impact: str
    url: str


@dataclass(frozen=True)
class DigestEntry:
    """One match as a digest shows it: the item, the topic it matched, and related drivers."""

    match_id: int
    topic_slug: str
    topic_name: str
    title: str
    link: str | None
    publisher: str
    published: datetime | None
    summary: str
    score: float
    drivers: tuple[DigestDriver, ...] = ()
    note: str = ""  # the librarian's note for readers; never the review-log note
    story: str | None = None  # the same document from several publishers shares a story
    hits: tuple[Hit, ...] = ()  # the words that made it match, marked in the HTML part
    also_published_by: tuple[str, ...] = ()  # the other publishers of the same story
    item_id: int | None = None  # the stored item (its feedback links name it)


@dataclass(frozen=True)
class LinkedRecord:
    """An active driver record linked to a match, as stored: its page's slug and the link's
    kind (``same_document``, ``new_edition`` or ``related``). Draft records are never read
    for a digest."""

    slug: str
    title: str
    impact: str
    kind: str


@dataclass(frozen=True)
class Candidate:
    """A sendable match not yet sent to the subscriber, as storage reads it: the item, its
    publisher, the note for readers (``matches.reader_note``; the review-log note never
    leaves the service), its story (the item's own id when it has none)."""

    match_id: int
    item_id: int
    topic_slug: str
    title: str
    link: str | None
    publisher: str
    published: datetime | None
    summary: str
    score: float
    note: str
    story: int
    hits: tuple[Hit, ...] = ()
    records: tuple[LinkedRecord, ...] = ()


def digest_entries(candidates: Iterable[Candidate], topic_names: Mapping[str, str],
                   base_url: str) -> list[DigestEntry]:
    """The entries for ``candidates`` of known topics, under their topics' names (titles,
    not file slugs); a record's URL is its page under ``base_url``. Readers are not told how
    a record came to be linked (issue 12: no review jargon in a digest)."""
    base = base_url.rstrip("/")
    return [DigestEntry(
        match_id=c.match_id, topic_slug=c.topic_slug, topic_name=topic_names[c.topic_slug],
        title=c.title, link=c.link, publisher=c.publisher, published=c.published,
        summary=c.summary, score=c.score, note=c.note, story=str(c.story), hits=c.hits,
        item_id=c.item_id,
        drivers=tuple(DigestDriver(title=r.title, impact=r.impact, url=f"{base}/drivers/{r.slug}")
                      for r in c.records))
        for c in candidates if c.topic_slug in topic_names]


@dataclass(frozen=True)
class DigestSection:
    """The entries of one topic, best first."""

    topic_slug: str
    topic_name: str
    entries: tuple[DigestEntry, ...]


@dataclass(frozen=True)
class Digest:
    """One subscriber's mail for one period.

    ``folded_match_ids`` are matches not shown because the same item is shown in another
    section; they count as delivered with this digest.
    """

    subscriber_id: int
    period_key: str
    frequency: str
    sections: tuple[DigestSection, ...]
    folded_match_ids: tuple[int, ...] = ()

    @property
    def entries(self) -> tuple[DigestEntry, ...]:
        """Every shown entry, in reading order."""
        return tuple(entry for section in self.sections for entry in section.entries)

    @property
    def entry_count(self) -> int:
        """How many items the reader sees."""
        return sum(len(section.entries) for section in self.sections)

    @property
    def match_ids(self) -> tuple[int, ...]:
        """Every match this digest delivers: the shown ones in reading order, then the folded."""
        return tuple(entry.match_id for entry in self.entries) + self.folded_match_ids

    @property
    def best_entry(self) -> DigestEntry:
        """The highest-ranked entry of the whole digest (what a subject line should name)."""
        return min(self.entries, key=_rank_key)

    @property
    def topic_names(self) -> tuple[str, ...]:
        """The names of the topics that have entries, in section order."""
        return tuple(section.topic_name for section in self.sections)


def period_key(frequency: Literal["daily", "weekly"], now: datetime, tz: ZoneInfo) -> str:
    """The period ``now`` falls in, in the subscribers' time zone: ``daily:2026-11-26``,
    ``weekly:2026-W48`` (ISO 8601 week, whose year can differ from the calendar year)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    local = now.astimezone(tz)
    if frequency == "daily":
        return f"daily:{local.date().isoformat()}"
    if frequency == "weekly":
        return f"weekly:{iso_week(local.date())}"
    raise ValueError(f"unknown digest frequency {frequency!r}; expected daily or weekly")


def iso_week(day: date) -> str:
    """The ISO 8601 week of ``day``, e.g. ``2026-W48`` (its year can differ from the day's)."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def week_start(week: str) -> date:
    """The Monday of an ISO week written as ``iso_week`` writes it; ValueError otherwise."""
    year, marker, number = week.partition("-W")
    if not (marker and year.isascii() and year.isdigit() and number.isascii()
            and number.isdigit()):
        raise ValueError(f"not an ISO week: {week!r}")
    return date.fromisocalendar(int(year), int(number), 1)


def period_start(key: str) -> date:
    """The first local day of the period named by ``key`` (the Monday for a weekly key)."""
    frequency, _, value = key.partition(":")
    try:
        if frequency == "daily":
            return date.fromisoformat(value)
        if frequency == "weekly":
            return week_start(value)
    except ValueError:
        pass
    raise ValueError(f"not a digest period key: {key!r}")


def period_label(key: str) -> str:
    """How the period reads in a mail: ``26 November 2026``, ``week beginning 23 November 2026``."""
    start = period_start(key)
    text = long_date(start)
    return f"week beginning {text}" if key.startswith("weekly:") else text


def build_digest(
    *, subscriber_id: int, frequency: str, period_key: str, entries: Iterable[DigestEntry]
) -> Digest | None:
    """Group ``entries`` into one digest, each item once; None when there is nothing to send."""
    if frequency not in FREQUENCIES:
        raise ValueError(f"unknown digest frequency {frequency!r}; expected daily or weekly")
    shown, folded = _fold_duplicates(sorted(entries, key=_rank_key))
    if not shown:
        return None
    return Digest(
        subscriber_id=subscriber_id,
        period_key=period_key,
        frequency=frequency,
        sections=_sections(shown),
        folded_match_ids=tuple(sorted(folded)),
    )


def visible_text(text: str) -> str:
    """``text`` on one line: invisible and control characters removed, whitespace collapsed."""
    if not text.isprintable():  # most titles are; only the others need the table
        text = text.translate(_INVISIBLE)
    return " ".join(text.split())


@lru_cache(maxsize=8192)
def short_summary(text: str, limit: int = 300) -> str:
    """``text`` on one line, at most ``limit`` characters, cut at a word boundary with "…".

    Remembered: the templates ask for each title, summary and impact in both parts of every
    digest that shows it, and an item goes to everyone who follows its topic."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    line = visible_text(text)
    if len(line) <= limit:
        return line
    head = line[: limit - 1]
    # Cut at the last space unless that would throw away most of the text (one huge word).
    cut = head.rfind(" ")
    if cut >= limit // 2:
        head = head[:cut]
    return head.rstrip(" ,;:-–—") + ELLIPSIS


# A sentence ends at . ! or ? (perhaps inside a closing quote or bracket) before white space
# and a capital, digit or opening quote, unless the full stop ends a usual abbreviation.
_SENTENCE_END = re.compile(r"(\w*)[.!?][\"'”’)\]]*(?=\s+[A-Z0-9\"'“‘(\[])")
_ABBREVIATIONS = frozenset({"dr", "mr", "mrs", "ms", "prof", "st", "no", "nos", "vs", "p",
                            "pp", "vol", "fig", "cf", "eg", "ie", "e.g", "i.e", "approx"})


def _sentence_ends(line: str) -> list[int]:
    return [end.end() for end in _SENTENCE_END.finditer(line)
            if end.group(1).casefold() not in _ABBREVIATIONS]


def sentence_starts(line: str) -> list[int]:
    """Where each sentence of ``line`` (one line, as ``visible_text`` gives) starts."""
    return [0] + [end + 1 for end in _sentence_ends(line) if end + 1 < len(line)]


@lru_cache(maxsize=8192)
def reader_snippet(text: str, limit: int = 300, start_near: int = 0) -> str:
    """``text`` on one line as a reader should meet it: at most ``limit`` characters that
    start at a sentence (the one holding character ``start_near``, by default the first, or
    the second when the text itself starts mid-sentence) and, when the text goes on, end
    at a sentence's end, else at a word, followed by "…" (after a space when a whole
    sentence ends the snippet).

    A snippet that starts mid-sentence, as a search result does, reads as broken text in a
    newsletter (issue 12)."""
    if limit < 1:
        raise ValueError("limit must be at least 1")
    line = visible_text(text)
    starts = sentence_starts(line)
    if _is_fragment(line) and len(starts) > 1:
        starts = starts[1:]  # the feed cut the first sentence: begin at the next one
    start = max((s for s in starts if s <= start_near), default=starts[0])
    rest = line[start:]
    if len(rest) <= limit:
        return rest
    ends = [end for end in _sentence_ends(rest[: limit + 1]) if end <= limit - 2]
    if ends and ends[-1] >= limit // 2:
        return rest[:ends[-1]] + " " + ELLIPSIS
    return short_summary(rest, limit)


def _is_fragment(line: str) -> bool:
    """Does ``line`` start in the middle of a sentence (lower case, or an ellipsis)?"""
    return line[:1].islower() or line.startswith(("…", "..."))


_LIST_MARK = r"(?:[-*•–]|\d{1,2}[.)])\s"
_BLOCK_BREAK = re.compile(rf"\n\s*\n|\n(?=[ \t]*{_LIST_MARK})")  # a blank line, or a list point
_LEADING_MARK = re.compile(rf"^\s*{_LIST_MARK}\s*")


def _first_point(text: str) -> str:
    """The first paragraph or list point of ``text``, without its list mark; one that only
    introduces what follows ("Opportunities for libraries:") brings the next with it. A
    single line break is a line wrapped inside a sentence, not a break."""
    blocks = [b for b in (_LEADING_MARK.sub("", block).strip()
                          for block in _BLOCK_BREAK.split(text)) if b]
    if len(blocks) > 1 and blocks[0].endswith(":"):
        return f"{blocks[0]} {blocks[1]}"
    return blocks[0] if blocks else text


@lru_cache(maxsize=4096)
def first_sentence(text: str, limit: int = 140) -> str:
    """The first sentence of ``text`` on one line, at most ``limit`` characters (cut at a
    word with "…"): one line of what a driver record means for libraries. Records write
    that as paragraphs or as a list ("- Library staff should …"): the first of them."""
    line = visible_text(_first_point(text))
    starts = sentence_starts(line)
    sentence = line[: starts[1] - 1] if len(starts) > 1 else line
    return short_summary(sentence, limit)


def item_identity(entry: DigestEntry) -> str:
    """What makes two entries the same item: their story, else the normalised link or title."""
    if entry.story:
        return "story:" + entry.story
    if entry.link and is_safe_link(entry.link):
        return "link:" + normalise_link(entry.link)
    return "title:" + visible_text(entry.title).casefold()


def _rank_key(entry: DigestEntry) -> tuple[float, int, float, str, str, int]:
    """Best first: score desc, newest first with undated last, then title; ties stay stable."""
    if entry.published is None:
        undated, newest = 1, 0.0
    else:
        published = entry.published
        if published.tzinfo is None:  # the model promises UTC; never fall back to local time
            published = published.replace(tzinfo=UTC)
        undated, newest = 0, -published.timestamp()
    return (-entry.score, undated, newest, entry.title.casefold(), entry.topic_name.casefold(),
            entry.match_id)


def _fold_duplicates(
    ranked: list[DigestEntry],
) -> tuple[list[DigestEntry], list[int]]:
    """Keep the first (best-ranked) entry of each item or story; return them and the folded
    match ids. An entry shown for a story names the other publishers of it ("also published
    by …", issue 16)."""
    at: dict[str, int] = {}
    shown: list[DigestEntry] = []
    also: dict[int, list[str]] = {}
    folded: list[int] = []
    for entry in ranked:
        identity = item_identity(entry)
        index = at.get(identity)
        if index is None:
            at[identity] = len(shown)
            shown.append(entry)
            continue
        folded.append(entry.match_id)
        others = also.setdefault(index, [])
        if entry.publisher != shown[index].publisher and entry.publisher not in others:
            others.append(entry.publisher)
    return [replace(entry, also_published_by=tuple(also[i])) if also.get(i) else entry
            for i, entry in enumerate(shown)], folded


def _sections(ranked: list[DigestEntry]) -> tuple[DigestSection, ...]:
    """Group ranked entries by topic, keeping rank order within each; topics by name."""
    by_topic: dict[str, list[DigestEntry]] = {}
    names: dict[str, str] = {}
    for entry in ranked:
        by_topic.setdefault(entry.topic_slug, []).append(entry)
        names.setdefault(entry.topic_slug, entry.topic_name)
    order = sorted(by_topic, key=lambda slug: (names[slug].casefold(), slug))
    return tuple(DigestSection(slug, names[slug], tuple(by_topic[slug])) for slug in order)
