"""A mail server that refuses the service's login stops every message: the dashboard says so,
with the server's reason, where the administrator looks first (docs/email.md "When mail
does not go"). A real SMTP server on loopback (aiosmtpd) refuses the login."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from awareness.service.context import Context
from awareness.service.outbox import relay
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
