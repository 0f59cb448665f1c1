"""Single sign-on through OpenID Connect (web/sso.py; docs/web.md "Single sign-on") against a
real OpenID provider started on 127.0.0.1 (oidc-provider-mock: Authlib's server classes
behind a Flask app with real endpoints, discovery document, signed ID tokens and JWKS), and
the awareness app on 127.0.0.1: nothing of the client library is replaced.

One provider and one site serve every case, round trips of a few milliseconds each: an
editor signs in and lands where they were going; a reviewer signs in and is refused an
editor's action; the role follows the groups at the next sign-in; the account is the one of
the token's subject, whatever the user name (adopted, renamed, never handed on, never taken
back by the one who left once the name went to someone new); someone in no mapped group is
refused with a page; a tampered or replayed ``state`` is refused.
"""

from __future__ import annotations

import html
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import parse_qs, urlsplit, urlunsplit

import httpx
import pytest

with warnings.catch_warnings():
    # Authlib forces its deprecation warnings to show when first imported (web/sso.py does
    # the same); the provider imports its deprecated modules, which is the provider's business.
    import authlib.deprecate  # noqa: F401
    warnings.filterwarnings("ignore", "The httpx module is deprecated")
    warnings.filterwarnings("ignore", "authlib.jose module is deprecated")
    import oidc_provider_mock
import werkzeug.serving

from awareness.model import LibrarianLogin
from awareness.service import librarians
from awareness.service.context import Context
from awareness.storage import librarians as stored
from awareness.storage.db import reading
from tests.test_web import PASSWORD, Site, csrf_of, login, running_site

# The provider calls an Authlib hook that Authlib has deprecated; the warning is the
# provider's business, and as an error it would be a 500 from the provider's token endpoint.
pytestmark = [pytest.mark.integration,
              pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")]

EDITORS, REVIEWERS, OTHERS = "0b8f-editors", "5c1d-reviewers", "9e2a-finance"
USERS = [
    oidc_provider_mock.User(sub="ed", claims={
        "preferred_username": "ed.itor@nhs.net", "email": "ed.itor@nhs.net",
        "groups": [OTHERS, EDITORS]}),
    oidc_provider_mock.User(sub="rev", claims={
        "preferred_username": "rev.iewer@nhs.net", "groups": [REVIEWERS]}),
    oidc_provider_mock.User(sub="nobody", claims={
        "preferred_username": "no.body@nhs.net", "groups": [OTHERS]}),
]


@contextmanager
def openid_provider() -> Iterator[str]:
    """The provider on 127.0.0.1 in a thread; its issuer URL. It requires a nonce."""
    app = oidc_provider_mock.app(require_nonce=True, user_claims=USERS)
    server = werkzeug.serving.make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@pytest.fixture
def sso_site(make_context: Callable[..., Context]) -> Iterator[tuple[Site, str]]:
    with openid_provider() as issuer, running_site(
            make_context, AWARENESS_SSO_ISSUER=issuer, AWARENESS_SSO_CLIENT_ID="awareness",
            AWARENESS_SSO_CLIENT_SECRET="client-secret", AWARENESS_SSO_NAME="NHSmail",
            AWARENESS_SSO_ROLES=f"{EDITORS}=editor, {REVIEWERS}=reviewer") as site:
        yield site, issuer


def browser(site: Site) -> httpx.Client:
    """A client that follows redirects, between our site and the provider, like a browser."""
    return httpx.Client(base_url=site.url, follow_redirects=True, timeout=30)


def to_provider(client: httpx.Client, next_url: str = "") -> httpx.Response:
    """From the login page's "Sign in with …" button to the provider's authorize page."""
    page = client.get("/login")
    assert "Sign in with NHSmail" in page.text
    return client.post("/auth/oidc/login", data={"csrf": csrf_of(page.text), "next": next_url})


def sign_in(client: httpx.Client, sub: str, next_url: str = "") -> httpx.Response:
    """The whole round trip, following every redirect, as the user ``sub``."""
    authorize = to_provider(client, next_url)
    assert authorize.status_code == 200 and "/oauth2/authorize" in str(authorize.url)
    return client.post(str(authorize.url), data={"sub": sub})


def callback_url(client: httpx.Client, sub: str) -> str:
    """The provider's redirect back to us, not followed."""
    authorize = to_provider(client)
    answer = client.post(str(authorize.url), data={"sub": sub}, follow_redirects=False)
    assert answer.status_code == 302
    return answer.headers["location"]


def who(name: str, role: str) -> str:
    """How the page's header says who is signed in, and as what."""
    return f'title="{name}">{name}</span> ({role})'


def test_a_sign_in_round_trip_gives_the_role_of_the_groups(sso_site: tuple[Site, str]) -> None:
    site, issuer = sso_site
    with browser(site) as client:
        # The redirect to the provider carries state, nonce and a PKCE challenge.
        first = to_provider(client)
        query = parse_qs(urlsplit(str(first.url)).query)
        assert str(first.url).startswith(f"{issuer}/oauth2/authorize")
        assert query["code_challenge_method"] == ["S256"] and query["code_challenge"]
        assert query["state"] and query["nonce"]
        assert query["redirect_uri"] == [f"{site.url}/auth/oidc/callback"]

        landed = sign_in(client, "ed", next_url="/bulletins")
        assert landed.status_code == 200 and landed.url.path == "/bulletins"
        assert who("ed.itor@nhs.net", "editor") in landed.text
        assert client.get("/sources").status_code == 200
        assert client.get("/librarians").status_code == 403
    account = {a.name: a for a in librarians.everyone(site.ctx)}["ed.itor@nhs.net"]
    assert (account.role, account.sso, account.email) == ("editor", True, "ed.itor@nhs.net")
    # No password opens a single sign-on account, not even the text stored in its place.
    assert librarians.authenticate(site.ctx, "ed.itor@nhs.net", librarians.NO_PASSWORD) is None

    with browser(site) as client:
        landed = sign_in(client, "rev")
        assert landed.url.path == "/review" and who("rev.iewer@nhs.net", "reviewer") in landed.text
        token = csrf_of(client.get("/review").text)
        refused = client.post(f"/review/{site.ids['good']}/draft", data={"csrf": token})
        assert refused.status_code == 403 and "needs the editor role" in refused.text
        assert client.post(f"/review/{site.ids['good']}/approve",
                           data={"csrf": token}).status_code == 200  # 303, then the queue

    # The groups changed at the provider: the next sign-in takes the new role, recorded.
    httpx.put(f"{issuer}/users/rev", json={"preferred_username": "rev.iewer@nhs.net",
                                          "groups": [REVIEWERS, EDITORS]}).raise_for_status()
    with browser(site) as client:
        assert who("rev.iewer@nhs.net", "editor") in sign_in(client, "rev").text
    changes = [(e.librarian, e.detail, e.by) for e in librarians.history(site.ctx)]
    assert ("rev.iewer@nhs.net", "reviewer → editor", "single sign-on") in changes


def test_a_single_sign_on_account_changes_its_password_at_the_provider(
        sso_site: tuple[Site, str]) -> None:
    site, _ = sso_site
    with browser(site) as client:
        sign_in(client, "rev")
        page = client.get("/account/password")
        assert page.status_code == 200
        assert "your password belongs to your identity provider" in page.text
        assert 'type="password"' not in page.text
        before = librarians.standing(site.ctx, "rev.iewer@nhs.net")
        refused = client.post("/account/password", data={
            "csrf": csrf_of(page.text), "current-password": librarians.NO_PASSWORD,
            "new-password": "a brand new passphrase",
            "new-password-again": "a brand new passphrase"})
        assert refused.status_code == 403 and "identity provider" in refused.text
        assert librarians.standing(site.ctx, "rev.iewer@nhs.net") == before
        assert client.get("/review").url.path == "/review"  # still signed in
    assert librarians.authenticate(site.ctx, "rev.iewer@nhs.net",
                                   "a brand new passphrase") is None


def test_the_subject_not_the_user_name_says_whose_account_it_is(
        sso_site: tuple[Site, str]) -> None:
    site, issuer = sso_site

    def at_provider(sub: str, upn: str) -> None:
        httpx.put(f"{issuer}/users/{sub}", json={"preferred_username": upn,
                                                 "groups": [EDITORS]}).raise_for_status()

    def account_of(name: str) -> LibrarianLogin | None:
        with reading(site.ctx.engine) as conn:
            return stored.login_of(conn, name)

    # A password account of the user's name is adopted at their first sign-in.
    librarians.add_librarian(site.ctx, "jo.bloggs@nhs.net", PASSWORD, role="reviewer",
                             by="alice")
    at_provider("jo-6f2a", "jo.bloggs@nhs.net")
    with browser(site) as client:
        assert who("jo.bloggs@nhs.net", "editor") in sign_in(client, "jo-6f2a").text
    adopted = account_of("jo.bloggs@nhs.net")
    assert adopted is not None and adopted.sso_subject == f"{issuer} jo-6f2a"
    assert librarians.authenticate(site.ctx, "jo.bloggs@nhs.net", PASSWORD) is None

    # Their user name changes at the provider: the same account, renamed, history and all.
    at_provider("jo-6f2a", "jo.smith@nhs.net")
    with browser(site) as client:
        assert who("jo.smith@nhs.net", "editor") in sign_in(client, "jo-6f2a").text
    assert account_of("jo.bloggs@nhs.net") is None
    renamed = account_of("jo.smith@nhs.net")
    assert renamed is not None and renamed.sso_subject == adopted.sso_subject
    assert [(e.librarian, e.action, e.detail, e.by) for e in librarians.history(site.ctx)
            if e.librarian.startswith("jo.")] == [
        ("jo.smith@nhs.net", "renamed", "jo.bloggs@nhs.net → jo.smith@nhs.net",
         "single sign-on"),
        ("jo.smith@nhs.net", "role", "reviewer → editor", "single sign-on"),
        ("jo.smith@nhs.net", "added", "as reviewer", "alice")]
    with browser(site) as client:
        assert login(client).status_code == 200  # alice, an administrator
        assert "Renamed jo.bloggs@nhs.net → jo.smith@nhs.net" in client.get("/librarians").text

    # Someone else is given that user name: refused, and the account is not touched; nor
    # does a rename take a name another account has.
    at_provider("jo-91c7", "jo.smith@nhs.net")
    at_provider("jo-6f2a", "alice")
    for sub, why in [("jo-91c7", "an account called jo.smith@nhs.net belongs to someone "
                                 "else at the identity provider"),
                     ("jo-6f2a", "another account is already called alice")]:
        with browser(site) as client:
            refused = sign_in(client, sub)
            assert refused.status_code == 403 and why in refused.text
            assert client.get("/review").url.path == "/login"
    assert account_of("jo.smith@nhs.net") == renamed
    alice = account_of("alice")
    assert alice is not None and alice.sso_subject is None and not alice.sso

    # The app registration was replaced, say: an administrator releases the account, and the
    # next sign-in under that name takes it, history and all.
    librarians.release_sso(site.ctx, "jo.smith@nhs.net", by="alice")
    with browser(site) as client:
        assert who("jo.smith@nhs.net", "editor") in sign_in(client, "jo-91c7").text
    taken = account_of("jo.smith@nhs.net")
    assert taken is not None and taken.sso_subject == f"{issuer} jo-91c7"
    assert ("jo.smith@nhs.net", "released", "alice") in [
        (e.librarian, e.action, e.by) for e in librarians.history(site.ctx)]


def test_a_removed_account_stays_out_whatever_its_groups_say(
        sso_site: tuple[Site, str]) -> None:
    site, _ = sso_site
    with browser(site) as ed, browser(site) as alice:
        assert who("ed.itor@nhs.net", "editor") in sign_in(ed, "ed").text
        assert login(alice).status_code == 200  # an administrator
        confirm = alice.get("/librarians/ed.itor@nhs.net/remove").text
        assert "from now on their sign-ins are refused, whatever groups they are in" in confirm
        assert "awareness librarians restore ed.itor@nhs.net" in confirm
        removed = alice.post("/librarians/ed.itor@nhs.net/remove", data={"csrf": csrf_of(confirm)})
        assert "ed.itor@nhs.net was removed" in removed.text
        assert ed.get("/review").url.path == "/login"  # signed out at once

        # Their groups still give them the editor role: the account stays closed, the
        # refusal is a page and a line in the history, and no session is issued.
        refused = sign_in(ed, "ed")
        assert refused.status_code == 403
        assert ("You signed in as ed.itor@nhs.net, but an administrator closed your account "
                "on this service. Ask your library's administrator if you still need "
                "access." in html.unescape(refused.text))
        assert "Back to the sign-in page" in refused.text
        assert ed.get("/review").url.path == "/login"
        standing = librarians.standing(site.ctx, "ed.itor@nhs.net")
        assert standing is not None and standing[1] == "removed"
        latest = librarians.history(site.ctx)[0]
        assert (latest.librarian, latest.action, latest.detail, latest.by) == (
            "ed.itor@nhs.net", "refused", "account removed", "single sign-on")
        roster = alice.get("/librarians").text
        assert "Sign-in refused: account removed" in roster
        assert "awareness librarians restore NAME" in roster

        # An administrator restores it: the same identity signs in again, with no password,
        # and the role its groups give.
        assert librarians.restore(site.ctx, "ed.itor@nhs.net", by="alice") is True
        assert librarians.authenticate(site.ctx, "ed.itor@nhs.net",
                                       librarians.NO_PASSWORD) is None
        assert who("ed.itor@nhs.net", "editor") in sign_in(ed, "ed").text
        assert ed.get("/bulletins").status_code == 200
    assert [(e.action, e.detail, e.by) for e in librarians.history(site.ctx)
            if e.librarian == "ed.itor@nhs.net"][:2] == [
        ("role", "reviewer → editor", "single sign-on"),
        ("restored", "single sign-on again, as reviewer until their groups set it", "alice")]


def reviewer_who_left(site: Site) -> None:
    """The reviewer signed in once, then left: an administrator removed their account."""
    with browser(site) as client:
        sign_in(client, "rev")
    librarians.remove(site.ctx, "rev.iewer@nhs.net", by="alice")


def test_a_removed_account_s_name_goes_to_a_new_person_only_through_an_administrator(
        sso_site: tuple[Site, str]) -> None:
    site, issuer = sso_site
    reviewer_who_left(site)

    # Their user name is given to someone new at the provider: the closed account is not
    # theirs to open, nor is a new one made under its name.
    httpx.put(f"{issuer}/users/rev-2", json={"preferred_username": "rev.iewer@nhs.net",
                                            "groups": [REVIEWERS]}).raise_for_status()
    with browser(site) as client:
        refused = sign_in(client, "rev-2")
        assert refused.status_code == 403 and "closed your account" in refused.text
        assert client.get("/review").url.path == "/login"
    assert librarians.history(site.ctx)[0].detail == (
        "account removed; a new identity asked for its user name")
    assert "rev.iewer@nhs.net" not in {a.name for a in librarians.everyone(site.ctx)}

    # An administrator gives the name to the new person: their first sign-in adopts it, and
    # the one who left is refused it, as a removed account.
    librarians.add_librarian(site.ctx, "rev.iewer@nhs.net", PASSWORD, by="alice")
    with browser(site) as client:
        assert who("rev.iewer@nhs.net", "reviewer") in sign_in(client, "rev-2").text
    with browser(site) as client:
        refused = sign_in(client, "rev")
        assert refused.status_code == 403 and "closed your account" in refused.text
    with reading(site.ctx.engine) as conn:
        account = stored.login_of(conn, "rev.iewer@nhs.net")
    assert account is not None and account.sso_subject == f"{issuer} rev-2"


def test_the_one_who_left_does_not_take_their_name_back_from_someone_new(
        sso_site: tuple[Site, str]) -> None:
    # The name given anew had no identity, and the provider still gave the one who left
    # that user name: their sign-in adopted the account meant for the new person.
    site, issuer = sso_site
    reviewer_who_left(site)
    librarians.add_librarian(site.ctx, "rev.iewer@nhs.net", PASSWORD, role="reviewer",
                             by="alice")

    with browser(site) as client:
        refused = sign_in(client, "rev")
        assert refused.status_code == 403
        assert ("You signed in as rev.iewer@nhs.net, but an administrator closed your "
                "account on this service. Ask your library's administrator if you still "
                "need access." in html.unescape(refused.text))
        assert client.get("/review").url.path == "/login"
    with reading(site.ctx.engine) as conn:
        account = stored.login_of(conn, "rev.iewer@nhs.net")
    assert account is not None and account.sso_subject is None and not account.sso
    with browser(site) as alice:
        assert login(alice).status_code == 200  # an administrator
        roster = html.unescape(alice.get("/librarians").text)
    assert ("Sign-in refused: the name's former holder, removed before it was given to "
            "someone new") in roster
    assert ("Added as reviewer; the former holder's single sign-on is refused for good"
            in roster)

    # The new person, given the user name at the provider, signs in to it.
    httpx.put(f"{issuer}/users/rev-2", json={"preferred_username": "rev.iewer@nhs.net",
                                            "groups": [EDITORS]}).raise_for_status()
    with browser(site) as client:
        assert who("rev.iewer@nhs.net", "editor") in sign_in(client, "rev-2").text
    with reading(site.ctx.engine) as conn:
        account = stored.login_of(conn, "rev.iewer@nhs.net")
    assert account is not None and account.sso_subject == f"{issuer} rev-2"


def test_no_mapped_group_and_bad_state_are_refused(sso_site: tuple[Site, str]) -> None:
    site, _ = sso_site
    with browser(site) as client:
        refused = sign_in(client, "nobody")
        assert refused.status_code == 403 and "none of the groups" in refused.text
        assert "Back to the sign-in page" in refused.text
        assert client.get("/review").url.path == "/login"
    assert "no.body@nhs.net" not in {a.name for a in librarians.everyone(site.ctx)}

    with browser(site) as client:
        url = urlsplit(callback_url(client, "ed"))
        query = parse_qs(url.query)
        forged = urlunsplit(url._replace(query=f"code={query['code'][0]}&state=forged"))
        refused = client.get(forged)
        assert refused.status_code == 400 and "did not complete" in refused.text
        assert client.get("/review").url.path == "/login"

    with browser(site) as client:
        url = callback_url(client, "ed")
        assert client.get(url).url.path == "/review"  # signed in
        replayed = client.get(url)
        assert replayed.status_code == 400 and "did not complete" in replayed.text


def test_password_login_stays_and_no_provider_means_no_button(
        make_context: Callable[..., Context]) -> None:
    with running_site(make_context) as site, site.client() as client:
        page = client.get("/login").text
        assert "Sign in with" not in page
        answer = client.post("/auth/oidc/login", data={"csrf": csrf_of(page)})
        assert answer.status_code == 404 and "not set up" in answer.text
        assert client.post("/login", data={"name": "alice", "password": PASSWORD,
                                           "csrf": csrf_of(page)}).status_code == 303
