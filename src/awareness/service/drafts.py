"""Item → draft driver record: a librarian turns a matched item into a record to complete."""

from __future__ import annotations

from sqlalchemy import select

from awareness.drivers.drafts import draft_from_item
from awareness.errors import NotFound
from awareness.service.context import Context
from awareness.service.drivers import create_record
from awareness.storage.db import transaction
from awareness.storage.models import DriverRecordRow, Match


def draft_from_match(ctx: Context, match_id: int, *, changed_by: str) -> str:
    """Create a draft record (status "draft") from the match's item; return its slug.

    Title, source (the publisher), link, date and summary are filled in and the publication
    format is guessed from the link; "what this means for libraries" is left to the librarian.
    """
    now = ctx.now()
    with transaction(ctx.sessions) as session:
        match = session.get(Match, match_id)
        if match is None:
            raise NotFound(f"no match {match_id}")
        item = match.item
        taken = set(session.scalars(select(DriverRecordRow.slug)))
        record = draft_from_item(title=item.title, publisher=item.source.publisher,
                                 link=item.link or "", published=item.published_at,
                                 summary=item.summary_text, taken=taken)
        create_record(session, record, now=now, changed_by=changed_by, status="draft",
                      action="draft")
        return record.slug
