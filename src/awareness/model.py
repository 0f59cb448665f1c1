"""Value types shared by the pure core, named for their stage in an item's life.

    ParsedItem   what parsing a source's bytes yields (not stored yet)
    ParsedFeed   a whole parse: items plus the warnings a librarian should see
    ItemText     the text of a stored item as the matcher sees it
    Hit          why a query matched: which term hit which field
    DriverRecord a driver or case-study record, as imported or stored
    DriverLink   a suggested link from an item to a driver record, with its reason
    NewMatch     a topic's match on an item, decided, not stored yet
    StoredItem   an item as stored, for listings
    LibrarianLogin  a librarian account as signing in checks it
    LibrarianInfo   a librarian account as the administrators' page lists it
    LibrarianEvent  one change to a librarian account, for the history
    SubscriberEvent one change to a subscriber, for their history
    ApiTokenInfo    a librarian's API token as listed (never the token itself)
    ServiceCounts   totals for /metrics, read at scrape time (no personal data)

Everything here is immutable data; nothing here does I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal


@dataclass(frozen=True)
class ParsedItem:
    """One entry of a fetched source, normalised and sanitised, before storage.

    ``key`` is the item's identity within its source (see docs/item-identity.md);
    ``title`` is plain text; ``link`` is an absolute http(s) URL or None;
    ``summary_html`` has been sanitised with nh3; ``summary_text`` is its plain text;
    ``published`` is timezone-aware UTC, or None when the feed gave no usable date.
    """

    key: str
    title: str
    link: str | None
    summary_html: str
    summary_text: str
    published: datetime | None
    categories: tuple[str, ...] = ()
    guid: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    """The result of parsing one response body."""

    items: tuple[ParsedItem, ...]
    title: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class ItemText:
    """The fields of an item that a topic query can search."""

    title: str
    summary: str = ""
    categories: tuple[str, ...] = ()
    source: str = ""


@dataclass(frozen=True)
class Hit:
    """One query term that matched, and the field where it matched."""

    term: str
    field: str
    word: str


RecordKind = Literal["driver", "case_study"]


@dataclass(frozen=True)
class DriverRecord:
    """A driver-for-change or case-study record (fields as on the MAP-toolkit pages).

    ``fields`` holds every labelled field the page gave, keyed by the canonical names in
    ``drivers.importer.DRIVER_FIELDS`` / ``CASE_STUDY_FIELDS``; ``impact`` is "what this means
    for libraries" (the field has three spellings on the pages) and is lifted out because
    digests show it.
    """

    kind: RecordKind
    slug: str
    title: str
    source: str = ""
    link: str = ""
    impact: str = ""
    summary: str = ""
    tags: tuple[str, ...] = ()
    fields: dict[str, str] = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class DriverLink:
    """A suggested link from an item to a driver record."""

    slug: str
    kind: Literal["same_document", "new_edition", "related"]
    score: float
    reason: str


@dataclass(frozen=True)
class NewMatch:
    """A topic's match on an item, decided and ready to store, with the driver records the
    item links to. ``status`` is ``pending`` when the topic needs review, else ``auto``."""

    topic_slug: str
    status: Literal["pending", "auto"]
    hits: tuple[Hit, ...]
    score: float
    profile_version: str
    links: tuple[DriverLink, ...] = ()


@dataclass(frozen=True)
class StoredItem:
    """An item as listings show it."""

    id: int
    source_id: str
    key: str
    title: str
    link: str | None
    summary: str
    categories: tuple[str, ...]
    published_at: datetime | None
    first_seen_at: datetime
    baseline: bool
    story_id: int
    doi: str | None

    def as_json(self) -> dict[str, object]:
        """JSON-ready."""
        return {**self.__dict__, "categories": list(self.categories),
                "published_at": self.published_at.isoformat() if self.published_at else None,
                "first_seen_at": self.first_seen_at.isoformat()}


@dataclass(frozen=True)
class LibrarianLogin:
    """A librarian account as signing in checks it: the name, the argon2id hash of the
    password (kept out of ``repr``) and the session version every cookie must carry."""

    name: str
    password_hash: str = field(repr=False)
    session_version: int
    role: str = "administrator"
    sso: bool = False
    # "<iss> <sub>" of the identity that signs in to it by single sign-on; None before that.
    sso_subject: str | None = None


@dataclass(frozen=True)
class LibrarianInfo:
    """A librarian account as listed: never its password hash."""

    name: str
    role: str
    email: str
    sso: bool
    created_at: datetime


@dataclass(frozen=True)
class LibrarianEvent:
    """One change to a librarian account: ``added`` or ``role`` (detail "editor → reviewer"),
    by whom and when."""

    librarian: str
    action: str
    detail: str
    by: str
    at: datetime


@dataclass(frozen=True)
class SubscriberEvent:
    """One change to a subscriber (``subscriber_history.KINDS``: ``suspended`` with the
    reason, ``changed`` with what they get now…), by whom (a librarian's name, "themselves"
    or "the service") and when."""

    subscriber_id: int
    what: str
    detail: str
    by: str
    at: datetime


@dataclass(frozen=True)
class ApiTokenInfo:
    """A librarian's API token as listed: the store keeps only its hash, so this never
    carries the token itself."""

    id: int
    librarian: str
    label: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    role: str = ""  # the librarian's role now: a token may what its librarian may

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


@dataclass(frozen=True)
class ServiceCounts:
    """Totals an operator watches, read from the database when /metrics is scraped.

    Only counts: no address, title or name (issue 15). ``outbox`` is by status, unsent and
    failed rows only (pending, sending, failed); ``oldest_unsent`` is when the oldest pending
    or sending message was written, None when there is none.
    """

    sources: dict[str, int]  # enabled sources by state (active, broken, gone, …)
    review_queue: int  # matches waiting for a librarian
    outbox: dict[str, int]
    oldest_unsent: datetime | None
