"""The database schema (SQLAlchemy 2 declarative). Migrations live in ``migrations/``.

Uniqueness constraints carry the service's promises: an item is stored once per source and
key (``uq_items_source_key``), a topic matches an item once (``uq_matches_item_topic``), a
message of each kind is queued once per de-duplication key (``uq_outbox_kind_key``: one digest
per subscriber and period, one stewardship list per member and week, one source report a day)
and a subscriber is never sent the same item twice (``uq_delivery_items_subscriber_item``).
"""

from __future__ import annotations

from datetime import UTC as _UTC
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; pass an aware UTC time")
        return value.astimezone(_UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=_UTC) if value.tzinfo is None else value.astimezone(_UTC)


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UTCDateTime, dict[str, Any]: JSON, list[Any]: JSON}


class Source(Base):
    __tablename__ = "sources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    publisher: Mapped[str] = mapped_column(String(200))
    url: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(20))
    interval_minutes: Mapped[int] = mapped_column(Integer, default=60)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    state: Mapped[str] = mapped_column(String(20), default="active")  # active|broken|gone|paused
    etag: Mapped[str | None] = mapped_column(Text)
    last_modified: Mapped[str | None] = mapped_column(Text)
    body_hash: Mapped[str | None] = mapped_column(String(64))
    baseline_done: Mapped[bool] = mapped_column(Boolean, default=False)
    next_check_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    error_count: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[str | None] = mapped_column(Text)
    fetch_url: Mapped[str | None] = mapped_column(Text)  # after repeated permanent redirects
    redirect_target: Mapped[str | None] = mapped_column(Text)  # last permanent redirect seen
    redirect_count: Mapped[int] = mapped_column(Integer, default=0)  # in a row, to that target
    duplicate_of: Mapped[str | None] = mapped_column(String(64))  # redirected to this source
    # A sitemap index's children: {url: [etag, last_modified]}, those the latest index listed.
    child_validators: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Item(Base):
    __tablename__ = "items"
    __table_args__ = (
        UniqueConstraint("source_id", "key", name="uq_items_source_key"),
        # Story lookups ask for equal values, never NULL, and most rows hold NULL here (all
        # baseline items): the indexes leave those rows out (migration 0009). The review
        # page finds a story's other items by story_id (migration 0014).
        *(Index(f"ix_items_{name}", name, sqlite_where=text(f"{name} IS NOT NULL"),
                postgresql_where=text(f"{name} IS NOT NULL"))
          for name in ("doi", "link_key", "title_key", "story_id")),
        # Items whose words are not stored (written by something other than polling): a dry
        # run normalises these itself; normally the index is empty (migration 0018).
        Index("ix_items_unindexed", "id", sqlite_where=text("title_words IS NULL"),
              postgresql_where=text("title_words IS NULL")),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # Lookups by source use the unique index on (source_id, key).
    source_id: Mapped[str] = mapped_column(ForeignKey("sources.id"))
    key: Mapped[str] = mapped_column(String(1100))
    guid: Mapped[str | None] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    summary_html: Mapped[str] = mapped_column(Text, default="")
    summary_text: Mapped[str] = mapped_column(Text, default="")
    categories: Mapped[list[Any]] = mapped_column(JSON, default=list)
    published_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime | None]
    baseline: Mapped[bool] = mapped_column(Boolean, default=False)
    story_id: Mapped[int | None] = mapped_column(Integer)  # same document elsewhere
    doi: Mapped[str | None] = mapped_column(String(300))
    # Digests of the normalised link and of the title key (identity.link_digest and
    # title_digest), so that stories are found through an index: links are too long for one.
    link_key: Mapped[str | None] = mapped_column(String(32))
    title_key: Mapped[str | None] = mapped_column(String(32))
    # The normalised words of the title, summary and categories (topics.text.ItemWords), so
    # trying a query over the archive does not normalise it again (migration 0018).
    title_words: Mapped[str | None] = mapped_column(Text)
    summary_words: Mapped[str | None] = mapped_column(Text)
    category_words: Mapped[str | None] = mapped_column(Text)

    source: Mapped[Source] = relationship()


# Byte order on PostgreSQL as on SQLite, so a prefix is a range of the index (``leader*`` is
# ``word >= 'leader' AND word < 'leades'``), whatever the database's own collation.
WORD = Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")


class ItemWord(Base):
    """One distinct word of one field of an item (field ``t`` title, ``s`` summary, ``c``
    category): what finds the items a query may match without reading the others. PostgreSQL
    only: SQLite finds them through the full-text index ``item_word_index`` over the items'
    word columns, kept by triggers (migration 0019)."""

    __tablename__ = "item_words"
    __table_args__ = ({"sqlite_with_rowid": False, "info": {"dialects": ("postgresql",)}},)

    word: Mapped[str] = mapped_column(WORD, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id", ondelete="CASCADE"),
                                         primary_key=True, index=True)
    field: Mapped[str] = mapped_column(String(1), primary_key=True)


class Match(Base):
    __tablename__ = "matches"
    __table_args__ = (UniqueConstraint("item_id", "topic_slug", name="uq_matches_item_topic"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"), index=True)
    topic_slug: Mapped[str] = mapped_column(String(100), index=True)
    status: Mapped[str] = mapped_column(String(20), index=True)  # pending|approved|rejected|auto
    hits: Mapped[list[Any]] = mapped_column(JSON, default=list)
    score: Mapped[float] = mapped_column(Float, default=0.0)
    created_at: Mapped[datetime]
    profile_version: Mapped[str | None] = mapped_column(String(64))  # Query.version that matched
    # The one librarian text that reaches staff; the review-log note never does (issue 12).
    reader_note: Mapped[str] = mapped_column(Text, default="", server_default="")

    item: Mapped[Item] = relationship()
    driver_links: Mapped[list[MatchDriver]] = relationship(
        back_populates="match", cascade="all, delete-orphan", order_by="MatchDriver.score.desc()"
    )


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"), index=True)
    librarian: Mapped[str] = mapped_column(String(100))
    decision: Mapped[str] = mapped_column(String(20))  # approved|rejected
    note: Mapped[str] = mapped_column(Text, default="")
    decided_at: Mapped[datetime]


class DriverRecordRow(Base):
    __tablename__ = "driver_records"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    slug: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # driver|case_study
    title: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(Text, default="")
    impact: Mapped[str] = mapped_column(Text, default="")
    summary: Mapped[str] = mapped_column(Text, default="")
    tags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    fields: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), default="active")  # active|draft
    member: Mapped[str] = mapped_column(String(20), default="", index=True)
    published_on: Mapped[date | None]
    review_due_on: Mapped[date | None]
    gone_at: Mapped[datetime | None]  # its page on the MAP site answers 404/410 since then


class DriverSitePage(Base):
    """A record's own page on the MAP-toolkit site, as a ``drivers`` source last listed it."""

    __tablename__ = "driver_site_pages"

    driver_id: Mapped[int] = mapped_column(ForeignKey("driver_records.id"), primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(Text)
    listed_at: Mapped[datetime]
    checked_at: Mapped[datetime | None]  # its page last asked for while off the listing


class MatchDriver(Base):
    __tablename__ = "match_drivers"
    __table_args__ = (UniqueConstraint("match_id", "driver_id", name="uq_match_drivers"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"), index=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("driver_records.id"))
    kind: Mapped[str] = mapped_column(String(20))  # same_document|related
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text, default="")
    # suggested (by the linker) | confirmed | removed | added (by a librarian). A removed row
    # stays, so the link is never suggested for the item again (migration 0014).
    state: Mapped[str] = mapped_column(String(20), default="suggested",
                                       server_default="suggested")
    changed_by: Mapped[str | None] = mapped_column(String(200))
    changed_at: Mapped[datetime | None]

    match: Mapped[Match] = relationship(back_populates="driver_links")
    driver: Mapped[DriverRecordRow] = relationship()


class Librarian(Base):
    __tablename__ = "librarians"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    email: Mapped[str | None] = mapped_column(String(320))  # for bulletin reminders and tests
    # Bumped at logout and password change so that old session cookies stop working.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime]
    # reviewer | editor | administrator (awareness/roles.py); accounts from before roles
    # became administrators (migration 0016), so nothing was taken from anyone.
    role: Mapped[str] = mapped_column(String(20), default="administrator",
                                      server_default="administrator")
    # Signs in through OpenID Connect only: its password hash is no hash, so no password
    # opens it, and its role is set from the identity provider's claims at every sign-in.
    sso: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Who the identity provider says signs in: "<iss> <sub>" of the ID token, the pair
    # OpenID Connect Core 1.0 §2 makes stable and unique (the user name is not: an Entra
    # user principal name can change and be given to someone else). None until the first
    # single sign-on; unique, so one identity is one account.
    sso_subject: Mapped[str | None] = mapped_column(Text, unique=True, index=True)


class LibrarianEvent(Base):
    """The history of librarian accounts (issue 14 item 5 and 6): added, role changed."""

    __tablename__ = "librarian_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    librarian: Mapped[str] = mapped_column(String(100), index=True)
    action: Mapped[str] = mapped_column(String(30))  # added | role | renamed
    detail: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(100))
    at: Mapped[datetime]


class BarredIdentity(Base):
    """A single sign-on identity that never signs in again: the removed holder of a name an
    administrator gave to someone new (``awareness librarians add`` on a removed account).
    The account row forgets the identity then, so that the new person's first sign-in can
    adopt it; without this row the old identity could adopt it too."""

    __tablename__ = "barred_identities"

    subject: Mapped[str] = mapped_column(Text, primary_key=True)  # "<iss> <sub>"
    name: Mapped[str] = mapped_column(String(100))  # the account it signed in to
    barred_at: Mapped[datetime]


class ApiToken(Base):
    """A librarian's token for the JSON API (docs/api.md): only its SHA-256 is kept, so a
    copy of the database gives nobody a working token."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    librarian_id: Mapped[int] = mapped_column(ForeignKey("librarians.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Subscriber(Base):
    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    frequency: Mapped[str] = mapped_column(String(10))  # daily|weekly
    # Opaque random token for the unsubscribe link: no address inside (RELIABILITY W7).
    token: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    unsubscribed_at: Mapped[datetime | None]
    # Set when the service stopped mailing the address itself (a hard bounce), with the reason.
    suspended_reason: Mapped[str | None] = mapped_column(Text)
    # When they followed the confirmation link (or a librarian added them); None: pending.
    confirmed_at: Mapped[datetime | None]
    paused_until: Mapped[datetime | None]  # no digests before this moment (annual leave)
    bulletins: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="subscriber", cascade="all, delete-orphan"
    )


class SubscriberEvent(Base):
    """A subscriber's history: what changed about them (``what``: added, confirmed, changed,
    paused, suspended, resumed, unsubscribed…), briefly how, by whom (a librarian's name,
    "themselves" or "the service") and when. Deleted with the subscriber."""

    __tablename__ = "subscriber_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        ForeignKey("subscribers.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime]
    what: Mapped[str] = mapped_column(String(20))
    detail: Mapped[str] = mapped_column(Text, default="")
    by: Mapped[str] = mapped_column(String(100))


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("subscriber_id", "topic_slug", name="uq_subscriptions"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"), index=True)
    topic_slug: Mapped[str] = mapped_column(String(100))
    frequency: Mapped[str] = mapped_column(String(10), default="weekly",
                                           server_default="weekly")  # daily|weekly

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")


class Signup(Base):
    """A sign-up waiting for its confirmation link to be followed: nothing is active until it
    is, and it is deleted when confirmed or a week after it was made (issue 12)."""

    __tablename__ = "signups"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), index=True)
    topics: Mapped[list[Any]] = mapped_column(JSON)  # [{"topic": slug, "frequency": …}]
    bulletins: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)


class RateEvent(Base):
    """One use of a limited public form, by bucket (``signup:address:…``, ``signup:client:…``)."""

    __tablename__ = "rate_events"
    __table_args__ = (Index("ix_rate_events_bucket_at", "bucket", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bucket: Mapped[str] = mapped_column(String(200))
    at: Mapped[datetime]


class OutboxMessage(Base):
    """The outbox: every message, written before it is sent, marked once the server took it.

    ``kind`` is digest, stewardship or sources_report; ``key`` is unique within a kind. A row
    is pending, sending (claimed by a relay until ``next_attempt_at``), sent or failed.
    ``message`` is the bytes to send; NULL only for history kept from before this table.
    """

    __tablename__ = "outbox"
    __table_args__ = (UniqueConstraint("kind", "key", name="uq_outbox_kind_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    key: Mapped[str] = mapped_column(String(200))
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscribers.id"), index=True)
    sender: Mapped[str] = mapped_column(String(320))
    recipient: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(300))
    message: Mapped[bytes | None] = mapped_column(LargeBinary)
    status: Mapped[str] = mapped_column(String(20))  # pending|sending|sent|failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # When a pending row is due, or a sending row's claim runs out; NULL once sent or failed,
    # so the relay's look-up of due rows reads only unsent ones from this index.
    next_attempt_at: Mapped[datetime | None] = mapped_column(index=True)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class DeliveryItem(Base):
    """An item a digest carried to a subscriber: never sent to them again."""

    __tablename__ = "delivery_items"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "item_id", name="uq_delivery_items_subscriber_item"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outbox_id: Mapped[int] = mapped_column(ForeignKey("outbox.id"), index=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"))
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    match_id: Mapped[int] = mapped_column(ForeignKey("matches.id"))


class DriverRecordVersion(Base):
    """The edit history of a driver record: who changed what, when, as {field: [old, new]}."""

    __tablename__ = "driver_record_versions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    driver_id: Mapped[int] = mapped_column(ForeignKey("driver_records.id"), index=True)
    changed_at: Mapped[datetime]
    changed_by: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(20))  # created|updated|draft
    changes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ItemTombstone(Base):
    """An item a librarian deleted: its source and key, so that the feed cannot bring it back."""

    __tablename__ = "item_tombstones"
    __table_args__ = (UniqueConstraint("source_id", "key", name="uq_item_tombstones_source_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source_id: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(1100))
    deleted_at: Mapped[datetime]


class BulletinIssue(Base):
    """A numbered issue of a bulletin (``subscriptions/bulletins/<slug>.toml``): a draft until
    an editor approves it, sent once every recipient's copy is in the outbox (issue 13).
    ``covers_from`` is where its items begin (the previous issue's drafting); ``due_at`` when
    it is to go out; ``held_at`` when it was due but not approved and the bulletin holds."""

    __tablename__ = "bulletin_issues"
    __table_args__ = (UniqueConstraint("bulletin", "number", name="uq_bulletin_issues_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    bulletin: Mapped[str] = mapped_column(String(100))
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(20))  # draft|approved|sent
    covers_from: Mapped[datetime]
    due_at: Mapped[datetime]
    intro: Mapped[str] = mapped_column(Text, default="", server_default="")
    spotlight_id: Mapped[int | None] = mapped_column(ForeignKey("driver_records.id"))
    created_at: Mapped[datetime]
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]
    held_at: Mapped[datetime | None]
    corrected_at: Mapped[datetime | None]
    correction: Mapped[str] = mapped_column(Text, default="", server_default="")


class BulletinEntry(Base):
    """An item in an issue: its section, position and note for readers. A removed entry is
    kept (``removed``) so that drafting again never brings it back."""

    __tablename__ = "bulletin_entries"
    __table_args__ = (UniqueConstraint("issue_id", "item_id", name="uq_bulletin_entries_item"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    issue_id: Mapped[int] = mapped_column(ForeignKey("bulletin_issues.id"), index=True)
    item_id: Mapped[int] = mapped_column(ForeignKey("items.id"))
    match_id: Mapped[int | None] = mapped_column(ForeignKey("matches.id"))
    section: Mapped[str] = mapped_column(String(200))
    position: Mapped[int] = mapped_column(Integer)
    note: Mapped[str] = mapped_column(Text, default="", server_default="")
    removed: Mapped[bool] = mapped_column(Boolean, default=False, server_default=text("false"))
class Feedback(Base):
    """A reader's answer to a feedback link (issue 17): one row per reader and thing answered
    (``target``: ``item:<id>`` or ``message:<outbox key>``), so an answer counts once; a
    second answer replaces the first. ``answer`` is useful or not_useful for an item, NULL for
    a "Tell us more" comment. ``item_id`` and ``topic_slug`` say what the reader was shown,
    for the report's "useful" rate per topic."""

    __tablename__ = "feedback"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "target", name="uq_feedback_subscriber_target"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"))
    target: Mapped[str] = mapped_column(String(250))
    item_id: Mapped[int | None] = mapped_column(Integer, index=True)
    topic_slug: Mapped[str | None] = mapped_column(String(100))
    answer: Mapped[str | None] = mapped_column(String(20))
    comment: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(index=True)
    updated_at: Mapped[datetime]


class ItemClick(Base):
    """A reader's first counted click on an item's link, when ``[mail] track_clicks`` is on
    (issue 17): one row per reader and item, whatever they click later."""

    __tablename__ = "clicks"
    __table_args__ = (
        UniqueConstraint("subscriber_id", "item_id", name="uq_clicks_subscriber_item"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscribers.id"))
    item_id: Mapped[int] = mapped_column(Integer, index=True)
    clicked_at: Mapped[datetime] = mapped_column(index=True)


def in_schema(dialect: str) -> Any:
    """Alembic's ``include_object`` for comparing ``dialect``'s database with these models:
    a table kept on other databases only is not expected, and SQLite's full-text index
    (``item_word_index`` and the tables FTS5 keeps for it) is not a model."""
    def include(obj: Any, name: str | None, type_: str, reflected: bool,
                compare_to: Any) -> bool:
        if type_ == "table" and reflected and (name or "").startswith("item_word_index"):
            return False
        table = obj if type_ == "table" else getattr(obj, "table", None)
        if reflected or table is None:
            return True
        dialects = table.info.get("dialects")
        return dialects is None or dialect in dialects
    return include
