"""Digests: decide what each subscriber gets, queue it in the outbox, then relay the outbox.

Two steps, so that nothing is lost or sent twice (RELIABILITY E1-E5):

1. *Enqueue*: for each subscriber and period, read what they have not been sent (storage),
   build and render the digest (core), and write it to the outbox — unique on kind and
   ``<subscriber>/<period>`` — with the items it carries, in one short write transaction.
   A second run for the same period finds the row and does nothing.
2. *Relay* (``service.outbox``): send every due message of every kind; mark each sent only
   after the server accepted it.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta
from email.errors import MessageError
from typing import Literal, cast

import jinja2

from awareness.digests.build import (
    Candidate,
    Digest,
    build_digest,
    digest_entries,
    period_key,
)
from awareness.digests.render import (
    Library,
    MailIdentity,
    MergeCache,
    message_id_for,
    render_digest,
)
from awareness.digests.subscribers import Subscriber
from awareness.digests.view import view_url
from awareness.mail.compose import Mail
from awareness.mail.outbox import DIGEST, Queued, Unsent, digest_key
from awareness.progress import UNWATCHED, Steps
from awareness.service import clicks, feedback
from awareness.service.context import Context
from awareness.service.outbox import RelayReport, relay
from awareness.storage import outbox, subscribers
from awareness.storage.db import reading, writing

log = logging.getLogger(__name__)

LOOKBACK = timedelta(days=30)  # a new subscriber gets at most a month of back catalogue
BATCH = 25  # digests read, built and written together


@dataclass
class SendReport(RelayReport):
    """What a send run did: what it queued, then its relay pass (the fields of
    ``RelayReport``); ``previews`` holds the digests a dry run would have sent, and ``unsent``
    what the outbox still holds after the pass (every kind), with digests that could not be
    composed."""

    queued: int = 0
    already_queued: int = 0
    nothing_to_send: int = 0
    previews: list[tuple[str, Digest]] = field(default_factory=list)


def identity(ctx: Context) -> MailIdentity:
    """Who digests come from, from the settings."""
    s = ctx.settings
    return MailIdentity(from_addr=s.mail.from_addr, from_name=s.mail.from_name,
                        list_id=f"<digests.{s.mail.domain}>", domain=s.mail.domain,
                        base_url=s.base_url)


def send_digests(ctx: Context, *, frequency: str | None = None, dry_run: bool = False,
                 steps: Steps = UNWATCHED) -> SendReport:
    """Enqueue this period's digests, then relay everything due (nothing, on a dry run);
    ``steps`` hears how far each stage has got."""
    report = SendReport()
    enqueue(ctx, report, frequency=frequency, dry_run=dry_run, steps=steps)
    if not dry_run:
        relayed = relay(ctx, steps)
        for name in (f.name for f in fields(RelayReport) if f.name != "unsent"):
            setattr(report, name, getattr(relayed, name))
        report.unsent += relayed.unsent
    return report


@dataclass(frozen=True)
class _Run:
    """What every digest of one run shares: the time, topic names by slug, and each
    subscriber's period."""

    ctx: Context
    now: datetime
    names: dict[str, str]
    periods: dict[tuple[int, str], str]  # by subscriber id and frequency
    dry_run: bool
    # Each digest rendered once for all its readers (digests/render.py); the stand-ins'
    # nonce is new every run, so no feed text can hold one.
    merge: MergeCache = field(default_factory=lambda: MergeCache(secrets.token_hex(8)))


def enqueue(ctx: Context, report: SendReport, *, frequency: str | None,
            dry_run: bool, subscriber_id: int | None = None,
            shard: tuple[int, int] | None = None, steps: Steps = UNWATCHED,
            at: datetime | None = None) -> None:
    """Queue the digest of each active subscriber (of ``frequency``) not queued this period,
    ``BATCH`` subscribers at a time: one read transaction, then build and render outside any
    transaction, then one write transaction (a few commits instead of one per digest, and
    never more than a batch of messages in memory). ``subscriber_id`` narrows it to one
    person (a preview); ``shard`` (k, n) to the subscribers whose id is k modulo n (one of
    the queue's ``build_digests`` jobs). ``at`` (a dry run's): as though it ran then, not now
    (the next send time, for what a subscriber's next digest holds so far)."""
    now = at or ctx.now()
    with reading(ctx.engine) as connection:
        people = [s for s in subscribers.for_digests(connection, now, frequency, shard)
                  if subscriber_id is None or s.id == subscriber_id]
        periods = {(s.id, s.frequency): _period(s, now, ctx) for s in people}
        done = outbox.queued_keys(connection, DIGEST,
                                  [digest_key(s.id, periods[s.id, s.frequency])
                                   for s in people])
    todo = [s for s in people if digest_key(s.id, periods[s.id, s.frequency]) not in done]
    report.already_queued += len(people) - len(todo)
    run = _Run(ctx, now, {t.slug: t.name for t in ctx.topics()}, periods, dry_run)
    steps.begin("building digests", len(todo))
    for start in range(0, len(todo), BATCH):
        batch = todo[start:start + BATCH]
        _enqueue_batch(run, batch, report)
        steps.step(len(batch))


def preview_digest(ctx: Context, subscriber_id: int, *, frequency: str | None = None,
                   at: datetime | None = None) -> list[Digest]:
    """The digests a dry run (``digests send --dry-run``) would send this subscriber now (or
    ``at``), one per frequency they follow (or ``frequency``); empty when there is nothing
    new or it went already."""
    report = SendReport()
    enqueue(ctx, report, frequency=frequency, dry_run=True, subscriber_id=subscriber_id,
            at=at)
    return [digest for _, digest in report.previews]


def _period(subscriber: Subscriber, now: datetime, ctx: Context) -> str:
    frequency = cast(Literal["daily", "weekly"], subscriber.frequency)
    return period_key(frequency, now, ctx.settings.timezone)


def _enqueue_batch(run: _Run, batch: list[Subscriber], report: SendReport) -> None:
    """Read (storage), build and render (core), write (storage) a batch of digests."""
    with reading(run.ctx.engine) as connection:
        found = {(s.id, s.frequency): outbox.undelivered(
                     connection, s.id, [t for t in s.topics if t in run.names],
                     min(s.created_at, run.now) - LOOKBACK) for s in batch}
    ready = [built for s in batch
             if (built := _build(run, s, found[s.id, s.frequency], report))]
    if not ready:
        return
    with writing(run.ctx.engine) as connection:
        written = [outbox.queue(connection, message, run.now, items) for message, items in ready]
    for (message, _), queued in zip(ready, written, strict=True):
        if queued:
            report.queued += 1
        else:
            log.info("digest %s already queued by another run", message.key)
            report.already_queued += 1


def _build(run: _Run, subscriber: Subscriber, candidates: list[Candidate],
           report: SendReport) -> tuple[Queued, dict[int, int]] | None:
    """The subscriber's digest, rendered, with the items it delivers (item id → match id);
    None when there is nothing to send or on a dry run."""
    period = run.periods[subscriber.id, subscriber.frequency]
    digest = build_digest(subscriber_id=subscriber.id, frequency=subscriber.frequency,
                          period_key=period, entries=digest_entries(
                              candidates, run.names, run.ctx.settings.base_url))
    if digest is None:
        report.nothing_to_send += 1
        return None
    if run.dry_run:
        report.previews.append((subscriber.email, digest))
        return None
    try:
        mail = _render(run.ctx, run.ctx.mail_templates(), digest, subscriber, run.names,
                       run.now, run.merge)
    except (ValueError, MessageError) as err:  # e.g. an address the e-mail package refuses
        log.warning("digest %s for subscriber %s cannot be composed: %s", period,
                    subscriber.id, err)
        report.unsent.append(Unsent(DIGEST, "failed", f"cannot be composed: {err}"))
        return None
    # Every candidate's item counts as delivered, the folded duplicates' too: otherwise
    # they would come back alone in the next digest.
    items: dict[int, int] = {}
    for candidate in candidates:
        items.setdefault(candidate.item_id, candidate.match_id)
    return Queued(DIGEST, digest_key(subscriber.id, period), mail, subscriber.id), items


def _render(ctx: Context, env: jinja2.Environment, digest: Digest, subscriber: Subscriber,
            names: dict[str, str], now: datetime, merge: MergeCache | None = None) -> Mail:
    """The subscriber's digest as a message, with their topics by name and their links:
    unsubscribe, their preferences page, the digest's own page (signed), and the signed
    feedback links under each item and in the footer (issue 17)."""
    me, settings = identity(ctx), ctx.settings
    library = settings.library
    return render_digest(
        digest, env=env, identity=me, to_addr=subscriber.email,
        unsubscribe_url=f"{me.base_url}/unsubscribe/{subscriber.token}",
        message_id=message_id_for(digest.period_key, subscriber.id, settings.mail.domain),
        now=now, tz=settings.timezone,
        subscribed_topics=sorted(names[t] for t in subscriber.topics if t in names),
        library=Library(library.name, library.contact_email, library.logo_url),
        preferences_url=f"{me.base_url}/preferences/{subscriber.token}",
        browser_url=view_url(me.base_url, ctx.secret(), subscriber.id,
                             digest.period_key),
        highlight=settings.mail.highlight,
        feedback={entry.match_id: feedback.item_links(ctx, subscriber.id, entry.item_id,
                                                      entry.topic_slug)
                  for entry in digest.entries if entry.item_id is not None},
        tell_us_more_url=feedback.message_link(ctx, subscriber.id,
                                               digest_key(subscriber.id, digest.period_key)),
        counted_links={entry.match_id: clicks.item_link(ctx, subscriber.id, entry.item_id,
                                                        entry.link)
                       for entry in digest.entries
                       if settings.mail.track_clicks and entry.item_id is not None
                       and entry.link},
        merge=merge)
