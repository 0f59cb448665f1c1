"""Rendering a digest as an e-mail (pure: Jinja2 and the ``email`` package, no sending).

Every string that came from a feed is hostile (RELIABILITY.md E13, E14): titles and summaries
reach the HTML part only through autoescaping, reach headers only through
``clean_header_text``, and become links only when ``awareness.links.is_safe_link`` allows it.
See docs/email.md for the headers and why each is there.
"""

from __future__ import annotations

import email.policy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import jinja2
from markupsafe import Markup

from awareness.digests.build import (
    MONTHS,
    Digest,
    DigestEntry,
    period_label,
    short_summary,
    visible_text,
)
from awareness.links import is_safe_link
from awareness.topics.highlight import highlight

SUBJECT_TEMPLATE = "digest/subject.txt"
TEXT_TEMPLATE = "digest/body.txt"
HTML_TEMPLATE = "digest/body.html"
# Headers a receiver compares or a relay signs byte for byte: folding List-Unsubscribe broke
# DKIM at relays (RELIABILITY.md E15, nodemailer #1654), and the stdlib folds a long
# URL by turning it into RFC 2047 encoded-words, which no client would read as a URL.
UNFOLDED_HEADERS = frozenset({"list-unsubscribe", "list-unsubscribe-post", "message-id"})
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
_DOMAIN = re.compile(r"^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$")
_PERIOD = re.compile(r"^(daily|weekly):[0-9W-]+$")


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
"""The policy of every digest; use it too when parsing stored digest bytes to resend them."""


@dataclass(frozen=True)
class MailIdentity:
    """Who digests come from: sender, list identity (RFC 2919), Message-ID domain, web app."""

    from_addr: str
    from_name: str
    list_id: str
    domain: str
    base_url: str


def make_environment(template_dir: Path) -> jinja2.Environment:
    """The Jinja2 environment for mail templates: escaping everything but ``*.txt``.

    Escaping is decided by name with a default of *on* (RELIABILITY.md finding 10: the usual
    ``select_autoescape`` leaves unknown extensions unescaped). Only names ending in ``.txt``
    are plain text, because escaping ``&`` there would show ``&amp;`` to the reader.
    """
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(template_dir),
        autoescape=is_autoescaped,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        safe_url=safe_url, local_date=local_date, one_line=one_line, shorten=short_summary,
        marked_summary=marked_summary,
    )
    return env


# Outlook's Word engine ignores <mark>'s default style, so the colour is given inline.
_MARK = Markup('<mark style="background-color:#fff2a8;color:#212b32;">')


def marked_summary(entry: DigestEntry, limit: int = 300) -> Markup:
    """The entry's summary as escaped HTML, matched words in ``<mark>``, cut to a snippet
    around the first hit when it is long."""
    text = visible_text(entry.summary)
    marked = highlight(text, entry.hits, "summary", max_chars=limit)
    return Markup(str(marked).replace("<mark>", str(_MARK)))


def is_autoescaped(template_name: str | None) -> bool:
    """Does a template of this name get HTML autoescaping? Yes, unless it ends in ``.txt``."""
    return not (template_name or "").endswith(".txt")


def safe_url(url: str | None, base: str | None = None) -> str:
    """``url`` if it may become a link (absolute http/https), else "". A path starting with
    "/" is taken relative to ``base`` (the web app's address)."""
    if url and base and url.startswith("/") and not url.startswith("//"):
        url = base.rstrip("/") + url
    return url if url and is_safe_link(url) else ""


def local_date(value: datetime | None, tz: ZoneInfo) -> str:
    """``value`` as a date in ``tz``, e.g. ``26 November 2026``; "" for None.

    Month names come from a table rather than ``strftime`` so output does not depend on the
    process locale."""
    if value is None:
        return ""
    local = value.astimezone(tz)
    return f"{local.day} {MONTHS[local.month - 1]} {local.year}"


def one_line(text: str, limit: int = 300) -> str:
    """Feed text for a title line: no line breaks, control or bidi characters, capped."""
    return short_summary(text, limit)


def clean_header_text(s: str, limit: int = 150) -> str:
    """``s`` made safe for a header value: CR, LF, NUL, other controls and bidi overrides
    removed (no header injection, RELIABILITY.md E13), whitespace collapsed, length capped."""
    return short_summary(s, limit) if s else ""


def message_id_for(period_key: str, subscriber_id: int, domain: str) -> str:
    """The Message-ID of a subscriber's digest for a period: the same inputs always give the
    same ID, so a resend after a crash is recognisable as the same mail (E3)."""
    domain = domain.strip().lower()
    if not _DOMAIN.match(domain):
        raise ValueError(f"not a domain name for Message-ID: {domain!r}")
    if not _PERIOD.match(period_key):
        raise ValueError(f"not a digest period key: {period_key!r}")
    # ":" is not allowed in the left part of a Message-ID (RFC 5322 dot-atom-text).
    return f"<digest.{period_key.replace(':', '-')}.{int(subscriber_id)}@{domain}>"


def mask_address(addr: str) -> str:
    """An address as logs and errors may show it: ``alice@example.org`` → ``a…@example.org``."""
    local, at, domain = addr.strip().rpartition("@")
    if not at:
        return "…"
    return f"{local[:1]}…@{domain}"


def render_digest(
    digest: Digest,
    *,
    env: jinja2.Environment,
    identity: MailIdentity,
    to_addr: str,
    unsubscribe_url: str,
    message_id: str,
    now: datetime,
    tz: ZoneInfo,
    subscribed_topics: Sequence[str] = (),
) -> EmailMessage:
    """The digest as a ``multipart/alternative`` message (text first, then HTML).

    ``subscribed_topics`` names all the subscriber's topics for the footer; it defaults to the
    topics that have entries.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    _check_unsubscribe_url(unsubscribe_url)
    context = _context(digest, identity, unsubscribe_url, tz, subscribed_topics)
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = Address(clean_header_text(identity.from_name), addr_spec=identity.from_addr)
    message["To"] = Address(addr_spec=_one_address(to_addr))
    message["Subject"] = clean_header_text(env.get_template(SUBJECT_TEMPLATE).render(context))
    message["Date"] = format_datetime(now.astimezone(tz))
    message["Message-ID"] = _checked_message_id(message_id)
    _add_list_headers(message, identity, unsubscribe_url)
    message.set_content(
        env.get_template(TEXT_TEMPLATE).render(context) + "\n",
        subtype="plain", charset="utf-8", cte="quoted-printable",
    )
    message.add_alternative(
        env.get_template(HTML_TEMPLATE).render(context) + "\n",
        subtype="html", charset="utf-8", cte="quoted-printable",
    )
    for part in message.iter_parts():
        del part["MIME-Version"]  # belongs on the message only; add_alternative copies it
    return message


def _context(
    digest: Digest,
    identity: MailIdentity,
    unsubscribe_url: str,
    tz: ZoneInfo,
    subscribed_topics: Sequence[str],
) -> dict[str, Any]:
    """Everything the three templates may use; feed text stays raw here and is cleaned in them."""
    entries = digest.entries
    return {
        "digest": digest,
        "sections": digest.sections,
        "frequency": digest.frequency,
        "period": period_label(digest.period_key),
        "count": digest.entry_count,
        "topics": list(subscribed_topics) or list(digest.topic_names),
        "section_topics": list(digest.topic_names),
        "lead_title": clean_header_text(digest.best_entry.title, 90),
        "preview": clean_header_text(" · ".join(e.title for e in entries[:3]), 150),
        "identity": identity,
        "unsubscribe_url": unsubscribe_url,
        "tz": tz,
    }


def _add_list_headers(message: EmailMessage, identity: MailIdentity, unsubscribe_url: str) -> None:
    """List-Id (RFC 2919), one-click unsubscribe (RFC 2369, RFC 8058) and auto-reply hints."""
    if not re.fullmatch(r"<[A-Za-z0-9.-]+>", identity.list_id):
        raise ValueError(f"List-Id must look like <name.example.org>: {identity.list_id!r}")
    message["List-Id"] = f"{clean_header_text(identity.from_name)} {identity.list_id}"
    message["List-Unsubscribe"] = f"<{unsubscribe_url}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies to this
    # Exchange/Outlook ignore Auto-Submitted; this asks them not to send out-of-office
    # replies. Bounces (NDRs) are still wanted, so not "All".
    message["X-Auto-Response-Suppress"] = "OOF, AutoReply"


def _one_address(addr: str) -> str:
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


def _checked_message_id(message_id: str) -> str:
    """``message_id`` if it has the ``<left@domain>`` shape, else ValueError."""
    if not re.fullmatch(r"<[!-;=?-~]+@[A-Za-z0-9.-]+>", message_id):
        raise ValueError(f"not a Message-ID: {message_id!r}")
    return message_id


def _check_unsubscribe_url(url: str) -> None:
    """One-click unsubscribe needs https (RFC 8058 §3.1); plain http only for a local demo."""
    if not (is_safe_link(url) and url.isascii() and len(url) <= 900):
        raise ValueError("unsubscribe URL must be an absolute ASCII http(s) URL")
    parts = urlsplit(url)
    if parts.scheme != "https" and parts.hostname not in LOOPBACK_HOSTS:
        raise ValueError("unsubscribe URL must use https (RFC 8058)")
