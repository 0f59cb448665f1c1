"""A MAP-toolkit site as a source (issue 16, item 2): records kept current without saving
and re-importing pages by hand.

The site is a real HTTP server on loopback serving the fixture archive pages; polling
imports its records, a change on the site updates the record with history and mails the
member responsible (through a real SMTP server), and nothing is ever deleted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from sqlalchemy import select

from awareness.service import drivers, outbox, polling
from awareness.service.page_sources import preview_source
from awareness.storage.models import DriverRecordVersion, Item
from tests.conftest import ROOT, Response, orm_session

PAGES = Path(__file__).parent / "data" / "drivers"
PLAN = "the-nhs-long-term-plan"


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

    # The same page again, or the record gone from it: nothing mailed, nothing deleted.
    clock.advance(hours=2)
    polling.poll(ctx, ["map-long-term-plan"])
    clock.advance(hours=2)
    serve(feed_server, (PAGES / "category-archive.html").read_text(encoding="utf-8"))
    polling.poll(ctx, ["map-long-term-plan"])
    outbox.relay(ctx)
    assert len(inbox.messages) == 1
    assert drivers.get_driver(ctx, PLAN).title == "The NHS Long Term Plan"


def test_sources_test_lists_the_records_of_a_map_page(make_context, feed_server, smtp_server,
                                                      tmp_path):
    ctx, _ = site_context(make_context, feed_server, smtp_server, tmp_path)
    serve(feed_server, (PAGES / "category-archive.html").read_text(encoding="utf-8"))
    [definition] = ctx.sources()
    shown = preview_source(ctx, definition)
    assert shown["kind"] == "drivers" and shown["count"] == 1
    assert any("a password-protected post" in w for w in shown["warnings"])
