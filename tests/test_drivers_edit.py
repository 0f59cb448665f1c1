"""Completing a driver record by hand: the service (history, derived columns, publishing,
refused fields and links), `awareness drivers edit`, and the record page's edit form over a
real socket (sign-in, CSRF, hostile input kept inert, the edit in the history)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from awareness.cli import cli
from awareness.errors import AwarenessError, EditConflict, NotFound
from awareness.service.context import Context
from awareness.service.driver_edits import edit_driver, loaded_fingerprints
from awareness.service.drivers import get_driver
from awareness.storage.models import DriverRecordRow, DriverRecordVersion
from tests.conftest import ROOT, Clock, orm_session, orm_writing, settings_env
from tests.test_web import (
    HOSTILE_SUMMARY,
    HOSTILE_TITLE,
    WHEN,
    Site,
    assert_inert,
    csrf_of,
    goes_to_login,
    parse,
    running_site,
    signed_in,
)

FIXTURE_TIERS = {"site": "integration"}  # tiers of this module's fixtures (conftest.py)

DRAFT = "nhs-workforce-plan"


def add_draft(ctx: Context, *, member: str = "") -> None:
    """A record as ``draft_from_match`` leaves it: no impact, status "draft"; ``member``
    as an import may leave it (initials members.toml may not list)."""
    fields = {"title_of_driver": "NHS Long Term Workforce Plan", "source": "NHS England",
              "link": "https://www.england.nhs.uk/plan.pdf", "summary": "A plan.",
              "publication_format": "PDF"}
    with orm_writing(ctx) as session:
        session.add(DriverRecordRow(
            slug=DRAFT, kind="driver", title="NHS Long Term Workforce Plan", status="draft",
            source="NHS England", link="https://www.england.nhs.uk/plan.pdf", summary="A plan.",
            tags=[], created_at=WHEN, updated_at=WHEN, member=member,
            fields={**fields, "member_responsible": member} if member else fields))


def add_case_study(ctx: Context) -> None:
    with orm_writing(ctx) as session:
        session.add(DriverRecordRow(
            slug="a-case-study", kind="case_study", title="A case study", source="", link="",
            summary="", tags=[], created_at=WHEN, updated_at=WHEN, fields={}))


def versions(ctx: Context) -> list[DriverRecordVersion]:
    with orm_session(ctx) as session:
        return list(session.scalars(select(DriverRecordVersion)
                                    .order_by(DriverRecordVersion.id)))


# --- service --------------------------------------------------------------------------------

def test_edit_writes_history_keeps_derived_columns_and_publishes(
        make_context: Callable[..., Context], clock: Clock) -> None:
    ctx = make_context()
    add_draft(ctx)
    clock.advance(days=1)
    result = edit_driver(ctx, DRAFT, changes={
        "impact": "Libraries can run\r\nworkforce sessions. ", "due_for_review": "March 2027",
        "member_responsible": "vt (Vicky T)", "date_of_publication": "30 June 2023",
        "tags": "Workforce, workforce, Leadership", "summary": "A plan."}, activate=True,
        changed_by="alice")
    assert result.activated and result.changed == (
        "impact", "tags", "date_of_publication", "due_for_review", "member_responsible")
    view = get_driver(ctx, DRAFT)
    assert (view.status, view.impact) == ("active", "Libraries can run\nworkforce sessions.")
    assert view.fields["impact"] == view.impact
    assert (view.member, view.review_due_on, view.published_on) == (
        "VT", date(2027, 3, 1), date(2023, 6, 30))
    assert view.fields["member_responsible"] == "VT"  # as members.toml writes them
    assert view.tags == ["Workforce", "Leadership"]
    latest = view.history[0]
    assert (latest.action, latest.changed_by, latest.changed_at) == ("edited", "alice",
                                                                    clock.now)
    assert latest.changes["impact"] == ["", "Libraries can run\nworkforce sessions."]
    assert latest.changes["status"] == ["draft", "active"]
    assert latest.changes["fields.due_for_review"] == [None, "March 2027"]
    assert "summary" not in latest.changes


def test_clearing_a_field_and_saving_unchanged_text(make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    add_draft(ctx)
    edit_driver(ctx, DRAFT, changes={"due_for_review": "2027"}, activate=False,
                changed_by="alice")
    before = len(versions(ctx))
    same = edit_driver(ctx, DRAFT, changes={"due_for_review": " 2027\r\n", "link":
                                            "https://www.england.nhs.uk/plan.pdf"},
                       activate=False, changed_by="alice")
    assert (same.changed, same.activated, len(versions(ctx))) == ((), False, before)
    cleared = edit_driver(ctx, DRAFT, changes={"due_for_review": "", "link": ""},
                          activate=False, changed_by="bob")
    assert cleared.changed == ("link", "due_for_review")
    view = get_driver(ctx, DRAFT)
    assert (view.link, view.review_due_on, view.status) == ("", None, "draft")
    assert "due_for_review" not in view.fields and "link" not in view.fields


@pytest.mark.parametrize(("changes", "message"), [
    ({"title": "x", "impact": "y", "colour": "z"},
     "cannot edit colour: editable fields are title, impact, summary, key_features"),
    ({"link": "javascript:alert(1)"}, "the link must be an http:// or https:// address"),
    ({"link": "ftp://example.org/plan.pdf"}, "the link must be an http:// or https:// address"),
    ({"link": "https://example.org/a plan.pdf"}, "the link must be an http:// or https://"),
])
def test_refused_changes_change_nothing(make_context: Callable[..., Context],
                                        changes: dict[str, str], message: str) -> None:
    ctx = make_context()
    add_draft(ctx)
    with pytest.raises(AwarenessError) as caught:
        edit_driver(ctx, DRAFT, changes=changes, activate=True, changed_by="alice")
    assert message in str(caught.value) and "\n" not in str(caught.value)
    view = get_driver(ctx, DRAFT)
    assert (view.status, view.impact, view.link) == ("draft", "",
                                                     "https://www.england.nhs.uk/plan.pdf")
    assert versions(ctx) == []


MEMBERS = ("FG (Example member FG), LK (Example member LK), VT (Example member VT), "
           "JC (Example member JC), JW (Example member JW)")


@pytest.mark.parametrize(("typed", "stored", "member"), [
    ("vt", "VT", "VT"), (" LK ", "LK", "LK"), ("jc (Jo C)", "JC", "JC"), ("", None, ""),
])
def test_the_member_responsible_is_a_member_of_members_toml(
        make_context: Callable[..., Context], typed: str, stored: str | None,
        member: str) -> None:
    """Initials are written as members.toml writes them, since the weekly mail finds the
    member by them."""
    ctx = make_context()
    add_draft(ctx)
    edit_driver(ctx, DRAFT, changes={"member_responsible": "FG"}, activate=False,
                changed_by="alice")
    edit_driver(ctx, DRAFT, changes={"member_responsible": typed}, activate=False,
                changed_by="alice")
    view = get_driver(ctx, DRAFT)
    assert (view.fields.get("member_responsible"), view.member) == (stored, member)


@pytest.mark.parametrize(("slug", "changes", "message"), [
    # Initials nobody has: the record would drop out of every member's weekly mail.
    (DRAFT, {"member_responsible": "ZZQ"},
     f"Group member responsible: “ZZQ” is not a member in {ROOT / 'subscriptions'}"
     f"/members.toml; its members are {MEMBERS}. Leave it empty for nobody"),
    # A case study's field on a driver: stored, and shown nowhere.
    (DRAFT, {"project_team": "x", "impact": "y"},
     "a driver has no project_team: a driver's fields are title, impact, summary, "
     "key_features, source, link"),
    ("a-case-study", {"key_features": "x"},
     "a case study has no key_features: a case study's fields are title, impact, summary, "
     "project_team"),
])
def test_a_member_or_field_the_record_cannot_have_is_refused(
        make_context: Callable[..., Context], slug: str, changes: dict[str, str],
        message: str) -> None:
    ctx = make_context()
    add_draft(ctx)
    add_case_study(ctx)
    with pytest.raises(AwarenessError) as caught:
        edit_driver(ctx, slug, changes=changes, activate=False, changed_by="alice")
    assert str(caught.value).startswith(message), str(caught.value)
    assert versions(ctx) == []


def test_a_member_members_toml_does_not_list_stays_until_changed(
        make_context: Callable[..., Context]) -> None:
    """An imported record may name someone who left: editing another field keeps it."""
    ctx = make_context()
    add_draft(ctx, member="ZZ")
    edit_driver(ctx, DRAFT, changes={"member_responsible": "ZZ", "summary": "Longer."},
                activate=False, changed_by="alice")
    view = get_driver(ctx, DRAFT)
    assert (view.fields["member_responsible"], view.summary) == ("ZZ", "Longer.")


def test_publishing_needs_the_impact(make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    add_draft(ctx)
    with pytest.raises(AwarenessError, match="fill in 'What this means for libraries'"):
        edit_driver(ctx, DRAFT, changes={"summary": "Longer."}, activate=True,
                    changed_by="alice")
    assert get_driver(ctx, DRAFT).summary == "A plan."
    with pytest.raises(NotFound):
        edit_driver(ctx, "no-such-record", changes={}, activate=False, changed_by="alice")


def test_personal_data_is_removed_from_edited_fields(
        make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    add_draft(ctx)
    result = edit_driver(ctx, DRAFT, changes={"impact": "Ask jo.bloggs@trust.nhs.uk"},
                         activate=False, changed_by="alice")
    assert result.redacted == ("impact",)
    assert get_driver(ctx, DRAFT).impact == "Ask [e-mail address removed]"


def test_an_edit_keeps_what_someone_saved_after_its_form_opened(
        make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    add_draft(ctx)
    opened = get_driver(ctx, DRAFT)  # alice opens the form
    shown = loaded_fingerprints(opened)
    edit_driver(ctx, DRAFT, changes={"impact": "Bob's impact.", "source": "NHS E"},
                activate=False, changed_by="bob")
    # alice's form sends every field back as it showed them, with her new summary.
    form = {"title": opened.title, "impact": "", "summary": "Alice's summary.",
            "source": "NHS England", "link": opened.link, "tags": ""}
    result = edit_driver(ctx, DRAFT, changes=form, activate=False, changed_by="alice",
                         loaded=shown)
    assert result.changed == ("summary",)
    view = get_driver(ctx, DRAFT)
    assert (view.impact, view.source, view.summary) == ("Bob's impact.", "NHS E",
                                                        "Alice's summary.")


def test_an_edit_of_a_field_someone_changed_meanwhile_is_refused(
        make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    add_draft(ctx)
    shown = loaded_fingerprints(get_driver(ctx, DRAFT))
    edit_driver(ctx, DRAFT, changes={"impact": "Bob's impact."}, activate=False,
                changed_by="bob")
    before = len(versions(ctx))
    with pytest.raises(EditConflict) as caught:
        edit_driver(ctx, DRAFT, changes={"impact": "Alice's impact.", "summary": "Hers."},
                    activate=True, changed_by="alice", loaded=shown)
    assert caught.value.fields == ("impact",)
    view = get_driver(ctx, DRAFT)
    assert (view.impact, view.summary, view.status) == ("Bob's impact.", "A plan.", "draft")
    assert len(versions(ctx)) == before
    # Opened again (fresh fingerprints), her text replaces his knowingly.
    again = edit_driver(ctx, DRAFT, changes={"impact": "Alice's impact."}, activate=False,
                        changed_by="alice", loaded=loaded_fingerprints(get_driver(ctx, DRAFT)))
    assert again.changed == ("impact",)


# --- CLI ------------------------------------------------------------------------------------

def test_cli_edit(make_context: Callable[..., Context], tmp_path: Path,
                  database_url: str) -> None:
    ctx = make_context()  # the same database the CLI opens through ``env``
    env = settings_env(tmp_path, database_url)
    runner = CliRunner()
    add_draft(ctx)
    bad = runner.invoke(cli, ["drivers", "edit", DRAFT, "--set", "colour=red"], env=env)
    # main() prints an AwarenessError as one line; CliRunner hands back the exception itself.
    assert isinstance(bad.exception, AwarenessError)
    assert "editable fields are title, impact" in str(bad.exception)
    malformed = runner.invoke(cli, ["drivers", "edit", DRAFT, "--set", "tags"], env=env)
    assert malformed.exit_code != 0 and "FIELD=VALUE" in malformed.output
    done = runner.invoke(cli, ["drivers", "edit", DRAFT, "--impact", "Run sessions.",
                               "--set", "due_for_review=May 2027", "--set", "tags=A, B",
                               "--activate"], env=env)
    assert done.exit_code == 0, done.output
    assert f"{DRAFT}: changed impact, tags, due_for_review" in done.output
    assert f"{DRAFT}: published (active)" in done.output
    view = get_driver(ctx, DRAFT)
    assert (view.status, view.impact, view.tags, view.review_due_on) == (
        "active", "Run sessions.", ["A", "B"], date(2027, 5, 1))
    again = runner.invoke(cli, ["drivers", "edit", DRAFT, "--impact", "Run sessions."], env=env)
    assert f"{DRAFT}: nothing changed" in again.output


def test_cli_edit_checks_the_member_and_the_kinds_fields(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str) -> None:
    """`--set member_responsible=ZZQ` and a case study's field on a driver were accepted
    silently; the record then dropped out of every member's weekly mail."""
    ctx = make_context()
    env = settings_env(tmp_path, database_url)
    runner = CliRunner()
    add_draft(ctx)
    unknown = runner.invoke(cli, ["drivers", "edit", DRAFT, "--set",
                                  "member_responsible=ZZQ"], env=env)
    assert isinstance(unknown.exception, AwarenessError)
    assert f"its members are {MEMBERS}" in str(unknown.exception)
    foreign = runner.invoke(cli, ["drivers", "edit", DRAFT, "--set", "project_team=x"], env=env)
    assert isinstance(foreign.exception, AwarenessError)
    assert "a driver has no project_team: a driver's fields are" in str(foreign.exception)
    assert versions(ctx) == []
    done = runner.invoke(cli, ["drivers", "edit", DRAFT, "--set", "member_responsible=vt"],
                         env=env)
    assert done.exit_code == 0, done.output
    assert done.output == f"{DRAFT}: changed member_responsible\n"
    assert get_driver(ctx, DRAFT).fields["member_responsible"] == "VT"



# --- web ------------------------------------------------------------------------------------

@pytest.fixture
def site(make_context: Callable[..., Context]) -> Iterator[Site]:
    with running_site(make_context) as running:
        add_draft(running.ctx)
        yield running


def form_of(page: str) -> dict[str, str]:
    tree = parse(page)
    values = {el.get("name", ""): el.get("value", "") for el in tree.iter("input")}
    values.update({el.get("name", ""): el.text or "" for el in tree.iter("textarea")})
    values.update({el.get("name", ""): option.get("value", "") for el in tree.iter("select")
                   for option in el.iter("option") if option.get("selected") is not None})
    return values


def test_edit_needs_sign_in(site: Site) -> None:
    with site.client() as client:
        assert client.get(f"/drivers/{DRAFT}/edit").headers["location"] == (
            f"/login?next=%2Fdrivers%2F{DRAFT}%2Fedit")
        assert goes_to_login(client.post(f"/drivers/{DRAFT}/edit", data={"impact": "x"}))
        page = client.get(f"/drivers/{DRAFT}")
        assert page.status_code == 404  # a draft is the library's own business (issue 14)
        assert "/edit" not in page.text and "Draft:" not in page.text
    assert get_driver(site.ctx, DRAFT).impact == ""


def test_edit_needs_the_csrf_token(site: Site) -> None:
    with signed_in(site) as (client, _):
        for token in ("", "not-the-token"):
            response = client.post(f"/drivers/{DRAFT}/edit",
                                   data={"csrf": token, "impact": "x", "activate": "1"})
            assert response.status_code == 403
    assert get_driver(site.ctx, DRAFT).status == "draft"
    assert versions(site.ctx) == []


def test_draft_completed_and_published_from_the_record_page(site: Site) -> None:
    with signed_in(site) as (client, _):
        record = client.get(f"/drivers/{DRAFT}").text
        notice = parse(record).find(".//p[@class='draft']")
        assert notice is not None
        assert "Draft: complete 'What this means for libraries' and publish" in "".join(
            notice.itertext())
        assert f"/drivers/{DRAFT}/edit" in {a.get("href") for a in notice.iter("a")}
        form_page = client.get(f"/drivers/{DRAFT}/edit")
        assert form_page.status_code == 200
        values = form_of(form_page.text)
        assert values["source"] == "NHS England" and values["impact"] == ""
        values.update(impact=HOSTILE_TITLE, summary=HOSTILE_SUMMARY, tags="<b>x</b>, Workforce",
                      due_for_review="1 April 2027", activate="1")
        saved = client.post(f"/drivers/{DRAFT}/edit", data=values)
        assert saved.status_code == 303
        assert saved.headers["location"] == f"/drivers/{DRAFT}"
        page = client.get(saved.headers["location"])
        again = client.get(saved.headers["location"])
    tree = assert_inert(page.text)
    flash = tree.find(".//p[@class='flash']")
    assert flash is not None and "The record is published." in "".join(flash.itertext())
    assert "class=\"flash\"" not in again.text  # shown once
    assert tree.find(".//p[@class='draft']") is None
    impact = tree.find(".//div[@class='impact']/dd")
    assert impact is not None and impact.text == HOSTILE_TITLE
    history = tree.find(".//ol[@class='history']")
    assert history is not None
    text = " ".join(history.itertext())
    assert "edited by alice" in text and "draft → active" in text
    assert f"(empty) → {HOSTILE_TITLE}" in text
    view = get_driver(site.ctx, DRAFT)
    assert (view.status, view.review_due_on, view.tags) == ("active", date(2027, 4, 1),
                                                            ["<b>x</b>", "Workforce"])


def test_bad_link_shows_the_form_again_with_the_error(site: Site) -> None:
    with signed_in(site) as (client, token):
        values = form_of(client.get("/drivers/evil-record/edit").text)
        assert values["link"] == "javascript:alert(1)"  # shown as text, never as a link
        values.update(csrf=token, impact="Better impact.")
        response = client.post("/drivers/evil-record/edit", data=values)
        assert response.status_code == 400
        tree = assert_inert(response.text)
        error = tree.find(".//div[@class='error-summary']")
        assert error is not None and "http:// or https://" in "".join(error.itertext())
        assert form_of(response.text)["impact"] == "Better impact."
        assert csrf_of(response.text) == token
        assert client.get("/drivers/no-such-record/edit").status_code == 404
    assert get_driver(site.ctx, "evil-record").impact == HOSTILE_TITLE


def test_fields_missing_from_the_post_are_left_alone(site: Site) -> None:
    with signed_in(site) as (client, token):
        response = client.post(f"/drivers/{DRAFT}/edit",
                               data={"csrf": token, "impact": "Only this."})
        assert response.status_code == 303
    view = get_driver(site.ctx, DRAFT)
    assert (view.impact, view.source, view.summary, view.status) == (
        "Only this.", "NHS England", "A plan.", "draft")


def member_choices(page: str) -> list[tuple[str, str, bool]]:
    select_ = parse(page).find(".//select[@id='e-member_responsible']")
    assert select_ is not None and select_.get("name") == "member_responsible"
    return [(o.get("value", ""), "".join(o.itertext()), o.get("selected") is not None)
            for o in select_.iter("option")]


EVERY_MEMBER = [("", "Nobody yet"), ("FG", "FG – Example member FG"),
                ("LK", "LK – Example member LK"), ("VT", "VT – Example member VT"),
                ("JC", "JC – Example member JC"), ("JW", "JW – Example member JW")]


def test_the_member_is_chosen_from_members_toml(site: Site) -> None:
    """The member was typed into a free-text box: "vt" or a typo's initials were saved, and
    the record dropped out of every member's weekly mail."""
    with orm_writing(site.ctx) as session:  # as an import leaves someone who has left
        row = session.scalars(select(DriverRecordRow).where(
            DriverRecordRow.slug == "interim-nhs-people-plan")).one()
        row.fields = {**row.fields, "member_responsible": "ZZ"}
        row.member = "ZZ"
    with signed_in(site) as (client, token):
        assert member_choices(client.get(f"/drivers/{DRAFT}/edit").text) == [
            (value, label, value == "") for value, label in EVERY_MEMBER]
        imported = client.get("/drivers/interim-nhs-people-plan/edit").text
        assert member_choices(imported) == [
            *((value, label, False) for value, label in EVERY_MEMBER),
            ("ZZ", "ZZ (as the record has it; not in members.toml)", True)]
        values = form_of(imported)  # another field saved: the member stays as it was
        saved = client.post("/drivers/interim-nhs-people-plan/edit",
                            data={**values, "primary_audience": "Boards"})
        assert saved.status_code == 303
        chosen = client.post(f"/drivers/{DRAFT}/edit", data={**form_of(
            client.get(f"/drivers/{DRAFT}/edit").text), "member_responsible": "LK"})
        assert chosen.status_code == 303
        typed = client.post(f"/drivers/{DRAFT}/edit", data={"csrf": token,
                                                              "member_responsible": "zzq"})
        assert typed.status_code == 400
        error = parse(typed.text).find(".//div[@class='error-summary']")
        assert error is not None
        assert "“zzq” is not a member" in "".join(error.itertext())
    plan = get_driver(site.ctx, "interim-nhs-people-plan")
    assert (plan.fields["member_responsible"], plan.fields["primary_audience"]) == (
        "ZZ", "Boards")
    assert get_driver(site.ctx, DRAFT).fields["member_responsible"] == "LK"


def test_the_form_keeps_a_concurrent_edit_and_shows_a_clash(site: Site) -> None:
    with signed_in(site) as (client, _):
        values = form_of(client.get(f"/drivers/{DRAFT}/edit").text)
        assert values["loaded"]
        edit_driver(site.ctx, DRAFT, changes={"impact": "Bob's impact."}, activate=False,
                    changed_by="bob")
        values.update(summary="Alice's summary.")
        assert client.post(f"/drivers/{DRAFT}/edit", data=values).status_code == 303
        view = get_driver(site.ctx, DRAFT)
        assert (view.impact, view.summary) == ("Bob's impact.", "Alice's summary.")

        values = form_of(client.get(f"/drivers/{DRAFT}/edit").text)
        edit_driver(site.ctx, DRAFT, changes={"impact": "Carol's impact.", "source": "DHSC"},
                    activate=False, changed_by="carol")
        values.update(impact="Alice's impact.", primary_audience="Librarians")
        clash = client.post(f"/drivers/{DRAFT}/edit", data=values)
        assert clash.status_code == 409
        tree = assert_inert(clash.text)
        error = tree.find(".//div[@class='error-summary']")
        assert error is not None and "(edited by carol)" in "".join(error.itertext())
        theirs = tree.find(".//div[@id='e-impact-theirs']")
        assert theirs is not None and "Carol's impact." in "".join(theirs.itertext())
        again = form_of(clash.text)
        assert (again["impact"], again["primary_audience"], again["source"]) == (
            "Alice's impact.", "Librarians", "DHSC")
        assert get_driver(site.ctx, DRAFT).impact == "Carol's impact."
        assert client.post(f"/drivers/{DRAFT}/edit", data=again).status_code == 303
    view = get_driver(site.ctx, DRAFT)
    assert (view.impact, view.source, view.fields["primary_audience"]) == (
        "Alice's impact.", "DHSC", "Librarians")
