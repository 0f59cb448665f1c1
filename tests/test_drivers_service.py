"""Importing driver records into a real database: created/updated/skipped with reasons, merging
across pages, idempotent re-import, the edit history, export and re-import of the plain format,
and the CLI's report."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from awareness.cli import cli
from awareness.drivers.views import DriverFilter
from awareness.errors import ImportFormatError
from awareness.model import DriverRecord
from awareness.service.context import Context
from awareness.service.driver_edits import delete_driver
from awareness.service.drivers import (
    create_record,
    export_drivers,
    get_driver,
    import_paths,
    list_drivers,
)
from awareness.storage.db import writing
from awareness.storage.models import DriverRecordRow, DriverRecordVersion
from tests.conftest import Clock, RecordedSteps, Response, orm_session, settings_env
from tests.databases import Templates

DATA = Path(__file__).parent / "data"
PAGES = DATA / "drivers"
SEED = DATA / "map-toolkit-leadership-tag-page.txt"
CARE = "state-of-care-2013-14"


def test_seed_import_then_reimport_is_idempotent(make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    first = import_paths(ctx, [SEED], changed_by="alice")
    assert len(first.created) == 8 and not first.updated
    again = import_paths(ctx, [SEED], changed_by="alice")
    assert (again.created, again.updated, len(again.unchanged)) == ([], [], 8)
    with orm_session(ctx) as session:
        versions = session.scalars(select(DriverRecordVersion)).all()
    assert len(versions) == 8 and {v.action for v in versions} == {"created"}
    assert {v.changed_by for v in versions} == {"alice"}


def test_same_record_on_several_pages_is_merged(make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    steps = RecordedSteps()
    report = import_paths(ctx, [PAGES / "tag-archive-older.html", PAGES / "single-post.html"],
                          steps=steps)
    assert report.created.count(CARE) == 1
    assert steps.stages == [["reading pages", 2, 2]]  # `drivers import` shows it as a bar
    view = get_driver(ctx, CARE)
    assert view.tags == ["Workforce", "Quality", "Regulation"]
    assert (view.member, view.review_due_on, view.published_on) == (
        "JB", date(2015, 10, 1), date(2014, 10, 17))
    assert view.key_features[1] == "Pressure on services\n- especially urgent and emergency care"


def test_update_writes_history_with_old_and_new_values(
        make_context: Callable[..., Context], clock: Clock, tmp_path: Path) -> None:
    ctx = make_context()
    import_paths(ctx, [PAGES / "single-post.html"], changed_by="alice")
    clock.advance(days=1)
    edited = tmp_path / "edited.html"
    text = (PAGES / "single-post.html").read_text(encoding="utf-8")
    edited.write_text(text.replace("October 2015", "October 2016"), encoding="utf-8")
    report = import_paths(ctx, [edited], changed_by="bob")
    (outcome,) = [o for o in report.outcomes if o.slug == CARE and o.action != "redacted"]
    assert (outcome.action, outcome.reason) == ("updated", "changed: due_for_review")
    view = get_driver(ctx, CARE)
    assert view.review_due_on == date(2016, 10, 1)
    latest = view.history[0]
    assert (latest.action, latest.changed_by) == ("updated", "bob")
    assert latest.changes == {"fields.due_for_review": ["October 2015", "October 2016"]}
    assert view.history[1].action == "created"


def test_skipped_posts_and_removed_personal_data_are_reported(
        make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    report = import_paths(ctx, [PAGES / "category-archive.html", PAGES / "single-post.html"])
    actions = [(o.action, o.reason) for o in report.outcomes if o.action != "created"]
    assert actions == [
        ("skipped", "a password-protected post"),
        ("skipped", "a post without record labels (news or meeting notes)"),
        ("redacted", "personal data removed from: impact"),
    ]
    assert "jane.doe" not in json.dumps(get_driver(ctx, CARE).as_json())


def test_dry_run_changes_nothing(make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    report = import_paths(ctx, [SEED], dry_run=True)
    assert len(report.created) == 8
    with orm_session(ctx) as session:
        assert session.scalars(select(DriverRecordRow)).all() == []
        assert session.scalars(select(DriverRecordVersion)).all() == []


def test_export_to_folder_and_file_then_import_is_unchanged(
        make_context: Callable[..., Context], tmp_path: Path) -> None:
    ctx = make_context()
    import_paths(ctx, [SEED, PAGES / "records.json"])
    folder = tmp_path / "records"
    folder.mkdir()
    files = export_drivers(ctx, folder)
    assert len(files) == 10 and (folder / "state-of-care-2014-15.json").exists()
    (single,) = export_drivers(ctx, tmp_path / "all.json")
    # A name that does not exist yet is a folder unless it ends in .json ("out" was a file).
    assert len(export_drivers(ctx, tmp_path / "new" / "out")) == 10
    assert (tmp_path / "new" / "out" / "state-of-care-2014-15.json").exists()
    assert sorted(import_paths(ctx, files).unchanged) == sorted(f.stem for f in files)
    assert len(import_paths(ctx, [single]).unchanged) == 10


def test_list_filters(make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    import_paths(ctx, [*sorted(PAGES.glob("*.html")), PAGES / "records.json"])
    today = date(2026, 1, 1)

    def slugs(**where: str) -> list[str]:
        return [v.slug for v in list_drivers(ctx, DriverFilter(**where), today)]

    assert slugs(tag="quality") == [CARE, "state-of-care-2014-15"]
    assert slugs(tag="regulation") == [CARE]
    assert slugs(member="ab") == [
        "report-of-the-mid-staffordshire-nhs-foundation-trust-public-inquiry",
        "sustainability-and-transformation-plans"]
    assert slugs(source="care quality", member="JB") == [CARE, "state-of-care-2014-15"]
    assert slugs(search="francis report") == [
        "report-of-the-mid-staffordshire-nhs-foundation-trust-public-inquiry"]
    assert CARE in slugs(due="overdue")
    assert len(slugs()) == len(slugs(due="overdue")) + len(slugs(due="no-date")) + len(
        slugs(due="current")) + len(slugs(due="due-soon"))


def test_cli_import_prints_each_outcome_with_its_reason(tmp_path: Path,
                                                        empty_database_url: str) -> None:
    env = settings_env(tmp_path, empty_database_url)  # `awareness init` creates the schema
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    page = str(PAGES / "category-archive.html")
    dry = runner.invoke(cli, ["drivers", "import", "--dry-run", page], env=env)
    assert dry.exit_code == 0, dry.output
    assert "would import 1 driver and 0 case studies (1 new" in dry.output  # not "1 drivers"
    assert "2 posts skipped" in dry.output
    assert "a password-protected post" in dry.output
    result = runner.invoke(cli, ["drivers", "import", "--json", page, page], env=env)
    outcomes = json.loads(result.output)["outcomes"]
    assert [o["action"] for o in outcomes] == ["skipped"] * 4 + ["created"]
    again = runner.invoke(cli, ["drivers", "import", page], env=env)
    assert "= unchanged sustainability-and-transformation-plans  (same as stored)" in again.output
    out = tmp_path / "out.json"
    assert runner.invoke(cli, ["drivers", "export", str(out)], env=env).exit_code == 0
    assert json.loads(out.read_text(encoding="utf-8"))["records"][0]["fields"]["due_for_review"] \
        == "31st March 2017"


def test_deleting_twice_and_importing_into_a_deleted_record_say_what_they_did(
        tmp_path: Path, empty_database_url: str) -> None:
    """Deleting again said "no driver record …", as if it had never existed; importing
    into a deleted record said "~ updated", as if the import had brought it back."""
    env = settings_env(tmp_path, empty_database_url)
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    assert runner.invoke(cli, ["drivers", "import", str(SEED)], env=env).exit_code == 0
    assert runner.invoke(cli, ["drivers", "export", str(tmp_path / "records")],
                         env=env).exit_code == 0
    first = runner.invoke(cli, ["drivers", "delete", CARE], env=env)
    assert first.output == f"deleted {CARE}: State of Care 2013/14\n"
    again = runner.invoke(cli, ["drivers", "delete", CARE], env=env)
    assert str(again.exception) == (f"{CARE} is already deleted; `awareness drivers restore "
                                    f"{CARE}` brings it back")
    unknown = runner.invoke(cli, ["drivers", "delete", "no-such-record"], env=env)
    assert str(unknown.exception) == "no driver record 'no-such-record'"
    # Editing it, or marking it reviewed, said "no driver record" too.
    for command in (["edit", CARE, "--set", "summary=x"], ["mark-reviewed", CARE]):
        refused = runner.invoke(cli, ["drivers", *command], env=env)
        assert str(refused.exception) == (f"{CARE} is deleted; `awareness drivers restore "
                                          f"{CARE}` brings it back"), refused.output
    exported = tmp_path / "records" / f"{CARE}.json"
    record = json.loads(exported.read_text(encoding="utf-8"))
    record["records"][0]["summary"] = "A new summary."
    exported.write_text(json.dumps(record), encoding="utf-8")
    updated = runner.invoke(cli, ["drivers", "import", str(exported)], env=env)
    assert (f"~ updated   {CARE}  (changed: summary; deleted: stays hidden until restored)"
            in updated.output), updated.output
    unchanged = runner.invoke(cli, ["drivers", "import", str(exported)], env=env)
    assert (f"= unchanged {CARE}  (same as stored; deleted: stays hidden until restored)"
            in unchanged.output), unchanged.output
    listed = runner.invoke(cli, ["drivers", "list", "--json"], env=env)
    assert CARE not in {row["slug"] for row in json.loads(listed.output)}
    restored = runner.invoke(cli, ["drivers", "restore", CARE], env=env)
    assert restored.output == (f"restored {CARE}: State of Care 2013/14 (published, no "
                               "linked items)\n")  # not "0 linked items"


def test_reimport_refreshes_derived_columns_without_an_edit(
        make_context: Callable[..., Context]) -> None:
    # A database created before the parsed-date columns existed gets them on the next import.
    ctx = make_context()
    import_paths(ctx, [SEED])
    with orm_session(ctx) as session, session.begin():
        for row in session.scalars(select(DriverRecordRow)):
            row.review_due_on, row.member = None, ""
        versions = len(session.scalars(select(DriverRecordVersion)).all())
    import_paths(ctx, [SEED])
    with orm_session(ctx) as session:
        row = session.scalars(select(DriverRecordRow).where(
            DriverRecordRow.slug == "state-of-care-2013-14")).one()
        assert (row.review_due_on, row.member) == (date(2016, 2, 1), "VT")
        assert len(session.scalars(select(DriverRecordVersion)).all()) == versions


def test_cli_list_narrows_like_the_web_list(tmp_path: Path, empty_database_url: str) -> None:
    env = settings_env(tmp_path, empty_database_url)  # `awareness init` creates the schema
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    assert runner.invoke(cli, ["drivers", "import", str(SEED)], env=env).exit_code == 0

    def slugs(*options: str) -> list[str]:
        result = runner.invoke(cli, ["drivers", "list", "--json", *options], env=env)
        assert result.exit_code == 0, result.output
        return [row["slug"] for row in json.loads(result.output)]

    assert len(slugs()) == 8
    assert slugs("--member", "vt") == ["state-of-care-2013-14"]
    assert slugs("--search", "curators knowledge") == [
        "white-paper-the-new-era-of-thinking-and-practice-in-change-and-transformation"]
    assert "state-of-care-2013-14" in slugs("--due", "overdue", "--tag", "Leadership")
    assert slugs("--source", "no such body") == []
    # `drivers show` gives the fields in a MAP page's order, not the order this post typed.
    shown = runner.invoke(cli, ["drivers", "show", "developing-people-improving-care-a-"
                                "national-framework-for-action-on-improvement"], env=env).output
    headings = [line for line in shown.splitlines() if line.endswith(":")]
    assert headings[:4] == ["Source:", "Link:", "Publication format:", "Date of publication:"]
    assert headings[-4:] == ["Impact:", "Date last updated:", "Due for review:",
                             "Member responsible:"]


def test_import_from_the_page_address_through_the_guarded_fetcher(
        make_context: Callable[..., Context], feed_server, tmp_path: Path) -> None:
    # Issue 16: `drivers import http://…` said "File 'http://…' does not exist".
    feed_server.routes["/tag/leadership/"] = Response(
        SEED.read_bytes(), headers={"Content-Type": "text/plain; charset=utf-8"})
    ctx = make_context()
    report = import_paths(ctx, [feed_server.url("/tag/leadership/")], changed_by="alice")
    assert len(report.created) == 8
    env = settings_env(tmp_path, ctx.settings.database.url)
    runner = CliRunner()
    again = runner.invoke(cli, ["drivers", "import", feed_server.url("/tag/leadership/")],
                          env=env)
    assert again.exit_code == 0, again.output
    assert "0 new, 0 updated, 8 unchanged" in again.output
    missing = runner.invoke(cli, ["drivers", "import", feed_server.url("/gone")], env=env)
    assert "cannot fetch" in str(missing.exception) and "HTTP 404" in str(missing.exception)
    nofile = runner.invoke(cli, ["drivers", "import", str(tmp_path / "nope.txt")], env=env)
    assert "no such file" in str(nofile.exception)


def test_import_from_an_address_refuses_private_hosts(make_context: Callable[..., Context]
                                                      ) -> None:
    ctx = make_context(AWARENESS_FETCH_ALLOWED_HOSTS="")
    with pytest.raises(ImportFormatError,
                       match=r"cannot fetch http://127\.0\.0\.1/page: address not allowed"):
        import_paths(ctx, ["http://127.0.0.1/page"])


def test_a_dry_run_shows_the_text_it_could_not_place(tmp_path: Path,
                                                     empty_database_url: str) -> None:
    env = settings_env(tmp_path, empty_database_url)
    runner = CliRunner()
    assert runner.invoke(cli, ["init"], env=env).exit_code == 0
    page = str(PAGES / "variations.html")
    dry = runner.invoke(cli, ["drivers", "import", "--dry-run", page], env=env)
    assert dry.exit_code == 0, dry.output
    assert ("? unplaced  NHS Long Term Workforce Plan  (not placed (after title of driver): "
            "The plan sets out how the NHS will train") in dry.output
    assert "1 passage not placed in any field (marked ?)" in dry.output
    listed = runner.invoke(cli, ["drivers", "import", "--dry-run", "--json", page], env=env)
    actions = [o["action"] for o in json.loads(listed.output)["outcomes"]]
    assert actions.count("unplaced") == 1 and actions.count("created") == 2


EVIDENCE = "new-evidence-on-management-and-leadership"
ON_DATE = r"\(\d{1,2} [A-Z][a-z]{2} \d{4}\)"  # the date of the edit, by the command's clock


def test_an_import_keeps_what_librarians_changed_here(tmp_path: Path, database_url: str,
                                                      make_context: Callable[..., Context]
                                                      ) -> None:
    """Marking a record reviewed and then importing its page put "Due for review: February
    2016" back, and the import reverted the edit form's changes to another record too."""
    make_context()
    env = settings_env(tmp_path, database_url)

    def run(*args: str) -> str:
        result = CliRunner().invoke(cli, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    def record(slug: str) -> dict:
        return json.loads(run("drivers", "show", slug, "--json"))

    run("drivers", "import", str(SEED))
    run("drivers", "mark-reviewed", CARE, "--next", "March 2099", "--as", "alice")
    run("drivers", "edit", EVIDENCE, "--impact", "Bob's reading.", "--set",
        "member_responsible=FG", "--set", "due_for_review=June 2099", "--as", "bob")
    page = tmp_path / "page.txt"  # the site changed a field nobody edited here
    page.write_text(SEED.read_text(encoding="utf-8").replace("PDF (90 pages)", "PDF (92 pages)"),
                    encoding="utf-8")

    out = run("drivers", "import", str(page), "--as", "carol")
    assert f"~ updated   {CARE}  (changed: publication_format)" in out
    assert re.search(rf"\* kept      {CARE}  \(kept alice's edit of due_for_review {ON_DATE}; "
                     r"the page says “February 2016”\)", out), out
    assert re.search(rf"kept bob's edit of member_responsible {ON_DATE}; the page says “JW”",
                     out), out
    assert "(0 new, 1 updated, 7 unchanged); 0 posts skipped; 5 librarians' edits kept" in out
    care, evidence = record(CARE), record(EVIDENCE)
    assert (care["fields"]["due_for_review"], care["fields"]["publication_format"]) == (
        "March 2099", "PDF (92 pages)")
    assert (evidence["impact"], evidence["member"], evidence["fields"]["due_for_review"]) == (
        "Bob's reading.", "FG", "June 2099")
    kept = care["history"][0]
    assert (kept["action"], kept["changed_by"]) == ("edits kept", "carol")
    assert {key: values[:3] for key, values in kept["changes"].items()} == {
        "fields.date_last_updated": [care["fields"]["date_last_updated"], "February 2015",
                                     "alice"],
        "fields.due_for_review": ["March 2099", "February 2016", "alice"]}

    # Again: kept again, and the history already says so.
    assert "5 librarians' edits kept" in run("drivers", "import", str(page))
    assert len(record(CARE)["history"]) == len(care["history"])

    # Told to, the import takes the page's values, and says whose edits it overwrote.
    out = run("drivers", "import", str(page), "--overwrite-edits", "--as", "carol")
    assert re.search(rf"\* overwritten {CARE}  \(overwrote alice's edit of due_for_review "
                     rf"{ON_DATE} with “February 2016”\)", out), out
    care = record(CARE)
    assert care["fields"]["due_for_review"] == "February 2016"
    assert (care["history"][0]["action"], care["history"][0]["changed_by"]) == (
        "updated", "carol")
    assert record(EVIDENCE)["member"] == "JW"
    assert "edits kept" not in run("drivers", "import", str(page))


def test_an_export_imported_into_a_fresh_database_keeps_drafts_drafts(
        make_context: Callable[..., Context], tmp_path: Path, database_url: str,
        database_templates: Templates) -> None:
    """`drivers export` wrote no status: imported into a fresh database, the draft
    state-of-care-2024-25 came back published, with "What this means for libraries" empty."""
    ctx = make_context()
    import_paths(ctx, [SEED])
    draft = DriverRecord(kind="driver", slug="state-of-care-2024-25", title="State of Care 2024/25",
                         source="Care Quality Commission", summary="The annual assessment.",
                         fields={"source": "Care Quality Commission",
                                 "summary": "The annual assessment."})
    written = replace(draft, slug="written-draft", title="Written draft", impact="Read it.",
                      fields={**draft.fields, "impact": "Read it."})
    with writing(ctx.engine) as conn:
        for record in (draft, written):
            create_record(conn, record, now=ctx.now(), changed_by="alice", status="draft",
                          action="draft")
    delete_driver(ctx, "interim-nhs-people-plan", changed_by="alice")

    def run(env: dict[str, str], *args: str) -> str:
        result = CliRunner().invoke(cli, list(args), env=env)
        assert result.exit_code == 0, result.output
        return result.output

    def records(env: dict[str, str]) -> list[dict]:
        return json.loads(run(env, "drivers", "list", "--json"))

    here = settings_env(tmp_path, database_url)
    export = tmp_path / "records.json"
    run(here, "drivers", "export", str(export))
    statuses = {r["slug"]: r["status"] for r in json.loads(export.read_text("utf-8"))["records"]}
    assert (statuses[draft.slug], statuses["written-draft"], statuses[CARE]) == (
        "draft", "draft", "active")
    assert "interim-nhs-people-plan" not in statuses  # a deleted record is not exported

    backend = "sqlite" if database_url.startswith("sqlite") else "postgresql"
    (tmp_path / "fresh").mkdir()
    with database_templates.database(backend, tmp_path / "fresh", migrated=True) as fresh_url:
        fresh = settings_env(tmp_path, fresh_url)
        assert "(9 new, 0 updated, 0 unchanged)" in run(fresh, "drivers", "import", str(export))
        assert records(fresh) == records(here)  # the same records, statuses and fields
        assert "0 new, 0 updated, 9 unchanged" in run(fresh, "drivers", "import", str(export))

        # A file asking to publish a record without "what this means for libraries", or an
        # older export giving no status, leaves it a draft, and says so.
        doc = json.loads(export.read_text("utf-8"))
        for entry in doc["records"]:
            entry["status"] = "active"
        doc["records"].append({**doc["records"][0], "slug": "older-export", "impact": "",
                               "fields": {}, "status": None})
        export.write_text(json.dumps(doc), encoding="utf-8")
        out = run(fresh, "drivers", "import", str(export))
        assert ("# draft     state-of-care-2024-25  (a draft, not published: “What this means "
                "for libraries” is empty, and publishing needs it)") in out
        assert "~ updated   written-draft  (changed: status)" in out
        assert "+ created   older-export  (new record)\n# draft     older-export" in out
        assert "2 left drafts, with nothing under “What this means for libraries”" in out
        status = {r["slug"]: r["status"] for r in records(fresh)}
        assert (status[draft.slug], status["written-draft"], status["older-export"]) == (
            "draft", "active", "draft")
