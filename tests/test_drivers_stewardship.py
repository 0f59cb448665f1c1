"""Stewardship: members.toml, the needs-attention rule, `awareness drivers due`, the weekly
e-mail per member over a real SMTP server, and item → draft record."""

from __future__ import annotations

import email
import email.policy
import json
import shutil
from collections.abc import Callable
from datetime import date, datetime
from html import unescape
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from awareness.cli import cli
from awareness.drivers.drafts import guess_format
from awareness.drivers.importer import parse_driver_page
from awareness.drivers.members import parse_members
from awareness.errors import AwarenessError, ConfigError, NotFound
from awareness.service import librarians
from awareness.service.checks import check_all
from awareness.service.context import Context
from awareness.service.drafts import draft_from_match
from awareness.service.driver_edits import (
    delete_driver,
    edit_driver,
    mark_reviewed,
    restore_driver,
)
from awareness.service.drivers import create_record, import_paths
from awareness.service.stewardship import (
    Attention,
    attention_overview,
    iso_week,
    needs_attention,
    send_stewardship,
)
from awareness.settings import load_settings
from awareness.storage.db import writing
from awareness.storage.models import (
    DriverRecordRow,
    DriverRecordVersion,
    Item,
    Match,
    MatchDriver,
    OutboxMessage,
    Source,
)
from tests.conftest import ROOT, Clock, orm_session, orm_writing, settings_env

HOSTILE = 'Care <script>alert(1)</script> & "Quality"\r\nBcc: evil@example.org'
NEW_EDITION = "https://www.cqc.org.uk/publications/major-report/state-care-2026-27"


# ---------------------------------------------------------------- members.toml

def test_shipped_example_members_parse() -> None:
    path = ROOT / "subscriptions" / "members.toml"
    members = parse_members(path.read_text(encoding="utf-8"), str(path))
    assert [m.initials for m in members] == ["FG", "LK", "VT", "JC", "JW"]
    assert all(m.email.endswith("@example.nhs.uk") for m in members)


@pytest.mark.parametrize(("text", "where", "message"), [
    ('[[member]]\ninitials = "FG"\nname = "F"\nemail = "not an address"\n', 4,
     "is not an e-mail address"),
    ('[[member]]\ninitials = "FG"\nname = "F"\nemail = "f@x.nhs.uk"\n'
     '[[member]]\ninitials = "FG"\nname = "G"\nemail = "g@x.nhs.uk"\n', 6,
     "already used at line 2"),
    ('[[member]]\ninitials = "fg"\nname = "F"\nemail = "f@x.nhs.uk"\n', 2, "capital letters"),
    ('[[member]]\ninitials = "FG"\nnmae = "F"\nemail = "f@x.nhs.uk"\n', 3, "did you mean 'name'"),
    ('[[member]]\ninitials = "FG"\nemail = "f@x.nhs.uk"\n', 1, "missing required key 'name'"),
])
def test_members_errors_name_the_line(text: str, where: int, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_members(text, "members.toml")
    # Every problem of the file is reported, one line each; this one among them.
    assert any(line.startswith(f"members.toml:{where}: ") and message in line
               for line in caught.value.located().splitlines()), caught.value.located()


def test_check_warns_about_placeholder_addresses_without_failing(tmp_path: Path) -> None:
    # The shipped members.toml passed with "ok", and stewardship mail went to its
    # placeholders; a bulletin's audience and the library's contact address alike.
    folder = tmp_path / "subs"
    (folder / "topics").mkdir(parents=True)
    (folder / "bulletins").mkdir()
    (folder / "sources.toml").write_text("", encoding="utf-8")
    shutil.copy(ROOT / "subscriptions" / "topics" / "leadership.toml", folder / "topics")
    shutil.copy(ROOT / "subscriptions" / "members.toml", folder)
    (folder / "bulletins" / "weekly.toml").write_text(
        'title = "Weekly"\ntopics = ["leadership"]\n[audience]\nsubscribers = false\n'
        'addresses = ["board@trust.nhs.uk", "team@library.example.nhs.uk"]\n', encoding="utf-8")
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}",
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(folder),
                       AWARENESS_LIBRARY_CONTACT_EMAIL="library@example.com")
    errors, warnings = check_all(load_settings(environ=env, cwd=tmp_path))
    assert errors == []
    members = folder / "members.toml"
    assert [w for w in warnings if "placeholder" in w] == [
        f"{members}:12: FG's address fg.example@example.nhs.uk is a placeholder: stewardship "
        "mail to it goes nowhere",
        f"{members}:17: LK's address lk.example@example.nhs.uk is a placeholder: stewardship "
        "mail to it goes nowhere",
        f"{members}:22: VT's address vt.example@example.nhs.uk is a placeholder: stewardship "
        "mail to it goes nowhere",
        f"{members}:27: JC's address jc.example@example.nhs.uk is a placeholder: stewardship "
        "mail to it goes nowhere",
        f"{members}:32: JW's address jw.example@example.nhs.uk is a placeholder: stewardship "
        "mail to it goes nowhere",
        "[library] contact_email library@example.com is a placeholder: readers who write to "
        "it reach nobody; set it (AWARENESS_LIBRARY_CONTACT_EMAIL) to the library's own "
        "address",
        f"{folder / 'bulletins' / 'weekly.toml'}:5: the audience's address "
        "team@library.example.nhs.uk is a placeholder: the bulletin sent to it goes nowhere"]


def test_check_reports_a_broken_members_file(tmp_path: Path) -> None:
    folder = tmp_path / "subs"
    (folder / "topics").mkdir(parents=True)
    (folder / "sources.toml").write_text("", encoding="utf-8")
    (folder / "members.toml").write_text('[[member]]\ninitials = "FG"\n', encoding="utf-8")
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'x.db'}",
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(folder))
    errors, _ = check_all(load_settings(environ=env, cwd=tmp_path))
    assert errors == [f"{folder / 'members.toml'}:1: missing required key 'email'",
                      f"{folder / 'members.toml'}:1: missing required key 'name'"]


# ---------------------------------------------------------------- needs attention

def add_record(ctx: Context, slug: str, member: str, due: date | None,
               title: str = "", *, status: str = "active",
               fields: dict[str, str] | None = None) -> int:
    now = ctx.now()
    with orm_writing(ctx) as session:
        row = DriverRecordRow(slug=slug, kind="driver", title=title or slug.title(), source="",
                              link="", impact="", summary="", tags=[], fields=fields or {},
                              created_at=now, updated_at=now, member=member, review_due_on=due,
                              status=status)
        session.add(row)
        session.flush()
        return row.id


def add_link(ctx: Context, driver_id: int, title: str, kind: str, *, status: str = "approved",
             link: str = "", summary: str = "Summary.") -> int:
    now = ctx.now()
    with orm_writing(ctx) as session:
        if session.get(Source, "cqc") is None:
            session.add(Source(id="cqc", name="CQC", publisher="Care Quality Commission",
                               url="https://www.cqc.org.uk/feed", kind="feed"))
        item = Item(source_id="cqc", key=f"link:{title}", title=title,
                    link=link or f"https://www.cqc.org.uk/{abs(hash(title))}",
                    summary_text=summary, first_seen_at=now,
                    published_at=datetime(2026, 10, 17, 9, tzinfo=now.tzinfo))
        session.add(item)
        session.flush()
        match = Match(item_id=item.id, topic_slug="leadership", status=status, hits=[],
                      score=1.0, created_at=now)
        session.add(match)
        session.flush()
        if kind:
            session.add(MatchDriver(match_id=match.id, driver_id=driver_id, kind=kind, score=1.0,
                                    reason="test"))
        return match.id


def seed(ctx: Context, clock: Clock) -> None:
    today = clock.now.date()
    add_record(ctx, "overdue", "FG", date(2026, 1, 1))
    add_record(ctx, "current", "FG", date(2027, 6, 1))
    linked_before = add_record(ctx, "linked-before", "LK", None)
    add_link(ctx, linked_before, "Old news", "same_document")
    clock.advance(hours=1)
    edition = add_record(ctx, "new-edition", "LK", None)
    related = add_record(ctx, "related-only", "VT", None)
    rejected = add_record(ctx, "rejected-link", "VT", None)
    unknown = add_record(ctx, "no-member-file", "ZZ", date(2025, 1, 1))
    clock.advance(hours=1)
    add_link(ctx, edition, "State of Care 2026/27", "new_edition", link=NEW_EDITION)
    add_link(ctx, related, "Something related", "related")
    add_link(ctx, rejected, "Rejected copy", "same_document", status="rejected")
    assert unknown and today


def test_needs_attention_rule(make_context: Callable[..., Context], clock: Clock) -> None:
    ctx = make_context()
    seed(ctx, clock)
    entries = {e.slug: e for e in needs_attention(ctx)}
    assert set(entries) == {"overdue", "new-edition", "no-member-file"}
    assert list(map(str, entries["overdue"].reasons)) == ["review was due on 1 January 2026"]
    [edition] = entries["new-edition"].reasons  # with the link to open the new edition at
    assert (str(edition), edition.link) == ("new edition: State of Care 2026/27", NEW_EDITION)
    assert [e.slug for e in needs_attention(ctx, "lk")] == ["new-edition"]


def seed_unowned(ctx: Context) -> None:
    """Published records nobody looks after or with no review date, and what is never
    listed as such: a draft, a deleted record."""
    add_record(ctx, "adopt-me", "", None)
    add_record(ctx, "nobodys", "", date(2025, 1, 1))
    add_record(ctx, "tbc", "FG", None, fields={"due_for_review": "TBC"})
    add_record(ctx, "a-draft", "", None, status="draft")
    add_record(ctx, "thrown-away", "", None, status="deleted")


def slugs_and_reasons(entries: list[Attention]) -> list[tuple[str, list[str]]]:
    return [(entry.slug, list(map(str, entry.reasons))) for entry in entries]


def test_records_nobody_looks_after_are_listed_for_the_steering_group(
        make_context: Callable[..., Context], clock: Clock) -> None:
    """Records with no member or no review date were never flagged anywhere: no list, no
    mail. They are now the steering group's to adopt; still in nobody's own mail."""
    ctx = make_context()
    seed(ctx, clock)
    seed_unowned(ctx)
    overview = attention_overview(ctx)
    assert [e.slug for e in overview.for_members] == ["overdue", "new-edition",
                                                     "no-member-file"]
    assert slugs_and_reasons(overview.no_one_responsible) == [
        ("adopt-me", ["no review date"]), ("nobodys", ["review was due on 1 January 2025"])]
    assert slugs_and_reasons(overview.no_review_date) == [
        ("tbc", ["its review date “TBC” names no date"]),
        ("linked-before", ["no review date"]), ("rejected-link", ["no review date"]),
        ("related-only", ["no review date"])]
    assert slugs_and_reasons(overview.entries())[3:5] == [
        ("adopt-me", ["no member responsible", "no review date"]),
        ("nobodys", ["no member responsible", "review was due on 1 January 2025"])]
    lk = attention_overview(ctx, "lk")
    assert ([e.slug for e in lk.for_members], lk.no_one_responsible,
            [e.slug for e in lk.no_review_date]) == (["new-edition"], [], ["linked-before"])
    # The weekly mail's list is as it was: nobody owns these, and a date is not a reason.
    assert {e.slug for e in needs_attention(ctx)} == {"overdue", "new-edition",
                                                      "no-member-file", "nobodys"}


def test_cli_due_lists_the_records_nobody_looks_after(
        make_context: Callable[..., Context], clock: Clock, tmp_path: Path,
        database_url: str) -> None:
    ctx = make_context()
    seed(ctx, clock)
    seed_unowned(ctx)
    env = {**settings_env(tmp_path, database_url), "COLUMNS": "200"}
    due = CliRunner().invoke(cli, ["drivers", "due"], env=env)
    assert due.exit_code == 0, due.output
    [row] = [line for line in due.output.splitlines() if " adopt-me " in line]
    assert "no member responsible; no review date" in row
    assert " ".join(due.output.split()).endswith(  # the line under the table, wrapped
        "No weekly mail reminds anyone of the 2 records with no member responsible (a member "
        "adopts one with `awareness drivers edit SLUG --set member_responsible=XX`) or the 4 "
        "records with no review date (`awareness drivers mark-reviewed SLUG` gives one).")
    fg = CliRunner().invoke(cli, ["drivers", "due", "--member", "FG", "--json"], env=env)
    assert [(e["slug"], e["reasons"]) for e in json.loads(fg.output)] == [
        ("overdue", ["review was due on 1 January 2026"]),
        ("tbc", ["its review date “TBC” names no date"])]


def test_a_deleted_then_restored_record_keeps_its_reasons(
        make_context: Callable[..., Context], clock: Clock) -> None:
    """Deleting and restoring marked the record updated, so the new edition linked before
    (a reason to look at it) no longer put it on the list once it was back."""
    ctx = make_context()
    seed(ctx, clock)
    clock.advance(hours=1)
    delete_driver(ctx, "new-edition", changed_by="LK")
    assert "new-edition" not in {e.slug for e in needs_attention(ctx)}
    clock.advance(hours=1)
    restore_driver(ctx, "new-edition", changed_by="LK")
    entries = {e.slug: e for e in needs_attention(ctx)}
    assert list(map(str, entries["new-edition"].reasons)) == [
        "new edition: State of Care 2026/27"]


def test_only_marking_reviewed_takes_a_new_edition_off_the_list(
        make_context: Callable[..., Context], clock: Clock, tmp_path: Path,
        database_url: str) -> None:
    """Any edit took "new edition: …" off the list (a typo fixed in the member's initials),
    and so did an import: the rule compared the match with the record's last update."""
    ctx = make_context()
    seed(ctx, clock)
    env = settings_env(tmp_path, database_url)

    def due() -> dict[str, list[str]]:
        result = CliRunner().invoke(cli, ["drivers", "due", "--json"], env=env)
        assert result.exit_code == 0, result.output
        return {entry["slug"]: entry["reasons"] for entry in json.loads(result.output)}

    clock.advance(hours=1)
    edit_driver(ctx, "new-edition", changes={"member_responsible": "LK"}, activate=False,
                changed_by="LK")
    clock.advance(hours=1)
    plain = tmp_path / "records.json"
    plain.write_text(json.dumps({"format": "awareness-driver-records", "version": 1, "records": [
        {"slug": "new-edition", "title": "New Edition", "impact": "Read it.",
         "fields": {"impact": "Read it.", "member_responsible": "LK"}}]}), encoding="utf-8")
    assert import_paths(ctx, [plain]).updated == ["new-edition"]
    assert due()["new-edition"] == ["new edition: State of Care 2026/27"]
    clock.advance(hours=1)
    mark_reviewed(ctx, "new-edition", next_review="March 2030", changed_by="LK")
    assert "new-edition" not in due()


def test_cli_due_json(make_context: Callable[..., Context], clock: Clock, tmp_path: Path,
                      database_url: str) -> None:
    ctx = make_context()
    seed(ctx, clock)
    env = settings_env(tmp_path, database_url)
    result = CliRunner().invoke(cli, ["drivers", "due", "--member", "FG", "--json"], env=env)
    assert result.exit_code == 0, result.output
    assert [e["slug"] for e in json.loads(result.output)] == ["overdue"]
    result = CliRunner().invoke(cli, ["drivers", "due", "--member", "LK", "--json"], env=env)
    entry, undated = json.loads(result.output)
    assert entry["reasons"] == ["new edition: State of Care 2026/27"]
    assert entry["why"] == [{"reason": "new edition: State of Care 2026/27", "link": NEW_EDITION}]
    assert (undated["slug"], undated["reasons"]) == ("linked-before", ["no review date"])


def test_marked_reviewed_leaves_the_list(make_context: Callable[..., Context],
                                         clock: Clock) -> None:
    ctx = make_context()
    seed(ctx, clock)
    today = clock.now.date()
    done = mark_reviewed(ctx, "overdue", changed_by="FG")
    assert (done.reviewed_on, done.next_review) == (today, today.replace(year=today.year + 1))
    mark_reviewed(ctx, "new-edition", next_review="March 2030", changed_by="LK")
    assert {e.slug for e in needs_attention(ctx)} == {"no-member-file"}
    with orm_session(ctx) as session:
        row = session.scalar(select(DriverRecordRow).where(DriverRecordRow.slug == "overdue"))
        assert row is not None and row.review_due_on == done.next_review
        assert row.fields["date_last_updated"] == f"{today.day} {today:%B} {today.year}"
        version = session.scalars(select(DriverRecordVersion).where(
            DriverRecordVersion.driver_id == row.id)).one()
        assert (version.action, version.changed_by) == ("reviewed", "FG")
        assert set(version.changes) == {"fields.date_last_updated", "fields.due_for_review"}
    for bad, message in (("soon", "“soon” is not a date"),
                         ("January 2020", "is not after today")):
        with pytest.raises(AwarenessError, match=message):
            mark_reviewed(ctx, "current", next_review=bad, changed_by="FG")
    delete_driver(ctx, "current", changed_by="FG")
    with pytest.raises(NotFound):
        mark_reviewed(ctx, "current", changed_by="FG")


def test_cli_mark_reviewed(make_context: Callable[..., Context], clock: Clock,
                           tmp_path: Path, database_url: str) -> None:
    ctx = make_context()
    seed(ctx, clock)
    env = settings_env(tmp_path, database_url)
    result = CliRunner().invoke(cli, ["drivers", "mark-reviewed", "overdue", "--next",
                                      "31/03/2028", "--as", "FG", "--json"], env=env)
    assert result.exit_code == 0, result.output
    done = json.loads(result.output)  # dated by the command's own clock
    assert done.pop("reviewed_on")
    assert done == {"slug": "overdue", "next_review": "2028-03-31",
                    "due_for_review": "31/03/2028"}
    assert "overdue" not in {e.slug for e in needs_attention(ctx)}


def test_cli_says_dates_as_the_records_do(make_context: Callable[..., Context], clock: Clock,
                                          tmp_path: Path, database_url: str) -> None:
    """`drivers mark-reviewed` said "reviewed 2026-12-07; next review 7 December 2027", and
    `drivers due` put "2026-01-01" beside "review was due on 1 January 2026"."""
    ctx = make_context()
    seed(ctx, clock)
    env = {**settings_env(tmp_path, database_url), "COLUMNS": "200"}
    due = CliRunner().invoke(cli, ["drivers", "due", "--member", "FG"], env=env)
    [row] = [line for line in due.output.splitlines() if " overdue " in line]
    assert "1 Jan 2026" in row and "review was due on 1 January 2026" in row, due.output
    result = CliRunner().invoke(cli, ["drivers", "mark-reviewed", "overdue", "--next",
                                      "31/03/2028", "--as", "FG"], env=env)
    assert result.exit_code == 0, result.output
    with orm_session(ctx) as session:  # today, as the command's own clock wrote it
        fields = session.scalars(select(DriverRecordRow.fields).where(
            DriverRecordRow.slug == "overdue")).one()
    assert result.output == (f"overdue: reviewed {fields['date_last_updated']}; "
                             "next review 31 March 2028\n")


# ---------------------------------------------------------------- weekly e-mail

def test_weekly_mail_once_per_member_and_week(make_context: Callable[..., Context],
                                              clock: Clock, smtp_server) -> None:
    controller, inbox = smtp_server
    ctx = make_context(AWARENESS_MAIL_BACKEND="smtp", AWARENESS_MAIL_SMTP_HOST="127.0.0.1",
                       AWARENESS_MAIL_SMTP_PORT=str(controller.port),
                       AWARENESS_WEB_BASE_URL="https://library.example.nhs.uk")
    seed(ctx, clock)
    with orm_writing(ctx) as session:
        row = session.scalar(select(DriverRecordRow).where(DriverRecordRow.slug == "overdue"))
        assert row is not None
        row.title = HOSTILE
        overdue = row.id
    add_link(ctx, overdue, "Copy with a script link", "same_document", link="javascript:alert(1)")
    report = send_stewardship(ctx)
    assert (report.sent, report.no_address, report.failed) == (["FG", "LK"], ["ZZ"], [])
    assert report.nothing_due == ["JC", "JW", "VT"]
    assert [m[1] for m in inbox.messages] == [["fg.example@example.nhs.uk"],
                                              ["lk.example@example.nhs.uk"]]
    parsed = email.message_from_bytes(inbox.messages[0][2], policy=email.policy.strict)
    week = iso_week(clock.now.date())
    assert parsed["Message-ID"] == f"<stewardship.{week}.fg@{ctx.settings.mail.domain}>"
    # The ISO week stays in the Message-ID and the outbox key; readers see its Monday. (The
    # subject is folded onto its own line, which Python's parser reads with a leading space.)
    assert parsed["Subject"].strip() == ("1 driver record needs your attention "
                                         "(week beginning 23 November 2026)")
    assert "Bcc" not in parsed
    html = parsed.get_body(("html",)).get_content()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert 'href="https://library.example.nhs.uk/drivers/overdue"' in html
    assert "in the week beginning 23 November 2026:" in html and week not in html
    # The item behind a reason is a link when it is safe to be one, in both parts.
    assert "<li>same document: Copy with a script link</li>" in html
    text = parsed.get_body(("plain",)).get_content()
    assert "review was due on 1 January 2026" in text
    assert "week beginning 23 November 2026." in text and week not in text
    assert "  - same document: Copy with a script link\r\n  https://" in text
    assert "javascript:" not in html + text
    lk = email.message_from_bytes(inbox.messages[1][2], policy=email.policy.strict)
    assert (f'new edition: <a href="{NEW_EDITION}" style="color:#005eb8;">State of Care '
            '2026/27</a>') in lk.get_body(("html",)).get_content()
    assert (f"  - new edition: State of Care 2026/27\r\n    {NEW_EDITION}\r\n"
            in lk.get_body(("plain",)).get_content())

    clock.advance(days=2)  # same ISO week: nothing is sent again
    again = send_stewardship(ctx)
    assert (again.sent, again.already_sent) == ([], ["FG", "LK"])
    assert len(inbox.messages) == 2
    clock.advance(days=7)
    assert send_stewardship(ctx).sent == ["FG", "LK"]
    assert len(inbox.messages) == 4


def stewardship_texts(ctx: Context) -> dict[str, tuple[str, str]]:
    """Each queued weekly mail's text and HTML parts, by the member's address, each as
    one line (the text part is wrapped), the HTML's entities decoded."""
    found = {}
    with orm_session(ctx) as session:
        for to, raw in session.execute(select(OutboxMessage.recipient, OutboxMessage.message)
                                       .where(OutboxMessage.kind == "stewardship")):
            mail = email.message_from_bytes(raw, policy=email.policy.default)
            text, html = (mail.get_body((kind,)).get_content()  # type: ignore[union-attr]
                          for kind in ("plain", "html"))
            found[to] = (" ".join(text.split()), " ".join(unescape(html).split()))
    return found


def test_the_weekly_mail_says_what_its_reader_can_do(make_context: Callable[..., Context],
                                                    clock: Clock) -> None:
    """The mail told every member to press "Mark reviewed", which a reviewer's login has no
    button for and a member without a login cannot reach; its "full list" needs a login."""
    ctx = make_context(AWARENESS_WEB_BASE_URL="https://library.example.nhs.uk")
    seed(ctx, clock)
    add_record(ctx, "jcs-overdue", "JC", date(2026, 2, 1))
    librarians.add_librarian(ctx, "alice", "a passphrase long enough", role="administrator")
    librarians.add_librarian(ctx, "fiona", "a passphrase long enough", role="editor")
    librarians.set_email(ctx, "fiona", "FG.Example@example.nhs.uk")  # matched in any case
    librarians.add_librarian(ctx, "lk.example@example.nhs.uk", "a passphrase long enough",
                             role="reviewer")  # as single sign-on names an account
    send_stewardship(ctx)
    mails = stewardship_texts(ctx)
    fg, lk, jc = (mails[f"{i}.example@example.nhs.uk"] for i in ("fg", "lk", "jc"))
    assert ("edit what has changed, then press “Mark reviewed” on its page (signed in as "
            "fiona): that dates it and sets its next review.") in fg[0]
    assert ("Your login, lk.example@example.nhs.uk, is a reviewer's, which cannot edit a "
            "record or mark it reviewed: tell an editor (alice, fiona) what has changed, so "
            "that they edit the record and mark it reviewed, or ask an administrator (alice) "
            "to make you an editor.") in lk[1]
    assert ("then tell an editor (alice, fiona) what has changed, so that they edit the "
            "record and mark it reviewed. Doing it yourself needs a librarian's login with "
            "the editor role, which an administrator (alice) can give you.") in jc[0]
    assert "press “Mark reviewed”" not in lk[0] + lk[1] + jc[0] + jc[1]
    for text, html in (fg, lk, jc):
        assert "The full list (librarians sign in): https://library.example.nhs.uk/drivers/" \
               "attention?member=" in text
        assert "The full list</a> (librarians sign in)" in html


def test_remind_warns_about_whom_no_mail_reaches(make_context: Callable[..., Context],
                                                clock: Clock, tmp_path: Path,
                                                database_url: str,
                                                caplog: pytest.LogCaptureFixture) -> None:
    ctx = make_context()
    seed(ctx, clock)  # ZZ's record is overdue, and members.toml has no ZZ
    add_record(ctx, "nobodys", "", date(2025, 1, 1))
    members = ROOT / "subscriptions" / "members.toml"
    env = settings_env(tmp_path, database_url)
    result = CliRunner().invoke(cli, ["drivers", "remind"], env=env)
    # Nobody can be sent to; nothing left to retry: exit 0, but said on stderr with the fix.
    assert result.exit_code == 0, result.output
    assert result.stdout == "sent: FG, LK\nnothing due: JC, JW, VT\n"
    assert result.stderr.splitlines() == [
        f"warning: no address for ZZ (1 record), so they get no weekly list: {members} does "
        "not list them; add a [[member]] with their initials, name and email",
        "warning: no member responsible for 1 record needing attention, so nobody is told: "
        "nobodys; name one with `awareness drivers edit SLUG --set member_responsible=XX`"]
    # Once each: the service's log, on the same terminal, said each warning again.
    assert [r.getMessage() for r in caplog.records
            if r.name == "awareness.service.stewardship"] == []
    result = CliRunner().invoke(cli, ["drivers", "remind", "--json"], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert (report["already_sent"], report["no_address"], report["no_member"]) == (
        ["FG", "LK"], ["ZZ"], ["nobodys"])
    assert [f"warning: {line}" for line in report["warnings"]] == result.stderr.splitlines()


def test_failed_mail_is_retried_on_the_next_run(make_context: Callable[..., Context],
                                                clock: Clock, smtp_server) -> None:
    controller, inbox = smtp_server
    inbox.refuse["fg.example@example.nhs.uk"] = "450 mailbox busy"
    ctx = make_context(AWARENESS_MAIL_BACKEND="smtp", AWARENESS_MAIL_SMTP_HOST="127.0.0.1",
                       AWARENESS_MAIL_SMTP_PORT=str(controller.port))
    add_record(ctx, "overdue", "FG", date(2026, 1, 1))
    report = send_stewardship(ctx)
    assert report.sent == [] and report.failed == []
    assert report.retrying == ["FG: SMTP server refused recipient: 450 mailbox busy"]
    assert "fg.example@example.nhs.uk" not in report.retrying[0]
    del inbox.refuse["fg.example@example.nhs.uk"]
    assert send_stewardship(ctx).retrying[0].startswith("FG: ")  # its back-off: 5 minutes
    clock.advance(minutes=6)
    assert send_stewardship(ctx).sent == ["FG"]
    assert len(inbox.messages) == 1


# ---------------------------------------------------------------- item → draft record

@pytest.mark.parametrize(("link", "expected"), [
    ("https://www.cqc.org.uk/sites/default/files/SOC2014.PDF", "PDF"),
    ("https://example.nhs.uk/report.pdf?download=1", "PDF"),
    ("https://example.nhs.uk/data.xlsx", "Spreadsheet"),
    ("https://example.nhs.uk/guide.docx", "Word document"),
    ("https://www.youtube.com/watch?v=abc", "Video"),
    ("https://www.gov.uk/government/publications/state-of-care", "Web page"),
    ("https://example.nhs.uk/pdf/", "Web page"),
    ("", "Web page"),
])
def test_guess_format(link: str, expected: str) -> None:
    assert guess_format(link) == expected


def test_draft_from_match(make_context: Callable[..., Context], clock: Clock) -> None:
    ctx = make_context()
    existing = add_record(ctx, "state-of-care-2026-27", "FG", None)
    match_id = add_link(ctx, existing, "State of Care 2026/27", "",
                        link="https://www.cqc.org.uk/soc.pdf",
                        summary="The annual report. It finds that care…")
    slug = draft_from_match(ctx, match_id, changed_by="alice").slug
    assert slug == "state-of-care-2026-27-2"
    with orm_session(ctx) as session:
        row = session.scalar(select(DriverRecordRow).where(DriverRecordRow.slug == slug))
        assert row is not None
        assert (row.status, row.title, row.source, row.link, row.summary, row.impact) == (
            "draft", "State of Care 2026/27", "Care Quality Commission",
            "https://www.cqc.org.uk/soc.pdf", "The annual report.", "")
        assert row.fields["publication_format"] == "PDF"
        assert row.fields["date_of_publication"] == "17 October 2026"
        assert row.published_on == date(2026, 10, 17)
        (version,) = session.scalars(select(DriverRecordVersion).where(
            DriverRecordVersion.driver_id == row.id))
        assert (version.action, version.changed_by) == ("draft", "alice")
    with pytest.raises(NotFound):
        draft_from_match(ctx, 9999, changed_by="alice")
    # A summary cut off before its first sentence ended: none of it, and where the text is.
    match_id = add_link(ctx, existing, "Penicillin allergy alert", "",
                        link="https://www.england.nhs.uk/2025/11/alert/",
                        summary="A National Patient Safety Alert has been issued about…")
    slug = draft_from_match(ctx, match_id, changed_by="alice").slug
    with orm_session(ctx) as session:
        row = session.scalar(select(DriverRecordRow).where(DriverRecordRow.slug == slug))
        assert row is not None and (row.summary, "summary" in row.fields) == ("", False)
        assert row.fields["notes"].endswith("Full text: https://www.england.nhs.uk/2025/11/alert/")


def test_draft_of_a_new_edition_starts_from_the_earlier_one(
        make_context: Callable[..., Context], clock: Clock) -> None:
    ctx = make_context()
    seed_page = (ROOT / "tests" / "data" / "map-toolkit-leadership-tag-page.txt")
    earlier = next(record for record in parse_driver_page(seed_page.read_text(encoding="utf-8"))
                   if record.title == "State of Care 2013/14")
    with writing(ctx.engine) as conn:
        earlier_id = create_record(conn, earlier, now=ctx.now(), changed_by="import",
                                   status="active", action="created")
    clock.advance(hours=1)
    match_id = add_link(ctx, earlier_id, "Corporate report: State of Care 2024/25", "new_edition",
                        link="https://www.gov.uk/government/publications/state-of-care-202425",
                        summary="The annual assessment of health care and social care.")
    slug = draft_from_match(ctx, match_id, changed_by="alice").slug
    assert slug == "state-of-care-2024-25"  # no "corporate-report-" in it, ever
    with orm_session(ctx) as session:
        row = session.scalar(select(DriverRecordRow).where(DriverRecordRow.slug == slug))
        assert row is not None
        assert (row.status, row.title, row.member, row.tags) == (
            "draft", "State of Care 2024/25", "VT", ["Leadership"])
        assert row.fields["primary_audience"] == earlier.fields["primary_audience"]
        assert (row.summary, row.impact) == (
            "The annual assessment of health care and social care.", "")
        assert "New edition of state-of-care-2013-14" in row.fields["notes"]
        before = session.scalar(select(DriverRecordRow).where(DriverRecordRow.id == earlier_id))
        assert before is not None and before.status == "active"  # a person decides
    # The earlier edition stays on its member's list, as the draft's notes say.
    assert [(e.slug, list(map(str, e.reasons))) for e in needs_attention(ctx, "VT")] == [
        ("state-of-care-2013-14", ["review was due on 1 February 2016",
                                   "new edition: Corporate report: State of Care 2024/25"])]
    # A new-edition link a librarian removed is no reason to copy from that record.
    again = add_link(ctx, earlier_id, "Corporate report: State of Care 2025/26", "new_edition")
    with orm_writing(ctx) as session:
        link = session.scalars(select(MatchDriver).where(MatchDriver.match_id == again)).one()
        link.state = "removed"
    with orm_session(ctx) as session:
        row = session.scalar(select(DriverRecordRow).where(
            DriverRecordRow.slug == draft_from_match(ctx, again, changed_by="alice").slug))
        assert row is not None and (row.member, row.tags) == ("", [])
