"""Staff serving themselves: what a sign-up or a preference change asks for, whether it is
allowed, and the signed links that confirm it (pure; issue 12).

A sign-up is double opt-in: nothing is active until the person follows the link in the
confirmation e-mail. That link names the pending sign-up and carries an HMAC of it under the
service's secret key, bound to its purpose, so it cannot be forged, reused for anything else,
or used once the sign-up is gone (confirmed, or expired after ``SIGNUP_LIFETIME``).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from awareness.addresses import address_problem

FREQUENCIES = ("daily", "weekly")
SIGNUP_LIFETIME = timedelta(days=7)
MAX_TOPICS = 50  # more than a catalogue will hold; a bound on what one form can ask for
LONGEST_PAUSE = timedelta(days=366)


@dataclass(frozen=True)
class Choice:
    """One topic a person wants, and how often."""

    topic: str
    frequency: str


@dataclass(frozen=True)
class PendingSignup:
    """A sign-up waiting for its confirmation link to be followed."""

    id: int
    email: str
    choices: tuple[Choice, ...]
    bulletins: bool
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class Limits:
    """How often the public forms may be used: per address a day, per client an hour."""

    per_address_per_day: int
    per_client_per_hour: int


# What a refusal is about, so that a page can say it by that part of its form (and link
# to it from the summary): the address, the topics (with the bulletins), the pause.
ADDRESS = "address"
TOPICS = "topics"
PAUSE = "pause"


class Refused(ValueError):
    """A request the person can fix: the message says how. ``problems`` are its sentences,
    each with what it is about (``ADDRESS``, ``TOPICS``, ``PAUSE``, or "" for the request as
    a whole, as a limit): one, or every one a form had (``refused_for_all``)."""

    def __init__(self, message: str, about: str = "") -> None:
        super().__init__(message)
        self.problems: tuple[tuple[str, str], ...] = ((about, message),)


class LimitReached(Refused):
    """A request refused because a limit was reached (429): the message says when to retry."""


def refused_for_all(refusals: Sequence[Refused]) -> Refused:
    """One refusal saying every problem of ``refusals``, in their order."""
    together = Refused(" ".join(str(refused) for refused in refusals))
    together.problems = tuple(problem for refused in refusals for problem in refused.problems)
    return together


def checked_address(text: str, allowed_domains: Iterable[str], *,
                    sent: str = "The library's mail") -> str:
    """The address in lower case, when it is one and its domain is allowed, else Refused
    (about ``ADDRESS``), saying that ``sent`` (what was asked for: ``what_is_sent``) goes
    only to the allowed domains.

    An allowed domain admits itself and its subdomains (``nhs.uk`` admits ``trust.nhs.uk``);
    no allowed domains admits every domain."""
    address = text.strip().lower()
    problem = address_problem(address)
    if problem:
        raise Refused(f"That is not an e-mail address: {problem}.", ADDRESS)
    domains = [d.strip().lower().lstrip("@.") for d in allowed_domains if d.strip()]
    host = address.rsplit("@", 1)[1]
    if domains and not any(host == d or host.endswith("." + d) for d in domains):
        raise Refused(f"{sent} can only be sent to addresses ending in "
                      + " or ".join(f"@{d}" for d in domains)
                      + ". Use your work address.", ADDRESS)
    return address


def what_is_sent(choices: Sequence[Choice], bulletins: bool) -> str:
    """What a sign-up asks to be sent, as a sentence starts it: ``Digests``, ``The library's
    bulletins``, both, or (neither) ``The library's mail``."""
    if choices:
        return "Digests and the library's bulletins" if bulletins else "Digests"
    return "The library's bulletins" if bulletins else "The library's mail"


def checked_signup(email: str, choices: Sequence[Choice], *, bulletins: bool,
                   bulletins_sent: bool, allowed_domains: Iterable[str]) -> str:
    """The address of a sign-up that may go ahead (``checked_address``,
    ``checked_choices``); else Refused with every problem it has, the address's first, as
    the form asks for it."""
    refusals: list[Refused] = []
    address = ""
    with _noted(refusals):
        address = checked_address(email, allowed_domains, sent=what_is_sent(choices, bulletins))
    with _noted(refusals):
        checked_choices(choices, bulletins=bulletins, bulletins_sent=bulletins_sent)
    if refusals:
        raise refused_for_all(refusals)
    return address


def checked_preferences(choices: Sequence[Choice], pause: str, today: date, *,
                        bulletins: bool, bulletins_sent: bool) -> date | None:
    """The day a preference change pauses digests until (``pause_until``; None: no pause)
    when the change may be saved (``checked_choices``); else Refused with every problem it
    has, the topics' first, as the form asks for them."""
    refusals: list[Refused] = []
    day = None
    with _noted(refusals):
        checked_choices(choices, bulletins=bulletins, bulletins_sent=bulletins_sent)
    with _noted(refusals):
        day = pause_until(pause, today)
    if refusals:
        raise refused_for_all(refusals)
    return day


@contextmanager
def _noted(refusals: list[Refused]) -> Iterator[None]:
    """Add a refusal of the block to ``refusals`` and go on: a form is told every problem
    it has at once, not one a submission."""
    try:
        yield
    except Refused as refused:
        refusals.append(refused)


def choices_from(ticked: Iterable[str], frequencies: Mapping[str, str],
                 topics: Iterable[str], *, default_frequency: str = "weekly") -> list[Choice]:
    """The ``ticked`` topics, each with its frequency from ``frequencies`` (by slug), in
    catalogue (``topics``) order; none may be ticked (``checked_choices`` says whether that
    is enough). Unknown topics are ignored: a topic withdrawn while the form was open is not
    an error the person can fix."""
    wanted = set(ticked)
    found = []
    for slug in topics:
        if slug in wanted:
            frequency = frequencies.get(slug, default_frequency)
            found.append(Choice(slug, frequency if frequency in FREQUENCIES
                                else default_frequency))
    return found[:MAX_TOPICS]


def checked_choices(choices: Sequence[Choice], *, bulletins: bool,
                    bulletins_sent: bool) -> Sequence[Choice]:
    """``choices`` when, with the ``bulletins`` opt-in, they ask for something: a topic, or
    the bulletins alone while a bulletin goes to subscribers (``bulletins_sent``); else
    Refused, saying what to choose. Without a bulletin for subscribers the box only asks
    for any the library starts, which alone would be a subscription to nothing."""
    if choices or (bulletins and bulletins_sent):
        return choices
    raise Refused("Choose at least one topic, or the library's bulletins." if bulletins_sent
                  else "Choose at least one topic: the library sends no bulletin at the moment.",
                  TOPICS)


def pause_days(today: date) -> tuple[date, date]:
    """The first and the last day a pause may end on (``pause_until`` takes no other):
    tomorrow, and a year away. The date field offers only these."""
    return today + timedelta(days=1), today + LONGEST_PAUSE


def pause_until(text: str, today: date) -> date | None:
    """The day digests start again (``YYYY-MM-DD`` from a date field), or None for no pause.
    Refused when it is not a date, is not in the future, or is more than a year away
    (``pause_days``)."""
    text = text.strip()
    if not text:
        return None
    try:
        day = date.fromisoformat(text)
    except ValueError:
        raise Refused("Give the date digests should start again, as 2027-01-04.", PAUSE) from None
    first, last = pause_days(today)
    if day < first:
        raise Refused("The date digests start again must be after today.", PAUSE)
    if day > last:
        raise Refused("A pause can last at most a year; unsubscribe instead.", PAUSE)
    return day


def limit_reached(*, address_uses: int, client_uses: int, limits: Limits) -> str | None:
    """Would one more use of a public form pass a limit (counts over the last day for the
    address, the last hour for the client)? The sentence that says which, and when the
    visitor may try again; None when neither is reached. It names no one to ask: the page
    adds the library's address when there is one."""
    if address_uses >= limits.per_address_per_day:
        return "This address has asked too many times today. Try again tomorrow."
    if client_uses >= limits.per_client_per_hour:
        return "Too many requests from your network in the last hour. Try again in an hour."
    return None


def _signature(key: str, purpose: str, message: str) -> str:
    mac = hmac.new(key.encode(), f"{purpose}\n{message}".encode(), hashlib.sha256)
    return mac.hexdigest()[:32]


def confirm_token(key: str, signup_id: int, email: str, created_at: datetime) -> str:
    """The token of a sign-up's confirmation link: its id and a signature of what it is."""
    signed = f"{signup_id}|{email}|{created_at.isoformat()}"
    return f"{signup_id}.{_signature(key, 'confirm', signed)}"


def token_signup_id(token: str) -> int | None:
    """The sign-up id a confirmation token names (not yet checked), or None."""
    head, _, signature = token.partition(".")
    return int(head) if head.isdigit() and len(head) < 12 and len(signature) == 32 else None


def confirm_token_matches(token: str, key: str, signup_id: int, email: str,
                          created_at: datetime) -> bool:
    """Is ``token`` the confirmation token of this sign-up (compared in constant time)?"""
    return hmac.compare_digest(token, confirm_token(key, signup_id, email, created_at))


def client_bucket(key: str, client: str) -> str:
    """The rate-limit bucket of a client address, keyed so the address itself is not stored."""
    return "client:" + _signature(key, "client", client)


def address_bucket(key: str, address: str) -> str:
    """The rate-limit bucket of an e-mail address (not stored in the clear either)."""
    return "address:" + _signature(key, "address", address)
