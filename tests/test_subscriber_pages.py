"""The librarians' subscriber pages (issue 12, item 6) over a real uvicorn server on
127.0.0.1: the list with its statuses, search, filters, paging and JSON; one subscriber and
its actions; adding someone on their behalf with the welcome mail; and that none of it
reaches anyone who is not signed in. Also the list's rules in SQL against ``roster``'s.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import timedelta
from email import message_from_bytes, policy
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from sqlalchemy import select

from awareness.roster import STATUSES, status_of
from awareness.service import roster, subscribing
from awareness.service.context import Context
from awareness.signup import Choice
from awareness.storage import subscribers
from awareness.storage.db import reading, writing
from awareness.storage.models import OutboxMessage
from awareness.web import subscribers as subscriber_pages
from tests.conftest import ROOT, Clock, orm_session
from tests.test_subscriber_history import no_bulletin_for_subscribers
from tests.test_web import (
    EMAIL,
    WHEN,
    Site,
    assert_inert,
    csrf_of,
    goes_to_login,
    parse,
    running_site,
    signed_in,
)
from tests.test_workbench_pages import text_of

FIXTURE_TIERS = {"site": "integration", "people": "integration"}

PENDING = "pending.person@trust.nhs.uk"
PAUSED = "on.leave@trust.nhs.uk"
BOUNCED = "bounces@trust.nhs.uk"
LEFT = "left@trust.nhs.uk"
ALONE = "bulletins.alone@trust.nhs.uk"


@pytest.fixture
def site(make_context: Callable[..., Context]) -> Iterator[Site]:
    with running_site(make_context) as running:
        yield running


@pytest.fixture
def people(site: Site) -> Site:
    """The seeded active subscriber (EMAIL, sent a digest), and one person in every other
    status."""
    ctx = site.ctx
    subscribing.request_signup(ctx, email=PENDING, choices=[Choice("digital", "daily")],
                               bulletins=False, client="127.0.0.1")
    for address in (PAUSED, BOUNCED, LEFT):
        roster.add(ctx, address, [Choice("digital", "weekly"), Choice("leadership", "daily")],
                   librarian="alice")
    with writing(ctx.engine) as connection:
        paused = subscribers.by_email(connection, PAUSED)
        bounced = subscribers.by_email(connection, BOUNCED)
        left = subscribers.by_email(connection, LEFT)
        assert paused and bounced and left
        subscribers.set_preferences(connection, paused.id,
                                    paused_until=ctx.now() + timedelta(days=10), bulletins=False)
        subscribers.suspend(connection, bounced.id, "550 5.1.1 mailbox unknown", ctx.now())
        subscribers.unsubscribe(connection, left.id, ctx.now())
    with orm_session(ctx) as session, session.begin():
        reader = subscriber_id(site, EMAIL)
        session.add(OutboxMessage(kind="digest", key=f"{reader}/weekly:2026-W47",
                                  subscriber_id=reader, sender="library@trust.nhs.uk",
                                  recipient=EMAIL, message_id="<d1@x>", message=b"x",
                                  status="sent", attempts=1, created_at=WHEN, sent_at=WHEN))
    return site


def subscriber_id(site: Site, email: str) -> int:
    with reading(site.ctx.engine) as connection:
        found = subscribers.by_email(connection, email)
    assert found is not None
    return found.id


def status(site: Site, email: str) -> str | None:
    with reading(site.ctx.engine) as connection:
        found = subscribers.by_email(connection, email)
    return status_of(found, site.ctx.now()) if found else None


def rows(page: str) -> dict[str, dict[str, str]]:
    """The list's rows by address: each cell's text by its label."""
    found = {}
    for row in parse(page).iter("tr"):
        address = row.find("th")
        if address is None or address.get("scope") != "row":
            continue
        cells = {td.get("data-label"): " ".join("".join(td.itertext()).split())
                 for td in row.iter("td")}
        found[" ".join("".join(address.itertext()).split())] = cells
    return found


@pytest.fixture
def librarian(site: Site) -> Iterator[tuple[httpx.Client, str]]:
    with signed_in(site) as signed:
        yield signed


@pytest.mark.integration
@pytest.mark.parametrize("change", ["audience", "file removed"])
def test_someone_with_the_bulletins_alone_is_shown_to_get_nothing_once_none_goes_to_them(
        make_context: Callable[..., Context], tmp_path: Path, change: str) -> None:
    # The bulletin file's audience changed (or the file went): they stayed "Active", "none:
    # bulletins only", and nothing a librarian looks at said that nothing went to them.
    subs = tmp_path / "subs"
    shutil.copytree(ROOT / "subscriptions", subs)
    nothing = ("Active Nothing is sent: they chose the bulletins alone, and no bulletin goes "
               "to subscribers now.")
    with (running_site(make_context, AWARENESS_PATHS_SUBSCRIPTIONS=str(subs)) as site,
          signed_in(site) as (client, _)):
        roster.add(site.ctx, ALONE, [], bulletins=True, librarian="alice")
        assert rows(client.get("/subscribers").text)[ALONE]["Status"] == "Active"
        if change == "audience":
            no_bulletin_for_subscribers(subs)
        else:
            (subs / "bulletins" / "weekly.toml").unlink()
        listed = rows(client.get("/subscribers").text)
        assert (listed[ALONE]["Status"], listed[EMAIL]["Status"]) == (nothing, "Active")
        assert nothing in text_of(client.get(f"/subscribers/{subscriber_id(site, ALONE)}").text)
        data = client.get("/subscribers?format=json").json()["subscribers"]
        assert {s["email"]: s["gets_nothing"] for s in data} == {EMAIL: False, ALONE: True}


# --- librarians only --------------------------------------------------------------------------

def test_every_page_sends_visitors_to_login_and_shows_no_address(people: Site) -> None:
    reader = subscriber_id(people, EMAIL)
    before = people.snapshot()
    gets = ["/subscribers", "/subscribers?format=json", f"/subscribers?q={EMAIL}",
            "/subscribers/new", f"/subscribers/{reader}", f"/subscribers/{reader}/erase",
            f"/subscribers/{reader}/export.json"]
    posts = ["/subscribers/new", *(f"/subscribers/{reader}/{action}"
                                   for action in ("suspend", "resume", "remove", "undo-remove",
                                                  "erase"))]
    every = {(method, route.path.replace("{subscriber_id:int}", str(reader)))
             for route in subscriber_pages.routes() for method in route.methods or ()
             if method != "HEAD"}
    assert every == {("GET", p.partition("?")[0]) for p in gets} | {("POST", p) for p in posts}
    with people.client() as client:
        for path in gets:
            response = client.get(path)
            assert goes_to_login(response), path
            assert "@" not in response.text and "trust.nhs.uk" not in response.text, path
            # Only what the visitor asked for comes back, as where to go after signing in.
            assert response.headers["location"] == f"/login?next={quote(path, safe='')}"
        for path in posts:
            response = client.post(path, data={"csrf": "x", "reason": "r", "email": LEFT})
            assert goes_to_login(response), path
            assert "@" not in response.text, path
    assert people.snapshot() == before
    assert status(people, LEFT) == "unsubscribed"


def test_every_post_needs_the_token(people: Site,
                                    librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    reader = subscriber_id(people, EMAIL)
    for path in ("/subscribers/new", *(f"/subscribers/{reader}/{action}"
                                       for action in ("suspend", "resume", "remove",
                                                      "undo-remove", "erase"))):
        response = client.post(path, data={"csrf": "forged", "reason": "r",
                                           "email": "x@trust.nhs.uk"})
        assert response.status_code == 403, path
    assert status(people, EMAIL) == "active"


# --- the list ---------------------------------------------------------------------------------

def test_the_list_shows_every_status_with_topics_dates_and_counts(
        people: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    page = client.get("/subscribers")
    assert page.status_code == 200
    shown = rows(page.text)
    assert list(shown) == [PENDING, BOUNCED, EMAIL, LEFT, PAUSED]  # pending first, by address
    assert shown[PENDING] == {"Status": "Pending", "Topics": "Digital health and AI (daily)",
                              "Confirmed": "–", "Last digest": "–"}
    assert shown[EMAIL]["Status"] == "Active"
    assert shown[EMAIL]["Topics"] == "Leadership (weekly)"  # the title, not the slug
    assert shown[EMAIL]["Confirmed"] == "20 Nov 2026"  # a table column: short
    assert shown[EMAIL]["Last digest"] == "20 Nov 2026"
    assert shown[PAUSED]["Status"] == "Paused until 3 December 2026"
    assert shown[BOUNCED]["Status"] == "Suspended 550 5.1.1 mailbox unknown"
    assert shown[LEFT]["Status"] == "Unsubscribed"
    assert shown[LEFT]["Topics"] == "Digital health and AI (weekly) Leadership (daily)"
    tabs = {" ".join("".join(a.itertext()).split()) for a in parse(page.text).iter("a")}
    assert {"All 5", "Pending 1", "Active 1", "Paused 1", "Suspended 1",
            "Unsubscribed 1"} <= tabs
    assert f'href="/subscribers/{subscriber_id(people, EMAIL)}"' in page.text


@pytest.mark.parametrize(("query", "expected"), [
    ("status=suspended", [BOUNCED]),
    ("status=pending", [PENDING]),
    ("status=paused", [PAUSED]),
    ("q=BLOGGS", [EMAIL]),
    ("q=%25", []),  # a LIKE wildcard is searched for, not obeyed
    ("topic=digital", [PENDING, BOUNCED, LEFT, PAUSED]),
    ("topic=leadership&status=unsubscribed", [LEFT]),
    ("q=trust&topic=leadership&status=active", [EMAIL]),
])
def test_search_and_filters(people: Site, librarian: tuple[httpx.Client, str], query: str,
                            expected: list[str]) -> None:
    client, _ = librarian
    page = client.get(f"/subscribers?{query}")
    assert page.status_code == 200
    assert list(rows(page.text)) == expected
    data = client.get(f"/subscribers?{query}&format=json").json()
    assert [s["email"] for s in data["subscribers"]] == expected
    assert data["total"] == len(expected)


def test_json_has_every_column(people: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    response = client.get("/subscribers?format=json&status=paused")
    assert response.headers["content-type"] == "application/json"
    data = response.json()
    assert data["counts"] == {name: 1 for name in STATUSES}
    [paused] = data["subscribers"]
    assert paused["status"] == "paused" and paused["paused_until"].startswith("2026-12-03")
    assert paused["subscriptions"] == [
        {"topic": "digital", "title": "Digital health and AI", "frequency": "weekly"},
        {"topic": "leadership", "title": "Leadership", "frequency": "daily"}]
    assert paused["confirmed_at"].startswith("2026-11-23") and paused["last_digest"] is None


@pytest.mark.parametrize("query", ["status=gone", "topic=nope", "page=0", "page=x"])
def test_a_bad_filter_is_a_400_naming_the_choices(people: Site,
                                                  librarian: tuple[httpx.Client, str],
                                                  query: str) -> None:
    client, _ = librarian
    response = client.get(f"/subscribers?{query}")
    assert response.status_code == 400
    if query.startswith("status"):
        assert "pending, active, paused, suspended, unsubscribed" in response.text
    if query.startswith("topic"):
        assert "known topics: " in response.text and "leadership" in response.text


def test_fifty_a_page_pending_first(site: Site, librarian: tuple[httpx.Client, str]) -> None:
    ctx = site.ctx
    subscribing.request_signup(ctx, email="aaa.pending@trust.nhs.uk",
                               choices=[Choice("digital", "daily")], bulletins=False,
                               client="127.0.0.1")
    with writing(ctx.engine) as connection:
        for n in range(109):
            subscribers.subscribe(connection, email=f"reader{n:03}@trust.nhs.uk",
                                  choices=[("leadership", "weekly")], token=f"token-{n:03}",
                                  now=ctx.now())
    client, _ = librarian  # 1 pending + 109 + the seeded one = 111: pages of 50, 50, 11
    first = client.get("/subscribers").text
    assert list(rows(first))[:2] == ["aaa.pending@trust.nhs.uk", EMAIL]
    assert len(rows(first)) == 50 and "page 1 of 3" in first
    second = list(rows(client.get("/subscribers?page=2").text))
    assert len(second) == 50 and second[0] == "reader048@trust.nhs.uk"
    third = client.get("/subscribers?page=3").text
    assert list(rows(third)) == [f"reader{n:03}@trust.nhs.uk" for n in range(98, 109)]
    assert 'rel="prev"' in third and 'rel="next"' not in third
    assert len(rows(client.get("/subscribers?page=9").text)) == 0
    only = client.get("/subscribers?status=active&page=3").text
    assert list(rows(only)) == [f"reader{n:03}@trust.nhs.uk" for n in range(99, 109)]
    assert 'href="/subscribers?status=active&amp;page=2" rel="prev"' in only  # keeps the filter


# --- one subscriber ---------------------------------------------------------------------------

def test_suspend_resume_and_unsubscribe(people: Site,
                                        librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    reader = subscriber_id(people, EMAIL)
    page = client.get(f"/subscribers/{reader}")
    assert page.status_code == 200 and "Leadership" in page.text
    token = csrf_of(page.text)
    refused = client.post(f"/subscribers/{reader}/suspend", data={"csrf": token,
                                                                  "reason": "  "})
    assert refused.status_code == 400 and "Say why" in refused.text
    assert status(people, EMAIL) == "active"
    done = client.post(f"/subscribers/{reader}/suspend",
                       data={"csrf": token, "reason": "Left the trust in October"})
    assert done.status_code == 303 and done.headers["location"] == f"/subscribers/{reader}"
    page = client.get(f"/subscribers/{reader}").text
    assert f"Suspended {EMAIL}." in page
    assert "Left the trust in October" in page and "(suspended by" not in page
    assert "Suspended Left the trust in October alice" in text_of(page)  # its history
    assert status(people, EMAIL) == "suspended"
    assert client.post(f"/subscribers/{reader}/resume", data={"csrf": token}).status_code == 303
    assert status(people, EMAIL) == "active"
    with reading(people.ctx.engine) as connection:  # their topics were kept
        kept = subscribers.by_email(connection, EMAIL)
    assert kept is not None and kept.subscriptions == (("leadership", "weekly"),)
    assert client.post(f"/subscribers/{reader}/remove", data={"csrf": token}).status_code == 303
    assert status(people, EMAIL) == "unsubscribed"
    again = client.post(f"/subscribers/{reader}/resume", data={"csrf": token})
    # A librarian unsubscribed them: the refusal once said they had done it themselves.
    assert again.status_code == 400 and "They are unsubscribed. Add them again" in again.text
    assert status(people, EMAIL) == "unsubscribed"


def queued_mail(site: Site) -> int:
    with orm_session(site.ctx) as session:
        return session.query(OutboxMessage).filter(OutboxMessage.kind != "digest").count()


def test_a_librarian_s_unsubscribe_is_undone_within_a_day(
        people: Site, clock: Clock, librarian: tuple[httpx.Client, str]) -> None:
    # One click on Unsubscribe, beside Suspend, left a page with no way back.
    client, token = librarian
    reader = subscriber_id(people, EMAIL)
    assert "Undo the unsubscribe" not in client.get(f"/subscribers/{reader}").text
    client.post(f"/subscribers/{reader}/remove", data={"csrf": token})
    page = client.get(f"/subscribers/{reader}").text
    assert "By mistake? Undo it below." in page
    assert "Until Tue 24 Nov 2026, 09:00 they can have back what they got" in text_of(page)
    mails = queued_mail(people)
    clock.advance(hours=23, minutes=59)
    done = client.post(f"/subscribers/{reader}/undo-remove", data={"csrf": token})
    assert done.status_code == 303
    assert "gets what they got before again; no mail went to them" in client.get(
        done.headers["location"]).text
    assert status(people, EMAIL) == "active" and queued_mail(people) == mails
    with reading(people.ctx.engine) as connection:
        kept = subscribers.by_email(connection, EMAIL)
    assert kept is not None and kept.subscriptions == (("leadership", "weekly"),)
    assert history_rows(client.get(f"/subscribers/{reader}").text)[0] == {
        "When": "Tue 24 Nov 2026, 08:59",
        "Change": "Subscribed again topics: leadership; weekly (unsubscribe undone)", "By": "alice"}
    # Done, it is done: undoing again changes nothing.
    again = client.post(f"/subscribers/{reader}/undo-remove", data={"csrf": token})
    assert again.status_code == 400 and "They are active" in again.text


def test_an_unsubscribe_stays_after_a_day_and_when_it_was_their_own(
        people: Site, clock: Clock, librarian: tuple[httpx.Client, str]) -> None:
    client, token = librarian
    reader = subscriber_id(people, EMAIL)
    client.post(f"/subscribers/{reader}/remove", data={"csrf": token})
    clock.advance(days=1)
    page = client.get(f"/subscribers/{reader}").text
    assert "Undo the unsubscribe" not in page and "add them again" in page
    late = client.post(f"/subscribers/{reader}/undo-remove", data={"csrf": token})
    assert late.status_code == 400 and "it was more than a day ago" in late.text
    assert status(people, EMAIL) == "unsubscribed"
    # Their own choice is theirs to undo, at once too.
    paused = subscriber_id(people, PAUSED)
    with reading(people.ctx.engine) as connection:
        found = subscribers.by_email(connection, PAUSED)
    assert found is not None
    assert subscribing.unsubscribe(people.ctx, found.token)
    assert "Undo the unsubscribe" not in client.get(f"/subscribers/{paused}").text
    own = client.post(f"/subscribers/{paused}/undo-remove", data={"csrf": token})
    assert own.status_code == 400 and "only a librarian's unsubscribe" in text_of(own.text)
    assert status(people, PAUSED) == "unsubscribed"


def test_a_hostile_reason_is_text(people: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, token = librarian
    reader = subscriber_id(people, EMAIL)
    hostile = '<img src=x onerror=alert(1)>"><script>alert(2)</script>'
    client.post(f"/subscribers/{reader}/suspend", data={"csrf": token, "reason": hostile})
    for page in (client.get(f"/subscribers/{reader}").text,
                 client.get("/subscribers?status=suspended").text):
        tree = assert_inert(page)
        assert hostile in " ".join("".join(tree.itertext()).split())


def test_resume_ends_a_pause(people: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, token = librarian
    paused = subscriber_id(people, PAUSED)
    assert client.post(f"/subscribers/{paused}/resume", data={"csrf": token}).status_code == 303
    assert status(people, PAUSED) == "active"
    with reading(people.ctx.engine) as connection:
        found = subscribers.by_email(connection, PAUSED)
    assert found is not None and found.subscriptions == (("digital", "weekly"),
                                                         ("leadership", "daily"))


def test_export_downloads_and_changes_nothing(people: Site,
                                              librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    reader = subscriber_id(people, EMAIL)
    before = people.snapshot()
    response = client.get(f"/subscribers/{reader}/export.json")
    assert response.status_code == 200
    assert response.headers["content-disposition"] == (
        f'attachment; filename="subscriber-{reader}.json"')
    data = response.json()
    assert data["email"] == EMAIL and [d["kind"] for d in data["deliveries"]] == ["digest"]
    assert people.snapshot() == before


def test_their_messages_are_named_in_words(people: Site,
                                          librarian: tuple[httpx.Client, str]) -> None:
    # Their page said "Digest" and "Welcome"; which week's digest was it?
    client, _ = librarian
    reader, paused = subscriber_id(people, EMAIL), subscriber_id(people, PAUSED)
    messages = {person: [" ".join("".join(label.itertext()).split()) for label in parse(
        client.get(f"/subscribers/{person}").text).iter("span")
        if label.get("class") == "kind-label"] for person in (reader, paused)}
    assert messages == {reader: ["Weekly digest, week beginning 16 Nov 2026"],
                        paused: ["Welcome mail"]}
    deliveries = client.get(f"/subscribers/{reader}/export.json").json()["deliveries"]
    assert [(d["description"], d["period"]) for d in deliveries] == [
        ("Weekly digest, week beginning 16 Nov 2026", "weekly:2026-W47")]


def history_rows(page: str) -> list[dict[str, str]]:
    """The history table's rows, newest first: each cell's text by its label."""
    [found] = [t for t in parse(page).iter("table")
               if "newest first" in "".join(t.find("caption").itertext())]
    return [{td.get("data-label"): " ".join("".join(td.itertext()).split())
             for td in row.iter("td")} for row in found.find("tbody").iter("tr")]


def test_the_page_says_who_changed_what_and_when(people: Site, clock: Clock,
                                                 librarian: tuple[httpx.Client, str]) -> None:
    # "Why did Jo stop getting the digest?" had no answer: nothing recorded who did what.
    client, token = librarian
    reader = subscriber_id(people, EMAIL)
    assert "No change recorded yet." in client.get(f"/subscribers/{reader}").text
    client.post(f"/subscribers/{reader}/suspend",
                data={"csrf": token, "reason": "Left the trust in October"})
    clock.advance(hours=2)
    client.post(f"/subscribers/{reader}/resume", data={"csrf": token})
    clock.advance(days=1, minutes=5)
    client.post(f"/subscribers/{reader}/remove", data={"csrf": token})
    page = client.get(f"/subscribers/{reader}").text
    assert "No change recorded yet." not in page
    assert history_rows(page) == [
        {"When": "Tue 24 Nov 2026, 11:05", "Change": "Unsubscribed", "By": "alice"},
        {"When": "Mon 23 Nov 2026, 11:00", "Change": "Resumed suspension lifted", "By": "alice"},
        {"When": "Mon 23 Nov 2026, 09:00", "Change": "Suspended Left the trust in October",
         "By": "alice"}]


def test_the_page_shows_the_latest_fifty_and_says_where_the_rest_are(
        people: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    reader = subscriber_id(people, EMAIL)
    with writing(people.ctx.engine) as connection:
        for n in range(roster.HISTORY_SHOWN + 1):
            subscribers.record_event(connection, reader, "changed", f"change {n}", by="bob",
                                     now=people.ctx.now() + timedelta(minutes=n))
    page = client.get(f"/subscribers/{reader}").text
    shown = history_rows(page)
    assert len(shown) == roster.HISTORY_SHOWN and shown[0]["Change"] == "Changed change 50"
    assert f"awareness subscribers history {EMAIL}" in page


def test_the_export_names_no_librarian(people: Site,
                                       librarian: tuple[httpx.Client, str]) -> None:
    # The export goes to the person; who on the library's staff did what is internal.
    client, token = librarian
    reader = subscriber_id(people, EMAIL)
    client.post(f"/subscribers/{reader}/suspend",
                data={"csrf": token, "reason": "Left the trust in October"})
    response = client.get(f"/subscribers/{reader}/export.json")
    assert "alice" not in response.text
    data = response.json()
    assert data["suspended_reason"] == "Left the trust in October"
    assert [(e["what"], e["detail"], e["by"]) for e in data["history"]] == [
        ("suspended", "Left the trust in October", "a librarian")]
    # The librarians' own page says who: in the history.
    assert "Suspended Left the trust in October alice" in text_of(
        client.get(f"/subscribers/{reader}").text)


def test_erase_asks_first(people: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, token = librarian
    reader = subscriber_id(people, EMAIL)
    ask = client.get(f"/subscribers/{reader}/erase")
    assert ask.status_code == 200 and "cannot be undone" in ask.text
    assert status(people, EMAIL) == "active"
    done = client.post(f"/subscribers/{reader}/erase", data={"csrf": csrf_of(ask.text)})
    assert done.status_code == 303 and done.headers["location"] == "/subscribers"
    assert status(people, EMAIL) is None
    assert f"Erased {EMAIL}" in client.get("/subscribers").text
    with orm_session(people.ctx) as session:
        assert session.scalars(select(OutboxMessage.recipient)
                               .where(OutboxMessage.recipient == EMAIL)).all() == []
    assert client.get(f"/subscribers/{reader}").status_code == 404
    assert client.get(f"/subscribers/{2**64}").status_code == 404
    assert client.post(f"/subscribers/{reader}/erase",
                       data={"csrf": token}).status_code == 404


# --- adding someone on their behalf ----------------------------------------------------------

def test_add_someone_confirms_them_and_queues_the_welcome_mail(
        site: Site, librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    form = client.get("/subscribers/new")
    assert form.status_code == 200 and "Digital" in form.text
    token = csrf_of(form.text)
    response = client.post("/subscribers/new", data={
        "csrf": token, "email": " New.Starter@Trust.nhs.uk ", "frequency-leadership": "daily",
        "frequency-digital": ""})
    assert response.status_code == 303
    new = subscriber_id(site, "new.starter@trust.nhs.uk")
    assert response.headers["location"] == f"/subscribers/{new}"
    assert "welcome mail" in client.get(response.headers["location"]).text
    with reading(site.ctx.engine) as connection:
        found = subscribers.by_email(connection, "new.starter@trust.nhs.uk")
    assert found is not None and found.confirmed_at == site.ctx.now() and found.active
    assert found.subscriptions == (("leadership", "daily"),)
    with orm_session(site.ctx) as session:
        [(kind, recipient, body)] = session.execute(select(
            OutboxMessage.kind, OutboxMessage.recipient, OutboxMessage.message)
            .where(OutboxMessage.subscriber_id == new)).all()
    assert (kind, recipient) == ("welcome", "new.starter@trust.nhs.uk")
    text = message_from_bytes(body, policy=policy.default).get_body(("plain",))
    assert text is not None and f"/preferences/{found.token}" in text.get_content()


@pytest.mark.parametrize(("fields", "message"), [
    ({"email": "not an address", "frequency-leadership": "daily"}, "not an e-mail address"),
    ({"email": "someone@trust.nhs.uk"}, "Choose at least one topic, or the library"),
])
def test_add_refusals_keep_the_form(site: Site, librarian: tuple[httpx.Client, str],
                                    fields: dict[str, str], message: str) -> None:
    client, token = librarian
    response = client.post("/subscribers/new", data={"csrf": token, **fields})
    assert response.status_code == 400 and message in response.text
    assert f'value="{fields["email"]}"' in response.text
    with orm_session(site.ctx) as session:
        assert session.scalars(select(OutboxMessage.id)).all() == []


def test_add_someone_to_the_bulletins_alone(site: Site,
                                           librarian: tuple[httpx.Client, str]) -> None:
    client, _ = librarian
    form = client.get("/subscribers/new")
    assert "Send them the library's bulletins (Library weekly bulletin)" in " ".join(
        "".join(parse(form.text).itertext()).split())
    response = client.post("/subscribers/new", data={
        "csrf": csrf_of(form.text), "email": "bulletins.reader@trust.nhs.uk",
        "frequency-leadership": "", "bulletins": "yes"})
    assert response.status_code == 303, response.text
    with reading(site.ctx.engine) as connection:
        found = subscribers.by_email(connection, "bulletins.reader@trust.nhs.uk")
    assert found is not None and found.active and found.bulletins
    assert found.subscriptions == ()
    [row] = [r for r in parse(client.get("/subscribers").text).iter("tr")
             if "bulletins.reader@trust.nhs.uk" in "".join(r.itertext())]
    assert "none: bulletins only" in "".join(row.itertext())
    # What they get next: no digest, and the page says why rather than "nothing new".
    preview = client.get("/sends/next", params={"email": found.email}).text
    assert ("They have no topic, so no digest goes to them: they get the library's "
            "bulletins only.") in " ".join("".join(parse(preview).itertext()).split())


# --- the rules in SQL are roster's ------------------------------------------------------------

def test_status_in_sql_agrees_with_status_of(people: Site) -> None:
    ctx = people.ctx
    for moment in (ctx.now(), ctx.now() + timedelta(days=30)):  # the pause over
        with reading(ctx.engine) as connection:
            everyone = subscribers.found(connection, moment)
            counted = subscribers.status_counts(connection, moment)
            by_status = {name: [s.email for s in subscribers.found(connection, moment,
                                                                    status=name)]
                         for name in STATUSES}
        expected = {name: sorted(s.email for s in everyone if status_of(s, moment) == name)
                    for name in STATUSES}
        assert by_status == expected
        assert counted == {name: len(found) for name, found in expected.items() if found}
