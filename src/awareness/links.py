"""Link normalisation and the URL scheme allow-list (pure).

Two links that differ only in scheme case, host case, default port, tracking parameters
(``utm_*`` and friends), a fragment or a trailing slash point at the same document; their
normalised forms are equal. Item identity and driver linking both compare normalised links.
"""

from __future__ import annotations

import re
from functools import lru_cache
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

# Query parameters that only track the reader; dropping them never changes the document.
TRACKING_PARAMS = frozenset(
    {"fbclid", "gclid", "mc_cid", "mc_eid", "dm_i", "_hsenc", "_hsmi", "mkt_tok", "ref", "cmpid"}
)
SAFE_SCHEMES = frozenset({"http", "https"})
_USERINFO = re.compile(r"(?<=//)[^/?#@\s]*@")
# No URL holds a space or an ASCII control character as it is. urlsplit strips them from
# the start and browsers skip them, so "\x01http://…" would pass as http and be stored as
# given: a link with any of them is refused, not cleaned.
_NOT_IN_A_LINK = re.compile("[\x00-\x20\x7f]")


class OwnLink(str):
    """A link to the service itself, made by ``own_link``: its checked base URL and a path of
    the service's own making. Mail templates take it as it is (``safe_url``) instead of
    parsing it again, which they do for every link a feed or a person wrote."""


@lru_cache(maxsize=8)
def _checked_base(base_url: str) -> str:
    if not is_safe_link(base_url):
        raise ValueError(f"not an absolute http(s) URL: {base_url!r}")
    return base_url.rstrip("/")


_OWN_PATH = re.compile(r"(?:/[A-Za-z0-9._~-]+)+")


def own_link(base_url: str, path: str) -> OwnLink:
    """``base_url`` + ``path`` (segments of unreserved characters only), as an ``OwnLink``;
    ValueError for a base that is not an absolute http(s) URL or any other path."""
    if not _OWN_PATH.fullmatch(path):
        raise ValueError(f"not a path of the service's own: {path!r}")
    return OwnLink(_checked_base(base_url) + path)


def is_safe_link(url: str | None) -> bool:
    """Is ``url`` an absolute http(s) URL that may be rendered as a clickable link?"""
    if not url or _NOT_IN_A_LINK.search(url):
        return False
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises for a port that is not a number in 0-65535
    except ValueError:
        return False
    return parts.scheme.lower() in SAFE_SCHEMES and bool(parts.hostname)


def normalise_link(url: str) -> str:
    """The canonical form of an http(s) URL, for comparing links (not for fetching)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    port = parts.port
    netloc = host if port in (None, 80, 443) else f"{host}:{port}"
    path = parts.path.rstrip("/") or "/"
    query = urlencode(
        sorted(
            (k, v)
            for k, v in parse_qsl(parts.query, keep_blank_values=True)
            if not k.lower().startswith("utm_") and k.lower() not in TRACKING_PARAMS
        )
    ) if parts.query else ""  # most links have none: parsing nothing costs a third of this
    # http and https name the same document for every publisher we know.
    if scheme == "http":
        scheme = "https"
    return urlunsplit((scheme, netloc, path, query, ""))


def redact_url(text: str) -> str:
    """``text`` (a URL or a message quoting one) without ``user:password@`` credentials (F19)."""
    return _USERINFO.sub("", text)
