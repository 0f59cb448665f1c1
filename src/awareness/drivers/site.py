"""Driver records on a MAP-toolkit site: which post is a record's own page, and what an
answer from that page means (pure; docs/driver-records.md, "A record gone from the site").

A ``drivers`` source reads one archive page of the site. A record that leaves that page has
not necessarily left the site: a tag or category archive shows its newest posts, and older
ones move to its next page. So leaving the listing only makes a record a candidate; it is
flagged "gone from the site" when its own page answers 404 or 410, and the flag is cleared
when the page answers again or the record is listed again. Any other answer (a 5xx, a
timeout, a 403 from a firewall) says nothing about the record, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Literal
from urllib.parse import urljoin

from awareness.drivers.html import heading_key
from awareness.model import DriverRecord

# The answers that mean the post is no longer on the site.
GONE_STATUSES = frozenset({404, 410})
# Records off the listing whose page is asked for in one poll, least recently asked first.
CHECKS_PER_POLL = 5
# How soon a record off the listing has its page asked for again.
RECHECK_AFTER = timedelta(hours=20)

Verdict = Literal["gone", "there", "unknown"]


def record_pages(records: Iterable[DriverRecord], links: Mapping[str, str],
                 page_url: str) -> dict[str, str]:
    """Each record's own page (slug → absolute address): the post whose heading is the
    record's title, resolved against ``page_url``; a heading without a link is the page
    itself (a single post). Records no heading names are left out: they are never checked."""
    pages = {}
    for record in records:
        href = links.get(heading_key(record.title))
        if href is None:
            continue
        address = urljoin(page_url, href) if href else page_url
        if address.startswith(("https://", "http://")):
            pages[record.slug] = address.split("#", 1)[0]
    return pages


def page_verdict(status: int | None) -> Verdict:
    """What the answer to a record's own page says: ``gone`` (404, 410), ``there`` (it
    answered with the page) or ``unknown`` (anything else: a transient error flags nothing).
    ``status`` is None when no server answered."""
    if status is None:
        return "unknown"
    if status in GONE_STATUSES:
        return "gone"
    return "there" if 200 <= status < 300 else "unknown"
