"""A digest's own page, "View in browser": the reference and signature in its link (pure).

The link is ``{base_url}/digest/{ref}/{signature}``. ``ref`` names the stored digest by its
outbox key, written for a URL (``42-weekly-2026-W48`` for ``42/weekly:2026-W48``): the key
is known when the message is composed, before the outbox row (and its id) exists, and the
message is composed once and never rewritten (docs/email.md). ``signature`` is HMAC-SHA256
of the purpose and the ref under the service's secret key, so nobody can guess another
reader's digest from their own link, and a signature made for anything else (a session, a
token) never opens a digest. Checking compares in constant time.
"""

from __future__ import annotations

import base64
import email.policy
import hashlib
import hmac
import re
from email.errors import MessageError
from email.parser import BytesParser

from awareness.mail.outbox import digest_key

_PURPOSE = b"awareness digest view v1\x00"
_REF = re.compile(r"([1-9][0-9]{0,17})-(daily|weekly)-([0-9]{4}-(?:W[0-9]{2}|[0-9]{2}-[0-9]{2}))")


def digest_ref(subscriber_id: int, period_key: str) -> str:
    """The URL form of a digest's outbox key: ``42-weekly-2026-W48``."""
    ref = f"{int(subscriber_id)}-{period_key.replace(':', '-', 1)}"
    if not _REF.fullmatch(ref):
        raise ValueError(f"not a digest period key: {period_key!r}")
    return ref


def outbox_key_of(ref: str) -> str | None:
    """The outbox key ``ref`` stands for (``42/weekly:2026-W48``), or None if it is not one."""
    found = _REF.fullmatch(ref)
    if found is None:
        return None
    subscriber, frequency, period = found.groups()
    return digest_key(int(subscriber), f"{frequency}:{period}")


def signature(secret: str, ref: str) -> str:
    """The link's signature of ``ref``: HMAC-SHA256 under ``secret``, bound to its purpose,
    in unpadded URL-safe base64 (43 characters)."""
    mac = hmac.new(secret.encode(), _PURPOSE + ref.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode("ascii")


def is_signed(secret: str, ref: str, given: str) -> bool:
    """Is ``given`` the signature of ``ref``? Compared in constant time."""
    return hmac.compare_digest(signature(secret, ref).encode(), given.encode("utf-8", "replace"))


def view_url(base_url: str, secret: str, subscriber_id: int, period_key: str) -> str:
    """The "View in browser" link of a subscriber's digest for a period."""
    ref = digest_ref(subscriber_id, period_key)
    return f"{base_url.rstrip('/')}/digest/{ref}/{signature(secret, ref)}"


def html_part(message: bytes) -> str | None:
    """The HTML part of a stored message, as the reader's client shows it; None when it has
    none. The bytes are parsed, never rendered again: the page is the mail that was sent."""
    try:
        parsed = BytesParser(policy=email.policy.default).parsebytes(message)
        body = parsed.get_body(("html",))
        return body.get_content() if body is not None else None
    except (MessageError, LookupError, ValueError):
        return None
