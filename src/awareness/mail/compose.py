"""Composing an e-mail (pure): the one way every message of the service is built.

Digests, the stewardship lists, the source report, and the confirmation and bulletin mails to
come are all composed by ``compose``: one recipient, our own From, Date and Message-ID,
``Auto-Submitted``, header text made safe (RELIABILITY.md E13), ``multipart/alternative`` with
the plain text first and the HTML second (E12), and the list headers (List-Id,
List-Unsubscribe, List-Unsubscribe-Post) for the kinds that have them. The result is a
``Mail``: the SMTP envelope and the message serialised once, as the bytes the outbox stores
and the relay sends unchanged. docs/email.md says why each header is there.

Headers that carry text (From and To display names, Subject) are encoded by the ``email``
package's header registry, so non-ASCII becomes RFC 2047 encoded-words; the bodies are
quoted-printable, encoded here in a few regular-expression passes rather than by the ``email``
package's per-line Python loop (docs/performance.md), with lines of at most 76 characters as
RFC 2045 §6.7 asks (the ``email`` package writes 78).
"""

from __future__ import annotations

import codecs
import email.policy
import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.utils import format_datetime
from functools import lru_cache
from urllib.parse import urlsplit

from awareness.digests.build import short_summary
from awareness.links import is_safe_link

# Headers a receiver compares or a relay signs byte for byte: folding List-Unsubscribe broke
# DKIM at relays (RELIABILITY.md E15, nodemailer #1654), and the stdlib folds a long
# URL by turning it into RFC 2047 encoded-words, which no client would read as a URL.
UNFOLDED_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post", "message-id"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
QP_LINE = 76  # RFC 2045 §6.7: encoded lines of at most 76 characters
_MESSAGE_ID = re.compile(r"<[!-;=?-~]+@[A-Za-z0-9.-]+>")
_DOMAIN = re.compile(r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*")
_ID_PART = re.compile(r"[A-Za-z0-9-]{1,100}")
_NOT_ID_PART = re.compile(r"[^A-Za-z0-9-]+")
_LIST_ID = re.compile(r"<[A-Za-z0-9.-]+>")
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_DOT_ATOM_ADDRESS = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*")
# Quoted-printable in a few passes in C (docs/performance.md): "=" replaced first (HTML is full
# of them); non-ASCII characters by a codec error handler, called once per run of them; the
# rest only when present: ASCII controls but TAB and LF, and a space or TAB at the end of a
# line, which a relay may strip.
_QP_ERRORS = "awareness-quoted-printable"
_QP_PRINTABLE = bytes([9, 10, *range(32, 127)])
_QP_CONTROL = re.compile(rb"[^\t\n -~]|[\t ](?=\n|\Z)")
_QP_HEX = {bytes([byte]): b"=%02X" % byte for byte in range(256)}
# The longest piece of an encoded line up to 75 characters that does not end inside an
# "=XX" escape (the only "=" in encoded text starts one).
_QP_PIECE = re.compile(rb".{1,%d}(?<!=)(?<!=.)" % (QP_LINE - 1), re.DOTALL)


class _MailPolicy(email.policy.EmailPolicy):
    """``email.policy.SMTP``, except that ``UNFOLDED_HEADERS`` stay on one line as written."""

    def fold(self, name: str, value: str) -> str:
        """A header as text, folded unless it is one of ``UNFOLDED_HEADERS``."""
        if name.lower() in UNFOLDED_HEADERS:
            return f"{name}: {value}{self.linesep}"
        return super().fold(name, value)

    def fold_binary(self, name: str, value: str) -> bytes:
        """A header as bytes, folded unless it is one of ``UNFOLDED_HEADERS``."""
        if name.lower() in UNFOLDED_HEADERS:
            return f"{name}: {value}{self.linesep}".encode("ascii")
        return super().fold_binary(name, value)


MAIL_POLICY = _MailPolicy(linesep="\r\n")
"""The ``email`` policy of our messages; use it to parse stored bytes without refolding."""


@dataclass(frozen=True)
class Sender:
    """Who the service's mail comes from: the ``From`` address and display name."""

    address: str
    name: str


@dataclass(frozen=True)
class ListHeaders:
    """A mailing list's identity (RFC 2919) and its one-click unsubscribe URL (RFC 8058)."""

    list_id: str  # "<digests.library.example.nhs.uk>"
    name: str  # the List-Id's phrase, e.g. the sender's name
    unsubscribe_url: str


@dataclass(frozen=True)
class Mail:
    """A composed message: the SMTP envelope (one sender, one recipient) and its bytes (CRLF
    line ends, 7-bit), exactly as they are to be sent."""

    sender: str
    recipient: str
    message_id: str
    data: bytes


def compose(*, sender: Sender, to: str, subject: str, text: str, message_id: str,
            date: datetime, html: str | None = None, to_name: str = "",
            list_headers: ListHeaders | None = None) -> Mail:
    """One message to ``to``: ``text`` alone, or ``text`` then ``html`` as alternatives.

    ``subject`` and the names may hold anything (feed text included): they are cleaned and
    capped here. ``to`` must be one plain ASCII address and ``message_id`` our
    ``<left@domain>``, else ValueError; ``date`` must be timezone-aware and is written in its
    own offset.
    """
    if date.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    lines = [
        address_header("From", clean_header_text(sender.name), sender.address),
        address_header("To", clean_header_text(to_name), one_address(to)),
        _text_header("Subject", clean_header_text(subject)),
        f"Date: {format_datetime(date)}\r\n",
        f"Message-ID: {checked_message_id(message_id)}\r\n",
        *(_list_lines(list_headers) if list_headers else ()),
        "Auto-Submitted: auto-generated\r\n",  # RFC 3834: no auto-replies to this
        # Exchange/Outlook ignore Auto-Submitted; this asks them not to send out-of-office
        # replies. Bounces (NDRs) are still wanted, so not "All".
        "X-Auto-Response-Suppress: OOF, AutoReply\r\n",
        "MIME-Version: 1.0\r\n",
    ]
    head = "".join(lines).encode("ascii")
    body = _alternatives(text, html, message_id) if html is not None else _part(text, "plain")
    return Mail(sender=sender.address, recipient=to, message_id=message_id, data=head + body)


def clean_header_text(s: str, limit: int = 150) -> str:
    """``s`` made safe for a header value: CR, LF, NUL, other controls and bidi overrides
    removed (no header injection, RELIABILITY.md E13), whitespace collapsed, length capped."""
    return short_summary(s, limit) if s else ""


def mask_address(addr: str) -> str:
    """An address as logs and errors may show it: ``alice@example.org`` → ``a…@example.org``."""
    local, at, domain = addr.strip().rpartition("@")
    if not at:
        return "…"
    return f"{local[:1]}…@{domain}"


def one_address(addr: str) -> str:
    """``addr`` if it is one plain address, else ValueError (never several, never injected)."""
    if (
        clean_header_text(addr, 320) != addr
        or addr.count("@") != 1
        or any(ch in addr for ch in ",;<>\"() ")
    ):
        raise ValueError(f"not a single e-mail address: {mask_address(addr)!r}")
    if not addr.isascii():  # would need SMTPUTF8 (RFC 6531) all the way to the mailbox
        raise ValueError(f"non-ASCII e-mail addresses are not supported: {mask_address(addr)!r}")
    return addr


def message_id(*parts: str | int, domain: str) -> str:
    """Our Message-ID, ``<part.part…@domain>``: the same parts always give the same ID, so a
    resend after a crash is recognisable as the same mail (RELIABILITY.md E3). Each part is
    letters, digits and hyphens (at most 100; ``key_parts`` splits a key into such parts),
    the domain a host name; ValueError otherwise, naming what was wrong."""
    domain = domain.strip().lower()
    if not _DOMAIN.fullmatch(domain):
        raise ValueError(f"not a domain name for Message-ID: {domain!r}")
    texts = [str(int(part)) if isinstance(part, int) else part for part in parts]
    bad = [text for text in texts if not _ID_PART.fullmatch(text)]
    if not texts or bad:
        raise ValueError(f"not a Message-ID part: {bad[0] if bad else ''!r}")
    return f"<{'.'.join(texts)}@{domain}>"


def key_parts(key: str) -> list[str]:
    """An outbox key (``"sources.toml/3f2a…"``) as Message-ID parts: split at every run of
    other characters than letters, digits and hyphens."""
    return [part for part in _NOT_ID_PART.split(key) if part]


def checked_message_id(message_id: str) -> str:
    """``message_id`` if it has the ``<left@domain>`` shape, else ValueError."""
    if not _MESSAGE_ID.fullmatch(message_id):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    return message_id


def check_unsubscribe_url(url: str) -> None:
    """One-click unsubscribe needs https (RFC 8058 §3.1); plain http only for a local demo."""
    if not (is_safe_link(url) and url.isascii() and len(url) <= 900):
        raise ValueError("unsubscribe URL must be an absolute ASCII http(s) URL")
    parts = urlsplit(url)
    if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError("unsubscribe URL must use https (RFC 8058)")


def quoted_printable(text: str) -> bytes:
    """``text`` as a UTF-8, quoted-printable body with CRLF line ends, ending in one line end
    (the line ends of ``text`` may be LF, CRLF or CR)."""
    body = text.replace("\r\n", "\n").replace("\r", "\n").removesuffix("\n")
    data = body.replace("=", "=3D").encode("ascii", _QP_ERRORS)
    if data.translate(None, _QP_PRINTABLE) or data.endswith((b" ", b"\t")) or (
            b" \n" in data or b"\t\n" in data):
        data = _QP_CONTROL.sub(_qp_escape, data)
    lines = data.split(b"\n")
    for at, line in enumerate(lines):
        if len(line) > QP_LINE:
            lines[at] = b"=\r\n".join(_soft_breaks(line))
    return b"\r\n".join(lines) + b"\r\n"


def _qp_non_ascii(error: UnicodeError) -> tuple[str, int]:
    """The codec error handler: a run of non-ASCII characters as "=XX" escapes of UTF-8."""
    if not isinstance(error, UnicodeEncodeError):
        raise error
    run = error.object[error.start:error.end].encode("utf-8")
    return "=" + run.hex("=").upper(), error.end


codecs.register_error(_QP_ERRORS, _qp_non_ascii)


def _qp_escape(match: re.Match[bytes]) -> bytes:
    return _QP_HEX[match.group()]


def _soft_breaks(line: bytes) -> list[bytes]:
    """An encoded line cut into pieces for soft line breaks ("=" and a line end after each but
    the last): at most 75 characters each, so at most 76 with the "=", never cut inside an
    "=XX" escape; the last may be 76, as a line that fits is never cut."""
    pieces = _QP_PIECE.findall(line)
    if len(pieces) > 1 and len(pieces[-2]) + len(pieces[-1]) <= QP_LINE:
        pieces[-2:] = [pieces[-2] + pieces[-1]]
    return pieces


def address_header(name: str, display_name: str, address: str) -> str:
    """``name: display name <address>`` as the ``email`` header registry writes it.

    A bare dot-atom address that fits on a line is written as it is, which is what the
    registry would write (a test holds the two together); the registry parses its input, a
    tenth of a millisecond a header, so the other forms are remembered (the sender's is in
    every mail), and it still refuses what is not an address.
    """
    if (not display_name and len(name) + 2 + len(address) <= 78  # the policy's line length
            and _DOT_ATOM_ADDRESS.fullmatch(address)):
        return f"{name}: {address}\r\n"
    return _registry_address_header(name, display_name, address)


@lru_cache(maxsize=1024)
def _registry_address_header(name: str, display_name: str, address: str) -> str:
    return _registry_header(name, Address(display_name, addr_spec=address))


@lru_cache(maxsize=1024)
def _text_header(name: str, value: str) -> str:
    """An unstructured header through the ``email`` header registry: RFC 2047 for non-ASCII,
    folded; remembered, since the same subject goes to everyone who follows a topic."""
    return _registry_header(name, value)


def _registry_header(name: str, value: str | Address) -> str:
    return str(MAIL_POLICY.header_factory(name, value).fold(policy=MAIL_POLICY))


def _list_lines(headers: ListHeaders) -> list[str]:
    """List-Id (RFC 2919) and one-click unsubscribe (RFC 2369, RFC 8058)."""
    if not _LIST_ID.fullmatch(headers.list_id):
        raise ValueError(f"List-Id must look like <name.example.org>: {headers.list_id!r}")
    check_unsubscribe_url(headers.unsubscribe_url)
    return [_text_header("List-Id", f"{clean_header_text(headers.name)} {headers.list_id}"),
            f"List-Unsubscribe: <{headers.unsubscribe_url}>\r\n",
            "List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"]


def _part(text: str, subtype: str) -> bytes:
    """A text part: its headers, a blank line, the quoted-printable body."""
    return (f'Content-Type: text/{subtype}; charset="utf-8"\r\n'
            "Content-Transfer-Encoding: quoted-printable\r\n\r\n").encode("ascii") + (
        quoted_printable(text))


def _alternatives(text: str, html: str, message_id: str) -> bytes:
    """``multipart/alternative``: plain text first, then HTML (clients show the last part
    they can render). The boundary comes from the Message-ID, so the same message composes to
    the same bytes; quoted-printable never writes "==", so no body can contain it."""
    number = int.from_bytes(hashlib.sha256(message_id.encode()).digest()[:8]) % 10**19
    boundary = f"{'=' * 15}{number:019d}=="
    return b"".join([
        f'Content-Type: multipart/alternative;\r\n boundary="{boundary}"\r\n\r\n'
        f"--{boundary}\r\n".encode("ascii"),
        _part(text, "plain"),
        f"\r\n--{boundary}\r\n".encode("ascii"),
        _part(html, "html"),
        f"\r\n--{boundary}--\r\n".encode("ascii"),
    ])
