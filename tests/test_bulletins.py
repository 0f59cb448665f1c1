"""Weekly bulletins (issue 13): the file, the schedule, drafting, editing, sending once,
the archive and its Atom feed.

The service is driven through its own functions against a real database (both backends) and
a real SMTP server on loopback; what readers get is checked on the bytes the server received.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import xml.etree.ElementTree as ET
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from zoneinfo import ZoneInfo

import feedparser
import jinja2
import pytest
from jinja2 import FileSystemLoader
from sqlalchemy import select

from awareness.bulletins.build import (
    Issue,
    IssueEntry,
    Placed,
    Spotlight,
    moved,
    moved_to,
    plan_entries,
    sections_of,
)
from awareness.bulletins.config import parse_bulletin
from awareness.bulletins.render import BulletinLinks, render_issue
from awareness.bulletins.schedule import is_bank_holiday, next_due, reminder_time, send_slot
from awareness.catalogue import BulletinOffer, bulletin_offers
from awareness.digests.build import Candidate
from awareness.digests.render import Library, MailIdentity, make_environment
from awareness.errors import AwarenessError, ConfigError, ConfigErrors, NotFound
from awareness.feedback import ItemFeedbackLinks
from awareness.mail.compose import Mail
from awareness.service import bulletins, outbox, people
from awareness.service.bulletins import NotEditable, NotEditor
from awareness.storage.models import BulletinIssue, Item, Match, OutboxMessage, Source
from awareness.storage.models import Subscriber as SubscriberRow
from tests.conftest import ROOT, orm_session, orm_writing

LONDON = ZoneInfo("Europe/London")
GOLDEN = ROOT / "tests" / "data" / "golden-bulletin.eml"
BULLETIN = """\
title = "Workforce bulletin"
description = "Leadership and digital news for the workforce directorate."
send_day = "monday"
send_time = "09:00"
editors = ["alice"]
if_unapproved = "{if_unapproved}"

[audience]
subscribers = true
addresses = ["workforce.directorate@trust.nhs.uk"]

[[section]]
title = "Leadership"
topics = ["leadership"]

[[section]]
title = "Digital"
topics = ["digital"]
"""


# --- the file --------------------------------------------------------------------------------

def test_a_bulletin_file_with_five_mistakes_shows_all_five():
    text = ('title = ""\nsend_day = "fri"\nsend_time = "9am"\ncolour = "blue"\n'
            '[audience]\naddresses = ["not an address"]\n[[section]]\ntitle = "A"\n')
    with pytest.raises(ConfigErrors) as caught:
        parse_bulletin(text, "bulletins/w.toml", "w")
    lines = caught.value.located().splitlines()
    assert lines == [
        "bulletins/w.toml:1: title must not be empty",
        "bulletins/w.toml:2: send_day must be one of monday, tuesday, wednesday, thursday, "
        "friday, saturday, sunday, not 'fri'",
        "bulletins/w.toml:3: send_time must be a 24-hour time such as 09:00, not '9am'",
        "bulletins/w.toml:4: unknown key 'colour'; expected one of: audience, description, "
        "editors, if_unapproved, public_archive, section, send_day, send_time, title, topics",
        "bulletins/w.toml:6: addresses: 'not an address' is not one plain e-mail address",
        "bulletins/w.toml:7: section #1: a section needs topics = [\"…\"]",
    ]


def test_a_bulletin_needs_topics_and_an_audience():
    with pytest.raises(ConfigError, match="name the topics"):
        parse_bulletin('title = "T"\n', "b.toml", "b")
    with pytest.raises(ConfigError, match="nobody to go to") as caught:
        parse_bulletin('title = "T"\ntopics = ["leadership"]\n[audience]\nsubscribers = false\n',
                       "b.toml", "b")
    assert caught.value.line == 3


def test_staff_are_offered_the_bulletins_that_go_to_subscribers_by_title():
    """What the sign-up and preference pages say about each bulletin: its title, description
    and day, and nothing a librarian set for themselves."""
    weekly = parse_bulletin(BULLETIN.format(if_unapproved="hold"), "w.toml", "workforce")
    board = parse_bulletin('title = "Board papers"\ntopics = ["leadership"]\nsend_day = '
                           '"tuesday"\nsend_time = "17:30"\npublic_archive = false\n',
                           "b.toml", "board")
    directorate = parse_bulletin('title = "Directorate only"\ntopics = ["leadership"]\n'
                                 '[audience]\nsubscribers = false\naddresses = ["d@nhs.net"]\n',
                                 "d.toml", "directorate")
    offers = bulletin_offers([weekly, directorate, board])
    assert offers == [
        BulletinOffer("board", "Board papers", "", "every Tuesday at 5:30pm", archive=False),
        BulletinOffer("workforce", "Workforce bulletin",
                      "Leadership and digital news for the workforce directorate.",
                      "every Monday at 9am", archive=True)]


def test_topics_alone_make_one_section_per_topic_under_its_name():
    bulletin = parse_bulletin('title = "T"\ntopics = ["leadership", "digital"]\n', "b.toml", "b")
    names = {"leadership": "Leadership", "digital": "Digital health and AI"}
    assert [s.title for s in bulletin.sections_for(names)] == ["Leadership",
                                                             "Digital health and AI"]
    assert bulletin.all_topics == ("leadership", "digital")


def test_the_shipped_example_bulletin_parses():
    path = ROOT / "subscriptions" / "bulletins" / "weekly.toml"
    bulletin = parse_bulletin(path.read_text(encoding="utf-8"), str(path), "weekly")
    assert bulletin.all_topics == ("leadership", "digital")


# --- the schedule ----------------------------------------------------------------------------

def test_a_bank_holiday_monday_moves_the_send_to_tuesday():
    # 31 May 2027 is the spring bank holiday (from the holidays package, not a list here).
    assert is_bank_holiday(date(2027, 5, 31))
    slot = send_slot(datetime(2027, 5, 27, 12, tzinfo=UTC), day="monday", at=(9, 0), tz=LONDON)
    assert slot == datetime(2027, 6, 1, 9, 0, tzinfo=LONDON)
    # The reminder goes the working day before: Friday 28 May.
    assert reminder_time(slot, LONDON) == datetime(2027, 5, 28, 9, 0, tzinfo=LONDON)


def test_easter_moves_a_friday_bulletin_past_easter_monday():
    slot = send_slot(datetime(2027, 3, 24, 12, tzinfo=UTC), day="friday", at=(9, 0), tz=LONDON)
    assert slot == datetime(2027, 3, 30, 9, 0, tzinfo=LONDON)  # Good Friday, Easter Monday
    assert reminder_time(slot, LONDON) == datetime(2027, 3, 25, 9, 0, tzinfo=LONDON)


def test_an_ordinary_week_keeps_its_day_and_local_time_across_the_clock_change():
    before = send_slot(datetime(2027, 3, 15, 12, tzinfo=UTC), day="monday", at=(9, 0), tz=LONDON)
    assert before == datetime(2027, 3, 22, 9, 0, tzinfo=LONDON)
    assert before.astimezone(UTC).hour == 9  # Greenwich Mean Time
    after = send_slot(datetime(2027, 4, 1, 12, tzinfo=UTC), day="thursday", at=(9, 0), tz=LONDON)
    assert after == datetime(2027, 4, 8, 9, 0, tzinfo=LONDON)
    assert after.astimezone(UTC).hour == 8  # British Summer Time


def test_the_issue_after_one_sent_early_is_due_the_slot_after_its_own():
    # Issue 2 of a Friday bulletin, due Fri 11 Dec, went out early on Mon 7 Dec: issue 3 is
    # due Fri 18 Dec, not Fri 11 Dec (two issues in one week).
    early = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    own_slot = datetime(2026, 12, 11, 9, 0, tzinfo=LONDON)
    due = next_due(early, own_slot, day="friday", at=(9, 0), tz=LONDON)
    assert due == datetime(2026, 12, 18, 9, 0, tzinfo=LONDON)
    # Sent at its time, or late (held, then approved): the next slot after now.
    on_time = datetime(2026, 12, 11, 9, 5, tzinfo=UTC)
    assert next_due(on_time, own_slot, day="friday", at=(9, 0), tz=LONDON) == due
    late = datetime(2027, 1, 5, 9, 0, tzinfo=UTC)
    assert next_due(late, own_slot, day="friday", at=(9, 0), tz=LONDON) == datetime(
        2027, 1, 8, 9, 0, tzinfo=LONDON)
    assert next_due(early, None, day="friday", at=(9, 0), tz=LONDON) == own_slot  # the first


# --- drafting (pure) -------------------------------------------------------------------------

def _candidate(match_id: int, *, topic: str = "leadership", score: float = 1.0,
               story: int | None = None, days_old: int = 0, publisher: str = "NHS England"
               ) -> Candidate:
    return Candidate(match_id=match_id, item_id=match_id, topic_slug=topic,
                     title=f"Item {match_id}", link=f"https://example.org/{match_id}",
                     publisher=publisher,
                     published=datetime(2026, 11, 20, tzinfo=UTC) - timedelta(days=days_old),
                     summary="", score=score, note="", story=story or match_id)


def test_drafting_ranks_by_score_then_date_and_keeps_one_item_per_story():
    sections = parse_bulletin(BULLETIN.format(if_unapproved="hold"), "b.toml", "b").sections
    planned = plan_entries([
        _candidate(1, score=1.0, days_old=3),
        _candidate(2, score=2.0),
        _candidate(3, score=1.0, days_old=1),
        _candidate(4, score=1.5, story=2, publisher="CQC"),  # the same story as 2
        _candidate(5, topic="digital"),
        _candidate(6, topic="unrelated"),
        _candidate(7, story=70),  # already in an issue
    ], sections, present_stories={70})
    assert [(e.item_id, e.section, e.position) for e in planned] == [
        (2, "Leadership", 0), (5, "Digital", 0), (3, "Leadership", 1), (1, "Leadership", 2)]


def test_drafting_again_adds_after_what_each_section_holds():
    sections = parse_bulletin(BULLETIN.format(if_unapproved="hold"), "b.toml", "b").sections
    planned = plan_entries([_candidate(9)], sections, present_stories=set(),
                           positions=[Placed(1, "Leadership", 0), Placed(2, "Leadership", 4)])
    assert [(e.section, e.position) for e in planned] == [("Leadership", 5)]


def test_moving_an_entry_swaps_it_with_its_neighbour_in_its_section_only():
    placed = [Placed(1, "A", 0), Placed(2, "A", 1), Placed(3, "A", 2, removed=True),
              Placed(4, "A", 3), Placed(5, "B", 0)]
    # The removed entry is skipped: 2 changes places with 4.
    assert moved(placed, 2, "down") == [Placed(4, "A", 1), Placed(2, "A", 2)]
    assert moved(placed, 1, "up") == []  # already first
    assert moved(placed, 5, "down") == []  # alone in its section
    with pytest.raises(ValueError):
        moved(placed, 1, "sideways")



def test_moving_an_entry_to_another_section_puts_it_last_there():
    placed = [Placed(1, "A", 0), Placed(2, "A", 1), Placed(3, "B", 0),
              Placed(4, "B", 5, removed=True)]
    # After the removed entry too, so that Put back returns that one where it was.
    assert moved_to(placed, 1, "B") == Placed(1, "B", 6)
    assert moved_to(placed, 3, "C") == Placed(3, "C", 0)  # a section with nothing yet
    assert moved_to(placed, 2, "A") is None  # there already
    assert moved_to(placed, 4, "A") is None  # removed
    assert moved_to(placed, 9, "A") is None  # no such entry


# --- the mail (pure) -------------------------------------------------------------------------

WORKFORCE_PLAN = ("https://www.gov.uk/government/publications/"
                  "health-and-social-care-workforce-plan-2026-to-2036-implementation-guidance")
PCN_GUIDE = "https://www.england.nhs.uk/long-read/primary-care-network-leadership-and-team-roles"


def issue_mail(issue: Issue, *, now: datetime = datetime(2026, 12, 7, 10, 0, tzinfo=UTC),
               library: Library | None = None, links: BulletinLinks | None = None,
               env: jinja2.Environment | None = None, test: bool = False) -> Mail:
    """``issue`` as mail: a distribution list's copy unless ``links`` gives a subscriber's;
    with the shipped templates unless ``env`` is given; an editor's test copy if ``test``."""
    bulletin = parse_bulletin(BULLETIN.format(if_unapproved="hold"), "b.toml", "workforce")
    return render_issue(
        issue, bulletin, sections_of(issue, bulletin.sections),
        env=env or make_environment(FileSystemLoader(ROOT / "templates")),
        identity=MailIdentity("library@trust.nhs.uk", "Library", "<bulletins.trust.nhs.uk>",
                              "trust.nhs.uk", "https://library.example.nhs.uk"),
        library=library or Library(), to_addr="workforce.directorate@trust.nhs.uk",
        message_id="<bulletin.1@trust.nhs.uk>", now=now, tz=LONDON,
        links=links or BulletinLinks(), test=test)


def rendered_issue(issue: Issue, *, now: datetime = datetime(2026, 12, 7, 10, 0, tzinfo=UTC),
                   library: Library | None = None, links: BulletinLinks | None = None,
                   test: bool = False) -> tuple[str, str]:
    """(the text part, the HTML part) of ``issue``: a distribution list's copy unless
    ``links`` gives a subscriber's."""
    mail = issue_mail(issue, now=now, library=library, links=links, test=test)
    message = message_from_bytes(mail.data, policy=policy.default)
    return (message.get_body(("plain",)).get_content().replace("\r\n", "\n"),
            message.get_body(("html",)).get_content())


def an_issue(**changes: object) -> Issue:
    """Issue 2 of the workforce bulletin, due Monday 14 December 2026, with one entry."""
    entry = IssueEntry(
        entry_id=1, item_id=1, match_id=1, section="Leadership", position=0,
        title="Primary care network leadership roles", link=PCN_GUIDE,
        publisher="NHS England", published=datetime(2026, 12, 1, tzinfo=UTC), summary="",
        note=f"Network leads asked for the team-by-team role descriptions: see {PCN_GUIDE} "
             "and the self-assessment tool with it.", story=1)
    return replace(Issue(id=1, bulletin="workforce", number=2, status="approved",
                         covers_from=datetime(2026, 11, 30, tzinfo=UTC),
                         due_at=datetime(2026, 12, 14, 9, 0, tzinfo=UTC),
                         created_at=datetime(2026, 11, 30, 9, 5, tzinfo=UTC),
                         entries=(entry,)), **changes)


def test_the_text_part_keeps_paragraphs_and_never_splits_a_link():
    intro = ("This week the long-term workforce plan's implementation guidance is out, "
             f"with what it asks of trusts' education and library teams: {WORKFORCE_PLAN}\n\n"
             "Second, the library's own news: we are open late on Thursdays until Christmas.")
    spotlight = Spotlight("workforce-plan", "Long-term workforce plan", "The plan in short.",
                          f"Well-evidenced, up-to-date training: see {WORKFORCE_PLAN} now.",
                          "/drivers/workforce-plan")
    text, _ = rendered_issue(an_issue(intro=intro, spotlight=spotlight))
    lines = text.splitlines()
    # Each link whole on a line of its own; nothing cut at a hyphen.
    assert lines.count(WORKFORCE_PLAN) == 2
    assert sum(PCN_GUIDE in line for line in lines) == 2  # the entry's link, and in its note
    assert not [line for line in lines if line.endswith("-") and line.strip("-")]  # but the rule
    # The introduction's two paragraphs, a blank line between them.
    first = text.index("This week the long-term")
    second = text.index("Second, the library's own news")
    assert text[first:second].endswith(f"{WORKFORCE_PLAN}\n\n")
    assert all(len(line) <= 72 for line in lines if "https://" not in line)


def test_a_test_copy_says_what_a_subscriber_s_copy_has_that_it_lacks():
    # "Exactly as readers will get it", the editor was told, of a copy without the feedback
    # and preference links, whose link to the web version is a 404 until the issue is sent.
    web = BulletinLinks(web="https://library.example.nhs.uk/bulletins/workforce/2")
    text, html = rendered_issue(an_issue(), links=web, test=True)
    said = " ".join(text.split())
    assert "TEST COPY, NOT SENT TO READERS. A subscriber's copy also has links of its own: " \
        "Useful and Not useful under each item" in said
    assert "The link to read the issue on the web works once the issue is sent." in said
    assert "<strong>Test copy, not sent to readers.</strong> A subscriber's copy" in html
    assert "works once the issue is sent" not in " ".join(
        rendered_issue(an_issue(), test=True)[0].split())  # no web link, nothing said of it
    for part in rendered_issue(an_issue(), links=web):  # a reader's copy says none of it
        assert "test copy" not in part.lower()


def test_a_bulletin_ends_with_the_digests_footer():
    """Both mails write their footer from one macro (templates/mail/footer.*), so one cannot
    drift from the other: the same rule, order, wording and styles, differing only in their
    own links, what "Tell us more" is about, and the reason each gives."""
    from tests import test_digest_render as digest

    base = "https://library.example.nhs.uk"
    links = BulletinLinks(f"{base}/bulletins/workforce/2", f"{base}/preferences/t",
                          f"{base}/bulletins/stop/t", f"{base}/feedback/t")
    text, html = rendered_issue(an_issue(), library=digest.LIBRARY, links=links)
    digest_text, digest_html = digest.parts(digest.render(
        make_environment(FileSystemLoader(ROOT / "templates")),
        tell_us_more_url=f"{base}/feedback/d"))
    contact = ("Questions, or need the full text of something? Write to "
               + digest.LIBRARY.contact_email)
    reason = "You receive this bulletin because your subscription includes the"
    assert text.split("-" * 40 + "\n")[1].splitlines() == [
        reason, "library's bulletins.",  # wrapped at 72, as the digest's reason is
        f"Read this issue on the web: {links.web}",
        f"Manage your subscription: {links.preferences}",
        f"Tell us more about this bulletin: {links.tell_us_more}",
        f"Stop receiving bulletins: {links.unsubscribe}", contact, digest.LIBRARY.name]
    assert digest_text.split("-" * 40 + "\n")[1].splitlines()[-4:] == [
        f"Tell us more about these updates: {base}/feedback/d",
        f"Unsubscribe: {digest.UNSUBSCRIBE}", contact, digest.LIBRARY.name]

    def footer(html: str) -> ET.Element:
        return [td for td in digest.html_tree(html).iter("td")
                if digest.LIBRARY.name in digest.text_of(td) and td.find(".//td") is None][-1]

    def styles(html: str) -> list[tuple[str, str]]:
        """Each element of the footer with its style, written one way (css-inline writes
        the bulletin's with spaces)."""
        return [(el.tag, re.sub(r"\s|;$", "", el.get("style", ""))) for el in footer(html).iter()]

    assert styles(html) == styles(digest_html)
    assert f"{reason} library's bulletins." in [digest.text_of(p) for p in footer(html).iter("p")]
    # A distribution list's copy has no links, and no reason (the list is the reason): no
    # line is kept for them.
    _, list_copy = rendered_issue(an_issue(), library=digest.LIBRARY)
    assert [digest.text_of(p) for p in footer(list_copy).iter("p")] == [
        contact + ".", digest.LIBRARY.name]


def test_golden_bulletin():
    """Why: one whole issue byte for byte (headers, the HTML after css-inline, the text
    part) as a subscriber gets it, with everything an issue and the settings can add (a
    correction, an introduction, a spotlight, a note, feedback links, the logo and contact),
    so that a change to its templates, to the mail frame they share with every mail or to
    css-inline shows up in review as a diff of this file."""
    from tests import test_digest_render as digest

    base = "https://library.example.nhs.uk"
    spotlight = Spotlight("workforce-plan", "Long-term workforce plan", "The plan in short.",
                          "Well-evidenced, up-to-date training for every team.",
                          "/drivers/workforce-plan")
    issue = an_issue(intro="This week: the workforce plan's guidance.\n\nWe open late on "
                           "Thursdays & Fridays.", spotlight=spotlight,
                     correction="The plan's date was wrong in the first copy.")
    links = BulletinLinks(f"{base}/bulletins/workforce/2", f"{base}/preferences/t",
                          f"{base}/bulletins/stop/t", f"{base}/feedback/t",
                          {1: ItemFeedbackLinks(f"{base}/useful/1", f"{base}/not-useful/1")})
    library = replace(digest.LIBRARY, logo_url="https://www.northshire.nhs.uk/library/logo.png")
    actual = digest.normalise(issue_mail(issue, library=library, links=links).data)
    if os.environ.get("AWARENESS_UPDATE_GOLDEN") == "1":
        GOLDEN.write_text(actual, encoding="ascii", newline="\n")
    assert actual == GOLDEN.read_text(encoding="ascii")


def test_an_issue_is_dated_the_day_it_went_out():
    issue = an_issue()  # due Monday 14 December
    sent_early = replace(issue, status="sent", sent_at=datetime(2026, 12, 9, 16, 0, tzinfo=UTC))
    text, html = rendered_issue(sent_early, now=datetime(2026, 12, 9, 16, 0, tzinfo=UTC))
    assert "Issue 2 · 9 December 2026" in text and "Issue 2 · 9 December 2026" in html
    assert "14 December" not in text + html
    # Before it goes: the preview gives its slot, or today once a held issue's slot has passed.
    text, _ = rendered_issue(issue, now=datetime(2026, 12, 7, 10, 0, tzinfo=UTC))
    assert "Issue 2 · 14 December 2026" in text
    text, _ = rendered_issue(issue, now=datetime(2026, 12, 16, 10, 0, tzinfo=UTC))
    assert "Issue 2 · 16 December 2026" in text


# --- drafting, editing, sending (a real database and SMTP server) ---------------------------

@pytest.fixture
def subscriptions(tmp_path: Path) -> Path:
    """The repository's topics and sources, with the test's bulletin."""
    folder = tmp_path / "subscriptions"
    shutil.copytree(ROOT / "subscriptions", folder)
    shutil.rmtree(folder / "bulletins")
    (folder / "bulletins").mkdir()
    return folder


def write_bulletin(folder: Path, *, if_unapproved: str = "hold", text: str | None = None) -> None:
    (folder / "bulletins" / "workforce.toml").write_text(
        text or BULLETIN.format(if_unapproved=if_unapproved), encoding="utf-8")


@pytest.fixture
def bulletin_ctx(make_context, smtp_server, subscriptions):
    controller, inbox = smtp_server
    write_bulletin(subscriptions)
    ctx = make_context(AWARENESS_MAIL_BACKEND="smtp", AWARENESS_MAIL_SMTP_HOST="127.0.0.1",
                       AWARENESS_MAIL_SMTP_PORT=str(controller.port),
                       AWARENESS_WEB_BASE_URL="https://library.example.nhs.uk",
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(subscriptions))
    reader = people.add_subscriber(ctx, "reader@trust.nhs.uk", ["leadership"], "weekly")
    people.add_subscriber(ctx, "digests.only@trust.nhs.uk", ["leadership"], "weekly")
    with orm_writing(ctx) as session:
        session.get(SubscriberRow, reader.id).bulletins = True
    return ctx, inbox


def add_item(ctx, title: str, *, topic: str = "leadership", status: str = "approved",
             score: float = 1.0, publisher: str = "NHS England", story_of: int | None = None,
             note: str = "") -> int:
    """An item from ``publisher`` with a match for ``topic``; its item id."""
    now = ctx.now()
    source_id = publisher.lower().replace(" ", "-")
    with orm_writing(ctx) as session:
        if session.get(Source, source_id) is None:
            session.add(Source(id=source_id, name=f"{publisher} news", publisher=publisher,
                               url=f"https://{source_id}.example.org/feed", kind="feed"))
        item = Item(source_id=source_id, key=f"link:{title}:{publisher}", title=title,
                    link=f"https://{source_id}.example.org/{abs(hash(title))}",
                    summary_text=f"{title}. A summary of it.", first_seen_at=now,
                    published_at=now, story_id=story_of)
        session.add(item)
        session.flush()
        session.add(Match(item_id=item.id, topic_slug=topic, status=status, hits=[],
                          score=score, created_at=now, reader_note=note))
        return item.id


def copies(ctx, kind: str = "bulletin") -> list[tuple[str, str]]:
    with orm_session(ctx) as session:
        return [tuple(row) for row in session.execute(
            select(OutboxMessage.key, OutboxMessage.recipient)
            .where(OutboxMessage.kind == kind).order_by(OutboxMessage.key))]


def test_draft_edit_approve_send_once_archive_and_feed(bulletin_ctx, clock):
    ctx, inbox = bulletin_ctx
    lead = add_item(ctx, "Leadership framework for NHS boards", score=3.0,
                    note="Appraisal season starts in January.")
    add_item(ctx, "Leadership framework for NHS boards", publisher="CQC", story_of=lead)
    digital = add_item(ctx, "Virtual wards guidance", topic="digital")
    add_item(ctx, "Pending: not reviewed yet", status="pending")
    add_item(ctx, "Rejected: off topic", status="rejected")

    # The queue's job for another bulletin leaves this one alone; its own job drafts it.
    assert bulletins.tick(ctx, "another").drafted == []
    report = bulletins.tick(ctx, "workforce")
    assert report.drafted == ["workforce #1"] and report.sent == []
    issue = bulletins.issue(ctx, "workforce", 1)
    assert issue.status == "draft"
    assert issue.due_at == datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # next Monday, GMT
    shown = [(e.section, e.title, e.also_published_by) for e in issue.shown]
    assert shown == [("Leadership", "Leadership framework for NHS boards", ("CQC",)),
                     ("Digital", "Virtual wards guidance", ())]

    # Editing: only the bulletin's editors; a removed item stays removed when drafted again.
    with pytest.raises(NotEditor):
        bulletins.set_intro(ctx, "workforce", 1, "Hello", by="mallory")
    entry = {e.item_id: e.entry_id for e in issue.entries}
    bulletins.set_intro(ctx, "workforce", 1, "This week: boards and leadership.", by="alice")
    bulletins.remove_entry(ctx, "workforce", 1, entry[digital], by="alice")
    later = add_item(ctx, "Leadership in primary care networks", score=0.5)
    bulletins.draft(ctx, "workforce")
    issue = bulletins.issue(ctx, "workforce", 1)
    assert [e.title for e in issue.shown] == ["Leadership framework for NHS boards",
                                              "Leadership in primary care networks"]
    entry = {e.item_id: e.entry_id for e in issue.entries}
    bulletins.move_entry(ctx, "workforce", 1, entry[later], "up", by="alice")
    bulletins.set_note(ctx, "workforce", 1, entry[later], "PCN leads asked for this.",
                       by="alice")

    # Due and not approved: held, nothing queued, the reminder went to nobody (no address).
    clock.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    report = bulletins.tick(ctx)
    assert report.held == ["workforce #1"] and copies(ctx) == []
    assert bulletins.issue(ctx, "workforce", 1).held_at == clock.now

    bulletins.approve(ctx, "workforce", 1, by="alice")
    report = bulletins.tick(ctx)
    assert report.sent == ["workforce #1"] and report.queued == 2
    assert [recipient for _, recipient in copies(ctx)] == [
        "workforce.directorate@trust.nhs.uk", "reader@trust.nhs.uk"]
    outbox.relay(ctx)
    bulletins.tick(ctx)  # the next issue is drafted; nothing is sent again
    outbox.relay(ctx)
    assert sorted(rcpts[0] for _, rcpts, _ in inbox.messages) == [
        "reader@trust.nhs.uk", "workforce.directorate@trust.nhs.uk"]
    assert [i.number for i in bulletins.issues(ctx, "workforce")] == [2, 1]

    by_recipient = {rcpts[0]: message_from_bytes(data, policy=policy.default)
                    for _, rcpts, data in inbox.messages}
    reader = by_recipient["reader@trust.nhs.uk"]
    assert reader["Subject"] == ("Workforce bulletin: issue 1 · Leadership in primary care "
                                 "networks")
    text = reader.get_body(("plain",)).get_content()
    assert text.index("Leadership in primary care networks") < text.index(
        "Leadership framework for NHS boards")  # the editor's order
    assert "This week: boards and leadership." in text
    assert "Why it matters: PCN leads asked for this." in text
    assert "Also published by CQC" in text
    assert "Virtual wards" not in text
    # Readers can say whether each item was useful; a distribution list's copy cannot.
    assert text.count("Was this useful to you?") == 2
    assert "https://library.example.nhs.uk/feedback/" in text and "Tell us more" in text
    html = reader.get_body(("html",)).get_content()
    assert '<h1 style="' in html  # styles inlined for Outlook
    assert "Why it matters:" in html and "Virtual wards" not in html
    assert reader["List-Unsubscribe"].startswith("<https://library.example.nhs.uk/bulletins/stop/")
    directorate = by_recipient["workforce.directorate@trust.nhs.uk"]
    assert directorate["List-Unsubscribe"] is None  # a distribution list cannot leave
    directorate_text = directorate.get_body(("plain",)).get_content()
    assert "/preferences/" not in directorate_text and "/feedback/" not in directorate_text

    # The archive and its feed.
    feed = feedparser.parse(bulletins.atom(ctx, "workforce"))
    assert not feed.bozo, feed.bozo_exception
    assert [e.link for e in feed.entries] == ["https://library.example.nhs.uk/bulletins/workforce/1"]
    first_id, first_updated = feed.entries[0].id, feed.entries[0].updated
    assert "Leadership framework for NHS boards" in feed.entries[0].content[0].value

    # A correction changes the page and the feed's "updated", and sends nothing.
    clock.advance(days=1)
    bulletins.set_correction(ctx, "workforce", 1, "The PCN link was wrong; it is fixed.",
                             by="alice")
    feed = feedparser.parse(bulletins.atom(ctx, "workforce"))
    assert feed.entries[0].id == first_id and feed.entries[0].updated != first_updated
    assert "The PCN link was wrong" in feed.entries[0].content[0].value
    outbox.relay(ctx)
    assert len(inbox.messages) == 2


def test_an_unapproved_issue_goes_as_drafted_when_the_bulletin_says_send(
        bulletin_ctx, subscriptions, clock):
    ctx, _ = bulletin_ctx
    write_bulletin(subscriptions, if_unapproved="send")
    add_item(ctx, "Leadership framework for NHS boards")
    bulletins.tick(ctx)
    clock.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    report = bulletins.tick(ctx)
    assert report.sent == ["workforce #1"] and report.held == []
    issue = bulletins.issue(ctx, "workforce", 1)
    assert issue.status == "sent" and issue.approved_by.startswith("schedule")


def test_an_editor_gets_a_reminder_the_working_day_before(bulletin_ctx, clock):
    from awareness.service import librarians

    ctx, _ = bulletin_ctx
    librarians.add_librarian(ctx, "alice", "a long enough password")
    librarians.set_email(ctx, "alice", "alice@library.nhs.uk")
    add_item(ctx, "Leadership framework for NHS boards")
    bulletins.tick(ctx)
    assert copies(ctx, "bulletin_reminder") == []
    clock.now = datetime(2026, 11, 27, 9, 0, tzinfo=UTC)  # Friday before the Monday issue
    bulletins.tick(ctx)
    bulletins.tick(ctx)  # once per editor and issue
    assert copies(ctx, "bulletin_reminder") == [("workforce/1/alice", "alice@library.nhs.uk")]
    with orm_session(ctx) as session:
        raw = session.scalar(select(OutboxMessage.message)
                             .where(OutboxMessage.kind == "bulletin_reminder"))
    reminder = message_from_bytes(raw, policy=policy.default)
    assert reminder["Subject"].endswith("issue 1 is due Monday 30 November at 9am")


def test_drafts_are_never_in_the_archive(bulletin_ctx, caplog):
    ctx, _ = bulletin_ctx
    add_item(ctx, "Leadership framework for NHS boards")
    with caplog.at_level(logging.INFO, logger="awareness.service.bulletins"):
        bulletins.draft(ctx, "workforce")
    # The log gives the slot in the deployment's time, as the pages do, not as UTC's ISO.
    assert "bulletin workforce: drafted issue 1, due Mon 30 Nov 2026, 09:00" in caplog.messages
    with pytest.raises(NotFound):
        bulletins.archived(ctx, "workforce", 1, librarian=False)
    assert bulletins.archive(ctx, "workforce", librarian=False)[1] == []
    with pytest.raises(NotEditable):
        bulletins.send_issue(ctx, "workforce", 1)


# --- a change after approval ------------------------------------------------------------------

def approved_issue(ctx) -> dict[str, int]:
    """Issue 1 drafted with two leadership items and one digital, approved by alice; entry
    ids by title."""
    add_item(ctx, "Leadership framework for NHS boards", score=3.0)
    add_item(ctx, "Compassionate leadership in nursing", score=2.0)
    add_item(ctx, "Virtual wards guidance", topic="digital")
    bulletins.draft(ctx, "workforce")
    bulletins.approve(ctx, "workforce", 1, by="alice")
    return {e.title: e.entry_id for e in bulletins.issue(ctx, "workforce", 1).entries}


CHANGES = {
    "intro": lambda ctx, e: bulletins.set_intro(ctx, "workforce", 1, "New words.", by="alice"),
    "move": lambda ctx, e: bulletins.move_entry(
        ctx, "workforce", 1, e["Compassionate leadership in nursing"], "up", by="alice"),
    "remove": lambda ctx, e: bulletins.remove_entry(
        ctx, "workforce", 1, e["Virtual wards guidance"], by="alice"),
    "note": lambda ctx, e: bulletins.set_note(
        ctx, "workforce", 1, e["Virtual wards guidance"], "Read this.", by="alice"),
    "add": lambda ctx, e: bulletins.add_item(
        ctx, "workforce", 1, add_item(ctx, "Added late", status="pending"), "Digital",
        by="alice"),
    "move-to": lambda ctx, e: bulletins.move_to_section(
        ctx, "workforce", 1, e["Compassionate leadership in nursing"], "Digital", by="alice"),
}


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_change_to_an_approved_issue_takes_the_approval_back(bulletin_ctx, clock, change):
    ctx, _ = bulletin_ctx
    entries = approved_issue(ctx)
    assert CHANGES[change](ctx, entries) == "alice"  # whose approval it took back
    issue = bulletins.issue(ctx, "workforce", 1)
    assert (issue.status, issue.approved_by, issue.approved_at) == ("draft", None, None)
    clock.now = issue.due_at  # its time: held, as any unapproved issue, and nothing goes out
    report = bulletins.tick(ctx)
    assert report.sent == [] and report.held == ["workforce #1"] and copies(ctx) == []


def test_putting_back_an_item_takes_the_approval_back_too(bulletin_ctx):
    ctx, _ = bulletin_ctx
    entries = approved_issue(ctx)
    wards = entries["Virtual wards guidance"]
    assert bulletins.remove_entry(ctx, "workforce", 1, wards, by="alice") == "alice"
    bulletins.approve(ctx, "workforce", 1, by="alice")
    assert bulletins.remove_entry(ctx, "workforce", 1, wards, by="alice",
                                  removed=False) == "alice"
    assert bulletins.issue(ctx, "workforce", 1).status == "draft"


def test_saving_what_an_approved_issue_already_says_keeps_the_approval(bulletin_ctx):
    ctx, _ = bulletin_ctx
    entries = approved_issue(ctx)
    lead = entries["Leadership framework for NHS boards"]
    assert bulletins.set_intro(ctx, "workforce", 1, "", by="alice") is None
    assert bulletins.set_note(ctx, "workforce", 1, lead, " ", by="alice") is None
    assert bulletins.set_spotlight(ctx, "workforce", 1, "", by="alice") is None
    assert bulletins.move_entry(ctx, "workforce", 1, lead, "up", by="alice") is None  # first
    issue = bulletins.issue(ctx, "workforce", 1)
    assert (issue.status, issue.approved_by) == ("approved", "alice")


# --- moving an item to another section ----------------------------------------------------------

def sections_in_text(text: str) -> list[tuple[str, list[str]]]:
    """Each section of a bulletin's text part (its title as the mail writes it, upper case)
    with the titles of its items in order."""
    lines = text.splitlines()
    found: list[tuple[str, list[str]]] = []
    for at, line in enumerate(lines[1:], start=1):
        if line and set(line) == {"="} and len(line) == len(lines[at - 1]):
            found.append((lines[at - 1], []))
        elif line.startswith("* ") and found:
            found[-1][1].append(line[2:])
    return found


def test_an_editor_moves_an_item_to_another_section(bulletin_ctx, clock):
    ctx, inbox = bulletin_ctx
    entries = approved_issue(ctx)
    nursing = entries["Compassionate leadership in nursing"]
    lead = entries["Leadership framework for NHS boards"]
    assert bulletins.move_to_section(ctx, "workforce", 1, nursing, "Digital",
                                     by="alice") == "alice"  # the approval it took back
    issue = bulletins.issue(ctx, "workforce", 1)
    assert issue.status == "draft"
    expected = [("LEADERSHIP", ["Leadership framework for NHS boards"]),
                ("DIGITAL", ["Virtual wards guidance", "Compassionate leadership in nursing"])]
    assert sections_in_text(bulletins.preview(ctx, "workforce", 1).text) == expected
    # It stays where the editor put it: drafting again neither moves it back nor adds it twice,
    # and moving up and down then works within its new section.
    bulletins.draft(ctx, "workforce")
    bulletins.move_entry(ctx, "workforce", 1, nursing, "up", by="alice")
    expected[1] = ("DIGITAL", ["Compassionate leadership in nursing", "Virtual wards guidance"])
    assert sections_in_text(bulletins.preview(ctx, "workforce", 1).text) == expected

    # What cannot move is refused, saying why, and changes nothing.
    bulletins.approve(ctx, "workforce", 1, by="alice")
    with pytest.raises(AwarenessError, match="already under Digital; nothing was moved"):
        bulletins.move_to_section(ctx, "workforce", 1, nursing, "Digital", by="alice")
    with pytest.raises(NotFound, match="no section 'Policy'"):
        bulletins.move_to_section(ctx, "workforce", 1, nursing, "Policy", by="alice")
    with pytest.raises(NotFound, match="no entry 999"):
        bulletins.move_to_section(ctx, "workforce", 1, 999, "Digital", by="alice")
    with pytest.raises(NotEditor):
        bulletins.move_to_section(ctx, "workforce", 1, nursing, "Leadership", by="mallory")
    assert bulletins.issue(ctx, "workforce", 1).status == "approved"
    bulletins.remove_entry(ctx, "workforce", 1, lead, by="alice")
    with pytest.raises(AwarenessError, match="put it back before moving it"):
        bulletins.move_to_section(ctx, "workforce", 1, lead, "Digital", by="alice")

    # Sent, the mail and the archive show it under its new section.
    bulletins.remove_entry(ctx, "workforce", 1, lead, by="alice", removed=False)
    bulletins.approve(ctx, "workforce", 1, by="alice")
    bulletins.send_issue(ctx, "workforce", 1)
    outbox.relay(ctx)
    mail = message_from_bytes(inbox.messages[0][2], policy=policy.default)
    assert sections_in_text(mail.get_body(("plain",)).get_content()) == expected
    html = mail.get_body(("html",)).get_content()
    under_digital = html[html.index(">Digital</h2>"):]  # past the preheader's titles
    assert "Compassionate leadership in nursing" in under_digital
    assert "Compassionate leadership in nursing" not in html[
        html.index(">Leadership</h2>"):html.index(">Digital</h2>")]


def test_an_item_moved_to_a_section_empty_this_week_brings_that_section_in(bulletin_ctx):
    ctx, _ = bulletin_ctx
    lead = add_item(ctx, "Leadership framework for NHS boards", score=2.0)
    add_item(ctx, "Digital leadership for boards")  # matched by leadership, about digital
    bulletins.draft(ctx, "workforce")
    entries = {e.item_id: e.entry_id for e in bulletins.issue(ctx, "workforce", 1).entries}
    assert sections_in_text(bulletins.preview(ctx, "workforce", 1).text) == [
        ("LEADERSHIP", ["Leadership framework for NHS boards", "Digital leadership for boards"])]
    assert bulletins.move_to_section(ctx, "workforce", 1, entries[lead], "Digital",
                                     by="alice") is None  # a draft: no approval to take back
    assert sections_in_text(bulletins.preview(ctx, "workforce", 1).text) == [
        ("LEADERSHIP", ["Digital leadership for boards"]),
        ("DIGITAL", ["Leadership framework for NHS boards"])]


def test_a_held_issue_approved_then_changed_waits_for_approval_again(bulletin_ctx, clock):
    ctx, _ = bulletin_ctx
    approved_issue(ctx)
    bulletins.reopen(ctx, "workforce", 1, by="alice")
    clock.now = bulletins.issue(ctx, "workforce", 1).due_at
    assert bulletins.tick(ctx).held == ["workforce #1"]
    bulletins.approve(ctx, "workforce", 1, by="alice")
    bulletins.set_intro(ctx, "workforce", 1, "Changed after approval.", by="alice")
    clock.advance(minutes=15)
    report = bulletins.tick(ctx)
    assert report.sent == [] and report.held == [] and copies(ctx) == []  # held already
    bulletins.approve(ctx, "workforce", 1, by="alice")
    assert bulletins.tick(ctx).sent == ["workforce #1"]
    with orm_session(ctx) as session:
        sent = session.scalars(select(OutboxMessage.message)
                               .where(OutboxMessage.kind == "bulletin")).all()
    assert len(sent) == 2 and all(b"Changed after approval." in m for m in sent)


def test_a_change_while_a_send_reads_the_issue_stops_the_send(bulletin_ctx, clock,
                                                              monkeypatch):
    """The race: the pass reads the approved issue, an editor changes it, then the pass
    would begin sending. It finds the issue a draft again and sends nothing."""
    ctx, _ = bulletin_ctx
    approved_issue(ctx)
    clock.now = bulletins.issue(ctx, "workforce", 1).due_at
    real_issue = bulletins.issue
    raced = []

    def read_then_an_editor_changes_it(*args, **kwargs):
        found = real_issue(*args, **kwargs)
        if not raced:
            raced.append(bulletins.set_intro(ctx, "workforce", 1, "Unapproved words.",
                                             by="alice"))
        return found
    monkeypatch.setattr(bulletins, "issue", read_then_an_editor_changes_it)
    with pytest.raises(NotEditable, match="changed after it was approved"):
        bulletins.send_issue(ctx, "workforce", 1)
    assert raced == ["alice"]
    monkeypatch.undo()
    issue = bulletins.issue(ctx, "workforce", 1)
    assert (issue.status, issue.sent_at) == ("draft", None) and copies(ctx) == []


def test_an_issue_that_has_begun_to_go_out_cannot_change(bulletin_ctx):
    ctx, _ = bulletin_ctx
    entries = approved_issue(ctx)
    with orm_writing(ctx) as session:  # a send that died after it began
        session.get_one(BulletinIssue, bulletins.issue(ctx, "workforce", 1).id).sent_at = (
            ctx.now())
    for change in CHANGES.values():
        with pytest.raises(NotEditable, match="has begun to go out"):
            change(ctx, entries)
    with pytest.raises(NotEditable, match="has begun to go out"):
        bulletins.reopen(ctx, "workforce", 1, by="alice")
    issue = bulletins.issue(ctx, "workforce", 1)
    assert issue.status == "approved" and issue.intro == ""
    assert bulletins.send_issue(ctx, "workforce", 1) == 2


# --- digests on bank holidays, as a setting ----------------------------------------------------

def test_digests_skip_a_bank_holiday_only_when_the_library_asks():
    from awareness.digests.schedule import missed_runs, sends_today

    easter_monday, tuesday = date(2027, 3, 29), date(2027, 3, 30)
    assert sends_today("daily", easter_monday, weekly_day="mon", skip_holidays=False)
    assert sends_today("weekly", easter_monday, weekly_day="mon", skip_holidays=False)
    assert not sends_today("daily", easter_monday, weekly_day="mon", skip_holidays=True)
    assert not sends_today("weekly", easter_monday, weekly_day="mon", skip_holidays=True)
    assert sends_today("weekly", tuesday, weekly_day="mon", skip_holidays=True)
    assert sends_today("daily", tuesday, weekly_day="mon", skip_holidays=True)
    assert sends_today("weekly", date(2027, 4, 6), weekly_day="tue", skip_holidays=True)
    assert not sends_today("weekly", date(2027, 4, 7), weekly_day="tue", skip_holidays=True)
    # A restart on Easter Monday at 10:00 catches nothing up; on Tuesday it sends the week's.
    monday_ten = datetime(2027, 3, 29, 10, 0, tzinfo=LONDON)
    assert missed_runs(monday_ten, LONDON, daily_time="07:00", weekly_day="mon",
                       weekly_time="07:00", skip_holidays=True) == []
    assert missed_runs(monday_ten, LONDON, daily_time="07:00", weekly_day="mon",
                       weekly_time="07:00") == ["daily", "weekly"]
    tuesday_ten = datetime(2027, 3, 30, 10, 0, tzinfo=LONDON)
    assert missed_runs(tuesday_ten, LONDON, daily_time="07:00", weekly_day="mon",
                       weekly_time="07:00", skip_holidays=True) == ["daily", "weekly"]
    tuesday_six = datetime(2027, 3, 30, 6, 0, tzinfo=LONDON)
    assert missed_runs(tuesday_six, LONDON, daily_time="07:00", weekly_day="mon",
                       weekly_time="07:00", skip_holidays=True) == []


def test_check_names_a_bulletin_topic_that_has_no_file(tmp_path, subscriptions):
    from awareness.service.checks import check_all
    from awareness.settings import load_settings

    write_bulletin(subscriptions, text='title = "T"\ntopics = ["leadership", "nursing"]\n')
    settings = load_settings(environ={"AWARENESS_PATHS_SUBSCRIPTIONS": str(subscriptions),
                                      "AWARENESS_PATHS_DATA": str(tmp_path / "var")},
                             cwd=tmp_path)
    errors, _ = check_all(settings)
    assert errors == [f"{subscriptions / 'bulletins' / 'workforce.toml'}: no topic 'nursing' "
                      "(known topics: digital, leadership)"]


def test_a_bulletin_cannot_take_the_stop_links_address():
    with pytest.raises(ConfigError, match="cannot be called 'stop'"):
        parse_bulletin('title = "T"\ntopics = ["leadership"]\n', "bulletins/stop.toml", "stop")


def test_an_issue_drafted_in_a_bank_holiday_week_is_due_the_next_working_day(bulletin_ctx,
                                                                             clock):
    ctx, _ = bulletin_ctx
    clock.now = datetime(2027, 5, 27, 12, 0, tzinfo=UTC)  # Thursday before the spring holiday
    add_item(ctx, "Leadership framework for NHS boards")
    report = bulletins.tick(ctx)
    assert report.drafted == ["workforce #1"]
    due = bulletins.issue(ctx, "workforce", 1).due_at
    assert due == datetime(2027, 6, 1, 9, 0, tzinfo=LONDON)  # Tuesday, not Monday 31 May


def test_sending_an_issue_early_leaves_the_next_issue_its_own_week(bulletin_ctx, clock):
    from awareness.service.workbench import next_sends

    ctx, _ = bulletin_ctx
    add_item(ctx, "Leadership framework for NHS boards")
    bulletins.tick(ctx)
    assert bulletins.issue(ctx, "workforce", 1).due_at == datetime(2026, 11, 30, 9, 0,
                                                                   tzinfo=UTC)
    clock.now = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)  # Wednesday, ahead of Monday's slot
    bulletins.approve(ctx, "workforce", 1, by="alice")
    assert bulletins.send_issue(ctx, "workforce", 1) == 2
    # Before the next pass drafts it, the librarians' overview already gives its week.
    upcoming = {send.name: send.at for send in next_sends(ctx)}
    assert upcoming["Workforce bulletin"] == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    report = bulletins.tick(ctx)
    assert report.drafted == ["workforce #2"]
    following = bulletins.issue(ctx, "workforce", 2)
    assert following.due_at == datetime(2026, 12, 7, 9, 0, tzinfo=UTC)  # not 30 November
    # Approved at once, it still waits for its own Monday: nothing goes on 30 November.
    add_item(ctx, "Leadership in primary care networks")
    bulletins.draft(ctx, "workforce")
    bulletins.approve(ctx, "workforce", 2, by="alice")
    clock.now = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    assert bulletins.tick(ctx).sent == []
    clock.now = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
    assert bulletins.tick(ctx).sent == ["workforce #2"]
