"""A librarian who leaves, and one who forgets their password (docs/web.md "Roles"): the
administrator removes the first, on /librarians or with `awareness librarians remove`, and
gives the second a new one with `awareness librarians set-password`. Either way every session
ends at once; a removal revokes the API tokens too, and the name can later be given to a new
account that none of the old cookies fit."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import closing
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result

from awareness.cli import cli
from awareness.errors import AccountRemoved, AwarenessError, NotFound
from awareness.service import api_tokens, librarians
from awareness.service.context import Context
from awareness.storage import librarians as stored
from awareness.storage.db import reading
from tests.conftest import Clock, settings_env
from tests.test_web import PASSWORD, csrf_of, login, running_site

NEW_PASSWORD = "a brand new passphrase"


def _signed_in(url: str, name: str, password: str = PASSWORD) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=url, follow_redirects=False, timeout=30)
    assert login(client, name, password).status_code == 303
    return client, csrf_of(client.get("/dashboard").text)


@pytest.mark.integration
def test_an_administrator_removes_a_librarian_who_left_on_the_page(
        make_context: Callable[..., Context]) -> None:
    with running_site(make_context, seeded=False) as site:
        librarians.add_librarian(site.ctx, "bob", PASSWORD, role="editor", by="alice")
        token, _ = api_tokens.create(site.ctx, "bob", "spreadsheet")
        bearer = {"Authorization": f"Bearer {token}"}
        bob, _ = _signed_in(site.url, "bob")
        alice, csrf = _signed_in(site.url, "alice")
        with closing(bob), closing(alice), httpx.Client(base_url=site.url, timeout=30) as api:
            assert bob.get("/dashboard").status_code == 200
            assert api.get("/api/v1/topics", headers=bearer).status_code == 200
            roster = alice.get("/librarians").text
            assert 'href="/librarians/bob/remove"' in roster
            assert 'href="/librarians/alice/remove"' not in roster  # not oneself
            assert "awareness librarians set-password NAME" in roster
            confirm = alice.get("/librarians/bob/remove")
            assert confirm.status_code == 200 and "Remove bob?" in confirm.text
            assert bob.get("/dashboard").status_code == 200  # the GET changed nothing

            removed = alice.post("/librarians/bob/remove", data={"csrf": csrf})
            assert removed.status_code == 303
            roster = alice.get("/librarians").text
            assert "bob was removed: signed out everywhere and 1 API token revoked." in roster
            assert 'href="/librarians/bob/remove"' not in roster
            assert "Removed: sessions ended, 1 API token revoked" in roster  # the history

            assert bob.get("/dashboard").status_code == 303  # signed out at once
            assert api.get("/api/v1/topics", headers=bearer).status_code == 401
            with httpx.Client(base_url=site.url, timeout=30) as again:
                assert login(again, "bob").status_code == 200  # refused
            assert alice.post("/librarians/alice/remove",
                              data={"csrf": csrf}).status_code == 403
            assert alice.get("/librarians/bob/remove").status_code == 404

            # The name may go to someone new; the old holder's cookie does not fit it.
            librarians.add_librarian(site.ctx, "bob", NEW_PASSWORD, role="reviewer",
                                     by="alice")
            assert bob.get("/dashboard").status_code == 303
            assert [a.name for a in librarians.everyone(site.ctx)] == ["alice", "bob"]


def test_the_last_administrator_and_removed_accounts_are_refused(
        make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    librarians.add_librarian(ctx, "alice", PASSWORD)
    with pytest.raises(AwarenessError, match="alice is the last administrator"):
        librarians.remove(ctx, "alice", by="alice")
    # Nor made something less (`librarians set-role` from the command line): nobody could
    # then manage the accounts from the web pages.
    with pytest.raises(AwarenessError, match="alice is the last administrator"):
        librarians.set_role(ctx, "alice", "editor", by="root")
    librarians.add_librarian(ctx, "ada", PASSWORD)
    assert librarians.set_role(ctx, "ada", "editor", by="alice")  # another one is left
    librarians.add_librarian(ctx, "rita", PASSWORD, role="reviewer")
    assert librarians.remove(ctx, "rita", by="alice") == 0
    for attempt in (lambda: librarians.remove(ctx, "rita", by="alice"),
                    lambda: librarians.set_role(ctx, "rita", "editor", by="alice"),
                    lambda: librarians.set_password(ctx, "rita", NEW_PASSWORD, by="alice")):
        with pytest.raises(NotFound, match="no librarian 'rita'"):
            attempt()
    with pytest.raises(AwarenessError, match="no librarian 'rita'"):
        api_tokens.create(ctx, "rita")
    assert librarians.authenticate(ctx, "rita", PASSWORD) is None


def test_the_cli_sets_a_forgotten_password_and_removes_a_leaver(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str) -> None:
    ctx = make_context()
    librarians.add_librarian(ctx, "alice", PASSWORD)
    librarians.add_librarian(ctx, "rita", PASSWORD, role="reviewer")
    api_tokens.create(ctx, "rita")
    api_tokens.create(ctx, "rita")
    env = settings_env(tmp_path, database_url)

    def run(*args: str, stdin: str = "") -> str:
        result = CliRunner().invoke(cli, ["librarians", *args], env=env, input=stdin)
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    before = librarians.session_version(ctx, "rita")
    assert "rita has a new password; they were signed out everywhere" in run(
        "set-password", "rita", "--password-stdin", "--as", "alice", stdin=NEW_PASSWORD + "\n")
    assert librarians.authenticate(ctx, "rita", PASSWORD) is None
    assert librarians.authenticate(ctx, "rita", NEW_PASSWORD) is not None
    assert (librarians.session_version(ctx, "rita") or 0) > (before or 0)
    refused = CliRunner().invoke(cli, ["librarians", "set-password", "rita", "--password-stdin"],
                                 env=env, input="short\n")
    assert refused.exit_code == 1 and "password too short" in str(refused.exception)
    # A name nobody has is said before anyone is asked to type a password, as `add` does.
    unknown = CliRunner().invoke(cli, ["librarians", "set-password", "ritta"], env=env)
    assert isinstance(unknown.exception, NotFound) and "assword" not in unknown.output

    assert "rita removed: signed out everywhere, 2 API tokens revoked" in run(
        "remove", "rita", "--as", "alice")
    assert "rita" not in run("list")
    assert all(t.revoked_at for t in api_tokens.tokens_of(ctx, "rita"))
    assert [(e.librarian, e.action, e.detail, e.by) for e in librarians.history(ctx)][:2] == [
        ("rita", "removed", "sessions ended, 2 API tokens revoked", "alice"),
        ("rita", "password", "set anew; sessions ended", "alice")]


def test_a_single_sign_on_account_has_no_password_to_set(
        make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "reviewer", "",
                                "https://login.example/ sub-1")
    with pytest.raises(AwarenessError, match="signs in with single sign-on"):
        librarians.set_password(ctx, "jo@trust.nhs.uk", NEW_PASSWORD, by="alice")


SUBJECT = "https://login.example/ sub-1"


def test_a_removed_single_sign_on_account_stays_closed_until_restored(
        make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    librarians.add_librarian(ctx, "alice", PASSWORD)
    librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "reviewer", "", SUBJECT)
    librarians.remove(ctx, "jo@trust.nhs.uk", by="alice")
    closed = librarians.standing(ctx, "jo@trust.nhs.uk")

    # Whatever role the groups give, by the same name or a new one.
    for name in ("jo@trust.nhs.uk", "jo.smith@trust.nhs.uk"):
        with pytest.raises(AccountRemoved) as refused:
            librarians.sign_in_from_sso(ctx, name, "administrator", "", SUBJECT)
        assert refused.value.name == "jo@trust.nhs.uk"
    assert librarians.standing(ctx, "jo@trust.nhs.uk") == closed  # no session, no role
    assert librarians.standing(ctx, "jo.smith@trust.nhs.uk") is None
    assert [(e.librarian, e.action, e.detail, e.by) for e in librarians.history(ctx)][:2] == [
        ("jo@trust.nhs.uk", "refused", "account removed", "single sign-on"),
        ("jo@trust.nhs.uk", "removed", "sessions ended, 0 API tokens revoked", "alice")]

    assert librarians.restore(ctx, "jo@trust.nhs.uk", by="alice") is True
    back = librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "editor", "", SUBJECT)
    assert back[2] == "editor"
    with pytest.raises(AwarenessError, match=r"jo@trust\.nhs\.uk was not removed"):
        librarians.restore(ctx, "jo@trust.nhs.uk", by="alice")
    with pytest.raises(NotFound, match="no librarian 'nobody'"):
        librarians.restore(ctx, "nobody", by="alice")


def test_refused_sign_ins_are_recorded_once_a_day(make_context: Callable[..., Context],
                                                  clock: Clock) -> None:
    # Every refused sign-in added a line: a phone retrying filled the accounts' history.
    ctx = make_context()
    librarians.add_librarian(ctx, "alice", PASSWORD)
    librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "reviewer", "", SUBJECT)
    librarians.remove(ctx, "jo@trust.nhs.uk", by="alice")

    def refusals() -> int:
        return sum(e.action == "refused" for e in librarians.history(ctx))

    for hours in (0, 1, 22):  # within a day of the first
        clock.advance(hours=hours)
        with pytest.raises(AccountRemoved):
            librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "editor", "", SUBJECT)
    assert refusals() == 1
    clock.advance(hours=1)  # a day after the one recorded
    with pytest.raises(AccountRemoved):
        librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "editor", "", SUBJECT)
    assert refusals() == 2


def test_a_removed_account_s_name_is_not_taken_by_a_new_identity(
        make_context: Callable[..., Context]) -> None:
    # A removed password account too: single sign-on no longer adopts it. Its name goes to
    # someone new only when an administrator adds it again.
    ctx = make_context()
    librarians.add_librarian(ctx, "alice", PASSWORD)
    librarians.add_librarian(ctx, "jo@trust.nhs.uk", PASSWORD, role="reviewer")
    librarians.remove(ctx, "jo@trust.nhs.uk", by="alice")
    with pytest.raises(AccountRemoved):
        librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "editor", "", SUBJECT)
    librarians.add_librarian(ctx, "jo@trust.nhs.uk", NEW_PASSWORD, role="reviewer", by="alice")
    adopted = librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "editor", "", SUBJECT)
    assert adopted[0] == "jo@trust.nhs.uk"


def _subject_of(ctx: Context, name: str) -> str | None:
    with reading(ctx.engine) as conn:
        login = stored.login_of(conn, name)
    assert login is not None
    return login.sso_subject


def test_a_name_given_to_someone_new_is_not_taken_back_by_its_former_holder(
        make_context: Callable[..., Context], clock: Clock) -> None:
    # The account given anew forgot the old identity, so the old identity's next sign-in
    # (the identity provider still giving it the name) adopted the new person's account.
    ctx = make_context()
    librarians.add_librarian(ctx, "alice", PASSWORD)
    librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "reviewer", "", SUBJECT)
    librarians.remove(ctx, "jo@trust.nhs.uk", by="alice")
    librarians.add_librarian(ctx, "jo@trust.nhs.uk", NEW_PASSWORD, role="reviewer", by="alice")
    given = librarians.standing(ctx, "jo@trust.nhs.uk")

    # Before the new person ever signs in, and under another name too; once a day at most.
    for hours, name in ((0, "jo@trust.nhs.uk"), (2, "jo@trust.nhs.uk"),
                        (3, "jo.smith@trust.nhs.uk")):
        clock.advance(hours=hours)
        with pytest.raises(AccountRemoved) as refused:
            librarians.sign_in_from_sso(ctx, name, "administrator", "", SUBJECT)
        assert refused.value.name == "jo@trust.nhs.uk"
    assert librarians.standing(ctx, "jo@trust.nhs.uk") == given
    assert _subject_of(ctx, "jo@trust.nhs.uk") is None
    assert librarians.standing(ctx, "jo.smith@trust.nhs.uk") is None
    assert librarians.authenticate(ctx, "jo@trust.nhs.uk", NEW_PASSWORD) is not None
    assert [(e.librarian, e.action, e.detail, e.by) for e in librarians.history(ctx)][:4] == [
        ("jo@trust.nhs.uk", "refused", f"{librarians.BARRED} (signing in as "
         "jo.smith@trust.nhs.uk)", "single sign-on"),
        ("jo@trust.nhs.uk", "refused", librarians.BARRED, "single sign-on"),
        ("jo@trust.nhs.uk", "added",
         "as reviewer; the former holder's single sign-on is refused for good", "alice"),
        ("jo@trust.nhs.uk", "removed", "sessions ended, 0 API tokens revoked", "alice")]

    # The new person's identity adopts the account; the old one is still refused.
    new_subject = "https://login.example/ sub-2"
    assert librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "editor", "",
                                       new_subject)[2] == "editor"
    with pytest.raises(AccountRemoved):
        librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "editor", "", SUBJECT)
    assert _subject_of(ctx, "jo@trust.nhs.uk") == new_subject


def test_releasing_an_identity_bars_nothing(make_context: Callable[..., Context]) -> None:
    # The same people sign in again after an app registration changed: forgetting their
    # identity is not giving the name to someone new.
    ctx = make_context()
    librarians.add_librarian(ctx, "alice", PASSWORD)
    librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "reviewer", "", SUBJECT)
    assert librarians.release_sso(ctx, "jo@trust.nhs.uk", by="alice")
    assert librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "reviewer", "",
                                       SUBJECT)[0] == "jo@trust.nhs.uk"
    assert _subject_of(ctx, "jo@trust.nhs.uk") == SUBJECT


def test_the_cli_restores_a_removed_librarian(make_context: Callable[..., Context],
                                              tmp_path: Path, database_url: str) -> None:
    ctx = make_context()
    librarians.add_librarian(ctx, "alice", PASSWORD)
    librarians.add_librarian(ctx, "rita", PASSWORD, role="editor")
    librarians.sign_in_from_sso(ctx, "jo@trust.nhs.uk", "reviewer", "", SUBJECT)
    for name in ("rita", "jo@trust.nhs.uk"):
        librarians.remove(ctx, name, by="alice")
    env = settings_env(tmp_path, database_url)

    def run(*args: str, stdin: str = "") -> Result:
        return CliRunner().invoke(cli, ["librarians", *args], env=env, input=stdin)

    # A password account comes back without a password: the old one does not open it.
    restored = run("restore", "rita", "--role", "editor", "--as", "alice")
    assert restored.exit_code == 0 and restored.output == (
        "rita restored as editor: give them a password with "
        "`awareness librarians set-password rita`\n")
    assert librarians.authenticate(ctx, "rita", PASSWORD) is None
    assert run("set-password", "rita", "--password-stdin", "--as", "alice",
               stdin=NEW_PASSWORD + "\n").exit_code == 0
    assert librarians.authenticate(ctx, "rita", NEW_PASSWORD) is not None

    restored = run("restore", "jo@trust.nhs.uk", "--as", "alice")
    assert restored.exit_code == 0 and "they sign in with single sign-on again" in (
        restored.output)
    assert [(e.librarian, e.action, e.detail, e.by) for e in librarians.history(ctx)][:3] == [
        ("jo@trust.nhs.uk", "restored",
         "single sign-on again, as reviewer until their groups set it", "alice"),
        ("rita", "password", "set anew; sessions ended", "alice"),
        ("rita", "restored", "as editor, with no password until one is set", "alice")]
    assert {a.name: a.role for a in librarians.everyone(ctx)} == {
        "alice": "administrator", "rita": "editor", "jo@trust.nhs.uk": "reviewer"}

    again = run("restore", "rita")
    assert again.exit_code == 1 and str(again.exception) == (
        "rita was not removed: there is nothing to restore")


def test_init_says_how_to_make_the_first_login_while_there_is_none(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str) -> None:
    ctx = make_context()
    env = settings_env(tmp_path, database_url)
    hint = "nobody can sign in to the web pages yet: `awareness librarians add NAME --role " \
           "administrator` makes the first login"
    first = CliRunner().invoke(cli, ["init"], env=env)
    assert first.exit_code == 0 and hint in first.output, first.output
    librarians.add_librarian(ctx, "alice", PASSWORD)
    again = CliRunner().invoke(cli, ["init"], env=env)
    assert again.exit_code == 0 and "nobody can sign in" not in again.output


def _change(client: httpx.Client, csrf: str, current: str, new: str,
            again: str | None = None) -> httpx.Response:
    return client.post("/account/password", data={
        "csrf": csrf, "current-password": current, "new-password": new,
        "new-password-again": new if again is None else again})


def _refused(response: httpx.Response, status: int, problem: str) -> str:
    """The form again, with the problem in the summary and by its field, nothing typed."""
    assert response.status_code == status, response.text
    assert "There is a problem" in response.text and problem in response.text
    assert 'aria-invalid="true"' in response.text
    assert "wrong guess" not in response.text and NEW_PASSWORD not in response.text
    return response.text


@pytest.mark.integration
def test_a_librarian_changes_their_own_password(make_context: Callable[..., Context]) -> None:
    with running_site(make_context, seeded=False) as site:
        librarians.add_librarian(site.ctx, "rita", PASSWORD, role="reviewer", by="alice")
        rita, csrf = _signed_in(site.url, "rita")
        elsewhere, _ = _signed_in(site.url, "rita")
        with closing(rita), closing(elsewhere):
            dashboard = rita.get("/dashboard").text
            assert 'href="/account/password">Your password</a>' in dashboard
            before = librarians.session_version(site.ctx, "rita")
            form = rita.get("/account/password")
            assert form.status_code == 200
            for autocomplete in ('id="current-password" name="current-password" type="password" '
                                 'autocomplete="current-password"',
                                 'id="new-password" name="new-password" type="password" '
                                 'autocomplete="new-password"',
                                 'id="new-password-again" name="new-password-again" '
                                 'type="password" autocomplete="new-password"'):
                assert autocomplete in form.text
            # The GET changed nothing.
            assert librarians.session_version(site.ctx, "rita") == before
            assert librarians.authenticate(site.ctx, "rita", PASSWORD) is not None

            _refused(_change(rita, csrf, "wrong guess!", NEW_PASSWORD), 400,
                     "Your current password is wrong.")
            _refused(_change(rita, csrf, PASSWORD, "short"), 400,
                     f"at least {librarians.MIN_PASSWORD} characters")
            _refused(_change(rita, csrf, PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!"), 400,
                     "typed differently the second time")
            assert librarians.authenticate(site.ctx, "rita", PASSWORD) is not None
            assert librarians.session_version(site.ctx, "rita") == before

            changed = _change(rita, csrf, PASSWORD, NEW_PASSWORD)
            assert changed.status_code == 303 and changed.headers["location"] == "/dashboard"
            assert "Your password is changed; you were signed out everywhere else." in (
                rita.get("/dashboard").text)  # this browser goes on, in a new session
            assert csrf_of(rita.get("/dashboard").text) != csrf
            assert elsewhere.get("/dashboard").status_code == 303  # the other one is out
        assert librarians.authenticate(site.ctx, "rita", PASSWORD) is None
        assert librarians.authenticate(site.ctx, "rita", NEW_PASSWORD) is not None
        latest = librarians.history(site.ctx)[0]
        assert (latest.librarian, latest.action, latest.by) == ("rita", "password", "rita")


@pytest.mark.integration
def test_wrong_current_passwords_count_as_failed_logins(
        make_context: Callable[..., Context]) -> None:
    # A session left open on a shared computer must not let someone guess the password
    # faster than the login page allows: the two share one count.
    with running_site(make_context, seeded=False) as site:
        alice, csrf = _signed_in(site.url, "alice")
        with closing(alice):
            for _ in range(5):
                _refused(_change(alice, csrf, "wrong guess!", NEW_PASSWORD), 400,
                         "Your current password is wrong.")
            throttled = _refused(_change(alice, csrf, PASSWORD, NEW_PASSWORD), 429,
                                 "Too many failed attempts")
            assert "Your current password is wrong." not in throttled
            with site.client("127.0.0.9") as elsewhere:  # the name's count, from anywhere
                assert login(elsewhere, "alice").status_code == 429
        assert librarians.authenticate(site.ctx, "alice", NEW_PASSWORD) is None


def test_without_a_terminal_the_password_is_asked_for_on_standard_input(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str) -> None:
    # `docker compose exec` without -it, or a script: the prompt printed only "aborted".
    ctx = make_context()
    env = settings_env(tmp_path, database_url)
    for args in (["add", "sam"], ["set-password", "sam"]):
        if args[0] == "set-password":
            librarians.add_librarian(ctx, "sam", PASSWORD)
        result = CliRunner().invoke(cli, ["librarians", *args], env=env, input="")
        assert result.exit_code == 1, result.output
        assert "no terminal to type the password in: give it on standard input with " \
               "--password-stdin" in str(result.exception)
    assert [a.name for a in librarians.everyone(ctx)] == ["sam"]
    assert librarians.authenticate(ctx, "sam", PASSWORD) is not None  # unchanged
