"""Strategy precision: of the matches librarians decided, how many they approved (issue 17).
Pure: counts come in, figures go out.

Precision is approved ÷ decided (approved + rejected), per topic and per source, over the
last 30 and 90 days. A topic whose 30-day precision is below the threshold, with at least a
few decisions behind it (one rejection out of one says little), is flagged: its strategy
lets through more than the librarians want. The trend compares the 30 days with the 90:
a strategy edit shows first in the shorter window.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

WINDOWS = (30, 90)  # days
TREND_STEP = 0.05  # a change smaller than this is "steady"


@dataclass(frozen=True)
class Decisions:
    """How many matches were approved and rejected in a window."""

    approved: int = 0
    rejected: int = 0

    @property
    def decided(self) -> int:
        """Approved and rejected together."""
        return self.approved + self.rejected

    @property
    def precision(self) -> float | None:
        """approved ÷ decided; None when nothing was decided."""
        return self.approved / self.decided if self.decided else None


@dataclass(frozen=True)
class Precision:
    """One topic's or source's precision over 30 and 90 days, its trend, and whether it is
    flagged (below the threshold over 30 days)."""

    key: str
    name: str
    last_30: Decisions
    last_90: Decisions
    trend: str  # rising | falling | steady | "" (not enough to tell)
    flagged: bool

    def as_json(self) -> dict[str, object]:
        """The figures as a JSON object (precision as a fraction rounded to 3 places)."""
        return {"key": self.key, "name": self.name, "flagged": self.flagged,
                "trend": self.trend,
                **{f"{label}_{field}": value for label, decisions in
                   (("30d", self.last_30), ("90d", self.last_90))
                   for field, value in (("approved", decisions.approved),
                                        ("decided", decisions.decided),
                                        ("precision", _rounded(decisions.precision)))}}


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def trend(recent: Decisions, longer: Decisions) -> str:
    """Rising, falling or steady: the 30-day precision against the 90-day one; "" when
    either has no decisions."""
    if recent.precision is None or longer.precision is None:
        return ""
    change = recent.precision - longer.precision
    if abs(change) < TREND_STEP:
        return "steady"
    return "rising" if change > 0 else "falling"


def is_flagged(recent: Decisions, threshold: float, min_decisions: int) -> bool:
    """Is precision over the recent window below ``threshold``, on enough decisions?"""
    return (recent.precision is not None and recent.decided >= min_decisions
            and recent.precision < threshold)


def precision_table(keys: Iterable[tuple[str, str]], last_30: Mapping[str, Decisions],
                    last_90: Mapping[str, Decisions], *, threshold: float,
                    min_decisions: int) -> list[Precision]:
    """One ``Precision`` per (key, name) in ``keys``, in that order, and then per key that
    has decisions but was not named (a topic since deleted: its name is its key)."""
    named = dict(keys)
    for key in sorted({*last_30, *last_90} - set(named)):
        named[key] = key
    empty = Decisions()
    return [Precision(key, name, last_30.get(key, empty), last_90.get(key, empty),
                      trend(last_30.get(key, empty), last_90.get(key, empty)),
                      is_flagged(last_30.get(key, empty), threshold, min_decisions))
            for key, name in named.items()]


def percent(value: float | None) -> str:
    """A precision as people read it: ``67%``; an en dash when there is none."""
    return "–" if value is None else f"{round(value * 100)}%"
