"""The link that lets a subscriber download or erase their data, e-mailed to their own
address (pure).

The preference link in every mail is permanent, and mails get forwarded ("see item 3"). With
it anyone may change or stop what is sent, as mailing lists allow (RFC 8058), but a copy of the
person's data (UK GDPR art. 15) and its erasure (art. 17) are the person's own rights: the
preference page only mails a link for them to the subscriber's address, so they are exercised
by whoever holds that mailbox.

The link is ``{base_url}/your-data/{token}``. The token is signed with itsdangerous under the
service's secret key, with a salt of its own so that no other token of the service is taken
for one, and names the subscriber, the action, a fingerprint of their preference token and
when it was issued. It works for ``LIFETIME``, counted from that time rather than from
itsdangerous's timestamp, which reads the wall clock: ``now`` comes in as an argument, as
everywhere in the core. It stops working once the subscriber is erased, or their preference
token is another one (someone given an erased subscriber's id later, as SQLite does, has
another token). It carries ids only, never an address.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from awareness.links import own_link

SALT = "awareness data link v1"
DOWNLOAD = "download"
ERASE = "erase"
ACTIONS = (DOWNLOAD, ERASE)
LIFETIME = timedelta(hours=1)


@dataclass(frozen=True)
class DataLink:
    """What a data link names: a subscriber (with the fingerprint of their preference token
    when it was sent), what it does, and when it was issued."""

    subscriber_id: int
    action: str
    fingerprint: str
    issued_at: datetime

    def is_for(self, preference_token: str) -> bool:
        """Was it sent to the holder of ``preference_token`` (the subscriber it names now)?"""
        return self.fingerprint == fingerprint(preference_token)


def fingerprint(preference_token: str) -> str:
    """What a data link keeps of the preference token: enough to tell another one apart,
    not enough to be one."""
    return hashlib.sha256(preference_token.encode()).hexdigest()[:16]


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


def data_link_token(secret: str, subscriber_id: int, preference_token: str, action: str,
                    now: datetime) -> str:
    """The token of a link for the subscriber to ``action`` (``DOWNLOAD`` or ``ERASE``)
    their data, issued ``now``."""
    if action not in ACTIONS:
        raise ValueError(f"no such action: {action}")
    return _serializer(secret).dumps(
        ["d", int(subscriber_id), action, fingerprint(preference_token),
         int(now.timestamp())])


def data_link_url(base_url: str, token: str) -> str:
    """The link that opens the page of a data link's token."""
    return own_link(base_url, f"/your-data/{token}")


def read_data_link(secret: str, token: str, now: datetime) -> DataLink | None:
    """What ``token`` names, or None when we did not sign it (for this purpose), it was
    altered, or it is older than ``LIFETIME`` at ``now``."""
    try:
        payload = _serializer(secret).loads(token)
    except (BadSignature, ValueError, UnicodeError):
        return None
    match payload:
        case ["d", int(subscriber_id), str(action), str(print_), int(issued)] \
                if subscriber_id > 0 and action in ACTIONS:
            issued_at = datetime.fromtimestamp(issued, UTC)
            return (DataLink(subscriber_id, action, print_, issued_at)
                    if now - issued_at <= LIFETIME else None)
    return None
