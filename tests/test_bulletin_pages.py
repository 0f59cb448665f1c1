"""The bulletin pages (issue 13) over a real uvicorn server on 127.0.0.1: who may see and
change what (visitors go to the login page, librarians who are not editors get 403, every
POST needs the session's token), that a GET changes nothing, every editing action, the
preview, the archive and its Atom feed, the one-click "stop bulletins" link, and that nothing
internal (drafts, editors' names, held state, removed items) reaches the public.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

import feedparser
import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import select

from awareness.cli import cli
from awareness.reports.figures import parse_period
from awareness.service import bulletins, librarians, reports, roster
from awareness.service.context import Context
from awareness.storage.models import (
    BulletinEntry,
    BulletinIssue,
    Match,
    OutboxMessage,
    Subscriber,
)
from awareness.web.pages import make_environment
from tests.conftest import ROOT, Clock, orm_session, orm_writing, settings_env
from tests.test_bulletins import BULLETIN, add_item, subscriptions, write_bulletin
from tests.test_web import (
    Site,
    assert_inert,
    csrf_of,
    goes_to_login,
    login,
    parse,
    running_site,
    signed_in,
)

FIXTURE_TIERS = {"site": "integration"}
__all__ = ["subscriptions"]  # a fixture, shared

EDIT = "/bulletins/workforce/1/edit"
ACTIONS = ["intro", "move", "move-to", "remove", "put-back", "note", "add", "spotlight",
           "test", "approve", "reopen", "correction"]
PRIVATE = BULLETIN.format(if_unapproved="hold").replace(
    'title = "Workforce bulletin"', 'title = "Board papers digest"\npublic_archive = false')
REMOVED = "Removed: a story the editor took out"
DRAFT_ONLY = "Drafted later: the next issue's lead"


@pytest.fixture
def site(make_context: Callable[..., Context], subscriptions: Path) -> Iterator[Site]:
    """The web test site with two bulletins edited by alice (bob is a librarian, not an
    editor): ``workforce`` (public archive) and ``board`` (private); the seeded subscriber
    chose bulletins."""
    write_bulletin(subscriptions)
    (subscriptions / "bulletins" / "board.toml").write_text(PRIVATE, encoding="utf-8")
    with running_site(make_context, AWARENESS_PATHS_SUBSCRIPTIONS=str(subscriptions)) as running:
        with orm_writing(running.ctx) as session:
            reader = session.scalar(select(Subscriber).where(Subscriber.token == running.token))
            assert reader is not None
            reader.bulletins = True
            for key in ("approved", "auto"):  # the seed's items go to digests, not here
                session.get_one(Match, running.ids[key]).status = "rejected"
        yield running


def state(site: Site) -> tuple[object, ...]:
    """Everything a bulletin page could change."""
    with orm_session(site.ctx) as session:
        return (
            sorted(session.execute(select(
                BulletinIssue.bulletin, BulletinIssue.number, BulletinIssue.status,
                BulletinIssue.intro, BulletinIssue.spotlight_id, BulletinIssue.approved_by,
                BulletinIssue.correction, BulletinIssue.corrected_at)).all()),
            sorted(session.execute(select(BulletinEntry.id, BulletinEntry.section,
                                          BulletinEntry.position, BulletinEntry.note,
                                          BulletinEntry.removed)).all()),
            session.scalars(select(OutboxMessage.key).order_by(OutboxMessage.key)).all(),
            sorted(session.execute(select(Subscriber.id, Subscriber.bulletins,
                                          Subscriber.unsubscribed_at)).all()),
            site.snapshot(),
        )


def drafted(site: Site) -> dict[str, int]:
    """Issue 1 of workforce drafted with three items; entry ids by title."""
    ctx = site.ctx
    add_item(ctx, "Leadership framework for NHS boards", score=3.0)
    add_item(ctx, "Compassionate leadership in nursing", score=2.0)
    add_item(ctx, "Virtual wards guidance", topic="digital")
    bulletins.draft(ctx, "workforce")
    return {e.title: e.entry_id for e in bulletins.issue(ctx, "workforce", 1).entries}


def sent(site: Site, clock: Clock) -> dict[str, int]:
    """Issue 1 of workforce held, then approved by alice and sent, with one entry removed;
    issue 2 drafted with an item of its own."""
    ctx = site.ctx
    entries = drafted(site)
    removed = add_item(ctx, REMOVED, score=0.1)
    bulletins.draft(ctx, "workforce")
    entries = {e.item_id: e.entry_id for e in bulletins.issue(ctx, "workforce", 1).entries}
    bulletins.remove_entry(ctx, "workforce", 1, entries[removed], by="alice")
    bulletins.set_intro(ctx, "workforce", 1, "This week: boards.", by="alice")
    clock.now = bulletins.issue(ctx, "workforce", 1).due_at
    bulletins.tick(ctx)
    assert bulletins.issue(ctx, "workforce", 1).held_at is not None
    bulletins.approve(ctx, "workforce", 1, by="alice")
    bulletins.send_issue(ctx, "workforce", 1)
    add_item(ctx, DRAFT_ONLY, score=5.0)
    bulletins.draft(ctx, "workforce")
    return entries


@contextmanager
def signed_in_as(site: Site, name: str) -> Iterator[tuple[httpx.Client, str]]:
    with site.client() as client:
        assert login(client, name).status_code == 303
        yield client, csrf_of(client.get("/review").text)


# --- who may do what --------------------------------------------------------------------------

def test_visitors_are_sent_to_login_and_change_nothing(site: Site) -> None:
    drafted(site)
    before = state(site)
    with site.client() as client:
        for path in [EDIT, "/bulletins/workforce/1/preview", f"{EDIT}?find=leadership"]:
            assert goes_to_login(client.get(path)), path
        for path in [*(f"/bulletins/workforce/1/{a}" for a in ACTIONS),
                     "/bulletins/workforce/draft"]:
            response = client.post(path, data={"csrf": "x", "entry": "1", "intro": "Hacked"})
            assert goes_to_login(response), path
    assert state(site) == before


def test_a_librarian_who_is_not_an_editor_is_refused(site: Site) -> None:
    entries = drafted(site)
    before = state(site)
    with signed_in_as(site, "bob") as (client, token):
        assert client.get("/bulletins").status_code == 200
        response = client.get(EDIT)
        assert response.status_code == 403
        assert "You are not one of the editors of Workforce bulletin" in response.text
        assert "subscriptions/bulletins/workforce.toml" in response.text
        for action in ACTIONS:
            response = client.post(f"/bulletins/workforce/1/{action}", data={
                "csrf": token, "entry": str(entries["Virtual wards guidance"]),
                "intro": "Hacked", "direction": "up"})
            assert response.status_code == 403, action
        assert client.post("/bulletins/workforce/draft", data={"csrf": token}
                           ).status_code == 403
        assert client.get("/bulletins/workforce/1/preview").status_code == 200  # reading
    assert state(site) == before


def test_every_editing_post_needs_the_token_and_our_origin(site: Site) -> None:
    entries = drafted(site)
    before = state(site)
    with signed_in(site) as (client, token):
        for path in [*(f"/bulletins/workforce/1/{a}" for a in ACTIONS),
                     "/bulletins/workforce/draft"]:
            data = {"entry": str(entries["Virtual wards guidance"]), "intro": "Hacked",
                    "direction": "up"}
            assert client.post(path, data={**data, "csrf": "forged"}).status_code == 403
            assert client.post(path, data={**data, "csrf": token},
                               headers={"origin": "https://evil.example"}).status_code == 403
            assert client.post(path, data=data, headers={"sec-fetch-site": "cross-site"}
                               ).status_code == 403
    assert state(site) == before


def test_no_get_changes_anything(site: Site, clock: Clock) -> None:
    with signed_in(site) as (client, _):
        # Nothing drafted yet: the list says so and offers a button; a GET does not draft.
        page = client.get("/bulletins").text
        assert "No issue is open" in page and "Draft the next issue now" in page
        assert bulletins.issues(site.ctx, "workforce") == []
    sent(site, clock)
    before = state(site)
    with signed_in(site) as (client, _):
        for path in ["/bulletins", EDIT, f"{EDIT}?find=leadership", "/bulletins/workforce/2/edit",
                     "/bulletins/workforce/1/preview", "/bulletins/workforce",
                     "/bulletins/workforce/1", "/bulletins/workforce.atom",
                     f"/bulletins/stop/{site.token}"]:
            assert client.get(path).status_code == 200, path
            assert client.head(path).status_code == 200, path
    with site.client() as anonymous:
        assert anonymous.get(f"/bulletins/stop/{site.token}").status_code == 200
    assert state(site) == before


# --- the editor -------------------------------------------------------------------------------

def test_the_editor_changes_the_issue_one_form_at_a_time(site: Site) -> None:
    entries = drafted(site)
    lead, nursing = (entries["Leadership framework for NHS boards"],
                     entries["Compassionate leadership in nursing"])
    librarians.set_email(site.ctx, "alice", "alice@library.nhs.uk")
    with signed_in(site) as (client, token):
        def post(action: str, **data: str) -> httpx.Response:
            return client.post(f"/bulletins/workforce/1/{action}", data={"csrf": token, **data})

        page = client.get(EDIT)
        assert page.status_code == 200
        tree = parse(page.text)
        to = next(e for e in tree.iter("input") if e.get("name") == "to")
        assert to.get("value") == "alice@library.nhs.uk"  # the librarian's own address

        response = post("intro", intro="Boards and nurses this week.")
        assert response.status_code == 303
        assert response.headers["location"] == f"{EDIT}#introduction"
        assert "Introduction saved." in client.get(EDIT).text  # the flash, once
        assert "Introduction saved." not in client.get(EDIT).text

        assert post("move", entry=str(nursing), direction="up").headers["location"] == (
            f"{EDIT}#entry-{nursing}")
        assert post("note", entry=str(nursing), note="Nursing leads asked for it."
                    ).status_code == 303
        assert post("remove", entry=str(lead)).headers["location"] == f"{EDIT}#removed"
        page = client.get(EDIT).text
        assert "Removed items" in page and "Put back" in page
        assert post("put-back", entry=str(lead)).status_code == 303
        assert post("remove", entry=str(lead)).status_code == 303
        assert post("spotlight", record="interim-nhs-people-plan").status_code == 303

        found = client.get(f"{EDIT}?find=wards").text
        assert "Virtual wards guidance" in found
        # A pasted address that no item has is told so, not to try fewer words.
        missing = client.get(EDIT, params={"find": "https://www.gov.uk/no-such-page"}).text
        assert 'No stored item has the address "https://www.gov.uk/no-such-page"' in missing
        assert "Try fewer words" not in missing
        other = add_item(site.ctx, "Workforce plan refreshed", status="pending")
        assert post("add", item=str(other), section="Leadership").status_code == 303
        again = post("add", item=str(other), section="Leadership")  # not "Added" twice
        assert again.status_code == 400
        assert "That item is already in this issue, under Leadership" in again.text
        assert post("add", item=str(other), section="No such section").status_code == 404

        assert post("test", to="alice@library.nhs.uk").headers["location"] == f"{EDIT}#test"
        assert ">Send a test to me</button>" in client.get(EDIT).text
        refused = post("test", to="not an address")
        assert refused.status_code == 400 and "is not an address" in refused.text
        assert 'value="not an address"' in refused.text  # kept to correct, not replaced
        assert ">Send a test</button>" in refused.text  # not "to me": the field says where
        refused = post("test", to="not-an-address@")
        assert "not-an-address@ is not an address: nothing comes after the &#39;@&#39;" in (
            refused.text)

        assert post("approve").headers["location"] == f"{EDIT}#approval"
        assert "Take approval back" in client.get(EDIT).text
        assert post("reopen").status_code == 303
        assert post("approve").status_code == 303
        refused = post("correction", correction="Too early")
        assert refused.status_code == 400 and "only a sent issue" in refused.text

    issue = bulletins.issue(site.ctx, "workforce", 1)
    bulletin = site.ctx.bulletin("workforce")
    assert issue.status == "approved" and issue.approved_by == "alice"
    assert issue.intro == "Boards and nurses this week."
    assert issue.spotlight is not None and issue.spotlight.slug == "interim-nhs-people-plan"
    assert [(s.title, [(e.title, e.note) for e in s.entries])
            for s in bulletins.sections(site.ctx, bulletin, issue)] == [
        ("Leadership", [("Compassionate leadership in nursing", "Nursing leads asked for it."),
                        ("Workforce plan refreshed", "")]),
        ("Digital", [("Virtual wards guidance", "")])]
    assert [e.title for e in issue.entries if e.removed] == ["Leadership framework for NHS boards"]
    with orm_session(site.ctx) as session:
        assert session.execute(select(OutboxMessage.kind, OutboxMessage.recipient)).all() == [
            ("bulletin_test", "alice@library.nhs.uk")]


def test_a_change_after_approval_says_the_issue_is_a_draft_again(site: Site) -> None:
    entries = drafted(site)
    wards = entries["Virtual wards guidance"]
    nursing = entries["Compassionate leadership in nursing"]
    with signed_in(site) as (client, token):
        def post(action: str, **data: str) -> httpx.Response:
            return client.post(f"/bulletins/workforce/1/{action}", data={"csrf": token, **data})

        assert post("approve").status_code == 303
        assert "Any change to it takes the approval back" in client.get(EDIT).text
        for action, data in [("intro", {"intro": "Changed after approval."}),
                             ("note", {"entry": str(wards), "note": "Read it."}),
                             ("move", {"entry": str(nursing), "direction": "up"})]:
            assert post(action, **data).status_code == 303
            page = client.get(EDIT).text
            assert ("The issue changed after alice approved it, so it is a draft again: "
                    "approve it to send it.") in page, action
            assert "Take approval back" not in page and ">Approve</button>" in page
            assert post("approve").status_code == 303
        # A change that changes nothing (its section's only item moved down) keeps it.
        assert post("move", entry=str(wards), direction="down").status_code == 303
        page = client.get(EDIT).text
        assert "Moved down." in page and "changed after alice approved it" not in page
        # "Add newly approved items" from a page shown before it was approved adds nothing.
        assert client.post("/bulletins/workforce/draft", data={"csrf": token}).status_code == 303
        assert "Issue 1 is approved, so nothing was added." in client.get(EDIT).text
    assert bulletins.issue(site.ctx, "workforce", 1).status == "approved"


def text_of(element: Element) -> str:
    return " ".join("".join(element.itertext()).split())


def editor_sections(page: str) -> list[tuple[str, list[str]]]:
    """Each section the editor shows, with the titles of its items in order."""
    items = next(e for e in parse(page).iter("section") if e.get("id") == "sections")
    found: list[tuple[str, list[str]]] = []
    for child in items:
        if child.tag == "h3":
            found.append((text_of(child), []))
        elif child.tag == "ol":
            found[-1][1].extend(text_of(h) for h in child.iter("h4"))
    return found


def issue_sections(page: str) -> list[tuple[str, list[str]]]:
    """Each section of an issue's public page, with the titles of its items in order."""
    return [(text_of(next(section.iter("h2"))), [text_of(h) for h in section.iter("h3")])
            for section in parse(page).iter("section")
            if "bulletin-section" in section.get("class", "")]


def move_choices(page: str, entry: int) -> tuple[str, list[str]]:
    """The label of an entry's "Move to section" and the sections it offers."""
    tree = parse(page)
    label = next(e for e in tree.iter("label") if e.get("for") == f"move-to-{entry}")
    select = next(e for e in tree.iter("select") if e.get("id") == f"move-to-{entry}")
    return text_of(label), [text_of(option) for option in select.iter("option")]


def test_an_editor_moves_an_item_to_another_section(site: Site) -> None:
    entries = drafted(site)
    nursing, wards = (entries["Compassionate leadership in nursing"],
                      entries["Virtual wards guidance"])
    with signed_in(site) as (client, token):
        def post(action: str, **data: str) -> httpx.Response:
            return client.post(f"/bulletins/workforce/1/{action}", data={"csrf": token, **data})

        page = client.get(EDIT).text
        # Each item offers the bulletin's other sections, named for the item it moves.
        assert move_choices(page, nursing) == (
            "Move to section: Compassionate leadership in nursing", ["Digital"])
        assert move_choices(page, wards) == ("Move to section: Virtual wards guidance",
                                             ["Leadership"])
        assert post("approve").status_code == 303
        response = post("move-to", entry=str(nursing), section="Digital")
        assert response.status_code == 303
        assert response.headers["location"] == f"{EDIT}#entry-{nursing}"
        page = client.get(EDIT).text
        assert ("Moved to the end of Digital. The issue changed after alice approved it, so "
                "it is a draft again: approve it to send it.") in page
        assert editor_sections(page) == [
            ("Leadership", ["Leadership framework for NHS boards"]),
            ("Digital", ["Virtual wards guidance", "Compassionate leadership in nursing"])]
        assert move_choices(page, nursing)[1] == ["Leadership"]

        refused = post("move-to", entry=str(nursing), section="Digital")  # a page shown before
        assert refused.status_code == 400
        assert "That item is already under Digital; nothing was moved." in refused.text
        assert post("move-to", entry=str(nursing), section="Policy").status_code == 404
        refused = post("move-to", entry="x", section="Leadership")
        assert refused.status_code == 400 and "no valid entry" in refused.text
        assert post("approve").status_code == 303

    bulletins.send_issue(site.ctx, "workforce", 1)
    with site.client() as anonymous:
        assert issue_sections(anonymous.get("/bulletins/workforce/1").text) == [
            ("Leadership", ["Leadership framework for NHS boards"]),
            ("Digital", ["Virtual wards guidance", "Compassionate leadership in nursing"])]


def test_approving_an_empty_issue_says_why_not(site: Site) -> None:
    bulletins.draft(site.ctx, "workforce")
    with signed_in(site) as (client, token):
        # alice has no address yet: the empty field is not "me".
        assert ">Send a test</button>" in client.get(EDIT).text
        response = client.post("/bulletins/workforce/1/approve", data={"csrf": token})
        assert response.status_code == 400
        assert "has no items; add some before approving it" in response.text
        assert "There is a problem" in response.text
        response = client.post("/bulletins/workforce/1/move", data={
            "csrf": token, "entry": "x", "direction": "up"})
        assert response.status_code == 400 and "no valid entry" in response.text
        assert client.get("/bulletins/workforce/99/edit").status_code == 404
        assert client.get(f"/bulletins/workforce/{2**40}/edit").status_code == 404
        assert client.get("/bulletins/nope/1/edit").status_code == 404


def test_the_list_drafts_only_when_asked(site: Site) -> None:
    with signed_in(site) as (client, token):
        response = client.post("/bulletins/workforce/draft", data={"csrf": token})
        assert response.status_code == 303 and response.headers["location"] == EDIT
        assert "Issue 1 is drafted with every item approved for it so far." in client.get(
            EDIT).text
        # Asked again ("Add newly approved items"), the issue is brought up to date.
        assert client.post("/bulletins/workforce/draft", data={"csrf": token}).headers[
            "location"] == EDIT
        again = client.get(EDIT).text
        assert "Issue 1 now has every item approved for it so far." in again
        assert "is drafted" not in again
        page = client.get("/bulletins").text
        assert "Edit issue 1" in page and "Board papers digest" in page


def test_a_sent_issue_takes_corrections(site: Site, clock: Clock) -> None:
    sent(site, clock)
    clock.advance(days=2)
    with signed_in(site) as (client, token):
        page = client.get(EDIT).text
        assert "This issue has been sent" in page and "Correction note" in page
        assert ">Approve<" not in page
        assert client.post(f"{EDIT[:-5]}/correction", data={
            "csrf": token, "correction": "The framework link was wrong; it is fixed."}
        ).headers["location"] == f"{EDIT}#sent"
    with site.client() as anonymous:
        page = anonymous.get("/bulletins/workforce/1").text
    assert "Corrected on 2 December 2026" in page
    assert "The framework link was wrong; it is fixed." in page


def test_the_preview_shows_both_parts_in_sandboxed_frames(site: Site) -> None:
    drafted(site)
    with signed_in(site) as (client, _):
        response = client.get("/bulletins/workforce/1/preview")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "script-src 'none'" in policy and "frame-ancestors 'none'" in policy
    tree = parse(response.text)
    frames = list(tree.iter("iframe"))
    assert [f.get("class") for f in frames] == ["mail-frame mail-wide", "mail-frame mail-phone"]
    for frame in frames:
        assert frame.get("sandbox") == ""
        assert "Leadership framework for NHS boards" in frame.get("srcdoc", "")
        assert "<script" not in frame.get("srcdoc", "")
    text = "".join(next(tree.iter("pre")).itertext())
    assert "Virtual wards guidance" in text
    assert "Workforce bulletin: issue 1" in response.text  # the subject
    assert "no items yet" not in response.text


def test_the_preview_of_an_empty_issue_says_it_has_no_items_yet(site: Site) -> None:
    bulletins.draft(site.ctx, "workforce")  # nothing approved yet: an issue with no items
    for name, says in (("alice", "add some in the editor"),  # an editor of workforce
                       ("bob", "its editors add them in the editor")):  # a librarian
        with signed_in_as(site, name) as (client, _):
            page = client.get("/bulletins/workforce/1/preview").text
        assert "This issue has no items yet, so it cannot be approved" in page
        assert says in page


def test_the_command_lines_preview_says_so_too(site: Site, subscriptions: Path, tmp_path: Path,
                                               database_url: str) -> None:
    bulletins.draft(site.ctx, "workforce")
    env = settings_env(tmp_path, database_url, AWARENESS_PATHS_SUBSCRIPTIONS=str(subscriptions))
    empty = CliRunner().invoke(cli, ["bulletins", "preview", "workforce", "1"], env=env)
    assert empty.exit_code == 0, empty.output
    assert "note: issue 1 has no items yet; it cannot be approved" in empty.stderr
    assert "Subject: Workforce bulletin: issue 1" in empty.stdout
    add_item(site.ctx, "Leadership framework for NHS boards", score=3.0)
    bulletins.draft(site.ctx, "workforce")  # brings the draft up to date
    full = CliRunner().invoke(cli, ["bulletins", "preview", "workforce", "1"], env=env)
    assert full.exit_code == 0 and "no items" not in full.stderr
    assert "Leadership framework for NHS boards" in full.stdout


def test_the_command_lines_show_says_when_a_sent_issue_went_and_shows_whole_titles(
        site: Site, clock: Clock, subscriptions: Path, tmp_path: Path,
        database_url: str) -> None:
    ctx = site.ctx
    add_item(ctx, "Compassionate leadership in nursing: a practical framework for ward "
             "managers and matrons")
    bulletins.draft(ctx, "workforce")  # due Monday 30 November, 09:00
    env = {**settings_env(tmp_path, database_url,
                          AWARENESS_PATHS_SUBSCRIPTIONS=str(subscriptions)), "COLUMNS": "200"}
    shown = CliRunner().invoke(cli, ["bulletins", "show", "workforce", "1"], env=env)
    assert shown.exit_code == 0, shown.output
    assert shown.stdout.splitlines()[0] == ("workforce issue 1: draft, due Mon 30 Nov 2026, "
                                            "09:00 (UK time)")
    # The title was cut at 60 characters with "…" even where the terminal had room for it.
    assert "a practical framework for ward managers and matrons" in shown.stdout
    assert "…" not in shown.stdout
    clock.now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # ahead of its slot
    bulletins.approve(ctx, "workforce", 1, by="alice")
    bulletins.send_issue(ctx, "workforce", 1)
    shown = CliRunner().invoke(cli, ["bulletins", "show", "workforce", "1"], env=env)
    assert shown.stdout.splitlines()[0] == ("workforce issue 1: sent Wed 25 Nov 2026, 14:00 "
                                            "(UK time)")
    # The listing too says when the latest issue went, not the slot it was due in.
    listed = CliRunner().invoke(cli, ["bulletins", "list"], env=env).stdout
    [row] = [line for line in listed.splitlines() if "│ workforce " in line]
    assert "│ sent   │ 25 Nov 2026 14:00 │" in row and "30 Nov" not in row
    assert "│ every Monday at 9am │" in row  # it said "monday 09:00"
    assert listed.splitlines()[-1] == "Times are UK time."


# --- the archive ------------------------------------------------------------------------------

def test_drafts_are_not_found_and_never_listed(site: Site) -> None:
    drafted(site)
    with site.client() as anonymous:
        assert anonymous.get("/bulletins/workforce/1").status_code == 404
        page = anonymous.get("/bulletins/workforce").text
        assert "No issue has been sent yet." in page
        feed = feedparser.parse(anonymous.get("/bulletins/workforce.atom").content)
        assert feed.entries == []
    with signed_in(site) as (client, _):
        assert client.get("/bulletins/workforce/1").status_code == 404  # a draft has no page


def test_the_dashboard_links_a_draft_to_a_page_that_shows_it(site: Site) -> None:
    # "Next sends" linked a draft issue to its archive page, which drafts do not have: 404.
    drafted(site)
    with signed_in(site) as (client, _):
        dashboard = parse(client.get("/dashboard").text)
        [link] = [a for a in dashboard.iter("a") if "".join(a.itertext()).startswith(
            "Workforce bulletin #1")]
        page = client.get(link.get("href"))
        assert page.status_code == 200 and "Leadership framework for NHS boards" in page.text


def test_a_private_archive_is_not_found_for_visitors(site: Site) -> None:
    ctx = site.ctx
    add_item(ctx, "Leadership framework for NHS boards")
    bulletins.draft(ctx, "board")
    bulletins.approve(ctx, "board", 1, by="alice")
    bulletins.send_issue(ctx, "board", 1)
    with site.client() as anonymous:
        for path in ["/bulletins/board", "/bulletins/board/1", "/bulletins/board.atom"]:
            assert anonymous.get(path).status_code == 404, path
    with signed_in(site) as (client, _):
        page = client.get("/bulletins/board").text
        assert "Only librarians see this archive" in page
        assert client.get("/bulletins/board/1").status_code == 200
        assert client.get("/bulletins/board.atom").status_code == 404  # feeds are public


def test_the_archive_lists_sent_issues_with_its_feed(site: Site, clock: Clock) -> None:
    sent(site, clock)
    with site.client() as anonymous:
        page = anonymous.get("/bulletins/workforce")
        feed_response = anonymous.get("/bulletins/workforce.atom")
        issue = anonymous.get("/bulletins/workforce/1")
    tree = parse(page.text)
    alternate = [link for link in tree.iter("link") if link.get("rel") == "alternate"]
    assert [(a.get("type"), a.get("href")) for a in alternate] == [
        ("application/atom+xml", "/bulletins/workforce.atom")]
    assert [a.get("href") for a in tree.iter("a") if "/bulletins/workforce/" in (
        a.get("href") or "")] == ["/bulletins/workforce/1"]  # issue 2 is a draft
    assert feed_response.headers["content-type"] == "application/atom+xml"
    feed = feedparser.parse(feed_response.content)
    assert not feed.bozo, feed.bozo_exception
    assert [e.link for e in feed.entries] == [f"{site.url}/bulletins/workforce/1"]
    assert issue.status_code == 200
    assert "Leadership framework for NHS boards" in issue.text
    assert "This week: boards." in issue.text


def test_an_issue_sent_early_has_one_date_in_the_mail_page_archive_and_feed(
        site: Site, clock: Clock) -> None:
    ctx = site.ctx
    drafted(site)
    assert bulletins.issue(ctx, "workforce", 1).due_at.day == 30  # Monday 30 November
    clock.now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # sent on the Wednesday before
    bulletins.approve(ctx, "workforce", 1, by="alice")
    bulletins.send_issue(ctx, "workforce", 1)
    with orm_session(ctx) as session:
        copies = session.scalars(select(OutboxMessage.message).where(
            OutboxMessage.kind == "bulletin")).all()
    for data in copies:
        message = message_from_bytes(data, policy=policy.default)
        for kind in ("plain", "html"):
            body = message.get_body((kind,)).get_content()
            assert "Issue 1 · 25 November 2026" in body and "30 November" not in body
    with site.client() as anonymous:
        page = anonymous.get("/bulletins/workforce/1").text
        archive = anonymous.get("/bulletins/workforce").text
        feed = feedparser.parse(anonymous.get("/bulletins/workforce.atom").content)
    assert "25 November 2026" in page and "30 Nov" not in page
    assert "25 November 2026" in archive and "30 Nov" not in archive
    assert feed.entries[0].published.startswith("2026-11-25")
    assert "25 November 2026" in feed.entries[0].content[0].value


def test_nothing_internal_reaches_the_public(site: Site, clock: Clock) -> None:
    """Editors' names, held state, removed items, drafts and the fixed addresses a bulletin
    goes to stay with librarians, on the archive and on the pages that explain bulletins."""
    sent(site, clock)
    with site.client() as anonymous:
        pages = {path: anonymous.get(path) for path in [
            "/bulletins", "/bulletins/workforce", "/bulletins/workforce/1",
            "/bulletins/workforce.atom", "/subscribe?bulletins=yes", f"/preferences/{site.token}"]}
    for path, response in pages.items():
        assert response.status_code == 200, path
        text = response.text
        for internal in ("alice", "Approved", "approved", "Held", "held", REMOVED,
                         DRAFT_ONLY, "issue 2", "Issue 2", "Edit", "workforce.directorate",
                         "if_unapproved", "editors"):
            assert internal not in text, (path, internal)
    assert_inert(pages["/bulletins/workforce/1"].text)
    assert_inert(pages["/bulletins/workforce"].text)
    # The librarians' own pages do show them.
    with signed_in(site) as (client, _):
        page = client.get("/bulletins").text
        assert "approved by alice" not in page  # issue 2 is a draft
        assert "Issue 2" in page
        assert REMOVED in client.get(EDIT).text


def test_visitors_list_the_public_bulletins_and_librarians_every_bulletin(
        site: Site, clock: Clock) -> None:
    """The list of bulletins sent visitors to the librarians' sign-in, although each public
    bulletin's archive is open to them."""
    sent(site, clock)
    before = state(site)
    with site.client() as anonymous:
        page = anonymous.get("/bulletins")
    assert page.status_code == 200
    cards = [li for li in assert_inert(page.text).iter("li") if li.get("class") == "bulletin-card"]
    assert [li.get("id") for li in cards] == ["bulletin-workforce"]  # not the private one
    assert [a.get("href") for a in cards[0].iter("a")] == [
        "/bulletins/workforce", "/bulletins/workforce/1", "/subscribe?bulletins=yes"]
    words = " ".join("".join(cards[0].itertext()).split())
    assert words.startswith("Workforce bulletin Leadership and digital news for the workforce "
                            "directorate. A new issue comes every Monday at 9am. Latest: issue 1")
    assert "Board papers digest" not in page.text and "/bulletins/board" not in page.text
    with signed_in(site) as (client, _):
        listed = client.get("/bulletins").text
    assert "Board papers digest" in listed and "Issue 2" in listed
    assert state(site) == before


@pytest.mark.integration
def test_visitors_read_that_no_bulletin_is_public(make_context: Callable[..., Context],
                                                  subscriptions: Path) -> None:
    (subscriptions / "bulletins" / "board.toml").write_text(PRIVATE, encoding="utf-8")
    with running_site(make_context, AWARENESS_PATHS_SUBSCRIPTIONS=str(subscriptions)) as site:
        with site.client() as anonymous:
            page = anonymous.get("/bulletins")
        with signed_in(site) as (client, _):
            assert "Board papers digest" in client.get("/bulletins").text
    assert page.status_code == 200
    assert "The library has no bulletin to read here." in page.text
    assert "Board papers digest" not in page.text and 'href="/topics"' in page.text


# --- what a bulletin is, and getting it -------------------------------------------------------

def bulletin_choice(page: str) -> str:
    """The words of the page's "The library's bulletins" part, spaces made single."""
    found = [el for el in parse(page).iter("fieldset") if "bulletin-choice" in el.get(
        "class", "")]
    assert len(found) == 1
    return " ".join("".join(found[0].itertext()).split())


def test_where_staff_choose_bulletins_each_is_named_with_when_it_comes(site: Site) -> None:
    # Staff saw a "bulletins" box with nothing saying what a bulletin is or how often it comes.
    with site.client() as anonymous:
        signup = anonymous.get("/subscribe").text
        preferences = anonymous.get(f"/preferences/{site.token}").text
    for page in (signup, preferences):
        said = bulletin_choice(page)
        assert "A bulletin is a weekly round-up" in said
        # By title; the private one too, since it goes to subscribers; each with its day.
        assert ("Board papers digest – every Monday at 9am. Leadership and digital news for "
                "the workforce directorate.") in said
        assert "Workforce bulletin – every Monday at 9am." in said
        assert "bank holiday" in said
        links = {a.get("href") for a in parse(page).iter("a")}
        assert "/bulletins/workforce" in links and "/bulletins/board" not in links  # private
    # While a bulletin goes to subscribers it may be had alone.
    assert "Have it on its own, or as well as digests on the topics above." in (
        bulletin_choice(signup))
    box = {el.get("id"): el for el in parse(signup).iter("input")}["bulletins"]
    assert box.get("checked") is None  # not ticked unless asked


def test_with_no_bulletin_for_subscribers_the_box_says_so() -> None:
    env = make_environment(ROOT / "templates", ZoneInfo("Europe/London"))
    choice = env.get_template("bulletin_choice.html").module.bulletin_choice
    said = " ".join(str(choice([], False, "Send me the library's bulletins")).split())
    assert "The library sends no bulletin at the moment" in said
    assert "bank holiday" not in said
    # Nothing to have alone: signing up still takes a topic, and the sign-up says so.
    said = " ".join(str(choice([], False, "Send me the library's bulletins",
                               signing_up=True)).split())
    assert "so choose at least one topic above too" in said and "on its own" not in said


def test_a_bulletins_pages_lead_to_getting_it_by_email_and_change_nothing(
        site: Site, clock: Clock) -> None:
    sent(site, clock)
    before = state(site)
    with site.client() as anonymous:
        for path in ["/bulletins/workforce", "/bulletins/workforce/1"]:
            page = anonymous.get(path).text
            links = {" ".join("".join(a.itertext()).split()): a.get("href")
                     for a in parse(page).iter("a")}
            assert links["Get it by e-mail"] == "/subscribe?bulletins=yes", path
        assert "A new issue comes every Monday at 9am." in anonymous.get(
            "/bulletins/workforce").text
        signup = anonymous.get("/subscribe?bulletins=yes")
    assert signup.status_code == 200
    box = {el.get("id"): el for el in parse(signup.text).iter("input")}["bulletins"]
    assert box.get("checked") is not None  # ticked for them; only the form's POST subscribes
    assert state(site) == before


# --- stop bulletins (RFC 8058) ----------------------------------------------------------------

def bulletins_on(site: Site) -> bool:
    with orm_session(site.ctx) as session:
        return bool(session.scalar(select(Subscriber.bulletins)
                                   .where(Subscriber.token == site.token)))


@pytest.mark.parametrize("encoding", ["urlencoded", "multipart"])
def test_one_click_stops_bulletins_and_keeps_digests(site: Site, encoding: str) -> None:
    with site.client() as anonymous:
        page = anonymous.get(f"/bulletins/stop/{site.token}")
        assert page.status_code == 200 and bulletins_on(site)
        assert "set-cookie" not in page.headers
        buttons = [b for b in parse(page.text).iter("button")]
        assert ["".join(b.itertext()) for b in buttons] == ["Stop receiving bulletins"]
        if encoding == "multipart":
            response = anonymous.post(f"/bulletins/stop/{site.token}",
                                      files={"List-Unsubscribe": (None, "One-Click")})
        else:
            response = anonymous.post(f"/bulletins/stop/{site.token}",
                                      data={"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert "set-cookie" not in response.headers
    assert "digests continue" in response.text
    assert not bulletins_on(site)
    assert site.unsubscribed_at() is None  # digests go on


def test_stopping_the_bulletins_alone_unsubscribes_and_says_so(site: Site) -> None:
    # A reader of the bulletins alone was told "Your current awareness digests continue"; then
    # stopping them left an "active" subscriber with nothing, listed and counted as a reader.
    with orm_writing(site.ctx) as session:
        reader = session.scalars(select(Subscriber).where(Subscriber.token == site.token)).one()
        reader.subscriptions.clear()
    with site.client() as anonymous:
        asked = words_of(anonymous.get(f"/bulletins/stop/{site.token}").text)
        response = anonymous.post(f"/bulletins/stop/{site.token}",
                                  data={"List-Unsubscribe": "One-Click"})
        preferences = words_of(anonymous.get(f"/preferences/{site.token}").text)
    assert "You get no digests on topics, so you will be unsubscribed: nothing more will " \
        "come to this address." in asked
    assert response.status_code == 200 and not bulletins_on(site)
    said = words_of(response.text)
    assert "digests continue" not in said
    assert "You get no digests on topics either, so you are unsubscribed: nothing more comes " \
        "to this address." in said
    assert site.unsubscribed_at() is not None  # as "Unsubscribe from everything" leaves them
    assert "You are unsubscribed: nothing is sent to" in preferences
    assert [e.status for e in roster.everyone(site.ctx)] == ["unsubscribed"]
    assert reports.impact_report(site.ctx, parse_period(f"{site.ctx.now().year}")).readers == 0


def test_an_unsubscribed_reader_is_not_told_their_digests_continue(site: Site) -> None:
    with site.client() as anonymous:
        page = anonymous.get(f"/preferences/{site.token}")
        anonymous.post(f"/preferences/{site.token}/unsubscribe",
                       data={"csrf": csrf_of(page.text)})
        response = anonymous.post(f"/bulletins/stop/{site.token}",
                                  data={"List-Unsubscribe": "One-Click"})
    assert "digests continue" not in response.text
    assert "you are unsubscribed: nothing more comes" in words_of(response.text)


def words_of(page: str) -> str:
    return " ".join("".join(parse(page).itertext()).split())


def test_an_unknown_stop_link_changes_nothing(site: Site) -> None:
    before = state(site)
    with site.client() as anonymous:
        for token in ["x" * 40, "short", "bad token with spaces and more"]:
            assert anonymous.get(f"/bulletins/stop/{token}").status_code == 404
            assert anonymous.post(f"/bulletins/stop/{token}",
                                  data={"List-Unsubscribe": "One-Click"}).status_code == 404
    assert state(site) == before


def test_hostile_feed_text_is_inert_on_every_bulletin_page(site: Site) -> None:
    """The seed's hostile item (a script-like title, a javascript: link, an unbroken URL)
    approved into an issue: escaped in the editor, the archive page and the issue's page."""
    ctx = site.ctx
    with orm_writing(ctx) as session:
        session.get_one(Match, site.ids["hostile"]).status = "approved"
    bulletins.draft(ctx, "workforce")
    with signed_in(site) as (client, _):
        editor = client.get(EDIT).text
        found = client.get(f"{EDIT}?find=onerror").text
    assert "&lt;img src=x onerror=alert(1)&gt;" in editor
    for page in (editor, found):
        assert_inert(page)
    bulletins.approve(ctx, "workforce", 1, by="alice")
    bulletins.send_issue(ctx, "workforce", 1)
    with site.client() as anonymous:
        pages = [anonymous.get(path).text for path in ["/bulletins/workforce/1",
                                                       "/bulletins/workforce"]]
    for page in pages:
        assert_inert(page)
    assert "&lt;img src=x onerror=alert(1)&gt;" in pages[0]


def test_every_link_in_a_sent_bulletin_can_be_fetched_and_nothing_changes(
        site: Site, clock: Clock) -> None:
    """Mail gateways open every link of every message: the subscriber's copy's links (the
    issue's page, their preferences, the stop link, driver records) all answer, and change
    nothing."""
    sent(site, clock)
    with orm_session(site.ctx) as session:
        data = session.scalar(select(OutboxMessage.message).where(
            OutboxMessage.kind == "bulletin", OutboxMessage.subscriber_id.is_not(None)))
    assert data is not None
    message = message_from_bytes(data, policy=policy.default)
    text = "".join(part.get_content() for part in message.walk()
                   if part.get_content_type() in ("text/plain", "text/html"))
    links = set(re.findall(re.escape(site.url) + r"/[^\s\"'<>)]+", text))
    unsubscribe = str(message["List-Unsubscribe"]).strip("<>")
    links.add(unsubscribe)
    assert {f"{site.url}/bulletins/workforce/1", f"{site.url}/bulletins/stop/{site.token}",
            f"{site.url}/preferences/{site.token}"} <= links
    before = state(site)
    with httpx.Client(follow_redirects=True, timeout=30) as gateway:
        for link in sorted(links):
            assert gateway.get(link).status_code == 200, link
    assert state(site) == before
