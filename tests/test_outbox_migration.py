"""Migration 0010: the deliveries, stewardship and source-report logs move into one outbox,
keeping every promise of the old tables; and back again on downgrade."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, column, insert, inspect, select, table
from sqlalchemy.exc import IntegrityError

from awareness.storage.db import MIGRATIONS, make_engine, upgrade
from awareness.storage.models import DeliveryItem, UTCDateTime
from awareness.storage.models import OutboxMessage as Outbox

WHEN = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
MESSAGE = (b"From: Library <awareness@example.nhs.uk>\r\nTo: reader@trust.nhs.uk\r\n"
           b"Subject: x\r\nMessage-ID: <digest.daily-2026-11-23.1@example.nhs.uk>\r\n\r\nx\r\n")


def rows(table_name: str, /, **values: object) -> tuple[object, list[dict[str, object]]]:
    """A table of ``values``' columns (times typed as the models store them) and one row."""
    columns = (column(key, UTCDateTime()) if isinstance(value, datetime) else column(key)
               for key, value in values.items())
    return table(table_name, *columns), [values]


def seed_0009(engine: Engine) -> None:
    """What a 0009 database holds: a sent and a pending digest with its items, a
    stewardship mail and a source report."""
    when = WHEN
    plan = [
        rows("subscribers", id=1, email="reader@trust.nhs.uk", frequency="daily", token="t1",
             created_at=when),
        rows("subscribers", id=2, email="other@trust.nhs.uk", frequency="daily", token="t2",
             created_at=when),
        rows("sources", id="s", name="s", publisher="p", url="https://pub.example/",
             kind="feed", interval_minutes=60, enabled=True, state="active",
             baseline_done=True, error_count=0, redirect_count=0),
        rows("items", id=10, source_id="s", key="k", title="Item", summary_html="",
             summary_text="", categories="[]", first_seen_at=when, baseline=False),
        rows("matches", id=20, item_id=10, topic_slug="leadership", status="approved",
             hits="[]", score=1.0, created_at=when),
        rows("deliveries", id=7, subscriber_id=1, period_key="daily:2026-11-22",
             status="sent", message_id="<d7@x>", message=MESSAGE, created_at=when,
             sent_at=when, attempts=1),
        rows("deliveries", id=9, subscriber_id=2, period_key="daily:2026-11-23",
             status="pending", message_id="<d9@x>",
             message=MESSAGE.replace(b"reader@", b"other@"), created_at=when,
             attempts=2, next_attempt_at=when + timedelta(minutes=30), last_error="452 full"),
        rows("delivery_items", id=1, delivery_id=7, subscriber_id=1, item_id=10, match_id=20),
        rows("stewardship_mails", id=1, member="FG", week="2026-W47", message_id="<s@x>",
             sent_at=when),
        rows("source_health_mails", id=1, day="2026-11-22", message_id="<r@x>",
             sent_at=when),
    ]
    with engine.begin() as connection:
        for target, values in plan:
            connection.execute(insert(target), values)  # type: ignore[arg-type]


@pytest.fixture
def migrated(empty_database_url):
    engine = make_engine(empty_database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    command.upgrade(config, "0009")
    seed_0009(engine)
    upgrade(engine)
    yield engine, config
    engine.dispose()


def outbox_rows(engine: Engine) -> dict[tuple[str, str], tuple[object, ...]]:
    with engine.connect() as connection:
        found = connection.execute(select(
            Outbox.kind, Outbox.key, Outbox.id, Outbox.subscriber_id, Outbox.sender,
            Outbox.recipient, Outbox.status, Outbox.attempts, Outbox.next_attempt_at,
            Outbox.last_error, Outbox.message.is_not(None)))
        return {(row[0], row[1]): tuple(row[2:]) for row in found}


def test_every_old_row_is_in_the_outbox(migrated):
    engine, _ = migrated
    assert outbox_rows(engine) == {
        ("digest", "1/daily:2026-11-22"): (7, 1, "awareness@example.nhs.uk",
                                           "reader@trust.nhs.uk", "sent", 1, None, None, True),
        ("digest", "2/daily:2026-11-23"): (9, 2, "awareness@example.nhs.uk",
                                           "other@trust.nhs.uk", "pending", 2,
                                           WHEN + timedelta(minutes=30), "452 full", True),
        ("stewardship", "FG/2026-W47"): (10, None, "", "", "sent", 1, None, None, False),
        ("sources_report", "2026-11-22"): (11, None, "", "", "sent", 1, None, None, False),
    }
    with engine.connect() as connection:
        assert connection.execute(select(DeliveryItem.outbox_id, DeliveryItem.item_id)).all() == [
            (7, 10)]
    assert not {"deliveries", "stewardship_mails", "source_health_mails"} & set(
        inspect(engine).get_table_names())


@pytest.mark.parametrize(("kind", "key"), [
    ("digest", "1/daily:2026-11-22"), ("stewardship", "FG/2026-W47"),
    ("sources_report", "2026-11-22")])
def test_the_old_promises_hold_in_the_outbox(migrated, kind: str, key: str):
    engine, _ = migrated
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(Outbox).values(
            kind=kind, key=key, sender="", recipient="", message_id="<again@x>",
            status="pending", attempts=0, created_at=WHEN))


def test_an_item_is_still_never_sent_twice_to_one_subscriber(migrated):
    engine, _ = migrated
    with pytest.raises(IntegrityError), engine.begin() as connection:
        connection.execute(insert(DeliveryItem).values(outbox_id=9, subscriber_id=1,
                                                       item_id=10, match_id=20))


def test_downgrade_puts_the_rows_back(migrated):
    engine, config = migrated
    command.downgrade(config, "0009")
    deliveries = table("deliveries", column("id"), column("status"), column("period_key"))
    items = table("delivery_items", column("delivery_id"), column("item_id"))
    steward = table("stewardship_mails", column("member"), column("week"))
    reports = table("source_health_mails", column("day"))
    with engine.connect() as connection:
        assert connection.execute(select(deliveries).order_by(deliveries.c.id)).all() == [
            (7, "sent", "daily:2026-11-22"), (9, "pending", "daily:2026-11-23")]
        assert connection.execute(select(items)).all() == [(7, 10)]
        assert connection.execute(select(steward)).all() == [("FG", "2026-W47")]
        assert connection.execute(select(reports)).all() == [("2026-11-22",)]
    assert "outbox" not in inspect(engine).get_table_names()
    upgrade(engine)  # and up again
    assert len(outbox_rows(engine)) == 4
