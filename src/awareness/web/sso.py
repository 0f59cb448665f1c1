"""Single sign-on through OpenID Connect (issue 14, item 6; docs/web.md "Single sign-on"),
with Authlib's Starlette client: the authorization code flow with ``state``, a ``nonce`` in
the ID token and PKCE (S256), the provider's metadata from its discovery document, the ID
token's signature, issuer, audience, expiry and nonce checked by Authlib.

``POST /auth/oidc/login`` (the login page's "Sign in with …" button, with the login form's
CSRF token) sends the browser to the identity provider; ``GET /auth/oidc/callback`` takes its
answer. Between the two, Authlib's round-trip data lives in a signed cookie of its own
(``security.py``), not in the librarian session. The callback reads the user's groups from the
configured claim and maps them to a role (``roles.role_for_groups``): someone in no mapped
group is refused with a page saying so, and so is someone whose account an administrator
removed (whatever their groups), also once its name went to someone new. Otherwise the
account of the token's issuer and subject (``iss``, ``sub``; not the user name, which can
change) is made or updated (its name, and its role from the claims, at every sign-in) and a
new session is issued, exactly as a password login issues one (rotation, CSRF token,
session version). A wrong, tampered or replayed ``state`` finds no round-trip data and is
refused.

The identity provider is the administrator's choice (``[sso] issuer``), so this client may
reach it wherever it is; the rule that outbound fetches never reach private addresses is for
feeds.
"""

from __future__ import annotations

import logging
import warnings
from types import ModuleType
from typing import Any

import httpx
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from awareness.errors import AccountRemoved, AwarenessError
from awareness.roles import role_for_groups
from awareness.service import librarians
from awareness.settings import Settings
from awareness.web.guards import checked_form, ctx_of, form_route, security_of
from awareness.web.pages import redirect, render, root_path
from awareness.web.security import is_safe_next, new_session, origin_of

log = logging.getLogger(__name__)

CALLBACK = "/auth/oidc/callback"
NOT_CONFIGURED = "Single sign-on is not set up on this service: sign in with your password."
INCOMPLETE = ("Single sign-on did not complete ({reason}). Start again from the sign-in "
              "page; if it happens again, tell your administrator.")
NO_GROUP = ("You signed in as {name}, but your account is in none of the groups this service "
            "admits. Ask your library's administrator to add you to one.")
# Also the page of an identity barred when its removed account's name went to someone new:
# it cannot have that account back, so the page promises nothing of the kind.
CLOSED = ("You signed in as {name}, but an administrator closed your account on this "
          "service. Ask your library's administrator if you still need access.")
NO_ACCOUNT = "Single sign-on could not open your account: {reason}."
UNREACHABLE = ("The sign-in service could not be reached. Try again in a minute, or sign in "
               "with a password.")


def routes() -> list[Route]:
    """The two routes of a single sign-on round trip."""
    return [form_route("/auth/oidc/login", start), Route(CALLBACK, callback)]


def _authlib() -> ModuleType:
    """Authlib's Starlette client, imported only when single sign-on is set up. Authlib warns
    on import that it uses httpx rather than httpx2 (httpx is our HTTP client) and forces
    that warning to show; an operator can do nothing about it, so it is not shown."""
    with warnings.catch_warnings():
        # Authlib adds its "always" filter when first imported: before ours, so ours wins.
        import authlib.deprecate  # noqa: F401
        warnings.filterwarnings("ignore", "The httpx module is deprecated")
        from authlib.integrations import starlette_client
    return starlette_client


def make_client(settings: Settings) -> Any:
    """Authlib's client for the configured identity provider, or None without one."""
    sso = settings.sso
    if not sso.enabled:
        return None
    oauth = _authlib().OAuth()
    return oauth.register(
        "idp", client_id=sso.client_id, client_secret=sso.client_secret or None,
        server_metadata_url=f"{sso.issuer}/.well-known/openid-configuration",
        client_kwargs={"scope": sso.scopes, "code_challenge_method": "S256",
                       "timeout": 20})


def form_targets(settings: Settings) -> tuple[str, ...]:
    """Where the "Sign in with …" button's answer sends the browser: the identity provider's
    origin (its authorization endpoint is on the issuer's host for Entra ID, OpenAthens,
    Keycloak and the others docs/web.md names), allowed in the pages' ``form-action``."""
    return (origin_of(settings.sso.issuer),) if settings.sso.enabled else ()


def _client(request: Request) -> Any:
    client = getattr(request.app.state, "sso", None)
    if client is None:
        raise HTTPException(404, NOT_CONFIGURED)
    return client


async def start(request: Request) -> Response:
    """Send the browser to the identity provider, remembering the round trip's data."""
    security = security_of(request)
    form = await checked_form(request, security.read_session(request))
    client = _client(request)
    next_url = str(form.get("next", ""))
    request.scope["session"] = {}
    redirect_uri = f"{ctx_of(request).settings.base_url}{CALLBACK}"
    try:
        answer = await client.authorize_redirect(request, redirect_uri)
    except httpx.HTTPError as err:
        log.warning("identity provider unreachable: %s", err)
        raise HTTPException(502, UNREACHABLE) from None
    response = Response(status_code=303, headers={"location": answer.headers["location"]})
    security.write_sign_in(response, {"authlib": request.scope["session"],
                                      "next": next_url if is_safe_next(next_url) else ""})
    return response


async def callback(request: Request) -> Response:
    """Check the provider's answer, map the groups to a role, sign the librarian in."""
    client = _client(request)
    security = security_of(request)
    saved = security.read_sign_in(request)
    authlib_data = saved.get("authlib")
    request.scope["session"] = dict(authlib_data) if isinstance(authlib_data, dict) else {}
    try:
        token = await client.authorize_access_token(request)
    except _authlib().OAuthError as err:
        log.warning("single sign-on refused: %s", err.error)
        return _refused(request, 400, INCOMPLETE.format(reason=err.error or "no answer"))
    except httpx.HTTPError as err:
        log.warning("identity provider unreachable: %s", err)
        return _refused(request, 502, UNREACHABLE)
    claims = dict(token.get("userinfo") or {})
    subject = _subject(claims)
    if not subject:
        return _refused(request, 400, INCOMPLETE.format(reason="no subject in the token"))
    name = str(claims.get("preferred_username") or claims.get("email") or "")[:100]
    if not name:
        return _refused(request, 400, INCOMPLETE.format(reason="no user name in the token"))
    settings = ctx_of(request).settings.sso
    role = role_for_groups(_groups(claims.get(settings.group_claim)), dict(settings.roles))
    if role is None:
        log.warning("single sign-on: %r is in no mapped group", name)
        return _refused(request, 403, NO_GROUP.format(name=name))
    try:
        signed_in, version, _ = await run_in_threadpool(
            librarians.sign_in_from_sso, ctx_of(request), name, role,
            str(claims.get("email") or ""), subject)
    except AccountRemoved as err:
        log.warning("single sign-on: %r refused: %s", name, err)
        return _refused(request, 403, CLOSED.format(name=name))
    except AwarenessError as err:
        log.warning("single sign-on: no account for %r: %s", name, err)
        return _refused(request, 403, NO_ACCOUNT.format(reason=str(err)))
    log.info("librarian %s signed in by single sign-on as %s", signed_in, role)
    next_url = str(saved.get("next") or "")
    response = redirect(request, next_url if is_safe_next(next_url) else "/review")
    security.write_session(response, new_session(signed_in, version))
    security.clear_sign_in(response)
    return response


def _subject(claims: dict[str, Any]) -> str:
    """Whose token it is: "<iss> <sub>", the pair that OpenID Connect Core 1.0 §2 makes
    unique and never reassigned (Entra: ``sub`` is per user and application, unlike the user
    principal name in ``preferred_username``, which can change and be reused); "" without a
    ``sub``. Authlib has checked ``iss`` against the provider's discovery document."""
    issuer, sub = str(claims.get("iss") or ""), str(claims.get("sub") or "")
    return f"{issuer} {sub}" if issuer and sub else ""


def _groups(value: object) -> list[str]:
    """The claim's groups: a list of ids (Entra ``groups``) or names (``roles``)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(group) for group in value]
    return []


def _refused(request: Request, status: int, message: str) -> Response:
    """The error page, with the round trip's cookie cleared (it is used up either way)."""
    response = render(request, "error.html", status_code=status, code=status,
                      heading="You are not signed in", message=message,
                      request_id=request.scope.get("state", {}).get("request_id", ""),
                      login=f"{root_path(request)}/login")
    security_of(request).clear_sign_in(response)
    return response
