"""The fetcher against a real HTTP server on 127.0.0.1 that misbehaves on purpose (F1-F22).

SSRF cases use an injected resolver; the only sockets opened go to loopback listeners, and
the forbidden addresses are only ever checked, never connected to.
"""

from __future__ import annotations

import contextlib
import gzip
import socket
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awareness.errors import AddressNotAllowed, FetchError
from awareness.sources.fetch import (
    RETRY_AFTER_CAP,
    FetchPolicy,
    Validators,
    check_url_allowed,
    fetch,
    parse_retry_after,
)

FIXTURE_TIERS = {"server": "integration"}  # tiers of this module's fixtures (conftest.py)

FEED = b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>'
UA = "awareness-test/1.0 (+https://awareness.example/about)"
MiB = 1024 * 1024


# --- a scriptable HTTP server on loopback ----------------------------------------------------

Route = Callable[[BaseHTTPRequestHandler], None]


@dataclass
class Seen:
    path: str
    headers: list[tuple[str, str]]

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


@dataclass
class Server:
    port: int = 0
    routes: dict[str, Route] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    # Set when the test ends: a route that hangs waits for it, so it never answers within any
    # deadline a test sets (a hang of a few seconds would be a race with the client).
    finished: threading.Event = field(default_factory=threading.Event)

    def hang(self, handler: BaseHTTPRequestHandler) -> None:
        self.finished.wait()
        handler.close_connection = True

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


def send(handler: BaseHTTPRequestHandler, status: int, headers: dict[str, str] | None = None,
         body: bytes = b"", *, length: int | None = None) -> None:
    """Write a whole response by hand, so tests control every byte."""
    lines = [f"HTTP/1.1 {status} X"] + [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines += [f"Content-Length: {len(body) if length is None else length}", "Connection: close"]
    handler.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    handler.wfile.flush()
    handler.close_connection = True


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        app: Server = self.server.app  # type: ignore[attr-defined]
        app.seen.append(Seen(self.path, list(self.headers.items())))
        route = app.routes.get(self.path)
        if route is None:
            send(self, 404)
            return
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            route(self)  # a client giving up mid-response is what some tests are about

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[Server]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    httpd.daemon_threads = True
    app = Server(port=httpd.server_address[1])
    httpd.app = app  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    yield app
    app.finished.set()
    httpd.shutdown()
    httpd.server_close()


def policy(**overrides: object) -> FetchPolicy:
    settings: dict[str, object] = {"user_agent": UA, "allowed_hosts": frozenset({"127.0.0.1"})}
    settings.update(overrides)
    return FetchPolicy(**settings)


def get(url: str, validators: Validators | None = None, **overrides: object):
    return fetch(url, validators=validators or Validators(), policy=policy(**overrides))


def no_resolver(host: str, port: int) -> list[str]:
    raise AssertionError(f"nothing should resolve {host}")


# --- success, validators, politeness ---------------------------------------------------------


def test_200_returns_body_type_and_validators(server: Server) -> None:
    server.routes["/feed"] = lambda h: send(h, 200, {
        "Content-Type": "application/rss+xml; charset=utf-8",
        "ETag": 'W/"abc-1"',
        "Last-Modified": "Sat, 24 Jan 2026 09:00:59 GMT",
    }, FEED)
    result = get(server.url("/feed"))
    assert result.status == "ok"
    assert result.http_status == 200
    assert result.body == FEED
    assert result.content_type == "application/rss+xml; charset=utf-8"
    assert result.url == server.url("/feed")
    assert result.validators == Validators('W/"abc-1"', "Sat, 24 Jan 2026 09:00:59 GMT")


def test_request_is_polite_and_advertises_only_gzip_and_deflate(server: Server) -> None:
    server.routes["/feed"] = lambda h: send(h, 200, {}, FEED)
    get(server.url("/feed"))
    (request,) = server.seen
    assert request.header("User-Agent") == UA
    assert request.header("Accept-Encoding") == "gzip, deflate"
    assert request.header("Referer") is None
    assert request.header("Cookie") is None
    assert request.header("If-None-Match") is None


def test_304_sends_validators_byte_identical_and_keeps_them(server: Server) -> None:
    etag, modified = 'W/"x"', "Sat, 24 Jan 2026 09:00:59 GMT"

    def conditional(h: BaseHTTPRequestHandler) -> None:
        fresh = h.headers["If-None-Match"] == etag and h.headers["If-Modified-Since"] == modified
        send(h, 304 if fresh else 200, {}, b"" if fresh else FEED)

    server.routes["/feed"] = conditional
    result = get(server.url("/feed"), Validators(etag, modified))
    assert result.status == "not_modified"
    assert result.http_status == 304
    assert result.body == b""
    assert result.validators == Validators(etag, modified)
    assert server.seen[0].header("If-None-Match") == 'W/"x"'


def test_304_with_a_new_last_modified_updates_that_validator(server: Server) -> None:
    server.routes["/feed"] = lambda h: send(h, 304, {"Last-Modified": "Sun, 25 Jan 2026 GMT"})
    result = get(server.url("/feed"), Validators('"e1"', "Sat, 24 Jan 2026 09:00:59 GMT"))
    assert result.validators == Validators('"e1"', "Sun, 25 Jan 2026 GMT")


def test_200_without_validators_forgets_the_old_ones(server: Server) -> None:
    server.routes["/feed"] = lambda h: send(h, 200, {}, FEED)
    result = get(server.url("/feed"), Validators('"old"', "Sat, 24 Jan 2026 09:00:59 GMT"))
    assert result.validators == Validators()


def test_cookies_set_on_a_redirect_are_not_sent_back(server: Server) -> None:
    server.routes["/a"] = lambda h: send(h, 302, {"Location": "/b", "Set-Cookie": "s=1; Path=/"})
    server.routes["/b"] = lambda h: send(h, 200, {}, FEED)
    assert get(server.url("/a")).body == FEED
    assert server.seen[1].header("Cookie") is None
    assert server.seen[1].header("Referer") is None


# --- compression and size limits (F4-F6) -----------------------------------------------------


def _zeros_gzipped(size: int) -> bytes:
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MiB)
    return b"".join(packer.compress(block) for _ in range(size // MiB)) + packer.flush()


def test_gzip_body_is_decoded(server: Server) -> None:
    server.routes["/feed"] = lambda h: send(h, 200, {"Content-Encoding": "gzip"},
                                            gzip.compress(FEED))
    assert get(server.url("/feed")).body == FEED


@pytest.mark.parametrize("wbits", [zlib.MAX_WBITS, -zlib.MAX_WBITS], ids=["zlib", "raw"])
def test_deflate_body_is_decoded_wrapped_or_raw(server: Server, wbits: int) -> None:
    packer = zlib.compressobj(6, zlib.DEFLATED, wbits)
    server.routes["/feed"] = lambda h: send(h, 200, {"Content-Encoding": "deflate"},
                                            packer.compress(FEED) + packer.flush())
    assert get(server.url("/feed")).body == FEED


def test_plain_body_labelled_gzip_is_passed_through(server: Server) -> None:
    server.routes["/feed"] = lambda h: send(h, 200, {"Content-Encoding": "gzip"}, FEED)
    assert get(server.url("/feed")).body == FEED


def test_double_gzip_is_decoded(server: Server) -> None:
    body = gzip.compress(gzip.compress(FEED))
    server.routes["/feed"] = lambda h: send(h, 200, {"Content-Encoding": "gzip, gzip"}, body)
    assert get(server.url("/feed")).body == FEED


def test_gzip_bomb_is_stopped_at_the_cap(server: Server) -> None:
    bomb = _zeros_gzipped(50 * MiB)
    server.routes["/bomb"] = lambda h: send(h, 200, {"Content-Encoding": "gzip"}, bomb)
    with pytest.raises(FetchError, match=rf"response too large \(limit {MiB} bytes\)"):
        get(server.url("/bomb"), max_bytes=MiB)


def test_corrupt_gzip_is_bad_compression(server: Server) -> None:
    broken = gzip.compress(FEED)[:12] + b"not deflate at all" * 4
    server.routes["/feed"] = lambda h: send(h, 200, {"Content-Encoding": "gzip"}, broken)
    with pytest.raises(FetchError, match="bad compression"):
        get(server.url("/feed"))


def test_gzip_stream_cut_short_is_bad_compression(server: Server) -> None:
    cut = gzip.compress(FEED * 50)[:-20]
    server.routes["/feed"] = lambda h: send(h, 200, {"Content-Encoding": "gzip"}, cut)
    with pytest.raises(FetchError, match="bad compression"):
        get(server.url("/feed"))


def test_oversize_chunked_body_without_length_is_stopped(server: Server) -> None:
    def chunked(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n")
        chunk = b"x" * 65536
        for _ in range(64):  # 4 MiB in all
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        h.wfile.write(b"0\r\n\r\n")
        h.close_connection = True

    server.routes["/big"] = chunked
    with pytest.raises(FetchError, match="response too large"):
        get(server.url("/big"), max_bytes=MiB)


def test_declared_oversize_length_is_refused_before_reading(server: Server) -> None:
    server.routes["/big"] = lambda h: send(h, 200, {}, b"x" * 100, length=2 * MiB)
    with pytest.raises(FetchError, match="response too large"):
        get(server.url("/big"), max_bytes=MiB)


def test_unadvertised_encoding_is_an_error(server: Server) -> None:
    server.routes["/feed"] = lambda h: send(h, 200, {"Content-Encoding": "br"}, b"\x0b\x02")
    with pytest.raises(FetchError, match=r"unsupported content encoding \(br\)"):
        get(server.url("/feed"))


# --- time limits and broken connections (F1-F3) ----------------------------------------------


def test_slow_drip_is_stopped_by_the_total_deadline(server: Server) -> None:
    def drip(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nConnection: close\r\n\r\n")
        while not server.finished.is_set():  # a byte every 0.3 s, far within the read timeout
            h.wfile.write(b"<")
            h.wfile.flush()
            time.sleep(0.3)

    server.routes["/drip"] = drip
    with pytest.raises(FetchError, match=r"timeout after 1\.5 s"):
        get(server.url("/drip"), total_timeout=1.5, read_timeout=30)


def test_server_that_never_answers_hits_the_read_timeout(server: Server) -> None:
    server.routes["/hang"] = server.hang
    with pytest.raises(FetchError, match="timeout waiting for the server"):
        get(server.url("/hang"), read_timeout=0.5)


def test_total_deadline_also_ends_the_wait_for_an_answer(server: Server) -> None:
    # The read timeout (20 s) is longer than the deadline: the deadline must still end it,
    # or 5 % hanging feeds outlast every bound on a polling run (F21).
    server.routes["/hang"] = server.hang
    with pytest.raises(FetchError, match=r"timeout after 0\.5 s \(total\)"):
        get(server.url("/hang"), total_timeout=0.5)


def test_total_deadline_also_ends_a_stall_mid_body(server: Server) -> None:
    def stall(h: BaseHTTPRequestHandler) -> None:
        h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n<rss")
        h.wfile.flush()
        server.hang(h)

    server.routes["/stall"] = stall
    with pytest.raises(FetchError, match=r"timeout after 0\.5 s \(total\)"):
        get(server.url("/stall"), total_timeout=0.5)


def test_truncated_body_is_an_error_not_a_short_body(server: Server) -> None:
    server.routes["/cut"] = lambda h: send(h, 200, {}, FEED[:50], length=1000)
    with pytest.raises(FetchError, match="could not connect: the server broke off the response"):
        get(server.url("/cut"))


@pytest.mark.integration
def test_refused_connection_is_one_clear_sentence() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError, match=r"^could not connect: ") as caught:
        get(f"http://127.0.0.1:{port}/feed")
    assert "\n" not in str(caught.value)
    assert caught.value.url == f"http://127.0.0.1:{port}/feed"


# --- redirects (F11, F13) --------------------------------------------------------------------


def test_redirect_is_followed_and_final_url_reported(server: Server) -> None:
    server.routes["/old"] = lambda h: send(h, 301, {"Location": "/new"})
    server.routes["/new"] = lambda h: send(h, 200, {}, FEED)
    result = get(server.url("/old"))
    assert result.body == FEED
    assert result.url == server.url("/new")


def test_redirect_loop_is_too_many_redirects(server: Server) -> None:
    server.routes["/loop"] = lambda h: send(h, 302, {"Location": "/loop"})
    with pytest.raises(FetchError, match="too many redirects"):
        get(server.url("/loop"), max_redirects=5)
    assert len(server.seen) == 6


def test_redirect_to_another_scheme_is_refused(server: Server) -> None:
    server.routes["/ftp"] = lambda h: send(h, 302, {"Location": "ftp://files.example/feed"})
    with pytest.raises(FetchError, match="only http and https"):
        get(server.url("/ftp"))


# --- status codes (F10, F14, F16) ------------------------------------------------------------


def test_410_is_gone(server: Server) -> None:
    server.routes["/feed"] = lambda h: send(h, 410)
    with pytest.raises(FetchError, match=r"gone \(410\)") as caught:
        get(server.url("/feed"))
    assert caught.value.gone


@pytest.mark.parametrize("status", [429, 503])
def test_rate_limit_carries_retry_after_seconds(server: Server, status: int) -> None:
    server.routes["/feed"] = lambda h: send(h, status, {"Retry-After": "120"})
    with pytest.raises(FetchError, match=f"\\({status}\\)") as caught:
        get(server.url("/feed"))
    assert caught.value.retry_after == 120
    assert not caught.value.gone


def test_rate_limit_with_an_http_date(server: Server) -> None:
    when = format_datetime(datetime.now(UTC) + timedelta(hours=1), usegmt=True)
    server.routes["/feed"] = lambda h: send(h, 429, {"Retry-After": when})
    with pytest.raises(FetchError) as caught:
        get(server.url("/feed"))
    assert caught.value.retry_after is not None
    assert 3000 < caught.value.retry_after <= 3600


def test_rate_limit_with_garbage_has_no_retry_after(server: Server) -> None:
    server.routes["/feed"] = lambda h: send(h, 503, {"Retry-After": "soon, promise"})
    with pytest.raises(FetchError) as caught:
        get(server.url("/feed"))
    assert caught.value.retry_after is None


def test_cloudflare_challenge_is_bot_protection(server: Server) -> None:
    server.routes["/feed"] = lambda h: send(h, 403, {"cf-mitigated": "challenge"}, b"<html>")
    with pytest.raises(FetchError, match=r"blocked by bot protection \(403\)"):
        get(server.url("/feed"))


@pytest.mark.parametrize("status", [403, 404, 500])
def test_other_errors_name_the_status(server: Server, status: int) -> None:
    server.routes["/feed"] = lambda h: send(h, status)
    with pytest.raises(FetchError, match=f"^HTTP {status}$"):
        get(server.url("/feed"))


NOW = datetime(2026, 1, 24, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize(("value", "expected"), [
    ("0", 0.0),
    ("120", 120.0),
    ("315360000", RETRY_AFTER_CAP),
    ("9" * 5000, RETRY_AFTER_CAP),
    ("Sat, 24 Jan 2026 13:00:00 GMT", 3600.0),
    ("Sat, 24 Jan 2026 11:00:00 GMT", 0.0),
    ("-5", None),
    ("1.5", None),
    ("tomorrow", None),
    ("", None),
    (None, None),
])
def test_parse_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, now=NOW) == expected


@given(st.text())
def test_retry_after_is_none_or_within_the_cap(value: str) -> None:
    delay = parse_retry_after(value, now=NOW)
    assert delay is None or 0.0 <= delay <= RETRY_AFTER_CAP


# --- SSRF (F17-F20) --------------------------------------------------------------------------

FORBIDDEN = ["127.0.0.1", "10.0.0.1", "169.254.169.254", "100.100.100.200", "::1",
             "::ffff:127.0.0.1", "fd00::1", "64:ff9b::a9fe:a9fe", "2002:a9fe:a9fe::", "0.0.0.0",
             "224.0.0.1", "192.168.1.1", "172.16.0.1"]


def resolving_to(*addresses: str) -> Callable[[str, int], list[str]]:
    return lambda host, port: list(addresses)


@pytest.mark.parametrize("address", FORBIDDEN)
def test_forbidden_addresses_are_refused_at_save_time(address: str) -> None:
    with pytest.raises(AddressNotAllowed, match=f"address not allowed: feeds.example resolves "
                       f"to {address}"):
        check_url_allowed("https://feeds.example/feed", policy=policy(),
                          resolver=resolving_to(address))


def test_a_refusal_names_the_setting_that_would_allow_it() -> None:
    # A librarian testing a source on a port or host the policy refuses learns what to set.
    setting = r"\[fetch\] allowed_hosts \(AWARENESS_FETCH_ALLOWED_HOSTS\)"
    with pytest.raises(AddressNotAllowed, match=rf"port 8443 not allowed: only 80 and 443, "
                       rf"unless feeds\.example is in {setting}"):
        check_url_allowed("https://feeds.example:8443/feed", policy=policy(),
                          resolver=resolving_to("93.184.216.34"))
    with pytest.raises(AddressNotAllowed, match=rf"10\.1\.2\.3, which is not a public address "
                       rf"\(unless feeds\.example is in {setting}\)"):
        check_url_allowed("https://feeds.example/feed", policy=policy(),
                          resolver=resolving_to("10.1.2.3"))
    check_url_allowed("https://feeds.example:8443/feed", resolver=resolving_to("10.1.2.3"),
                      policy=policy(allowed_hosts=("feeds.example",)))  # allowed: no error


def test_one_forbidden_address_among_public_ones_is_enough() -> None:
    with pytest.raises(AddressNotAllowed):
        check_url_allowed("https://feeds.example/feed", policy=policy(),
                          resolver=resolving_to("93.184.216.34", "127.0.0.1"))


def test_a_public_address_is_allowed() -> None:
    check_url_allowed("https://feeds.example/feed", policy=policy(),
                      resolver=resolving_to("93.184.216.34", "2606:2800:220:1::1"))


@pytest.mark.parametrize("url", ["http://2130706433/", "http://0x7f.1/", "http://[::]/",
                                 "http://[::ffff:7f00:1]/", "http://0/"])
def test_numeric_loopback_spellings_are_refused(url: str) -> None:
    # These resolve without DNS (inet_aton or literals); nothing is connected to.
    with pytest.raises(AddressNotAllowed):
        check_url_allowed(url, policy=policy(allowed_hosts=frozenset()))


@pytest.mark.parametrize("url", ["file:///feed.xml", "ftp://files.example/feed",
                                 "javascript:alert(1)", "gopher://x.example/", "feed://x.example/"])
def test_only_http_and_https_schemes(url: str) -> None:
    with pytest.raises(FetchError, match="only http and https"):
        check_url_allowed(url, policy=policy(), resolver=no_resolver)
    with pytest.raises(FetchError, match="only http and https"):
        fetch(url, validators=Validators(), policy=policy(), resolver=no_resolver)


@pytest.mark.parametrize("address", ["127.0.0.1", "::ffff:127.0.0.1", "0.0.0.0"])
def test_fetch_refuses_before_connecting(server: Server, address: str) -> None:
    server.routes["/feed"] = lambda h: send(h, 200, {}, FEED)
    with pytest.raises(AddressNotAllowed):
        fetch(f"http://feeds.example:{server.port}/feed", validators=Validators(),
              policy=policy(), resolver=resolving_to(address))
    assert server.seen == []


def test_redirect_to_an_internal_host_is_refused(server: Server) -> None:
    server.routes["/feed"] = lambda h: send(h, 302, {"Location": "http://localhost.internal/"})
    with pytest.raises(AddressNotAllowed, match=r"localhost\.internal resolves to 10\.0\.0\.1"):
        fetch(server.url("/feed"), validators=Validators(), policy=policy(),
              resolver=resolving_to("10.0.0.1"))


def test_connection_goes_to_the_address_that_was_checked(server: Server) -> None:
    # An allow-listed name is connected to through the injected resolver, not the system one:
    # what was checked is what the socket uses (no second, rebindable lookup).
    server.routes["/feed"] = lambda h: send(h, 200, {}, FEED)
    result = fetch(f"http://feeds.example:{server.port}/feed", validators=Validators(),
                   policy=policy(allowed_hosts=frozenset({"feeds.example"})),
                   resolver=resolving_to("127.0.0.1"))
    assert result.body == FEED
    assert server.seen[0].header("Host") == f"feeds.example:{server.port}"


@pytest.mark.parametrize(("code", "message", "said"), [
    (socket.EAI_NONAME, "Name or service not known",
     "no such name in DNS: check the address, and that this server can reach its DNS"),
    (socket.EAI_AGAIN, "Temporary failure in name resolution",
     "DNS did not answer; it is asked again at the next check"),
    (socket.EAI_FAIL, "Non-recoverable failure in name resolution",
     "non-recoverable failure in name resolution"),
])
def test_unresolvable_host_is_a_fetch_error_in_plain_words(code: int, message: str,
                                                           said: str) -> None:
    # What a librarian reads as the source's last error: no "[Errno -2]".
    def failing(host: str, port: int) -> list[str]:
        raise socket.gaierror(code, message)  # as the C library's resolver reports it

    with pytest.raises(FetchError) as raised:
        check_url_allowed("https://nowhere.example/", policy=policy(), resolver=failing)
    assert str(raised.value) == f"could not connect: nowhere.example was not found ({said})"


def test_environment_proxy_is_ignored(server: Server, monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as canary:
        canary.bind(("127.0.0.1", 0))
        canary.listen()
        canary.setblocking(False)
        proxy = f"http://127.0.0.1:{canary.getsockname()[1]}"
        for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
            monkeypatch.setenv(name, proxy)
        server.routes["/feed"] = lambda h: send(h, 200, {}, FEED)
        assert get(server.url("/feed")).body == FEED
        with pytest.raises(BlockingIOError):
            canary.accept()
