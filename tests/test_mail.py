"""Mail backends against a real SMTP server (aiosmtpd on loopback) and a real outbox folder."""

from __future__ import annotations

import asyncio
import email.policy
import re
import socket
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from email.parser import BytesParser
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from jinja2 import FileSystemLoader

from awareness.digests.build import DigestEntry, build_digest
from awareness.digests.render import MailIdentity, make_environment, message_id_for, render_digest
from awareness.errors import MailError
from awareness.mail.backends import (
    FileBackend,
    RecipientRefused,
    ServerUnavailable,
    SmtpBackend,
    failure_of,
)
from awareness.mail.compose import Mail

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
) -> Mail:
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
        digest, env=make_environment(FileSystemLoader(TEMPLATES)), identity=IDENTITY,
        to_addr=to_addr,
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
    assert content == message.data  # the stored bytes, as they are
    parsed = BytesParser(policy=email.policy.strict).parsebytes(content)
    assert parsed["Message-ID"] == "<digest.weekly-2026-W48.42@awareness.example.nhs.uk>"
    assert parsed["List-Unsubscribe"] == f"<{UNSUBSCRIBE}>"
    assert re.search(rb"^List-Unsubscribe: <[^\r\n]+>\r?\n(?![ \t])", content, re.MULTILINE)
    plain = parsed.get_body(("plain",))
    assert plain is not None and "\n.\n" not in plain.get_content()  # dot-stuffing undone


def test_the_envelope_is_the_mails_own_whatever_its_headers_say(smtp):
    """One recipient per transaction (E6): the envelope comes from ``Mail``, so a Cc or Bcc
    header in the bytes (which ``compose`` never writes) could not add a recipient."""
    handler, controller = smtp
    message = digest_message()
    extra = replace(message, data=b"Cc: someone@evil.example\r\nBcc: x@evil.example\r\n"
                    + message.data)
    backend_for(controller).send(extra)
    assert [rcpt for _, rcpt, _ in handler.received] == [[RECIPIENT]]


def test_non_ascii_address_is_refused_without_contacting_the_server(smtp):
    handler, controller = smtp
    message = replace(digest_message(), recipient="zoë@nhs.example")
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
    assert failure_of(caught.value).scope == "message"


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
    # Nothing to do with the message: it counts towards the relay's circuit breaker.
    assert isinstance(caught.value, ServerUnavailable)
    assert failure_of(caught.value).scope == "server"


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
    assert failure_of(caught.value).scope == "server"


# --- SMTP: one session for a relay pass ----------------------------------------------------


class Closer(Recorder):
    """Closes a connection when a second transaction begins on it, as a server does with an
    idle connection it has timed out; counts connections."""

    def __init__(self) -> None:
        super().__init__()
        self.connections = 0
        self.transactions: dict[int, int] = {}

    async def handle_EHLO(self, server: Any, session: Any, env: Any, hostname: str,
                          responses: list[str]) -> list[str]:
        self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server: Any, session: Any, env: Any, address: str,
                          options: list[str]) -> str:
        self.transactions[id(session)] = self.transactions.get(id(session), 0) + 1
        if self.transactions[id(session)] > 1:
            server.transport.close()
        env.mail_from = address
        return "250 OK"


def session_for(controller: Any) -> Any:
    return backend_for(controller).open()


def test_a_session_sends_message_after_message_over_one_connection(smtp_server):
    controller, inbox = smtp_server
    session = session_for(controller)
    for n in range(3):
        session.send(digest_message(n, f"reader{n}@nhs.example"))
    session.close()
    assert inbox.connections == 1
    assert [rcpt for _, rcpt, _ in inbox.messages] == [[f"reader{n}@nhs.example"]
                                                       for n in range(3)]


def test_a_refused_recipient_leaves_the_connection_to_the_next_message(smtp_server):
    controller, inbox = smtp_server
    inbox.refuse["gone@nhs.example"] = "550 5.1.1 No such user"
    session = session_for(controller)
    with pytest.raises(RecipientRefused) as caught:
        session.send(digest_message(1, "gone@nhs.example"))
    session.send(digest_message(2, "here@nhs.example"))
    session.close()
    assert failure_of(caught.value).hard_bounce
    assert inbox.connections == 1 and [m[1] for m in inbox.messages] == [["here@nhs.example"]]


@pytest.mark.parametrize("fault", ["drop in DATA", "421 to RCPT"])
def test_a_connection_lost_with_one_message_is_that_messages_failure(smtp_server, fault: str):
    controller, inbox = smtp_server
    if fault == "drop in DATA":
        inbox.drop_in_data.add("unlucky@nhs.example")
    else:
        inbox.refuse["unlucky@nhs.example"] = "421 4.7.0 Closing connection"
    session = session_for(controller)
    with pytest.raises(MailError) as caught:
        session.send(digest_message(1, "unlucky@nhs.example"))
    session.send(digest_message(2, "next@nhs.example"))  # over a new connection
    session.close()
    failure = failure_of(caught.value)
    assert failure.scope != "server" and failure.temporary and not failure.hard_bounce
    assert inbox.connections == 2 and [m[1] for m in inbox.messages] == [["next@nhs.example"]]


@pytest.mark.integration
def test_a_connection_the_server_closed_while_idle_is_opened_again():
    handler = Closer()
    controller = start_server(handler)
    try:
        session = session_for(controller)
        session.send(digest_message(1, "one@nhs.example"))
        session.send(digest_message(2, "two@nhs.example"))  # nobody's failure: no error
        session.close()
    finally:
        controller.stop()
    assert handler.connections == 2
    assert [rcpt for _, rcpt, _ in handler.received] == [["one@nhs.example"],
                                                         ["two@nhs.example"]]


# --- outbox files -----------------------------------------------------------------------------


def test_file_backend_writes_a_parseable_eml(tmp_path: Path):
    outbox = tmp_path / "var" / "outbox"
    message = digest_message()
    FileBackend(outbox).send(message)

    files = list(outbox.iterdir())
    assert len(files) == 1
    assert re.fullmatch(r"20261126T070000Z-[0-9a-f]{16}\.eml", files[0].name)
    parsed = BytesParser(policy=email.policy.strict).parsebytes(files[0].read_bytes())
    assert parsed["Message-ID"] == message.message_id
    assert [p.get_content_type() for p in parsed.iter_parts()] == ["text/plain", "text/html"]


def test_file_backend_is_idempotent_per_message_id(tmp_path: Path):
    backend = FileBackend(tmp_path)
    backend.send(digest_message(now=datetime(2026, 11, 26, 7, 0, tzinfo=UTC)))
    # The same digest rendered again after a crash: new Date, same Message-ID, one file.
    resent = digest_message(now=datetime(2026, 11, 26, 7, 5, tzinfo=UTC))
    backend.send(resent)
    files = sorted(tmp_path.iterdir())
    assert len(files) == 1
    assert files[0].read_bytes() == resent.data

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
