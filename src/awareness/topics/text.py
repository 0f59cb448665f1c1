"""The text model of the search language: normalisation, words, documents, word patterns (pure).

Item text and query words go through the same ``normalise``, so what a librarian types and
what a publisher wrote meet in one form. docs/search-language.md, "What is searched", is the
contract.
"""

from __future__ import annotations

import re
import unicodedata
from bisect import bisect_left
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

from awareness.model import ItemText

WORD = re.compile(r"[^\W_]+")
# Straight, curly and modifier-letter apostrophes; ‘ too, because word processors produce it.
_INNER_APOSTROPHE = re.compile(r"(?<=[^\W_])['’‘ʼ](?=[^\W_])")

FIELDS = ("title", "summary", "category", "source")
DEFAULT_FIELDS = ("title", "summary", "category")
WILDCARDS = "?#"


def normalise(text: str) -> str:
    """NFKC, case-fold, strip accents and drop apostrophes inside words (King’s → kings)."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if not text.isascii():
        decomposed = unicodedata.normalize("NFD", text)
        bases = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
        text = unicodedata.normalize("NFC", bases)
    return _INNER_APOSTROPHE.sub("", text)


def words(text: str) -> list[str]:
    """The words of ``text`` as the matcher sees them: runs of letters and digits, normalised.

    The same as ``WORD.findall(normalise(text))`` (a property test holds the two together),
    but text with any non-ASCII character (a curly quote is enough) is taken a
    whitespace-separated token at a time, each worked out once: stripping accents went
    through every character of the text in Python, and tokens repeat from item to item.
    Nothing ``normalise`` does reaches across whitespace."""
    text = unicodedata.normalize("NFKC", text).casefold()
    if text.isascii():
        return WORD.findall(_INNER_APOSTROPHE.sub("", text))
    found: list[str] = []
    for token in text.split():
        found += _token_words(token)
    return found


@lru_cache(maxsize=16_384)
def _token_words(token: str) -> tuple[str, ...]:
    """The words of one case-folded, NFKC token, as ``normalise`` then ``WORD`` make them."""
    if not token.isascii():
        decomposed = unicodedata.normalize("NFD", token)
        token = unicodedata.normalize(
            "NFC", "".join(ch for ch in decomposed if not unicodedata.combining(ch)))
    return tuple(WORD.findall(_INNER_APOSTROPHE.sub("", token)))


Segments = tuple[tuple[str, ...], ...]

# Steps one item may cost across every topic it is matched against: a step is one word of a
# segment scanned for one term or phrase of a positional node (docs/search-language.md,
# "Limits"). A summary is cut at 5,000 characters, about 800 words, so this lets ~300 wordy
# four-term NEAR topics that all pass the cheap vocabulary test scan it in full.
DEFAULT_BUDGET = 1_000_000


class OverBudget(Exception):
    """Matching one item would cost more steps than its budget allows."""


class Document:
    """An item's searchable fields, normalised once; each field is a tuple of segments.

    A phrase or a NEAR never spans two segments: each category is its own segment.
    """

    __slots__ = ("_sorted", "all_words", "budget", "segments", "vocabulary")

    def __init__(self, segments: dict[str, Segments]):
        self.segments = segments
        # Most fields are one segment: a frozenset of it directly (a dry run builds thousands).
        self.vocabulary = {
            name: frozenset(parts[0]) if len(parts) == 1 else frozenset().union(*parts)
            for name, parts in segments.items()
        }
        self.all_words: frozenset[str] = frozenset().union(*self.vocabulary.values())
        self._sorted: dict[frozenset[str], list[str]] = {}
        self.budget: int | None = None  # steps left, or None: unmetered

    def metered(self, steps: int) -> Document:
        """This document with its own budget of ``steps``: the same words, read-only and
        shared, and a counter that only this matching of it spends."""
        copy = Document.__new__(Document)
        copy.segments, copy.vocabulary = self.segments, self.vocabulary
        copy.all_words, copy._sorted = self.all_words, self._sorted
        copy.budget = steps
        return copy

    def charge(self, steps: int) -> None:
        """Spend ``steps`` of the budget; raise ``OverBudget`` when none are left."""
        if self.budget is not None:
            self.budget -= steps
            if self.budget < 0:
                raise OverBudget

    def starting_with(self, vocabulary: frozenset[str], prefix: str) -> list[str]:
        """The words of ``vocabulary`` (one of this document's) starting with ``prefix``, sorted.

        A binary search over the sorted vocabulary, sorted once per document and field, because
        truncations are checked against the same item by many profiles.
        """
        ordered = self._sorted.get(vocabulary)
        if ordered is None:
            ordered = self._sorted[vocabulary] = sorted(vocabulary)
        start = bisect_left(ordered, prefix)
        end = start
        while end < len(ordered) and ordered[end].startswith(prefix):
            end += 1
        return ordered[start:end]


@lru_cache(maxsize=256)
def document(item: ItemText) -> Document:
    """The normalised form of ``item``, cached so many topics share one tokenisation.

    Matching, scoring and explaining one item reuse it at once, so a small cache does; at
    4,096 entries (about 9 KiB each) it was most of the service's memory growth with the
    number of sources (docs/performance.md)."""
    return Document({
        "title": (tuple(words(item.title)),),
        "summary": (tuple(words(item.summary)),),
        "category": tuple(tuple(words(category)) for category in item.categories),
        "source": (tuple(words(item.source)),),
    })


@dataclass(frozen=True)
class ItemWords:
    """An item's words per field, as stored with it so a dry run over the archive does not
    normalise its text again (docs/architecture.md, "A dry run reads words, not text").

    The source field is not kept: it is the source's publisher and id, which an edit of
    sources.toml can change, so a reader adds it (``source_segment``) when it builds the
    ``Document``. ``normalise`` and ``WORD`` decide what is stored: a change to either needs
    the stored words computed again (a migration, as 0018 did).
    """

    title: tuple[str, ...]
    summary: tuple[str, ...]
    categories: tuple[tuple[str, ...], ...]

    @classmethod
    def of(cls, doc: Document) -> ItemWords:
        """The stored part of an already normalised item."""
        (title,), (summary,) = doc.segments["title"], doc.segments["summary"]
        return cls(title, summary, doc.segments["category"])

    @classmethod
    def of_text(cls, item: ItemText) -> ItemWords:
        """``of(document(item))`` without building the document or filling its cache: for
        the items a first poll stores and never matches."""
        return cls(tuple(words(item.title)), tuple(words(item.summary)),
                   tuple(tuple(words(category)) for category in item.categories))

    def columns(self) -> tuple[str, str, str]:
        """Title, summary and categories as text: words joined by spaces, categories by
        tabs (words are runs of letters and digits, so neither occurs in one)."""
        return (" ".join(self.title), " ".join(self.summary),
                "\t".join(" ".join(category) for category in self.categories))

    @classmethod
    def from_columns(cls, title: str, summary: str, categories: str) -> ItemWords:
        """Back from ``columns``."""
        return cls(tuple(title.split()), tuple(summary.split()),
                   tuple(tuple(category.split()) for category in categories.split("\t"))
                   if categories else ())

    def document(self, source: tuple[str, ...]) -> Document:
        """The ``Document`` that ``document`` makes of the same item, from ``source``'s words
        (``source_segment``) and these, without normalising anything."""
        return Document({"title": (self.title,), "summary": (self.summary,),
                         "category": self.categories, "source": (source,)})

    def field_words(self) -> set[tuple[str, str]]:
        """Each distinct (field, word): the rows that find this item by its words."""
        return {*(("title", word) for word in self.title),
                *(("summary", word) for word in self.summary),
                *(("category", word) for category in self.categories for word in category)}


def source_segment(publisher: str, source_id: str) -> tuple[str, ...]:
    """The words of an item's source field, as ``document`` sees them (polling matches
    against ``"{publisher} {source id}"``)."""
    return tuple(words(f"{publisher} {source_id}"))


def retokenised(changes: dict[str, object]) -> dict[str, str]:
    """The stored-word columns to write with an edit that changes an item's ``title`` or
    ``summary_text`` (an edit never changes categories)."""
    out = {}
    for column, stored in (("title", "title_words"), ("summary_text", "summary_words")):
        value = changes.get(column)
        if isinstance(value, str):
            out[stored] = " ".join(words(value))
    return out


@dataclass(frozen=True)
class WordPattern:
    """One query word, already normalised: exact, truncated (``leader*``) or with wildcards.

    ``stem`` may hold ``?`` (exactly one letter or digit) and ``#`` (zero or one).
    ``variants`` are other spellings of the same word (UK/US), matched the same way; they are
    not rendered, because they come from the topic's ``spelling`` option, not from its text.
    """

    stem: str
    truncated: bool = False
    variants: tuple[str, ...] = field(default=(), compare=False)
    _wild: bool = field(init=False, repr=False, compare=False)
    _test: Callable[[str], object] = field(init=False, repr=False, compare=False)
    _prefixes: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Matching runs per word of every candidate item, so the test is chosen once here.
        wild = any(char in WILDCARDS for char in self.stem)
        object.__setattr__(self, "_wild", wild)
        spellings = (self.stem, *self.variants)
        test: Callable[[str], object]
        if wild:
            test = _regex(spellings, self.truncated).fullmatch
        elif self.truncated:
            test = _starts_with(spellings)
        else:
            test = frozenset(spellings).__contains__
        object.__setattr__(self, "_test", test)
        object.__setattr__(self, "_prefixes", tuple(
            re.split(r"[?#]", spelling, maxsplit=1)[0] for spelling in spellings))

    @property
    def wild(self) -> bool:
        """Does the stem contain ``?`` or ``#``?"""
        return self._wild

    @property
    def literal_prefix(self) -> str:
        """The stem up to its first wildcard: every matching word starts with it."""
        return self._prefixes[0]

    def prefixes(self) -> tuple[str, ...]:
        """The literal prefix of each spelling: every matching word starts with one of them."""
        return self._prefixes

    def spellings(self) -> tuple[str, ...]:
        """The stem and its variants."""
        return (self.stem, *self.variants)

    def matches(self, word: str) -> bool:
        """Does this pattern accept the (normalised) ``word``?"""
        return bool(self._test(word))

    def words_in(self, vocabulary: frozenset[str]) -> list[str]:
        """The words of ``vocabulary`` this pattern accepts, sorted so hits are deterministic."""
        if not self.truncated and not self._wild:
            return [stem for stem in self.spellings() if stem in vocabulary]
        test = self._test
        return sorted(word for word in vocabulary if test(word))

    def __str__(self) -> str:
        return self.stem + ("*" if self.truncated else "")


def _starts_with(stems: tuple[str, ...]) -> Callable[[str], bool]:
    def test(word: str) -> bool:
        return word.startswith(stems)
    return test


@lru_cache(maxsize=4096)
def _regex(stems: tuple[str, ...], truncated: bool) -> re.Pattern[str]:
    def one(stem: str) -> str:
        body = "".join("[^\\W_]" if char == "?" else "[^\\W_]?" if char == "#"
                       else re.escape(char) for char in stem)
        return body + ("[^\\W_]*" if truncated else "")
    return re.compile("|".join(one(stem) for stem in stems))
