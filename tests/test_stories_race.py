"""The same document stored from several publishers at the same moment is one story.

Issue 11: on PostgreSQL with concurrent polling, the same report from two publishers (GOV.UK's
CQC feed and CQC's own site) split into two stories in 4 of 9 runs, and one digest sent it
twice. Each round here stores one document from several sources in racing polls, by the same
link and by near-identical titles (which have no key to lock on), and checks one story.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select

from awareness.service import polling
from awareness.storage.models import Item
from tests.conftest import Response, orm_session

PUBLISHERS = ("CQC", "GOV.UK", "NHS England", "The King's Fund")
SUBJECTS = ("maternity and neonatal", "mental health inpatient", "urgent and emergency care",
            "children's community health", "cancer diagnosis and treatment",
            "learning disability and autism")
ROUNDS = len(SUBJECTS)


def near_identical(round_: int) -> list[str]:
    """Four titles of one report as publishers write them: pairwise near-identical (difflib
    ratio of their keys at least 0.95), no two with the same key, so only the fuzzy
    comparison can join them. Rounds differ in their subject, so they never join."""
    base = f"Independent review of {SUBJECTS[round_]} services, {2020 + round_} findings"
    return [base, base.replace("review of", "review into"), base.replace("services", "service"),
            base.replace("findings", "finding")]


def rss(*items: tuple[str, str]) -> bytes:
    body = "".join(f"<item><title>{title}</title><link>{link}</link>"
                   "<pubDate>Mon, 23 Nov 2026 00:01:00 +0000</pubDate>"
                   "<description>A report.</description></item>" for title, link in items)
    return f'<?xml version="1.0"?><rss version="2.0"><channel>{body}</channel></rss>'.encode()


@pytest.fixture
def site(make_context, feed_server, tmp_path):
    subs = tmp_path / "subs"
    (subs / "topics").mkdir(parents=True)
    (subs / "sources.toml").write_text("".join(
        f'[[source]]\nid = "s{n}"\nname = "s{n}"\npublisher = "{publisher}"\nkind = "feed"\n'
        f'url = "{feed_server.url(f"/s{n}")}"\n\n' for n, publisher in enumerate(PUBLISHERS)))
    ctx = make_context(AWARENESS_PATHS_SUBSCRIPTIONS=str(subs))
    for n in range(len(PUBLISHERS)):
        feed_server.routes[f"/s{n}"] = Response(rss(("Old news", f"https://s{n}.example/old")))
    polling.poll(ctx)  # the baselines
    return ctx, feed_server


def race(ctx, feeds, items: list[tuple[str, str]]) -> set[int]:
    """Serve item n on source n, poll all sources at once; the story ids of the new items."""
    for n, item in enumerate(items):
        feeds.routes[f"/s{n}"] = Response(rss(item, ("Old news", f"https://s{n}.example/old")))
    start = threading.Barrier(len(items))
    errors: list[BaseException] = []

    def run(n: int) -> None:
        start.wait()
        try:
            [outcome] = polling.poll(ctx, [f"s{n}"])
            assert outcome.new_items == 1, outcome
        except BaseException as exc:  # collected: an assertion in a thread would be lost
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(items))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    links = [link for _, link in items]
    with orm_session(ctx) as session:
        rows = session.execute(select(Item.id, Item.story_id).where(Item.link.in_(links)))
        return {story or item_id for item_id, story in rows}


def test_racing_polls_of_one_document_by_link_make_one_story(site):
    ctx, feeds = site
    for round_ in range(ROUNDS):
        # The same address, written the ways publishers write it.
        link = f"https://www.cqc.example/publications/state-of-care-{round_}"
        items = [(f"Publication {n}: state of care {round_}", variant)
                 for n, variant in enumerate((link, link + "/", link + "?utm_source=govuk",
                                              link.replace("https://www.", "http://")))]
        assert len(race(ctx, feeds, items)) == 1, f"round {round_} split the story"


def test_racing_polls_of_one_document_by_near_identical_title_make_one_story(site):
    ctx, feeds = site
    for round_ in range(ROUNDS):
        items = [(title, f"https://s{n}.example/report-{round_}")
                 for n, title in enumerate(near_identical(round_))]
        assert len(race(ctx, feeds, items)) == 1, f"round {round_} split the story"


def test_one_run_of_many_sources_shares_its_recent_titles_and_makes_one_story(site):
    # The sources of one poll run share the recent titles they compare with (read once, then
    # only what was stored since); items stored earlier in the same run must be among them.
    ctx, feeds = site
    for round_ in range(ROUNDS):
        for n, variant in enumerate(near_identical(round_)):
            feeds.routes[f"/s{n}"] = Response(rss((variant, f"https://s{n}.example/r{round_}"),
                                                  ("Old news", f"https://s{n}.example/old")))
        outcomes = polling.poll(ctx, [f"s{n}" for n in range(len(PUBLISHERS))])
        assert [o.new_items for o in outcomes] == [1] * len(PUBLISHERS)
        with orm_session(ctx) as session:
            rows = session.execute(select(Item.id, Item.story_id).where(
                Item.link.like(f"%/r{round_}")))
            assert len({story or item_id for item_id, story in rows}) == 1, round_


def test_the_titles_are_near_identical_but_never_equal_keys():
    # Guards the tests above: they must exercise the fuzzy comparison, not the title index.
    from difflib import SequenceMatcher
    from itertools import combinations

    from awareness.sources.identity import TITLE_SIMILARITY, title_key

    for round_ in range(ROUNDS):
        keys = [title_key(title) for title in near_identical(round_)]
        assert len(set(keys)) == len(keys)
        assert all(SequenceMatcher(None, a, b, autojunk=False).ratio() >= TITLE_SIMILARITY
                   for a, b in combinations(keys, 2))
    firsts = [title_key(near_identical(round_)[0]) for round_ in range(ROUNDS)]
    assert all(SequenceMatcher(None, a, b, autojunk=False).ratio() < TITLE_SIMILARITY
               for a, b in combinations(firsts, 2))
