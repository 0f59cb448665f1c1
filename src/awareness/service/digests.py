"""Digests: decide what each subscriber gets, write it to the outbox, then relay the outbox.

Two steps, so that nothing is lost or sent twice (RELIABILITY E1-E5):

1. *Enqueue*: for each subscriber and period, render the digest and write a ``deliveries``
   row (UNIQUE subscriber + period) together with the items it carries, in one transaction.
   A second run for the same period finds the row and does nothing.
2. *Relay*: send each pending row; mark it sent only after the server accepted it. A crash
   between the two leaves the row pending and it is sent on the next pass with the same
   Message-ID (at-least-once; a duplicate is recognisable by its Message-ID).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from typing import Literal, cast

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from awareness.digests.build import Digest, DigestDriver, DigestEntry, build_digest, period_key
from awareness.digests.mail import RecipientRefused
from awareness.digests.render import (
    MAIL_POLICY,
    MailIdentity,
    make_environment,
    mask_address,
    message_id_for,
    render_digest,
)
from awareness.errors import MailError
from awareness.service.context import Context
from awareness.storage.db import transaction
from awareness.storage.models import (
    Delivery,
    DeliveryItem,
    Item,
    Match,
    MatchDriver,
    Review,
    Subscriber,
)
from awareness.topics.explain import hits_from_dicts

log = logging.getLogger(__name__)

SENDABLE = ("approved", "auto")
LOOKBACK = timedelta(days=30)  # a new subscriber gets at most a month of back catalogue
RETRY_DELAYS = (timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                timedelta(hours=6))
GIVE_UP_AFTER = timedelta(hours=48)
CIRCUIT_BREAKER = 3  # consecutive server failures that pause a relay pass (RELIABILITY E7)


@dataclass
class SendReport:
    """What a send run did; ``previews`` holds the digests a dry run would have sent."""

    queued: int = 0
    already_queued: int = 0
    nothing_to_send: int = 0
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    suspended: int = 0
    paused: bool = False
    previews: list[tuple[str, Digest]] = field(default_factory=list)


def identity(ctx: Context) -> MailIdentity:
    s = ctx.settings
    return MailIdentity(from_addr=s.mail.from_addr, from_name=s.mail.from_name,
                        list_id=f"<digests.{s.mail.domain}>", domain=s.mail.domain,
                        base_url=s.base_url)


def send_digests(ctx: Context, *, frequency: str | None = None,
                 dry_run: bool = False) -> SendReport:
    """Enqueue this period's digests, then relay everything pending (nothing, on a dry run)."""
    report = SendReport()
    enqueue(ctx, report, frequency=frequency, dry_run=dry_run)
    if not dry_run:
        relay(ctx, report)
    return report


def enqueue(ctx: Context, report: SendReport, *, frequency: str | None,
            dry_run: bool) -> None:
    now = ctx.now()
    env = make_environment(ctx.templates_dir)
    with ctx.sessions() as session:
        query = select(Subscriber).options(selectinload(Subscriber.subscriptions)).where(
            Subscriber.unsubscribed_at.is_(None))
        if frequency:
            query = query.where(Subscriber.frequency == frequency)
        subscribers = list(session.scalars(query))
    for subscriber in subscribers:
        frequency_of = cast(Literal["daily", "weekly"], subscriber.frequency)
        key = period_key(frequency_of, now, ctx.settings.timezone)
        with ctx.sessions() as session:
            if _has_delivery(session, subscriber.id, key):
                report.already_queued += 1
                continue
            entries, item_matches = _entries_for(ctx, session, subscriber, now)
        digest = build_digest(subscriber_id=subscriber.id, frequency=subscriber.frequency,
                              period_key=key, entries=entries)
        if digest is None:
            report.nothing_to_send += 1
            continue
        if dry_run:
            report.previews.append((subscriber.email, digest))
            continue
        message_id = message_id_for(key, subscriber.id, ctx.settings.mail.domain)
        message = render_digest(
            digest, env=env, identity=identity(ctx), to_addr=subscriber.email,
            unsubscribe_url=f"{identity(ctx).base_url}/unsubscribe/{subscriber.token}",
            message_id=message_id, now=now, tz=ctx.settings.timezone,
            subscribed_topics=_topic_names(ctx, subscriber))
        if _write_outbox(ctx, subscriber.id, key, message_id, message.as_bytes(policy=MAIL_POLICY),
                         item_matches, now):
            report.queued += 1
        else:
            report.already_queued += 1


def _topic_names(ctx: Context, subscriber: Subscriber) -> tuple[str, ...]:
    names = {t.slug: t.name for t in ctx.topics()}
    return tuple(sorted(names[s.topic_slug] for s in subscriber.subscriptions
                        if s.topic_slug in names))


def _has_delivery(session: Session, subscriber_id: int, key: str) -> bool:
    found = select(Delivery.id).where(Delivery.subscriber_id == subscriber_id,
                                      Delivery.period_key == key)
    return session.scalar(found) is not None


def _entries_for(ctx: Context, session: Session, subscriber: Subscriber,
                 now: datetime) -> tuple[list[DigestEntry], dict[int, int]]:
    """The subscriber's sendable matches not yet sent to them, and item id → match id."""
    topics = {t.slug: t for t in ctx.topics()}
    slugs = [s.topic_slug for s in subscriber.subscriptions if s.topic_slug in topics]
    # A story (the same document from several publishers) is sent once: once any of its
    # items reached the subscriber, the other publishers' copies are not sent later either.
    story = func.coalesce(Item.story_id, Item.id)
    delivered = (select(story).join(DeliveryItem, DeliveryItem.item_id == Item.id)
                 .where(DeliveryItem.subscriber_id == subscriber.id))
    since = min(subscriber.created_at, now) - LOOKBACK
    matches = list(session.scalars(
        select(Match).join(Item)
        .options(selectinload(Match.item).selectinload(Item.source),
                 selectinload(Match.driver_links).selectinload(MatchDriver.driver))
        .where(Match.topic_slug.in_(slugs), Match.status.in_(SENDABLE),
               story.not_in(delivered), Item.first_seen_at >= since)
    ))
    base_url = identity(ctx).base_url
    notes = _review_notes(session, [m.id for m in matches])
    entries: list[DigestEntry] = []
    item_matches: dict[int, int] = {}
    for match in matches:
        item = match.item
        item_matches.setdefault(item.id, match.id)
        entries.append(DigestEntry(
            match_id=match.id, topic_slug=match.topic_slug,
            topic_name=topics[match.topic_slug].name, title=item.title, link=item.link,
            publisher=item.source.publisher, published=item.published_at,
            summary=item.summary_text, score=match.score, note=notes.get(match.id, ""),
            story=str(item.story_id or item.id), hits=hits_from_dicts(match.hits or []),
            drivers=tuple(DigestDriver(title=d.driver.title, impact=d.driver.impact,
                                       url=f"{base_url}/drivers/{d.driver.slug}",
                                       suggested=d.kind != "same_document")
                          for d in match.driver_links)))
    return entries, item_matches


def _review_notes(session: Session, match_ids: list[int]) -> dict[int, str]:
    """The latest non-empty review note per match."""
    rows = session.execute(
        select(Review.match_id, Review.note).where(Review.match_id.in_(match_ids),
                                                   Review.note != "").order_by(Review.id))
    return {match_id: note for match_id, note in rows}


def _write_outbox(ctx: Context, subscriber_id: int, key: str, message_id: str, message: bytes,
                  item_matches: dict[int, int], now: datetime) -> bool:
    """Write the delivery and its items in one transaction; False if another run won."""
    try:
        with transaction(ctx.sessions) as session:
            delivery = Delivery(subscriber_id=subscriber_id, period_key=key, status="pending",
                                message_id=message_id, message=message, created_at=now,
                                attempts=0)
            session.add(delivery)
            session.flush()
            session.add_all(DeliveryItem(delivery_id=delivery.id, subscriber_id=subscriber_id,
                                         item_id=item_id, match_id=match_id)
                            for item_id, match_id in item_matches.items())
    except IntegrityError:
        log.info("digest %s for subscriber %s already queued by another run", key, subscriber_id)
        return False
    return True


def relay(ctx: Context, report: SendReport) -> None:
    """Send every pending delivery that is due; mark each sent only once accepted."""
    now = ctx.now()
    with ctx.sessions() as session:
        pending = list(session.scalars(
            select(Delivery.id).where(Delivery.status == "pending").order_by(Delivery.id)))
    interval = 1.0 / max(ctx.settings.mail.send_rate, 0.001)
    server_failures = 0
    for delivery_id in pending:
        if server_failures >= CIRCUIT_BREAKER:
            # The server itself is failing (down, refusing us): stop this pass rather than
            # time out once per pending digest; they all stay pending for the next pass.
            log.warning("mail server failed %d times in a row; relay paused until the next "
                        "pass", server_failures)
            report.paused = True
            break
        with transaction(ctx.sessions) as session:
            # Row lock on PostgreSQL so two relays never send one row; SQLite serialises writers.
            delivery = session.scalar(select(Delivery).where(
                Delivery.id == delivery_id, Delivery.status == "pending")
                .with_for_update(skip_locked=True))
            if delivery is None:
                continue
            if delivery.next_attempt_at and delivery.next_attempt_at > now:
                continue
            message = cast(EmailMessage,
                           message_from_bytes(delivery.message, policy=MAIL_POLICY))
            try:
                ctx.mailer.send(message)
            except MailError as exc:
                _record_mail_failure(session, delivery, exc, now, report)
                is_server_fault = exc.temporary and not isinstance(exc, RecipientRefused)
                server_failures = server_failures + 1 if is_server_fault else 0
                continue
            server_failures = 0
            log.info("digest %s sent to subscriber %s", delivery.period_key,
                     delivery.subscriber_id)
            delivery.status, delivery.sent_at = "sent", now
            delivery.attempts += 1
            delivery.last_error = None
            report.sent += 1
        time.sleep(interval)


def _record_mail_failure(session: Session, delivery: Delivery, error: MailError,
                         now: datetime, report: SendReport) -> None:
    delivery.attempts += 1
    delivery.last_error = str(error)
    if error.temporary and now - delivery.created_at < GIVE_UP_AFTER:
        delay = RETRY_DELAYS[min(delivery.attempts - 1, len(RETRY_DELAYS) - 1)]
        delivery.next_attempt_at = now + delay
        report.retrying += 1
    else:
        delivery.status = "failed"
        report.failed += 1
        if isinstance(error, RecipientRefused):
            # A hard bounce: stop mailing the address (listmonk suspends at one) and say why.
            subscriber = session.get_one(Subscriber, delivery.subscriber_id)
            subscriber.unsubscribed_at = subscriber.unsubscribed_at or now
            subscriber.suspended_reason = f"hard bounce: {error}"[:500]
            report.suspended += 1
    log.warning("digest %s to subscriber %s not sent: %s", delivery.period_key,
                delivery.subscriber_id, error)


__all__ = ["SendReport", "mask_address", "send_digests"]
