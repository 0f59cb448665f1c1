"""Staff serve themselves (issue 12): the catalogue, sign-up with double opt-in, the
preference centre, over real HTTP (uvicorn on 127.0.0.1) with mail through the real relay to
an aiosmtpd server.

Mail gateways fetch every link in every message before a person sees it: a test follows every
link of every message the service sent and shows that nothing changed.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from email.message import Message
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from awareness.dates import long_date
from awareness.digests.subscribers import Subscriber as Reader
from awareness.reports.figures import parse_period
from awareness.service import bulletins, digests, reports, roster, subscribing, workbench
from awareness.service.context import Context
from awareness.service.outbox import relay
from awareness.signup import Choice, LimitReached
from awareness.storage import subscribers
from awareness.storage.db import reading, writing
from awareness.storage.models import (
    Feedback,
    Item,
    Match,
    OutboxMessage,
    RateEvent,
    Signup,
    Subscriber,
    Subscription,
)
from awareness.web.app import create_app
from tests.conftest import ROOT, Clock, Inbox, orm_session, orm_writing
from tests.test_bulletins import add_item
from tests.test_subscriber_history import no_bulletin_for_subscribers
from tests.test_web import EMAIL, WHEN, LiveServer, csrf_of, listening_socket, parse, seed

FIXTURE_TIERS = {"staff_site": "integration", "site_of_own_files": "integration"}
NEW = "new.person@trust.nhs.uk"


@dataclass
class StaffSite:
    url: str
    ctx: Context
    inbox: Inbox

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, follow_redirects=False)

    seen: int = 0

    def deliver(self) -> list[Message]:
        """One relay pass; the messages delivered since the last call, parsed."""
        relay(self.ctx)
        new = self.inbox.messages[self.seen:]
        self.seen = len(self.inbox.messages)
        return [message_from_bytes(data) for _, _, data in new]

    def state(self) -> tuple[object, ...]:
        """Everything a visitor could change: subscribers, subscriptions, sign-ups, feedback."""
        with orm_session(self.ctx) as session:
            return (
                session.execute(select(
                    Subscriber.email, Subscriber.unsubscribed_at, Subscriber.confirmed_at,
                    Subscriber.paused_until, Subscriber.bulletins).order_by(Subscriber.id)).all(),
                session.execute(select(Subscription.subscriber_id, Subscription.topic_slug,
                                       Subscription.frequency)
                                .order_by(Subscription.id)).all(),
                session.execute(select(Signup.id, Signup.email)).all(),
                session.execute(select(Feedback.subscriber_id, Feedback.target, Feedback.answer,
                                       Feedback.comment)).all())


@contextmanager
def serving(make_context: Callable[..., Context], smtp: tuple[object, Inbox],
            **settings: str) -> Iterator[StaffSite]:
    controller, inbox = smtp
    sock = listening_socket()
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    ctx = make_context(AWARENESS_WEB_BASE_URL=url, AWARENESS_MAIL_BACKEND="smtp",
                       AWARENESS_MAIL_SMTP_HOST="127.0.0.1",
                       AWARENESS_MAIL_SMTP_PORT=str(controller.port),  # type: ignore[attr-defined]
                       **settings)
    seed(ctx)
    with LiveServer(create_app(ctx), sock):
        yield StaffSite(url, ctx, inbox)


@pytest.fixture
def staff_site(make_context, smtp_server) -> Iterator[StaffSite]:
    with serving(make_context, smtp_server) as site:
        yield site


@pytest.fixture
def site_of_own_files(make_context, smtp_server, tmp_path) -> Iterator[tuple[StaffSite, Path]]:
    """A staff site reading its own copy of subscriptions/, and that folder, to change."""
    subs = tmp_path / "subscriptions"
    shutil.copytree(ROOT / "subscriptions", subs)
    with serving(make_context, smtp_server, AWARENESS_PATHS_SUBSCRIPTIONS=str(subs)) as site:
        yield site, subs


def text_of(message: Message) -> str:
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode(part.get_content_charset() or "utf-8")
    raise AssertionError("no text part")


def links_in(message: Message, base: str) -> list[str]:
    """Every link to the service in every part of ``message``."""
    found = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found += re.findall(re.escape(base) + r"[^\s\"<>]*", payload.decode())
    return sorted(set(found))


def form(pairs: list[tuple[str, str]]) -> dict[str, list[str]]:
    """Form fields as httpx takes them, a name given several times included."""
    fields: dict[str, list[str]] = {}
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return fields


def sign_up(client: httpx.Client, email: str, choices: dict[str, str],
            bulletins: bool = False) -> httpx.Response:
    page = client.get("/subscribe", params=[("topic", t) for t in choices])
    assert page.status_code == 200
    data: list[tuple[str, str]] = [("csrf", csrf_of(page.text)), ("email", email)]
    for topic, frequency in choices.items():
        data += [("topic", topic), (f"frequency-{topic}", frequency)]
    if bulletins:
        data.append(("bulletins", "yes"))
    return client.post("/subscribe", data=form(data))


def stored(site: StaffSite, email: str):
    with reading(site.ctx.engine) as connection:
        return subscribers.by_email(connection, email)


def confirmed(client: httpx.Client, link: str) -> tuple[str, str]:
    """Follow a confirmation link and press its button: where that led, and that page's
    words."""
    page = client.get(link)
    done = client.post(link, data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303
    return done.headers["location"], words(client.get(done.headers["location"]).text)


def the_link(messages: list[Message], site: StaffSite, path: str) -> str:
    [link] = [link for m in messages for link in links_in(m, site.url) if path in link]
    return link.removeprefix(site.url)


def ask_for_data_link(client: httpx.Client, token: str, action: str) -> httpx.Response:
    """Press "E-mail me a link to download (or erase) my data" on the preference page."""
    page = client.get(f"/preferences/{token}")
    return client.post(f"/preferences/{token}/data-link",
                       data={"csrf": csrf_of(page.text), "action": action})


def data_link(site: StaffSite, client: httpx.Client, token: str, action: str) -> str:
    """The link to download (or erase) their data, asked for on the preference page and
    taken from the mail it sent."""
    assert ask_for_data_link(client, token, action).status_code == 303
    return the_link(site.deliver(), site, "/your-data/")


def act_on(client: httpx.Client, link: str) -> httpx.Response:
    """Open a data link and press its button."""
    page = client.get(link)
    assert page.status_code == 200
    return client.post(link, data={"csrf": csrf_of(page.text)})


# --- the journey ----------------------------------------------------------------------------

def test_find_join_change_and_leave_with_no_librarian(staff_site: StaffSite, clock: Clock):
    site = staff_site
    with site.client() as client:
        catalogue = client.get("/topics")
        assert catalogue.status_code == 200
        for text in ("Leadership", "Digital", "Already approved item", "Digital item, no review"):
            assert text in catalogue.text
        assert "Already rejected item" not in catalogue.text  # never went to readers

        answer = sign_up(client, NEW, {"leadership": "daily", "digital": "weekly"})
        assert answer.status_code == 200 and "Check your e-mail" in answer.text
        assert stored(site, NEW) is None, "nothing is active before the confirmation"

        [confirmation] = site.deliver()
        assert confirmation["To"] == NEW and "List-Unsubscribe" not in confirmation
        assert "Leadership (daily)" in text_of(confirmation)
        # True whether or not they subscribe already (the mail cannot know which they are
        # without telling a stranger): ignoring it adds nothing; it never unsubscribes.
        assert "ignore this message: nothing is added, and this request is forgotten" in (
            text_of(confirmation))
        assert f"{site.url}/preferences" in links_in(confirmation, site.url)  # every mail
        confirm = the_link([confirmation], site, "/confirm/")
        for _ in range(3):  # a mail gateway, then the person
            page = client.get(confirm)
            assert page.status_code == 200 and "Confirm your digests" in page.text
        assert stored(site, NEW) is None, "a GET of the link changes nothing"

        done = client.post(confirm, data={"csrf": csrf_of(page.text)})
        assert done.status_code == 303
        person = stored(site, NEW)
        assert person is not None and person.active
        assert sorted(person.subscriptions) == [("digital", "weekly"), ("leadership", "daily")]
        assert done.headers["location"] == f"/preferences/{person.token}"
        assert client.post(confirm, data={"csrf": csrf_of(page.text)}).status_code == 404

        [welcome] = site.deliver()
        assert "List-Unsubscribe" not in welcome
        preferences = the_link([welcome], site, "/preferences/")
        assert preferences == f"/preferences/{person.token}"

        page = client.get(preferences)
        assert page.status_code == 200 and "n…@trust.nhs.uk" in page.text
        saved = client.post(preferences, data={
            "csrf": csrf_of(page.text), "topic": "digital", "frequency-digital": "daily",
            "frequency-leadership": "daily", "paused_until": ""})
        assert saved.status_code == 303
        person = stored(site, NEW)
        assert person is not None and person.subscriptions == (("digital", "daily"),)

        # The next digest holds only the chosen topic.
        clock.advance(days=1)
        digests.send_digests(site.ctx, frequency="daily")  # it queues, then relays
        [digest] = [m for m in site.deliver() if m["To"] == NEW]
        body = text_of(digest)
        assert "Digital item, no review" in body and "Already approved item" not in body
        assert f"/preferences/{person.token}" in "".join(links_in(digest, site.url))

        page = client.get(preferences)
        left = client.post(f"{preferences}/leave", data={"csrf": csrf_of(page.text),
                                                         "topic": "digital"})
        assert left.status_code == 303
        person = stored(site, NEW)  # the last topic, and no bulletins: nothing is left
        assert person is not None and person.subscriptions == () and not person.active

        page = client.get(preferences)
        gone = client.post(f"{preferences}/unsubscribe", data={"csrf": csrf_of(page.text)})
        assert gone.status_code == 303
        person = stored(site, NEW)
        assert person is not None and not person.active

        # Signing up again undoes it.
        answer = sign_up(client, NEW, {"leadership": "weekly"})
        assert answer.status_code == 200, answer.text
        again = the_link(site.deliver(), site, "/confirm/")
        page = client.get(again)
        assert client.post(again, data={"csrf": csrf_of(page.text)}).status_code == 303
        person = stored(site, NEW)
        assert person is not None and person.active
        assert person.subscriptions == (("leadership", "weekly"),)


def test_every_link_in_every_message_can_be_fetched_and_nothing_changes(
        staff_site: StaffSite, clock: Clock):
    site = staff_site
    with site.client() as client:
        sign_up(client, NEW, {"leadership": "daily"})
        messages = site.deliver()
        confirm = the_link(messages, site, "/confirm/")
        page = client.get(confirm)
        client.post(confirm, data={"csrf": csrf_of(page.text)})
        clock.advance(days=1)
        digests.send_digests(site.ctx)
        messages += site.deliver()
        page = client.get("/preferences")
        client.post("/preferences", data={"csrf": csrf_of(page.text), "email": EMAIL})
        messages += site.deliver()
        person = stored(site, EMAIL)
        assert ask_for_data_link(client, person.token, "erase").status_code == 303
        messages += site.deliver()
    kinds = {m["Subject"] for m in messages}
    # The confirmation, welcome, digests, the sign-in link and the link to erase one's data.
    assert len(messages) >= 5, kinds
    before = site.state()
    links = sorted({link for m in messages for link in links_in(m, site.url)})
    assert any("/preferences/" in link for link in links)
    with httpx.Client(follow_redirects=True) as scanner:  # no cookies of ours, as a gateway
        for link in links:
            for method in ("GET", "HEAD"):
                assert scanner.request(method, link).status_code < 500, link
    assert site.state() == before


# --- answers that give nothing away ------------------------------------------------------------

def test_a_known_and_an_unknown_address_get_the_same_answer(staff_site: StaffSite):
    def answer(email: str) -> str:
        with staff_site.client() as client:
            response = sign_up(client, email, {"leadership": "weekly"})
            assert response.status_code == 200
            page = parse(response.text).find(".//main")
            assert page is not None
            return "".join(page.itertext()).replace(email, "ADDRESS")
    assert answer(EMAIL) == answer(NEW)
    with staff_site.client() as client:
        page = client.get("/preferences")
        known = client.post("/preferences", data={"csrf": csrf_of(page.text), "email": EMAIL})
        unknown = client.post("/preferences", data={"csrf": csrf_of(page.text), "email": NEW})
    assert known.status_code == unknown.status_code == 200
    assert known.text.replace(EMAIL, "X") == unknown.text.replace(NEW, "X")
    sent = staff_site.deliver()
    # Confirmations to both (the known one can confirm again); a link only to the subscriber.
    assert sorted(m["To"] for m in sent) == sorted([EMAIL, NEW, EMAIL])


@pytest.mark.parametrize(("email", "problem"), [
    ("someone@gmail.com", "Use your work address"),
    ("not an address", "not an e-mail address"),
    ("a@b", "not an e-mail address"),
    ("", "not an e-mail address"),
    # Taken by the browser's own check, refused by the mail library: a 500 until it was here.
    ("jo.bloggs.@nhs.net", "starts or ends with a dot, or has two together"),
    ("j" * 65 + "@nhs.net", "longer than mail allows"),
])
def test_bad_addresses_are_refused_clearly_and_nothing_is_stored(
        staff_site: StaffSite, email: str, problem: str):
    with staff_site.client() as client:
        response = sign_up(client, email, {"leadership": "weekly"})
    assert response.status_code == 400 and problem in response.text
    assert 'value="leadership" checked' in response.text  # the choices are kept
    with orm_session(staff_site.ctx) as session:
        assert session.scalars(select(Signup)).all() == []


@pytest.mark.parametrize(("choices", "bulletins", "sent"), [
    ({"leadership": "weekly"}, False, "Digests"),
    ({}, True, "The library's bulletins"),  # said "Digests" too, though none was asked for
    ({"leadership": "weekly"}, True, "Digests and the library's bulletins"),
])
def test_a_refused_address_says_what_was_asked_for_by_its_field(
        staff_site: StaffSite, choices: dict[str, str], bulletins: bool, sent: str):
    with staff_site.client() as client:
        response = sign_up(client, "someone@gmail.com", choices, bulletins)
    assert response.status_code == 400
    said = (f"{sent} can only be sent to addresses ending in @nhs.net or @nhs.uk. "
            "Use your work address.")
    assert summary_links(response.text) == {"#email": said}
    tree = parse(response.text)
    [field] = [i for i in tree.iter("input") if i.get("id") == "email"]
    assert field.get("aria-invalid") == "true"
    assert field.get("aria-describedby") == "email-hint email-error"
    [message] = [p for p in tree.iter("p") if p.get("id") == "email-error"]
    assert "".join(message.itertext()) == f"Error: {said}"


def summary_links(page: str) -> dict[str, str]:
    """The links of a page's "There is a problem" box: where each goes, and what it says."""
    [box] = [d for d in parse(page).iter("div") if d.get("class") == "error-summary"]
    return {a.get("href", ""): "".join(a.itertext()) for a in box.iter("a")}


def test_the_address_hint_says_a_trusts_own_domain_counts(staff_site: StaffSite):
    # "ending in @nhs.net or @nhs.uk" read as if name@trust.nhs.uk were refused.
    with staff_site.client() as client:
        page = client.get("/subscribe").text
    [hint] = [p for p in parse(page).iter("p") if p.get("id") == "email-hint"]
    assert "".join(hint.itertext()) == (
        "An address ending in @nhs.net or @nhs.uk, or in a part of one such as "
        "@yourtrust.nhs.uk.")


def test_no_topic_or_only_unknown_topics_is_refused(staff_site: StaffSite):
    with staff_site.client() as client:
        page = client.get("/subscribe")
        response = client.post("/subscribe", data={
            "csrf": csrf_of(page.text), "email": NEW, "topic": "no-such-topic"})
    assert response.status_code == 400 and "Choose at least one topic" in response.text


def test_tampered_reused_and_expired_links_are_refused(staff_site: StaffSite, clock: Clock):
    site = staff_site
    with site.client() as client:
        sign_up(client, NEW, {"leadership": "weekly"})
        link = the_link(site.deliver(), site, "/confirm/")
        signup_id, signature = link.removeprefix("/confirm/").split(".")
        forged = f"/confirm/{signup_id}.{'0' * 32}"
        other = f"/confirm/{int(signup_id) + 1}.{signature}"
        for bad in (forged, other, "/confirm/1.zz", "/confirm/nonsense"):
            assert client.get(bad).status_code == 404, bad
        page = client.get(link)
        assert client.post(forged, data={"csrf": csrf_of(page.text)}).status_code == 404
        assert stored(site, NEW) is None

        clock.advance(days=7, seconds=1)
        assert client.get(link).status_code == 404, "a week old: expired"
        assert client.post(link, data={"csrf": csrf_of(page.text)}).status_code == 404
        assert stored(site, NEW) is None
        assert client.get("/preferences/" + "x" * 40).status_code == 404


def test_a_confirmation_link_opened_again_says_they_are_confirmed_already(
        staff_site: StaffSite):
    # It said "This link is not valid any more", as if something had gone wrong.
    site = staff_site
    with site.client() as client:
        sign_up(client, NEW, {"leadership": "weekly"})
        link = the_link(site.deliver(), site, "/confirm/")
        page = client.get(link)
        assert client.post(link, data={"csrf": csrf_of(page.text)}).status_code == 303
        again = client.get(link)
    assert again.status_code == 404
    said = words(again.text)
    assert "If you followed it before, you are confirmed already" in said
    assert "not valid" not in said
    # The sign-up is gone, so the link no longer says whose it was: no one's preferences
    # are linked, only the form that mails the link to the address.
    links = [a.get("href") for a in parse(again.text).find(".//main").iter("a")]  # type: ignore[union-attr]
    assert "/preferences" in links and not any("/preferences/" in str(h) for h in links)


def test_the_answer_to_e_mail_me_a_link_says_to_that_address(staff_site: StaffSite):
    with staff_site.client() as client:
        page = client.get("/preferences")
        answer = client.post("/preferences", data={"csrf": csrf_of(page.text), "email": EMAIL})
    assert answer.status_code == 200
    assert (f"If {EMAIL} is subscribed, a message is on its way to that address with a link "
            "to manage your subscription.") in words(answer.text)


@pytest.mark.parametrize("contact", ["", "library@trust.nhs.uk"])
def test_pages_name_someone_to_ask_only_when_there_is_one(make_context, smtp_server,
                                                          contact: str):
    with (serving(make_context, smtp_server, AWARENESS_LIBRARY_CONTACT_EMAIL=contact,
                  AWARENESS_SIGNUP_PER_CLIENT_PER_HOUR="1") as site,
          site.client() as client):
        assert sign_up(client, NEW, {"leadership": "weekly"}).status_code == 200
        limited = sign_up(client, NEW, {"leadership": "weekly"})
        unknown = [client.get(f"/unsubscribe/{'x' * 43}"),
                   client.get(f"/bulletins/stop/{'x' * 43}")]
    assert limited.status_code == 429
    assert [page.status_code for page in unknown] == [404, 404]
    for page in [limited, *unknown]:
        said = words(page.text)
        mailto = [a for a in parse(page.text).iter("a") if a.get("href") == f"mailto:{contact}"]
        if contact:
            assert "Or ask the library" in said and mailto, said
        else:
            assert not re.search(r"\bask (the|your) library", said, re.IGNORECASE), said
            assert not mailto
    assert "Try again in an hour." in words(limited.text)
    for page in unknown:  # a way that needs no one: the link by e-mail
        assert "have a link to manage your subscription e-mailed to you" in words(page.text)


def test_forms_need_their_page_token(staff_site: StaffSite):
    person = stored(staff_site, EMAIL)
    assert person is not None
    with staff_site.client() as client:
        client.get("/subscribe")
        assert client.post("/subscribe", data={"email": NEW, "topic": "leadership"}
                           ).status_code == 403
        assert client.post(f"/preferences/{person.token}/unsubscribe", data={}
                           ).status_code == 403
    assert stored(staff_site, EMAIL) == person


def test_one_client_cannot_flood_inboxes(staff_site: StaffSite):
    site = staff_site
    answers = []
    with site.client() as client:
        page = client.get("/subscribe")
        token = csrf_of(page.text)
        for n in range(990):
            answers.append(client.post("/subscribe", data={
                "csrf": token, "email": f"person{n}@trust.nhs.uk", "topic": "leadership"}
            ).status_code)
        for _ in range(10):  # one address, from another client's point of view too
            answers.append(client.post("/subscribe", data={
                "csrf": token, "email": NEW, "topic": "leadership"}).status_code)
    limit = site.ctx.settings.signup.per_client_per_hour
    assert answers[:limit] == [200] * limit
    assert set(answers[limit:]) == {429}
    with orm_session(site.ctx) as session:
        queued = session.scalars(select(OutboxMessage.recipient).where(
            OutboxMessage.kind == "signup_confirm")).all()
        assert len(queued) == limit and len(set(queued)) == limit
        buckets = session.scalars(select(RateEvent.bucket)).all()
    assert not any("@" in bucket for bucket in buckets), "no address stored in the clear"


def test_a_refused_request_waits_for_no_writer(make_context: Callable[..., Context],
                                               database_url: str):
    """Over a limit, a sign-up or a link request is refused from a read: while another writer
    holds SQLite's one write lock (a poll storing its items), a flood's requests are answered
    at once instead of queueing behind it, and no poll queues behind them."""
    if not database_url.startswith("sqlite"):
        pytest.skip("only SQLite has one write lock for the whole database")
    ctx = make_context()
    flooding = "192.0.2.7"
    for n in range(ctx.settings.signup.per_client_per_hour):
        subscribing.request_signup(ctx, email=f"person{n}@trust.nhs.uk", client=flooding,
                                   choices=[Choice("leadership", "weekly")], bulletins=False)
    with writing(ctx.engine):  # held until both are answered; each would wait 30 s for it
        with pytest.raises(LimitReached, match=r"from your network in the last hour\. Try again "
                           r"in an hour"):
            subscribing.request_signup(ctx, email=NEW, client=flooding,
                                       choices=[Choice("leadership", "weekly")], bulletins=False)
        with pytest.raises(LimitReached, match="from your network"):
            subscribing.request_link(ctx, email=EMAIL, client=flooding)


def test_an_address_over_its_limit_is_told_to_try_tomorrow(make_context: Callable[..., Context]):
    ctx = make_context()
    for n in range(ctx.settings.signup.per_address_per_day):  # each from another client
        subscribing.request_signup(ctx, email=NEW, client=f"192.0.2.{n}",
                                   choices=[Choice("leadership", "weekly")], bulletins=False)
    with pytest.raises(LimitReached, match=r"This address has asked too many times today\. "
                       r"Try again tomorrow"):
        subscribing.request_signup(ctx, email=NEW, client="198.51.100.1",
                                   choices=[Choice("leadership", "weekly")], bulletins=False)


def test_the_preference_centre_pauses_exports_and_erases(staff_site: StaffSite,
                                                          clock: Clock):
    site = staff_site
    person = stored(site, EMAIL)
    assert person is not None
    page_url = f"/preferences/{person.token}"
    with site.client() as client:
        page = client.get(page_url)
        bad = client.post(page_url, data={"csrf": csrf_of(page.text), "topic": "leadership",
                                          "paused_until": "31/02/2027"})
        assert bad.status_code == 400 and "as 2027-01-04" in bad.text
        client.post(page_url, data={"csrf": csrf_of(page.text), "topic": "leadership",
                                    "frequency-leadership": "weekly",
                                    "paused_until": "2026-12-24", "bulletins": "yes"})
        person = stored(site, EMAIL)
        assert person is not None and person.bulletins and person.paused(clock.now)
        assert "<strong>Paused:</strong> nothing is sent until 24 December 2026." in (
            client.get(page_url).text)  # the page says so, not only the date in its field
        with reading(site.ctx.engine) as connection:
            assert subscribers.for_digests(connection, clock.now) == []
            later = clock.now.replace(month=12, day=24, hour=1)
            assert [s.email for s in subscribers.for_digests(connection, later)] == [EMAIL]

        data = act_on(client, data_link(site, client, person.token, "download"))
        assert data.status_code == 200 and data.json()["email"] == EMAIL
        assert "attachment" in data.headers["content-disposition"]

        erase = data_link(site, client, person.token, "erase")
        assert client.get(erase).status_code == 200 and stored(site, EMAIL) is not None
        erased = act_on(client, erase)
        assert erased.status_code == 200 and "erased" in erased.text
    assert stored(site, EMAIL) is None


def test_what_an_unconfirmed_sign_up_leaves_is_deleted_when_it_expires(
        staff_site: StaffSite, clock: Clock):
    from awareness.service.subscribing import purge
    site = staff_site
    with site.client() as client:
        sign_up(client, NEW, {"leadership": "weekly"})
    site.deliver()
    assert purge(site.ctx) == (0, 0, 0)  # within the week: nothing goes
    clock.advance(days=7, seconds=1)
    assert purge(site.ctx) == (1, 1, 2)  # the sign-up, its mail, the two uses
    with orm_session(site.ctx) as session:
        assert session.scalars(select(OutboxMessage.recipient)).all().count(NEW) == 0
        assert session.scalars(select(Signup)).all() == []


def test_a_catalogue_of_many_topics_can_be_signed_up_for_at_once(
        make_context, smtp_server, tmp_path):
    # Forms used to be capped at 20 fields; a topic takes two (its box and its frequency).
    subs = tmp_path / "many"
    (subs / "topics").mkdir(parents=True)
    (subs / "sources.toml").write_text("", encoding="utf-8")
    for n in range(30):
        (subs / "topics" / f"topic-{n}.toml").write_text(
            f'name = "Topic {n}"\ndescription = "d"\nquery = "word{n}"\n', encoding="utf-8")
    with serving(make_context, smtp_server, AWARENESS_PATHS_SUBSCRIPTIONS=str(subs)) as site:
        with site.client() as client:
            answer = sign_up(client, NEW, {f"topic-{n}": "daily" for n in range(30)})
            assert answer.status_code == 200, answer.text
        confirm = the_link(site.deliver(), site, "/confirm/")
        with site.client() as client:
            page = client.get(confirm)
            assert client.post(confirm, data={"csrf": csrf_of(page.text)}).status_code == 303
        person = stored(site, NEW)
        assert person is not None and len(person.subscriptions) == 30


def test_choosing_topics_again_after_leaving_everything_resumes_with_them(
        staff_site: StaffSite):
    # The page says so after an unsubscribe: "choose topics … and save to start again".
    person = stored(staff_site, EMAIL)
    assert person is not None
    page_url = f"/preferences/{person.token}"
    with staff_site.client() as client:
        page = client.get(page_url)
        client.post(f"{page_url}/unsubscribe", data={"csrf": csrf_of(page.text)})
        assert not stored(staff_site, EMAIL).active  # type: ignore[union-attr]
        page = client.get(page_url)
        assert "Choose topics or the bulletins below and save to start again" in page.text
        saved = client.post(page_url, data={"csrf": csrf_of(page.text), "topic": "digital",
                                            "frequency-digital": "daily"})
        assert saved.status_code == 303
    person = stored(staff_site, EMAIL)
    assert person is not None and person.active
    assert person.subscriptions == (("digital", "daily"),)


def test_signing_up_again_adds_and_takes_nothing_away(staff_site: StaffSite):
    site = staff_site

    def join(choices: dict[str, str], bulletins: bool) -> None:
        with site.client() as client:
            assert sign_up(client, NEW, choices, bulletins=bulletins).status_code == 200
            link = the_link(site.deliver(), site, "/confirm/")
            page = client.get(link)
            assert client.post(link, data={"csrf": csrf_of(page.text)}).status_code == 303
        site.deliver()  # the welcome

    join({"leadership": "daily"}, bulletins=True)
    join({"digital": "weekly"}, bulletins=False)  # the box left unticked this time
    person = stored(site, NEW)
    assert person is not None and person.bulletins
    assert sorted(person.subscriptions) == [("digital", "weekly"), ("leadership", "daily")]

    with site.client() as client:
        page = client.get(f"/preferences/{person.token}")
        client.post(f"/preferences/{person.token}/unsubscribe",
                    data={"csrf": csrf_of(page.text)})
    join({"digital": "daily"}, bulletins=False)  # after leaving everything: afresh
    person = stored(site, NEW)
    assert person is not None and person.active and not person.bulletins
    assert person.subscriptions == (("digital", "daily"),)


def test_two_sign_ups_for_the_same_topics_confirmed_give_one_welcome(staff_site: StaffSite):
    site = staff_site
    with site.client() as client:
        for _ in range(2):  # asked twice before confirming: two confirmation mails
            assert sign_up(client, NEW, {"leadership": "daily"}).status_code == 200
        links = [the_link([mail], site, "/confirm/") for mail in site.deliver()]
        for link in links:
            page = client.get(link)
            assert client.post(link, data={"csrf": csrf_of(page.text)}).status_code == 303
    assert [mail["To"] for mail in site.deliver()] == [NEW]  # one welcome, not two


def change_preferences(site: StaffSite, fields: list[tuple[str, str]]) -> httpx.Response:
    """EMAIL's preference page sent with ``fields`` (and its CSRF token)."""
    person = stored(site, EMAIL)
    assert person is not None
    url = f"/preferences/{person.token}"
    with site.client() as client:
        page = client.get(url)
        return client.post(url, data=form([("csrf", csrf_of(page.text)), *fields]))


def test_a_refused_change_shows_what_was_chosen_with_the_reason(staff_site: StaffSite):
    person = stored(staff_site, EMAIL)
    refused = change_preferences(staff_site, [
        ("topic", "digital"), ("frequency-digital", "daily"), ("frequency-leadership", "weekly"),
        ("paused_until", "2031-01-01"), ("bulletins", "yes")])
    assert refused.status_code == 400 and "at most a year" in refused.text
    # Not what was stored: the visitor's own choices, to correct the one thing refused.
    assert 'value="digital" checked' in refused.text
    assert 'value="leadership" checked' not in refused.text
    assert '<option value="daily" selected>' in refused.text
    assert 'value="2031-01-01"' in refused.text and 'value="yes" checked' in refused.text
    assert stored(staff_site, EMAIL) == person  # and nothing saved


def test_a_refused_change_says_every_problem_by_its_field(staff_site: StaffSite):
    person = stored(staff_site, EMAIL)
    refused = change_preferences(staff_site, [("paused_until", "2020-01-01")])
    assert refused.status_code == 400
    assert summary_links(refused.text) == {
        "#topic-digital": "Choose at least one topic, or the library's bulletins.",
        "#paused_until": "The date digests start again must be after today."}
    tree = parse(refused.text)
    [pause] = [i for i in tree.iter("input") if i.get("id") == "paused_until"]
    assert pause.get("aria-invalid") == "true"
    assert pause.get("aria-describedby") == "paused_until-hint paused_until-error"
    [topics] = [f for f in tree.iter("fieldset") if f.get("aria-describedby") == "topics-error"]
    assert "Choose at least one topic" in "".join(topics.itertext())
    assert stored(staff_site, EMAIL) == person


def test_the_pause_date_offers_only_the_days_the_service_takes(staff_site: StaffSite,
                                                                clock: Clock):
    # Half past midnight in London, still 1 July in UTC: today is 2 July, so a pause ends on
    # 3 July at the earliest. The field's min was today, which the service refuses.
    clock.now = datetime(2026, 7, 1, 23, 30, tzinfo=UTC)
    person = stored(staff_site, EMAIL)
    assert person is not None
    with staff_site.client() as client:
        page = client.get(f"/preferences/{person.token}")
    [pause] = [i for i in parse(page.text).iter("input") if i.get("id") == "paused_until"]
    assert (pause.get("min"), pause.get("max")) == ("2026-07-03", "2027-07-03")
    for day, status in [("2026-07-02", 400), ("2026-07-03", 303), ("2027-07-03", 303),
                        ("2027-07-04", 400)]:
        answer = change_preferences(staff_site, [("topic", "leadership"),
                                                 ("paused_until", day)])
        assert answer.status_code == status, day


@pytest.mark.parametrize("path", ["", "/erase", "/data.json"])
def test_a_dead_preference_link_offers_a_new_one(staff_site: StaffSite, path: str):
    with staff_site.client() as client:
        page = client.get(f"/preferences/{'x' * 43}{path}")
    assert page.status_code == 404 and "Ask for a new one below" in page.text
    [ask] = [f for f in parse(page.text).iter("form") if f.get("action") == "/preferences"]
    assert ask.find(".//input[@name='email']") is not None


@pytest.mark.parametrize("bulletins", [True, False])
def test_leaving_the_last_topic_says_what_goes_on(staff_site: StaffSite, bulletins: bool):
    # Without the bulletins they stayed an "active" subscriber with nothing to get, listed as
    # active and counted as a reader: now they are unsubscribed, as from everything.
    site = staff_site
    with orm_writing(site.ctx) as session:
        session.scalars(select(Subscriber).where(Subscriber.email == EMAIL)).one().bulletins = (
            bulletins)
    person = stored(site, EMAIL)
    assert person is not None and person.subscriptions == (("leadership", "weekly"),)
    url = f"/preferences/{person.token}"
    with site.client() as client:
        page = client.get(url)
        left = client.post(f"{url}/leave", data={"csrf": csrf_of(page.text),
                                                 "topic": "leadership"})
        assert left.status_code == 303
        said = words(client.get(url).text)
    person = stored(site, EMAIL)
    assert person is not None and person.active is bulletins
    [entry] = roster.everyone(site.ctx)
    figures = reports.impact_report(site.ctx, parse_period(f"{site.ctx.now().year}"))
    assert "Your other topics go on" not in said
    if bulletins:
        assert "Unsubscribed from Leadership. You have no topic now, so no digest comes; the " \
            "library's bulletins still do." in said
        assert (entry.status, figures.readers) == ("active", 1)
        return
    assert "Unsubscribed from Leadership. That was your last topic and you do not get the " \
        "library's bulletins, so nothing more is sent to you." in said
    assert "You are unsubscribed: nothing is sent to j…@trust.nhs.uk. Choose topics or the " \
        "bulletins below and save to start again." in said
    assert "Unsubscribe from everything" not in said
    assert person.unsubscribed_at == site.ctx.now()  # as "Unsubscribe from everything" does
    assert (entry.status, figures.readers) == ("unsubscribed", 0)


def test_a_sign_up_whose_topics_were_all_withdrawn_gets_nothing_and_is_told(
        site_of_own_files: tuple[StaffSite, Path]):
    # Confirming made an "active" subscriber with nothing (the topics' files were removed
    # before the link was followed), and welcomed them to an empty list.
    site, subs = site_of_own_files
    with site.client() as client:
        sign_up(client, NEW, {"digital": "weekly"})
        link = the_link(site.deliver(), site, "/confirm/")
        (subs / "topics" / "digital.toml").unlink()
        preferences, said = confirmed(client, link)
        person = stored(site, NEW)
        assert person is not None and not person.active and person.subscriptions == ()
        assert site.deliver() == []  # no welcome to nothing
        assert "The topics you chose are no longer offered, so nothing will be sent to you. " \
            "Choose others below." in said
        assert "You are unsubscribed: nothing is sent to n…@trust.nhs.uk." in said
        assert [(e.email, e.status) for e in roster.everyone(site.ctx)] == [
            (EMAIL, "active"), (NEW, "unsubscribed")]
        # Choosing a topic on that page starts them, as after any unsubscribe.
        page = client.get(preferences)
        client.post(preferences, data={
            "csrf": csrf_of(page.text), "topic": "leadership", "frequency-leadership": "daily"})
        person = stored(site, NEW)
        assert person is not None and person.active
        assert person.subscriptions == (("leadership", "daily"),)


def test_once_no_bulletin_goes_to_subscribers_the_bulletins_alone_are_nothing(
        site_of_own_files: tuple[StaffSite, Path]):
    # The bulletin file's audience changed: a sign-up for the bulletins alone was confirmed
    # and welcomed to them, someone who had them alone was told "You get the library's
    # bulletins only", and leaving a last topic said "the library's bulletins still do".
    site, subs = site_of_own_files
    with site.client() as client:
        with orm_writing(site.ctx) as session:
            session.scalars(select(Subscriber).where(Subscriber.email == EMAIL)).one() \
                .bulletins = True
        roster.add(site.ctx, "alone@trust.nhs.uk", [], bulletins=True, librarian="alice")
        sign_up(client, NEW, {}, bulletins=True)
        link = the_link(site.deliver(), site, "/confirm/")  # the welcome went too
        no_bulletin_for_subscribers(subs)
        _, said = confirmed(client, link)
        assert site.deliver() == []  # no welcome to nothing
        assert "What you chose is no longer offered: no bulletin goes to subscribers now, so " \
            "nothing will be sent to you. Choose topics below." in said
        assert "You are unsubscribed: nothing is sent to n…@trust.nhs.uk." in said
        person = stored(site, EMAIL)
        url = f"/preferences/{person.token}"
        page = client.get(url)
        client.post(f"{url}/leave", data={"csrf": csrf_of(page.text), "topic": "leadership"})
        said = words(client.get(url).text)
        assert "Unsubscribed from Leadership. That was your last topic, and no bulletin goes " \
            "to subscribers now, so nothing more is sent to you." in said
        assert not stored(site, EMAIL).active
        # Someone already getting the bulletins alone is told that nothing comes now.
        said = words(client.get(f"/preferences/{stored(site, 'alone@trust.nhs.uk').token}").text)
        assert "Nothing is sent to you: you chose the library's bulletins alone, and no " \
            "bulletin goes to subscribers now." in said
        assert "You get the library's bulletins only" not in said


@pytest.mark.parametrize("bulletins", [True, False])
def test_the_mails_say_whether_bulletins_were_chosen(staff_site: StaffSite, bulletins: bool):
    site = staff_site
    with site.client() as client:
        sign_up(client, NEW, {"leadership": "weekly"}, bulletins=bulletins)
        [confirmation] = site.deliver()
        link = the_link([confirmation], site, "/confirm/")
        page = client.get(link)
        client.post(link, data={"csrf": csrf_of(page.text)})
    [welcome] = site.deliver()
    for mail in (confirmation, welcome):
        parts = [part.get_payload(decode=True).decode() for part in mail.walk()
                 if part.get_content_maintype() == "text"]
        assert len(parts) == 2  # the plain text and the HTML
        for text in parts:
            assert "Leadership (weekly)" in text
            assert ("The library's bulletins" in text) is bulletins


def test_the_catalogue_dates_an_item_as_its_digest_does(staff_site: StaffSite):
    # When it was published; the day it was first seen only for an item its publisher left
    # undated (the catalogue gave that day for every item, the digest the publication date).
    with orm_writing(staff_site.ctx) as session:
        approved = session.scalars(select(Item).where(Item.key == "a")).one()
        approved.published_at = datetime(2025, 12, 2, 9, 0, tzinfo=UTC)
    with staff_site.client() as client:
        page = client.get("/topics").text
    lines = ["".join(li.itertext()) for li in parse(page).iter("li")]
    approved_lines = [line for line in lines if line.startswith("Already approved item")]
    undated_lines = [line for line in lines if line.startswith("Digital item, no review")]
    assert approved_lines and all(line.endswith("NHS England, 2 December 2025")
                                  for line in approved_lines), approved_lines
    assert undated_lines and all(line.endswith(f"NHS England, {long_date(WHEN)}")
                                 for line in undated_lines), undated_lines


def test_the_catalogue_lists_a_topics_latest_items_newest_published_first(
        staff_site: StaffSite):
    # A report published months ago and found today is not the topic's latest news: the
    # catalogue orders by publication, as the items page and digests date, not by arrival.
    with orm_writing(staff_site.ctx) as session:
        for key, title, published, seen in (
                ("late", "Older report found late", datetime(2025, 6, 1, tzinfo=UTC),
                 WHEN + timedelta(hours=1)),
                ("new", "Newer guidance", WHEN - timedelta(days=1), WHEN)):
            item = Item(source_id="nhs-england", key=key, title=title,
                        link=f"https://www.england.nhs.uk/{key}/", published_at=published,
                        first_seen_at=seen)
            session.add(item)
            session.flush()
            session.add(Match(item_id=item.id, topic_slug="leadership", status="approved",
                              hits=[], score=1.0, created_at=seen))
    with staff_site.client() as client:
        page = client.get("/topics").text
    titles = [line for line in ("".join(li.itertext()) for li in parse(page).iter("li"))
              if line.startswith(("Older report", "Newer guidance", "Already approved"))]
    assert [title.split(" NHS England")[0] for title in titles] == [
        "Already approved item", "Newer guidance", "Older report found late"], titles


# --- the bulletins alone ----------------------------------------------------------------------

def test_the_bulletins_alone_from_sign_up_to_an_issue_and_no_digest(staff_site: StaffSite,
                                                                   clock: Clock):
    # Staff who wanted only the weekly bulletin were refused unless they also took a digest.
    site = staff_site
    with site.client() as client:
        answer = sign_up(client, NEW, {}, bulletins=True)
        assert answer.status_code == 200 and "Check your e-mail" in answer.text, answer.text
        [confirmation] = site.deliver()
        assert confirmation["Subject"] == "Confirm the library's bulletins"
        for text in parts_of(confirmation):  # what they asked for, and no empty list of topics
            assert "The library's bulletins" in text and "(weekly)" not in text
            assert "digests to be sent" not in text
        link = the_link([confirmation], site, "/confirm/")
        page = client.get(link)
        assert words(page.text).startswith(
            f"Confirm the library's bulletins Send to {NEW}: The library's bulletins Confirm")
        done = client.post(link, data={"csrf": csrf_of(page.text)})
        assert done.status_code == 303
        person = stored(site, NEW)
        assert person is not None and person.active and person.bulletins
        assert person.subscriptions == ()
        [welcome] = site.deliver()
        assert welcome["Subject"] == f"Your bulletins from {site.ctx.settings.library.name}"
        assert all("The library's bulletins" in text for text in parts_of(welcome))
        preferences = words(client.get(done.headers["location"]).text)
        assert "the library's bulletins are confirmed" in preferences
        assert "You get the library's bulletins only, no digest." in preferences

    # The next issue of the weekly bulletin goes to them ...
    assert send_an_issue(site) == 1
    [issue] = site.deliver()
    assert issue["To"] == NEW and "Leadership framework for NHS boards" in text_of(issue)

    # ... and a digest run sends them nothing, while a reader of a topic gets theirs.
    clock.advance(days=7)
    assert workbench.next_digests(site.ctx, NEW) == workbench.NextDigest(
        person.id, "n…@trust.nhs.uk", [], topics=False, bulletins=True)
    digests.send_digests(site.ctx)
    assert [m["To"] for m in site.deliver()] == [EMAIL]
    # The impact report counts them as a reader, and under no topic.
    figures = reports.impact_report(site.ctx, parse_period(f"{clock.now.year}"))
    assert figures.readers == 2
    assert [(c.label, c.value) for c in figures.readers_by_topic] == [("Leadership", 1)]


def test_no_librarian_is_named_to_the_person(staff_site: StaffSite, clock: Clock):
    # Their history says which librarian did what; that is for librarians. What reaches the
    # person — their mails, their pages, the export of their data — never names one.
    site, name = staff_site, "quentin.librarian"
    found, _ = roster.add(site.ctx, NEW, [Choice("leadership", "daily")], librarian=name)
    roster.suspend(site.ctx, found.id, "Checking the address", name)
    roster.resume(site.ctx, found.id, name)
    roster.set_topics(site.ctx, NEW, [Choice("leadership", "daily")], True, librarian=name)
    clock.advance(days=1)
    digests.send_digests(site.ctx, frequency="daily")
    mails = [m for m in site.deliver() if m["To"] == NEW]
    # The welcome mail, and a digest (the one with an unsubscribe header).
    assert sorted("List-Unsubscribe" in m for m in mails) == [False, True]
    roster.suspend(site.ctx, found.id, "Asked by their manager", name)
    assert {e.by for e in roster.history(site.ctx, NEW)} == {name}  # the librarians see it
    token = found.token
    with site.client() as client:
        download = data_link(site, client, token, "download")
        erase = data_link(site, client, token, "erase")
        pages = [client.get(path) for path in (
            f"/preferences/{token}", download, erase, f"/unsubscribe/{token}",
            f"/bulletins/stop/{token}")]
        exported = act_on(client, download)
    assert [page.status_code for page in pages] == [200] * 5
    for text in [page.text for page in pages] + [exported.text] + [
            t for m in mails for t in [m.as_string(), *parts_of(m)]]:
        assert "quentin" not in text.lower()
    exported = exported.json()
    assert exported["suspended_reason"] == "Asked by their manager"
    assert {e["by"] for e in exported["history"]} == {"a librarian"}


def send_an_issue(site: StaffSite) -> int:
    """Approve the weekly bulletin's first issue, with one item, and send it; to how many."""
    add_item(site.ctx, "Leadership framework for NHS boards")
    bulletins.draft(site.ctx, "weekly")
    bulletins.approve(site.ctx, "weekly", 1, by="alice")
    return bulletins.send_issue(site.ctx, "weekly", 1)


def bulletins_reader(site: StaffSite) -> Reader:
    """NEW, signed up and confirmed for the bulletins alone, their mails delivered."""
    person = subscribing.confirm(site.ctx, subscribing.confirmation_token(
        site.ctx, subscribing.request_signup(site.ctx, email=NEW, choices=[], bulletins=True,
                                             client="192.0.2.1")))
    assert person is not None and person.bulletins and person.subscriptions == ()
    site.deliver()
    return person


def words(page: str) -> str:
    """The words of a page's main part, spaces made single."""
    main = parse(page).find(".//main")
    assert main is not None
    return " ".join("".join(main.itertext()).split())


def parts_of(message: Message) -> list[str]:
    """The plain text and the HTML of ``message``."""
    found = []
    for part in message.walk():
        if part.get_content_maintype() == "text":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            found.append(payload.decode(part.get_content_charset() or "utf-8"))
    assert len(found) == 2
    return found


def test_neither_a_topic_nor_the_bulletins_is_refused_keeping_what_was_typed(
        staff_site: StaffSite):
    with staff_site.client() as client:
        response = sign_up(client, NEW, {})
    assert response.status_code == 400
    assert "Choose at least one topic, or the library's bulletins." in words(response.text)
    assert f'value="{NEW}"' in response.text
    with orm_session(staff_site.ctx) as session:
        assert session.scalars(select(Signup)).all() == []


def test_without_a_bulletin_for_subscribers_the_bulletins_alone_are_refused(
        make_context, smtp_server, tmp_path):
    # The box then only asks for any bulletin the library starts: alone, it would be nothing.
    subs = tmp_path / "subscriptions"
    shutil.copytree(ROOT / "subscriptions", subs)
    shutil.rmtree(subs / "bulletins")
    with (serving(make_context, smtp_server, AWARENESS_PATHS_SUBSCRIPTIONS=str(subs)) as site,
          site.client() as client):
        response = sign_up(client, NEW, {}, bulletins=True)
        assert response.status_code == 400
        assert "Choose at least one topic: the library sends no bulletin at the moment." in (
            words(response.text))
        assert 'value="yes" checked' in response.text  # the box stays as they left it
        assert sign_up(client, NEW, {"leadership": "weekly"}, bulletins=True).status_code == 200


def test_a_bulletins_only_reader_keeps_them_on_the_preference_page(staff_site: StaffSite):
    site = staff_site
    person = stored(site, EMAIL)
    assert person is not None and person.subscriptions and not person.bulletins
    url = f"/preferences/{person.token}"
    with site.client() as client:
        page = client.get(url)
        kept = client.post(url, data={"csrf": csrf_of(page.text), "bulletins": "yes",
                                      "frequency-leadership": "weekly", "paused_until": ""})
        assert kept.status_code == 303
        person = stored(site, EMAIL)
        assert person is not None and person.active and person.bulletins
        assert person.subscriptions == ()
        before = site.state()
        page = client.get(url)
        assert site.state() == before  # a GET changes nothing
        said = words(page.text)
        assert "Saved. You get the library's bulletins and no digest" in said
        assert "You get the library's bulletins only, no digest." in said
        assert "Unsubscribe from everything" in said  # a way to stop the bulletins too
        assert 'name="bulletins" value="yes" checked' in page.text
        mine = act_on(client, data_link(site, client, person.token, "download")).json()
        # ... what is stored says so too
        assert (mine["topics"], mine["bulletins"], mine["active"]) == ([], True, True)

        # Topics can be added to them ...
        added = client.post(url, data={"csrf": csrf_of(page.text), "bulletins": "yes",
                                       "topic": "digital", "frequency-digital": "daily"})
        assert added.status_code == 303
        assert stored(site, EMAIL).subscriptions == (("digital", "daily"),)  # type: ignore[union-attr]
        client.post(url, data={"csrf": csrf_of(page.text), "bulletins": "yes"})
        # ... and nothing at all is refused, as before, with the way to unsubscribe.
        before = site.state()
        nothing = client.post(url, data={"csrf": csrf_of(page.text)})
        assert nothing.status_code == 400
        assert "Choose at least one topic, or the library's bulletins." in words(nothing.text)
        assert site.state() == before
        left = client.post(f"{url}/unsubscribe", data={"csrf": csrf_of(page.text)})
        assert left.status_code == 303
        page = client.get(url)
        assert "unsubscribed from every digest and the library's bulletins" in words(page.text)
        # Nothing comes, and nothing is shown ticked: the bulletins box is left, as the topics.
        assert "You are unsubscribed: nothing is sent to" in words(page.text)
        assert 'name="bulletins" value="yes" checked' not in page.text
    assert not stored(site, EMAIL).active  # type: ignore[union-attr]


def test_a_bulletins_only_reader_is_not_told_of_digests_they_do_not_have(
        staff_site: StaffSite, clock: Clock):
    # The link mail offered to "manage the digests sent to" them, their page was headed "Your
    # digests" under "My digests", and a pause promised "no digests until", for someone who
    # has no digest; a pause stops the bulletins too, so nothing at all is sent.
    site = staff_site
    url = f"/preferences/{bulletins_reader(site).token}"
    with site.client() as client:
        ask = client.get("/preferences")
        asked = client.post("/preferences", data={"csrf": csrf_of(ask.text), "email": NEW})
        [link] = site.deliver()
        page = client.get(url)
        client.post(url, data={"csrf": csrf_of(page.text), "bulletins": "yes",
                               "paused_until": "2026-12-24"})
        page = client.get(url)
    assert link["Subject"] == "Your link to manage your current awareness subscription"
    for text in parts_of(link):
        assert "manage what the library sends to" in text and "digest" not in text.lower()
    for shown in (ask.text, asked.text):
        assert "digest" not in words(shown).replace("Every digest and bulletin", "").lower()
    nav = {"".join(a.itertext()) for a in parse(page.text).iter("a")
           if a.get("href") == "/preferences"}
    assert nav == {"My subscription"}
    said = words(page.text)
    assert "Your subscription What the library sends to n…@trust.nhs.uk." in said
    assert "Paused: nothing is sent until 24 December 2026." in said
    assert "For annual leave: nothing is sent until this date." in said
    # As the page says: no bulletin goes to them while they are paused.
    assert send_an_issue(site) == 0
