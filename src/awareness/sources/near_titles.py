"""Near-identical titles found through an index of their bigrams, not a scan (pure).

Stories compare a new item's title with thousands of recent ones (docs/item-identity.md).
Scanning them cost 11 ms of CPU per new item (issue 11, docs/performance.md): every title of
a similar length had its bigrams intersected with the new one's.

Two keys within ``TITLE_SIMILARITY`` share at least ``least_shared(total)`` bigrams,
counted with repetition (``identity.least_shared`` proves it); call k the least of these
over the lengths a near-identical key may have (the shortest needs the fewest). So a
near-identical key lacks at most ``n - k`` of the new key's n bigrams, and among any
``n - k + r`` of them (r ≤ k) it holds at least r: holding fewer, it would lack more than
``n - k``. Keys are looked up by the new key's ``n - k + r`` rarest bigrams: those holding
at least r of them are candidates, and a candidate is kept only if its length is allowed
and its full count passes the bound for the pair's own total. Nothing within
``TITLE_SIMILARITY`` is missed, and nothing is returned that the scan's bound
(``could_be_similar``) rejects.

Why r and not just 1: English titles share their common bigrams. Among 5,000 titles of
the benchmark's vocabulary, 3,000 to 3,600 held one of a new title's ``n - k + 1`` rarest
bigrams; at least ``_HITS`` of its ``n - k + _HITS`` rarest, 1 to 3 (median; mean 3 to 7).

Compactly and quickly: each key has a slot, and each bigram (with its occurrence number,
``identity.bigrams``) an integer whose bit s says whether the key in slot s holds it, so
counting how many of the chosen bigrams each key holds is a few dozen operations on
integers of a few thousand bits (``at_least``, a binary counter for all keys at once). Each
key keeps a tuple of its bigrams, the strings shared: 5,000 keys take about 5 MiB, where
5,000 sets of bigrams would take 40.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

from awareness.sources.identity import MIN_FUZZY_TITLE, bigrams, could_be_near, least_shared

T = TypeVar("T")

# How many of the rarest bigrams a candidate must hold (r above): more cost more counting
# and leave fewer candidates to compare. Looking up 2,000 titles among 5,000 of the
# benchmark's, 16 cost least (per lookup 97 µs with 12, 74 with 16, 80 with 24).
_HITS = 16
_NOBODY = [0, 0]  # the count and bits of a bigram no key holds (never stored)


@dataclass(frozen=True, slots=True)
class _Entry(Generic[T]):
    handle: int
    length: int
    grams: tuple[str, ...]
    value: T


class NearTitles(Generic[T]):
    """Title keys of ``MIN_FUZZY_TITLE`` characters or more, each with a value, looked up by
    the keys that can be near-identical to a given one. A handle names each key, to remove
    it again."""

    def __init__(self) -> None:
        # Bigram → [how often added since a key last held it, the bits of the slots holding
        # it]. The count says which are rare; removals leave it be, as any order of the
        # bigrams gives the same answer, the rarest first only fewer candidates.
        self._holders: dict[str, list[int]] = {}
        # A new key takes the next slot, never a freed one, so the higher the slot the more
        # recently added: a lookup goes from the top bit down and stops when it has enough.
        # The index lives for one poll run, so the slots are bounded by what the run adds.
        self._slots: list[_Entry[T] | None] = []
        self._slot_of: dict[int, int] = {}  # handle → slot

    def __len__(self) -> int:
        return len(self._slot_of)

    def add(self, handle: int, key: str, value: T) -> None:
        """Index ``key`` (at least ``MIN_FUZZY_TITLE`` characters) under a new ``handle``."""
        if handle in self._slot_of:
            raise ValueError(f"handle {handle} is already in use")
        if len(key) < MIN_FUZZY_TITLE:
            raise ValueError(f"a key of {len(key)} characters is never compared")
        slot = len(self._slots)
        self._slots.append(None)
        bit, holders = 1 << slot, self._holders
        grams = _bigrams(key)
        for gram in grams:
            held = holders.get(gram)
            if held is None:
                holders[gram] = [1, bit]
            else:
                held[0] += 1
                held[1] |= bit
        self._slots[slot] = _Entry(handle, len(key), grams, value)
        self._slot_of[handle] = slot

    def remove(self, handle: int) -> None:
        """Forget the key under ``handle``."""
        slot = self._slot_of.pop(handle)
        entry = self._slots[slot]
        assert entry is not None
        self._slots[slot] = None
        bit, holders = 1 << slot, self._holders
        for gram in entry.grams:
            held = holders[gram]
            held[1] ^= bit  # it is set: clearing it is flipping it
            if not held[1]:
                del holders[gram]

    def near(self, key: str, *, keep: Callable[[T], bool] | None = None,
             limit: int | None = None) -> list[T]:
        """The values of the keys that can be near-identical to ``key``: a length
        ``could_be_near`` allows and as many shared bigrams as ``could_be_similar`` asks
        (so every key within ``TITLE_SIMILARITY``, and some that difflib then rejects),
        the most recently added first. With ``limit``, at most that many
        of those ``keep`` accepts (all, without ``keep``): the rest are never compared."""
        if len(key) < MIN_FUZZY_TITLE or not self._slot_of:
            return []
        shortest, longest = allowed_lengths(len(key))
        grams = _bigrams(key)
        # least_shared grows with the total, so the shortest allowed length needs the fewest.
        need = least_shared(len(key) + shortest)
        slots = self._slots
        found: list[T] = []
        mine = frozenset(grams)
        for slot in _slots_from_the_top(self._candidates(grams, need)):
            entry = slots[slot]
            if (entry is not None and shortest <= entry.length <= longest
                    and len(mine.intersection(entry.grams))
                    >= least_shared(len(key) + entry.length)
                    and (keep is None or keep(entry.value))):
                found.append(entry.value)
                if limit is not None and len(found) >= limit:
                    break
        return found

    def _candidates(self, mine: tuple[str, ...], need: int) -> int:
        """The slots, as bits, of the keys holding at least ``hits`` of the ``len(mine) -
        need + hits`` rarest of ``mine`` (every slot, when ``need`` is 0)."""
        if need < 1:  # never for keys of MIN_FUZZY_TITLE, but then any key may be near
            return (1 << len(self._slots)) - 1
        lacking = len(mine) - need  # the most a near-identical key may lack
        if lacking < 0:
            return 0  # no key shares more bigrams than ``key`` has
        hits = min(_HITS, need)
        held = [self._holders.get(gram, _NOBODY) for gram in mine]
        held.sort()  # by how often added (then by the bits: any order would do)
        return at_least(hits, [bits for _, bits in held[:lacking + hits]])


def at_least(times: int, sets: list[int]) -> int:
    """The bits set in at least ``times`` of ``sets`` (``times`` > 0).

    Counted for all bits at once, in binary: ``planes[i]`` holds bit i of each count, and
    adding a set is a ripple-carry addition (most carries die within a plane or two). Then
    the counts are compared with ``times`` from the highest bit down."""
    planes: list[int] = []
    for carry in sets:
        for plane, bits in enumerate(planes):
            if not carry:
                break
            planes[plane], carry = bits ^ carry, bits & carry
        else:
            if carry:
                planes.append(carry)
    if times >> len(planes):
        return 0  # more than any count can be
    # From the highest bit down: ``above``, the counts already known to exceed ``times``;
    # ``equal``, those equal to it so far (at first every count of at least 1, which
    # ``times`` is). Positive integers only: Python's bit operations on negative ones are
    # slower.
    above, equal = 0, 0
    for bits in planes:
        equal |= bits
    for plane in range(len(planes) - 1, -1, -1):
        bits = planes[plane]
        if times >> plane & 1:
            equal &= bits
        else:
            above |= equal & bits
            equal ^= equal & bits
    return above | equal


@lru_cache(maxsize=512)
def _bigrams(key: str) -> tuple[str, ...]:
    """``bigrams(key)``, each string shared with every other key holding it. Remembered for
    a while: a poll looks up its new items' keys, and the next poll adds the same keys."""
    return tuple(sys.intern(gram) for gram in bigrams(key))


def _slots_from_the_top(bits: int) -> Iterator[int]:
    """The positions of the set bits of ``bits``, highest first."""
    while bits:
        top = bits.bit_length() - 1
        yield top
        bits ^= 1 << top


@lru_cache(maxsize=1_024)
def allowed_lengths(length: int) -> tuple[int, int]:
    """The shortest and longest key that can be near-identical to one of ``length``
    characters (at least ``MIN_FUZZY_TITLE``): ``could_be_near`` allows every length between
    them and none outside."""
    shortest = longest = length
    while could_be_near(length, shortest - 1):
        shortest -= 1
    while could_be_near(length, longest + 1):
        longest += 1
    return shortest, longest
