"""Stewardship: which driver records need their member's attention, and the weekly e-mail
that tells each member.

A record needs attention when its review date has passed, or when an item was linked to it as
the *same document* or a *new edition* after the record was last updated (the document may
have changed under it). Each member gets one e-mail per ISO week; the ``stewardship_mails``
table remembers what was sent, so a rerun in the same week sends nothing again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

import jinja2
from sqlalchemy import select

from awareness.digests.render import (
    MAIL_POLICY,
    clean_header_text,
    make_environment,
)
from awareness.drivers.members import MEMBERS_FILE, Member, parse_members
from awareness.drivers.views import due_status
from awareness.errors import MailError
from awareness.service.context import Context
from awareness.storage import drivers as store
from awareness.storage.db import reading, transaction
from awareness.storage.models import StewardshipMail

ATTENTION_KINDS = ("same_document", "new_edition")


@dataclass(frozen=True)
class Attention:
    """One record on a member's list, with every reason it is there."""

    slug: str
    title: str
    member: str
    review_due_on: date | None
    reasons: tuple[str, ...]

    def as_json(self) -> dict[str, object]:
        """The entry as a JSON object."""
        return {"slug": self.slug, "title": self.title, "member": self.member,
                "review_due_on": self.review_due_on.isoformat() if self.review_due_on else None,
                "reasons": list(self.reasons)}


@dataclass
class StewardshipReport:
    """What one stewardship run did, member by member (initials)."""

    sent: list[str] = field(default_factory=list)
    already_sent: list[str] = field(default_factory=list)
    nothing_due: list[str] = field(default_factory=list)
    no_address: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def load_members(ctx: Context) -> list[Member]:
    """The members in subscriptions/members.toml; none when the file does not exist."""
    path = ctx.subscriptions_dir / MEMBERS_FILE
    if not path.is_file():
        return []
    return parse_members(path.read_text(encoding="utf-8"), str(path))


def needs_attention(ctx: Context, member: str = "", today: date | None = None) -> list[Attention]:
    """Records needing attention (of one member, when given), by member then title."""
    today = today or ctx.now().date()
    with reading(ctx.engine) as conn:
        drivers = store.drivers_by_member(conn, member.strip().upper() if member else None)
        links = store.links_since_update(conn, ATTENTION_KINDS)
    linked: dict[int, list[str]] = {}
    for link in links:
        linked.setdefault(link.driver_id, []).append(
            f"{link.kind.replace('_', ' ')}: {link.item_title}")
    out = []
    for driver in drivers:
        reasons = list(dict.fromkeys(linked.get(driver.id, [])))
        if due_status(driver.review_due_on, today) == "overdue":
            reasons.insert(0, f"review was due on {driver.review_due_on:%d %B %Y}")
        if reasons:
            out.append(Attention(driver.record.slug, driver.record.title, driver.member,
                                 driver.review_due_on, tuple(reasons)))
    return out


def iso_week(day: date) -> str:
    """The ISO week of ``day``, e.g. ``2026-W48``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def stewardship_message_id(member: str, week: str, domain: str) -> str:
    """The same Message-ID for the same member and week, so a resend is recognisable."""
    return f"<stewardship.{week}.{member.lower()}@{domain.strip().lower()}>"


def send_stewardship(ctx: Context, *, today: date | None = None) -> StewardshipReport:
    """Send each member with records needing attention their list, once per ISO week."""
    now = ctx.now()
    today = today or now.date()
    week = iso_week(today)
    report = StewardshipReport()
    by_member: dict[str, list[Attention]] = {}
    for entry in needs_attention(ctx, today=today):
        by_member.setdefault(entry.member, []).append(entry)
    members = {m.initials: m for m in load_members(ctx)}
    env = make_environment(ctx.templates_dir)
    with ctx.sessions() as session:
        done = set(session.scalars(select(StewardshipMail.member)
                                   .where(StewardshipMail.week == week)))
    for initials in sorted(by_member):
        person = members.get(initials)
        if person is None:
            report.no_address.append(initials or "(none)")
        elif initials in done:
            report.already_sent.append(initials)
        else:
            _send_one(ctx, env, person, by_member[initials], week, now, report)
    report.nothing_due.extend(sorted(set(members) - set(by_member)))
    return report


def _send_one(ctx: Context, env: jinja2.Environment, person: Member, entries: list[Attention],
              week: str, now: datetime, report: StewardshipReport) -> None:
    s = ctx.settings
    message_id = stewardship_message_id(person.initials, week, s.mail.domain)
    message = render_stewardship(env, person, entries, from_addr=s.mail.from_addr,
                                 from_name=s.mail.from_name, base_url=s.base_url,
                                 message_id=message_id, now=now, week=week)
    try:
        ctx.mailer.send(message)
    except MailError as err:
        report.failed.append(f"{person.initials}: {err}")
        return
    with transaction(ctx.sessions) as session:
        session.add(StewardshipMail(member=person.initials, week=week, message_id=message_id,
                                    sent_at=now))
    report.sent.append(person.initials)


def render_stewardship(env: jinja2.Environment, person: Member, entries: Iterable[Attention], *,
                       from_addr: str, from_name: str, base_url: str, message_id: str,
                       now: datetime, week: str) -> EmailMessage:
    """One member's weekly list as a ``multipart/alternative`` message."""
    context = {"member": person, "entries": list(entries), "base_url": base_url.rstrip("/"),
               "week": week}
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = Address(clean_header_text(from_name), addr_spec=from_addr)
    message["To"] = Address(clean_header_text(person.name), addr_spec=person.email)
    message["Subject"] = clean_header_text(
        env.get_template("stewardship/subject.txt").render(context))
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(env.get_template("stewardship/body.txt").render(context) + "\n",
                        subtype="plain", charset="utf-8", cte="quoted-printable")
    message.add_alternative(env.get_template("stewardship/body.html").render(context) + "\n",
                            subtype="html", charset="utf-8", cte="quoted-printable")
    for part in message.iter_parts():
        del part["MIME-Version"]
    return message

