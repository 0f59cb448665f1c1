"""The operator's endpoints (issue 15): /metrics in Prometheus's format, read by the
Prometheus client's own parser; /readyz; neither exposes personal data."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from awareness.service.context import Context, create_context
from awareness.service.polling import PollOutcome
from awareness.settings import load_settings
from awareness.storage.db import current_revision
from awareness.storage.models import OutboxMessage
from awareness.web.app import create_app
from tests.conftest import orm_session, settings_env
from tests.test_web import EMAIL, LiveServer, listening_socket, running_site

pytestmark = pytest.mark.integration  # a live server on loopback


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics page by (name, labels), parsed by prometheus_client."""
    return {(sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def add_outbox(ctx: Context, status: str, key: str) -> None:
    now = ctx.now()
    with orm_session(ctx) as session, session.begin():
        session.add(OutboxMessage(
            kind="digest", key=key, sender="library@trust.nhs.uk", recipient=EMAIL,
            message_id=f"<{key}@trust.nhs.uk>", message=b"Subject: x\r\n\r\nx", status=status,
            attempts=0, created_at=now - timedelta(minutes=10),
            next_attempt_at=now if status in ("pending", "sending") else None))


def test_metrics_are_read_by_the_prometheus_parser_and_name_nobody(
        make_context: Callable[..., Context]) -> None:
    with running_site(make_context) as site:
        add_outbox(site.ctx, "pending", "weekly:1")
        add_outbox(site.ctx, "failed", "weekly:2")
        site.app.state.metrics.record_poll(PollOutcome("a", "ok", 3, 0, 1, fetch_seconds=0.2))
        site.app.state.metrics.record_poll(PollOutcome("b", "failed", fetch_seconds=30.0))
        site.app.state.metrics.record_poll(PollOutcome("c", "failed"))  # never fetched
        response = httpx.get(f"{site.url}/metrics", timeout=10)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert found[("awareness_review_queue", ())] == 2  # the two pending matches seeded
    assert found[("awareness_outbox_messages", (("status", "pending"),))] == 1
    assert found[("awareness_outbox_messages", (("status", "sending"),))] == 0
    assert found[("awareness_outbox_messages", (("status", "failed"),))] == 1
    assert found[("awareness_outbox_oldest_unsent_seconds", ())] >= 600
    assert found[("awareness_sources", (("state", "active"),))] == 2
    assert found[("awareness_leader", (("role", "web"),))] == 0
    assert found[("awareness_database_up", ())] == 1
    assert found[("awareness_polls_total", (("outcome", "ok"),))] == 1
    assert found[("awareness_polls_total", (("outcome", "failed"),))] == 2
    # Fetch latency by outcome only (never by source): a 30 s failure is above 10 s.
    assert found[("awareness_fetch_seconds_count", (("outcome", "ok"),))] == 1
    assert found[("awareness_fetch_seconds_bucket", (("le", "0.25"), ("outcome", "ok")))] == 1
    assert found[("awareness_fetch_seconds_count", (("outcome", "failed"),))] == 1
    assert found[("awareness_fetch_seconds_bucket", (("le", "10.0"), ("outcome", "failed")))] == 0
    assert not any(dict(labels).get("source") for _, labels in found)
    assert found[("awareness_polls_total", (("outcome", "not_modified"),))] == 0
    assert found[("awareness_items_stored_total", ())] == 3
    assert found[("awareness_matches_total", ())] == 1
    assert found[("awareness_messages_total", (("outcome", "sent"),))] == 0
    # Counts only: no address, no title, no name of a person.
    for personal in (EMAIL, "trust.nhs.uk", "@", "leadership programme", "alice"):
        assert personal not in response.text


def test_metrics_ask_for_the_token_when_one_is_set(
        make_context: Callable[..., Context]) -> None:
    with running_site(make_context, AWARENESS_WEB_METRICS_TOKEN="s3cret-metrics-token") as site:
        url = f"{site.url}/metrics"
        assert httpx.get(url, timeout=10).status_code == 401
        wrong = httpx.get(url, headers={"authorization": "Bearer nope"}, timeout=10)
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"] == "Bearer"
        right = httpx.get(url, headers={"authorization": "Bearer s3cret-metrics-token"},
                          timeout=10)
        assert right.status_code == 200 and "awareness_review_queue" in right.text
        # The scheme's name is case-insensitive (RFC 7235 section 2.1): "bearer" was refused.
        for scheme in ("bearer", "BEARER"):
            named = httpx.get(url, headers={"authorization": f"{scheme} s3cret-metrics-token"},
                              timeout=10)
            assert named.status_code == 200, scheme
        for other in ("Basic s3cret-metrics-token", "s3cret-metrics-token",
                      "Bearer s3cret-metrics-token-and-more"):
            assert httpx.get(url, headers={"authorization": other},
                             timeout=10).status_code == 401, other
        assert httpx.get(f"{site.url}/healthz", timeout=10).status_code == 200  # no token


def test_ready_when_the_database_is_at_head(make_context: Callable[..., Context]) -> None:
    with running_site(make_context) as site:
        ready = httpx.get(f"{site.url}/readyz", timeout=10)
        site.app.state.ready_checks.append(lambda: ("scheduler", False, "stopped"))
        not_ready = httpx.get(f"{site.url}/readyz", timeout=10)
    assert ready.status_code == 200
    assert ready.json()["checks"]["database"]["ok"] is True
    assert not_ready.status_code == 503 and not_ready.json()["status"] == "unhealthy"


def test_not_ready_before_the_migrations(empty_database_url: str, tmp_path: Path) -> None:
    ctx = create_context(load_settings(environ=settings_env(tmp_path, empty_database_url),
                                       cwd=tmp_path))
    try:
        assert current_revision(ctx.engine) is None
        sock = listening_socket()
        with LiveServer(create_app(ctx), sock):
            port = sock.getsockname()[1]
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
            metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10)
    finally:
        ctx.dispose()
    assert ready.status_code == 503
    assert "awareness init" in ready.json()["checks"]["database"]["detail"]
    assert samples(metrics.text)[("awareness_database_up", ())] == 0  # and still answers
