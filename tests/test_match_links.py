"""Driver links on a match (issue 14): a librarian confirms or removes each suggestion, adds
a link to any record found by searching; a removed link never comes back for the item, and
every change is in the match's history. Over a real server, spoken to with httpx."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import select

from awareness.model import DriverLink, NewMatch
from awareness.service.context import Context
from awareness.storage import matches
from awareness.storage.db import writing
from awareness.storage.models import Item, Match, MatchDriver
from tests.conftest import orm_session
from tests.test_web import WHEN, Site, assert_inert, parse, running_site, signed_in

FIXTURE_TIERS = {"site": "integration"}
PLAN = "interim-nhs-people-plan"


@pytest.fixture
def site(make_context: Callable[..., Context]) -> Iterator[Site]:
    with running_site(make_context) as running:
        yield running


def states(site: Site, match_id: int) -> dict[str, str]:
    from awareness.storage.models import DriverRecordRow
    with orm_session(site.ctx) as session:
        rows = session.execute(select(DriverRecordRow.slug, MatchDriver.state)
                               .join(MatchDriver, MatchDriver.driver_id == DriverRecordRow.id)
                               .where(MatchDriver.match_id == match_id)).all()
    return dict((slug, state) for slug, state in rows)


def suggesting(slug: str, topic: str = "leadership") -> NewMatch:
    return NewMatch(topic_slug=topic, status="pending", hits=(), score=2.0,
                    profile_version="v2",
                    links=(DriverLink(slug, "related", 0.9, "suggested again"),))


def test_confirm_and_remove_each_suggested_link(site: Site) -> None:
    good = site.ids["good"]
    with signed_in(site) as (client, token):
        page = client.get(f"/review/{good}").text
        assert "Interim NHS People Plan" in page and "Suggested" in page
        answer = client.post(f"/review/{good}/links/confirm", data={"csrf": token,
                                                                    "slug": PLAN})
        assert answer.status_code == 303
        assert states(site, good) == {PLAN: "confirmed"}
        client.post(f"/review/{good}/links/remove", data={"csrf": token, "slug": PLAN})
        assert states(site, good) == {PLAN: "removed"}
        queue = client.get("/review").text
        history = client.get(f"/review/{good}").text
    assert f"/drivers/{PLAN}" not in queue  # the queue shows no removed link
    rows = [" ".join(" ".join(td.itertext()).split()) for td in parse(history).iter("td")]
    assert "Link removed: Interim NHS People Plan" in rows and "alice" in rows


def test_a_removed_link_never_comes_back_for_the_item(site: Site) -> None:
    good = site.ids["good"]
    with signed_in(site) as (client, token):
        client.post(f"/review/{good}/links/remove", data={"csrf": token, "slug": PLAN})
    with writing(site.ctx.engine) as conn:
        matches.refresh(conn, good, suggesting(PLAN))  # a re-match of the topic
        with orm_session(site.ctx) as session:
            item_id = session.get_one(Match, good).item_id
        matches.insert_if_absent(conn, [(item_id, suggesting(PLAN, "digital"))], now=WHEN)
    assert states(site, good) == {PLAN: "removed"}
    with orm_session(site.ctx) as session:
        other = session.scalars(select(Match.id).where(Match.item_id == item_id,
                                                       Match.topic_slug == "digital")).one()
    assert states(site, other) == {}


def test_refresh_keeps_confirmed_links_and_redoes_suggestions(site: Site) -> None:
    hostile = site.ids["hostile"]
    with signed_in(site) as (client, token):
        client.post(f"/review/{hostile}/links/add", data={"csrf": token, "slug": PLAN})
    with writing(site.ctx.engine) as conn:
        matches.refresh(conn, hostile, suggesting(PLAN))
    assert states(site, hostile) == {PLAN: "added"}  # the evil record's suggestion is redone


def test_add_a_link_to_any_record_by_searching(site: Site) -> None:
    hostile = site.ids["hostile"]
    with signed_in(site) as (client, token):
        page = client.get(f"/review/{hostile}?q=people plan").text
        assert_inert(page)
        buttons = [b for b in parse(page).iter("button")
                   if "Link" in "".join(b.itertext()) and "People Plan" in "".join(b.itertext())]
        assert buttons
        client.post(f"/review/{hostile}/links/add", data={"csrf": token, "slug": PLAN})
        assert states(site, hostile)[PLAN] == "added"
        again = client.get(f"/review/{hostile}?q=people plan").text
        assert "No record not already linked matches" in again
        assert client.post(f"/review/{hostile}/links/add",
                           data={"csrf": token, "slug": "no-such"}).status_code == 404


def test_link_changes_need_the_token_and_a_librarian(site: Site) -> None:
    good = site.ids["good"]
    with signed_in(site) as (client, _):
        assert client.post(f"/review/{good}/links/remove",
                           data={"slug": PLAN}).status_code == 403
    with site.client() as anonymous:
        answer = anonymous.post(f"/review/{good}/links/remove", data={"slug": PLAN})
        assert answer.status_code in (303, 403)
        assert anonymous.get(f"/review/{good}").status_code == 303
    assert states(site, good) == {PLAN: "suggested"}


def test_removed_links_stay_out_of_digests_and_the_record_page(site: Site) -> None:
    good = site.ids["good"]
    with signed_in(site) as (client, token):
        client.post(f"/review/{good}/links/remove", data={"csrf": token, "slug": PLAN})
    with site.client() as anonymous:
        record = anonymous.get(f"/drivers/{PLAN}").text
    with orm_session(site.ctx) as session:
        title = session.get_one(Item, session.get_one(Match, good).item_id).title
    assert title not in record
    from awareness.storage import outbox
    from awareness.storage.db import reading
    with reading(site.ctx.engine) as conn:
        assert outbox.linked_records(conn, [good]) == {}
