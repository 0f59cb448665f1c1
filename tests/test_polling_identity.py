"""Item identity through the whole poll: GUID churn, tombstones, vanishing items, stories
(RELIABILITY D1-D8), against a real HTTP server and database."""

from __future__ import annotations

import itertools
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from difflib import SequenceMatcher
from xml.sax.saxutils import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from awareness.errors import AwarenessError
from awareness.model import ParsedItem
from awareness.service import polling
from awareness.service.context import create_context
from awareness.settings import load_settings
from awareness.sources import decide
from awareness.sources.identity import (
    DOI_PATTERN,
    MIN_FUZZY_TITLE,
    MIN_FUZZY_TITLE_CHARS,
    STORY_WINDOW,
    TITLE_SIMILARITY,
    KnownItem,
    StoryIndex,
    find_doi,
    find_story,
    link_digest,
    story_windows,
    title_digest,
    title_key,
)
from awareness.sources.parse import parse_feed
from awareness.storage import items as stored_items
from awareness.storage import stories
from awareness.storage.db import writing
from awareness.storage.models import Item, Match, Source
from tests.conftest import DATA, Response, orm_session, orm_writing, settings_env

NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def entry(title: str, *, link: str | None = None, guid: str | None = None,
          summary: str = "", date: str = "Mon, 23 Nov 2026 00:01:00 +0000") -> str:
    parts = [f"<title>{escape(title)}</title>", f"<pubDate>{date}</pubDate>"]
    if link:
        parts.append(f"<link>{escape(link)}</link>")
    if guid is not None:
        parts.append(f'<guid isPermaLink="false">{escape(guid)}</guid>')
    parts.append(f"<description>{escape(summary)}</description>")
    return "<item>" + "".join(parts) + "</item>"


def rss(*entries: str) -> bytes:
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
            f'{"".join(entries)}</channel></rss>').encode()


@pytest.fixture
def site(make_context, feed_server, tmp_path):
    subs = tmp_path / "subs"
    (subs / "topics").mkdir(parents=True)
    topic = DATA.parent.parent / "subscriptions" / "topics" / "leadership.toml"
    (subs / "topics" / "leadership.toml").write_text(topic.read_text(encoding="utf-8"),
                                                      encoding="utf-8")
    (subs / "sources.toml").write_text("".join(
        f'[[source]]\nid = "{sid}"\nname = "{sid}"\npublisher = "{sid} publisher"\n'
        f'kind = "feed"\nurl = "{feed_server.url("/" + sid)}"\n\n'
        for sid in ("news", "govuk", "extra")))
    return make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs)), feed_server


def poll(site, source_id: str, body: bytes) -> polling.PollOutcome:
    ctx, feeds = site
    feeds.routes["/" + source_id] = Response(body)
    [outcome] = polling.poll(ctx, [source_id])
    assert outcome.status == "ok", outcome.error
    return outcome


def items(ctx, source_id: str) -> list[Item]:
    with orm_session(ctx) as session:
        return list(session.scalars(select(Item).where(Item.source_id == source_id)
                                    .order_by(Item.id)))


LEAD = "New compassionate leadership programme for NHS boards"


def test_d1_the_same_feed_twice_is_nothing_new(site):
    body = rss(entry(LEAD, link="https://pub.example/a"), entry("b", guid="g-b"), entry("c"))
    assert poll(site, "news", body).new_items == 3
    second = poll(site, "news", body + b" ")  # a changed body, so it is parsed again
    assert (second.new_items, second.updated_items) == (0, 0)


def test_d2_new_guids_same_links_are_not_new(site):
    poll(site, "news", rss(*(entry(f"t{n}", link=f"https://pub.example/{n}", guid=f"old-{n}")
                             for n in range(5))))
    outcome = poll(site, "news", rss(*(
        entry(f"t{n}", link=f"https://pub.example/{n}/?utm_source=x", guid=f"new-{n}")
        for n in range(5))))
    assert outcome.new_items == 0


def test_d2_churning_guids_without_links_fall_back_to_the_content(site):
    ctx, _ = site
    poll(site, "news", rss(entry("Bulletin one", guid="tag:1@2026-11-01", summary="s1")))
    outcome = poll(site, "news", rss(entry("Bulletin one", guid="tag:1@2026-11-02",
                                           summary="s1")))
    assert outcome.new_items == 0
    [item] = items(ctx, "news")
    assert item.key == "guid:tag:1@2026-11-02"  # the item follows the feed's newest id
    with orm_session(ctx) as session:
        warnings = session.get_one(Source, "news").warnings or ""
    assert "the feed changed the ids of 1 known items" in warnings  # shown to librarians


def test_d3_one_guid_for_several_items_keeps_them_all(site):
    body = rss(*(entry(f"item {n}", guid="same") for n in range(3)))
    assert poll(site, "news", body).new_items == 3
    assert poll(site, "news", rss(entry("newest", guid="same"), *(
        entry(f"item {n}", guid="same") for n in range(3)))).new_items == 1


def test_d7_a_deleted_item_never_comes_back(site):
    ctx, _ = site
    body = rss(entry(LEAD, link="https://pub.example/lead"), entry("keep",
                                                                  link="https://pub.example/k"))
    poll(site, "news", body)
    [lead] = [item for item in items(ctx, "news") if item.title == LEAD]
    polling.delete_item(ctx, lead.id, by="alice")
    again = poll(site, "news", rss(entry(LEAD + " (updated)",
                                         link="http://www.pub.example/lead/#top"),
                                   entry("keep", link="https://pub.example/k")))
    assert again.new_items == 0
    assert [item.title for item in items(ctx, "news")] == ["keep"]


def test_d7_a_rejected_match_is_not_matched_again(site):
    ctx, _ = site
    poll(site, "news", rss(entry("baseline", link="https://pub.example/0")))
    poll(site, "news", rss(entry(LEAD, link="https://pub.example/lead", summary="leaders")))
    with orm_writing(ctx) as session:
        [match] = session.scalars(select(Match)).all()
        match.status = "rejected"
    outcome = poll(site, "news", rss(entry(LEAD + "!", link="https://pub.example/lead")))
    assert (outcome.new_items, outcome.new_matches) == (0, 0)
    with orm_session(ctx) as session:
        assert session.scalar(select(func.count()).select_from(Match)) == 1


def test_deleting_an_unknown_item_is_an_error(site):
    ctx, _ = site
    with pytest.raises(AwarenessError, match="no item 999"):
        polling.delete_item(ctx, 999, by="alice")


def test_d8_an_item_that_vanishes_and_reappears_is_not_new(site):
    a, b, c = (entry(x, link=f"https://pub.example/{x}") for x in "abc")
    poll(site, "news", rss(a, b, c))
    assert poll(site, "news", rss(a, b)).new_items == 0
    assert poll(site, "news", rss(a, b, c)).new_items == 0


# --- stories across publishers (D5) ----------------------------------------------------------


def test_the_same_report_from_two_publishers_is_one_story(site):
    ctx, _ = site
    for sid in ("news", "govuk"):
        poll(site, sid, rss(entry("baseline " + sid, link=f"https://{sid}.example/0")))
    poll(site, "news", rss(entry(LEAD, link="https://news.example/lead")))
    poll(site, "govuk", rss(entry("Press release: " + LEAD.upper() + ".",
                                  link="https://gov.example/lead",
                                  date="Tue, 24 Nov 2026 10:00:00 +0000"),
                            entry("Something else entirely, published the same day",
                                  link="https://gov.example/other")))
    [news_item] = [i for i in items(ctx, "news") if i.title == LEAD]
    gov = {i.title: i for i in items(ctx, "govuk")}
    assert gov["Press release: " + LEAD.upper() + "."].story_id == news_item.id
    assert gov["Something else entirely, published the same day"].story_id is None


def test_the_same_doi_is_one_story_whatever_the_titles(site):
    ctx, _ = site
    for sid in ("news", "govuk"):
        poll(site, sid, rss(entry("baseline " + sid, link=f"https://{sid}.example/0")))
    poll(site, "news", rss(entry("Staff retention: a rapid review",
                                 link="https://doi.org/10.3310/ABCD1234")))
    poll(site, "govuk", rss(entry("New evidence on keeping nurses",
                                  link="https://gov.example/n",
                                  summary="Read the review (doi: 10.3310/abcd1234).")))
    [first] = [i for i in items(ctx, "news") if i.doi]
    [second] = [i for i in items(ctx, "govuk") if i.doi]
    assert first.doi == second.doi == "10.3310/abcd1234"
    assert second.story_id == first.id


def test_a_first_polls_items_take_no_part_in_stories(site):
    # A first poll is the back catalogue: never alerted, so no digest folds anything into it.
    # It stores no story digests (each one a random index insert) and is nobody's story.
    ctx, _ = site
    report = entry(LEAD, link="https://news.example/lead")
    poll(site, "news", rss(report))
    poll(site, "govuk", rss(entry("baseline govuk", link="https://gov.example/0")))
    poll(site, "govuk", rss(entry("Press release: " + LEAD, link="https://news.example/lead/")))
    poll(site, "extra", rss(entry("baseline extra", link="https://extra.example/0")))
    poll(site, "extra", rss(entry(LEAD, link="https://extra.example/lead")))
    [baseline] = items(ctx, "news")
    [copy] = [i for i in items(ctx, "govuk") if not i.baseline]
    [third] = [i for i in items(ctx, "extra") if not i.baseline]
    assert (baseline.baseline, baseline.link_key, baseline.title_key) == (True, None, None)
    assert copy.story_id is None  # not joined to the baseline item, by link or by title
    assert copy.link_key is not None and copy.title_key is not None
    assert third.story_id == copy.id  # the first item that was news makes the story
    poll(site, "news", rss(entry("Revised: " + LEAD, link="https://news.example/lead")))
    [edited] = items(ctx, "news")
    assert (edited.title, edited.title_key) == ("Revised: " + LEAD, None)  # still baseline


def test_story_rules_are_pure() -> None:
    assert title_key("Press release: The NHS’s plan — for 2026!") == "the nhs s plan for 2026"
    assert find_doi(None, "see https://doi.org/10.1136/bmj.q123.") == "10.1136/bmj.q123"
    assert find_doi("no doi here") is None


_DOI_PIECES = st.lists(st.sampled_from(["10.", "1136", "/", "bmj", ".", ")", " ", "X", "doi.org/",
                                         "10.1136/bmj.q123", "10.12/x", "10.99999/"]),
                       max_size=6).map("".join)


@given(st.lists(st.one_of(st.none(), _DOI_PIECES), max_size=3))
def test_find_doi_answers_as_the_pattern_does(texts: list[str | None]) -> None:
    # find_doi skips the pattern for texts without "10."; that must never change the answer.
    found = (DOI_PATTERN.search(text) for text in texts if text)
    expected = next((m.group(0).rstrip(".,;)").lower() for m in found if m), None)
    assert find_doi(*texts) == expected


def test_story_digests_fit_an_index_and_ignore_what_normalisation_ignores() -> None:
    long_link = "https://pub.example/" + "é" * 2_000
    assert len(link_digest(long_link) or "") == 32
    assert link_digest("http://www.pub.example/a/?utm_source=x#top") == link_digest(
        "https://pub.example/a")
    assert link_digest("https://pub.example/a") != link_digest("https://pub.example/b")
    assert link_digest(None) is None and link_digest("") is None
    assert title_digest("Press release: THE plan!") == title_digest("the plan")
    assert title_digest("Press release: …") is None  # no words: never a story by title
    assert len(title_digest("Ünïcødé " * 60) or "") == 32


def test_a_title_too_short_for_the_database_filter_is_too_short_to_compare() -> None:
    # The database keeps titles of MIN_FUZZY_TITLE_CHARS characters or more for the fuzzy
    # comparison: no shorter title may have a key of MIN_FUZZY_TITLE characters.
    growth = max(len(chr(code).casefold()) for code in range(sys.maxunicode + 1))
    assert MIN_FUZZY_TITLE_CHARS * growth >= MIN_FUZZY_TITLE
    assert len(title_key("ﬄ" * (MIN_FUZZY_TITLE_CHARS - 1))) < MIN_FUZZY_TITLE


def test_story_windows_cover_every_date_within_the_window_and_merge() -> None:
    day = timedelta(days=1)
    assert story_windows([NOW, NOW + day, NOW - 30 * day]) == [
        (NOW - 30 * day - STORY_WINDOW, NOW - 30 * day + STORY_WINDOW),
        (NOW - STORY_WINDOW, NOW + day + STORY_WINDOW)]
    assert story_windows([]) == []


# --- D1 as a property ------------------------------------------------------------------------

_counter = itertools.count()
_contexts: dict[int, object] = {}
_entries = st.lists(st.builds(
    lambda title, link, guid, summary: entry(title, link=link, guid=guid, summary=summary),
    st.sampled_from(["a", "b", "Annual report", ""]),
    st.none() | st.sampled_from(["https://p.example/1", "https://p.example/1/?utm_medium=x",
                                 "http://www.p.example/2#f", "https://p.example/3"]),
    st.none() | st.sampled_from(["", "g1", "g2"]),
    st.sampled_from(["", "s", "<p>s</p>"]),
), max_size=8)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(_entries)
def test_d1_property_ingesting_the_same_feed_twice_stores_nothing_new(make_context, entries):
    # One migrated database for every example; each example uses a source of its own.
    ctx = _contexts.setdefault(id(make_context), make_context())
    source_id = f"s{next(_counter)}"
    feed = parse_feed(rss(*entries), url="https://p.example/feed", now=NOW)
    counts = [len(store(ctx, source_id, list(feed.items), NOW)) for _ in range(2)]
    assert counts[1] == 0
    assert len(items(ctx, source_id)) == counts[0]


def test_find_story_ignores_short_generic_titles() -> None:
    mine = KnownItem(id=2, key="k", link=None, title="Annual report", summary_text="")
    other = KnownItem(id=1, key="j", link=None, title="Annual report 2025", summary_text="")
    assert find_story(mine, [other]) is None


_LONG = "NHS workforce plan: retention of senior nursing staff 2026"
_story_items = st.builds(
    lambda n, link, doi, title, day, story: KnownItem(
        id=n, key=f"k{n}", link=link, title=title, summary_text="", story_id=story,
        published=datetime(2026, 11, day, tzinfo=UTC), doi=doi),
    st.integers(1, 10_000),
    st.sampled_from([None, "https://a.example/r/", "https://A.example/r?utm_source=x",
                     "https://b.example/other"]),
    st.sampled_from([None, "10.1000/xyz", "10.1000/abc"]),
    st.sampled_from(["Annual report", _LONG, _LONG + "s", "Press release: " + _LONG,
                     "A different document on hospital discharge delays this winter"]),
    st.integers(1, 28),
    st.sampled_from([None, 7]),
)


@settings(max_examples=200, deadline=None)
@given(_story_items, st.lists(_story_items, max_size=12))
def test_story_index_agrees_with_find_story(item, others) -> None:
    # The index is an optimisation of the scan: it must pick the very same story.
    assert StoryIndex(others).find(item) == find_story(item, others)


@st.composite
def _variants(draw: st.DrawFn, base: str) -> str:
    """``base`` with a few characters replaced, dropped or added: near, or just not."""
    title = list(base)
    for _ in range(draw(st.integers(0, 4))):
        at = draw(st.integers(0, len(title)))
        title[at:at + draw(st.integers(0, 1))] = draw(st.sampled_from(["", "a", "x", " "]))
    return "".join(title)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="abcde ", min_size=MIN_FUZZY_TITLE - 2, max_size=45).flatmap(
    lambda base: st.tuples(st.lists(_variants(base), min_size=1, max_size=4),
                           st.lists(_variants(base), max_size=6))))
def test_near_identical_means_a_difflib_ratio_of_at_least_0_92(titles) -> None:
    mine, others = titles
    # The scan skips pairs by cheap upper bounds and reuses one matcher per stored title:
    # neither may change which titles count as near-identical.
    def near(a: str, b: str) -> bool:
        a, b = title_key(a), title_key(b)
        return bool(a and b) and (a == b or (
            min(len(a), len(b)) >= MIN_FUZZY_TITLE
            and SequenceMatcher(None, a, b, autojunk=False).ratio() >= TITLE_SIMILARITY))

    stored = [KnownItem(id=n + 1, key=f"k{n}", link=None, title=title, summary_text="")
              for n, title in enumerate(others)]
    index = StoryIndex(stored)
    for title in mine:
        item = KnownItem(id=0, key="new", link=None, title=title, summary_text="")
        expected = next((other.id for other in stored if near(title, other.title)), None)
        assert index.find(item) == expected


# --- stories found through indexes, not a window of recent items -----------------------------


def parsed(title: str, link: str | None, *, published: datetime | None = None,
           summary: str = "") -> ParsedItem:
    return ParsedItem(key="link:" + link if link else "hash:" + title, title=title, link=link,
                      summary_html=summary, summary_text=summary, published=published)


def store(ctx, source_id: str, entries: list[ParsedItem], now: datetime,
          baseline: bool = False, titles: stories.RecentTitles | None = None) -> list[int]:
    """Store entries as a poll does (read, decide, write), without fetching: the new ids.
    ``titles``: the recent titles of the run this poll belongs to (default: a run of its
    own)."""
    with writing(ctx.engine) as conn:
        if titles is not None and not baseline:
            stories.lock(conn)
            titles.refresh(conn, now)
        if conn.scalar(select(Source.id).where(Source.id == source_id)) is None:
            conn.execute(insert(Source).values(
                id=source_id, name=source_id, publisher=source_id,
                url=f"https://{source_id}.example/", kind="feed", baseline_done=False,
                error_count=0, state="active", interval_minutes=60, enabled=True))
        intent = decide.store_intent(entries, stored_items.stored_entries(conn, source_id),
                                     stored_items.tombstones(conn, source_id), now=now,
                                     baseline=baseline)
        ids = stored_items.insert_new(conn, source_id, intent.new, now=now, baseline=baseline,
                                      words={})
        stored_items.write_edits(conn, intent.edits)
        new = [KnownItem(id=ids[item.key], key=item.key, link=item.link, title=item.title,
                         summary_text="", published=item.published_at or now, doi=item.doi)
               for item in intent.new if item.key in ids]
        if not baseline:
            stories.join(conn, source_id, new, now, titles)
        return [ids[entry.key] for entry in entries if entry.key in ids]  # in the given order


def story_of(ctx, item_id: int) -> int | None:
    with orm_session(ctx) as session:
        return session.get_one(Item, item_id).story_id


def test_a_same_link_story_behind_5000_more_recent_items_is_still_found(make_context):
    ctx = make_context()
    [report] = store(ctx, "cqc", [parsed("State of Care", "https://cqc.example/soc")],
                     NOW - timedelta(days=3))
    busy = [parsed(f"Bulletin {n}", f"https://busy.example/{n}")
            for n in range(stories.FUZZY_CANDIDATES + 1)]
    store(ctx, "busy", busy, NOW - timedelta(days=1), baseline=True)
    [copy] = store(ctx, "govuk", [parsed("Corporate report: a copy",
                                         "http://www.cqc.example/soc/?utm_source=gov")], NOW)
    assert story_of(ctx, copy) == report


def test_a_run_compares_the_most_recently_seen_titles_as_a_fresh_read_would(make_context,
                                                                           monkeypatch):
    # The run's recent titles are read once, then only the rows stored since, and keep the
    # FUZZY_CANDIDATES most recently seen: what a fresh read of the database would keep.
    monkeypatch.setattr(stories, "FUZZY_CANDIDATES", 2)
    ctx = make_context()
    run = stories.RecentTitles()
    hour = timedelta(hours=1)
    [first] = store(ctx, "a", [parsed(_LONG, None)], NOW - 5 * hour, titles=run)
    store(ctx, "b", [parsed("Winter discharge delays in acute hospitals, a survey", None)],
          NOW - 4 * hour, titles=run)
    [near] = store(ctx, "c", [parsed(_LONG + "s", None)], NOW - 3 * hour, titles=run)
    assert story_of(ctx, near) == first  # near-identical, among the two most recent
    store(ctx, "b", [parsed(f"Maternity and neonatal services review, part {n} of two", None)
                     for n in (1, 2)], NOW - 2 * hour, titles=run)
    later = _LONG.replace("2026", "2027")
    [alone] = store(ctx, "d", [parsed(later, None)], NOW - hour, titles=run)
    assert story_of(ctx, alone) is None  # both near-identical titles were let go
    [fresh] = store(ctx, "e", [parsed(later.replace("NHS", "NHS:"), None)], NOW)
    assert story_of(ctx, fresh) == alone  # and the title key, an index lookup, still joins


def test_an_edited_title_is_found_under_its_new_title(make_context):
    ctx = make_context()
    old = parsed("Draft guidance on discharge", "https://nhse.example/g")
    [item] = store(ctx, "nhse", [old], NOW - timedelta(days=2))
    store(ctx, "nhse", [parsed("Final guidance on discharge", "https://nhse.example/g")],
          NOW - timedelta(days=1))
    with orm_session(ctx) as session:
        stored = session.get_one(Item, item)
        assert (stored.title, stored.title_key) == (
            "Final guidance on discharge", title_digest("Final guidance on discharge"))
    [same, other] = store(ctx, "govuk", [
        parsed("Guidance: final guidance on discharge", "https://gov.example/g"),
        parsed("Draft guidance on discharge", "https://gov.example/d")], NOW)
    assert story_of(ctx, same) == item
    assert story_of(ctx, other) is None  # the old title is no longer the item's


_story_sources = itertools.count()
_story_contexts: dict[int, object] = {}
_stored_item = st.tuples(
    st.sampled_from(["a", "b"]),
    # Mostly no link and no DOI, so that titles and dates decide often enough.
    st.none() | st.none() | st.sampled_from([
        "https://p.example/r", "http://www.p.example/r/?utm_source=x", "https://p.example/o"]),
    st.none() | st.none() | st.sampled_from(["10.1000/xyz", "10.1000/abc"]),
    st.sampled_from(["Annual report", _LONG, _LONG + "s", "Press release: " + _LONG,
                     "A different document on hospital discharge delays this winter", "…"]),
    st.integers(0, 40 * 24),  # hours since first seen
    st.none() | st.integers(-20 * 24, 20 * 24),  # published, hours after first seen
)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(_stored_item, max_size=12), st.lists(_stored_item, min_size=1, max_size=3))
def test_indexed_story_lookup_agrees_with_find_story_over_every_recent_item(
        make_context, others, mine):
    # What the queries fetch must give the answer find_story gives over all recent items of
    # other sources, in the order stories use (most recently seen first).
    ctx = _story_contexts.setdefault(id(make_context), make_context())
    run = next(_story_sources)
    with orm_writing(ctx) as session:
        for name in ("a", "b", "m"):
            session.add(Source(id=f"{name}{run}", name=name, publisher=name, kind="feed",
                               url="https://p.example/", baseline_done=True, error_count=0,
                               state="active"))
        session.flush()

        def rows(entries, source):
            for n, (sid, link, doi, title, age, published) in enumerate(entries):
                seen = NOW - timedelta(hours=age)
                yield dict(source_id=f"{source or sid}{run}", key=f"k{n}", guid=None,
                           title=title, link=link, summary_html="", summary_text="",
                           categories=[], first_seen_at=seen, updated_at=None,
                           published_at=None if published is None
                           else seen + timedelta(hours=published),
                           baseline=False, story_id=None, doi=doi,
                           link_key=link_digest(link), title_key=title_digest(title))

        if others:
            session.execute(insert(Item), list(rows(others, None)))
        new = list(session.scalars(insert(Item).returning(Item.id),
                                   list(rows([(*m[:4], 0, m[5]) for m in mine], "m"))))
        since = NOW - stories.LOOKBACK
        columns = (Item.id, Item.key, Item.link, Item.title, Item.summary_text, Item.story_id,
                   Item.published_at, Item.first_seen_at, Item.doi)
        everything = [_known(row) for row in session.execute(
            select(*columns).where(Item.source_id != f"m{run}", Item.first_seen_at >= since)
            .order_by(Item.first_seen_at.desc(), Item.id.desc()))]
        mine_stored = [_known(row) for row in session.execute(
            select(*columns).where(Item.id.in_(new)))]
        expected = {item.id: find_story(item, everything) for item in mine_stored}
        stories.join(session.connection(), f"m{run}", mine_stored, NOW)
        found = {item_id: story for item_id, story in session.execute(
            select(Item.id, Item.story_id).where(Item.id.in_(new)))}
    assert found == expected


def _known(row) -> KnownItem:
    return KnownItem(id=row.id, key=row.key, link=row.link, title=row.title,
                     summary_text=row.summary_text, story_id=row.story_id,
                     published=row.published_at or row.first_seen_at, doi=row.doi)


# --- SQLite's insert path ---------------------------------------------------------------------


def test_the_sqlite_insert_stores_what_the_core_insert_stores(tmp_path, clock,
                                                              database_templates):
    # _insert_sqlite skips SQLAlchemy's statement handling for speed; it must write the very
    # same values, report only the rows it inserted, and skip keys already stored.
    url = database_templates.sqlite_copy(tmp_path / "insert.db")  # migrated
    ctx = create_context(load_settings(environ=settings_env(tmp_path, url), cwd=tmp_path),
                         clock=clock)
    feed = parse_feed(rss(entry(LEAD, link="https://pub.example/a", summary="<p>x</p>"),
                          entry("Café “quotes” — ünïcode", guid="g-1"),
                          entry("No date, no link", date=None)),
                      url="https://pub.example/feed", now=NOW)
    columns = [c.name for c in Item.__table__.c if c.name not in ("id", "source_id")]
    stored = {}
    for source_id, insert_rows in (("a", stored_items._insert_core),
                                   ("b", stored_items._insert_sqlite)):
        with orm_writing(ctx) as session:
            session.add(Source(id=source_id, name=source_id, publisher=source_id,
                               url="https://pub.example/", kind="feed", baseline_done=False,
                               error_count=0, state="active"))
            session.flush()
            keys = []
            for baseline in (True, False):
                entries = [replace(item, key=f"{item.key}|{baseline}",
                                   categories=("News", "Ünïcode") if n == 0 else item.categories)
                           for n, item in enumerate(feed.items)]
                new = decide.store_intent(entries, [], set(), now=NOW, baseline=baseline).new
                rows = stored_items._rows(source_id, new, NOW, baseline)
                ids = insert_rows(session.connection(), rows)
                assert sorted(ids) == sorted(item.key for item in new)
                keys += [item.key for item in new]
            again = insert_rows(session.connection(), [
                *rows[:1], stored_items._rows(source_id, [replace(new[0], key="new")], NOW,
                                              False)[0]])
            assert list(again) == ["new"]  # the stored key skipped, not reported
        with ctx.engine.connect() as connection:
            stored[source_id] = connection.exec_driver_sql(
                f"SELECT {', '.join(columns)} FROM items WHERE source_id = ? ORDER BY id",
                (source_id,)).all()
    assert len(stored["b"]) == 2 * len(feed.items) + 1
    assert stored["b"] == stored["a"]
    ctx.dispose()
