"""Two polls of one source racing (a manual poll during a scheduled run) store one copy."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from awareness.service import polling
from awareness.storage.models import Item, Match
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
