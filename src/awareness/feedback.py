"""Reader feedback links: "Useful", "Not useful" under each item, "Tell us more" under each
message (issue 17). Pure: the secret comes in as an argument.

A link is ``{base_url}/feedback/{token}`` (``/useful`` or ``/not-useful`` after it for an
item). The token is signed with itsdangerous under the service's secret key, with a salt of
its own so that no other token of the service (a session, a confirmation) is ever taken for
one, and it names one reader and one thing: an item (with the topic it was shown under), or
one message for "Tell us more". Changing any part of it breaks the signature, so a reader
cannot answer for another reader or another item. It carries ids only, never an address.

Feedback links do not expire: a reader may answer weeks later, and a link only ever records
that reader's own answer (RELIABILITY E11: such tokens should outlive the mail's reading).
Mail gateways fetch every link, so a GET only shows a page; its form's POST records.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from functools import lru_cache

from itsdangerous import BadSignature, URLSafeSerializer
from itsdangerous.encoding import base64_encode

from awareness.links import own_link

SALT = "awareness feedback v1"
USEFUL = "useful"
NOT_USEFUL = "not_useful"
ANSWERS = (USEFUL, NOT_USEFUL)
# The answer as it reads in a link's last path segment.
ANSWER_PATHS = {"useful": USEFUL, "not-useful": NOT_USEFUL}
COMMENT_LIMIT = 2000  # characters of a reader's comment kept


@dataclass(frozen=True)
class FeedbackTarget:
    """What one feedback link is about: a reader and an item (shown under ``topic``), or a
    reader and one message (``message_key``, its outbox key) for "Tell us more"."""

    subscriber_id: int
    item_id: int | None = None
    topic: str | None = None
    message_key: str | None = None

    @property
    def key(self) -> str:
        """The thing answered, unique per reader: ``item:<id>`` or ``message:<key>``."""
        return f"item:{self.item_id}" if self.item_id is not None else f"message:{self.message_key}"


@dataclass(frozen=True)
class ItemFeedbackLinks:
    """The two links under one item for one reader."""

    useful: str
    not_useful: str


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


@lru_cache(maxsize=4)
def _signing_key(secret: str) -> bytes:
    """itsdangerous's key for our salt (its signer's default derivation, "django-concat")."""
    return hashlib.sha1(SALT.encode() + b"signer" + secret.encode()).digest()


def _sign(secret: str, payload: list[object]) -> str:
    """What ``URLSafeSerializer(secret, salt=SALT).dumps(payload)`` signs, without its
    per-call key derivation and compression attempt: a digest signs two links for every item
    it shows, and these were a tenth of building one (docs/performance.md). The payload stays
    uncompressed, which itsdangerous reads like any other; a test holds the two together."""
    body = base64_encode(json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
                         .encode())
    signature = base64_encode(hmac.new(_signing_key(secret), body, hashlib.sha1).digest())
    return (body + b"." + signature).decode("ascii")


def item_token(secret: str, subscriber_id: int, item_id: int, topic: str) -> str:
    """The token of a reader's feedback on one item, shown under ``topic``."""
    return _sign(secret, ["i", int(subscriber_id), int(item_id), topic])


def message_token(secret: str, subscriber_id: int, message_key: str) -> str:
    """The token of a reader's "Tell us more" on one message (its outbox key)."""
    return _sign(secret, ["m", int(subscriber_id), message_key])


def item_feedback_urls(base_url: str, secret: str, subscriber_id: int, item_id: int,
                       topic: str) -> ItemFeedbackLinks:
    """The "Useful" and "Not useful" links of one item for one reader: what any mail that
    shows items (digests, bulletins) puts under each."""
    base = f"/feedback/{item_token(secret, subscriber_id, item_id, topic)}"
    return ItemFeedbackLinks(useful=own_link(base_url, f"{base}/useful"),
                             not_useful=own_link(base_url, f"{base}/not-useful"))


def message_feedback_url(base_url: str, secret: str, subscriber_id: int,
                         message_key: str) -> str:
    """The "Tell us more" link of one message for its reader."""
    return own_link(base_url, f"/feedback/{message_token(secret, subscriber_id, message_key)}")


def read_token(secret: str, token: str) -> FeedbackTarget | None:
    """What ``token`` is about, or None when it is not one of ours, was altered, or was
    signed for another purpose."""
    try:
        payload = _serializer(secret).loads(token)
    except (BadSignature, ValueError, UnicodeError):
        return None
    return _target(payload)


def _target(payload: object) -> FeedbackTarget | None:
    if not isinstance(payload, list) or not payload:
        return None
    match payload:
        case ["i", int(reader), int(item), str(topic)] if reader > 0 and item > 0:
            return FeedbackTarget(reader, item_id=item, topic=topic)
        case ["m", int(reader), str(key)] if reader > 0 and key:
            return FeedbackTarget(reader, message_key=key)
    return None


def clean_comment(text: str) -> str:
    """A reader's comment as kept: trimmed, at most ``COMMENT_LIMIT`` characters."""
    return text.strip()[:COMMENT_LIMIT]


@dataclass(frozen=True)
class StoredAnswer:
    """A reader's answer as stored: ``answer`` is useful, not_useful or None (a comment
    only); the last one given counts."""

    answer: str | None
    comment: str
