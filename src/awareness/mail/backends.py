"""Mail backends (shell): hand a composed ``Mail`` to an SMTP server or to a folder.

A backend ``open``s a session for one relay pass; the session's ``send`` returns only when the
message was accepted (the SMTP server answered 250 to DATA, or the ``.eml`` file is in place),
else it raises a ``MailError`` saying what failed and whose failure it is (RELIABILITY.md
E4-E7):

* ``ServerUnavailable``: we could not get a working session at all — no connection, no
  greeting, TLS or login refused. It says nothing about the message; it counts towards the
  relay's circuit breaker.
* ``RecipientRefused``: the server refused the recipient (RCPT TO). 5xx is a hard bounce.
* any other ``MailError``: this message failed — the sender or the message refused, or the
  connection dropped in the middle of its transaction. The session reconnects for the next.

``temporary`` says whether trying again later may succeed: 4xx replies, network failures and
problems with our own server settings are temporary; a 5xx reply is not. The bytes are sent
as they are: no parsing, no serialising again. Errors never contain a full e-mail address.
"""

from __future__ import annotations

import hashlib
import os
import re
import smtplib
import ssl
import tempfile
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Literal, Protocol

from awareness.errors import MailError
from awareness.mail.compose import Mail, mask_address
from awareness.mail.retry import SendFailure

Security = Literal["none", "starttls", "tls"]
_ADDRESS = re.compile(r"[^\s<>@]+@[^\s<>@]+")
_REPLY_LIMIT = 200


class ServerUnavailable(MailError):
    """No working SMTP session: connection, greeting, TLS or login failed (never the
    message's fault; the relay's circuit breaker counts these)."""

    def __init__(self, message: str):
        super().__init__(message, temporary=True)


class RecipientRefused(MailError):
    """The server refused the recipient address (RCPT TO); ``code`` is its reply code.

    A 5xx refusal is a hard bounce for the subscriber; a 4xx one is temporary."""

    def __init__(self, message: str, *, code: int):
        self.code = code
        super().__init__(message, temporary=_is_temporary_code(code))


class MailSession(Protocol):
    """One relay pass's way to the server: sends messages one by one, then closes."""

    def send(self, mail: Mail) -> None:
        """Deliver ``mail``; return only once it has been accepted, else MailError."""

    def close(self) -> None:
        """End the session (whatever state it is in)."""


class MailBackend(Protocol):
    """Something that opens sessions that deliver messages."""

    def open(self) -> MailSession:
        """A session for a run of messages (it connects when the first one is sent)."""


class SmtpBackend:
    """Sends over SMTP, one recipient per transaction (E6), one connection per session."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        security: Security,
        username: str | None,
        password: str | None,
        timeout: float = 30,
        local_hostname: str | None = None,
    ):
        if security not in ("none", "starttls", "tls"):
            raise ValueError(f"unknown SMTP security {security!r}; expected none, starttls, tls")
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self.local_hostname = local_hostname

    def __repr__(self) -> str:
        return (f"SmtpBackend(host={self.host!r}, port={self.port}, security={self.security!r}, "
                f"username={self.username!r}, password={'***' if self._password else None})")

    @property
    def where(self) -> str:
        """``host:port`` for messages."""
        return f"{self.host}:{self.port}"

    def open(self) -> SmtpSession:
        """A session that connects on its first message and reconnects after a failure."""
        return SmtpSession(self)

    def send(self, mail: Mail) -> None:
        """Deliver one message in a session of its own."""
        session = self.open()
        try:
            session.send(mail)
        finally:
            session.close()

    def connect(self) -> smtplib.SMTP:
        """A connected, TLS-protected (if configured) and logged-in SMTP client, or
        ServerUnavailable."""
        client = self._client()
        try:
            client.connect(self.host, self.port)
            if self.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            client.ehlo_or_helo_if_needed()
            if self.username:
                client.login(self.username, self._password or "")
        except smtplib.SMTPAuthenticationError as err:
            client.close()
            raise ServerUnavailable(f"SMTP server {self.where} rejected our login: "
                                    f"{_reply_text(err.smtp_code, err.smtp_error)}; check the "
                                    "SMTP username and password") from err
        except smtplib.SMTPNotSupportedError as err:
            client.close()
            raise ServerUnavailable(f"SMTP server {self.where}: {err}; check the SMTP security "
                                    "and login settings") from err
        except (smtplib.SMTPException, OSError) as err:
            client.close()
            raise ServerUnavailable(f"could not connect to SMTP server {self.where}: "
                                    f"{_describe(err)}") from err
        return client

    def _client(self) -> smtplib.SMTP:
        """An unconnected client of the configured kind."""
        if self.security == "tls":
            return smtplib.SMTP_SSL(local_hostname=self.local_hostname, timeout=self.timeout,
                                    context=ssl.create_default_context())
        return smtplib.SMTP(local_hostname=self.local_hostname, timeout=self.timeout)


class _Stale(Exception):
    """A reused connection turned out to be closed before this message's transaction began."""


class SmtpSession:
    """One SMTP connection reused for a run of messages (RSET between failures), opened on
    the first message and again after any failure that left it unusable."""

    def __init__(self, backend: SmtpBackend):
        self.backend = backend
        self._client: smtplib.SMTP | None = None
        self._used = False  # has the open connection carried a transaction yet?

    def send(self, mail: Mail) -> None:
        """Deliver ``mail`` to its one recipient; MailError when not accepted."""
        if not (mail.sender + mail.recipient).isascii():
            raise MailError(f"cannot send to {mask_address(mail.recipient)}: addresses with "
                            "non-ASCII characters need SMTPUTF8, which this service does not "
                            "use", temporary=False)
        try:
            self._transact(mail)
        except _Stale:
            # The server closed an idle connection (a timeout between messages): that is
            # nobody's failure, so try once more on a new one.
            self._drop()
            self._transact(mail)

    def close(self) -> None:
        """End the session. The outcome of every message is already known, so a failing QUIT
        changes nothing (a message the server accepted would otherwise be sent again)."""
        client, self._client = self._client, None
        if client is None:
            return
        try:
            client.quit()
        except (smtplib.SMTPException, OSError):
            client.close()

    def _transact(self, mail: Mail) -> None:
        """MAIL, RCPT, DATA on the open connection (opening one if needed)."""
        reused = self._client is not None and self._used
        client = self._client or self._open()
        self._used = True
        try:
            code, reply = client.mail(mail.sender)
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            self._drop()
            if reused:
                raise _Stale from err
            raise self._dropped(err) from err
        self._check(client, code, reply, "sender address")
        try:
            code, reply = client.rcpt(mail.recipient)
            if code not in (250, 251):
                self._reset(client, code)
                raise RecipientRefused(_refusal("recipient", code, reply), code=code)
            code, reply = client.data(mail.data)
        except smtplib.SMTPDataError as err:  # DATA itself refused (no 354)
            self._reset(client, err.smtp_code)
            raise _response_error("message", err.smtp_code, err.smtp_error) from err
        except (smtplib.SMTPServerDisconnected, OSError) as err:
            self._drop()
            raise self._dropped(err) from err
        self._check(client, code, reply, "message")

    def _open(self) -> smtplib.SMTP:
        self._client = self.backend.connect()
        self._used = False
        return self._client

    def _check(self, client: smtplib.SMTP, code: int, reply: bytes, what: str) -> None:
        """MailError unless ``code`` is 250; the connection is reset for the next message."""
        if code != 250:
            self._reset(client, code)
            raise _response_error(what, code, reply)

    def _reset(self, client: smtplib.SMTP, code: int) -> None:
        """Abandon the transaction (RSET), or the connection when the server is closing it
        (421) or RSET fails."""
        if code == 421:
            self._drop()
            return
        try:
            client.rset()
        except (smtplib.SMTPException, OSError):
            self._drop()

    def _drop(self) -> None:
        client, self._client = self._client, None
        if client is not None:
            client.close()

    def _dropped(self, err: BaseException) -> MailError:
        return MailError(f"SMTP server {self.backend.where} failed while sending: "
                         f"{_describe(err)}", temporary=True)


class FileBackend:
    """Writes each message to ``directory`` as ``<UTC time>-<Message-ID hash>.eml``.

    Sending the same Message-ID again replaces the earlier file instead of adding one, so a
    resend after a crash leaves one copy in the outbox folder."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"FileBackend(directory={str(self.directory)!r})"

    def open(self) -> FileBackend:
        """Files need no connection: the backend is its own session."""
        return self

    def close(self) -> None:
        """Nothing to close."""

    def send(self, mail: Mail) -> None:
        """Write ``mail`` atomically (temporary file, then rename); MailError on failure."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            _write_atomically(self._path_for(mail), mail.data)
        except OSError as err:
            raise MailError(f"could not write to the outbox folder {self.directory}: "
                            f"{_describe(err)}", temporary=True) from err

    def _path_for(self, mail: Mail) -> Path:
        """The file for this Message-ID: the existing one if it was written before."""
        if not mail.message_id.strip():
            raise ValueError("a message for the outbox needs a Message-ID")
        digest = hashlib.sha256(mail.message_id.strip().encode()).hexdigest()
        suffix = f"-{digest[:16]}.eml"
        for existing in self.directory.glob(f"*{suffix}"):
            return existing
        return self.directory / f"{_message_time(mail.data):%Y%m%dT%H%M%SZ}{suffix}"


def _write_atomically(target: Path, data: bytes) -> None:
    """Write ``data`` to ``target`` so that a reader sees the old file or the whole new one."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=".", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _message_time(data: bytes) -> datetime:
    """The message's Date in UTC, so a file name does not depend on when it was written."""
    try:
        date = BytesHeaderParser().parsebytes(data)["Date"]
        return parsedate_to_datetime(str(date)).astimezone(UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)


def _is_temporary_code(code: int) -> bool:
    """Is an SMTP reply code one that invites a retry? 4xx yes; anything but 5xx too."""
    return not 500 <= code < 600


def _response_error(what: str, code: int, reply: bytes | str) -> MailError:
    """A MailError for a refused sender or message, temporary for 4xx."""
    return MailError(_refusal(what, code, reply), temporary=_is_temporary_code(code))


def _refusal(what: str, code: int, reply: bytes | str) -> str:
    """``SMTP server refused <what>: 550 5.1.1 …`` with addresses masked."""
    return f"SMTP server refused {what}: {_reply_text(code, reply)}"


def _reply_text(code: int, reply: bytes | str) -> str:
    """An SMTP reply as one short line, with every e-mail address in it masked."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    text = " ".join(text.split())
    text = _ADDRESS.sub(lambda m: mask_address(m.group(0)), text)
    if len(text) > _REPLY_LIMIT:
        text = text[: _REPLY_LIMIT - 1] + "…"
    return f"{code} {text}".strip()


def _describe(err: BaseException) -> str:
    """The reason of a low-level error as one line, with addresses masked."""
    if isinstance(err, smtplib.SMTPResponseException):
        return _reply_text(err.smtp_code, err.smtp_error)
    reason = getattr(err, "strerror", None) or str(err) or type(err).__name__
    return _reply_text(0, reason).removeprefix("0 ")


def failure_of(error: MailError) -> SendFailure:
    """Whose failure ``error`` is, for the relay's decisions (mail.retry)."""
    if isinstance(error, ServerUnavailable):
        return SendFailure("server", True, str(error))
    if isinstance(error, RecipientRefused):
        return SendFailure("recipient", error.temporary, str(error))
    return SendFailure("message", error.temporary, str(error))
