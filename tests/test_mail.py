"""Mail backends against a real SMTP server (aiosmtpd on loopback) and a real outbox folder."""

from __future__ import annotations

import asyncio
import email.policy
import re
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from awareness.digests.build import DigestEntry, build_digest
from awareness.digests.mail import FileBackend, RecipientRefused, SmtpBackend, envelope
from awareness.digests.render import MailIdentity, make_environment, message_id_for, render_digest
from awareness.errors import MailError

FIXTURE_TIERS = {"smtp": "integration", "smtp_with_auth": "integration"}  # conftest.py

TEMPLATES = Path(__file__).parent.parent / "templates"
RECIPIENT = "alice.smith@nhs.example"
IDENTITY = MailIdentity(
    from_addr="awareness@example.nhs.uk", from_name="Library and Knowledge Service",
    list_id="<leadership.awareness.example.nhs.uk>", domain="awareness.example.nhs.uk",
    base_url="https://awareness.example.nhs.uk",
)
UNSUBSCRIBE = "https://awareness.example.nhs.uk/unsubscribe/" + "a1B2" * 40


def digest_message(
    subscriber_id: int = 42, to_addr: str = RECIPIENT,
    now: datetime = datetime(2026, 11, 26, 7, 0, tzinfo=UTC),
) -> EmailMessage:
    """A real rendered digest, as the service would hand it to a backend."""
    entry = DigestEntry(
        match_id=1, topic_slug="leadership", topic_name="Leadership",
        title="NHS England publishes ‘Leadership competency framework’",
        link="https://www.england.nhs.uk/long-read/leadership-competency-framework/",
        publisher="NHS England", published=datetime(2026, 11, 24, 0, 1, tzinfo=UTC),
        summary="The framework sets out six competency domains.\n." * 3, score=1.0,
    )
    digest = build_digest(subscriber_id=subscriber_id, frequency="weekly",
                          period_key="weekly:2026-W48", entries=[entry])
    assert digest is not None
    return render_digest(
        digest, env=make_environment(TEMPLATES), identity=IDENTITY, to_addr=to_addr,
        unsubscribe_url=UNSUBSCRIBE, now=now, tz=ZoneInfo("Europe/London"),
        message_id=message_id_for(digest.period_key, subscriber_id, IDENTITY.domain),
    )


# --- a real SMTP server -----------------------------------------------------------------------


class LoopbackController(Controller):
    """aiosmtpd's Controller, bound to an ephemeral port (it probes its port before it knows
    which one the OS picked, so learn it from the socket first)."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class Recorder:
    """An SMTP handler that accepts everything, or answers RCPT/DATA with a set reply."""

    def __init__(self, rcpt_reply: str | None = None, data_reply: str | None = None):
        self.rcpt_reply = rcpt_reply
        self.data_reply = data_reply
        self.received: list[tuple[str, list[str], bytes]] = []

    async def handle_RCPT(self, server: Any, session: Any, env: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply.replace("{address}", address)
        env.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, env: Any) -> str:
        if self.data_reply:
            return self.data_reply
        self.received.append((env.mail_from, list(env.rcpt_tos), env.original_content))
        return "250 2.0.0 Ok: queued"


def start_server(handler: Recorder, **kwargs: Any) -> LoopbackController:
    controller = LoopbackController(handler, hostname="127.0.0.1", port=0, **kwargs)
    controller.start()
    return controller


@pytest.fixture
def smtp() -> Iterator[tuple[Recorder, LoopbackController]]:
    handler = Recorder()
    controller = start_server(handler)
    yield handler, controller
    controller.stop()


def backend_for(controller: LoopbackController, **kwargs: Any) -> SmtpBackend:
    options: dict[str, Any] = {"security": "none", "username": None, "password": None}
    options.update(kwargs)
    return SmtpBackend("127.0.0.1", controller.port, **options)


def refusing(rcpt_reply: str | None = None, data_reply: str | None = None) -> Iterator[SmtpBackend]:
    controller = start_server(Recorder(rcpt_reply, data_reply))
    try:
        yield backend_for(controller)
    finally:
        controller.stop()


# --- SMTP: accepted ---------------------------------------------------------------------------


def test_accepted_message_arrives_intact(smtp):
    handler, controller = smtp
    message = digest_message()
    backend_for(controller).send(message)

    assert len(handler.received) == 1
    mail_from, rcpt_tos, content = handler.received[0]
    assert mail_from == "awareness@example.nhs.uk"
    assert rcpt_tos == [RECIPIENT]
    assert content.replace(b"\r\n", b"\n") == message.as_bytes().replace(b"\r\n", b"\n")
    parsed = BytesParser(policy=email.policy.strict).parsebytes(content)
    assert parsed["Message-ID"] == "<digest.weekly-2026-W48.42@awareness.example.nhs.uk>"
    assert parsed["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert re.search(rb"^List-Unsubscribe: <[^\r\n]+>\r?\n(?![ \t])", content, re.MULTILINE)
    plain = parsed.get_body(("plain",))
    assert plain is not None and "\n.\n" not in plain.get_content()  # dot-stuffing undone


def test_a_digest_read_back_from_storage_is_sent_byte_for_byte(smtp):
    """The outbox stores bytes; parsing them back with the default policy must not change
    what goes out (the default policy would fold List-Unsubscribe into encoded-words)."""
    handler, controller = smtp
    stored = digest_message().as_bytes()
    reloaded = BytesParser(policy=email.policy.default).parsebytes(stored)
    assert isinstance(reloaded, EmailMessage)
    backend_for(controller).send(reloaded)
    assert handler.received[0][2].replace(b"\r\n", b"\n") == stored.replace(b"\r\n", b"\n")


def test_non_ascii_address_is_refused_without_contacting_the_server(smtp):
    handler, controller = smtp
    message = digest_message()
    del message["To"]
    message["To"] = "zoë@nhs.example"
    with pytest.raises(MailError) as caught:
        backend_for(controller).send(message)
    assert caught.value.temporary is False
    assert "z…@nhs.example" in str(caught.value) and "zoë" not in str(caught.value)
    assert handler.received == []


def test_each_send_is_its_own_transaction_with_one_recipient(smtp):
    handler, controller = smtp
    backend = backend_for(controller)
    backend.send(digest_message(1, "one@nhs.example"))
    backend.send(digest_message(2, "two@nhs.example"))
    assert [rcpt for _, rcpt, _ in handler.received] == [["one@nhs.example"], ["two@nhs.example"]]


@pytest.mark.parametrize("header", ["Cc", "Bcc"])
def test_extra_recipients_are_refused_before_connecting(header: str):
    message = digest_message()
    message[header] = "someone@evil.example"
    with pytest.raises(ValueError, match="Cc or Bcc"):
        envelope(message)


def test_two_to_addresses_are_refused():
    message = digest_message()
    del message["To"]
    message["To"] = "a@nhs.example, b@nhs.example"
    with pytest.raises(ValueError, match="exactly one To"):
        SmtpBackend("127.0.0.1", 1, security="none", username=None, password=None).send(message)


# --- SMTP: refused ----------------------------------------------------------------------------


@pytest.mark.integration
def test_permanent_recipient_refusal_is_a_hard_bounce():
    for backend in refusing("550 5.1.1 <{address}>: Recipient address rejected: User unknown"):
        with pytest.raises(RecipientRefused) as caught:
            backend.send(digest_message())
    err = caught.value
    assert err.temporary is False and err.code == 550
    assert str(err) == ("SMTP server refused recipient: 550 5.1.1 <a…@nhs.example>: "
                        "Recipient address rejected: User unknown")
    assert RECIPIENT not in str(err)


@pytest.mark.integration
def test_temporary_recipient_refusal_may_be_retried():
    for backend in refusing("452 4.2.2 Mailbox full"):
        with pytest.raises(RecipientRefused) as caught:
            backend.send(digest_message())
    assert caught.value.temporary is True and caught.value.code == 452
    assert str(caught.value) == "SMTP server refused recipient: 452 4.2.2 Mailbox full"


@pytest.mark.integration
def test_421_on_rcpt_is_temporary():
    for backend in refusing("421 4.3.2 Service shutting down"):
        with pytest.raises(MailError) as caught:
            backend.send(digest_message())
    assert caught.value.temporary is True


@pytest.mark.integration
@pytest.mark.parametrize(
    ("reply", "temporary"),
    [("554 5.7.1 Message rejected as spam", False), ("451 4.3.0 Try again later", True)],
)
def test_refused_message_data(reply: str, temporary: bool):
    for backend in refusing(data_reply=reply):
        with pytest.raises(MailError) as caught:
            backend.send(digest_message())
    assert not isinstance(caught.value, RecipientRefused)
    assert caught.value.temporary is temporary
    assert str(caught.value) == f"SMTP server refused message: {reply}"


@pytest.mark.integration
def test_connection_refused_is_temporary():
    # A bound socket that is not listening refuses connections, and holding it means no other
    # process can take the port during the test.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        backend = SmtpBackend("127.0.0.1", port, security="none", username=None, password=None)
        with pytest.raises(MailError) as caught:
            backend.send(digest_message())
    assert caught.value.temporary is True
    assert str(caught.value) == (
        f"could not connect to SMTP server 127.0.0.1:{port}: Connection refused"
    )


@pytest.mark.integration
def test_silent_server_times_out_as_temporary():
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)  # accepts the TCP connection but never sends a greeting
        port = silent.getsockname()[1]
        backend = SmtpBackend("127.0.0.1", port, security="none", username=None, password=None,
                              timeout=0.5)
        with pytest.raises(MailError) as caught:
            backend.send(digest_message())
    assert caught.value.temporary is True
    assert str(caught.value).startswith(f"could not connect to SMTP server 127.0.0.1:{port}: ")


def test_starttls_required_but_not_offered(smtp):
    _, controller = smtp
    with pytest.raises(MailError) as caught:
        backend_for(controller, security="starttls").send(digest_message())
    assert caught.value.temporary is True
    assert "STARTTLS" in str(caught.value) and "security" in str(caught.value)


# --- SMTP: login ------------------------------------------------------------------------------


def authenticator(server: Any, session: Any, env: Any, mechanism: str, auth_data: Any):
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"relay-user", b"s3cret-pass"
    )
    return AuthResult(success=ok, handled=False)  # not handled: aiosmtpd sends the 535


@pytest.fixture
def smtp_with_auth() -> Iterator[tuple[Recorder, LoopbackController]]:
    handler = Recorder()
    controller = start_server(handler, authenticator=authenticator, auth_require_tls=False)
    yield handler, controller
    controller.stop()


def test_login_then_send(smtp_with_auth):
    handler, controller = smtp_with_auth
    backend_for(controller, username="relay-user", password="s3cret-pass").send(digest_message())
    assert len(handler.received) == 1


def test_rejected_login_is_reported_without_the_password(smtp_with_auth):
    handler, controller = smtp_with_auth
    backend = backend_for(controller, username="relay-user", password="wrong-pass")
    with pytest.raises(MailError) as caught:
        backend.send(digest_message())
    assert caught.value.temporary is True  # a settings problem, not the subscriber's
    assert str(caught.value).startswith(f"SMTP server 127.0.0.1:{controller.port} rejected our")
    assert "check the SMTP username and password" in str(caught.value)
    assert "wrong-pass" not in str(caught.value) and "wrong-pass" not in repr(backend)
    assert handler.received == []


# --- outbox files -----------------------------------------------------------------------------


def test_file_backend_writes_a_parseable_eml(tmp_path: Path):
    outbox = tmp_path / "var" / "outbox"
    message = digest_message()
    FileBackend(outbox).send(message)

    files = list(outbox.iterdir())
    assert len(files) == 1
    assert re.fullmatch(r"20261126T070000Z-[0-9a-f]{16}\.eml", files[0].name)
    parsed = BytesParser(policy=email.policy.strict).parsebytes(files[0].read_bytes())
    assert parsed["Message-ID"] == message["Message-ID"]
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_file_backend_is_idempotent_per_message_id(tmp_path: Path):
    backend = FileBackend(tmp_path)
    backend.send(digest_message(now=datetime(2026, 11, 26, 7, 0, tzinfo=UTC)))
    # The same digest rendered again after a crash: new Date, same Message-ID, one file.
    resent = digest_message(now=datetime(2026, 11, 26, 7, 5, tzinfo=UTC))
    backend.send(resent)
    files = sorted(tmp_path.iterdir())
    assert len(files) == 1
    assert files[0].read_bytes() == resent.as_bytes()

    backend.send(digest_message(subscriber_id=43, to_addr="bob@nhs.example"))
    assert len(list(tmp_path.iterdir())) == 2
    assert not [p for p in tmp_path.iterdir() if not p.name.endswith(".eml")], "no temp files"


def test_file_backend_reports_an_unwritable_outbox(tmp_path: Path):
    blocker = tmp_path / "outbox"
    blocker.write_text("a file where the folder should be")
    with pytest.raises(MailError) as caught:
        FileBackend(blocker).send(digest_message())
    assert caught.value.temporary is True
    assert str(caught.value).startswith(f"could not write to the outbox folder {blocker}: ")
