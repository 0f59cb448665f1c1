"""Item → draft driver record: a librarian turns a matched item into a record to complete."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection

from awareness.drivers.drafts import draft_from_item
from awareness.drivers.editions import latest_edition
from awareness.errors import NotFound
from awareness.model import DriverRecord
from awareness.review import MatchLink
from awareness.service.context import Context
from awareness.service.drivers import create_record
from awareness.storage import drivers as store
from awareness.storage import match_links
from awareness.storage.db import reading, writing
from awareness.storage.matches import match_view


@dataclass(frozen=True)
class Drafted:
    """The draft record of a match's item: its slug, and whether this call ``made`` it (or
    found the one drafted from the match before)."""

    slug: str
    made: bool


def draft_from_match(ctx: Context, match_id: int, *, changed_by: str) -> Drafted:
    """Create a draft record (status "draft") from the match's item, linked to the match.
    Drafting again from the same match gives the draft made before (issue 14), not made
    now, without putting back its link if a librarian removed it.

    Title, source (the publisher), link, date and summary are filled in and the publication
    format is guessed from the link; "what this means for libraries" is left to the librarian.
    When the item is linked as a new edition of active records, the latest of them gives the
    draft what carries over (``drivers.drafts.CARRIED_OVER``, tags) and is named in its notes;
    it is not changed: it stays on the needs-attention list until a member marks it reviewed.
    """
    with reading(ctx.engine) as conn:
        item = match_view(conn, match_id)
    if item is None:
        raise NotFound(f"no match {match_id}")
    now = ctx.now()
    with writing(ctx.engine) as conn:
        links = match_links.links_of(conn, match_id)
        drafted = [link.slug for link in links if link.record_status == "draft"]
        if drafted:
            return Drafted(drafted[0], made=False)
        earlier = _earlier_edition(conn, links)
        # The slugs in use are read in the transaction that adds the new one (a write the
        # slug depends on); the unique slug column refuses what a concurrent draft took.
        record = draft_from_item(title=item.title, publisher=item.publisher,
                                 link=item.link or "", published=item.published_at,
                                 summary=item.summary, taken=store.driver_slugs(conn),
                                 earlier=earlier)
        driver_id = create_record(conn, record, now=now, changed_by=changed_by,
                                  status="draft", action="draft")
        match_links.add(conn, match_id, driver_id, by=changed_by, now=now,
                        reason="drafted from this item")
    return Drafted(record.slug, made=True)


def _earlier_edition(conn: Connection, links: list[MatchLink]) -> DriverRecord | None:
    """The latest active record the match's item is a new edition of (a link a librarian
    removed does not count), or None."""
    slugs = [link.slug for link in links if link.kind == "new_edition"
             and link.state != "removed" and link.record_status == "active"]
    return latest_edition([stored.record for stored in
                           store.drivers_by_slugs(conn, slugs)]) if slugs else None
