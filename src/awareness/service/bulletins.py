"""Bulletins: draft the next issue, let its editors change it, send it once on schedule,
and serve the archive (issue 13; docs/bulletins.md).

Each step is read (storage) → decide (``bulletins.*``, pure) → write (storage) in short
transactions. Sending puts one copy per recipient in the outbox under
``<bulletin>/<number>/<recipient>`` — unique, so a run that dies half-way and runs again
queues only what is missing — and the issue becomes ``sent`` only once every copy is queued.
The relay then sends them as it sends every message.
"""

from __future__ import annotations

import email
import hashlib
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection

from awareness.bulletins.build import (
    Issue,
    IssueSection,
    NewEntry,
    moved,
    moved_to,
    plan_entries,
    sections_of,
)
from awareness.bulletins.config import BulletinDef
from awareness.bulletins.render import (
    BulletinLinks,
    atom_feed,
    issue_context,
    mail_html,
    message_id,
    render_issue,
    web_url,
)
from awareness.bulletins.schedule import next_due, reminder_time
from awareness.catalogue import PublicArchive, listed_archives
from awareness.dates import day_and_time, local_time
from awareness.digests.render import Library, MailIdentity
from awareness.digests.subscribers import Subscriber
from awareness.errors import AwarenessError, NotFound
from awareness.mail.compose import MAIL_POLICY, Mail, Sender, compose
from awareness.mail.outbox import (
    BULLETIN,
    BULLETIN_REMINDER,
    BULLETIN_TEST,
    Queued,
    bulletin_key,
)
from awareness.service import feedback, people, subscribing
from awareness.service.context import Context
from awareness.storage import bulletins as store
from awareness.storage import librarians, outbox, subscribers
from awareness.storage.db import reading, writing
from awareness.subscriber_history import THEMSELVES

log = logging.getLogger(__name__)

FIRST_ISSUE_COVERS = timedelta(days=7)  # the first issue draws on the last week
LOOKBACK = timedelta(days=30)  # an item approved late still reaches the next issue
BATCH = 50  # copies rendered and queued together
INTRO_LIMIT = 4000
NOTE_LIMIT = 600


class NotEditor(AwarenessError):
    """The librarian is not one of the bulletin's editors."""


class NotEditable(AwarenessError):
    """The change does not apply to the issue as it is (e.g. approving a sent issue)."""


@dataclass
class TickReport:
    """What one scheduled pass over the bulletins did."""

    drafted: list[str] = field(default_factory=list)  # "slug #n"
    reminded: int = 0
    sent: list[str] = field(default_factory=list)
    held: list[str] = field(default_factory=list)
    queued: int = 0


# --- drafting --------------------------------------------------------------------------------

def draft(ctx: Context, slug: str) -> Issue:
    """The bulletin's open issue, drafted now if there is none, with the matches approved
    since it was drafted added (while it is a draft)."""
    return _open_issue(ctx, ctx.bulletin(slug))[0]


def draft_now(ctx: Context, slug: str) -> tuple[Issue, bool]:
    """As ``draft``, and whether this call drafted the issue (False: it was open already)."""
    return _open_issue(ctx, ctx.bulletin(slug))


def _open_issue(ctx: Context, bulletin: BulletinDef) -> tuple[Issue, bool]:
    """(the open issue, whether this call drafted it)."""
    now = ctx.now()
    with reading(ctx.engine) as connection:
        last = store.latest(connection, bulletin.slug)
    created = False
    if last is None or last.status == "sent":
        covers_from = last.sent_at if last and last.sent_at else now - FIRST_ISSUE_COVERS
        number = last.number + 1 if last else 1
        due = next_due(now, last.due_at if last else None, day=bulletin.send_day,
                       at=bulletin.send_hour_minute, tz=ctx.settings.timezone)
        with writing(ctx.engine) as connection:
            created = store.add_issue(connection, bulletin=bulletin.slug, number=number,
                                      covers_from=covers_from, due_at=due, now=now) is not None
        if created:
            log.info("bulletin %s: drafted issue %s, due %s", bulletin.slug, number,
                     local_time(due, ctx.settings.timezone))
        with reading(ctx.engine) as connection:
            last = store.latest(connection, bulletin.slug)
        assert last is not None
    if last.status == "draft":
        _add_new_matches(ctx, bulletin, last)
    return issue(ctx, bulletin.slug, last.number), created


def _add_new_matches(ctx: Context, bulletin: BulletinDef, draft_issue: Issue) -> int:
    since = draft_issue.covers_from - LOOKBACK
    names = {t.slug: t.name for t in ctx.topics()}
    sections = bulletin.sections_for(names)
    with reading(ctx.engine) as connection:
        found = store.candidates(connection, bulletin.all_topics, since)
        present = store.stories_in(connection, bulletin.slug, since - LOOKBACK)
        placed = store.placed(connection, draft_issue.id)
    added = plan_entries(found, sections, present, placed)
    if added:
        with writing(ctx.engine) as connection:
            store.add_entries(connection, draft_issue.id, added)
    return len(added)


def issue(ctx: Context, slug: str, number: int) -> Issue:
    """Issue ``number`` of the bulletin; NotFound when there is none."""
    ctx.bulletin(slug)
    with reading(ctx.engine) as connection:
        found = store.issue(connection, slug, number)
    if found is None:
        raise NotFound(f"bulletin {slug!r} has no issue {number}")
    return found


def issues(ctx: Context, slug: str) -> list[Issue]:
    """Every issue of the bulletin, newest first, without entries."""
    ctx.bulletin(slug)
    with reading(ctx.engine) as connection:
        return store.issues(connection, slug)


def sections(ctx: Context, bulletin: BulletinDef, found: Issue) -> tuple[IssueSection, ...]:
    """The issue's entries by section, as readers see them."""
    names = {t.slug: t.name for t in ctx.topics()}
    return sections_of(found, bulletin.sections_for(names))


def section_titles(ctx: Context, bulletin: BulletinDef) -> list[str]:
    """The titles of the bulletin's sections (for an editor's "add to section")."""
    names = {t.slug: t.name for t in ctx.topics()}
    return [s.title for s in bulletin.sections_for(names)]


# --- editing ---------------------------------------------------------------------------------

def _editable(ctx: Context, slug: str, number: int, by: str) -> tuple[BulletinDef, Issue]:
    bulletin = ctx.bulletin(slug)
    if not bulletin.may_edit(by):
        raise NotEditor(f"{by} is not an editor of {bulletin.title}; the bulletin's file "
                        "names its editors")
    with reading(ctx.engine) as connection:
        found = store.issue(connection, slug, number)
    if found is None:
        raise NotFound(f"bulletin {slug!r} has no issue {number}")
    return bulletin, found


GOING_OUT = ("issue {number} has begun to go out; `awareness bulletins send {slug} {number}` "
             "finishes sending it")


def _edit(ctx: Context, found: Issue, write: Callable[[Connection], bool]) -> str | None:
    """Make one change to the issue (``write``: whether it changed anything) in the same
    transaction as what the change does to the issue: a sent issue is marked corrected
    (nothing is sent again); an approved one is a draft again, recorded as ``reopen`` records
    it, so what goes out is always what its approver approved, and a send that read the
    issue before finds it no longer approved (``begin_sending``). Refused once the issue has
    begun to go out. Returns the approver whose approval the change took back, or None."""
    with writing(ctx.engine) as connection:
        status, sent_at, approved_by = store.locked_state(connection, found.id)
        if status == "approved" and sent_at is not None:
            raise NotEditable(GOING_OUT.format(number=found.number, slug=found.bulletin))
        if not write(connection):
            return None
        if status == "sent":
            store.change_issue(connection, found.id, corrected_at=ctx.now())
        elif status == "approved":
            _take_approval_back(connection, found.id)
    if status != "approved":
        return None
    log.info("bulletin %s: issue %s changed after %s approved it; a draft again",
             found.bulletin, found.number, approved_by)
    return approved_by or "an editor"


def _take_approval_back(connection: Connection, issue_id: int) -> None:
    store.change_issue(connection, issue_id, status="draft", approved_by=None,
                       approved_at=None)


def set_intro(ctx: Context, slug: str, number: int, text: str, *, by: str) -> str | None:
    """The editor's introduction. Like every change to an issue's content: the approver
    whose approval it took back, or None (``_edit``)."""
    _, found = _editable(ctx, slug, number, by)
    intro = text.strip()[:INTRO_LIMIT]

    def write(connection: Connection) -> bool:
        store.change_issue(connection, found.id, intro=intro)
        return intro != found.intro
    return _edit(ctx, found, write)


def set_spotlight(ctx: Context, slug: str, number: int, record: str, *,
                  by: str) -> str | None:
    """The policy spotlight: an active driver record by slug, or none for ""."""
    _, found = _editable(ctx, slug, number, by)

    def write(connection: Connection) -> bool:
        driver_id = store.spotlight_id(connection, record) if record else None
        if record and driver_id is None:
            raise NotFound(f"no published driver record {record!r}")
        store.change_issue(connection, found.id, spotlight_id=driver_id)
        return record != (found.spotlight.slug if found.spotlight else "")
    return _edit(ctx, found, write)


def set_correction(ctx: Context, slug: str, number: int, text: str, *, by: str) -> None:
    """The "corrected" note shown on a sent issue's page."""
    _, found = _editable(ctx, slug, number, by)
    if found.status != "sent":
        raise NotEditable("only a sent issue can carry a correction; change the draft instead")
    with writing(ctx.engine) as connection:
        store.change_issue(connection, found.id, correction=text.strip()[:NOTE_LIMIT],
                           corrected_at=ctx.now())


def move_entry(ctx: Context, slug: str, number: int, entry_id: int, direction: str, *,
               by: str) -> str | None:
    """Move an entry one place up or down within its section."""
    _, found = _editable(ctx, slug, number, by)

    def write(connection: Connection) -> bool:
        changes = moved(store.placed(connection, found.id), entry_id, direction)
        store.move(connection, found.id, changes)
        return bool(changes)
    return _edit(ctx, found, write)


def move_to_section(ctx: Context, slug: str, number: int, entry_id: int, section: str, *,
                    by: str) -> str | None:
    """Move an entry to the end of another of the bulletin's sections, one with no items this
    week too (it then appears). Drafting places an item by the topic that matched it, which
    is not always where it belongs."""
    bulletin, found = _editable(ctx, slug, number, by)
    if section not in section_titles(ctx, bulletin):
        raise NotFound(f"no section {section!r} in {bulletin.title}")
    entry = next((e for e in found.entries if e.entry_id == entry_id), None)
    if entry is None:
        raise NotFound(f"issue {number} has no entry {entry_id}")
    if entry.removed:
        raise AwarenessError("That item was removed from the issue; put it back before "
                             "moving it.")
    if entry.section == section:  # a page shown before it moved: saying "Moved" would lie
        raise AwarenessError(f"That item is already under {section}; nothing was moved.")

    def write(connection: Connection) -> bool:
        change = moved_to(store.placed(connection, found.id), entry_id, section)
        store.move(connection, found.id, [change] if change else [])
        return change is not None
    return _edit(ctx, found, write)


def remove_entry(ctx: Context, slug: str, number: int, entry_id: int, *, by: str,
                 removed: bool = True) -> str | None:
    """Take an entry out of the issue (or put it back); it is never drafted in again."""
    _, found = _editable(ctx, slug, number, by)

    def write(connection: Connection) -> bool:
        if not store.change_entry(connection, found.id, entry_id, removed=removed):
            raise NotFound(f"issue {number} has no entry {entry_id}")
        return True
    return _edit(ctx, found, write)


def set_note(ctx: Context, slug: str, number: int, entry_id: int, note: str, *,
             by: str) -> str | None:
    """The line readers see under an entry: why it matters."""
    _, found = _editable(ctx, slug, number, by)
    text = " ".join(note.split())[:NOTE_LIMIT]
    before = next((e.note for e in found.entries if e.entry_id == entry_id), None)

    def write(connection: Connection) -> bool:
        if not store.change_entry(connection, found.id, entry_id, note=text):
            raise NotFound(f"issue {number} has no entry {entry_id}")
        return text != before
    return _edit(ctx, found, write)


def find_items(ctx: Context, text: str) -> list[tuple[int, str, str, datetime | None]]:
    """Items an editor may add: the one at a URL, or those whose title holds ``text``."""
    if len(text.strip()) < 3:
        return []
    with reading(ctx.engine) as connection:
        return [(row.id, row.title, row.publisher, row.published_at)
                for row in store.find_items(connection, text)]


def add_item(ctx: Context, slug: str, number: int, item_id: int, section: str, *,
             by: str) -> str | None:
    """Add an item from the archive to a section, at its end."""
    bulletin, found = _editable(ctx, slug, number, by)
    titles = section_titles(ctx, bulletin)
    if section not in titles:
        raise NotFound(f"no section {section!r} in {bulletin.title}")
    there = next((e for e in found.shown if e.item_id == item_id), None)
    if there is not None:  # adding it again would change nothing, yet say "Added"
        raise AwarenessError(f"That item is already in this issue, under {there.section}; "
                             "nothing was added.")

    def write(connection: Connection) -> bool:
        if not store.item_exists(connection, item_id):
            raise NotFound(f"no item {item_id}")
        match = store.item_match(connection, item_id, bulletin.all_topics)
        placed = [p for p in store.placed(connection, found.id) if p.section == section]
        position = max((p.position for p in placed), default=-1) + 1
        store.add_entries(connection, found.id, [NewEntry(
            item_id, match[0] if match else None, section, position, match[2] if match else "")])
        store.undo_removal(connection, found.id, item_id)
        return True
    return _edit(ctx, found, write)


def spotlight_choices(ctx: Context) -> list[tuple[str, str]]:
    """(slug, title) of every published driver record."""
    with reading(ctx.engine) as connection:
        return [(slug, title) for _, slug, title in store.spotlight_choices(connection)]


def approve(ctx: Context, slug: str, number: int, *, by: str) -> Issue:
    """The editor approves the draft: it goes at its time (at once, if that has passed)."""
    _, found = _editable(ctx, slug, number, by)
    return _approve(ctx, found, by)


def _approve(ctx: Context, found: Issue, by: str) -> Issue:
    if found.status != "draft":
        raise NotEditable(f"issue {found.number} is {found.status}, not a draft")
    if not found.shown:
        raise NotEditable(f"issue {found.number} has no items; add some before approving it")
    with writing(ctx.engine) as connection:
        store.change_issue(connection, found.id, status="approved", approved_by=by,
                           approved_at=ctx.now())
    log.info("bulletin %s: issue %s approved by %s", found.bulletin, found.number, by)
    return issue(ctx, found.bulletin, found.number)


def reopen(ctx: Context, slug: str, number: int, *, by: str) -> None:
    """Take an approval back (before the issue is sent)."""
    _, found = _editable(ctx, slug, number, by)
    with writing(ctx.engine) as connection:
        status, sent_at, _ = store.locked_state(connection, found.id)
        if status != "approved":
            raise NotEditable(f"issue {number} is {status}, not approved")
        if sent_at is not None:
            raise NotEditable(GOING_OUT.format(number=number, slug=slug))
        _take_approval_back(connection, found.id)


# --- rendering -------------------------------------------------------------------------------

def _identity(ctx: Context) -> MailIdentity:
    s = ctx.settings
    return MailIdentity(from_addr=s.mail.from_addr, from_name=s.mail.from_name,
                        list_id=f"<bulletins.{s.mail.domain}>", domain=s.mail.domain,
                        base_url=s.base_url)


def _library(ctx: Context) -> Library:
    library = ctx.settings.library
    return Library(library.name, library.contact_email, library.logo_url)


def _public_url(ctx: Context, bulletin: BulletinDef, found: Issue) -> str:
    return web_url(ctx.settings.base_url, bulletin.slug, found.number) if (
        bulletin.public_archive) else ""


@dataclass(frozen=True)
class Preview:
    """An issue exactly as a subscriber will get it (their links shown as an example)."""

    subject: str
    html: str
    text: str
    items: int  # the entries it shows: none, and it cannot be approved yet


def preview(ctx: Context, slug: str, number: int) -> Preview:
    """The issue's subject, HTML and text as a subscriber will get them."""
    bulletin = ctx.bulletin(slug)
    found = issue(ctx, slug, number)
    mail = _render_copy(ctx, bulletin, found, "preview@example.invalid", "preview",
                        BulletinLinks(_public_url(ctx, bulletin, found),
                                      f"{ctx.settings.base_url}/preferences/example",
                                      f"{ctx.settings.base_url}/bulletins/stop/example"))
    return Preview(*_parts(mail), items=len(found.shown))


def page(ctx: Context, bulletin: BulletinDef, found: Issue) -> str:
    """The issue as its web page's body shows it (the mail's HTML, without the footer
    links of one reader)."""
    context = issue_context(found, bulletin, sections(ctx, bulletin, found),
                            identity=_identity(ctx), library=_library(ctx),
                            tz=ctx.settings.timezone, now=ctx.now(), links=BulletinLinks())
    return mail_html(ctx.mail_templates(), context)


def _parts(mail: Mail) -> tuple[str, str, str]:
    message = email.message_from_bytes(mail.data, policy=MAIL_POLICY)
    subject = str(message["Subject"])
    text = html = ""
    for part in message.walk():
        if part.get_content_type() == "text/plain":
            text = part.get_content()  # type: ignore[attr-defined]
        elif part.get_content_type() == "text/html":
            html = part.get_content()  # type: ignore[attr-defined]
    return subject, html, text


def _render_copy(ctx: Context, bulletin: BulletinDef, found: Issue, to: str, key: str,
                 links: BulletinLinks, *, test: bool = False) -> Mail:
    return render_issue(
        found, bulletin, sections(ctx, bulletin, found), env=ctx.mail_templates(),
        identity=_identity(ctx), library=_library(ctx), to_addr=to,
        message_id=message_id(bulletin.slug, found.number, key, ctx.settings.mail.domain),
        now=ctx.now(), tz=ctx.settings.timezone, links=links, test=test)


# --- sending ---------------------------------------------------------------------------------

def send_test(ctx: Context, slug: str, number: int, to: str, *, by: str) -> None:
    """Queue one copy marked [TEST] to ``to`` (the editor's own address)."""
    bulletin, found = _editable(ctx, slug, number, by)
    key = f"test-{secrets.token_hex(6)}"
    mail = _render_copy(ctx, bulletin, found, to, key,
                        BulletinLinks(_public_url(ctx, bulletin, found)), test=True)
    with writing(ctx.engine) as connection:
        outbox.queue(connection, Queued(BULLETIN_TEST, bulletin_key(slug, number, key), mail),
                     ctx.now())


def _address_key(address: str) -> str:
    return "a" + hashlib.sha256(address.strip().lower().encode()).hexdigest()[:16]


def send_issue(ctx: Context, slug: str, number: int) -> int:
    """Queue a copy for every recipient not queued yet, then mark the issue sent; the
    number of copies queued. The issue must be approved (or sent: nothing happens)."""
    bulletin = ctx.bulletin(slug)
    found = issue(ctx, slug, number)
    if found.status == "sent":
        return 0
    if found.status != "approved":
        raise NotEditable(f"issue {number} is not approved; approve it first")
    now = ctx.now()
    # Each copy is the issue as sent: dated the day sending began, as its page and the feed
    # will be, even when it goes ahead of its slot. That moment is kept before any copy is
    # queued, so a send that dies part-way and is resumed another day dates the rest alike.
    # It is read again once marked: from then on no change is taken (``_edit``), so every
    # copy is the issue as approved; an editor's change since the first read made it a draft.
    if found.sent_at is None:
        with writing(ctx.engine) as connection:
            store.begin_sending(connection, found.id, now)
        found = issue(ctx, slug, number)
        if found.status == "sent":  # another pass sent it meanwhile
            return 0
        if found.status != "approved" or found.sent_at is None:
            raise NotEditable(f"issue {number} changed after it was approved and is a draft "
                              "again; approve it to send it")
    base = ctx.settings.base_url
    copies: list[tuple[str, str, BulletinLinks, int | None]] = []
    web = _public_url(ctx, bulletin, found)
    if bulletin.to_subscribers:
        with reading(ctx.engine) as connection:
            readers = store.audience(connection, now)
        for reader, address, token in readers:
            key = f"s{reader}"
            copies.append((address, key, BulletinLinks(
                web, f"{base}/preferences/{token}", f"{base}/bulletins/stop/{token}",
                feedback.message_link(ctx, reader, bulletin_key(slug, number, key)),
                {e.item_id: feedback.item_links(ctx, reader, e.item_id, e.topic)
                 for e in found.shown}), reader))
    for address in bulletin.addresses:
        copies.append((address, _address_key(address), BulletinLinks(web), None))
    with reading(ctx.engine) as connection:
        done = outbox.queued_keys(connection, BULLETIN,
                                  [bulletin_key(slug, number, key) for _, key, _, _ in copies])
    todo = [c for c in copies if bulletin_key(slug, number, c[1]) not in done]
    queued = 0
    for start in range(0, len(todo), BATCH):
        ready = []
        for address, key, links, subscriber_id in todo[start:start + BATCH]:
            try:
                mail = _render_copy(ctx, bulletin, found, address, key, links)
            except ValueError as err:  # an address the e-mail package refuses
                log.warning("bulletin %s #%s: a copy cannot be composed: %s", slug, number, err)
                continue
            ready.append(Queued(BULLETIN, bulletin_key(slug, number, key), mail,
                                subscriber_id))
        with writing(ctx.engine) as connection:
            queued += sum(outbox.queue(connection, message, now) for message in ready)
    with writing(ctx.engine) as connection:
        store.change_issue(connection, found.id, status="sent")
    log.info("bulletin %s: issue %s sent to the outbox (%s cop%s)", slug, number, queued,
             "y" if queued == 1 else "ies")
    return queued


def tick(ctx: Context, slug: str | None = None) -> TickReport:
    """The scheduled pass: draft each bulletin's next issue, remind its editors the working
    day before, and at its time send it if approved, or hold it (or send it anyway, when the
    bulletin says so). Every step is idempotent. ``slug``: that bulletin only (the queue's
    ``bulletin`` job; a bulletin no longer in the files is left alone)."""
    report = TickReport()
    for bulletin in ctx.bulletins():
        if slug is not None and bulletin.slug != slug:
            continue
        try:
            _tick_one(ctx, bulletin, report)
        except AwarenessError as err:
            log.error("bulletin %s: %s", bulletin.slug, err)
    return report


def _tick_one(ctx: Context, bulletin: BulletinDef, report: TickReport) -> None:
    now = ctx.now()
    found, created = _open_issue(ctx, bulletin)
    if created:
        report.drafted.append(f"{bulletin.slug} #{found.number}")
    if now >= reminder_time(found.due_at, ctx.settings.timezone) and found.status == "draft":
        report.reminded += _remind(ctx, bulletin, found)
    if now < found.due_at and found.sent_at is None:  # (a send begun early is finished)
        return
    if found.status == "draft" and bulletin.if_unapproved == "send" and found.shown:
        found = _approve(ctx, found, "schedule (nobody approved it by its time)")
    if found.status == "approved":
        report.queued += send_issue(ctx, bulletin.slug, found.number)
        report.sent.append(f"{bulletin.slug} #{found.number}")
    elif found.held_at is None:
        with writing(ctx.engine) as connection:
            store.change_issue(connection, found.id, held_at=now)
        log.warning("bulletin %s: issue %s was due at %s and is not approved; held until an "
                    "editor approves it", bulletin.slug, found.number, found.due_at)
        report.held.append(f"{bulletin.slug} #{found.number}")


def _remind(ctx: Context, bulletin: BulletinDef, found: Issue) -> int:
    """Queue the editors' reminder (once per editor and issue)."""
    with reading(ctx.engine) as connection:
        addresses = librarians.emails(connection, bulletin.editors or None)
    if not addresses:
        return 0
    s = ctx.settings
    when = day_and_time(found.due_at, s.timezone)
    edit_url = f"{s.base_url}/bulletins/{bulletin.slug}/{found.number}/edit"
    env = ctx.mail_templates()
    values = {"bulletin": bulletin, "issue": found, "when": when, "edit_url": edit_url,
              "count": len(found.shown), "library": s.library.name}
    queued = 0
    with writing(ctx.engine) as connection:
        for name, address in sorted(addresses.items()):
            key = bulletin_key(bulletin.slug, found.number, name)
            mail = compose(
                sender=Sender(s.mail.from_addr, s.mail.from_name), to=address,
                subject=env.get_template("bulletin/reminder.subject.txt").render(values).strip(),
                text=env.get_template("bulletin/reminder.txt").render(values) + "\n",
                message_id=message_id(bulletin.slug, found.number, f"reminder-{_safe(name)}",
                                      s.mail.domain), date=ctx.now())
            queued += outbox.queue(connection, Queued(BULLETIN_REMINDER, key, mail), ctx.now())
    return queued


def _safe(name: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in name)[:40] or "editor"


# --- the archive -----------------------------------------------------------------------------

def archive(ctx: Context, slug: str, *, librarian: bool) -> tuple[BulletinDef, list[Issue]]:
    """The bulletin and its sent issues, newest first; NotFound for a visitor when the
    archive is not public."""
    bulletin = ctx.bulletin(slug)
    if not (bulletin.public_archive or librarian):
        raise NotFound(f"no bulletin {slug!r}")
    with reading(ctx.engine) as connection:
        return bulletin, store.issues(connection, slug, sent_only=True)


def public_archives(ctx: Context) -> list[PublicArchive]:
    """The bulletins whose archive anyone may read, by title, with their latest sent issue
    (what a visitor's list of bulletins shows)."""
    public = [bulletin for bulletin in ctx.bulletins() if bulletin.public_archive]
    with reading(ctx.engine) as connection:
        latest = {b.slug: store.issues(connection, b.slug, sent_only=True, limit=1)
                  for b in public}
    return listed_archives(public, {slug: (found[0].number, found[0].sent_at)
                                    for slug, found in latest.items() if found})


def archived(ctx: Context, slug: str, number: int, *, librarian: bool) -> tuple[BulletinDef,
                                                                                Issue]:
    """A sent issue; NotFound for drafts and, for a visitor, a private archive."""
    bulletin, _ = archive(ctx, slug, librarian=librarian)
    found = issue(ctx, slug, number)
    if found.status != "sent":
        raise NotFound(f"bulletin {slug!r} has no issue {number}")
    return bulletin, found


def atom(ctx: Context, slug: str) -> bytes:
    """The public archive as an Atom feed (the latest 50 issues)."""
    bulletin, _ = archive(ctx, slug, librarian=False)
    with reading(ctx.engine) as connection:
        sent = store.issues(connection, slug, sent_only=True, with_entries=True, limit=50)
    return atom_feed(bulletin, sent, base_url=ctx.settings.base_url,
                     domain=ctx.settings.mail.domain,
                     contents=[page(ctx, bulletin, found) for found in sent])


def stop_bulletins(ctx: Context, token: str) -> Subscriber | None:
    """The subscriber of ``token`` no longer gets bulletins: their digests go on, and with no
    topic they are unsubscribed (``subscribing.settled``). Them after, or None when the
    token is unknown."""
    with writing(ctx.engine) as connection:
        found = subscribers.by_token(connection, token)
        if found is None:
            return None
        subscribers.set_bulletins(connection, found.id, False)
        people.record_changes(connection, ctx, found, people.stored(connection, found.id),
                              by=THEMSELVES)
        return subscribing.settled(connection, found.id, ctx.now(), by=THEMSELVES,
                                   bulletins_sent=subscribing.bulletins_sent(ctx))
