"""The audit trail (issue 14): every change to a match or a driver record, on the web or the
command line, is in its history with who, what, when and the note; the command line records
a person (``--as NAME``, else the operating-system user), not "cli"; and none of it reaches
staff or anonymous visitors."""

from __future__ import annotations

import getpass
import json
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from awareness.cli import cli
from awareness.service.context import Context
from awareness.storage.models import (
    DriverRecordRow,
    DriverRecordVersion,
    Item,
    Match,
    Review,
)
from tests.conftest import orm_session, settings_env
from tests.test_web import Site, parse, running_site, seed, signed_in

FIXTURE_TIERS = {"site": "integration"}
PLAN = "interim-nhs-people-plan"
SECRET = "LOGONLY-7d1f"  # a review-log note that must never leave the librarians' pages


@pytest.fixture
def site(make_context: Callable[..., Context]) -> Iterator[Site]:
    with running_site(make_context) as running:
        yield running


def history_rows(page: str) -> list[list[str]]:
    table = next(el for el in parse(page).iter("table") if el.get("class") == "match-history")
    return [[" ".join("".join(td.itertext()).split()) for td in tr.iter("td")]
            for tr in table.iter("tr")][1:]


def record_versions(site_or_ctx: Site | Context, slug: str) -> list[tuple[str, str]]:
    ctx = site_or_ctx.ctx if isinstance(site_or_ctx, Site) else site_or_ctx
    with orm_session(ctx) as session:
        return [(v.action, v.changed_by) for v in session.scalars(
            select(DriverRecordVersion).join(DriverRecordRow,
                                             DriverRecordRow.id == DriverRecordVersion.driver_id)
            .where(DriverRecordRow.slug == slug).order_by(DriverRecordVersion.id))]


def test_every_change_on_the_web_is_in_the_match_history(site: Site) -> None:
    good, auto = site.ids["good"], site.ids["auto"]
    with signed_in(site) as (client, token):
        client.post(f"/review/{good}/reject", data={"csrf": token, "note": SECRET})
        client.post(f"/review/{good}/undo", data={"csrf": token})
        client.post("/review/many", data={"csrf": token, "decision": "approve", "ids": [good]})
        client.post(f"/review/{good}/links/confirm", data={"csrf": token, "slug": PLAN})
        client.post(f"/review/{auto}/withdraw", data={"csrf": token, "note": "not for us"})
        rows = history_rows(client.get(f"/review/{good}").text)
        withdrawn = history_rows(client.get(f"/review/{auto}").text)
    assert [row[1:] for row in rows] == [
        ["alice", "Rejected", SECRET], ["alice", "Undone", ""], ["alice", "Approved", ""],
        ["alice", "Link confirmed: Interim NHS People Plan", ""]]
    assert [row[1:] for row in withdrawn] == [["alice", "Withdrawn", "not for us"]]


def test_every_change_to_a_record_on_the_web_is_in_its_history(site: Site) -> None:
    with signed_in(site) as (client, token):
        slug = client.post(f"/review/{site.ids['good']}/draft", data={"csrf": token}
                           ).headers["location"].removeprefix("/drivers/")
        client.post(f"/drivers/{slug}/edit", data={"csrf": token, "impact": "Run sessions.",
                                                   "activate": "1"})
        client.post(f"/drivers/{slug}/delete", data={"csrf": token})
        page = " ".join(client.get(f"/drivers/{slug}").text.split())
    assert record_versions(site, slug) == [("draft", "alice"), ("edited", "alice"),
                                           ("deleted", "alice")]
    assert "deleted by alice" in page and "edited by alice" in page


def test_internal_text_never_reaches_visitors_on_any_new_page(site: Site) -> None:
    good = site.ids["good"]
    with signed_in(site) as (client, token):
        client.post(f"/review/{good}/approve", data={"csrf": token, "note": SECRET})
        client.post(f"/review/{good}/links/confirm", data={"csrf": token, "slug": PLAN})
        slug = client.post(f"/review/{site.ids['hostile']}/draft", data={"csrf": token}
                           ).headers["location"].removeprefix("/drivers/")
        client.post(f"/drivers/{PLAN}/edit", data={"csrf": token, "notes": SECRET})
        assert SECRET in client.get(f"/review/{good}").text  # librarians do see it
    paths = ["/review", "/review?status=approved", f"/review/{good}",
             f"/review/{good}?q=plan", "/drivers", "/drivers?q=plan", f"/drivers/{slug}",
             f"/drivers/{PLAN}", "/drivers/evil-record", f"/drivers/{PLAN}/edit",
             "/drivers/attention", "/topics", "/subscribe", "/bulletins", "/"]
    with site.client() as anonymous:
        for path in paths:
            answer = anonymous.get(path, follow_redirects=True)
            history = "History" in answer.text and path.startswith("/drivers/")
            assert "alice" not in answer.text and not history, path
            # The matcher's reason for a link is for librarians, approved or not.
            assert "shares the tag" not in answer.text, path
            if path != f"/drivers/{PLAN}":  # the record's own notes field is public text
                assert SECRET not in answer.text, path
        # Approved, the item is on the record's page; the one still waiting is not.
        assert "compassionate leadership" in anonymous.get(f"/drivers/{PLAN}").text
        assert "No items have been linked" in anonymous.get("/drivers/evil-record").text


def run(database_url: str, tmp_path: Path, *args: str) -> str:
    result = CliRunner().invoke(cli, list(args), env=settings_env(tmp_path, database_url))
    assert result.exit_code == 0, (result.output, result.exception)
    return result.output


def test_deleting_an_item_on_the_command_line_says_who_in_the_log(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str,
        caplog: pytest.LogCaptureFixture) -> None:
    # `items delete` was the one changing command without --as: nothing said who deleted
    # an item, which leaves no row behind to say it.
    ctx = make_context()
    ids, _ = seed(ctx)
    with orm_session(ctx) as session:
        item = session.get_one(Item, session.get_one(Match, ids["hostile"]).item_id)
        item_id, source_id, title = item.id, item.source_id, item.title
    caplog.set_level(logging.INFO, logger="awareness.service.polling")
    assert run(database_url, tmp_path, "items", "delete", str(item_id), "--as",
               "Sam Jones") == f"deleted item {item_id}\n"
    assert [r.getMessage() for r in caplog.records if "deleted by" in r.getMessage()] == [
        f"item {item_id} ({source_id}: {title!r}) deleted by Sam Jones"]


def test_the_cli_records_the_person(make_context: Callable[..., Context], tmp_path: Path,
                                    database_url: str) -> None:
    ctx = make_context()
    ids, _ = seed(ctx)
    run(database_url, tmp_path, "review", "approve", str(ids["good"]), "--as", "Sam Jones",
        "--note", "checked")
    assert run(database_url, tmp_path, "review", "reject", str(ids["hostile"])).startswith(
        f"rejected match {ids['hostile']}: ")
    # The same decision again records nothing, and says so rather than claim a change.
    assert run(database_url, tmp_path, "review", "reject", str(ids["hostile"])).startswith(
        f"match {ids['hostile']} was already rejected; nothing changed: ")
    run(database_url, tmp_path, "review", "undo", str(ids["good"]), "--as", "Sam Jones")
    run(database_url, tmp_path, "review", "withdraw", str(ids["auto"]), "--as", "Sam Jones")
    with orm_session(ctx) as session:
        decided = session.execute(select(Review.match_id, Review.librarian, Review.decision)
                                  .order_by(Review.id)).all()
    me = getpass.getuser()
    assert [tuple(row) for row in decided] == [
        (ids["good"], "Sam Jones", "approved"), (ids["hostile"], me, "rejected"),
        (ids["good"], "Sam Jones", "undone"), (ids["auto"], "Sam Jones", "withdrawn")]
    assert "cli" not in {row[1] for row in decided}
    shown = run(database_url, tmp_path, "review", "history", str(ids["good"]))
    assert "Sam Jones" in shown and "checked" in shown and "undone" in shown
    assert re.search(r"\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d ", shown) and "+00:00" not in shown

    out = run(database_url, tmp_path, "drivers", "draft", str(ids["good"]), "--as", "Sam Jones")
    slug = out.split()[-1]
    assert run(database_url, tmp_path, "drivers", "draft", str(ids["good"])) == (
        f"draft driver record {slug} already exists (drafted from match {ids['good']} before); "
        f"`awareness drivers edit {slug}` completes it\n")
    run(database_url, tmp_path, "drivers", "edit", slug, "--impact", "Run sessions.")
    # A draft says so, where it is shown and where it is listed; so does a deleted record.
    assert "A draft: librarians see it" in run(database_url, tmp_path, "drivers", "show", slug)
    listed = CliRunner().invoke(cli, ["drivers", "list"], env={
        **settings_env(tmp_path, database_url), "COLUMNS": "200"}).output  # rows unwrapped
    [row] = [line for line in listed.splitlines() if line.startswith(f"│ {slug} ")]
    assert "driver, draft" in row
    run(database_url, tmp_path, "drivers", "delete", slug, "--as", "Sam Jones")
    assert "Deleted: out of every list" in run(database_url, tmp_path, "drivers", "show", slug)
    exported = tmp_path / "export"
    exported.mkdir()
    run(database_url, tmp_path, "drivers", "export", str(exported))
    assert {p.stem for p in exported.iterdir()} == {"interim-nhs-people-plan", "evil-record"}
    assert record_versions(ctx, slug) == [("draft", "Sam Jones"), ("edited", me),
                                          ("deleted", "Sam Jones")]
    # A mistaken delete is undone: the deleted records are listed, and one comes back as it
    # was (here a draft), with a "restored" entry naming who.
    assert [row["slug"] for row in json.loads(run(
        database_url, tmp_path, "drivers", "list", "--deleted", "--json"))] == [slug]
    assert slug not in {row["slug"] for row in json.loads(run(
        database_url, tmp_path, "drivers", "list", "--json"))}
    assert run(database_url, tmp_path, "drivers", "restore", slug, "--as", "Ann Lee") \
        .startswith(f"restored {slug}: ")
    assert "A draft: librarians see it" in run(database_url, tmp_path, "drivers", "show", slug)
    assert record_versions(ctx, slug)[-1] == ("restored", "Ann Lee")
    assert "no deleted driver records" in run(database_url, tmp_path, "drivers", "list",
                                              "--deleted")
