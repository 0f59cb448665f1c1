"""Staff subscribers (their SQL is in ``storage.subscribers``; librarian accounts are in
``service.librarians``)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Connection

from awareness.addresses import address_problem
from awareness.catalogue import bulletin_offers
from awareness.digests.subscribers import Subscriber, SubscriberView, view_of
from awareness.errors import AwarenessError, NotFound
from awareness.mail.outbox import DIGEST, Stored
from awareness.roster import subscriber_entry
from awareness.service.context import Context
from awareness.signup import PendingSignup
from awareness.storage import clicks, feedback, outbox, signups, subscribers
from awareness.storage.db import reading, writing
from awareness.subscriber_history import SERVICE, changes, for_them, reason_for_them


def add_subscriber(ctx: Context, email: str, topics: list[str], frequency: str, *,
                   bulletins: bool | None = None) -> SubscriberView:
    """Subscribe an address to topics without telling them (the demo's reader); adding topics
    to an existing subscriber merges them. Their history says the service did it. A
    librarian's ``subscribers add`` and the web page use ``roster.add``, which queues the
    welcome mail and records the librarian."""
    email = email.strip()
    problem = address_problem(email)
    if problem:
        raise AwarenessError(f"{email!r} is not an e-mail address: {problem}")
    if frequency not in ("daily", "weekly"):
        raise AwarenessError("frequency must be daily or weekly")
    if not topics:
        raise AwarenessError("name at least one topic with --topic")
    for slug in topics:
        ctx.topic(slug)  # raises with the list of known topics
    with writing(ctx.engine) as connection:
        before = subscribers.by_email(connection, email)
        subscriber = subscribers.subscribe(
            connection, email=email, choices=[(slug, frequency) for slug in topics],
            token=secrets.token_urlsafe(32), now=ctx.now(), bulletins=bulletins)
        record_changes(connection, ctx, before, subscriber, by=SERVICE)
    return view_of(subscriber)


def record_changes(connection: Connection, ctx: Context, before: Subscriber | None,
                   after: Subscriber, *, by: str) -> None:
    """Record in their history what changed from ``before`` (None: they are new) to
    ``after`` (``subscriber_history.changes``), ``by`` whom, in the caller's transaction."""
    now = ctx.now()
    for what, detail in changes(before, after, now=now, tz=ctx.settings.timezone):
        subscribers.record_event(connection, after.id, what, detail, by=by, now=now)


def stored(connection: Connection, subscriber_id: int) -> Subscriber:
    """The subscriber with this id as stored now; NotFound when there is none."""
    found = subscribers.by_id(connection, subscriber_id)
    if found is None:
        raise NotFound(f"no subscriber {subscriber_id}")
    return found


def list_subscribers(ctx: Context) -> list[SubscriberView]:
    """Every subscriber, active or not, by address."""
    with reading(ctx.engine) as connection:
        return [view_of(s) for s in subscribers.every_subscriber(connection)]


def subscriber_for_token(ctx: Context, token: str) -> Subscriber | None:
    """The subscriber an unsubscribe link is for, or None."""
    with reading(ctx.engine) as connection:
        return subscribers.by_token(connection, token)


def export_subscriber(ctx: Context, email: str) -> dict[str, object]:
    """Everything stored about one subscriber (a subject access request, UK GDPR art. 15),
    for the person: what they get as the librarians' list says it (``roster.Entry``: each
    topic with its frequency, the bulletins, their status, a pause and until when), then
    their messages, answers, clicks, any sign-up waiting for confirmation and their
    history, which says "a librarian" where a librarian acted."""
    with reading(ctx.engine) as connection:
        subscriber = _subscriber(connection, email)
        last_digest = outbox.last_sent(connection, DIGEST, [subscriber.id]).get(subscriber.id)
        messages = outbox.about(connection, subscriber.id, subscriber.email)
        answers = feedback.of_reader(connection, subscriber.id)
        opened = clicks.of_reader(connection, subscriber.id)
        waiting = signups.of_address(connection, subscriber.email)
        history = subscribers.events(connection, subscriber.id)
        describe = ctx.describer(connection, [(m.kind, m.key) for m in messages])
    titles = {topic.slug: topic.name for topic in ctx.topics()}
    entry = subscriber_entry(subscriber, ctx.now(), titles, last_digest,
                             bulletins_sent=bool(bulletin_offers(ctx.bulletins())))
    return {
        **entry.as_json(),
        "suspended_reason": reason_for_them(subscriber.suspended_reason),
        "unsubscribed_at": _iso(subscriber.unsubscribed_at),
        "deliveries": _deliveries(describe, messages),
        "feedback": answers,
        "clicks": [click.as_json() for click in opened],
        "pending_signups": [_signup(pending) for pending in waiting],
        "history": [for_them(event) for event in history],  # no librarian's name
    }


def _deliveries(describe: Callable[[str, str], str],
                messages: list[Stored]) -> list[dict[str, object]]:
    return [{
        "kind": m.kind, "period": m.key.partition("/")[2] if m.kind == DIGEST else m.key,
        "description": describe(m.kind, m.key),
        "status": m.status, "message_id": m.message_id,
        "created_at": m.created_at.isoformat(), "sent_at": _iso(m.sent_at),
        "items": list(m.items),
    } for m in messages]


def _signup(pending: PendingSignup) -> dict[str, object]:
    return {"topics": [{"topic": c.topic, "frequency": c.frequency} for c in pending.choices],
            "bulletins": pending.bulletins, "created_at": pending.created_at.isoformat(),
            "expires_at": pending.expires_at.isoformat()}


def erase_subscriber(ctx: Context, email: str) -> int:
    """Delete a subscriber and every row about them: their messages of any kind (and any
    addressed to them), the items their digests carried, their feedback, their clicks, any
    sign-up of the address waiting for confirmation, their topics.

    Their history goes with them. Returns the number of outbox messages deleted. Unlike
    unsubscribing (``subscribing.end``) nothing is kept, so a later digest could repeat
    items they already had if they subscribe again.
    """
    with writing(ctx.engine) as connection:
        subscriber = _subscriber(connection, email)
        erased = outbox.erase_for(connection, subscriber.id, subscriber.email)
        feedback.erase_for(connection, subscriber.id)
        clicks.erase_for(connection, subscriber.id)
        signups.erase_for(connection, subscriber.email)
        subscribers.erase(connection, subscriber.id)
    return erased


def subscriber(ctx: Context, email: str) -> Subscriber:
    """The subscriber with this address; NotFound when there is none."""
    with reading(ctx.engine) as connection:
        return _subscriber(connection, email)


def _subscriber(connection: Connection, email: str) -> Subscriber:
    found = subscribers.by_email(connection, email)
    if found is None:  # said to the librarian who typed it, as roster's lookups say it
        raise NotFound(f"no subscriber {email.strip().lower()}: check the address "
                       "(`awareness subscribers list` shows every one)")
    return found


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
