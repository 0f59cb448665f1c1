"""Staff serve themselves: the catalogue, sign-up with confirmation, the preference centre
(issue 12), and the links that download or erase their data, mailed to their own address
(``data_links``). Read → decide (``awareness.signup``, pure) → write, as everywhere; mails go
through the outbox.

Nothing here tells a visitor whether an address is known: a sign-up and a request for a
sign-in link answer the same way for every address, and what happens next arrives by e-mail
to that address only.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta

from sqlalchemy import Connection

from awareness.catalogue import (
    WEEKS,
    BulletinOffer,
    Entry,
    bulletin_offers,
    entries,
    published_slugs,
)
from awareness.data_links import DataLink, data_link_token, data_link_url, read_data_link
from awareness.dates import local_day
from awareness.digests.subscribers import Subscriber
from awareness.errors import NotFound
from awareness.mail.account import (
    CONFIRM,
    DATA_LINK,
    SIGN_IN,
    WELCOME,
    ChosenTopic,
    account_key,
    account_message_id,
    render_account_mail,
)
from awareness.mail.compose import Sender
from awareness.mail.outbox import Queued, data_link_key
from awareness.service import people
from awareness.service.context import Context
from awareness.signup import (
    SIGNUP_LIFETIME,
    Choice,
    LimitReached,
    Limits,
    PendingSignup,
    address_bucket,
    checked_address,
    checked_choices,
    checked_preferences,
    checked_signup,
    client_bucket,
    confirm_token,
    confirm_token_matches,
    limit_reached,
    token_signup_id,
)
from awareness.storage import catalogue as stored_catalogue
from awareness.storage import outbox, signups, subscribers
from awareness.storage.db import reading, writing
from awareness.subscriber_history import (
    CONFIRMED,
    NOTHING_LEFT,
    SERVICE,
    THEMSELVES,
    UNSUBSCRIBED,
    gets,
)

log = logging.getLogger(__name__)

BY_LINK = "the unsubscribe link in a mail"
# Called after an account mail is queued, so that it goes now rather than at the relay's next
# pass; the process that runs the scheduler sets it (cli/run.py).
Nudge = Callable[[], None]


def catalogue(ctx: Context) -> list[Entry]:
    """The published topics as staff see them, with their measured rate and latest items."""
    topics = ctx.topics()
    with reading(ctx.engine) as connection:
        activity = stored_catalogue.activity(connection, published_slugs(topics),
                                             ctx.now() - timedelta(weeks=WEEKS))
    return entries(topics, activity)


def topics_unreadable(ctx: Context) -> bool:
    """Is there no topic to offer because no topic's file can be read (each broken since the
    service started), rather than because there is none?"""
    return not ctx.topics() and any(p.kind == "topic" for p in ctx.file_problems())


def bulletins_offered(ctx: Context) -> list[BulletinOffer]:
    """The bulletins staff get when they choose bulletins, as the sign-up and preference
    pages explain them."""
    return bulletin_offers(ctx.bulletins())


def bulletins_sent(ctx: Context) -> bool:
    """Does any bulletin go to staff who chose bulletins (so that they may choose them
    alone)?"""
    return bool(bulletins_offered(ctx))


def checked(ctx: Context, choices: Sequence[Choice], bulletins: bool) -> Sequence[Choice]:
    """``choices`` when they and ``bulletins`` ask for something staff can have; Refused,
    saying what to choose, when not (``signup.checked_choices``)."""
    return checked_choices(choices, bulletins=bulletins, bulletins_sent=bulletins_sent(ctx))


def checked_change(ctx: Context, choices: Sequence[Choice], pause: str,
                   bulletins: bool) -> date | None:
    """The day a change on the preference page pauses digests until (None: no pause), when
    it may be saved; Refused with every problem it has (``signup.checked_preferences``)."""
    return checked_preferences(choices, pause, today(ctx), bulletins=bulletins,
                               bulletins_sent=bulletins_sent(ctx))


def today(ctx: Context) -> date:
    """Today in the service's zone: the day a pause is counted from."""
    return local_day(ctx.now(), ctx.settings.timezone)


def choosable(ctx: Context) -> list[str]:
    """The slugs of the topics staff may choose, in catalogue order."""
    return published_slugs(ctx.topics())


def request_signup(ctx: Context, *, email: str, choices: Sequence[Choice], bulletins: bool,
                   client: str, nudge: Nudge | None = None) -> PendingSignup:
    """Store a pending sign-up and queue its confirmation mail. Refused (with what to fix,
    every problem at once) when it asks for nothing (no topic, and no bulletins or none to
    have) or for a bad or disallowed address, or when a limit is reached; otherwise the same
    outcome whether or not the address is known (the pending sign-up returned is for the
    caller, never for the visitor)."""
    address = checked_signup(email, choices, bulletins=bulletins,
                             bulletins_sent=bulletins_sent(ctx),
                             allowed_domains=ctx.settings.signup.allowed_domains)
    now = ctx.now()
    _refuse_before_writing(ctx, address, client, now)
    with writing(ctx.engine) as connection:
        _use_public_form(connection, ctx, address, client, now)
        pending = signups.add(connection, email=address, choices=choices, bulletins=bulletins,
                              now=now, expires_at=now + SIGNUP_LIFETIME)
        url = f"{ctx.settings.base_url}/confirm/{confirmation_token(ctx, pending)}"
        outbox.queue(connection, _mail(ctx, CONFIRM, pending.id, address, choices, now,
                                       confirm_url=url, bulletins=bulletins), now)
    if nudge:
        nudge()
    return pending


def pending_signup(ctx: Context, token: str) -> PendingSignup | None:
    """The sign-up a confirmation link is for, while it waits; None when the link is not
    ours, was used, or expired."""
    signup_id = token_signup_id(token)
    if signup_id is None:
        return None
    with reading(ctx.engine) as connection:
        found = signups.get(connection, signup_id)
    if found is None or found.expires_at <= ctx.now() or not confirm_token_matches(
            token, ctx.secret(), found.id, found.email, found.created_at):
        return None
    return found


def confirm(ctx: Context, token: str, nudge: Nudge | None = None) -> Subscriber | None:
    """Make the sign-up active and queue the welcome mail; None when the link is not ours,
    was used or expired. Following it twice (a double submit) acts once; confirming a second
    sign-up that changes nothing (the same topics asked for twice) sends no second welcome.
    Topics withdrawn since the sign-up are left out; when that leaves them nothing (no
    topic, and no bulletins or none going to subscribers any more), they are unsubscribed
    (``settled``) and get no welcome."""
    found = pending_signup(ctx, token)
    if found is None:
        return None
    now = ctx.now()
    known = set(choosable(ctx))
    choices = [(c.topic, c.frequency) for c in found.choices if c.topic in known]
    with writing(ctx.engine) as connection:
        if not signups.remove(connection, found.id):
            return None  # another request confirmed it a moment ago
        before = subscribers.by_email(connection, found.email)
        confirmed = subscribers.subscribe(
            connection, email=found.email, choices=choices, token=secrets.token_urlsafe(32),
            now=now, bulletins=found.bulletins)
        subscribers.record_event(connection, confirmed.id, CONFIRMED, gets(confirmed),
                                 by=THEMSELVES, now=now)
        # What they asked for was withdrawn meanwhile: the service, not they, ends it.
        subscriber = settled(connection, confirmed.id, now, by=SERVICE,
                             bulletins_sent=bulletins_sent(ctx))
        if subscriber.active and is_news(before, subscriber):
            outbox.queue(connection, _welcome(ctx, subscriber, now), now)
    if nudge:
        nudge()
    return subscriber


def request_link(ctx: Context, *, email: str, client: str, nudge: Nudge | None = None) -> None:
    """Mail the holder of ``email`` a link to their preferences, if they are a subscriber;
    the same outcome either way. Refused only for what the visitor can fix or a limit."""
    address = checked_address(email, ())  # a former domain's address may still manage itself
    now = ctx.now()
    _refuse_before_writing(ctx, address, client, now)
    with writing(ctx.engine) as connection:
        _use_public_form(connection, ctx, address, client, now)
        found = subscribers.by_email(connection, address)
        if found is not None:
            outbox.queue(connection, _mail(
                ctx, SIGN_IN, found.id, found.email, (), now,
                preferences_url=preferences_url(ctx, found)), now)
    if found is not None and nudge:
        nudge()


def subscriber(ctx: Context, token: str) -> Subscriber:
    """The subscriber a preference link is for; NotFound when it is not one of ours."""
    with reading(ctx.engine) as connection:
        found = subscribers.by_token(connection, token)
    if found is None:
        raise NotFound("This link is not valid any more. Ask for a new one below.")
    return found


def save_preferences(ctx: Context, token: str, *, choices: Sequence[Choice],
                     paused_until: date | None, bulletins: bool) -> Subscriber:
    """Their topics and frequencies, pause and bulletin opt-in become what the form says;
    choosing topics (or bulletins) again also resumes them after an unsubscribe. Refused
    when the form asks for nothing at all: that is what unsubscribing is for."""
    checked(ctx, choices, bulletins)
    found = subscriber(ctx, token)
    pause = (datetime.combine(paused_until, time(), ctx.settings.timezone)
             if paused_until else None)
    wanted = [(c.topic, c.frequency) for c in choices]
    with writing(ctx.engine) as connection:
        found = people.stored(connection, found.id)
        if found.active:
            subscribers.set_topics(connection, found.id, wanted)
        else:  # subscribing again after leaving starts afresh with these topics
            subscribers.subscribe(connection, email=found.email, choices=wanted,
                                  token=found.token, now=ctx.now())
        subscribers.set_preferences(connection, found.id, paused_until=pause,
                                    bulletins=bulletins)
        people.record_changes(connection, ctx, found, people.stored(connection, found.id),
                              by=THEMSELVES)
    return subscriber(ctx, token)


def leave_topic(ctx: Context, token: str, topic: str) -> Subscriber:
    """Stop one topic; the others go on. Them after: unsubscribed when that was their last
    topic and they do not get the bulletins, or no bulletin goes to subscribers
    (``settled``)."""
    found = subscriber(ctx, token)
    with writing(ctx.engine) as connection:
        before = people.stored(connection, found.id)
        subscribers.drop_topic(connection, found.id, topic)
        people.record_changes(connection, ctx, before, people.stored(connection, found.id),
                              by=THEMSELVES)
        return settled(connection, found.id, ctx.now(), by=THEMSELVES,
                       bulletins_sent=bulletins_sent(ctx))


def leave_all(ctx: Context, token: str) -> None:
    """Stop every digest and the bulletins (signing up again undoes it)."""
    found = subscriber(ctx, token)
    with writing(ctx.engine) as connection:
        end(connection, found.id, ctx.now(), by=THEMSELVES)


def unsubscribe(ctx: Context, token: str) -> bool:
    """Unsubscribe the holder of ``token`` from everything: the link in every mail, and its
    one-click POST (RFC 8058). False for a token that is not ours; repeating it is
    harmless."""
    with writing(ctx.engine) as connection:
        found = subscribers.by_token(connection, token)
        if found is None:
            return False
        end(connection, found.id, ctx.now(), by=THEMSELVES, detail=BY_LINK)
        return True


def end(connection: Connection, subscriber_id: int, now: datetime, *, by: str,
        detail: str = "") -> None:
    """Unsubscribe them from everything, as "Unsubscribe from everything" does: the one way a
    subscription ends, recorded in their history ``by`` whom (with ``detail``: how) unless
    they had stopped already. Their topics and bulletin choice are kept as they were;
    choosing again on the preference page, or signing up again, starts afresh."""
    if subscribers.unsubscribe(connection, subscriber_id, now):
        subscribers.record_event(connection, subscriber_id, UNSUBSCRIBED, detail, by=by,
                                 now=now)


def settled(connection: Connection, subscriber_id: int, now: datetime, *, by: str,
            bulletins_sent: bool) -> Subscriber:
    """Them after a change ``by`` someone to what they get: unsubscribed (``end``) when it
    left them no topic, and no bulletins or none to have (``bulletins_sent``: does any
    bulletin go to subscribers). Nobody stays an active subscriber with nothing to get,
    listed as active and counted as a reader while nothing can be sent to them."""
    found = subscribers.by_id(connection, subscriber_id)
    assert found is not None
    if found.active and found.has_nothing(bulletins_sent=bulletins_sent):
        end(connection, subscriber_id, now, by=by, detail=NOTHING_LEFT)
        found = subscribers.by_id(connection, subscriber_id)
        assert found is not None
    return found


def request_data_link(ctx: Context, token: str, action: str, *, client: str,
                      nudge: Nudge | None = None) -> Subscriber:
    """Mail the subscriber of the preference ``token`` a link to ``action`` (``DOWNLOAD``
    or ``ERASE``) their data, which works for an hour: holding the preference link, which
    every mail carries and forwarded mails pass on, is not enough (``data_links``). Counted
    as the public forms are and Refused past their limits; asked again within the same ten
    minutes, it mails nothing more. Them, for the page to say where the link went."""
    found = subscriber(ctx, token)
    now = ctx.now()
    _refuse_before_writing(ctx, found.email, client, now)
    url = data_link_url(ctx.settings.base_url,
                        data_link_token(ctx.secret(), found.id, found.token, action, now))
    with writing(ctx.engine) as connection:
        _use_public_form(connection, ctx, found.email, client, now)
        mail = _mail(ctx, DATA_LINK, found.id, found.email, (), now,
                     preferences_url=preferences_url(ctx, found), data_url=url, action=action,
                     key=data_link_key(found.id, action, now))
        outbox.queue(connection, mail, now)
    if nudge:
        nudge()
    return found


def data_link_holder(ctx: Context, link: str) -> tuple[DataLink, Subscriber] | None:
    """What a mailed data link does, and for whom; None when it is not ours, was altered,
    is over an hour old, or its subscriber was erased or holds another preference token
    since."""
    found = read_data_link(ctx.secret(), link, ctx.now())
    if found is None:
        return None
    with reading(ctx.engine) as connection:
        holder = subscribers.by_id(connection, found.subscriber_id)
    return (found, holder) if holder is not None and found.is_for(holder.token) else None


def export(ctx: Context, holder: Subscriber) -> dict[str, object]:
    """Everything stored about them, as JSON-ready data (``data_link_holder``)."""
    return people.export_subscriber(ctx, holder.email)


def erase(ctx: Context, holder: Subscriber) -> None:
    """Delete them and every message addressed to them (``data_link_holder``)."""
    people.erase_subscriber(ctx, holder.email)


def purge(ctx: Context) -> tuple[int, int, int]:
    """Delete what an unconfirmed sign-up left once it expired: the sign-up, its finished
    confirmation mail (the address may never have become a subscriber's), and rate-limit
    uses older than any limit. How many of each."""
    now = ctx.now()
    with writing(ctx.engine) as connection:
        return (signups.purge(connection, now),
                outbox.forget(connection, CONFIRM, now - SIGNUP_LIFETIME),
                signups.forget_uses(connection, now - timedelta(days=1)))


def welcome_mail(ctx: Context, found: Subscriber) -> Queued:
    """The welcome mail for someone a librarian subscribed (``roster.add``)."""
    return _welcome(ctx, found, ctx.now())


def preferences_url(ctx: Context, found: Subscriber) -> str:
    """The link to their preference centre (in every mail they get)."""
    return f"{ctx.settings.base_url}/preferences/{found.token}"


def _use_public_form(connection: Connection, ctx: Context, address: str, client: str,
                     now: datetime) -> None:
    """Count one use of a limited public form by ``address`` from ``client``, or Refused when
    either is at its limit (counted under keyed hashes, never the addresses themselves)."""
    signups.record_use(connection, _limited(connection, ctx, address, client, now), now)


def _refuse_before_writing(ctx: Context, address: str, client: str, now: datetime) -> None:
    """Refused when a limit is reached, found in a read: a flood of refused requests never
    takes the database's write lock, which on SQLite every writer (a poll storing its items,
    a librarian's approval) would otherwise queue behind. ``_use_public_form`` counts again
    in the write, so two requests at once cannot both pass the last free use."""
    with reading(ctx.engine) as connection:
        _limited(connection, ctx, address, client, now)


def _limited(connection: Connection, ctx: Context, address: str, client: str,
             now: datetime) -> tuple[str, str]:
    """The buckets one use by ``address`` from ``client`` counts under; Refused when either
    is at its limit."""
    key, settings = ctx.secret(), ctx.settings.signup
    by_address, by_client = address_bucket(key, address), client_bucket(key, client)
    reached = limit_reached(
        address_uses=signups.uses(connection, by_address, now - timedelta(days=1)),
        client_uses=signups.uses(connection, by_client, now - timedelta(hours=1)),
        limits=Limits(settings.per_address_per_day, settings.per_client_per_hour))
    if reached:
        raise LimitReached(reached)
    return by_address, by_client


def confirmation_token(ctx: Context, pending: PendingSignup) -> str:
    """The token of the link in ``pending``'s confirmation mail."""
    return confirm_token(ctx.secret(), pending.id, pending.email,
                         pending.created_at)


def is_news(before: Subscriber | None, after: Subscriber) -> bool:
    """Would a welcome mail tell ``after`` anything ``before`` did not have: that they are
    subscribed, to these topics at these frequencies, with or without bulletins?"""
    def told(subscriber: Subscriber) -> tuple[object, ...]:
        return subscriber.active, sorted(subscriber.subscriptions), subscriber.bulletins
    return before is None or told(before) != told(after)


def _welcome(ctx: Context, found: Subscriber, now: datetime) -> Queued:
    queued = _mail(ctx, WELCOME, found.id, found.email,
                   [Choice(slug, how) for slug, how in found.subscriptions], now,
                   preferences_url=preferences_url(ctx, found), bulletins=found.bulletins)
    return Queued(queued.kind, queued.key, queued.mail, found.id)


def _mail(ctx: Context, kind: str, subject_id: int, to: str, choices: Sequence[Choice],
          now: datetime, *, confirm_url: str = "", preferences_url: str = "",
          bulletins: bool = False, data_url: str = "", action: str = "",
          key: str = "") -> Queued:
    """An account mail of ``kind`` to ``to``, about ``subject_id``, under ``key`` (by default
    one of its own: a request's nonce)."""
    s = ctx.settings
    titles = {topic.slug: topic.name for topic in ctx.topics()}
    key = key or account_key(subject_id, secrets.token_hex(8))
    mail = render_account_mail(
        ctx.mail_templates(), kind, sender=Sender(s.mail.from_addr, s.mail.from_name), to=to,
        library=s.library.name,
        choices=[ChosenTopic(titles.get(c.topic, c.topic), c.frequency) for c in choices],
        message_id=account_message_id(kind, key, s.mail.domain), now=now,
        confirm_url=confirm_url, preferences_url=preferences_url,
        manage_url=f"{s.base_url}/preferences", bulletins=bulletins, data_url=data_url,
        action=action)
    return Queued(kind, key, mail, subject_id if kind != CONFIRM else None)

