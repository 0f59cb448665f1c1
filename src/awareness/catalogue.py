"""The public topic catalogue: what staff see when they choose topics (pure; issue 12).

Each published topic with its title, description, how many items it sends readers a week
(measured over the last ``WEEKS`` weeks) and its latest items that went to readers (approved,
or sent without review). Nothing a librarian wrote for themselves (queries, review notes,
drafts) is part of an entry. Beside the topics, the bulletins that staff who choose
bulletins get: what each is and when it comes, without its editors or fixed addresses; and
the bulletins whose archive anyone may read, with their latest sent issue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from awareness.bulletins.config import BulletinDef
from awareness.subscriptions import Topic

WEEKS = 8
LATEST = 5


@dataclass(frozen=True)
class LatestItem:
    """An item that went to a topic's readers, dated as its digest dates it: when it was
    published, or (undated by its publisher) when it was first seen."""

    title: str
    link: str | None
    publisher: str
    dated: datetime


@dataclass(frozen=True)
class TopicActivity:
    """What storage counted for one topic: items sent to readers in the window, the latest."""

    count: int
    latest: tuple[LatestItem, ...]


@dataclass(frozen=True)
class Entry:
    """One topic as the catalogue shows it."""

    slug: str
    title: str
    description: str
    per_week: float
    latest: tuple[LatestItem, ...]

    @property
    def rate(self) -> str:
        """How often it has items, in words: "about 3 a week", "about 1 a month", "rarely"."""
        if self.per_week >= 0.75:
            return f"about {round(self.per_week)} a week"
        if self.per_week >= 0.2:
            return f"about {round(self.per_week * 52 / 12)} a month"
        return "rarely so far"


def entries(topics: Iterable[Topic], activity: Mapping[str, TopicActivity]) -> list[Entry]:
    """The published topics, by title, each with its measured rate and latest items."""
    found = []
    for topic in topics:
        if not topic.published:
            continue
        seen = activity.get(topic.slug, TopicActivity(0, ()))
        found.append(Entry(topic.slug, topic.name, topic.description, seen.count / WEEKS,
                           seen.latest[:LATEST]))
    return sorted(found, key=lambda entry: entry.title.casefold())


def published_slugs(topics: Sequence[Topic]) -> list[str]:
    """The slugs staff may sign up for, in catalogue order."""
    return [topic.slug for topic in sorted(topics, key=lambda t: t.name.casefold())
            if topic.published]


@dataclass(frozen=True)
class BulletinOffer:
    """A bulletin as staff choosing bulletins see it: its title, description, when it comes
    (``every Friday at 9am``) and whether it has a public archive to show them."""

    slug: str
    title: str
    description: str
    schedule: str
    archive: bool


def bulletin_offers(bulletins: Iterable[BulletinDef]) -> list[BulletinOffer]:
    """The bulletins that go to subscribers who chose bulletins, by title (a bulletin only
    for fixed addresses is nothing they can have)."""
    return sorted((BulletinOffer(b.slug, b.title, b.description, b.schedule, b.public_archive)
                   for b in bulletins if b.to_subscribers),
                  key=lambda offer: offer.title.casefold())


@dataclass(frozen=True)
class PublicArchive:
    """A bulletin whose archive anyone may read, as the public list of bulletins shows it:
    what it is, when it comes, whether staff can have it by e-mail, and its latest sent
    issue (its number and when it went; none before the first). Nothing internal: no
    editors, no fixed addresses, no issue still being edited."""

    slug: str
    title: str
    description: str
    schedule: str
    by_email: bool
    latest_number: int | None = None
    latest_sent_at: datetime | None = None


def listed_archives(bulletins: Iterable[BulletinDef],
                    latest_sent: Mapping[str, tuple[int, datetime | None]]
                    ) -> list[PublicArchive]:
    """The bulletins with a public archive, by title, each with its latest sent issue from
    ``latest_sent`` (bulletin slug → its number and when it was sent)."""
    return sorted((PublicArchive(b.slug, b.title, b.description, b.schedule, b.to_subscribers,
                                 *latest_sent.get(b.slug, (None, None)))
                   for b in bulletins if b.public_archive),
                  key=lambda archive: archive.title.casefold())
