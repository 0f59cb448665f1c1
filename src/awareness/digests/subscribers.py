"""Staff subscribers as the service sees them (pure values).

``Subscriber`` is a stored subscriber with everything mailing them needs (their topics and
the token of their unsubscribe link); ``SubscriberView`` is what people are shown (the CLI,
the unsubscribe page, an export), without the token.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class Subscriber:
    """A stored subscriber. ``unsubscribed_at`` is set when they or a hard bounce stopped
    their digests; ``suspended_reason`` says it was the bounce. ``subscriptions`` are their
    topics, each with its frequency; ``topics`` and ``frequency`` are those of one digest
    (``storage.subscribers.for_digests`` gives one value per frequency) or, elsewhere, all
    their topics and the frequency they chose last."""

    id: int
    email: str
    frequency: str
    token: str
    created_at: datetime
    unsubscribed_at: datetime | None
    suspended_reason: str | None
    topics: tuple[str, ...]
    confirmed_at: datetime | None = None
    paused_until: datetime | None = None
    bulletins: bool = False
    subscriptions: tuple[tuple[str, str], ...] = ()  # (topic slug, daily|weekly)

    @property
    def active(self) -> bool:
        """Are digests sent to them (a pause aside)?"""
        return self.unsubscribed_at is None and self.confirmed_at is not None

    def has_nothing(self, *, bulletins_sent: bool) -> bool:
        """Is there nothing to send them, active or not: no topic, and not the bulletins or
        none to have (``bulletins_sent``: does any bulletin go to subscribers)?"""
        return not self.subscriptions and not (self.bulletins and bulletins_sent)

    def paused(self, now: datetime) -> bool:
        """Are their digests paused at ``now`` (annual leave)?"""
        return self.paused_until is not None and self.paused_until > now


@dataclass(frozen=True)
class SubscriberView:
    """A subscriber as people are shown one."""

    id: int
    email: str
    frequency: str
    topics: list[str]
    created_at: datetime
    active: bool
    suspended_reason: str | None = None
    bulletins: bool = False

    def as_json(self) -> dict[str, object]:
        """The view as a JSON object."""
        return {**self.__dict__, "created_at": self.created_at.isoformat()}


def view_of(subscriber: Subscriber) -> SubscriberView:
    """How ``subscriber`` is shown: topics in name order, no token."""
    return SubscriberView(subscriber.id, subscriber.email, subscriber.frequency,
                          sorted(subscriber.topics), subscriber.created_at, subscriber.active,
                          subscriber.suspended_reason, subscriber.bulletins)
