"""Review at speed (issue 14): tab counts, paging, the topic filter, many decisions at once,
stories reviewed once, decisions shown with who and when, undo and withdraw until sent, and
one score on the review page and on /topics/try. Over a real server, spoken to with httpx."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from awareness.matching import ItemMatcher
from awareness.review import PAGE_SIZE, ReviewEntry, page_count, restored_status
from awareness.service.context import Context
from awareness.service.topics import try_query
from awareness.storage import items
from awareness.storage.db import reading
from awareness.storage.models import (
    DeliveryItem,
    Item,
    Match,
    OutboxMessage,
    Review,
    Source,
    Subscriber,
)
from awareness.subscriptions import Topic
from awareness.topics.query import parse_query
from tests.conftest import orm_session
from tests.test_web import WHEN, Site, assert_inert, parse, running_site, signed_in

FIXTURE_TIERS = {"site": "integration"}


@pytest.fixture
def site(make_context: Callable[..., Context]) -> Iterator[Site]:
    with running_site(make_context) as running:
        yield running


def add_matches(site: Site, count: int, *, topic: str = "leadership", status: str = "pending",
                story: bool = False, prefix: str = "Item") -> list[int]:
    """``count`` matches of new items, scores falling with the number; with ``story``, the
    items are one story, as polling stores it (the first item's id in the others'
    ``story_id``)."""
    with orm_session(site.ctx) as session, session.begin():
        items = [Item(source_id="nhs-england", key=f"{prefix}-{n}", title=f"{prefix} {n}",
                      link=f"https://www.england.nhs.uk/{prefix}/{n}", first_seen_at=WHEN)
                 for n in range(count)]
        session.add_all(items)
        session.flush()
        for item in items[1:] if story else ():
            item.story_id = items[0].id
        session.flush()
        rows = [Match(item_id=item.id, topic_slug=topic, status=status, hits=[],
                      score=100.0 - n / 1000, created_at=WHEN) for n, item in enumerate(items)]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def mark_sent(site: Site, match_id: int) -> None:
    """Put the match into a digest in the outbox: from then on it counts as sent."""
    with orm_session(site.ctx) as session, session.begin():
        match = session.get_one(Match, match_id)
        subscriber = session.scalars(select(Subscriber)).first()
        assert subscriber is not None
        digest = OutboxMessage(kind="digest", key=f"{subscriber.id}/{match_id}",
                               subscriber_id=subscriber.id, sender="a@trust.nhs.uk",
                               recipient=subscriber.email, status="sent",
                               message_id=f"<{match_id}@x>", message=b"", attempts=1,
                               created_at=WHEN)
        session.add(digest)
        session.flush()
        session.add(DeliveryItem(outbox_id=digest.id, subscriber_id=subscriber.id,
                                 item_id=match.item_id, match_id=match_id))


def shown_ids(page: str) -> list[int]:
    return [int(el.get("id", "")[6:]) for el in parse(page).iter("li")
            if el.get("id", "").startswith("match-")]


def tab_counts(page: str) -> dict[str, int]:
    tabs = next(el for el in parse(page).iter("nav") if el.get("aria-label") == "Match status")
    found = {}
    for link in tabs.iter("a"):
        text = " ".join("".join(link.itertext()).split())
        label, number = re.fullmatch(r"(.+) \((\d+)\)", text).groups()  # type: ignore[union-attr]
        found[label] = int(number)
    return found


def statuses(site: Site, ids: list[int]) -> list[str]:
    with orm_session(site.ctx) as session:
        return [session.get_one(Match, i).status for i in ids]


def test_tabs_count_and_pages_hold_fifty(site: Site) -> None:
    extra = add_matches(site, 2 * PAGE_SIZE + 10)
    with signed_in(site) as (client, _):
        first = client.get("/review").text
        assert tab_counts(first) == {"Waiting": 2 * PAGE_SIZE + 12, "Approved": 1,
                                     "Rejected": 1, "Sent without review": 1}
        assert shown_ids(first) == extra[:PAGE_SIZE]  # best first
        assert "Page 1 of 3" in first and "Next page" in first
        last = client.get("/review?page=3").text
        assert len(shown_ids(last)) == 12 and "Previous page" in last
        assert shown_ids(client.get("/review?page=99").text) == shown_ids(last)


def test_filter_by_topic_title(site: Site) -> None:
    digital = add_matches(site, 3, topic="digital", prefix="Digital")
    with signed_in(site) as (client, _):
        page = client.get("/review").text
        options = {el.text: el.get("value") for el in parse(page).iter("option")}
        assert options["Digital health and AI"] == "digital"
        filtered = client.get("/review?topic=digital").text
        assert shown_ids(filtered) == digital
        assert tab_counts(filtered)["Waiting"] == 3
        assert tab_counts(filtered)["Sent without review"] == 1


def test_approve_many_at_once_in_one_post(site: Site) -> None:
    ids = add_matches(site, 5)
    with signed_in(site) as (client, token):
        answer = client.post("/review/many", data={"csrf": token, "decision": "approve",
                                                   "ids": ids[:3], "back": "pending"})
        assert answer.status_code == 303
        assert statuses(site, ids) == ["approved"] * 3 + ["pending"] * 2
        assert "Approved: 3 matches." in client.get("/review").text
        refused = client.post("/review/many", data={"decision": "reject", "ids": ids[3:]})
        assert refused.status_code == 403
    assert statuses(site, ids[3:]) == ["pending"] * 2
    with orm_session(site.ctx) as session:
        assert sorted(session.scalars(select(Review.match_id)
                                      .where(Review.librarian == "alice"))) == ids[:3]


def test_many_at_once_is_all_or_nothing(site: Site) -> None:
    ids = add_matches(site, 2)
    mark_sent(site, site.ids["approved"])
    with signed_in(site) as (client, token):
        answer = client.post("/review/many", data={
            "csrf": token, "decision": "reject", "ids": [*ids, site.ids["approved"]]})
        assert answer.status_code == 400
    assert statuses(site, ids) == ["pending", "pending"]


def test_a_story_is_reviewed_once_with_its_siblings(site: Site) -> None:
    lead, *others = add_matches(site, 3, story=True, prefix="Same report")
    with signed_in(site) as (client, token):
        page = client.get("/review").text
        shown = shown_ids(page)
        assert lead in shown and not set(others) & set(shown)
        assert "The same document from other publishers" in page
        assert tab_counts(page)["Waiting"] == 3  # good, hostile and the story
        client.post(f"/review/{lead}/approve", data={"csrf": token, "note": "one for all"})
    assert statuses(site, [lead, *others]) == ["approved"] * 3
    with orm_session(site.ctx) as session:
        assert session.scalars(select(Review.note).where(Review.match_id == others[1])).all() \
            == ["one for all"]


def test_decisions_show_who_when_and_the_note(site: Site) -> None:
    with signed_in(site) as (client, token):
        client.post(f"/review/{site.ids['good']}/approve",
                    data={"csrf": token, "note": "Checked with Sam."})
        page = client.get("/review?status=approved").text
    decided = " ".join(" ".join("".join(el.itertext()).split()) for el in parse(page).iter("p")
                       if el.get("class") == "decided")
    assert "Approved by alice on" in decided and "Checked with Sam." in decided


def test_undo_until_sent(site: Site) -> None:
    match_id = site.ids["approved"]
    with signed_in(site) as (client, token):
        assert "Undo the decision" in client.get("/review?status=approved").text
        assert client.post(f"/review/{match_id}/undo", data={"csrf": token}).status_code == 303
        assert site.status_of("approved") == "pending"
        client.post(f"/review/{match_id}/approve", data={"csrf": token})
        mark_sent(site, match_id)
        page = client.get("/review?status=approved").text
        assert "Sent in a digest" in page and "Undo the decision" not in page
        refused = client.post(f"/review/{match_id}/undo", data={"csrf": token})
        assert refused.status_code == 400 and "already been sent" in refused.text
        assert client.post(f"/review/{match_id}/undo", data={}).status_code == 403
    assert site.status_of("approved") == "approved"


def test_withdraw_a_match_sent_without_review_before_its_digest(site: Site) -> None:
    with signed_in(site) as (client, token):
        page = client.get("/review?status=auto").text
        assert "Withdraw before it is sent" in page and ">Auto<" not in page
        client.post(f"/review/{site.ids['auto']}/withdraw", data={"csrf": token})
        assert site.status_of("auto") == "rejected"
        page = client.get("/review?status=rejected").text
        assert "Withdrawn by alice" in " ".join(parse(page).itertext()).replace("  ", " ")
        client.post(f"/review/{site.ids['auto']}/undo", data={"csrf": token})
        assert site.status_of("auto") == "auto"
        mark_sent(site, site.ids["auto"])
        refused = client.post(f"/review/{site.ids['auto']}/withdraw", data={"csrf": token})
        assert refused.status_code == 400
    assert site.status_of("auto") == "auto"


def test_draft_button_is_secondary_and_apart_from_approve(site: Site) -> None:
    with signed_in(site) as (client, _):
        tree = parse(client.get("/review").text)
    drafts = [b for b in tree.iter("button") if (b.text or "").strip() == "Draft a driver record"]
    assert drafts and all("secondary" in (b.get("class") or "") for b in drafts)
    approves = [b for b in tree.iter("button") if (b.text or "").strip() == "Approve"]
    assert all("secondary" not in (b.get("class") or "") for b in approves)


def test_match_history_page_is_for_librarians_only(site: Site) -> None:
    match_id = site.ids["good"]
    with signed_in(site) as (client, token):
        client.post(f"/review/{match_id}/reject", data={"csrf": token, "note": "Off topic."})
        client.post(f"/review/{match_id}/undo", data={"csrf": token})
        page = client.get(f"/review/{match_id}").text
    assert_inert(page)
    rows = [[" ".join("".join(td.itertext()).split()) for td in tr.iter("td")]
            for tr in parse(page).iter("tr")][1:]
    assert [row[1:] for row in rows] == [["alice", "Rejected", "Off topic."],
                                         ["alice", "Undone", ""]]
    with site.client() as anonymous:
        for path in (f"/review/{match_id}", "/review", "/review?status=rejected"):
            answer = anonymous.get(path)
            assert answer.status_code == 303 and "Off topic." not in answer.text
            assert "alice" not in answer.text


def test_the_review_page_and_try_a_query_show_one_score(
        make_context: Callable[..., Context]) -> None:
    """Issue 14: the review page showed 8.3 and /topics/try 27.97 for one item, because
    /topics/try weighed words by their rarity in the archive it searched and polling did
    not. Now both score with ``Query.score``: the stored score is the one tried."""
    ctx = make_context()
    with orm_session(ctx) as session, session.begin():
        session.add(Source(id="s", name="S", publisher="P", url="https://x.example/f",
                           kind="feed"))
        session.flush()
        for n, title in enumerate(["Compassionate leadership for boards",
                                   "Leadership news", "Other news"]):
            session.add(Item(source_id="s", key=str(n), title=title, first_seen_at=ctx.now(),
                             published_at=ctx.now() - timedelta(days=n),
                             summary_text="leadership in the NHS" if n == 0 else ""))
    query = parse_query("leadership OR compassionate", "none")
    topic = Topic(slug="t", name="T", description="", query=query, review="required")
    matcher = ItemMatcher([topic], [])
    now = ctx.now()
    with reading(ctx.engine) as conn:
        archived = list(items.since(conn, now - timedelta(days=7)))
    polled = {a.candidate.text.title: matcher.match(a.candidate, now)[0].score
              for a in archived if matcher.match(a.candidate, now)}
    tried = {m.title: m.score for m in try_query(ctx, query, timedelta(days=7)).matches}
    assert tried == polled and len(tried) == 2
    assert PAGE_SIZE == 50


def test_decide_and_undo_from_the_match_page(site: Site) -> None:
    good = site.ids["good"]
    with signed_in(site) as (client, token):
        page = client.get(f"/review/{good}").text
        assert {"Approve", "Reject"} <= {(b.text or "").strip() for b in parse(page).iter("button")}
        answer = client.post(f"/review/{good}/approve",
                             data={"csrf": token, "return": f"/review/{good}"})
        assert answer.headers["location"] == f"/review/{good}"
        assert "Undo the decision" in client.get(f"/review/{good}").text
        answer = client.post(f"/review/{good}/undo",
                             data={"csrf": token, "return": "https://evil.example/"})
        assert answer.headers["location"] == "/review"  # only our own match pages
    assert site.status_of("good") == "pending"


def entry(decision: str) -> ReviewEntry:
    return ReviewEntry(1, "alice", decision, "", WHEN)


@pytest.mark.parametrize(("decisions", "back"), [
    (["approved"], "pending"), (["rejected", "undone", "approved"], "pending"),
    (["withdrawn"], "auto"), (["withdrawn", "undone", "withdrawn"], "auto"),
    (["approved", "undone"], "pending")])
def test_an_undo_restores_what_the_decision_replaced(decisions: list[str], back: str) -> None:
    assert restored_status(entry(d) for d in decisions) == back


@pytest.mark.parametrize(("total", "pages"), [(0, 1), (1, 1), (50, 1), (51, 2), (150, 3)])
def test_pages_of_fifty(total: int, pages: int) -> None:
    assert page_count(total) == pages
