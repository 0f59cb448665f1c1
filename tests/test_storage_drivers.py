"""Driver records in storage (storage/drivers.py), on SQLite and PostgreSQL: a record comes
back as the value that went in, the derived columns follow its fields, and the edit history
reads newest first."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta

from sqlalchemy import select, update

from awareness.drivers.views import StoredDriver
from awareness.model import DriverRecord
from awareness.service.context import Context
from awareness.storage import drivers as store
from awareness.storage.db import reading, writing
from awareness.storage.models import DriverRecordRow
from tests.conftest import Clock, orm_session

RECORD = DriverRecord(
    kind="driver", slug="state-of-care", title="State of Care 2025/26 — “Überblick”",
    source="Care Quality Commission", link="https://www.cqc.org.uk/state-of-care",
    impact="Evidence for\nlibrary outreach.", summary="The annual report.",
    tags=("Quality", "Ünïcode"),
    fields={"member_responsible": "FG (Fiona Green)", "due_for_review": "1st March 2027",
            "date_of_publication": "October 2025", "key_features": "- one\n- two"})


def test_a_stored_record_comes_back_as_it_went_in(make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    with writing(ctx.engine) as conn:
        driver_id = store.insert_driver(conn, RECORD, status="draft", now=ctx.now())
    with reading(ctx.engine) as conn:
        stored = store.driver_by_slug(conn, RECORD.slug)
        linking = store.records_for_linking(conn)
        assert store.driver_by_slug(conn, "no-such-record") is None
        assert store.driver_slugs(conn) == {RECORD.slug}
    assert stored == StoredDriver(driver_id, RECORD, "draft", "FG", date(2025, 10, 1),
                                  date(2027, 3, 1))
    assert stored.record.fields == RECORD.fields  # DriverRecord's equality leaves fields out
    assert [(i, r.slug, r.fields) for i, r in linking] == [(driver_id, RECORD.slug,
                                                            RECORD.fields)]


def test_an_update_moves_the_derived_columns_with_the_fields(
        make_context: Callable[..., Context], clock: Clock) -> None:
    ctx = make_context()
    with writing(ctx.engine) as conn:
        driver_id = store.insert_driver(conn, RECORD, status="draft", now=ctx.now())
    clock.advance(days=1)
    fields = {**RECORD.fields, "member_responsible": "LK", "due_for_review": ""}
    new = DriverRecord(kind="driver", slug=RECORD.slug, title="State of Care", tags=("A",),
                       fields=fields)
    with writing(ctx.engine) as conn:
        store.update_driver(conn, driver_id, new, status="active", now=ctx.now())
    with reading(ctx.engine) as conn:
        stored = store.driver_by_slug(conn, RECORD.slug)
    assert stored is not None
    assert (stored.record, stored.record.fields) == (new, fields)
    assert (stored.status, stored.member, stored.review_due_on) == ("active", "LK", None)
    with orm_session(ctx) as session:
        row = session.scalars(select(DriverRecordRow)).one()
        assert (row.created_at, row.updated_at) == (clock.now - timedelta(days=1), clock.now)


def test_refreshing_derived_columns_writes_only_when_they_are_stale(
        make_context: Callable[..., Context], clock: Clock) -> None:
    ctx = make_context()
    with writing(ctx.engine) as conn:
        store.insert_driver(conn, RECORD, status="active", now=ctx.now())
    with reading(ctx.engine) as conn:
        current = store.driver_by_slug(conn, RECORD.slug)
    assert current is not None
    with writing(ctx.engine) as conn:
        assert store.refresh_derived(conn, current) is False
        # As a database from before the parsed-date columns existed would hold them.
        conn.execute(update(DriverRecordRow).values(member="", review_due_on=None,
                                                    published_on=None))
    with reading(ctx.engine) as conn:
        stale = store.driver_by_slug(conn, RECORD.slug)
    assert stale is not None and (stale.member, stale.review_due_on) == ("", None)
    clock.advance(days=1)
    with writing(ctx.engine) as conn:
        assert store.refresh_derived(conn, stale) is True
    with reading(ctx.engine) as conn:
        assert store.driver_by_slug(conn, RECORD.slug) == current
    with orm_session(ctx) as session:
        row = session.scalars(select(DriverRecordRow)).one()
        assert row.updated_at == clock.now - timedelta(days=1), "a refresh is not an update"


def test_lists_by_title_slug_and_member(make_context: Callable[..., Context]) -> None:
    ctx = make_context()
    records = [("b-record", "Alpha", "VT"), ("a-record", "Charlie", ""),
               ("c-record", "Bravo", "FG"), ("d-record", "Delta", "FG")]
    with writing(ctx.engine) as conn:
        for slug, title, member in records:
            record = DriverRecord(kind="driver", slug=slug, title=title,
                                  fields={"member_responsible": member} if member else {})
            store.insert_driver(conn, record, status="active", now=ctx.now())
    with reading(ctx.engine) as conn:
        def slugs(drivers: list[StoredDriver]) -> list[str]:
            return [d.record.slug for d in drivers]

        assert slugs(store.drivers_by_title(conn)) == ["b-record", "c-record", "a-record",
                                                       "d-record"]
        assert slugs(store.drivers_in_slug_order(conn)) == ["a-record", "b-record",
                                                            "c-record", "d-record"]
        assert slugs(store.drivers_by_member(conn)) == ["a-record", "c-record", "d-record",
                                                        "b-record"]
        assert slugs(store.drivers_by_member(conn, "FG")) == ["c-record", "d-record"]
        assert slugs(store.drivers_by_member(conn, "")) == ["a-record"], "nobody's records"


def test_history_reads_newest_first_even_within_one_second(
        make_context: Callable[..., Context], clock: Clock) -> None:
    ctx = make_context()
    with writing(ctx.engine) as conn:
        driver_id = store.insert_driver(conn, RECORD, status="draft", now=ctx.now())
        store.add_version(conn, driver_id, now=ctx.now(), changed_by="import", action="draft",
                          changes={"title": ["", RECORD.title]})
        store.add_version(conn, driver_id, now=ctx.now(), changed_by="alice", action="edited",
                          changes={"impact": ["", "Ünïcode impact"]})
    clock.advance(minutes=5)
    with writing(ctx.engine) as conn:
        store.add_version(conn, driver_id, now=ctx.now(), changed_by="bob", action="edited",
                          changes={"status": ["draft", "active"]})
    with reading(ctx.engine) as conn:
        history = store.driver_history(conn, driver_id)
        assert store.driver_history(conn, driver_id + 1) == []
    assert [(h.changed_by, h.changes) for h in history] == [
        ("bob", {"status": ["draft", "active"]}), ("alice", {"impact": ["", "Ünïcode impact"]}),
        ("import", {"title": ["", RECORD.title]})]
    assert history[0].changed_at == clock.now
