"""Two polls of one source racing (a manual poll during a scheduled run) store one copy."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from awareness.service import polling
from awareness.storage.models import Item, Match, Source
from tests.conftest import Response, orm_session
from tests.test_polling import FLU, LEADERSHIP, rss


def test_racing_polls_store_each_item_once(make_context, feed_server, tmp_path):
    subs = tmp_path / "race"
    (subs / "topics").mkdir(parents=True)
    (subs / "topics" / "leadership.toml").write_text(
        'name = "Leadership"\ndescription = "x"\nreview = "required"\nquery = "leader*"\n')
    (subs / "sources.toml").write_text(
        '[[source]]\nid = "news"\nname = "news"\npublisher = "NHS England"\nkind = "feed"\n'
        f'url = "{feed_server.url("/news")}"\n')
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs))
    feed_server.routes["/news"] = Response(rss(FLU))
    polling.poll(ctx, ["news"])  # the baseline
    feed_server.routes["/news"] = Response(rss(FLU, LEADERSHIP))

    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            polling.poll(ctx, ["news"])
        except BaseException as exc:  # collected: an assertion in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with orm_session(ctx) as session:
        assert session.scalar(select(func.count()).select_from(Item)) == 2
        assert session.scalar(select(func.count()).select_from(Match)) == 1


def test_processes_syncing_the_same_new_sources_at_once_store_one_row_each(
        make_context, tmp_path):
    # Issue 15: two `awareness run` processes started together after sources were added both
    # sync sources.toml; on PostgreSQL one failed on sources_pkey. Each context here has its
    # own engine and connections, as each process has.
    subs = tmp_path / "many"
    (subs / "topics").mkdir(parents=True)
    (subs / "sources.toml").write_text("".join(
        f'[[source]]\nid = "s{n:02}"\nname = "Source {n}"\npublisher = "NHS England"\n'
        f'kind = "feed"\nurl = "http://127.0.0.1:9/{n}.xml"\n\n' for n in range(30)))
    contexts = [make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs)) for _ in range(6)]
    start = threading.Barrier(len(contexts))
    errors: list[BaseException] = []

    def sync(ctx) -> None:
        start.wait()
        try:
            polling.sync_sources(ctx)
        except BaseException as exc:  # collected: an assertion in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=sync, args=(ctx,)) for ctx in contexts]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with orm_session(contexts[0]) as session:
        rows = session.execute(select(Source.id, func.count()).group_by(Source.id)).all()
    assert sorted(rows) == [(f"s{n:02}", 1) for n in range(30)]
