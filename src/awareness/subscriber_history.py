"""A subscriber's history (pure): what each change to them is called, how it reads in a
line, and what the person themselves may see of it.

Every change to a subscriber is recorded, in the transaction that makes it, as a
``model.SubscriberEvent``: what happened (one of ``KINDS``), a short detail, and by whom —
a librarian's name, ``THEMSELVES`` (their sign-up, their preference page, the links in their
mail) or ``SERVICE`` (a hard bounce; topics withdrawn before they confirmed). A librarian
asked why someone stopped getting their digest reads the answer on their page.

Librarians' names are internal: what goes to the person (the export of their data) says
``A_LIBRARIAN`` instead, and a suspension reason stored before the history existed loses
the "(suspended by …)" it ended with then.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import datetime, timedelta, tzinfo

from awareness.dates import local_date
from awareness.digests.subscribers import Subscriber
from awareness.errors import AwarenessError
from awareness.model import SubscriberEvent

THEMSELVES = "themselves"
SERVICE = "the service"
A_LIBRARIAN = "a librarian"

ADDED = "added"  # by a librarian (or the demo), with what they get
CONFIRMED = "confirmed"  # their sign-up, with what they get
RESUBSCRIBED = "resubscribed"  # after unsubscribing or a suspension, with what they get
CHANGED = "changed"  # their topics, frequencies or bulletins: what changed, as it is now
PAUSED = "paused"  # until a date (their preference page)
RESUMED = "resumed"  # a suspension lifted or a pause ended
SUSPENDED = "suspended"  # with the reason
UNSUBSCRIBED = "unsubscribed"  # with how, when it was not their own choice on the page
KINDS = (ADDED, CONFIRMED, RESUBSCRIBED, CHANGED, PAUSED, RESUMED, SUSPENDED, UNSUBSCRIBED)
# Each kind as a librarian reads it, on their page and on the command line (JSON keeps the
# kinds themselves).
LABELS = {ADDED: "Added", CONFIRMED: "Confirmed their sign-up", RESUBSCRIBED: "Subscribed again",
          CHANGED: "Changed", PAUSED: "Paused", RESUMED: "Resumed", SUSPENDED: "Suspended",
          UNSUBSCRIBED: "Unsubscribed"}


def label(kind: str) -> str:
    """``kind`` as a librarian reads it: ``Confirmed their sign-up``."""
    return LABELS.get(kind, kind.capitalize())

NOTHING_LEFT = "nothing left to receive"
UNSUBSCRIBE_UNDONE = "unsubscribe undone"
# How long a librarian may undo an unsubscribe they made: a mistaken click is seen at once;
# later, adding them again tells the person (a welcome mail) instead of subscribing them
# silently to what they may have asked to stop.
UNDO_WITHIN = timedelta(days=1)
PAUSE_ENDED = "pause ended"
SUSPENSION_LIFTED = "suspension lifted"

# The names that say who acted when it was not a librarian: no librarian acts under them,
# or the history would say a person or the service did what a librarian did.
NOT_LIBRARIANS = frozenset({THEMSELVES, SERVICE, A_LIBRARIAN})
_SUSPENDED_BY = re.compile(r" \(suspended by [^()]*\)\Z")


def checked_librarian(name: str) -> str:
    """``name``, when a librarian may be recorded under it; an AwarenessError when the
    history uses it for someone else ("themselves", "the service")."""
    if name.strip().casefold() in NOT_LIBRARIANS:
        raise AwarenessError(f"{name.strip()!r} is how a subscriber's history names someone "
                             "who is not a librarian: act under your own name (--as NAME)")
    return name


def is_librarian(by: str) -> bool:
    """Was the change recorded as ``by`` made by a librarian?"""
    return by not in NOT_LIBRARIANS


def undo_until(latest: SubscriberEvent | None) -> datetime | None:
    """Until when a librarian may undo the unsubscribe that ``latest`` (their newest history
    line) records; None when it records none, or one that was not a librarian's: a person's
    own choice is theirs to undo, and the service's has a cause (a bounce, nothing left)."""
    if latest is None or latest.what != UNSUBSCRIBED or not is_librarian(latest.by):
        return None
    return latest.at + UNDO_WITHIN


def gets(subscriber: Subscriber) -> str:
    """What they get, in a line: ``topics: leadership, workforce; weekly; bulletins``."""
    parts = [_topics(subscriber.subscriptions)] if subscriber.subscriptions else []
    if subscriber.bulletins:
        parts.append("bulletins" if parts else "bulletins only")
    return "; ".join(parts) or "nothing"


def changes(before: Subscriber | None, after: Subscriber, *, now: datetime,
            tz: tzinfo) -> list[tuple[str, str]]:
    """What a change from ``before`` (None: they are new) to ``after`` records, as (kind,
    detail) pairs, none when nothing they get changed. Unsubscribing and suspending are not
    found here: they carry a reason their callers give."""
    if before is None:
        return [(ADDED, gets(after))]
    found: list[tuple[str, str]] = []
    if after.active and not before.active:
        found.append((RESUBSCRIBED, gets(after)))
    else:
        changed = what_changed(before, after)
        if changed:
            found.append((CHANGED, changed))
    if after.paused(now) and after.paused_until != before.paused_until:
        found.append((PAUSED, f"until {local_date(after.paused_until, tz)}"))
    elif before.paused(now) and not after.paused(now):
        found.append((RESUMED, PAUSE_ENDED))
    return found


def what_changed(before: Subscriber, after: Subscriber) -> str:
    """The part of what they get that changed, as it is now: ``topics: leadership; daily``,
    ``no topics``, ``bulletins on`` or ``bulletins off``, joined by "; "; "" for none."""
    parts = []
    if sorted(before.subscriptions) != sorted(after.subscriptions):
        parts.append(_topics(after.subscriptions) if after.subscriptions else "no topics")
    if before.bulletins != after.bulletins:
        parts.append("bulletins on" if after.bulletins else "bulletins off")
    return "; ".join(parts)


def _topics(subscriptions: Iterable[tuple[str, str]]) -> str:
    """``topics: a, b; weekly`` when every topic comes as often, else each with its own
    frequency: ``topics: a (daily), b (weekly)``."""
    chosen = sorted(subscriptions)
    frequencies = {how for _, how in chosen}
    if len(frequencies) == 1:
        return f"topics: {', '.join(slug for slug, _ in chosen)}; {frequencies.pop()}"
    return "topics: " + ", ".join(f"{slug} ({how})" for slug, how in chosen)


def reason_for_them(reason: str | None) -> str | None:
    """A stored suspension reason as the person may read it: a reason stored before the
    history existed (migration 0020) ended "(suspended by NAME)"; that name is taken
    away. Since then the reason is stored as given and who decided is in the history."""
    return _SUSPENDED_BY.sub("", reason) if reason else reason


def for_them(event: SubscriberEvent) -> dict[str, object]:
    """One event as the export of their data gives it: a librarian is "a librarian"."""
    return {"at": event.at.isoformat(), "what": event.what, "detail": event.detail,
            "by": event.by if not is_librarian(event.by) else A_LIBRARIAN}
