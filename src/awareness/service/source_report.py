"""The daily "broken or stale sources" e-mail to the sources' owner (service).

Queued for ``[sources] owner_email`` when at least one source needs attention, at most once a
day: the outbox holds one report per day (in the service's time zone), so a rerun queues
nothing again. The relay sends it with every other message; a failed send is retried on the
relay's schedule, and the report says so.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from awareness.mail.compose import Sender, compose, message_id
from awareness.mail.outbox import SOURCES_REPORT, Queued, sources_report_key
from awareness.service.context import Context
from awareness.service.listing import source_health
from awareness.service.outbox import relay
from awareness.sources import health_mail
from awareness.storage import outbox
from awareness.storage.db import reading, writing

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SourceReport:
    """What one run did: "sent", "nothing to report", "already sent", "no owner",
    "retrying" (queued, not sent yet: ``error`` says why) or "failed" (given up, or the
    owner's address is not one)."""

    status: str
    day: str
    sources: tuple[str, ...] = ()
    error: str | None = None


def send_source_report(ctx: Context) -> SourceReport:
    """Queue for the owner the sources that are broken, gone, stale or duplicates, once a
    day, then relay the outbox."""
    now = ctx.now()
    day = sources_report_key(now.astimezone(ctx.settings.timezone).date())
    owner = ctx.settings.sources.owner_email.strip()
    if not owner:
        return SourceReport("no owner", day)
    with reading(ctx.engine) as connection:
        before = outbox.statuses(connection, SOURCES_REPORT, [day]).get(day)
    if before is not None and before.status == "sent":
        return SourceReport("already sent", day)
    ids: tuple[str, ...] = ()
    if before is None:
        found = health_mail.problems(source_health(ctx))
        if not found:
            return SourceReport("nothing to report", day)
        ids = tuple(row["id"] for row, _ in found)
        try:
            _queue(ctx, owner, found, day, now)
        except ValueError as err:  # the owner's address in the settings is not one address
            return SourceReport("failed", day, ids, str(err))
    relay(ctx)
    with reading(ctx.engine) as connection:
        after = outbox.statuses(connection, SOURCES_REPORT, [day])[day]
    status = {"sent": "sent", "failed": "failed"}.get(after.status, "retrying")
    if status != "sent":
        log.warning("source report of %s %s: %s", day,
                    "given up" if status == "failed" else "not sent yet", after.reason)
    return SourceReport(status, day, ids, after.reason if status != "sent" else None)


def _queue(ctx: Context, owner: str, found: list[tuple[Mapping[str, Any], str]], day: str,
           now: datetime) -> None:
    s = ctx.settings
    subject, body = health_mail.message_text(found, day=day)
    mail = compose(sender=Sender(s.mail.from_addr, s.mail.from_name), to=owner,
                   subject=subject, text=body, date=now,
                   message_id=message_id("sources", day, domain=s.mail.domain))
    with writing(ctx.engine) as connection:
        outbox.queue(connection, Queued(SOURCES_REPORT, day, mail), now)
