"""The daily "broken or stale sources" e-mail to the sources' owner (shell).

Sent to ``[sources] owner_email`` when at least one source needs attention, at most once a
day: the ``source_health_mails`` table records the day (in the service's time zone) before a
rerun could send it again. A failed send records nothing, so the next run tries again.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime

from sqlalchemy import select

from awareness.digests.render import MAIL_POLICY, clean_header_text
from awareness.errors import MailError
from awareness.service.context import Context
from awareness.service.listing import source_health
from awareness.sources import health_mail
from awareness.storage.db import transaction
from awareness.storage.models import SourceHealthMail


@dataclass(frozen=True)
class SourceReport:
    """What one run did: "sent", "nothing to report", "already sent", "no owner" or "failed"."""

    status: str
    day: str
    sources: tuple[str, ...] = ()
    error: str | None = None


def send_source_report(ctx: Context) -> SourceReport:
    """E-mail the owner the sources that are broken, gone, stale or duplicates, once a day."""
    now = ctx.now()
    day = now.astimezone(ctx.settings.timezone).date().isoformat()
    owner = ctx.settings.sources.owner_email.strip()
    if not owner:
        return SourceReport("no owner", day)
    with ctx.sessions() as session:
        if session.scalar(select(SourceHealthMail.id).where(SourceHealthMail.day == day)):
            return SourceReport("already sent", day)
    found = health_mail.problems(source_health(ctx))
    ids = tuple(row["id"] for row, _ in found)
    if not found:
        return SourceReport("nothing to report", day)
    s = ctx.settings
    message_id = f"<sources.{day}@{s.mail.domain.strip().lower()}>"
    subject, body = health_mail.message_text(found, day=day)
    message = EmailMessage(policy=MAIL_POLICY)
    message["From"] = Address(clean_header_text(s.mail.from_name), addr_spec=s.mail.from_addr)
    message["To"] = owner
    message["Subject"] = clean_header_text(subject)
    message["Date"] = format_datetime(now)
    message["Message-ID"] = message_id
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(body, subtype="plain", charset="utf-8", cte="quoted-printable")
    try:
        ctx.mailer.send(message)
    except MailError as err:
        return SourceReport("failed", day, ids, str(err))
    with transaction(ctx.sessions) as session:
        session.add(SourceHealthMail(day=day, message_id=message_id, sent_at=now))
    return SourceReport("sent", day, ids)
