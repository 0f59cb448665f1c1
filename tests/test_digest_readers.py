"""Digests written for readers (issue 12), from the database to the bytes a server receives:
only active driver records, the library's settings, and the reader's own links."""

from __future__ import annotations

from datetime import UTC, datetime
from email import message_from_bytes, policy

from sqlalchemy import select

from awareness.digests.view import digest_ref, signature
from awareness.service import digests, people
from awareness.storage import outbox
from awareness.storage.db import reading
from awareness.storage.models import DriverRecordRow, MatchDriver, Subscriber
from tests.conftest import orm_session, orm_writing
from tests.test_outbox import add_match, smtp_context  # noqa: F401 (a fixture)

WHEN = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def link_record(ctx, match_id: int, slug: str, status: str, kind: str = "related") -> None:
    with orm_writing(ctx) as session:
        record = DriverRecordRow(
            slug=slug, kind="driver", title=f"Record {slug}", status=status,
            impact=f"What {slug} means. And more.", tags=[], fields={},
            created_at=WHEN, updated_at=WHEN)
        session.add(record)
        session.flush()
        session.add(MatchDriver(match_id=match_id, driver_id=record.id, kind=kind, score=1.0,
                                reason=""))


def test_only_active_driver_records_reach_a_digest(make_context):
    ctx = make_context()
    people.add_subscriber(ctx, "reader@trust.nhs.uk", ["leadership"], "daily")
    match_id = add_match(ctx, "Leadership framework published")
    link_record(ctx, match_id, "published-plan", "active")
    link_record(ctx, match_id, "half-written", "draft")
    with reading(ctx.engine) as connection:
        [candidate] = outbox.undelivered(connection, 1, ["leadership"], WHEN.replace(year=2000))
    assert [r.slug for r in candidate.records] == ["published-plan"]


def test_a_digest_as_sent_carries_the_library_and_the_readers_links(smtp_context):  # noqa: F811
    ctx, inbox = smtp_context
    match_id = add_match(ctx, "Leadership framework published")
    link_record(ctx, match_id, "published-plan", "active", kind="related")
    report = digests.send_digests(ctx)
    assert report.sent == 1
    message = message_from_bytes(inbox.messages[0][2], policy=policy.default)
    plain = message.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    with orm_session(ctx) as session:
        subscriber = session.scalars(select(Subscriber)).one()
    base = "https://library.example.nhs.uk"
    ref = digest_ref(subscriber.id, report_period(ctx, subscriber.id))
    assert plain.startswith("Library and Knowledge Service\n")
    assert f"Manage your subscription: {base}/preferences/{subscriber.token}" in plain
    assert f"View in browser: {base}/digest/{ref}/" \
        f"{signature('test-secret-key-not-for-production', ref)}" in plain
    assert "## Leadership\n" in plain and "(suggested)" not in plain
    assert "Related: Record published-plan" in plain
    assert "What this means for libraries: What published-plan means." in plain
    assert message["List-Unsubscribe"] == f"<{base}/unsubscribe/{subscriber.token}>"


def report_period(ctx, subscriber_id: int) -> str:
    """The period of the subscriber's one digest, from its outbox key."""
    from awareness.storage.models import OutboxMessage

    with orm_session(ctx) as session:
        key = session.scalars(select(OutboxMessage.key).where(
            OutboxMessage.subscriber_id == subscriber_id)).one()
    return key.split("/", 1)[1]
