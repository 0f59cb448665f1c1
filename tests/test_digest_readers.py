"""Digests written for readers (issue 12), from the database to the bytes a server receives:
only active driver records, the library's settings, and the reader's own links."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from email import message_from_bytes, policy

import pytest
from itsdangerous import URLSafeTimedSerializer
from sqlalchemy import select

from awareness.digests.view import digest_ref, signature
from awareness.service import digests, people
from awareness.storage import outbox
from awareness.storage.db import reading
from awareness.storage.models import DriverRecordRow, MatchDriver, OutboxMessage, Subscriber
from awareness.web import digest_view
from tests.conftest import orm_session, orm_writing
from tests.test_outbox import add_match, smtp_context  # noqa: F401 (a fixture)
from tests.test_web import running_site

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
    with orm_session(ctx) as session:
        key = session.scalars(select(OutboxMessage.key).where(
            OutboxMessage.subscriber_id == subscriber_id)).one()
    return key.split("/", 1)[1]


# --- View in browser ---------------------------------------------------------------------------

def queued_digest(site) -> tuple[str, bytes]:
    """Queue a digest for a new subscriber of the running site: its view link and bytes."""
    people.add_subscriber(site.ctx, "viewer@trust.nhs.uk", ["leadership"], "daily")
    add_match(site.ctx, "Talent management guide for trusts")
    digests.enqueue(site.ctx, digests.SendReport(), frequency="daily", dry_run=False)
    with orm_session(site.ctx) as session:
        data = session.scalars(select(OutboxMessage.message).join(
            Subscriber, Subscriber.id == OutboxMessage.subscriber_id).where(
            Subscriber.email == "viewer@trust.nhs.uk")).one()
    message = message_from_bytes(data, policy=policy.default)
    plain = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    link = re.search(r"View in browser: (\S+)", plain)
    assert link is not None and link.group(1).startswith(site.url + "/digest/")
    return link.group(1)[len(site.url):], data


def outbox_rows(ctx) -> list[tuple[object, ...]]:
    with orm_session(ctx) as session:
        return [tuple(row) for row in session.execute(select(
            OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts,
            OutboxMessage.next_attempt_at, OutboxMessage.message))]


@pytest.mark.integration
def test_view_in_browser_shows_the_html_part_as_sent(make_context):
    with running_site(make_context) as site, site.client() as client:
        path, data = queued_digest(site)
        before = outbox_rows(site.ctx)
        page = client.get(path)
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        html = message_from_bytes(data, policy=policy.default).get_body(("html",))
        assert page.text == html.get_content()  # type: ignore[union-attr]
        assert "Talent management guide for trusts" in page.text
        assert page.headers["content-security-policy"] == digest_view.CSP
        assert "script-src 'none'" in digest_view.CSP and "default-src 'none'" in digest_view.CSP
        assert page.headers["cache-control"] == "no-store"
        assert page.headers["referrer-policy"] == "same-origin"  # the link stays ours
        assert "set-cookie" not in page.headers
        assert outbox_rows(site.ctx) == before, "a GET changes nothing"


@pytest.mark.integration
def test_a_wrong_or_borrowed_signature_is_a_404_page(make_context):
    with running_site(make_context) as site, site.client() as client:
        path, _ = queued_digest(site)
        _, _, ref, good = path.split("/")
        subscriber, rest = ref.split("-", 1)
        other = f"{int(subscriber) - 1}-{rest}"  # the seeded subscriber's digest, if any
        tampered = good[:-1] + ("A" if good[-1] != "A" else "B")
        session = URLSafeTimedSerializer("test-secret-key-not-for-production",
                                         salt="session").dumps(ref)
        for bad in (f"/digest/{ref}/{tampered}", f"/digest/{other}/{good}",
                    f"/digest/{ref}/{good.lower()}", f"/digest/{ref}/", f"/digest/{ref}/x",
                    f"/digest/{ref}/{session}", f"/digest/{ref}x/{good}",
                    f"/digest/{other}/{signature('test-secret-key-not-for-production', ref)}",
                    f"/digest/{ref}/{signature('another-key', ref)}",
                    f"/digest/{ref}/{'A' * 5000}"):
            page = client.get(bad)
            assert page.status_code == 404, bad
            assert "Talent management" not in page.text
            assert page.headers["content-security-policy"] != digest_view.CSP
        assert client.get(path).status_code == 200


@pytest.mark.integration
def test_an_erased_digest_is_gone_from_the_browser_too(make_context):
    with running_site(make_context) as site, site.client() as client:
        path, _ = queued_digest(site)
        people.erase_subscriber(site.ctx, "viewer@trust.nhs.uk")
        assert client.get(path).status_code == 404
