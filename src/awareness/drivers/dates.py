"""Free-text dates as the MAP-toolkit pages write them (pure).

"June 2019", "31st March 2017", "Oct/Nov 2016", "April 2012 onwards": ``parse_free_date`` reads
the date a field names; ``is_period`` tells a bare period line of a case study.
"""

from __future__ import annotations

import re
from datetime import date

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


def a_year_after(day: date) -> date:
    """The same day a year later (28 February after a 29th)."""
    try:
        return day.replace(year=day.year + 1)
    except ValueError:
        return day.replace(year=day.year + 1, day=28)


def _month_number(names: str | None) -> int:
    if not names:
        return 1
    last = re.findall(rf"(?i){_MONTH}", names)[-1].lower()
    months = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
    return months.index(last[:3]) + 1


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
