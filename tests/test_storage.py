"""The schema: migrations create it on SQLite and PostgreSQL, and upgrading twice is a no-op.

Migration tests start from ``empty_database_url``; every other test's ``database_url`` is a
copy of a database migrated once per session, checked here to be the same schema."""

from __future__ import annotations

import random
import subprocess
import sys
from collections import Counter
from datetime import UTC, datetime
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, column, func, insert, inspect, select, table

from awareness.model import ItemText
from awareness.sources.decide import ItemEdit, NewItem
from awareness.sources.identity import link_digest, title_digest
from awareness.storage import items
from awareness.storage.db import (
    MIGRATIONS,
    current_revision,
    head_revisions,
    make_engine,
    reading,
    upgrade,
    writing,
)
from awareness.storage.models import Base, Item, ItemWord, Source, in_schema
from awareness.topics.presearch import WordLookup
from awareness.topics.text import ItemWords, document, retokenised


def test_migrations_create_the_models_schema_and_are_idempotent(empty_database_url):
    engine = make_engine(empty_database_url)
    try:
        before, after = upgrade(engine)
        assert before is None
        assert after == ",".join(head_revisions())
        assert upgrade(engine) == (after, after)
        tables = set(inspect(engine).get_table_names())
        include = in_schema(engine.dialect.name)
        expected = {name for name, table in Base.metadata.tables.items()
                    if include(table, name, "table", False, None)}
        assert expected <= tables
        assert ("item_words" in expected) == (engine.dialect.name == "postgresql")
        assert current_revision(engine) == after
        with engine.connect() as connection:  # storage reads the revision as Alembic does
            assert ",".join(MigrationContext.configure(connection).get_current_heads()) == after
        if engine.dialect.name == "sqlite":  # migrations turn it off; the pool gets it back on
            with engine.connect() as connection:
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.integration  # processes: Alembic's context is one per process, not per thread
def test_processes_upgrading_an_empty_database_at_once_all_succeed(empty_database_url):
    # Issue 15: several `awareness run` processes start together on a new database; the
    # second waits for the first (SQLite's write lock, an advisory lock on PostgreSQL) and
    # finds the schema at head.
    script = ("import sys\nfrom awareness.storage.db import make_engine, upgrade\n"
              "print(upgrade(make_engine(sys.argv[1]))[1])\n")
    processes = [subprocess.Popen([sys.executable, "-c", script, empty_database_url],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(3)]
    results = [(p.communicate(timeout=120), p.returncode) for p in processes]
    head = ",".join(head_revisions())
    assert [(out.strip(), code) for (out, _), code in results] == [(head, 0)] * 3, results


def differences_from_the_models(engine: Engine) -> list[Any]:
    """What autogenerate would change to make the database match the models."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={
            "include_object": in_schema(connection.dialect.name)})
        diff: list[Any] = compare_metadata(context, Base.metadata)
    return diff


def test_models_and_migrations_agree(empty_database_url):
    # Autogenerate compares the migrated database with the models: any difference means a
    # model changed without a migration.
    engine = make_engine(empty_database_url)
    try:
        upgrade(engine)
        assert differences_from_the_models(engine) == []
    finally:
        engine.dispose()


def test_each_test_gets_a_copy_of_the_migrated_schema(database_url):
    # The fixture copies a database migrated once per session instead of migrating per test:
    # the copy must be at the head revision with the models' schema, hold no rows, take writes.
    engine = make_engine(database_url)
    try:
        assert current_revision(engine) == ",".join(head_revisions())
        assert differences_from_the_models(engine) == []
        assert upgrade(engine) == (current_revision(engine),) * 2
        with engine.begin() as connection:
            for model in (Source, Item):
                assert connection.execute(select(func.count()).select_from(model)).scalar() == 0
            connection.execute(insert(Source).values(
                id="mine", name="s", publisher="p", url="https://pub.example/", kind="feed"))
    finally:
        engine.dispose()


def test_migrations_have_one_head_and_storage_knows_it():
    # Branches written in parallel must be merged before they ship, so that `alembic
    # upgrade head` and every deployment agree on one schema. Storage names the head itself
    # (so that opening a current database never imports Alembic): it must be Alembic's.
    heads = ScriptDirectory(str(MIGRATIONS)).get_heads()
    assert len(heads) == 1
    assert head_revisions() == tuple(heads)


@pytest.mark.integration  # a fresh interpreter, to see what it imports
def test_a_current_database_is_opened_without_importing_alembic(database_url):
    # About 10 MiB (Alembic, Mako, Pygments) in every process that only checks the schema.
    script = ("import sys; from awareness.storage.db import make_engine, upgrade; "
              "engine = make_engine(sys.argv[1]); before, after = upgrade(engine); "
              "assert before == after, (before, after); "
              "assert not {'alembic', 'mako'} & set(sys.modules), 'imported Alembic'")
    subprocess.run([sys.executable, "-c", script, database_url], check=True, timeout=120)


@pytest.mark.integration  # a fresh interpreter, to see what importing does
def test_importing_the_service_hashes_no_password():
    # The dummy hash an unknown sign-in name is checked against was made at import: argon2id's
    # 64 MiB in every process, the poller's too (it imports the accounts for the steering
    # group's mail), whose peak memory went from 89 to 127 MiB.
    script = ("import argon2; hashed = []; real = argon2.PasswordHasher.hash; "
              "argon2.PasswordHasher.hash = lambda *a, **k: hashed.append(1) or real(*a, **k); "
              "import awareness.service.polling, awareness.service.stewardship, "
              "awareness.service.librarians, awareness.web.app; "
              "assert not hashed, 'a password was hashed at import'")
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)


def test_the_story_keys_migration_fills_every_stored_item(empty_database_url):
    # Items stored before 0007 get the digests new items get, whatever their links and titles
    # (2,048-character links, non-ASCII titles, titles with no words), over several batches.
    engine = make_engine(empty_database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    when = datetime(2026, 11, 23, tzinfo=UTC)
    odd = [("https://pub.example/" + "é" * 2_000, "Überprüfung: ﬄ " * 30),
           (None, "Press release: …"), ("http://www.pub.example/a/?utm_source=x#f", ""),
           ("https://pub.example/b", "Guidance: Discharge — the plan")]
    wanted = odd + [(f"https://pub.example/{n}", f"Item {n}") for n in range(2_300)]
    try:
        command.upgrade(config, "0006")
        items = table("items", *(column(name) for name in (
            "source_id", "key", "title", "link", "summary_html", "summary_text",
            "categories", "first_seen_at", "baseline")))
        with engine.begin() as connection:
            connection.execute(table("sources", *(column(name) for name in (
                "id", "name", "publisher", "url", "kind", "interval_minutes", "enabled",
                "state", "baseline_done", "error_count"))).insert().values(
                id="s", name="s", publisher="p", url="https://pub.example/", kind="feed",
                interval_minutes=60, enabled=True, state="active", baseline_done=True,
                error_count=0))
            connection.execute(insert(items), [
                dict(source_id="s", key=f"k{n}", title=title, link=link, summary_html="",
                     summary_text="", categories="[]", first_seen_at=when, baseline=False)
                for n, (link, title) in enumerate(wanted)])
        upgrade(engine)
        with engine.connect() as connection:
            stored = connection.execute(select(Item.link, Item.title, Item.link_key,
                                               Item.title_key).order_by(Item.id)).all()
        assert [(link, title) for link, title, _, _ in stored] == wanted
        assert [(link_key, title_key) for _, _, link_key, title_key in stored] == [
            (link_digest(link), title_digest(title)) for link, title in wanted]
        assert stored[1][2:] == (None, None)  # no link, no words in the title
        assert stored[2][2] == link_digest("https://pub.example/a")
        command.downgrade(config, "0006")
        assert "link_key" not in {c["name"] for c in inspect(engine).get_columns("items")}
    finally:
        engine.dispose()


def test_the_item_words_migration_stores_every_stored_items_words(empty_database_url):
    # Items stored before 0018 get the words polling now stores with new ones, over several
    # batches: those ``document`` makes of their text, and one item_words row per distinct
    # (field, word).
    engine = make_engine(empty_database_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["engine"] = engine
    when = datetime(2026, 11, 23, tzinfo=UTC)
    odd = [("Café “quotes” — King’s Fund", "Long-Term plan: A&E, A&E", '["NHS", "", "Ünï"]'),
           ("…", "", "[]"), ("", "no title", "null")]
    wanted = odd + [(f"Item {n}", f"summary {n % 7}", '["Workforce"]') for n in range(1_100)]
    try:
        command.upgrade(config, "0017")
        items = table("items", *(column(name) for name in (
            "source_id", "key", "title", "summary_html", "summary_text", "categories",
            "first_seen_at", "baseline")))
        with engine.begin() as connection:
            connection.execute(insert(Source), [dict(
                id="s", name="s", publisher="p", url="https://pub.example/", kind="feed",
                interval_minutes=60, enabled=True, state="active", baseline_done=True,
                error_count=0)])
            connection.execute(insert(items), [
                dict(source_id="s", key=f"k{n}", title=title, summary_html="",
                     summary_text=summary, categories=categories, first_seen_at=when,
                     baseline=False) for n, (title, summary, categories) in enumerate(wanted)])
        command.upgrade(config, "0018")  # 0019 moves SQLite's words into a full-text index
        with engine.connect() as connection:
            stored = connection.execute(select(
                Item.id, Item.title, Item.summary_text, Item.categories, Item.title_words,
                Item.summary_words, Item.category_words).order_by(Item.id)).all()
            rows = Counter(connection.execute(select(ItemWord.item_id, ItemWord.field,
                                                     ItemWord.word)).all())
        expected_rows: Counter[tuple[int, str, str]] = Counter()
        for item_id, title, summary, categories, *columns in stored:
            words = ItemWords.of(document(ItemText(title, summary, tuple(categories or ()))))
            assert ItemWords.from_columns(*columns) == words
            expected_rows.update((item_id, {"title": "t", "summary": "s", "category": "c"}[f], w)
                                 for f, w in words.field_words())
        assert stored[0][4:] == ("cafe quotes kings fund", "long term plan a e a e",
                                 "nhs\t\tuni")
        assert stored[1][4:] == ("", "", "") and len(stored) == len(wanted)
        assert rows == expected_rows
        upgrade(engine)  # on SQLite, 0019 moves them into the full-text index and back
        with engine.connect() as connection:
            for word in ("cafe", "plan", "uni", "summary", "item", "1099", "e"):
                assert holders(connection, word) == {
                    i for i, _, w in expected_rows if w == word}, word
            assert holders(connection, "summ", prefix=True) == {
                i for i, _, w in expected_rows if w.startswith("summ")}
        command.downgrade(config, "0018")
        with engine.connect() as connection:
            assert Counter(connection.execute(select(
                ItemWord.item_id, ItemWord.field, ItemWord.word)).all()) == expected_rows
        command.downgrade(config, "0017")
        assert "title_words" not in {c["name"] for c in inspect(engine).get_columns("items")}
    finally:
        engine.dispose()


def holders(conn: Connection, word: str, *, prefix: bool = False) -> set[int]:
    """The stored items a dry run reads for ``word`` (or a word starting with it): through
    the word index, without the items that have no stored words."""
    lookup = WordLookup(frozenset() if prefix else frozenset({word}),
                        frozenset({word}) if prefix else frozenset())
    return {found.id for found in items.words_since(conn, datetime(2000, 1, 1, tzinfo=UTC),
                                                    lookup=lookup) if found.words is not None}


def test_the_word_index_follows_inserts_edits_and_deletes(database_url):
    # The index that finds items by word (FTS5 kept by triggers on SQLite, rows written by
    # storage on PostgreSQL) holds exactly the words of the item columns after every kind of
    # write: new items, edits of the title or summary, deletions, items without words.
    rng = random.Random(11)
    vocabulary = [f"{stem}{n}" for stem in ("nurse", "lead", "care", "plan") for n in range(12)]
    when = datetime(2026, 12, 1, tzinfo=UTC)

    def text() -> str:
        return " ".join(rng.choices(vocabulary, k=rng.randint(0, 8)))

    engine = make_engine(database_url)
    try:
        with writing(engine) as conn:
            conn.execute(insert(Source), [dict(
                id="s", name="s", publisher="p", url="https://pub.example/", kind="feed",
                interval_minutes=60, enabled=True, state="active", baseline_done=True,
                error_count=0)])
            new = [NewItem(key=f"k{n}", guid=None, title=f"t{n}", link=None, summary_html="",
                           summary_text="", categories=(), published_at=None, doi=None,
                           link_key=None, title_key=None, updated_at=None) for n in range(60)]
            words = {item.key: ItemWords(tuple(text().split()), tuple(text().split()),
                                         (tuple(text().split()),)) for item in new[:50]}
            ids = items.insert_new(conn, "s", new, now=when, baseline=False, words=words)
        check_index(engine, vocabulary)
        with writing(engine) as conn:
            edits = []
            for item_id in rng.sample(sorted(ids.values()), 30):
                changes: dict[str, object] = rng.choice(
                    [{"title": text()}, {"summary_text": text()},
                     {"title": text(), "summary_text": text()}])
                edits.append(ItemEdit(item_id, {**changes, **retokenised(changes)}))
            items.write_edits(conn, edits)
        with writing(engine) as conn:
            for item_id in rng.sample(sorted(ids.values()), 10):
                items.delete_item(conn, item_id, now=when)
        check_index(engine, vocabulary)
    finally:
        engine.dispose()


def check_index(engine: Engine, vocabulary: list[str]) -> None:
    if engine.dialect.name == "sqlite":  # FTS5 compares its index with the items' columns
        with writing(engine) as conn:  # (a stale row of a deleted item fails it too)
            conn.exec_driver_sql("INSERT INTO item_word_index(item_word_index, rank) "
                                 "VALUES ('integrity-check', 1)")
    with reading(engine) as conn:
        stored = {row.id: set(f"{row.title_words} {row.summary_words} {row.category_words}"
                              .split())
                  for row in conn.execute(select(Item.id, *WORD_COLUMNS))
                  if row.title_words is not None}
        assert len(stored) >= 20
        for word in vocabulary:
            assert holders(conn, word) == {i for i, held in stored.items() if word in held}
        for prefix in ("nurse", "lead1", "care", "p"):
            assert holders(conn, prefix, prefix=True) == {
                i for i, held in stored.items() if any(w.startswith(prefix) for w in held)}


WORD_COLUMNS = (Item.title_words, Item.summary_words, Item.category_words)
