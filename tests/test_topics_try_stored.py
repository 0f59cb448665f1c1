"""Trying a query over stored words gives exactly what normalising the archive gave.

The archive is built the way the service builds it: a baseline poll and a poll of new items
from a real HTTP server on loopback (so the stored words are polling's), an edited item, a
deleted one, an item written without words, and a publisher renamed after its items were
stored. Each query is then tried with the service and with the old path: every item read and
normalised (``items.since``, ``Query.match``, scored and explained from its text).
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from awareness.service import polling
from awareness.service.context import Context
from awareness.service.topics import TriedMatch, TryResult, try_query
from awareness.sources.decide import ItemEdit
from awareness.storage import items
from awareness.storage.db import reading, writing
from awareness.storage.models import Item
from awareness.topics.explain import reasons
from awareness.topics.query import Query, parse_query
from awareness.topics.text import retokenised
from tests.conftest import Response, orm_session, orm_writing
from tests.test_storage import holders

FEEDS = {
    "news": [
        ("lead", "Compassionate leadership for NHS boards",
         "Boards and senior leaders will build an inclusive culture; leadership matters.",
         ("Workforce", "Leadership & management")),
        ("nurses", "Nurse retention: what works",
         "Retaining nurses and midwives: retention rose where nurses had flexible rotas.",
         ("Nursing",)),
        ("flu", "NHS issues flu jab SOS", "People eligible for a flu vaccine should come forward.",
         ()),
        ("org", "Organisation of care", "The organization of services and organisational change.",
         ("Workforce",)),
    ],
    "fund": [
        ("talent", "Talent management for boards", "Leaders talk about talent management.",
         ("Leadership",)),
        ("cafe", "Café culture in the King’s Fund", "Colour and color; organising care.",
         ()),
        ("gone", "An item a librarian deletes", "leadership leadership", ()),
    ],
}
QUERIES = [
    ("leader*", "none"), ('"compassionate leadership"', "none"),
    ("nurs* NEAR/3 retention", "none"),
    ("(nurse* OR midwi*) NEAR/5 (retention OR retain*)", "none"),
    ("TI nurse retention OR AB flexible", "none"), ("title:flu OR summary:vaccine", "none"),
    ("NHS NOT flu", "none"), ("boards AND NOT (talent OR flu)", "none"),
    ("organi?ation*", "none"), ("colo#r", "none"), ("organisation", "uk-us"),
    ('source:"kings fund" AND leader*', "none"), ("source:charity", "none"),
    ("category:workforce", "none"), ('category:"management leadership"', "none"),
    ('"leadership management"', "none"), ("zzqxjv OR \"no such phrase\"", "none"),
    ("cafe OR kings", "none"), ("written", "none"), ("leader* AND unstored", "none"),
    ("edited", "none"),
]


def rss(entries: list[tuple[str, str, str, tuple[str, ...]]]) -> bytes:
    body = "".join(
        f"<item><title>{title}</title><link>https://pub.example/{slug}/</link>"
        f"<pubDate>Mon, 23 Nov 2026 00:01:00 +0000</pubDate><description>{summary}"
        f"</description>{''.join(f'<category>{c}</category>' for c in cats)}</item>"
        for slug, title, summary, cats in entries)
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{body}</channel></rss>'.encode()


def write_sources(ctx: Context, feed_server, publisher: str) -> None:
    (ctx.subscriptions_dir / "sources.toml").write_text("".join(
        f'[[source]]\nid = "{sid}"\nname = "{sid}"\npublisher = "{pub}"\nkind = "feed"\n'
        f'url = "{feed_server.url("/" + sid)}"\n\n'
        for sid, pub in (("news", "NHS England"), ("fund", publisher))), encoding="utf-8")


def old_try(ctx: Context, query: Query, since: timedelta, limit: int | None) -> TryResult:
    """``try_query`` as it was: every item in the window read and normalised."""
    now = ctx.now()
    searched: Counter[str] = Counter()
    matched: Counter[str] = Counter()
    results = []
    with reading(ctx.engine) as conn:
        for item in items.since(conn, now - since):
            c = item.candidate
            searched[c.source_id] += 1
            hits = query.match(c.text)
            if hits:
                matched[c.source_id] += 1
                results.append(TriedMatch(
                    item.id, c.source_id, c.text.title, c.link, c.text.summary, c.published,
                    query.score(c.text, hits, published=c.published, now=now), hits,
                    reasons(query, c.text)))
    results.sort(key=lambda m: (-m.score, m.item_id))
    return TryResult(query.text, now - since, sum(searched.values()),
                     results[:limit] if limit else results,
                     {s: (matched[s], searched[s]) for s in sorted(searched)})


def test_trying_over_stored_words_gives_what_normalising_the_archive_gave(
        make_context, feed_server, tmp_path, clock) -> None:
    subs = tmp_path / "subs"
    (subs / "topics").mkdir(parents=True)
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs))
    write_sources(ctx, feed_server, "The King’s Fund")
    for sid, entries in FEEDS.items():  # a baseline of the first half, then the rest
        feed_server.routes[f"/{sid}"] = Response(rss(entries[:len(entries) // 2]))
    polling.poll(ctx, ["news", "fund"])
    clock.now += timedelta(hours=2)
    for sid, entries in FEEDS.items():
        edited = [(slug, title + " revised" if slug == "lead" else title,
                   summary + " Nurses too." if slug == "lead" else summary, cats)
                  for slug, title, summary, cats in entries]
        feed_server.routes[f"/{sid}"] = Response(rss(edited))
    outcomes = polling.poll(ctx, ["news", "fund"])
    assert sum(o.updated_items for o in outcomes) == 1  # "lead" edited in place
    with orm_writing(ctx) as session:
        unstored = Item(source_id="news", key="written", title="Written without words",
                        summary_text="Leaders of an unstored item", categories=["Leadership"],
                        first_seen_at=clock.now, published_at=None, baseline=False)
        session.add(unstored)
        gone = session.scalars(select(Item.id).where(Item.key.like("%gone%"))).one()
    polling.delete_item(ctx, gone, by="alice")
    with writing(ctx.engine) as conn:  # an edit leaves an item without words without them
        changes = {"title": "Written without words, edited"}
        items.write_edits(conn, [ItemEdit(unstored.id, {**changes, **retokenised(changes)})])
    write_sources(ctx, feed_server, "A charity")  # renamed after its items were stored
    polling.sync_sources(ctx)
    with orm_session(ctx) as session:
        assert session.scalar(select(func.count()).select_from(Item).where(
            Item.title_words.is_(None))) == 1  # only the item written without words
        holding = {row.id for row in session.execute(select(
            Item.id, Item.title_words, Item.summary_words, Item.category_words))
            if row.title_words is not None and "leadership" in
            f"{row.title_words} {row.summary_words} {row.category_words}".split()}
        assert len(holding) >= 2 and gone not in holding
        assert holders(session.connection(), "leadership") == holding  # the deleted one left
        assert session.scalar(select(Item.title_words).where(Item.key.like("%lead%"))) == \
            "compassionate leadership for nhs boards revised"
    compared = Counter[str]()
    for text, spelling in QUERIES:
        query = parse_query(text, spelling)
        for since, limit in ((timedelta(days=30), None), (timedelta(days=30), 2),
                             (timedelta(hours=1), None)):  # the last: the second poll's only
            new = try_query(ctx, query, since, limit=limit)
            assert new == old_try(ctx, query, since, limit), (text, since, limit)
            compared.update(searched=new.searched, matches=len(new.matches))
    assert compared["matches"] > 40  # the queries found things to compare
