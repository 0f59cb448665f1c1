"""Web security: session cookies, CSRF checks, response headers and the login throttle.

See docs/web.md for the measures and RELIABILITY.md 4.2 (W3-W5, W9, W13) for the tests
they answer. Nothing here touches the database: the app checks a session's version against
``librarians.session_version`` on every request, so that logout kills every copy of a cookie.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from awareness.settings import Settings

SESSION_MAX_AGE = 12 * 60 * 60  # absolute: a cookie is never extended after login
FLASH_MAX_AGE = 60
SIGN_IN_MAX_AGE = 10 * 60  # a single sign-on round trip (state, nonce, PKCE verifier)
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
BASE_HEADERS = (
    ("x-content-type-options", "nosniff"),
    # Feed links must not tell publishers which internal page a librarian came from (W9).
    # Not "no-referrer": under it Chromium sends "Origin: null" with our own form posts,
    # which would make the Origin check below useless (found by tests/test_web_browser.py).
    ("referrer-policy", "same-origin"),
    ("x-frame-options", "DENY"),
)
HSTS = ("strict-transport-security", "max-age=31536000")


@dataclass(frozen=True)
class Session:
    """What the session cookie carries. ``name`` is None before login (login-form CSRF only).
    ``role`` is not in the cookie: the guards read it from the database with the version on
    every request, so a role change applies at the librarian's next click."""

    csrf: str
    name: str | None = None
    version: int = 0
    role: str = ""

    @property
    def is_librarian(self) -> bool:
        return self.name is not None


def new_session(name: str | None = None, version: int = 0) -> Session:
    """A session with a fresh CSRF token; issuing one at login rotates the cookie (W4)."""
    return Session(csrf=secrets.token_urlsafe(32), name=name, version=version)


@dataclass(frozen=True)
class WebSecurity:
    """Cookie names and flags, signers and the app's origin, derived once from settings."""

    sessions: URLSafeTimedSerializer
    flashes: URLSafeTimedSerializer
    sign_ins: URLSafeTimedSerializer
    https: bool
    origin: str

    @classmethod
    def from_settings(cls, settings: Settings) -> WebSecurity:
        """Build from ``web.base_url`` and the secret key."""
        base = urlsplit(settings.base_url)
        key = settings.secret_key()
        return cls(sessions=URLSafeTimedSerializer(key, salt="session"),
                   flashes=URLSafeTimedSerializer(key, salt="flash"),
                   sign_ins=URLSafeTimedSerializer(key, salt="sso-sign-in"),
                   https=base.scheme == "https",
                   origin=f"{base.scheme}://{base.netloc}".lower())

    def cookie_name(self, base: str) -> str:
        """``__Host-`` binds a cookie to this exact host over https; browsers refuse the
        prefix (and drop Secure cookies) on plain http, so local use gets the plain name."""
        return f"__Host-{base}" if self.https else base

    @property
    def session_cookie(self) -> str:
        return self.cookie_name("awareness_session")

    @property
    def flash_cookie(self) -> str:
        return self.cookie_name("awareness_flash")

    def read_session(self, request: Request) -> Session | None:
        """The signed session in the request, if intact and younger than 12 hours."""
        raw = request.cookies.get(self.session_cookie)
        if not raw:
            return None
        try:
            data = self.sessions.loads(raw, max_age=SESSION_MAX_AGE)
        except BadSignature:
            return None
        if not isinstance(data, dict) or not isinstance(data.get("c"), str):
            return None
        name, version = data.get("n"), data.get("v", 0)
        if name is not None and not (isinstance(name, str) and isinstance(version, int)):
            return None
        return Session(csrf=data["c"], name=name, version=version)

    def write_session(self, response: Response, session: Session) -> None:
        """Set the session cookie: HttpOnly, SameSite=Lax, Path=/, Secure on https."""
        value = self.sessions.dumps({"c": session.csrf, "n": session.name, "v": session.version})
        response.set_cookie(self.session_cookie, value, max_age=SESSION_MAX_AGE, path="/",
                            secure=self.https, httponly=True, samesite="lax")

    def clear_session(self, response: Response) -> None:
        response.delete_cookie(self.session_cookie, path="/", secure=self.https, httponly=True,
                               samesite="lax")

    def write_flash(self, response: Response, message: str) -> None:
        """A one-line notice for the next page (signed, so nobody can plant text in it)."""
        response.set_cookie(self.flash_cookie, self.flashes.dumps(message[:300]),
                            max_age=FLASH_MAX_AGE, path="/", secure=self.https, httponly=True,
                            samesite="lax")

    def read_flash(self, request: Request) -> str | None:
        raw = request.cookies.get(self.flash_cookie)
        if not raw:
            return None
        try:
            message = self.flashes.loads(raw, max_age=FLASH_MAX_AGE)
        except BadSignature:
            return None
        return message if isinstance(message, str) else None

    def clear_flash(self, response: Response) -> None:
        response.delete_cookie(self.flash_cookie, path="/", secure=self.https, httponly=True,
                               samesite="lax")

    @property
    def sign_in_cookie(self) -> str:
        return self.cookie_name("awareness_sso")

    def read_sign_in(self, request: Request) -> dict[str, object]:
        """A single sign-on round trip's data (Authlib's state, nonce and PKCE verifier, and
        where to go after): signed, 10 minutes at most; empty when missing or tampered."""
        raw = request.cookies.get(self.sign_in_cookie)
        if not raw:
            return {}
        try:
            data = self.sign_ins.loads(raw, max_age=SIGN_IN_MAX_AGE)
        except BadSignature:
            return {}
        return data if isinstance(data, dict) else {}

    def write_sign_in(self, response: Response, data: dict[str, object]) -> None:
        """SameSite=Lax, so that the identity provider's redirect back (a top-level GET from
        another site) carries it; HttpOnly, Secure on https, like the session."""
        response.set_cookie(self.sign_in_cookie, self.sign_ins.dumps(data),
                            max_age=SIGN_IN_MAX_AGE, path="/", secure=self.https,
                            httponly=True, samesite="lax")

    def clear_sign_in(self, response: Response) -> None:
        response.delete_cookie(self.sign_in_cookie, path="/", secure=self.https, httponly=True,
                               samesite="lax")

    def is_cross_site(self, request: Request) -> bool:
        """Does the browser say this request came from another site (W3)?

        ``Origin`` is accepted when it is the configured base URL's origin or the origin the
        request itself was sent to (a browser always sets ``Host`` to the real target, so a
        forged page cannot make the two agree).
        """
        if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
            return True
        origin = request.headers.get("origin")
        if origin is None:
            return False
        own = f"{request.url.scheme}://{request.headers.get('host', '')}".lower()
        return origin.lower() not in (self.origin, own)


def csrf_matches(session: Session | None, submitted: object) -> bool:
    """Is the submitted form token the session's token? Constant-time comparison."""
    if session is None or not isinstance(submitted, str) or not submitted:
        return False
    return hmac.compare_digest(session.csrf.encode(), submitted.encode())


def is_safe_next(target: str | None) -> bool:
    """Is ``target`` a same-site relative path, safe to redirect to after login?"""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return False
    if any(ord(ch) < 0x21 or ch == "\\" for ch in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


class LoginThrottle:
    """Failed logins per client address and per name within a sliding window (W5).

    In memory, per process: a restart forgets it and several app processes each count
    separately (documented in docs/web.md). Attempts refused while blocked are not counted,
    so a lockout always ends one window after the last real failure.
    """

    def __init__(self, limit: int = 5, window: float = 60.0, max_keys: int = 10_000,
                 clock: Callable[[], float] = time.monotonic):
        self.limit, self.window, self.max_keys, self.clock = limit, window, max_keys, clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    def is_blocked(self, address: str, name: str) -> bool:
        """Has this address or this name failed ``limit`` times within the window?"""
        now = self.clock()
        return any(self._recent(key, now) >= self.limit for key in self._keys(address, name))

    def record_failure(self, address: str, name: str) -> None:
        now = self.clock()
        if len(self._failures) >= self.max_keys:
            self._forget_older_than(now - self.window)
        for key in self._keys(address, name):
            self._failures.setdefault(key, deque()).append(now)

    def record_success(self, name: str) -> None:
        self._failures.pop(("name", name.lower()), None)

    @staticmethod
    def _keys(address: str, name: str) -> tuple[tuple[str, str], ...]:
        return (("address", address), ("name", name.lower()))

    def _recent(self, key: tuple[str, str], now: float) -> int:
        times = self._failures.get(key)
        if not times:
            return 0
        while times and times[0] <= now - self.window:
            times.popleft()
        return len(times)

    def _forget_older_than(self, cutoff: float) -> None:
        stale = [k for k, times in self._failures.items() if not times or times[-1] <= cutoff]
        for key in stale:
            del self._failures[key]
        # Still full of live keys (a spray of names from many addresses): forget the oldest
        # rather than grow without bound.
        excess = len(self._failures) - self.max_keys * 9 // 10
        for key in list(self._failures)[:max(excess, 0)]:
            del self._failures[key]


def csp(form_targets: tuple[str, ...] = ()) -> str:
    """The pages' Content-Security-Policy; ``form_targets`` are origins besides our own that
    a form's answer may send the browser to. The login page's "Sign in with …" button posts
    to us and is answered with a redirect to the identity provider, and Chromium holds that
    redirect to ``form-action`` too: without the provider's origin the button did nothing."""
    return CSP.replace("form-action 'self'", " ".join(("form-action 'self'", *form_targets)))


def origin_of(url: str) -> str:
    """``scheme://host[:port]`` of ``url``, as a CSP source names an origin."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class SecurityHeadersMiddleware:
    """Adds the security headers to every response, whatever produced it (W9)."""

    def __init__(self, app: ASGIApp, *, https: bool, form_targets: tuple[str, ...] = ()):
        self.app = app
        self.headers = (("content-security-policy", csp(form_targets)), *BASE_HEADERS,
                        *((HSTS,) if https else ()))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        root = str(scope.get("root_path", "")).rstrip("/")
        is_static = str(scope.get("path", "")).startswith(f"{root}/static/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in self.headers:
                    if name == "content-security-policy" and name in headers:
                        continue  # a page with its own, stricter policy (web/digest_view.py)
                    headers[name] = value
                if not is_static and "cache-control" not in headers:
                    # Pages show review queues and tokens: never keep them in shared caches.
                    headers["cache-control"] = "no-store"
            await send(message)

        await self.app(scope, receive, send_with_headers)
