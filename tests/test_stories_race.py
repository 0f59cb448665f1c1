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
from tests.conftest import Response

PUBLISHERS = ("CQC", "GOV.UK", "NHS England", "The King's Fund")
ROUNDS = 6


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
    with ctx.sessions() as session:
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
        title = f"The state of health care and adult social care in England 2025/{round_:02d}"
        items = [(variant, f"https://s{n}.example/report-{round_}") for n, variant in enumerate(
            (title, title + ".", "Report: " + title, title.replace("England", "England:")))]
        assert len(race(ctx, feeds, items)) == 1, f"round {round_} split the story"
