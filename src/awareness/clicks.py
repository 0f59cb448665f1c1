"""Click counting, when a library turns it on (``[mail] track_clicks``; issue 17). Pure.

An item's link in a digest becomes ``{base_url}/click/{token}``: the token is signed with
itsdangerous under the service's secret key (a salt of its own) and holds the reader, the
item and the publisher's URL. The redirect goes only to the URL inside a token we signed, and
only when it is an http(s) link: there is no parameter a stranger could fill with another
address, so the link is no open redirect (OWASP "Unvalidated Redirects and Forwards").

Mail gateways (Safe Links, Defender, Mimecast) open every link as a message arrives, so a
click is counted only when ``is_counted`` says so: not within ``ignore_seconds`` of the
delivery, and not from a user agent known to belong to a scanner. Each reader counts once per
item (the storage's unique key).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from itsdangerous import BadSignature, URLSafeSerializer

from awareness.links import is_safe_link

SALT = "awareness click v1"
# Substrings (lower case) of user agents that fetch links for a gateway, a preview or a
# script, not for a person. Safe Links and Defender often send a browser's user agent; the
# delivery-time window catches those.
SCANNER_AGENTS = (
    "bingpreview", "microsoft office", "ms-office", "safelinks", "safe links", "mimecast",
    "proofpoint", "barracuda", "forcepoint", "symantec", "messagelabs", "trendmicro",
    "fireeye", "sophos", "zscaler", "cisco", "ironport", "google-safety", "googleimageproxy",
    "slackbot", "twitterbot", "facebookexternalhit", "linkedinbot", "skypeuripreview",
    "whatsapp", "headlesschrome", "phantomjs", "python-requests", "python-httpx",
    "python-urllib", "aiohttp", "curl/", "wget/", "go-http-client", "java/", "okhttp",
    "libwww-perl", "bot", "crawler", "spider", "scanner", "preview",
)


@dataclass(frozen=True)
class Click:
    """What a click link names: a reader, an item, and where it goes."""

    subscriber_id: int
    item_id: int
    url: str


@dataclass(frozen=True)
class Opened:
    """A reader's counted click, as their export gives it: the item (its title, None once
    the item was deleted) and when."""

    item_id: int
    title: str | None
    clicked_at: datetime

    def as_json(self) -> dict[str, object]:
        """The click as JSON-ready values."""
        return {"item": self.item_id, "title": self.title, "at": self.clicked_at.isoformat()}


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


def click_url(base_url: str, secret: str, subscriber_id: int, item_id: int, url: str) -> str:
    """The counted link to ``url`` (an http(s) link) for one reader and item."""
    if not is_safe_link(url):
        raise ValueError("only http and https links are counted")
    token = _serializer(secret).dumps(["c", int(subscriber_id), int(item_id), url])
    return f"{base_url.rstrip('/')}/click/{token}"


def read_click(secret: str, token: str) -> Click | None:
    """What ``token`` names, or None when we did not sign it (for this purpose) or its
    target is not an http(s) link."""
    try:
        payload = _serializer(secret).loads(token)
    except (BadSignature, ValueError, UnicodeError):
        return None
    match payload:
        case ["c", int(reader), int(item), str(url)] if reader > 0 and item > 0 and \
                is_safe_link(url):
            return Click(reader, item, url)
    return None


def is_scanner(user_agent: str) -> bool:
    """Does ``user_agent`` belong to a gateway, a link preview or a script? An empty one
    does too: every browser sends one."""
    agent = user_agent.casefold()
    return not agent.strip() or any(name in agent for name in SCANNER_AGENTS)


def is_counted(*, user_agent: str, delivered_at: datetime | None, now: datetime,
               ignore_seconds: int) -> bool:
    """Is this request a reader's click? Not a scanner's, and not within ``ignore_seconds``
    of the delivery (when it is known: a mail sent outside the outbox's digests has none)."""
    too_soon = (delivered_at is not None
                and (now - delivered_at).total_seconds() <= ignore_seconds)
    return not (too_soon or is_scanner(user_agent))
