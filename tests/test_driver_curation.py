"""Curating driver records on the web (issue 14): drafts for librarians only and marked as
drafts on every page and listing, drafting again opens the same draft, deleting keeps the
history, and the edit form with every field, dates checked and styled errors. Over a real
server, spoken to with httpx."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date

import pytest
from sqlalchemy import func, select

from awareness.model import NewMatch
from awareness.service import librarians
from awareness.service.context import Context
from awareness.service.driver_views import get_driver
from awareness.service.stewardship import needs_attention
from awareness.storage import drivers as stored_drivers
from awareness.storage import matches, outbox
from awareness.storage.db import reading, writing
from awareness.storage.models import DriverRecordRow, DriverRecordVersion, MatchDriver
from tests.conftest import orm_session
from tests.test_web import (
    PASSWORD,
    Site,
    assert_inert,
    goes_to_login,
    login,
    parse,
    running_site,
    signed_in,
)

FIXTURE_TIERS = {"site": "integration"}
PLAN = "interim-nhs-people-plan"
DRAFT_TITLE = "NHS sets out compassionate leadership programme"


@pytest.fixture
def site(make_context: Callable[..., Context]) -> Iterator[Site]:
    with running_site(make_context) as running:
        yield running


def draft(site: Site, client_token: tuple[object, str]) -> str:
    client, token = client_token
    answer = client.post(f"/review/{site.ids['good']}/draft",  # type: ignore[attr-defined]
                         data={"csrf": token})
    assert answer.status_code == 303
    return str(answer.headers["location"]).removeprefix("/drivers/")


def record_count(site: Site) -> int:
    with orm_session(site.ctx) as session:
        return session.scalar(select(func.count()).select_from(DriverRecordRow)) or 0


def test_drafts_are_for_librarians_only_on_every_page_and_listing(site: Site) -> None:
    with signed_in(site) as (client, token):
        slug = draft(site, (client, token))
        listing = client.get("/drivers").text
        item = next(li for li in parse(listing).iter("li")
                    if DRAFT_TITLE in "".join(li.itertext()))
        assert "Draft" in "".join(item.itertext())
        assert 'id="f-member"' in listing  # the steering group's filters, for librarians
        assert "Draft" in client.get(f"/drivers/{slug}").text
        assert "Draft" in client.get(f"/review/{site.ids['good']}").text
    with site.client() as anonymous:
        for path in ("/drivers", "/drivers?q=compassionate", "/drivers?source=NHS+England",
                     "/topics", "/drivers/attention", f"/review/{site.ids['good']}"):
            answer = anonymous.get(path)
            assert DRAFT_TITLE not in answer.text, path
            assert "alice" not in answer.text, path
        assert 'id="f-member"' not in anonymous.get("/drivers").text  # staff: words, tag, source
        assert anonymous.get(f"/drivers/{slug}").status_code == 404
        assert anonymous.get(f"/drivers/{slug}/edit").status_code == 303


def test_drafting_again_from_the_same_match_opens_the_draft(site: Site) -> None:
    with signed_in(site) as (client, token):
        first = draft(site, (client, token))
        page = client.get(f"/drivers/{first}").text
        assert 'class="flash"' not in page  # a new draft needs no word
        # The draft named its title twice: as the title and as "Title of driver".
        form = parse(client.get(f"/drivers/{first}/edit").text)
        values = {el.get("name"): el.get("value") for el in form.iter("input")}
        assert (values["title"], values["title_of_driver"]) == (DRAFT_TITLE, "")
        count = record_count(site)
        assert draft(site, (client, token)) == first
        # Drafting again said nothing: it looked like a new draft.
        flash = parse(client.get(f"/drivers/{first}").text).find(".//p[@class='flash']")
        assert flash is not None and "".join(flash.itertext()) == (
            "A draft from this item already exists: this is it.")
        client.post(f"/review/{site.ids['good']}/links/remove",
                    data={"csrf": token, "slug": first})
        assert draft(site, (client, token)) == first  # and the removed link stays removed
        links = client.get(f"/review/{site.ids['good']}").text
    assert record_count(site) == count
    removed = [li for li in parse(links).iter("li") if li.get("class") == "link-removed"]
    assert len(removed) == 1


def test_delete_asks_first(site: Site) -> None:
    """The record page's "Delete this record" deleted at once: one slip next to "Edit"
    took a record out of every list, link and digest, with no way back."""
    with signed_in(site) as (client, _):
        record = parse(client.get(f"/drivers/{PLAN}").text)
        assert f"/drivers/{PLAN}/delete" not in {f.get("action") for f in record.iter("form")}
        links = {a.get("href"): "".join(a.itertext()) for a in record.iter("a")}
        assert links[f"/drivers/{PLAN}/delete"] == "Delete this record"
        ask = client.get(f"/drivers/{PLAN}/delete")
        assert ask.status_code == 200
        tree = assert_inert(ask.text)
        heading = tree.find(".//h1")
        assert heading is not None and heading.text == "Delete this record?"
        assert "Interim NHS People Plan" in ask.text
        forms = [f for f in tree.iter("form") if f.get("action") == f"/drivers/{PLAN}/delete"]
        assert len(forms) == 1 and forms[0].get("method") == "post"
        assert f"/drivers/{PLAN}" in {a.get("href") for a in forms[0].iter("a")}  # cancel
    assert get_driver(site.ctx, PLAN).status == "active"  # asking changed nothing
    with site.client() as anonymous:
        assert goes_to_login(anonymous.get(f"/drivers/{PLAN}/delete"))


def test_delete_keeps_the_history_and_hides_the_record(site: Site) -> None:
    with signed_in(site) as (client, token):
        assert client.post(f"/drivers/{PLAN}/delete", data={}).status_code == 403
        client.post(f"/drivers/{PLAN}/edit", data={"csrf": token, "due_for_review": "May 2027"})
        assert PLAN in {e.slug for e in needs_attention(site.ctx, today=date(2099, 1, 1))}
        answer = client.post(f"/drivers/{PLAN}/delete", data={"csrf": token})
        assert answer.status_code == 303 and answer.headers["location"] == "/drivers"
        listing = client.get("/drivers").text
        assert "Deleted: Interim NHS People Plan" in listing
        assert f"/drivers/{PLAN}\"" not in listing
        page = client.get(f"/drivers/{PLAN}").text  # librarians still see it, marked
        assert "Deleted:" in page and "deleted by alice" in " ".join(page.split())
        assert "Interim NHS People Plan" not in client.get("/review").text
        assert client.get(f"/drivers/{PLAN}/edit").status_code == 404
    with site.client() as anonymous:
        assert anonymous.get(f"/drivers/{PLAN}").status_code == 404
        assert "Interim NHS People Plan" not in anonymous.get("/drivers").text
    assert PLAN not in {entry.slug for entry in needs_attention(site.ctx, today=date(2099, 1, 1))}
    with reading(site.ctx.engine) as conn:
        assert PLAN not in {r.slug for _, r in stored_drivers.records_for_linking(conn)}
        assert outbox.linked_records(conn, [site.ids["good"]]) == {}


def edit(site: Site, client: object, token: str, **values: str) -> object:
    return client.post(f"/drivers/{PLAN}/edit",  # type: ignore[attr-defined]
                       data={"csrf": token, **values})


def test_the_edit_form_has_every_field_including_the_title(site: Site) -> None:
    with signed_in(site) as (client, token):
        form = parse(client.get(f"/drivers/{PLAN}/edit").text)
        names = {el.get("name") for el in [*form.iter("input"), *form.iter("textarea"),
                                           *form.iter("select")]}
        assert {"title", "impact", "summary", "key_features", "source", "link",
                "publication_format", "date_of_publication", "primary_audience",
                "due_for_review", "member_responsible", "notes", "tags"} <= names
        answer = edit(site, client, token, title="NHS People Plan (interim)",
                      due_for_review="February 2018")
        assert answer.status_code == 303  # type: ignore[attr-defined]
        page = client.get(f"/drivers/{PLAN}").text
    assert "<h1>NHS People Plan (interim)</h1>" in page


@pytest.mark.parametrize("value", ["not a date", "31/02/2027"])
def test_review_dates_are_checked_with_a_styled_error(site: Site, value: str) -> None:
    with signed_in(site) as (client, token):
        answer = edit(site, client, token, due_for_review=value)
        assert answer.status_code == 400  # type: ignore[attr-defined]
        tree = parse(answer.text)  # type: ignore[attr-defined]
        box = [el for el in tree.iter("div") if el.get("class") == "error-summary"]
        assert box and "is not a date" in "".join(box[0].itertext())
        field = next(el for el in tree.iter("input") if el.get("name") == "due_for_review")
        assert field.get("value") == value  # what was typed stays to be corrected
    with orm_session(site.ctx) as session:
        row = session.scalars(select(DriverRecordRow).where(DriverRecordRow.slug == PLAN)).one()
        assert "due_for_review" not in row.fields


def test_an_empty_title_is_refused(site: Site) -> None:
    with signed_in(site) as (client, token):
        answer = edit(site, client, token, title="  ")
        assert answer.status_code == 400  # type: ignore[attr-defined]
        assert "the title cannot be empty" in answer.text  # type: ignore[attr-defined]


def link_states(site: Site, match_id: int) -> dict[str, str]:
    with orm_session(site.ctx) as session:
        rows = session.execute(select(DriverRecordRow.slug, MatchDriver.state)
                               .join(MatchDriver, MatchDriver.driver_id == DriverRecordRow.id)
                               .where(MatchDriver.match_id == match_id)).all()
    return {slug: state for slug, state in rows}


def test_deleting_a_deleted_record_says_so_and_offers_to_restore_it(site: Site) -> None:
    """A second press of "Delete this record" (another tab, a reload) gave a 404 page: "no
    driver record", as if it had never existed."""
    with signed_in(site) as (client, token):
        assert client.post(f"/drivers/{PLAN}/delete", data={"csrf": token}).status_code == 303
        again = client.post(f"/drivers/{PLAN}/delete", data={"csrf": token})
        assert (again.status_code, again.headers["location"]) == (303, f"/drivers/{PLAN}")
        tree = parse(client.get(again.headers["location"]).text)
    flash = tree.find(".//p[@class='flash']")
    assert flash is not None and "".join(flash.itertext()) == (
        "This record was already deleted; “Restore this record” brings it back.")
    assert tree.find(".//div[@id='deleted']//button") is not None
    with orm_session(site.ctx) as session:
        assert session.scalar(select(func.count()).where(  # one "deleted" entry, not two
            DriverRecordVersion.action == "deleted")) == 1


def said(page: str, box: str) -> str:
    found = parse(page).find(f".//*[@{box}]")
    assert found is not None, box
    return " ".join(" ".join(found.itertext()).split())


def test_deleting_and_restoring_count_the_linked_items_in_words(site: Site) -> None:
    """"with the 0 items linked to it", "its 0 linked items"."""
    with orm_session(site.ctx) as session, session.begin():
        session.add(DriverRecordRow(slug="lonely", kind="driver", title="Lonely", source="",
                                    link="", impact="", summary="", tags=[], fields={},
                                    created_at=site.ctx.now(), updated_at=site.ctx.now()))
    with signed_in(site) as (client, token):
        assert "(no item is linked now)" in said(
            client.get("/drivers/lonely/delete").text, "class='lead'")
        assert "(1 item is linked now)" in said(
            client.get("/drivers/evil-record/delete").text, "class='lead'")
        for slug in ("lonely", "evil-record"):
            client.post(f"/drivers/{slug}/delete", data={"csrf": token})
        assert "published, with no items linked to it, in every list" in said(
            client.get("/drivers/lonely").text, "id='deleted'")
        assert "published, with the item linked to it, in every list" in said(
            client.get("/drivers/evil-record").text, "id='deleted'")
        client.post("/drivers/lonely/restore", data={"csrf": token})
        assert said(client.get("/drivers/lonely").text, "class='flash'") == (
            "Restored: Lonely. It is published again, with no linked items.")


def test_a_deleted_record_is_restored_as_it_was(site: Site) -> None:
    """A deleted record could not be brought back, and a re-import left it deleted: one
    mistaken delete was permanent."""
    good, hostile = site.ids["good"], site.ids["hostile"]
    with signed_in(site) as (client, token):
        client.post(f"/review/{hostile}/links/add", data={"csrf": token, "slug": PLAN})
        assert client.post(f"/drivers/{PLAN}/delete", data={"csrf": token}).status_code == 303
        # The topic is re-matched meanwhile: the linker no longer sees the record, and its
        # suggested link to the good item must still be there to come back.
        with writing(site.ctx.engine) as conn:
            matches.refresh(conn, good, NewMatch(topic_slug="leadership", status="pending",
                                                 hits=(), score=2.0, profile_version="v2"))
        assert f"/drivers/{PLAN}\"" not in client.get("/drivers").text
        deleted = parse(client.get("/drivers?status=deleted").text)
        restore_forms = [f for f in deleted.iter("form")
                         if f.get("action") == f"/drivers/{PLAN}/restore"]
        assert len(restore_forms) == 1 and restore_forms[0].get("method") == "post"
        page = client.get(f"/drivers/{PLAN}").text
        box = parse(page).find(".//div[@id='deleted']")
        assert box is not None
        assert "back as it was before it was deleted, published, with the 2 items" in " ".join(
            " ".join(box.itertext()).split())
        # State changes only on a POST with the session's token.
        assert client.get(f"/drivers/{PLAN}/restore").status_code in (404, 405)
        assert client.post(f"/drivers/{PLAN}/restore", data={}).status_code == 403
        assert get_driver(site.ctx, PLAN).status == "deleted"
        answer = client.post(f"/drivers/{PLAN}/restore", data={"csrf": token})
        assert answer.status_code == 303 and answer.headers["location"] == f"/drivers/{PLAN}"
        restored = client.get(f"/drivers/{PLAN}").text
        assert ("Restored: Interim NHS People Plan. It is published again, with its 2 "
                "linked items.") in restored
        assert "restored by alice" in " ".join(restored.split())
        assert "Deleted:" not in restored
        assert f"/drivers/{PLAN}\"" in client.get("/drivers").text
        assert "Interim NHS People Plan" in client.get("/review").text
        again = client.post(f"/drivers/{PLAN}/restore", data={"csrf": token})
        assert again.status_code == 400 and "is not deleted" in again.text
    assert link_states(site, good) == {PLAN: "suggested"}
    assert link_states(site, hostile)[PLAN] == "added"
    assert get_driver(site.ctx, PLAN).history[0].changes == {"status": ["deleted", "active"]}
    with reading(site.ctx.engine) as conn:
        assert PLAN in {r.slug for _, r in stored_drivers.records_for_linking(conn)}
        assert set(outbox.linked_records(conn, [good])) == {good}
    with site.client() as anonymous:
        assert anonymous.get(f"/drivers/{PLAN}").status_code == 200


def test_a_deleted_draft_is_restored_as_a_draft(site: Site) -> None:
    with signed_in(site) as (client, token):
        slug = draft(site, (client, token))
        client.post(f"/drivers/{slug}/delete", data={"csrf": token})
        page = client.get(f"/drivers/{slug}").text
        assert "before it was deleted, as a draft" in " ".join(page.split())
        client.post(f"/drivers/{slug}/restore", data={"csrf": token})
        assert "It is back as a draft" in client.get(f"/drivers/{slug}").text
    assert get_driver(site.ctx, slug).status == "draft"
    with site.client() as anonymous:
        assert anonymous.get(f"/drivers/{slug}").status_code == 404


def test_deleted_records_are_listed_for_editors_only(site: Site) -> None:
    librarians.add_librarian(site.ctx, "rita", PASSWORD, role="reviewer", by="alice")
    with signed_in(site) as (client, token):
        client.post(f"/drivers/{PLAN}/delete", data={"csrf": token})
        listing = client.get("/drivers").text
        assert "/drivers?status=deleted" in listing and 'name="status"' in listing
        assert f"/drivers/{PLAN}\"" in client.get("/drivers?status=deleted").text
    with site.client() as reviewer:
        assert login(reviewer, "rita").status_code == 303
        listing = reviewer.get("/drivers?status=deleted").text
        assert f"/drivers/{PLAN}\"" not in listing and "/restore" not in listing
        assert "/drivers?status=deleted" not in listing
        assert "/restore" not in reviewer.get(f"/drivers/{PLAN}").text  # marked, no button
    with site.client() as anonymous:  # staff following a digest link, and any visitor
        for path in ("/drivers?status=deleted", "/drivers?status=deleted&q=people",
                     "/drivers?q=people+plan", f"/drivers/{PLAN}"):
            answer = anonymous.get(path)
            assert "Interim NHS People Plan" not in answer.text, path
            assert "Restore" not in answer.text and "status=deleted" not in answer.text, path
        assert anonymous.get(f"/drivers/{PLAN}").status_code == 404
        assert goes_to_login(anonymous.post(f"/drivers/{PLAN}/restore", data={}))
    assert get_driver(site.ctx, PLAN).status == "deleted"
