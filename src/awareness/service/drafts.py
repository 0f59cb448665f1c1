"""Item → draft driver record: a librarian turns a matched item into a record to complete."""

from __future__ import annotations

from awareness.drivers.drafts import draft_from_item
from awareness.errors import NotFound
from awareness.service.context import Context
from awareness.service.drivers import create_record
from awareness.storage import drivers as store
from awareness.storage.db import reading, writing
from awareness.storage.matches import match_view


def draft_from_match(ctx: Context, match_id: int, *, changed_by: str) -> str:
    """Create a draft record (status "draft") from the match's item; return its slug.

    Title, source (the publisher), link, date and summary are filled in and the publication
    format is guessed from the link; "what this means for libraries" is left to the librarian.
    """
    with reading(ctx.engine) as conn:
        item = match_view(conn, match_id)
    if item is None:
        raise NotFound(f"no match {match_id}")
    now = ctx.now()
    with writing(ctx.engine) as conn:
        # The slugs in use are read in the transaction that adds the new one (a write the
        # slug depends on); the unique slug column refuses what a concurrent draft took.
        record = draft_from_item(title=item.title, publisher=item.publisher,
                                 link=item.link or "", published=item.published_at,
                                 summary=item.summary, taken=store.driver_slugs(conn))
        create_record(conn, record, now=now, changed_by=changed_by, status="draft",
                      action="draft")
    return record.slug
