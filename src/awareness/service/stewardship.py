"""Stewardship: which driver records need their member's attention, and the weekly e-mail
that tells each member.

A record needs attention when its review date has passed, or when an item was linked to it as
the *same document* or a *new edition* after the record was last marked reviewed (the
document may have changed under it); editing or importing the record does not take it off.
Each member gets one e-mail per ISO week: it is queued in the outbox under the member and
the week, so a rerun in the same week queues nothing again, and sent by the relay with
every other message (``service.outbox``). Below the list, the mail names the
topics whose strategy precision fell below ``[reports] precision_threshold`` (issue 17), so
the librarians who read it every week see which strategies need an edit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path

import jinja2

from awareness.dates import long_date
from awareness.digests.build import iso_week, period_label
from awareness.drivers.members import MEMBERS_FILE, Member
from awareness.drivers.views import Reason, StoredDriver, due_status
from awareness.mail.compose import Mail, Sender, compose, message_id
from awareness.mail.outbox import STEWARDSHIP, Queued, Unsent, stewardship_key
from awareness.model import LibrarianInfo
from awareness.precision import Precision, percent
from awareness.roles import ROLES, allows
from awareness.service import librarians
from awareness.service.context import Context
from awareness.service.outbox import relay
from awareness.service.precision import precision
from awareness.storage import drivers as store
from awareness.storage import outbox
from awareness.storage.db import reading, writing

log = logging.getLogger(__name__)
# What the log says of a run, and `awareness drivers remind` prints: who is never told, and
# the members whose mail is not sent yet (the command leaves these out of its own log).
NEVER_TOLD = "stewardship %s: %s"
NOT_SENT = "stewardship %s: not sent to %s"

ATTENTION_KINDS = ("same_document", "new_edition")


@dataclass(frozen=True)
class Attention:
    """One record on a member's list, with every reason it is there."""

    slug: str
    title: str
    member: str
    review_due_on: date | None
    reasons: tuple[Reason, ...]

    def as_json(self) -> dict[str, object]:
        """The entry as a JSON object: ``reasons`` as lines, as before; ``why`` the same with
        the link of the item each is about (null for a review date)."""
        return {"slug": self.slug, "title": self.title, "member": self.member,
                "review_due_on": self.review_due_on.isoformat() if self.review_due_on else None,
                "reasons": [str(reason) for reason in self.reasons],
                "why": [reason.as_json() for reason in self.reasons]}


@dataclass
class StewardshipReport:
    """What one stewardship run did, member by member (initials)."""

    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    nothing_due: list[str] = field(default_factory=list)
    no_address: list[str] = field(default_factory=list)  # initials members.toml lacks
    no_member: list[str] = field(default_factory=list)  # slugs naming no member responsible
    retrying: list[str] = field(default_factory=list)  # "FG: why", sent again later
    failed: list[str] = field(default_factory=list)  # "FG: why", given up
    warnings: list[str] = field(default_factory=list)  # who is never told, and the fix


@dataclass(frozen=True)
class Steward:
    """What the member a weekly mail goes to can do on the site, so that the mail tells
    them what they can do: their librarian login and its role ("" when they have none),
    and the editors and administrators by name, whom they ask otherwise."""

    login: str = ""
    role: str = ""
    editors: tuple[str, ...] = ()
    administrators: tuple[str, ...] = ()

    def what_to_do(self) -> str:
        """The mail's sentence on what to do with the records: "Mark reviewed" for an
        editor; for a reviewer, or someone with no login, whom to tell instead (marking
        a record reviewed needs the editor role), and whom to ask for the role."""
        editors = _named("an editor", self.editors)
        administrators = _named("an administrator", self.administrators)
        if allows(self.role, "editor"):
            return ("Open each one, check it against the document, edit what has changed, "
                    f"then press “Mark reviewed” on its page (signed in as {self.login}): that "
                    "dates it and sets its next review.")
        if self.login:
            return (f"Open each one and check it against the document. Your login, "
                    f"{self.login}, is a reviewer's, which cannot edit a record or mark it "
                    f"reviewed: tell {editors} what has changed, so that they edit the record "
                    f"and mark it reviewed, or ask {administrators} to make you an editor.")
        return ("Open each one and check it against the document, then tell "
                f"{editors} what has changed, so that they edit the record and mark it "
                "reviewed. Doing it yourself needs a librarian's login with the editor "
                f"role, which {administrators} can give you.")


def _named(one: str, names: Sequence[str]) -> str:
    return f"{one} ({', '.join(names)})" if names else one


def steward_of(member: Member, accounts: Sequence[LibrarianInfo]) -> Steward:
    """The member as the site knows them: the librarian account with their address (its
    e-mail, or a single sign-on name that is the address; the highest role when several
    have it), and who edits and administers."""
    address = member.email.strip().lower()
    theirs = [a for a in accounts if address in (a.email.strip().lower(), a.name.lower())]
    best = max(theirs, key=lambda a: ROLES.index(a.role) if a.role in ROLES else -1,
               default=None)
    return Steward(login=best.name if best else "", role=best.role if best else "",
                   editors=tuple(a.name for a in accounts if allows(a.role, "editor")),
                   administrators=tuple(a.name for a in accounts
                                        if a.role == "administrator"))


def load_members(ctx: Context) -> list[Member]:
    """The members in subscriptions/members.toml; none when the file does not exist."""
    return list(ctx.members())


def needs_attention(ctx: Context, member: str = "", today: date | None = None) -> list[Attention]:
    """Records needing attention (of one member, when given), by member then title."""
    today = today or ctx.now().date()
    with reading(ctx.engine) as conn:
        drivers = store.drivers_by_member(conn, member.strip().upper() if member else None)
        links = store.links_since_review(conn, ATTENTION_KINDS)
    linked: dict[int, dict[str, Reason]] = {}
    for link in links:  # oldest first: an item in several feeds keeps its first link
        reason = link.as_reason()
        linked.setdefault(link.driver_id, {}).setdefault(str(reason), reason)
    out = []
    for driver in (d for d in drivers if d.status != "deleted"):  # deleted: nobody's to keep
        reasons = list(linked.get(driver.id, {}).values())
        due = driver.review_due_on
        if due is not None and due_status(due, today) == "overdue":
            reasons.insert(0, Reason(f"review was due on {long_date(due)}"))
        if reasons:
            out.append(Attention(driver.record.slug, driver.record.title, driver.member,
                                 driver.review_due_on, tuple(reasons)))
    return out


NO_MEMBER = Reason("no member responsible")


@dataclass(frozen=True)
class AttentionOverview:
    """The steering group's whole view of its records: those a member is to look at
    (``needs_attention`` with a member), those nobody looks after, whatever else they need,
    and those whose member is never reminded because they have no review date (which
    a member can adopt, or date)."""

    for_members: list[Attention]
    no_one_responsible: list[Attention]
    no_review_date: list[Attention]

    def entries(self) -> list[Attention]:
        """Every entry in one list, as `awareness drivers due` gives them: a record nobody
        looks after says so first."""
        return [*self.for_members,
                *(replace(entry, reasons=(NO_MEMBER, *entry.reasons))
                  for entry in self.no_one_responsible),
                *self.no_review_date]


def attention_overview(ctx: Context, member: str = "",
                       today: date | None = None) -> AttentionOverview:
    """``needs_attention``, and the published records nobody looks after or that have no
    review date; only ``member``'s, when one is given (records nobody looks after are then
    left out)."""
    entries = needs_attention(ctx, member, today)
    with reading(ctx.engine) as conn:
        drivers = store.drivers_by_member(conn, member.strip().upper() if member else None)
    return overview_of(entries, [d for d in drivers if d.status != "deleted"])


def overview_of(entries: Sequence[Attention], drivers: Iterable[StoredDriver]
                ) -> AttentionOverview:
    """Split the records needing attention by whether a member looks after them, and add
    the published records that nobody looks after or that have no review date: no weekly
    mail reaches anyone about those, so the steering group sees them here. Drafts are
    still being written: they are listed only when they need attention otherwise."""
    listed = {entry.slug: entry for entry in entries}
    no_one, undated = [], []
    for driver in drivers:
        entry = listed.get(driver.record.slug)
        if entry is None and driver.status != "active":
            continue
        gaps = () if driver.review_due_on else (_no_review_date(driver),)
        if not driver.member:
            no_one.append(_entry(driver, (*(entry.reasons if entry else ()), *gaps)))
        elif entry is None and gaps:
            undated.append(_entry(driver, gaps))
    return AttentionOverview([e for e in entries if e.member], no_one, undated)


def _no_review_date(driver: StoredDriver) -> Reason:
    typed = " ".join(driver.record.fields.get("due_for_review", "").split())
    return Reason(f"its review date “{typed[:40]}” names no date" if typed
                  else "no review date")


def _entry(driver: StoredDriver, reasons: tuple[Reason, ...]) -> Attention:
    return Attention(driver.record.slug, driver.record.title, driver.member,
                     driver.review_due_on, reasons)


def attention_reasons(ctx: Context, slug: str, member: str) -> tuple[Reason, ...]:
    """Why the record ``slug`` (looked after by ``member``) needs attention; none when it
    does not."""
    return next((entry.reasons for entry in needs_attention(ctx, member or "")
                 if entry.slug == slug), ())


def stewardship_message_id(member: str, week: str, domain: str) -> str:
    """The same Message-ID for the same member and week, so a resend is recognisable."""
    return message_id("stewardship", week, member.lower(), domain=domain)


def send_stewardship(ctx: Context, *, today: date | None = None) -> StewardshipReport:
    """Queue each member with records needing attention their list, once per ISO week, then
    relay the outbox; the report says what became of each member's mail."""
    now = ctx.now()
    today = today or now.date()
    week = iso_week(today)
    report = StewardshipReport()
    by_member: dict[str, list[Attention]] = {}
    for entry in needs_attention(ctx, today=today):
        by_member.setdefault(entry.member, []).append(entry)
    members = {m.initials: m for m in load_members(ctx)}
    report.no_address = [i for i in sorted(by_member) if i and i not in members]
    report.no_member = [entry.slug for entry in by_member.get("", [])]
    unread = any(p.kind == "members" and not p.kept for p in ctx.file_problems())
    report.warnings = unsent_warnings(by_member, report, ctx.subscriptions_dir / MEMBERS_FILE,
                                      readable=not unread)
    for warning in report.warnings:
        log.warning(NEVER_TOLD, week, warning)
    report.nothing_due = sorted(set(members) - set(by_member))
    keys = {i: stewardship_key(i, week) for i in sorted(by_member) if i in members}
    with reading(ctx.engine) as connection:
        before = outbox.statuses(connection, STEWARDSHIP, keys.values())
    flagged = precision(ctx, now).flagged if len(before) < len(keys) else []
    accounts = librarians.everyone(ctx) if len(before) < len(keys) else []
    for initials, key in keys.items():
        if key not in before:
            _queue(ctx, members[initials], by_member[initials], week, now, flagged,
                   steward_of(members[initials], accounts))
    relay(ctx)
    with reading(ctx.engine) as connection:
        after = outbox.statuses(connection, STEWARDSHIP, keys.values())
    for initials, key in keys.items():
        _report(report, initials, before.get(key), after[key])
    if report.retrying or report.failed:
        log.warning(NOT_SENT, week, "; ".join(
            [f"{line} (retrying)" for line in report.retrying]
            + [f"{line} (given up)" for line in report.failed]))
    return report


def unsent_warnings(by_member: dict[str, list[Attention]], report: StewardshipReport,
                    members_file: Path, *, readable: bool = True) -> list[str]:
    """Whose records needing attention no mail will ever reach until someone acts, and what
    to do: a member ``members_file`` does not list (or a file that has not been ``readable``
    since the service started), records that name no member."""
    warnings = []
    if report.no_address:
        who = ", ".join(f"{i} ({_records(len(by_member[i]))})" for i in report.no_address)
        fix = ("cannot be read; fix it (`awareness check` lists its problems)" if not readable
               else ("does not list them" if members_file.is_file() else "does not exist")
               + "; add a [[member]] with their initials, name and email")
        warnings.append(f"no address for {who}, so they get no weekly list: {members_file} "
                        f"{fix}")
    if report.no_member:
        warnings.append(f"no member responsible for {_records(len(report.no_member))} needing "
                        f"attention, so nobody is told: {', '.join(report.no_member)}; name "
                        "one with `awareness drivers edit SLUG --set member_responsible=XX`")
    return warnings


def _records(count: int) -> str:
    return f"{count} record" if count == 1 else f"{count} records"


def _queue(ctx: Context, person: Member, entries: list[Attention], week: str,
           now: datetime, low_precision: Sequence[Precision], steward: Steward) -> None:
    s = ctx.settings
    mail = render_stewardship(ctx.mail_templates(), person, entries,
                              sender=Sender(s.mail.from_addr, s.mail.from_name),
                              base_url=s.base_url,
                              message_id=stewardship_message_id(person.initials, week,
                                                                s.mail.domain),
                              now=now, week=week, low_precision=low_precision,
                              threshold=s.reports.precision_threshold, library=s.library.name,
                              steward=steward)
    with writing(ctx.engine) as connection:
        outbox.queue(connection, Queued(STEWARDSHIP, stewardship_key(person.initials, week),
                                        mail), now)


def _report(report: StewardshipReport, initials: str, before: Unsent | None,
            after: Unsent) -> None:
    """File one member under what became of their mail this week."""
    if before is not None and before.status == "sent":
        report.already_sent.append(initials)
    elif after.status == "sent":
        report.sent.append(initials)
    elif after.status == "failed":
        report.failed.append(f"{initials}: {after.reason}")
    else:
        report.retrying.append(f"{initials}: {after.reason or 'not tried yet'}")


def render_stewardship(env: jinja2.Environment, person: Member, entries: Iterable[Attention], *,
                       sender: Sender, base_url: str, message_id: str, now: datetime,
                       week: str, low_precision: Sequence[Precision] = (),
                       threshold: float = 0.5, library: str = "",
                       steward: Steward | None = None) -> Mail:
    """One member's weekly list as a ``multipart/alternative`` message; ``low_precision``
    names the topics whose precision fell below ``threshold`` (issue 17), after the list;
    ``library`` heads the HTML part, as in the account mails. ``week`` is the ISO week
    (``2026-W50``), which readers do not know: the mail says "week beginning 7 December
    2026", as the weekly digest does. ``steward`` says what the member can do on the site
    (``steward_of``; none: a member with no login)."""
    context = {"member": person, "entries": list(entries), "base_url": base_url.rstrip("/"),
               "week": period_label(f"weekly:{week}"), "low_precision": list(low_precision),
               "threshold": percent(threshold), "library": library,
               "what_to_do": (steward or Steward()).what_to_do()}
    return compose(
        sender=sender, to=person.email, to_name=person.name, message_id=message_id, date=now,
        subject=env.get_template("stewardship/subject.txt").render(context),
        text=env.get_template("stewardship/body.txt").render(context) + "\n",
        html=env.get_template("stewardship/body.html").render(context) + "\n")
