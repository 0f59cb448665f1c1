"""Fetching a source over HTTP (shell): the one module that talks to publishers.

Every limit here answers a measured fault (RELIABILITY.md §2):

* SSRF: only http(s); every address a host resolves to must be global unicast, also when
  wrapped in IPv4-mapped, 6to4, Teredo or NAT64 form, unless the host is allow-listed. The
  check runs when each connection is opened, on the same resolution the socket then uses, so
  redirects and DNS rebinding cannot reach an address that was not checked (F17, F18).
* A total wall-clock deadline around the whole fetch, because httpx timeouts are per
  operation and a server dripping bytes is never cut off by them (finding 8); every socket
  wait is also cut to what is left of it, so a server that accepts and never answers does
  not outlast it either (F21).
* Content-Encoding is undone by ``sources.decoding`` from ``iter_raw()`` with a bounded
  ``decompressobj``, so a gzip bomb never decodes past the size cap (finding 9); only gzip
  and deflate are advertised.
* Redirects are followed by hand (at most ``max_redirects``, never https → http); no proxies
  from the environment, no cookies, no Referer (F20, F22).
* Conditional GET sends the stored validators back byte-identical (F7).
"""

from __future__ import annotations

import email.utils
import functools
import ipaddress
import re
import socket
import ssl
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Literal

import httpcore
import httpx

from awareness.errors import AddressNotAllowed, FetchError
from awareness.links import redact_url
from awareness.sources.decoding import BoundedDecoder, too_large
from awareness.sources.policy import FetchPolicy, Resolver, system_resolver

ACCEPT = ("application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, "
          "*/*;q=0.5")
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PERMANENT_REDIRECTS = frozenset({301, 308})
STANDARD_PORTS = frozenset({80, 443})
RETRY_AFTER_CAP = 24 * 60 * 60.0
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class Validators:
    """The cache validators a server sent, kept verbatim for the next conditional GET."""

    etag: str | None = None
    last_modified: str | None = None


@dataclass(frozen=True)
class FetchResult:
    """A successful fetch: a body to parse, or "not modified" with an empty body."""

    status: Literal["ok", "not_modified"]
    url: str
    body: bytes
    content_type: str | None
    validators: Validators
    http_status: int
    # Where the first hops' permanent redirects (301/308) led, if any (RELIABILITY F11).
    permanent_url: str | None = None
    # How long the server says the response stays fresh (Cache-Control max-age, else Expires),
    # seconds: the next check is never sooner (issue 16).
    max_age: float | None = None


# --- addresses (SSRF) ------------------------------------------------------------------------


def is_public_address(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """May we connect to ``ip``? Only global unicast, looking inside IPv4-in-IPv6 forms."""
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            candidates = [ip.ipv4_mapped]
        elif ip.sixtofour:
            candidates = [ip.sixtofour]
        elif ip.teredo:
            candidates = list(ip.teredo)
        elif ip in _NAT64:
            candidates = [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
    # 224.0.0.0/4 counts as "global" in ipaddress, so multicast is excluded by name.
    return all(c.is_global and not c.is_multicast for c in candidates)


def _host_key(host: str) -> str:
    return host.strip("[]").lower().rstrip(".")


def _resolve(host: str, port: int, resolver: Resolver) -> list[str]:
    try:
        return [str(ipaddress.ip_address(host.strip("[]")))]
    except ValueError:
        pass
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError) as exc:
        raise FetchError(f"could not connect: {host} was not found ({_lookup_failure(exc)})"
                         ) from exc
    if not addresses:
        raise FetchError(f"could not connect: {host} was not found")
    return addresses


# What the resolver's commonest failures mean, for the librarian who reads a source's last
# error ("[Errno -2] Name or service not known" says it only to those who know the C library).
_LOOKUP_FAILURES = {
    socket.EAI_NONAME: "no such name in DNS: check the address, and that this server can "
                       "reach its DNS",
    socket.EAI_AGAIN: "DNS did not answer; it is asked again at the next check",
    getattr(socket, "EAI_NODATA", None): "the name has no address in DNS",
}


def _lookup_failure(exc: BaseException) -> str:
    if isinstance(exc, socket.gaierror) and exc.errno in _LOOKUP_FAILURES:
        return _LOOKUP_FAILURES[exc.errno]
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[:1].lower() + exc.strerror[1:]
    return _one_line(exc)


_ALLOWING = "[fetch] allowed_hosts (AWARENESS_FETCH_ALLOWED_HOSTS)"  # the setting that lets one


def _checked_addresses(host: str, port: int, policy: FetchPolicy, resolver: Resolver) -> list[str]:
    """``host``'s addresses, all of them allowed by the policy, or ``AddressNotAllowed``."""
    addresses = _resolve(host, port, resolver)
    if _host_key(host) in {_host_key(h) for h in policy.allowed_hosts}:
        return addresses
    if port not in STANDARD_PORTS:
        # Other ports reach admin consoles and internal services on public hosts (F19).
        raise AddressNotAllowed(f"port {port} not allowed: only 80 and 443, unless {host} is "
                                f"in {_ALLOWING}")
    for address in addresses:
        try:
            allowed = is_public_address(ipaddress.ip_address(address))
        except ValueError:
            allowed = False
        if not allowed:
            raise AddressNotAllowed(f"address not allowed: {host} resolves to {address}, "
                                    f"which is not a public address (unless {host} is in "
                                    f"{_ALLOWING})")
    return addresses


def _target(url: str) -> tuple[str, int]:
    """The host and port of a URL we may fetch (http or https only)."""
    try:
        parsed = httpx.URL(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except (httpx.InvalidURL, TypeError, ValueError) as exc:
        raise FetchError("not a valid URL", url=url) from exc
    if parsed.scheme not in ("http", "https"):
        scheme = f"{parsed.scheme}:" if parsed.scheme else "no scheme"
        raise FetchError(f"only http and https URLs can be fetched (got {scheme})", url=url)
    host = parsed.raw_host.decode("ascii")
    if not host or not 0 < port < 65536:
        raise FetchError("not a valid URL", url=url)
    return host, port


def check_url_allowed(url: str, *, policy: FetchPolicy,
                      resolver: Resolver = system_resolver) -> None:
    """Raise unless ``url`` is http(s) and its host resolves only to allowed addresses.

    ``AddressNotAllowed`` for a forbidden address; ``FetchError`` for another scheme, a
    malformed URL or a host that does not resolve. Usable when a librarian saves a source.
    """
    host, port = _target(url)
    try:
        _checked_addresses(host, port, policy, resolver)
    except FetchError as exc:
        exc.url = url
        raise


def _within(timeout: float | None, deadline: float) -> float:
    """``timeout``, cut to what is left until ``deadline`` (a ``time.monotonic()`` value)."""
    left = max(deadline - time.monotonic(), 0.001)
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every wait ends by the fetch's total deadline."""

    def __init__(self, inner: httpcore.NetworkStream, deadline: float):
        self._inner = inner
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _within(timeout, self._deadline))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _within(timeout, self._deadline))

    def close(self) -> None:
        self._inner.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        inner = self._inner.start_tls(ssl_context, server_hostname,
                                      _within(timeout, self._deadline))
        return _DeadlineStream(inner, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class _CheckedBackend(httpcore.NetworkBackend):
    """Opens sockets only to addresses the policy accepted, from that same resolution, and
    never waits on them past the fetch's deadline."""

    def __init__(self, policy: FetchPolicy, resolver: Resolver, deadline: float):
        self._policy = policy
        self._resolver = resolver
        self._deadline = deadline
        self._inner = httpcore.SyncBackend()

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = _checked_addresses(host, port, self._policy, self._resolver)
        for address in addresses[:-1]:
            try:
                return _DeadlineStream(self._inner.connect_tcp(
                    address, port, _within(timeout, self._deadline), local_address,
                    socket_options), self._deadline)
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue
        return _DeadlineStream(self._inner.connect_tcp(
            addresses[-1], port, _within(timeout, self._deadline), local_address,
            socket_options), self._deadline)

    def sleep(self, seconds: float) -> None:
        self._inner.sleep(seconds)


class _CheckedTransport(httpx.HTTPTransport):
    """httpx's own transport, connecting through ``_CheckedBackend``."""

    def __init__(self, backend: httpcore.NetworkBackend):
        super().__init__(verify=_ssl_context(), trust_env=False)
        # httpx 0.28 cannot be handed a network backend; swap in a pool built with ours.
        self._pool = httpcore.ConnectionPool(ssl_context=_ssl_context(), network_backend=backend)


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """One verifying TLS context for every fetch (loading the CA bundle is not free)."""
    return httpx.create_ssl_context(trust_env=False)


# --- status and headers ----------------------------------------------------------------------


def parse_retry_after(value: str | None, *, now: datetime) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (seconds or HTTP date), in [0, 24 h].

    None when the header is missing or unreadable, so the caller uses its own backoff.
    """
    value = (value or "").strip()
    if not value:
        return None
    if re.fullmatch(r"[0-9]+", value):
        # int() refuses very long digit strings; anything that long is past the cap anyway.
        return RETRY_AFTER_CAP if len(value) > 9 else min(float(value), RETRY_AFTER_CAP)
    try:
        when = email.utils.parsedate_to_datetime(value)
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)  # HTTP dates are GMT (RFC 9110 §5.6.7)
        seconds = (when - now).total_seconds()
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return max(0.0, min(seconds, RETRY_AFTER_CAP))


def parse_freshness(cache_control: str | None, expires: str | None, date: str | None, *,
                    now: datetime) -> float | None:
    """Seconds a response stays fresh, in [0, 24 h]: ``Cache-Control: max-age`` (unless
    ``no-cache`` or ``no-store``), else ``Expires`` minus ``Date`` (or now); None when the
    server says nothing usable."""
    directives = [d.strip().lower() for d in (cache_control or "").split(",") if d.strip()]
    if any(d in ("no-cache", "no-store") for d in directives):
        return None
    for directive in directives:
        name, _, value = directive.partition("=")
        if name == "max-age" and value.strip('"').isdigit():
            return min(float(value.strip('"')[:9]), RETRY_AFTER_CAP)
    if not expires:
        return None
    try:
        until = email.utils.parsedate_to_datetime(expires)
        since = email.utils.parsedate_to_datetime(date) if date else now
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    until = until if until.tzinfo else until.replace(tzinfo=UTC)
    since = since if since.tzinfo else since.replace(tzinfo=UTC)
    return max(0.0, min((until - since).total_seconds(), RETRY_AFTER_CAP))


def _freshness(response: httpx.Response) -> float | None:
    headers = response.headers
    return parse_freshness(headers.get("cache-control"), headers.get("expires"),
                           headers.get("date"), now=datetime.now(UTC))


def _raw_header(response: httpx.Response, name: bytes) -> str | None:
    """A header value exactly as sent (latin-1 keeps every byte), or None when blank."""
    for key, value in response.headers.raw:
        if key.lower() == name:
            return value.decode("latin-1") or None
    return None


def _validators_from(response: httpx.Response, fallback: Validators) -> Validators:
    return Validators(
        etag=_raw_header(response, b"etag") or fallback.etag,
        last_modified=_raw_header(response, b"last-modified") or fallback.last_modified,
    )


def _header_bytes(value: str | None) -> bytes | None:
    if not value or any(ch in value for ch in "\r\n\0"):
        return None
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        return None


def _conditional_headers(validators: Validators) -> dict[bytes, bytes]:
    headers = {}
    etag = _header_bytes(validators.etag)
    last_modified = _header_bytes(validators.last_modified)
    if etag:
        headers[b"If-None-Match"] = etag
    if last_modified:
        headers[b"If-Modified-Since"] = last_modified
    return headers


def _status_error(response: httpx.Response, url: str) -> FetchError:
    status = response.status_code
    if status == 410:
        return FetchError("gone (410)", url=url, gone=True, status=status)
    if status in (429, 503):
        label = "too many requests" if status == 429 else "service unavailable"
        retry_after = parse_retry_after(response.headers.get("retry-after"),
                                        now=datetime.now(UTC))
        return FetchError(f"{label} ({status})", url=url, retry_after=retry_after,
                          status=status)
    if status == 403 and "cf-mitigated" in response.headers:
        return FetchError("blocked by bot protection (403)", url=url, status=status)
    return FetchError(f"HTTP {status}", url=url, status=status)


# --- the fetch -------------------------------------------------------------------------------


def _one_line(exc: BaseException) -> str:
    return redact_url(" ".join(str(exc).split())[:200]) or type(exc).__name__


def _network_error(exc: httpx.TransportError, policy: FetchPolicy,
                   deadline: float) -> FetchError:
    if isinstance(exc, httpx.TimeoutException) and time.monotonic() >= deadline:
        return FetchError(f"timeout after {policy.total_timeout:g} s (total)")
    if isinstance(exc, httpx.ConnectTimeout):
        return FetchError(f"timeout connecting to the server (after {policy.connect_timeout:g} s)")
    if isinstance(exc, httpx.TimeoutException):
        return FetchError(f"timeout waiting for the server (no data for {policy.read_timeout:g} s)")
    if isinstance(exc, httpx.RemoteProtocolError):
        return FetchError("could not connect: the server broke off the response "
                          f"({_one_line(exc)})")
    return FetchError(f"could not connect: {_one_line(exc)}")


@contextmanager
def _translated_errors(url: str, policy: FetchPolicy, deadline: float) -> Iterator[None]:
    """httpx's exceptions as one-sentence ``FetchError``s carrying the URL."""
    url = redact_url(url)
    try:
        yield
    except FetchError as exc:
        exc.url = redact_url(exc.url or url)
        raise
    except httpx.TransportError as exc:
        error = _network_error(exc, policy, deadline)
        error.url = url
        raise error from exc
    except httpx.InvalidURL as exc:
        raise FetchError("not a valid URL", url=url) from exc


def _client(policy: FetchPolicy, resolver: Resolver, deadline: float) -> httpx.Client:
    never_store = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))
    return httpx.Client(
        transport=_CheckedTransport(_CheckedBackend(policy, resolver, deadline)),
        trust_env=False,
        follow_redirects=False,
        cookies=never_store,
        timeout=httpx.Timeout(connect=policy.connect_timeout, read=policy.read_timeout,
                              write=policy.read_timeout, pool=policy.connect_timeout),
        headers={"User-Agent": policy.user_agent, "Accept": ACCEPT,
                 "Accept-Encoding": "gzip, deflate"},
    )


def _check_deadline(deadline: float, policy: FetchPolicy) -> None:
    if time.monotonic() > deadline:
        raise FetchError(f"timeout after {policy.total_timeout:g} s (total)")


def _read_body(response: httpx.Response, policy: FetchPolicy, deadline: float) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > policy.max_bytes:
        raise too_large(policy.max_bytes)
    decoder = BoundedDecoder(response.headers.get("content-encoding"), policy.max_bytes)
    parts = []
    for chunk in response.iter_raw():
        _check_deadline(deadline, policy)
        parts.append(decoder.feed(chunk))
    parts.append(decoder.finish())
    return b"".join(parts)


def _redirect_target(response: httpx.Response, current: str) -> str | None:
    location = response.headers.get("location")
    if response.status_code not in REDIRECT_STATUSES or not location:
        return None
    target = response.url.join(location)
    if response.url.scheme == "https" and target.scheme == "http":
        raise FetchError("redirect from https to http refused", url=current)
    return str(target.copy_with(fragment=None))


def _outcome(response: httpx.Response, url: str, validators: Validators, policy: FetchPolicy,
             deadline: float) -> FetchResult:
    status = response.status_code
    content_type = response.headers.get("content-type")
    if status == 304:
        return FetchResult("not_modified", url, b"", content_type,
                           _validators_from(response, validators), status,
                           max_age=_freshness(response))
    if not 200 <= status < 300:
        raise _status_error(response, url)
    body = _read_body(response, policy, deadline)
    return FetchResult("ok", url, body, content_type, _validators_from(response, Validators()),
                       status, max_age=_freshness(response))


def fetch(url: str, *, validators: Validators, policy: FetchPolicy,
          resolver: Resolver = system_resolver) -> FetchResult:
    """GET ``url`` under ``policy``, conditionally on ``validators``.

    Returns the body (status "ok", with the new validators) or "not_modified". Raises
    ``FetchError`` with one sentence for the source-health page (``gone`` set for 410,
    ``retry_after`` for 429/503) and ``AddressNotAllowed`` before connecting anywhere the
    SSRF policy forbids, also when a redirect leads there.
    """
    deadline = time.monotonic() + policy.total_timeout
    current, permanent, moved = url, True, None
    with _client(policy, resolver, deadline) as client:
        for _hop in range(policy.max_redirects + 1):
            with _translated_errors(current, policy, deadline):
                _target(current)
                _check_deadline(deadline, policy)
                request = client.build_request("GET", current,
                                               headers=_conditional_headers(validators))
                response = client.send(request, stream=True)
                try:
                    target = _redirect_target(response, current)
                    if target is None:
                        result = _outcome(response, current, validators, policy, deadline)
                        return replace(result, permanent_url=moved)
                    permanent = permanent and response.status_code in PERMANENT_REDIRECTS
                    moved = target if permanent else moved
                finally:
                    response.close()
            current = target
    raise FetchError("too many redirects", url=redact_url(url))
