"""Driver web pages over a real socket: list filters, the record's history, the
needs-attention page (librarians only) and "Draft a driver record" from the review page;
hostile strings stay inert (html5lib)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from xml.etree import ElementTree

import pytest
from sqlalchemy import select

from awareness.service import librarians
from awareness.service.context import Context
from awareness.service.drivers import import_paths
from awareness.storage.models import DriverRecordRow, Item, Match, MatchDriver
from tests.conftest import Clock, orm_session, orm_writing
from tests.test_drivers_stewardship import add_link, add_record
from tests.test_web import (
    HOSTILE_TITLE,
    PASSWORD,
    WHEN,
    Site,
    assert_inert,
    goes_to_login,
    login,
    parse,
    running_site,
    signed_in,
)

FIXTURE_TIERS = {"site": "integration"}  # tiers of this module's fixtures (conftest.py)


@pytest.fixture
def site(make_context: Callable[..., Context]) -> Iterator[Site]:
    with running_site(make_context) as running:
        with orm_writing(running.ctx) as session:
            for row in session.scalars(select(DriverRecordRow)):
                row.member = "FG"
                row.review_due_on = date(2026, 1, 1) if row.slug == "evil-record" else None
                if row.slug == "interim-nhs-people-plan":
                    row.gone_at = datetime(2026, 11, 20, 9, tzinfo=UTC)  # left the MAP site
        yield running


def slugs_linked(page: str, section: str = "") -> set[str]:
    """The records a page links to; on the attention page, in one of its lists only
    (``for-members``, ``no-one-list``, ``no-date-list``)."""
    tree = parse(page)
    if section:
        found = tree.find(f".//ul[@id='{section}']")
        if found is None:
            return set()
        tree = found
    return {a.get("href", "").removeprefix("/drivers/") for a in tree.iter("a")
            if a.get("href", "").startswith("/drivers/")} - {"attention"}


@pytest.mark.parametrize(("query", "expected"), [
    ("", {"interim-nhs-people-plan", "evil-record"}),
    ("?tag=leadership", {"interim-nhs-people-plan"}),
    ("?source=NHS+England", {"interim-nhs-people-plan"}),
    ("?member=fg&due=overdue", {"evil-record"}),
    ("?member=LK", set()),
    ("?q=digital+skills", {"interim-nhs-people-plan"}),
    ("?due=nonsense", {"interim-nhs-people-plan", "evil-record"}),
])
def test_list_filters(site: Site, query: str, expected: set[str]) -> None:
    with site.client() as client:
        response = client.get(f"/drivers{query}")
    assert response.status_code == 200
    assert slugs_linked(response.text) == expected


def text_of(element: ElementTree.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def test_staff_meet_the_records_under_one_name(site: Site) -> None:
    """The navigation said "Policy documents" and the page it opens "Drivers for change and
    case studies": staff who followed one name to another were unsure they had arrived."""
    with site.client() as anonymous:
        topics = parse(anonymous.get("/topics").text)
        listing = parse(anonymous.get("/drivers").text)
        record = parse(anonymous.get("/drivers/interim-nhs-people-plan").text)
    nav = next(el for el in topics.iter("nav") if el.get("aria-label") == "Main")
    label = next(text_of(a) for a in nav.iter("a") if a.get("href") == "/drivers")
    assert text_of(next(listing.iter("h1"))) == label
    assert text_of(next(listing.iter("title"))).startswith(f"{label} –")
    back = record.find(".//p[@class='breadcrumb']/a")
    assert back is not None and back.get("href") == "/drivers"
    assert text_of(back) == f"All {label.lower()}"
    assert text_of(record.find(".//p[@class='kind']")) == label.removesuffix("s")


def test_filter_values_are_echoed_inert(site: Site) -> None:
    with site.client() as client:
        response = client.get("/drivers", params={"q": HOSTILE_TITLE, "tag": '"><script>x'})
    tree = assert_inert(response.text)
    values = {el.get("name"): el.get("value") for el in tree.iter("input")}
    assert (values["q"], values["tag"]) == (HOSTILE_TITLE, '"><script>x')
    assert "No records match these filters." in response.text


def test_attention_page_is_for_librarians_and_inert(site: Site) -> None:
    with site.client() as client:
        assert goes_to_login(client.get("/drivers/attention"))
    with signed_in(site) as (client, _):
        page = client.get("/drivers/attention?member=FG")
        assert page.status_code == 200
        assert_inert(page.text)
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert slugs_linked(page.text, "for-members") == {"evil-record"}
        assert "review was due on 1 January 2026" in page.text
        assert slugs_linked(client.get("/drivers/attention?member=LK").text) == set()


def test_the_attention_page_lists_records_nobody_looks_after(site: Site) -> None:
    """A record naming no member, or with no review date, was in no list and no mail: the
    steering group never saw it to adopt it."""
    with orm_writing(site.ctx) as session:
        session.scalars(select(DriverRecordRow).where(
            DriverRecordRow.slug == "interim-nhs-people-plan")).one().member = ""
    add_record(site.ctx, "lk-undated", "LK", None, "LK's undated record")
    with signed_in(site) as (client, _):
        page = client.get("/drivers/attention").text
        lk = client.get("/drivers/attention?member=LK").text
    tree = assert_inert(page)
    assert {h2.get("id"): "".join(h2.itertext()) for h2 in tree.iter("h2")} == {
        "no-one-responsible": "No one responsible", "no-review-date": "No review date"}
    assert slugs_linked(page, "for-members") == {"evil-record"}
    assert slugs_linked(page, "no-one-list") == {"interim-nhs-people-plan"}
    assert slugs_linked(page, "no-date-list") == {"lk-undated"}
    nobody = tree.find(".//ul[@id='no-one-list']/li")
    assert nobody is not None and "no review date" in " ".join(nobody.itertext())
    # One member's page: their undated records; nobody's records are not theirs.
    assert (slugs_linked(lk, "no-one-list"), slugs_linked(lk, "no-date-list")) == (
        set(), {"lk-undated"})
    assert "Nothing needs attention." in lk


def member_options(page: str) -> list[tuple[str, str, bool]]:
    select_ = parse(page).find(".//select[@id='f-member']")
    assert select_ is not None and select_.get("name") == "member"
    return [(o.get("value", ""), "".join(o.itertext()), o.get("selected") is not None)
            for o in select_.iter("option")]


def test_the_records_list_offers_the_same_members_to_librarians_only(site: Site) -> None:
    """/drivers narrowed to a member by typed initials ("Steering-group member (initials)"),
    the attention page by name: both offer the one list now."""
    with signed_in(site) as (client, _):
        listing = member_options(client.get("/drivers?member=fg").text)
        attention = member_options(client.get("/drivers/attention?member=FG").text)
    assert listing == attention and ("FG", "FG – Example member FG", True) in listing
    with site.client() as anonymous:
        assert parse(anonymous.get("/drivers").text).find(".//select[@id='f-member']") is None


def test_the_attention_page_offers_the_members_by_name(site: Site) -> None:
    """Members picked their initials from memory in a box without a type; now the
    members.toml names and any initials a record uses without one are offered."""
    with orm_writing(site.ctx) as session:
        session.scalars(select(DriverRecordRow).where(
            DriverRecordRow.slug == "evil-record")).one().member = "ZZ"
    with signed_in(site) as (client, _):
        everyone = member_options(client.get("/drivers/attention").text)
        chosen = member_options(client.get("/drivers/attention?member=zz").text)
        echoed = client.get("/drivers/attention", params={"member": '"><script>x'})
    assert everyone == [("", "All members", False), ("FG", "FG – Example member FG", False),
                        ("JC", "JC – Example member JC", False),
                        ("JW", "JW – Example member JW", False),
                        ("LK", "LK – Example member LK", False),
                        ("VT", "VT – Example member VT", False), ("ZZ", "ZZ", False)]
    assert [value for value, _, selected in chosen if selected] == ["ZZ"]
    tree = assert_inert(echoed.text)
    assert [o for o in member_options(echoed.text) if o[2]] == [
        ('"><SCRIPT>X', '"><SCRIPT>X', True)]
    assert tree.find(".//ul[@class='record-list']/li") is None  # and no section either


def test_reasons_link_the_item_that_is_why(site: Site, clock: Clock) -> None:
    with orm_session(site.ctx) as session:
        plan = session.scalar(select(DriverRecordRow.id).where(
            DriverRecordRow.slug == "interim-nhs-people-plan"))
    assert plan is not None
    clock.advance(hours=1)  # linked after the record was last updated
    add_link(site.ctx, plan, "Policy paper: NHS People Plan 2020/21", "new_edition",
             link="https://www.gov.uk/government/publications/we-are-the-nhs-people-plan")
    add_link(site.ctx, plan, "Interim NHS People Plan", "same_document",
             link="javascript:alert(1)")
    with signed_in(site) as (client, _):
        for path in ("/drivers/attention?member=FG", "/drivers/interim-nhs-people-plan"):
            tree = assert_inert(client.get(path).text)
            items = {"".join(li.itertext()): li for li in tree.iter("li")}
            edition = items["new edition: Policy paper: NHS People Plan 2020/21"]
            assert [(a.get("href"), a.text) for a in edition.iter("a")] == [
                ("https://www.gov.uk/government/publications/we-are-the-nhs-people-plan",
                 "Policy paper: NHS People Plan 2020/21")], path
            assert not list(items["same document: Interim NHS People Plan"].iter("a")), path


def test_draft_from_the_review_page(site: Site) -> None:
    with signed_in(site) as (client, token):
        review = client.get("/review").text
        actions = {f.get("action") for f in parse(review).iter("form")}
        assert f"/review/{site.ids['hostile']}/draft" in actions
        response = client.post(f"/review/{site.ids['hostile']}/draft", data={"csrf": token})
        assert response.status_code == 303
        location = response.headers["location"]
        page = client.get(location)
    assert page.status_code == 200
    tree = assert_inert(page.text)
    assert HOSTILE_TITLE in " ".join(tree.find(".//h1").itertext())
    assert "Draft:" in page.text
    history = tree.find(".//ol[@class='history']")
    assert history is not None and "draft by alice" in " ".join(history.itertext())
    with orm_session(site.ctx) as session:
        row = session.scalar(select(DriverRecordRow).where(
            DriverRecordRow.slug == location.removeprefix("/drivers/")))
        assert row is not None and row.status == "draft"
        assert row.link == ""  # a javascript: link is not kept


def test_draft_needs_sign_in(site: Site) -> None:
    with site.client() as client:
        assert goes_to_login(client.post(f"/review/{site.ids['good']}/draft", data={}))


def test_drafts_and_the_history_are_for_librarians_only(site: Site) -> None:
    # Issue 14: draft records were listed and readable without signing in, with the internal
    # instruction text and librarians' user names.
    with signed_in(site) as (client, token):
        response = client.post(f"/review/{site.ids['good']}/draft", data={"csrf": token})
        draft = response.headers["location"]
        assert draft.removeprefix("/drivers/") in slugs_linked(client.get("/drivers").text)
        page = client.get(draft).text
        assert "Draft:" in page and "by alice" in page
        published = client.get("/drivers/interim-nhs-people-plan").text
        assert "History" in published
        assert "Gone from the MAP site</strong> since 20 November 2026" in published
        assert "Gone from the MAP site</span>" in client.get("/drivers").text
    with site.client() as anonymous:
        listing = anonymous.get("/drivers")
        assert listing.status_code == 200
        assert "Gone from the MAP site" not in listing.text
        assert draft.removeprefix("/drivers/") not in slugs_linked(listing.text)
        assert "interim-nhs-people-plan" in slugs_linked(listing.text)
        assert "Gone from the MAP site" not in anonymous.get(
            "/drivers/interim-nhs-people-plan").text
        hidden = anonymous.get(draft)
        assert hidden.status_code == 404
        assert "Draft" not in hidden.text and "alice" not in hidden.text
        public = anonymous.get("/drivers/interim-nhs-people-plan")
        assert public.status_code == 200
        assert "History" not in public.text and "alice" not in public.text


PLAN = "interim-nhs-people-plan"
TOPIC = "workforce-shortlist"  # a topic's file slug: a librarian's word, not a reader's


def link_each_status(site: Site) -> dict[str, int]:
    """An item linked to the People Plan by a match of each status, each with a reason of its
    own (the matcher's working); match ids by status."""
    ids = {}
    with orm_writing(site.ctx) as session:
        plan = session.scalar(select(DriverRecordRow).where(DriverRecordRow.slug == PLAN))
        assert plan is not None
        for status in ("pending", "approved", "rejected", "auto"):
            item = Item(source_id="nhs-england", key=f"status:{status}",
                        title=f"Item matched {status}", link=f"https://www.england.nhs.uk/{status}/",
                        first_seen_at=WHEN, published_at=WHEN)
            session.add(item)
            session.flush()
            match = Match(item_id=item.id, topic_slug=TOPIC, status=status, hits=[], score=1.0,
                          created_at=WHEN)
            session.add(match)
            session.flush()
            session.add(MatchDriver(match_id=match.id, driver_id=plan.id, kind="new_edition",
                                    score=1.0, reason=f"same series: reason-{status}"))
            ids[status] = match.id
    return ids


def linked_lines(page: str) -> list[str]:
    linked = parse(page).find(".//ul[@class='linked']")
    return [text_of(li) for li in linked.iter("li")] if linked is not None else []


def test_visitors_see_only_the_items_a_digest_could_send(site: Site) -> None:
    """A record's page showed anyone the items of matches still waiting for review, with the
    topic's file slug and the matcher's reasons ("new edition: same series: …")."""
    ids = link_each_status(site)
    with site.client() as anonymous:
        page = anonymous.get(f"/drivers/{PLAN}").text
    lines = linked_lines(page)
    # The seed's own link is from a match that waits for review too.
    assert [line.split(" · ")[0] for line in lines] == ["Item matched auto",
                                                        "Item matched approved"]
    assert lines[0] == "Item matched auto · NHS England, 20 November 2026"
    for internal in ("Item matched pending", "Item matched rejected", "reason-", TOPIC,
                     "same series", "new edition", "compassionate leadership", "Waiting",
                     "shares the tag", f"/review/{ids['approved']}"):
        assert internal not in page, internal
    with signed_in(site) as (client, _):
        page = client.get(f"/drivers/{PLAN}").text
    lines = linked_lines(page)
    assert [line.split(" · ")[0] for line in lines[:3]] == [
        "Item matched auto", "Item matched approved", "Item matched pending"]
    assert lines[2] == (f"Item matched pending · {TOPIC} · new edition: same series: "
                        f"reason-pending · Waiting: the match of Item matched pending")
    assert "Sent without review" in lines[0] and "Approved" in lines[1]
    assert "reason-rejected" not in page  # a rejected match links nothing, for anyone
    hrefs = {a.get("href") for a in parse(page).iter("a")}
    assert {f"/review/{ids[s]}" for s in ("pending", "approved", "auto")} <= hrefs


def test_an_item_reaches_visitors_once_approved_and_leaves_once_withdrawn(site: Site) -> None:
    ids = link_each_status(site)

    def visible() -> set[str]:
        with site.client() as anonymous:
            return {line.split(" · ")[0] for line in linked_lines(
                anonymous.get(f"/drivers/{PLAN}").text)}

    assert "Item matched pending" not in visible()
    with signed_in(site) as (client, token):
        client.post(f"/review/{ids['pending']}/approve", data={"csrf": token})
        assert "Item matched pending" in visible()
        client.post(f"/review/{ids['pending']}/undo", data={"csrf": token})
        assert "Item matched pending" not in visible()
        client.post(f"/review/{ids['auto']}/withdraw", data={"csrf": token})
    assert visible() == {"Item matched approved"}


def test_mark_reviewed_from_the_record_page(site: Site) -> None:
    """A member could only take a record off the needs-attention list by typing new dates
    into the Edit form; a record still right could not be cleared without a made-up edit."""
    with site.client() as anonymous:
        public = anonymous.get("/drivers/evil-record").text
        assert "Needs attention" not in public and "/reviewed" not in public
        assert goes_to_login(anonymous.post("/drivers/evil-record/reviewed", data={}))
    with signed_in(site) as (client, token):
        page = client.get("/drivers/evil-record")
        tree = assert_inert(page.text)
        box = tree.find(".//div[@id='needs-attention']")
        assert box is not None
        assert "review was due on 1 January 2026" in " ".join(box.itertext())
        form = box.find(".//form")
        assert form is not None and form.get("action") == "/drivers/evil-record/reviewed"
        today = site.ctx.now().date()
        next_value = {el.get("name"): el.get("value") for el in form.iter("input")}
        assert next_value["next_review"].endswith(str(today.year + 1))
        refused = client.post("/drivers/evil-record/reviewed",
                              data={"csrf": token, "next_review": "soon"})
        assert refused.status_code == 400
        error = parse(refused.text).find(".//div[@class='error-summary']")
        assert error is not None and "“soon” is not a date" in "".join(error.itertext())
        assert client.post("/drivers/evil-record/reviewed",
                           data={"csrf": "wrong", "next_review": ""}).status_code == 403
        done = client.post("/drivers/evil-record/reviewed",
                           data={"csrf": token, "next_review": "March 2028"})
        assert done.status_code == 303 and done.headers["location"] == "/drivers/evil-record"
        after = client.get("/drivers/evil-record").text
        assert "Marked reviewed. Next review: March 2028." in after
        assert "needs-attention" not in after
        history = parse(after).find(".//ol[@class='history']")
        assert history is not None and "reviewed by alice" in " ".join(history.itertext())
        assert slugs_linked(client.get("/drivers/attention?member=FG").text,
                            "for-members") == set()
    with orm_session(site.ctx) as session:
        row = session.scalar(select(DriverRecordRow).where(
            DriverRecordRow.slug == "evil-record"))
        assert row is not None and row.review_due_on == date(2028, 3, 1)
        assert row.fields["due_for_review"] == "March 2028"
        assert row.fields["date_last_updated"].endswith(str(today.year))


WHO_EDITS = ("Only editors and administrators can edit a record or mark it reviewed: alice, "
             "bob, carol. You are signed in as a reviewer: ask one of them, or ask an "
             "administrator (alice, bob) to make you an editor.")


def test_a_reviewer_is_told_who_can_mark_a_record_reviewed(site: Site) -> None:
    """A reviewer read "…then mark it reviewed" on the record and found no button and no
    Edit, with no word why."""
    librarians.add_librarian(site.ctx, "carol", PASSWORD, role="editor")
    librarians.add_librarian(site.ctx, "rita", PASSWORD, role="reviewer")
    with site.client() as client:
        assert login(client, "rita").status_code == 303
        attention = assert_inert(client.get("/drivers/evil-record").text)
        calm = assert_inert(client.get("/drivers/interim-nhs-people-plan").text)
        listing = assert_inert(client.get("/drivers/attention").text)
    box = attention.find(".//div[@id='needs-attention']")
    assert box is not None and box.find(".//form") is None
    for tree in (box, calm, listing):
        [note] = tree.iterfind(".//p[@id='who-edits']")
        assert " ".join("".join(note.itertext()).split()) == WHO_EDITS
    assert calm.find(".//div[@class='record-actions']") is None
    with signed_in(site) as (client, _):  # an administrator has the buttons, and no note
        for path in ("/drivers/evil-record", "/drivers/attention"):
            assert 'id="who-edits"' not in client.get(path).text
    with site.client() as anonymous:
        assert 'id="who-edits"' not in anonymous.get("/drivers/interim-nhs-people-plan").text


SEED_PAGE = Path(__file__).parent / "data" / "map-toolkit-leadership-tag-page.txt"


def field_labels(page: str) -> list[str]:
    record = parse(page).find(".//dl[@class='record']")
    assert record is not None
    return [" ".join(dt.itertext()) for dt in record.iter("dt")]


def test_a_record_lists_its_fields_in_the_order_of_a_map_page(site: Site) -> None:
    """The page sorted fields by name: "Date last updated" came before "Key features" and
    "Group member responsible" sat in the middle. The record shows the toolkit's order,
    after a driver's "What this means for libraries": what staff following a digest's link
    come to read, as newer posts on the seed page give it too."""
    import_paths(site.ctx, [SEED_PAGE], changed_by="alice")
    with site.client() as client:
        driver = client.get("/drivers/developing-people-improving-care-a-national-framework"
                            "-for-action-on-improvement").text
        case_study = client.get("/drivers/leadership-zone-shrewsbury-and-telford-hospital"
                                "-nhs-trust").text
    assert field_labels(driver) == [
        "What this means for libraries", "Source", "Link to main document",
        "Publication format", "Date of publication", "Summary", "Key features",
        "Primary audience", "Date last updated", "Due for review", "Group member responsible"]
    # A case study's summary is its story: listed once, where the page gives it.
    assert field_labels(case_study) == [
        "Project team", "Resources required", "Timeline", "The story",
        "Alignment to local, regional and national drivers",
        "Impact of this project or service", "Lessons learned",
        "Sustainability / next steps", "Contact details", "Date completed"]


def test_fields_no_map_page_has_come_last_by_name(site: Site) -> None:
    with orm_writing(site.ctx) as session:
        row = session.scalars(select(DriverRecordRow).where(
            DriverRecordRow.slug == "interim-nhs-people-plan")).one()
        row.fields = {"zebra_note": "z", "member_responsible": "FG", "also_seen_in": "a",
                      **row.fields}
    with site.client() as client:
        labels = field_labels(client.get("/drivers/interim-nhs-people-plan").text)
    assert labels == ["What this means for libraries", "Source", "Link to main document",
                      "Date of publication", "Summary", "Primary audience",
                      "Group member responsible", "Also seen in", "Zebra note"]


def history_labels(page: str) -> list[list[str]]:
    """Each history entry's changed fields, by their labels, as the record's page lists them."""
    history = parse(page).find(".//ol[@class='history']")
    assert history is not None
    return [["".join(li.itertext()).split(":")[0].strip() for li in entry.iter("li")][1:]
            for entry in history.findall("li")]


def test_the_history_lists_changes_in_the_pages_order(site: Site) -> None:
    """The history listed a change's fields by name ("Due for review", "Key features", "What
    this means for libraries"), not where the page above it shows them."""
    from awareness.service.driver_edits import edit_driver

    import_paths(site.ctx, [SEED_PAGE], changed_by="alice")
    slug = "developing-people-improving-care-a-national-framework-for-action-on-improvement"
    edit_driver(site.ctx, slug, changes={"due_for_review": "March 2030", "tags": "Quality",
                                         "impact": "Read it.", "key_features": "- One"},
                activate=False, changed_by="alice")
    with signed_in(site) as (client, _):
        driver = client.get(f"/drivers/{slug}").text
        case_study = client.get("/drivers/leadership-zone-shrewsbury-and-telford-hospital"
                                "-nhs-trust").text
    edited, created = history_labels(driver)
    assert edited == ["Tags", "What this means for libraries", "Key features",
                      "Due for review"]
    assert created[:3] == ["Title", "Tags", "What this means for libraries"]
    assert [label for label in created if label in field_labels(driver)] == field_labels(driver)
    [created] = history_labels(case_study)
    assert [label for label in created if label in field_labels(case_study)] == (
        field_labels(case_study))
