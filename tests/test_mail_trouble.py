"""A mail server that refuses the service's login stops every message: the dashboard says so,
with the server's reason, where the administrator looks first (docs/email.md "When mail
does not go"). A real SMTP server on loopback (aiosmtpd) refuses the login."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from awareness.service.context import Context
from awareness.service.outbox import relay
from tests.conftest import Clock
from tests.test_mail import Recorder, authenticator, start_server
from tests.test_relay import queue_digests
from tests.test_web import running_site, signed_in
from tests.test_workbench_pages import text_of

WRONG = "not-the-relay-password"


@pytest.mark.integration
def test_the_dashboard_says_why_mail_is_not_going(make_context: Callable[..., Context]) -> None:
    controller = start_server(Recorder(), authenticator=authenticator, auth_require_tls=False)
    smtp = {"AWARENESS_MAIL_BACKEND": "smtp", "AWARENESS_MAIL_SMTP_HOST": "127.0.0.1",
            "AWARENESS_MAIL_SMTP_PORT": str(controller.port),
            "AWARENESS_MAIL_SMTP_USERNAME": "relay-user", "AWARENESS_MAIL_SMTP_PASSWORD": WRONG}
    try:
        with running_site(make_context, seeded=False, **smtp) as site, \
                signed_in(site) as (client, _):
            calm = text_of(client.get("/dashboard").text)
            assert "The outbox is empty: everything went." in calm
            queue_digests(site.ctx, ["nurse@trust.nhs.uk"])
            assert relay(site.ctx).retrying == 1
            board = text_of(client.get("/dashboard").text)
            assert (f"1 message waits to be tried again. The latest try failed: SMTP server "
                    f"127.0.0.1:{controller.port} rejected our login: 535") in board
            assert "check the SMTP username and password. See the messages." in board
            assert WRONG not in board
            retrying = client.get("/dashboard?format=json").json()["retrying"]
            assert retrying["count"] == 1 and "rejected our login" in retrying["reason"]
    finally:
        controller.stop()


@pytest.mark.integration
def test_healthz_says_when_mail_has_not_gone_for_half_an_hour(
        make_context: Callable[..., Context], clock: Clock) -> None:
    # A dead or refusing mail server was on the dashboard only: /healthz, which monitoring
    # reads, answered "ok" while nothing went out for days. It now says "degraded", and
    # stays 200, so that no supervisor restarts the service for a mail server's fault.
    controller = start_server(Recorder(), authenticator=authenticator, auth_require_tls=False)
    smtp = {"AWARENESS_MAIL_BACKEND": "smtp", "AWARENESS_MAIL_SMTP_HOST": "127.0.0.1",
            "AWARENESS_MAIL_SMTP_PORT": str(controller.port),
            "AWARENESS_MAIL_SMTP_USERNAME": "relay-user", "AWARENESS_MAIL_SMTP_PASSWORD": WRONG}
    try:
        with running_site(make_context, seeded=False, **smtp) as site, site.client() as client:
            queue_digests(site.ctx, ["nurse@trust.nhs.uk"])
            assert relay(site.ctx).retrying == 1
            health = client.get("/healthz")  # one failed try is not yet a service down
            assert health.status_code == 200
            assert health.json()["checks"]["mail"] == {"ok": True, "detail": "1 message to send"}
            clock.advance(minutes=31)
            relay(site.ctx)
            health = client.get("/healthz")  # degraded, not down: a restart would not help
            assert health.status_code == 200 and health.json()["status"] == "degraded"
            assert health.json()["checks"]["mail"] == {"ok": False, "detail": (
                "1 message not sent, the oldest written 31 minutes ago; the dashboard says "
                "why")}
            assert "nurse" not in health.text and "535" not in health.text  # public endpoint
    finally:
        controller.stop()
