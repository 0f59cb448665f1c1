"""Mail backends (shell): hand a rendered message to an SMTP server or to an outbox folder.

A backend's ``send`` returns only when the message was accepted (the SMTP server answered 250
to DATA, or the ``.eml`` file is in place); otherwise it raises ``MailError``. ``temporary``
says whether trying again later may succeed: 4xx replies, network failures, timeouts and
problems with our own server settings (login, TLS) are temporary; a 5xx reply to the
recipient, the sender or the message is not. ``RecipientRefused`` marks a refusal of the
address itself, which is the only failure that says something about the subscriber
(RELIABILITY.md E4, E5). Errors never contain a full e-mail address.
"""

from __future__ import annotations

import hashlib
import os
import re
import smtplib
import ssl
import tempfile
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Literal, Protocol

from awareness.digests.render import MAIL_POLICY, mask_address
from awareness.errors import MailError

Security = Literal["none", "starttls", "tls"]
_ADDRESS = re.compile(r"[^\s<>@]+@[^\s<>@]+")
_REPLY_LIMIT = 200


class RecipientRefused(MailError):
    """The server refused the recipient address (RCPT TO); ``code`` is its reply code.

    A 5xx refusal is a hard bounce for the subscriber; a 4xx one is temporary."""

    def __init__(self, message: str, *, code: int):
        self.code = code
        super().__init__(message, temporary=_is_temporary_code(code))


class MailBackend(Protocol):
    """Something that can deliver one message, or raise ``MailError`` saying why not."""

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message``; return only once it has been accepted."""


class SmtpBackend:
    """Sends each message in its own SMTP session, one recipient per transaction (E6)."""

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

    def send(self, message: EmailMessage) -> None:
        """Deliver ``message`` to its one ``To`` address; MailError when not accepted."""
        sender, recipient = envelope(message)
        if not (sender + recipient).isascii():
            raise MailError(f"cannot send to {mask_address(recipient)}: addresses with non-ASCII "
                            "characters need SMTPUTF8, which this service does not use",
                            temporary=False)
        # Serialised with our policy whatever the message's own: a digest read back from the
        # outbox with policy.default would otherwise get its List-Unsubscribe folded.
        data = message.as_bytes(policy=MAIL_POLICY)
        session = self._open()
        try:
            refused = self._transact(session, sender, recipient, data)
        finally:
            _quit_quietly(session)
        if refused:  # one recipient, so this only happens with a non-conforming server
            code, reply = next(iter(refused.values()))
            raise RecipientRefused(_refusal("recipient", code, reply), code=code)

    @property
    def _where(self) -> str:
        """``host:port`` for messages."""
        return f"{self.host}:{self.port}"

    def _open(self) -> smtplib.SMTP:
        """A connected, TLS-protected (if configured) and logged-in session, or MailError."""
        session = self._session()
        try:
            session.connect(self.host, self.port)
            if self.security == "starttls":
                session.starttls(context=ssl.create_default_context())
                session.ehlo()
            if self.username:
                session.login(self.username, self._password or "")
        except smtplib.SMTPAuthenticationError as err:
            session.close()
            raise MailError(f"SMTP server {self._where} rejected our login: "
                            f"{_reply_text(err.smtp_code, err.smtp_error)}; check the SMTP "
                            "username and password", temporary=True) from err
        except smtplib.SMTPNotSupportedError as err:
            session.close()
            raise MailError(f"SMTP server {self._where}: {err}; check the SMTP security and "
                            "login settings", temporary=True) from err
        except (smtplib.SMTPException, OSError) as err:
            session.close()
            raise MailError(f"could not connect to SMTP server {self._where}: {_describe(err)}",
                            temporary=True) from err
        return session

    def _session(self) -> smtplib.SMTP:
        """An unconnected session of the configured kind."""
        if self.security == "tls":
            return smtplib.SMTP_SSL(local_hostname=self.local_hostname, timeout=self.timeout,
                                    context=ssl.create_default_context())
        return smtplib.SMTP(local_hostname=self.local_hostname, timeout=self.timeout)

    def _transact(
        self, session: smtplib.SMTP, sender: str, recipient: str, data: bytes
    ) -> dict[str, tuple[int, bytes]]:
        """One MAIL/RCPT/DATA transaction; the refused-recipients dict, or MailError."""
        try:
            return session.sendmail(sender, [recipient], data)
        except smtplib.SMTPRecipientsRefused as err:
            code, reply = next(iter(err.recipients.values()))
            raise RecipientRefused(_refusal("recipient", code, reply), code=code) from err
        except smtplib.SMTPSenderRefused as err:
            raise _response_error("sender address", err) from err
        except smtplib.SMTPDataError as err:
            raise _response_error("message", err) from err
        except (smtplib.SMTPException, OSError) as err:
            raise MailError(f"SMTP server {self._where} failed while sending: {_describe(err)}",
                            temporary=True) from err


class FileBackend:
    """Writes each message to ``directory`` as ``<UTC time>-<Message-ID hash>.eml``.

    Sending the same Message-ID again replaces the earlier file instead of adding one, so a
    resend after a crash leaves one copy in the outbox."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)

    def __repr__(self) -> str:
        return f"FileBackend(directory={str(self.directory)!r})"

    def send(self, message: EmailMessage) -> None:
        """Write ``message`` atomically (temporary file, then rename); MailError on failure."""
        envelope(message)
        data = message.as_bytes(policy=MAIL_POLICY)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            target = self._path_for(message)
            _write_atomically(target, data)
        except OSError as err:
            raise MailError(f"could not write to the outbox folder {self.directory}: "
                            f"{_describe(err)}", temporary=True) from err

    def _path_for(self, message: EmailMessage) -> Path:
        """The file for this Message-ID: the existing one if it was written before."""
        message_id = str(message["Message-ID"] or "").strip()
        if not message_id:
            raise ValueError("a message for the outbox needs a Message-ID")
        digest = hashlib.sha256(message_id.encode()).hexdigest()
        suffix = f"-{digest[:16]}.eml"
        for existing in self.directory.glob(f"*{suffix}"):
            return existing
        return self.directory / f"{_message_time(message):%Y%m%dT%H%M%SZ}{suffix}"


def envelope(message: EmailMessage) -> tuple[str, str]:
    """The SMTP envelope (sender, the one recipient) of ``message``; ValueError when the
    message does not have exactly one ``To`` address and no Cc or Bcc (E6: one recipient
    per transaction keeps staff addresses out of each other's headers)."""
    if message["Cc"] or message["Bcc"]:
        raise ValueError("a digest must not have Cc or Bcc recipients")
    recipients = [addr for _, addr in getaddresses(message.get_all("To", [])) if addr]
    if len(recipients) != 1:
        raise ValueError(f"a digest needs exactly one To address, not {len(recipients)}")
    sender = parseaddr(str(message["From"] or ""))[1]
    if not sender:
        raise ValueError("a digest needs a From address")
    return sender, recipients[0]


def _quit_quietly(session: smtplib.SMTP) -> None:
    """End the session. The outcome is already known, so a failing QUIT must not change it
    (a message the server accepted would otherwise be reported as failed and sent again)."""
    try:
        session.quit()
    except (smtplib.SMTPException, OSError):
        session.close()


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


def _message_time(message: EmailMessage) -> datetime:
    """The message's Date in UTC, so a file name does not depend on when it was written."""
    try:
        return parsedate_to_datetime(str(message["Date"])).astimezone(UTC)
    except (TypeError, ValueError):
        return datetime.now(UTC)


def _is_temporary_code(code: int) -> bool:
    """Is an SMTP reply code one that invites a retry? 4xx yes; anything but 5xx too."""
    return not 500 <= code < 600


def _response_error(what: str, err: smtplib.SMTPResponseException) -> MailError:
    """A MailError for a refused sender or message, temporary for 4xx."""
    return MailError(_refusal(what, err.smtp_code, err.smtp_error),
                     temporary=_is_temporary_code(err.smtp_code))


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
