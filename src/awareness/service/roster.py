"""The librarians' work on subscribers (issue 12): list and search them, add someone on their
behalf (with the welcome mail), change their topics, suspend, resume, unsubscribe, export,
erase. Used by the subscriber pages (``web/subscribers.py``) and the CLI; what is shown is
decided in ``awareness.roster`` (pure).

``people.add_subscriber`` stays as it was (no mail) for the demo and the tests that build a
deployment; a librarian adding a person goes through ``add`` here, which tells them.
"""

from __future__ import annotations

import logging
import secrets
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import Connection

from awareness.addresses import address_problem
from awareness.digests.subscribers import Subscriber
from awareness.errors import AwarenessError, NotFound
from awareness.mail.outbox import DIGEST, Stored
from awareness.model import SubscriberEvent
from awareness.roster import (
    PAGE_SIZE,
    STATUSES,
    Entry,
    Page,
    Search,
    page_of,
    status_of,
    subscriber_entry,
    waiting,
    window,
)
from awareness.service import people, subscribing
from awareness.service.context import Context
from awareness.signup import FREQUENCIES, Choice, Refused
from awareness.storage import outbox, signups, subscribers
from awareness.storage.db import reading, writing
from awareness.subscriber_history import (
    PAUSE_ENDED,
    RESUBSCRIBED,
    RESUMED,
    SUSPENDED,
    SUSPENSION_LIFTED,
    UNSUBSCRIBE_UNDONE,
    checked_librarian,
    gets,
    undo_until,
)

log = logging.getLogger(__name__)
MAX_REASON = 500
HISTORY_SHOWN = 50  # lines of history on their page; the command line lists every one

Nudge = Callable[[], None]


@dataclass(frozen=True)
class Detail:
    """One subscriber's page: the entry as the list shows it, their messages, and their
    history, newest first (the latest ``HISTORY_SHOWN`` lines; ``more_history`` when there
    are older ones)."""

    entry: Entry
    messages: list[Stored]
    history: list[SubscriberEvent]
    more_history: bool = False
    undo_until: datetime | None = None  # a librarian may undo their unsubscribe until then


def titles(ctx: Context) -> dict[str, str]:
    """Every topic's title by slug, in the order the topic files give."""
    return {topic.slug: topic.name for topic in ctx.topics()}


def find(ctx: Context, search: Search, size: int = PAGE_SIZE) -> Page:
    """The page of the list ``search`` asks for: pending sign-ups first, then subscribers,
    each by address; ``size`` entries a page."""
    now = ctx.now()
    with reading(ctx.engine) as connection:
        pending = waiting(signups.waiting(connection, now, search.text), search.topic)
        counts = subscribers.status_counts(connection, now, text=search.text,
                                           topic=search.topic)
        listed = len(pending) if search.status in ("", "pending") else 0
        rows = window((search.page - 1) * size, size, listed)
        shown = subscribers.found(
            connection, now, text=search.text, topic=search.topic, status=search.status,
            offset=rows.second_offset, limit=rows.second_limit) if rows.second_limit else []
        sent = outbox.last_sent(connection, DIGEST, [s.id for s in shown])
    return page_of(search, pending=pending, counts=counts, subscribers=shown,
                   last_digests=sent, now=now, titles=titles(ctx),
                   bulletins_sent=subscribing.bulletins_sent(ctx), size=size)


def everyone(ctx: Context, status: str = "") -> list[Entry]:
    """Every pending sign-up and subscriber (of ``status``, when given), unpaged."""
    if status and status not in STATUSES:
        raise AwarenessError(f"unknown status {status!r}: use one of {', '.join(STATUSES)}")
    return find(ctx, Search(status=status), size=sys.maxsize).entries


def detail(ctx: Context, subscriber_id: int) -> Detail:
    """One subscriber as their page shows them; NotFound when there is none."""
    now = ctx.now()
    with reading(ctx.engine) as connection:
        found = people.stored(connection, subscriber_id)
        sent = outbox.last_sent(connection, DIGEST, [found.id])
        messages = outbox.about(connection, found.id, found.email)
        events = subscribers.events(connection, found.id, HISTORY_SHOWN + 1)
        describe = ctx.describer(connection, [(m.kind, m.key) for m in messages])
    until = undo_until(events[0] if events else None)
    bulletins_sent = subscribing.bulletins_sent(ctx)
    return Detail(subscriber_entry(found, now, titles(ctx), sent.get(found.id),
                                   bulletins_sent=bulletins_sent),
                  [replace(m, description=describe(m.kind, m.key)) for m in reversed(messages)],
                  events[:HISTORY_SHOWN],
                  len(events) > HISTORY_SHOWN,
                  until if until is not None and now < until
                  and not found.has_nothing(bulletins_sent=bulletins_sent) else None)


def add(ctx: Context, email: str, choices: Sequence[Choice], nudge: Nudge | None = None, *,
        bulletins: bool = False, librarian: str) -> tuple[Subscriber, bool]:
    """Subscribe someone on their behalf: confirmed at once (a librarian vouches for them)
    and told by the welcome mail, which carries their preference link. Adding topics to
    someone subscribed already merges them, and ``bulletins`` turns their bulletins on (never
    off); someone unsubscribed starts afresh. No topic with ``bulletins`` is the bulletins
    alone (while a bulletin goes to subscribers). Adding what they have already changes
    nothing and sends no second welcome (nor a line in their history). Returns them, and
    whether a welcome mail was queued."""
    checked_librarian(librarian)
    address = _checked_address(email)
    _check_choices(ctx, choices, bulletins)
    with writing(ctx.engine) as connection:
        before = subscribers.by_email(connection, address)
        found = subscribers.subscribe(
            connection, email=address, choices=[(c.topic, c.frequency) for c in choices],
            token=secrets.token_urlsafe(32), now=ctx.now(), bulletins=bulletins)
        people.record_changes(connection, ctx, before, found, by=librarian)
        welcomed = subscribing.is_news(before, found)
        if welcomed:
            outbox.queue(connection, subscribing.welcome_mail(ctx, found), ctx.now())
    if nudge and welcomed:
        nudge()
    return found, welcomed


def set_topics(ctx: Context, email: str, choices: Sequence[Choice],
               bulletins: bool | None = None, *, librarian: str) -> Subscriber:
    """Their topics become exactly ``choices`` (the ones not named are dropped), and their
    bulletins ``bulletins`` (None: as they were); no topic is allowed when they keep the
    bulletins. Their status is unchanged: an unsubscribed person stays unsubscribed. Their
    history records what changed, by ``librarian``."""
    checked_librarian(librarian)
    with writing(ctx.engine) as connection:
        found = _by_email(connection, email)
        keep = found.bulletins if bulletins is None else bulletins
        _check_choices(ctx, choices, keep)
        subscribers.set_topics(connection, found.id, [(c.topic, c.frequency) for c in choices])
        if keep != found.bulletins:
            subscribers.set_bulletins(connection, found.id, keep)
        changed = people.stored(connection, found.id)
        people.record_changes(connection, ctx, found, changed, by=librarian)
    return changed


def suspend(ctx: Context, subscriber_id: int, reason: str, librarian: str) -> Subscriber:
    """Stop their digests because of their address (it bounces, they left the trust),
    saying why; who decided is in their history."""
    checked_librarian(librarian)
    reason = " ".join(reason.split())[:MAX_REASON]
    if not reason:
        raise AwarenessError("Say why they are suspended (for example: the address bounces).")
    with writing(ctx.engine) as connection:
        found = people.stored(connection, subscriber_id)
        if subscribers.suspend(connection, found.id, reason, ctx.now()):
            subscribers.record_event(connection, found.id, SUSPENDED, reason, by=librarian,
                                     now=ctx.now())
    log.info("librarian %s suspended subscriber %d", librarian, subscriber_id)
    return found


def resume(ctx: Context, subscriber_id: int, librarian: str) -> Subscriber:
    """Send a suspended or paused subscriber's digests again, to the topics they had.
    Refused for someone who unsubscribed: only they (or adding them again, which tells them)
    may undo that."""
    checked_librarian(librarian)
    with writing(ctx.engine) as connection:
        found = people.stored(connection, subscriber_id)
        status = status_of(found, ctx.now())
        if status == "unsubscribed":
            raise AwarenessError("They are unsubscribed. Add them again to subscribe them on "
                                 "their behalf: they will get a welcome mail.")
        if status not in ("suspended", "paused"):
            raise AwarenessError(f"They are {status}: there is nothing to resume.")
        subscribers.resume(connection, found.id)
        subscribers.record_event(
            connection, found.id, RESUMED,
            SUSPENSION_LIFTED if status == "suspended" else PAUSE_ENDED, by=librarian,
            now=ctx.now())
    log.info("librarian %s resumed subscriber %d", librarian, subscriber_id)
    return found


def remove(ctx: Context, subscriber_id: int, librarian: str) -> Subscriber:
    """Unsubscribe them from every digest (what they were sent is kept)."""
    checked_librarian(librarian)
    with writing(ctx.engine) as connection:
        found = people.stored(connection, subscriber_id)
        subscribing.end(connection, found.id, ctx.now(), by=librarian)
    log.info("librarian %s unsubscribed subscriber %d", librarian, subscriber_id)
    return found


def undo_remove(ctx: Context, subscriber_id: int, librarian: str) -> Subscriber:
    """Undo a librarian's unsubscribe of them, made by mistake, within ``UNDO_WITHIN``: they
    get what they got before, without a mail. Refused for a person's own unsubscribe and
    once the time is past: adding them again then tells them."""
    checked_librarian(librarian)
    now = ctx.now()
    bulletins_sent = subscribing.bulletins_sent(ctx)
    with writing(ctx.engine) as connection:
        found = people.stored(connection, subscriber_id)
        latest = subscribers.events(connection, found.id, 1)
        until = undo_until(latest[0] if latest else None)
        if status_of(found, now) != "unsubscribed":
            raise AwarenessError(f"They are {status_of(found, now)}: there is no unsubscribe "
                                 "to undo.")
        why = ("only a librarian's unsubscribe can be undone" if until is None
               else "it was more than a day ago" if now >= until
               else "they have nothing left to get"
               if found.has_nothing(bulletins_sent=bulletins_sent) else "")
        if why:
            raise AwarenessError(f"The unsubscribe stays: {why}. Add them again to subscribe "
                                 "them on their behalf: they will get a welcome mail.")
        subscribers.undo_unsubscribe(connection, found.id)
        subscribers.record_event(connection, found.id, RESUBSCRIBED,
                                 f"{gets(found)} ({UNSUBSCRIBE_UNDONE})", by=librarian, now=now)
    log.info("librarian %s undid the unsubscribe of subscriber %d", librarian, subscriber_id)
    return found


def export(ctx: Context, subscriber_id: int) -> dict[str, object]:
    """Everything stored about them (``people.export_subscriber``)."""
    return people.export_subscriber(ctx, subscriber(ctx, subscriber_id).email)


def erase(ctx: Context, subscriber_id: int, librarian: str) -> tuple[Subscriber, int]:
    """Delete them, their history and every message about them
    (``people.erase_subscriber``). Returns them, and how many messages went."""
    checked_librarian(librarian)
    found = subscriber(ctx, subscriber_id)
    erased = people.erase_subscriber(ctx, found.email)
    log.info("librarian %s erased subscriber %d", librarian, subscriber_id)
    return found, erased


def history(ctx: Context, email: str) -> list[SubscriberEvent]:
    """The whole history of the subscriber with this address, newest first; NotFound when
    there is none."""
    with reading(ctx.engine) as connection:
        return subscribers.events(connection, _by_email(connection, email).id)


def subscriber(ctx: Context, subscriber_id: int) -> Subscriber:
    """The subscriber with this id; NotFound when there is none."""
    with reading(ctx.engine) as connection:
        return people.stored(connection, subscriber_id)


def _by_email(connection: Connection, email: str) -> Subscriber:
    found = subscribers.by_email(connection, email)
    if found is None:
        raise NotFound(f"no subscriber {email.strip().lower()}: add them with "
                       "`awareness subscribers add`")
    return found


def _checked_address(email: str) -> str:
    address = email.strip().lower()
    problem = address_problem(address)
    if problem:
        raise AwarenessError(f"{address!r} is not an e-mail address: {problem}")
    return address


def _check_choices(ctx: Context, choices: Sequence[Choice], bulletins: bool) -> None:
    try:
        subscribing.checked(ctx, choices, bulletins)
    except Refused as nothing:
        raise AwarenessError(str(nothing)) from None
    for choice in choices:
        ctx.topic(choice.topic)  # raises with the list of known topics
        if choice.frequency not in FREQUENCIES:
            raise AwarenessError(f"frequency must be {' or '.join(FREQUENCIES)}, "
                                 f"not {choice.frequency!r}")
