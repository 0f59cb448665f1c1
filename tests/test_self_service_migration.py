"""Migration 0011: subscribers added by a librarian count as confirmed, each subscription
takes its subscriber's frequency, and downgrade gives back the 0010 schema with the rows."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.config import Config
from sqlalchemy import column, insert, inspect, select, table

from awareness.storage.db import MIGRATIONS, make_engine
from awareness.storage.models import Subscriber, Subscription, UTCDateTime

WHEN = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)


def test_existing_subscribers_are_confirmed_and_keep_their_frequency(empty_database_url):
    engine = make_engine(empty_database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    command.upgrade(config, "0010")
    subscribers = table("subscribers", column("id"), column("email"), column("frequency"),
                        column("token"), column("created_at", UTCDateTime()))
    subscriptions = table("subscriptions", column("subscriber_id"), column("topic_slug"))
    with engine.begin() as connection:
        connection.execute(insert(subscribers), [
            {"id": 1, "email": "a@nhs.example", "frequency": "daily", "token": "a" * 32,
             "created_at": WHEN},
            {"id": 2, "email": "b@nhs.example", "frequency": "weekly", "token": "b" * 32,
             "created_at": WHEN}])
        connection.execute(insert(subscriptions), [
            {"subscriber_id": 1, "topic_slug": "leadership"},
            {"subscriber_id": 1, "topic_slug": "digital"},
            {"subscriber_id": 2, "topic_slug": "digital"}])
    command.upgrade(config, "0011")
    with engine.connect() as connection:
        assert connection.execute(select(Subscriber.id, Subscriber.confirmed_at,
                                         Subscriber.paused_until, Subscriber.bulletins)
                                  .order_by(Subscriber.id)).all() == [
            (1, WHEN, None, False), (2, WHEN, None, False)]
        assert sorted(connection.execute(select(
            Subscription.subscriber_id, Subscription.topic_slug, Subscription.frequency))) == [
            (1, "digital", "daily"), (1, "leadership", "daily"), (2, "digital", "weekly")]
    command.downgrade(config, "0010")
    names = {c["name"] for c in inspect(engine).get_columns("subscribers")}
    assert "confirmed_at" not in names and "signups" not in inspect(engine).get_table_names()
    with engine.connect() as connection:
        assert len(connection.execute(select(subscriptions)).all()) == 3
    engine.dispose()
