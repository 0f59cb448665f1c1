"""Downloading or erasing one's data takes a link mailed to one's own address (data_links).

The preference link is in every mail, and staff forward digests ("see item 3"): whoever holds
a forwarded mail may change or stop what is sent, as with any mailing list, but may not take
a copy of the person's data or erase them. Over real HTTP, with mail through the real relay
to an aiosmtpd server.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from awareness.data_links import (
    DOWNLOAD,
    ERASE,
    LIFETIME,
    data_link_token,
    fingerprint,
    read_data_link,
)
from awareness.feedback import item_token
from awareness.mail.account import DATA_LINK
from awareness.service import digests, people
from awareness.storage.models import OutboxMessage, Subscriber
from tests.conftest import Clock, orm_session, orm_writing
from tests.test_outbox import add_match
from tests.test_self_service import (
    FIXTURE_TIERS,
    StaffSite,
    act_on,
    ask_for_data_link,
    data_link,
    links_in,
    staff_site,
    stored,
    text_of,
    words,
)
from tests.test_web import EMAIL, csrf_of, parse

__all__ = ["FIXTURE_TIERS", "staff_site"]
SECRET = "s" * 40
NOW = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
TOKEN = "Tk9" * 14


# --- the signed link (pure) -------------------------------------------------------------------

@pytest.mark.parametrize("action", [DOWNLOAD, ERASE])
def test_a_link_names_the_subscriber_and_the_action_for_an_hour(action: str) -> None:
    signed = data_link_token(SECRET, 42, TOKEN, action, NOW)
    found = read_data_link(SECRET, signed, NOW + LIFETIME)
    assert found is not None and (found.subscriber_id, found.action) == (42, action)
    assert found.is_for(TOKEN) and not found.is_for(TOKEN[::-1])
    assert read_data_link(SECRET, signed, NOW + LIFETIME + timedelta(seconds=1)) is None
    assert TOKEN not in signed and fingerprint(TOKEN) not in TOKEN  # no token inside


def test_only_a_link_we_signed_for_this_is_taken() -> None:
    signed = data_link_token(SECRET, 42, TOKEN, DOWNLOAD, NOW)
    body, _, signature = signed.rpartition(".")
    erase = data_link_token(SECRET, 42, TOKEN, ERASE, NOW).rpartition(".")[0]
    for forged in (f"{erase}.{signature}",  # a download link made an erasure
                   f"{body}.{signature[:-2]}AA", signed[1:], "",
                   data_link_token("t" * 40, 42, TOKEN, DOWNLOAD, NOW),  # another key
                   item_token(SECRET, 42, 7, "leadership")):  # signed, for another purpose
        assert read_data_link(SECRET, forged, NOW) is None, forged
    with pytest.raises(ValueError, match="no such action"):
        data_link_token(SECRET, 42, TOKEN, "export", NOW)


# --- asking for one ---------------------------------------------------------------------------

def test_the_preference_page_mails_a_link_rather_than_giving_the_data(staff_site: StaffSite):
    site = staff_site
    person = stored(site, EMAIL)
    url = f"/preferences/{person.token}"
    with site.client() as client:
        page = client.get(url)
        html = parse(page.text)
        assert not [a for a in html.iter("a") if "data.json" in (a.get("href") or "")
                    or (a.get("href") or "").endswith("/erase")]
        actions = {f.findtext(".//button"): f.find(".//input[@name='action']").get("value")
                   for f in html.iter("form") if f.get("action") == f"{url}/data-link"}
        assert actions == {"E-mail me a link to download my data": DOWNLOAD,
                           "E-mail me a link to erase my data": ERASE}
        before = site.state()
        asked = ask_for_data_link(client, person.token, DOWNLOAD)
        assert asked.status_code == 303 and asked.headers["location"] == url
        assert ("We have e-mailed a link to download your data to j…@trust.nhs.uk; it works "
                "for an hour.") in words(client.get(url).text)
        again = ask_for_data_link(client, person.token, DOWNLOAD)  # a reload, a double click
        assert again.status_code == 303
    assert site.state() == before
    [mail] = site.deliver()
    assert (mail["To"], mail["Subject"]) == (EMAIL, "Your data: the link you asked for")
    assert "The link works for an hour. If you did not ask for this, ignore this message" in (
        text_of(mail))
    [link] = [link for link in links_in(mail, site.url) if "/your-data/" in link]
    assert link in text_of(mail)  # the plain text has it as well as the button
    with orm_session(site.ctx) as session:
        assert session.execute(select(OutboxMessage.kind, OutboxMessage.recipient).where(
            OutboxMessage.kind == DATA_LINK)).all() == [(DATA_LINK, EMAIL)]


def test_asking_again_and_again_floods_no_inbox(staff_site: StaffSite, clock: Clock):
    site = staff_site
    person = stored(site, EMAIL)
    limit = site.ctx.settings.signup.per_address_per_day
    with site.client() as client:
        answers = []
        for n in range(limit + 2):
            clock.advance(minutes=10)  # each a mail of its own, within the day's limit
            answers.append(ask_for_data_link(client, person.token,
                                             (DOWNLOAD, ERASE)[n % 2]))
    assert [a.status_code for a in answers] == [303] * limit + [429, 429]
    assert "This address has asked too many times today. Try again tomorrow." in (
        words(answers[-1].text))
    assert [m["To"] for m in site.deliver()] == [EMAIL] * limit


def test_a_bad_action_is_refused(staff_site: StaffSite):
    person = stored(staff_site, EMAIL)
    with staff_site.client() as client:
        assert ask_for_data_link(client, person.token, "export").status_code == 400
    assert staff_site.deliver() == []


# --- following it -----------------------------------------------------------------------------

def jos_link(site: StaffSite, client: httpx.Client, action: str) -> str:
    """The link to ``action`` their data that the seeded subscriber asked to be mailed."""
    return data_link(site, client, stored(site, EMAIL).token, action)


def test_opening_the_link_changes_nothing_and_its_button_downloads(staff_site: StaffSite):
    site = staff_site
    with site.client() as client:
        link = jos_link(site, client, DOWNLOAD)
        before = site.state()
        for method in ("GET", "HEAD"):
            opened = client.request(method, link)
            assert opened.status_code == 200
            assert opened.headers["content-type"].startswith("text/html")
        assert site.state() == before
        assert "Download my data" in words(client.get(link).text)
        data = act_on(client, link)
    assert data.status_code == 200 and data.headers["cache-control"] == "no-store"
    assert data.headers["content-disposition"] == 'attachment; filename="my-digests.json"'
    assert data.json() == people.export_subscriber(site.ctx, EMAIL)  # what data.json gave
    assert site.state() == before


def test_the_erase_link_says_what_goes_and_its_button_erases(staff_site: StaffSite):
    site = staff_site
    with site.client() as client:
        link = jos_link(site, client, ERASE)
        before = site.state()
        page = client.get(link)
        assert site.state() == before and stored(site, EMAIL) is not None
        said = words(page.text)
        for deleted in ("your address, your topics", "every message we sent you",
                        "the history of your subscription", "It cannot be undone"):
            assert deleted in said
        erased = act_on(client, link)
        assert erased.status_code == 200 and "Your data is erased" in words(erased.text)
        assert stored(site, EMAIL) is None
        assert client.get(link).status_code == 404  # it did its one thing


def expired_page(response: httpx.Response) -> None:
    """The page of a link that does nothing now: offers a new one, names no one."""
    assert response.status_code == 404
    said = words(response.text)
    assert "This link has expired or is not valid" in said and "Traceback" not in said
    assert "/preferences" in {a.get("href") for a in parse(response.text).iter("a")}
    assert EMAIL not in said and "j…@" not in said


@pytest.mark.parametrize("spoil", ["expire", "tamper", "erase", "new token"])
def test_a_link_that_should_not_work_is_refused(staff_site: StaffSite, clock: Clock,
                                                spoil: str):
    site = staff_site
    with site.client() as client:
        link = jos_link(site, client, ERASE)
        csrf = csrf_of(client.get(link).text)
        if spoil == "expire":
            clock.advance(minutes=59)
            assert client.get(link).status_code == 200  # still within its hour
            clock.advance(minutes=1, seconds=1)
        elif spoil == "tamper":
            link = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
        elif spoil == "erase":  # a librarian erased them since
            people.erase_subscriber(site.ctx, EMAIL)
        else:  # their preference link is another one now
            with orm_writing(site.ctx) as session:
                session.execute(update(Subscriber).where(Subscriber.email == EMAIL)
                                .values(token="N" * 43))
        expired_page(client.get(link))
        expired_page(client.post(link, data={"csrf": csrf}))
    assert (stored(site, EMAIL) is None) is (spoil == "erase")


# --- the forwarded mail -----------------------------------------------------------------------

def test_a_forwarded_digest_gives_nobody_the_data(staff_site: StaffSite, clock: Clock):
    """Holding only what a forwarded digest carries, a colleague can download nobody's data
    and erase nobody: every link of the mail, every old way, and asking for the link, which
    goes to the subscriber alone."""
    site = staff_site
    add_match(site.ctx, "Leadership framework for NHS boards published")
    clock.advance(days=7)
    digests.send_digests(site.ctx)
    [digest] = [m for m in site.deliver() if m["To"] == EMAIL]
    token = stored(site, EMAIL).token
    links = links_in(digest, site.url)
    assert f"{site.url}/preferences/{token}" in links
    answers = []
    with httpx.Client(base_url=site.url, follow_redirects=True) as colleague:
        for link in links:
            answers.append(colleague.get(link))
        url = f"/preferences/{token}"
        answers += [colleague.get(f"{url}/data.json"), colleague.get(f"{url}/erase")]
        csrf = csrf_of(colleague.get(url).text)
        answers.append(colleague.post(f"{url}/erase", data={"csrf": csrf}))
        for action in (DOWNLOAD, ERASE):
            answers.append(colleague.post(f"{url}/data-link",
                                          data={"csrf": csrf, "action": action}))
    for answer in answers:
        assert "json" not in answer.headers.get("content-type", ""), answer.url
    assert answers[-3].status_code == 405  # the old erase form's POST is gone
    assert stored(site, EMAIL) is not None
    assert [m["To"] for m in site.deliver()] == [EMAIL, EMAIL]  # to the mailbox alone
    with orm_session(site.ctx) as session:
        assert session.scalar(select(func.count()).select_from(OutboxMessage).where(
            OutboxMessage.kind == DATA_LINK, OutboxMessage.recipient != EMAIL)) == 0


def test_an_old_link_lands_on_the_part_that_mails_one(staff_site: StaffSite):
    person = stored(staff_site, EMAIL)
    url = f"/preferences/{person.token}"
    with staff_site.client() as client:
        for old in ("data.json", "erase"):
            moved = client.get(f"{url}/{old}")
            assert (moved.status_code, moved.headers["location"]) == (303, f"{url}#your-data")
        [part] = [h for h in parse(client.get(url).text).iter("h2") if h.get("id") == "your-data"]
    assert part.text == "Your data"
