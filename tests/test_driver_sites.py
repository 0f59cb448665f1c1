"""A MAP-toolkit site as a source (issue 16, item 2): records kept current without saving
and re-importing pages by hand.

The site is a real HTTP server on loopback serving the fixture archive pages; polling
imports its records, a change on the site updates the record with history and mails the
member responsible (through a real SMTP server), and nothing is ever deleted.
"""

from __future__ import annotations

import email
import email.policy
import json
import shutil
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import select

from awareness.cli import cli
from awareness.service import drivers, outbox, polling
from awareness.service.driver_edits import edit_driver
from awareness.service.page_sources import preview_source
from awareness.storage.models import DriverRecordVersion, Item
from tests.conftest import ROOT, Response, orm_session, settings_env

PAGES = Path(__file__).parent / "data" / "drivers"
PLAN = "the-nhs-long-term-plan"
POST = "/2019/01/nhs-long-term-plan/"  # the record's own post, as the archive links it


def site_context(make_context, feed_server, smtp_server, tmp_path):
    controller, inbox = smtp_server
    subs = tmp_path / "subs"
    shutil.copytree(ROOT / "subscriptions" / "topics", subs / "topics")
    (subs / "members.toml").write_text(
        '[[member]]\ninitials = "CD"\nname = "C. D. Example"\nemail = "cd@library.nhs.uk"\n',
        encoding="utf-8")
    (subs / "sources.toml").write_text(
        '[[source]]\nid = "map-long-term-plan"\nname = "MAP toolkit: long term plan"\n'
        f'publisher = "MAP toolkit"\nkind = "drivers"\nurl = "{feed_server.url("/tag/ltp/")}"\n'
        "interval_minutes = 60\n", encoding="utf-8")
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs),
                       AWARENESS_MAIL_BACKEND="smtp", AWARENESS_MAIL_SMTP_HOST="127.0.0.1",
                       AWARENESS_MAIL_SMTP_PORT=str(controller.port),
                       AWARENESS_WEB_BASE_URL="https://library.example.nhs.uk")
    polling.sync_sources(ctx)
    return ctx, inbox


def serve(feed_server, html: str) -> None:
    feed_server.routes["/tag/ltp/"] = Response(html.encode("utf-8"), headers={
        "Content-Type": "text/html; charset=utf-8"})


def test_a_map_site_keeps_records_current_and_tells_the_member(
        make_context, feed_server, smtp_server, tmp_path, clock):
    ctx, inbox = site_context(make_context, feed_server, smtp_server, tmp_path)
    page = (PAGES / "tag-archive-newer.html").read_text(encoding="utf-8")
    serve(feed_server, page)

    [first] = polling.poll(ctx, ["map-long-term-plan"])
    assert first.status == "ok" and first.baseline
    record = drivers.get_driver(ctx, PLAN)
    assert record.fields["due_for_review"] == "March 2021"
    outbox.relay(ctx)
    assert inbox.messages == []  # the first poll takes stock: nobody is told
    with orm_session(ctx) as session:
        assert session.scalars(select(Item)).all() == []  # records, never items

    # The site changes the record: the next poll updates it, with history, and mails CD.
    clock.advance(hours=2)
    serve(feed_server, page.replace("Due for review: March 2021", "Due for review: March 2027"))
    [second] = polling.poll(ctx, ["map-long-term-plan"])
    assert (second.status, second.new_items, second.updated_items) == ("ok", 0, 1)
    assert drivers.get_driver(ctx, PLAN).fields["due_for_review"] == "March 2027"
    with orm_session(ctx) as session:
        who = session.scalars(select(DriverRecordVersion.changed_by)
                              .order_by(DriverRecordVersion.id)).all()
    assert who[-1] == "source map-long-term-plan"
    outbox.relay(ctx)
    [(_, recipients, data)] = inbox.messages
    assert recipients == ["cd@library.nhs.uk"]
    text = data.decode("ascii", "replace")
    assert "Driver record updated in the records: The NHS Long Term Plan" in text
    assert "https://library.example.nhs.uk/drivers/the-nhs-long-term-plan" in text

    # The same page again, or the record off it while its own post is still on the site (a
    # paged archive): nothing mailed, nothing flagged, nothing deleted.
    clock.advance(hours=2)
    polling.poll(ctx, ["map-long-term-plan"])
    clock.advance(hours=2)
    serve(feed_server, (PAGES / "category-archive.html").read_text(encoding="utf-8"))
    feed_server.routes[POST] = Response(page.encode("utf-8"))
    polling.poll(ctx, ["map-long-term-plan"])
    outbox.relay(ctx)
    assert len(inbox.messages) == 1
    record = drivers.get_driver(ctx, PLAN)
    assert (record.title, record.gone_from_site_at) == ("The NHS Long Term Plan", None)
    assert feed_server.requests[-1][0] == POST  # its own page was asked for


def test_sources_test_lists_the_records_of_a_map_page(make_context, feed_server, smtp_server,
                                                      tmp_path):
    ctx, _ = site_context(make_context, feed_server, smtp_server, tmp_path)
    serve(feed_server, (PAGES / "category-archive.html").read_text(encoding="utf-8"))
    [definition] = ctx.sources()
    shown = preview_source(ctx, definition)
    assert shown["kind"] == "drivers" and shown["count"] == 1
    assert any("a password-protected post" in w for w in shown["warnings"])


def test_a_record_gone_from_the_site_is_flagged_kept_and_cleared_when_back(
        make_context, feed_server, smtp_server, tmp_path, clock):
    ctx, inbox = site_context(make_context, feed_server, smtp_server, tmp_path)
    listing = (PAGES / "tag-archive-newer.html").read_text(encoding="utf-8")
    serve(feed_server, listing)
    polling.poll(ctx, ["map-long-term-plan"])

    # Off the listing, and its own page fails with a 500: a passing error flags nothing.
    clock.advance(hours=2)
    serve(feed_server, (PAGES / "category-archive.html").read_text(encoding="utf-8"))
    feed_server.routes[POST] = Response(b"busy", status=500)
    polling.poll(ctx, ["map-long-term-plan"])
    assert drivers.get_driver(ctx, PLAN).gone_from_site_at is None

    # A day later its page answers 404: flagged with when, kept, in the history, CD told.
    clock.advance(hours=25)
    del feed_server.routes[POST]
    polling.poll(ctx, ["map-long-term-plan"])
    record = drivers.get_driver(ctx, PLAN)
    assert record.gone_from_site_at == clock.now
    assert record.title == "The NHS Long Term Plan" and record.status == "active"
    assert (record.history[0].action, record.history[0].changes["site_page"][1]) == (
        "gone from site", "HTTP 404")
    outbox.relay(ctx)
    [(_, recipients, data)] = inbox.messages
    assert recipients == ["cd@library.nhs.uk"]
    assert b"Driver record gone from the MAP site: The NHS Long Term Plan" in data
    env = settings_env(tmp_path, ctx.settings.database.url,
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(tmp_path / "subs"))
    listed = CliRunner().invoke(cli, ["drivers", "list", "--json"], env=env)
    [shown] = [r for r in json.loads(listed.output) if r["slug"] == PLAN]
    assert shown["gone_from_site_at"] == clock.now.isoformat()
    text = CliRunner().invoke(cli, ["drivers", "list"], env={**env, "COLUMNS": "200"}).output
    assert "gone since 24 Nov 2026" in text
    shown = CliRunner().invoke(cli, ["drivers", "show", PLAN], env=env).output
    assert "Gone from the MAP site since 24 November 2026: its page answers 404/410" in shown

    # It comes back on the listing: the flag is cleared, in the history, and CD told.
    clock.advance(hours=2)
    serve(feed_server, listing)
    polling.poll(ctx, ["map-long-term-plan"])
    record = drivers.get_driver(ctx, PLAN)
    assert record.gone_from_site_at is None and record.history[0].action == "back on site"
    outbox.relay(ctx)
    assert b"Driver record back on the MAP site" in inbox.messages[-1][2]


def test_a_poll_of_the_site_keeps_librarians_edits_and_tells_the_member(
        make_context, feed_server, smtp_server, tmp_path, clock):
    """A ``drivers`` source polling the site undid the steering group's edits each time the
    page changed, as an import did."""
    ctx, inbox = site_context(make_context, feed_server, smtp_server, tmp_path)
    page = (PAGES / "tag-archive-newer.html").read_text(encoding="utf-8")
    serve(feed_server, page)
    polling.poll(ctx, ["map-long-term-plan"])
    clock.advance(hours=1)
    edit_driver(ctx, PLAN, changes={"impact": "Alice's reading of the plan."}, activate=False,
                changed_by="alice")

    # The site changes the record: a field nobody edited here follows it; alice's is kept.
    clock.advance(hours=2)
    site_impact = "Libraries can support digital care."
    changed = page.replace("Due for review: March 2021", "Due for review: March 2027").replace(
        "Libraries can support the &#8220;digitally enabled&#8221; care the plan describes.",
        site_impact)
    serve(feed_server, changed)
    polling.poll(ctx, ["map-long-term-plan"])
    record = drivers.get_driver(ctx, PLAN)
    assert (record.impact, record.fields["due_for_review"]) == (
        "Alice's reading of the plan.", "March 2027")
    assert (record.history[0].action, record.history[0].changed_by) == (
        "edits kept", "source map-long-term-plan")
    assert record.history[0].changes["impact"][:3] == [
        "Alice's reading of the plan.", site_impact, "alice"]
    outbox.relay(ctx)
    [(_, _, data)] = inbox.messages
    text = email.message_from_bytes(data, policy=email.policy.default).get_body(
        ("plain",)).get_content()
    assert "What changed: due_for_review" in text
    assert ("- kept alice's edit of impact (23 Nov 2026); the page says “Libraries can support "
            "digital care.”") in text

    # When her edit is all that differs, the member is told that the site differs.
    clock.advance(hours=2)
    serve(feed_server, changed.replace(site_impact, "Libraries support digital care."))
    polling.poll(ctx, ["map-long-term-plan"])
    assert drivers.get_driver(ctx, PLAN).impact == "Alice's reading of the plan."
    outbox.relay(ctx)
    message = email.message_from_bytes(inbox.messages[-1][2], policy=email.policy.default)
    assert message["Subject"] == ("Driver record differs from the MAP site: "
                                  "The NHS Long Term Plan")
    assert "the page says “Libraries support digital care.”" in message.get_body(
        ("plain",)).get_content()
