"""The librarians' workbench (issue 14): the dashboard, stored items searched in the search
language, one item with its matches and story, source health with "test now" and pause,
topics with their test sets and weekly matches, and what the outbox sent or holds.

Reads go through ``storage`` and return core values; the only writes are pausing or resuming
a source and retrying a failed message, each one short transaction. A source's pause lives in
the database (its state), never in sources.toml: the service does not rewrite the
librarians' files.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from awareness.bulletins.schedule import next_due
from awareness.digests.build import Digest
from awareness.drivers.views import DriverView
from awareness.errors import AwarenessError, NotFound
from awareness.mail.compose import mask_address
from awareness.mail.outbox import kind_name
from awareness.review import MatchView
from awareness.roster import status_of
from awareness.service import checks, driver_views, listing
from awareness.service.context import Context
from awareness.service.digests import preview_digest
from awareness.service.page_sources import preview_source
from awareness.service.stewardship import attention_overview
from awareness.storage import bulletins as bulletin_store
from awareness.storage import matches, overview, subscribers
from awareness.storage.db import reading, writing
from awareness.subscriptions import Topic
from awareness.topics.examples import ExampleFailure, run_examples
from awareness.topics.query import parse_query
from awareness.workbench import (
    WEEKS,
    Dashboard,
    ItemSearch,
    ListedItem,
    NextSend,
    Paged,
    SendSearch,
    Sent,
    listed,
    next_digest_send,
    page_of,
    weekly_counts,
)

log = logging.getLogger(__name__)

MAX_SCAN = 20_000  # items a search in the search language reads, newest first
PROBLEM_STATES = ("broken", "gone", "paused")  # a disabled source was removed on purpose


# --- the dashboard --------------------------------------------------------------------------

def dashboard(ctx: Context, *, administrator: bool = False) -> Dashboard:
    """Pending reviews by topic, sources needing a person, the next sends, records due for
    review (and how many need attention, have no one responsible or no review date: the
    steering group's view, ``stewardship.attention_overview``), and what the outbox has not
    sent (with why the latest try failed: a mail server that is down or refuses the login
    stops every message, and says so here); for an ``administrator``, the placeholder
    addresses `awareness check` warns about too."""
    titles = {t.slug: t.name for t in ctx.topics()}
    with reading(ctx.engine) as conn:
        pending = overview.pending_by_topic(conn)
        unsent = {key: count for key, count in overview.outbox_counts(conn).items()
                  if key[1] != "sent"}
        retrying, reason = overview.retrying(conn)
    records = driver_views.list_drivers(ctx)
    due = [v for v in records if v.due_status(ctx.now().date()) in ("overdue", "due-soon")]
    stewardship = attention_overview(ctx) if records else None
    return Dashboard(
        pending=sorted(((slug, titles.get(slug, slug), count) for slug, count in pending.items()),
                       key=lambda row: (-row[2], row[1])),
        sources=[row for row in listing.source_health(ctx) if _needs_a_person(row)],
        sends=next_sends(ctx),
        records_due=[(v.slug, v.title, v.due_status(ctx.now().date()), v.review_due_on)
                     for v in sorted(due, key=_due_order)],
        records=len(records), unsent=unsent, retrying=retrying, retry_reason=reason,
        placeholders=checks.placeholder_warnings(ctx.settings) if administrator else [],
        records_attention=len(stewardship.for_members) if stewardship else 0,
        records_no_member=len(stewardship.no_one_responsible) if stewardship else 0,
        records_no_review_date=len(stewardship.no_review_date) if stewardship else 0)


def _needs_a_person(row: dict[str, Any]) -> bool:
    if row["state"] == "disabled":
        return False
    return bool(row["state"] in PROBLEM_STATES or row["stale"] or row["error_count"]
                or row["duplicate_of"])


def _due_order(view: DriverView) -> tuple[int, str]:
    return (view.review_due_on.toordinal() if view.review_due_on else 0, view.title)


def next_sends(ctx: Context) -> list[NextSend]:
    """When the daily and weekly digests go next, and each bulletin's next issue."""
    now, tz = ctx.now(), ctx.settings.timezone
    sends = [NextSend(f"{frequency.capitalize()} digests", _next_digest_send(ctx, frequency))
             for frequency in ("daily", "weekly")]
    for bulletin in ctx.bulletins():
        with reading(ctx.engine) as conn:
            last = bulletin_store.latest(conn, bulletin.slug)
        if last is not None and last.status != "sent":
            state = "held" if last.held_at else last.status
            sends.append(NextSend(f"{bulletin.title} #{last.number}", last.due_at, state,
                                  f"/bulletins/{bulletin.slug}/{last.number}/preview"))
        else:
            at = next_due(now, last.due_at if last else None, day=bulletin.send_day,
                          at=bulletin.send_hour_minute, tz=tz)
            sends.append(NextSend(bulletin.title, at, "not drafted yet",
                                  f"/bulletins/{bulletin.slug}"))
    return sorted(sends, key=lambda s: s.at)


def _next_digest_send(ctx: Context, frequency: str) -> datetime:
    """When the scheduler next sends the digests of ``frequency``."""
    schedule = ctx.settings.schedule
    return next_digest_send(
        frequency, ctx.now(), ctx.settings.timezone, daily_time=schedule.daily_time,
        weekly_day=schedule.weekly_day, weekly_time=schedule.weekly_time,
        skip_holidays=schedule.bank_holidays == "next-working-day")


# --- items ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class FoundItems:
    """A page of the item search; ``searched`` is how many items the words were tried on
    (None without words), ``capped`` whether that stopped at MAX_SCAN."""

    page: Paged[ListedItem]
    searched: int | None = None
    capped: bool = False
    matched: dict[int, list[tuple[str, str]]] = field(default_factory=dict)  # topic, status

    def as_json(self) -> dict[str, object]:
        """JSON-ready."""
        return {"total": self.page.total, "page": self.page.page, "pages": self.page.pages,
                "searched": self.searched, "capped": self.capped,
                "items": [{**row.as_json(), "matches": [
                    {"topic": slug, "status": status}
                    for slug, status in self.matched.get(row.id, [])]}
                    for row in self.page.rows]}


def source_names(ctx: Context) -> dict[str, str]:
    """Every stored source's name by id (those no longer in sources.toml too: their items
    stay)."""
    with reading(ctx.engine) as conn:
        return overview.source_names(conn)


def find_items(ctx: Context, search: ItemSearch) -> FoundItems:
    """The search's page of stored items, newest first. Words are the search language,
    matched as polling matches (a QuerySyntaxError says where a query is wrong)."""
    start, end = search.window(ctx.settings.timezone)
    if not search.text:
        with reading(ctx.engine) as conn:
            rows, total = overview.item_page(conn, search, start, end)
            matched = overview.matched_topics(conn, [row.id for row in rows])
        return FoundItems(Paged(rows, total, search.page), matched=matched)
    query = parse_query(search.text, search.spelling)
    found: list[ListedItem] = []
    searched = 0
    with reading(ctx.engine) as conn:
        for row, text in overview.items_to_search(conn, search, start, end):
            if searched == MAX_SCAN:
                break
            searched += 1
            if query.match(text):
                found.append(row)
        page = page_of(found, search.page)
        matched = overview.matched_topics(conn, [row.id for row in page.rows])
    return FoundItems(page, searched, searched == MAX_SCAN, matched)


@dataclass(frozen=True)
class ItemDetail:
    """One stored item, its matches (each with its driver links) and its story siblings."""

    item: ListedItem
    summary: str
    categories: tuple[str, ...]
    doi: str | None
    matches: list[MatchView]
    siblings: list[ListedItem]

    def as_json(self) -> dict[str, object]:
        """JSON-ready."""
        return {**self.item.as_json(), "summary": self.summary,
                "categories": list(self.categories), "doi": self.doi,
                "matches": [m.as_json() for m in self.matches],
                "siblings": [s.as_json() for s in self.siblings]}


def item_detail(ctx: Context, item_id: int) -> ItemDetail:
    """One item with its matches and the same document from other publishers."""
    with reading(ctx.engine) as conn:
        found = overview.item(conn, item_id)
        if found is None:
            raise NotFound(f"no item {item_id}")
        views = matches.matches_of_item(conn, item_id)
        siblings = overview.story_siblings(conn, item_id)
    row, summary, categories, doi = found
    return ItemDetail(row, summary, categories, doi, views, siblings)


# --- sources --------------------------------------------------------------------------------

def test_source(ctx: Context, source_id: str) -> dict[str, Any]:
    """What the source's definition extracts from its live page now (``awareness sources
    test``); nothing is stored. FetchError or ParseError say why it could not."""
    definitions = {d.id: d for d in ctx.sources()}
    if source_id not in definitions:
        raise NotFound(f"no source {source_id!r} in sources.toml")
    return preview_source(ctx, definitions[source_id])


def pause_source(ctx: Context, source_id: str, *, by: str) -> bool:
    """Stop polling the source until a librarian resumes it (kept in the database); False
    when it was paused already, and nothing changed."""
    return _set_paused(ctx, source_id, True, by)


def resume_source(ctx: Context, source_id: str, *, by: str) -> bool:
    """Poll a paused source again, at once; False when it was active already, and nothing
    changed."""
    return _set_paused(ctx, source_id, False, by)


def _set_paused(ctx: Context, source_id: str, paused: bool, by: str) -> bool:
    with writing(ctx.engine) as conn:
        state = overview.source_state(conn, source_id)
        changed = state is not None and overview.set_paused(conn, source_id, paused, ctx.now())
    if state is None:
        raise NotFound(f"no source {source_id!r}")
    if not changed and state == ("paused" if paused else "active"):
        return False  # as asked already: asking twice is no mistake
    if not changed:
        raise AwarenessError(f"{source_id} is {state}: only an active or broken source can "
                             "be paused" if paused else f"{source_id} is {state}, not paused")
    log.info("source %s %s by %s", source_id, "paused" if paused else "resumed", by)
    return True


# --- topics ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class TopicSummary:
    """A topic as librarians manage it: its file, its test set's result, its recent matches."""

    topic: Topic
    failures: list[ExampleFailure]
    weekly: list[int]  # matches made in each of the last WEEKS weeks, oldest first
    pending: int

    def as_json(self) -> dict[str, object]:
        """JSON-ready."""
        t = self.topic
        return {"slug": t.slug, "title": t.name, "description": t.description,
                "query": t.query.text, "spelling": t.query.spelling, "review": t.review,
                "sources": list(t.sources), "published": t.published,
                "examples": len(t.examples),
                "examples_failing": [f.message() for f in self.failures],
                "matches_per_week": self.weekly, "pending": self.pending}


def topic_summaries(ctx: Context) -> list[TopicSummary]:
    """Every topic by title, with its test set run and its matches per week."""
    now = ctx.now()
    with reading(ctx.engine) as conn:
        times = overview.match_times(conn, now - timedelta(weeks=WEEKS))
        pending = overview.pending_by_topic(conn)
    return [TopicSummary(t, run_examples(t), weekly_counts(times.get(t.slug, ()), now),
                         pending.get(t.slug, 0))
            for t in sorted(ctx.topics(), key=lambda t: t.name.casefold())]


# --- sends ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class SendList:
    """A page of the outbox (addresses masked) and the counts by kind and status."""

    page: Paged[Sent]
    counts: dict[tuple[str, str], int]

    @property
    def kinds(self) -> list[str]:
        """The kinds counted, by their names (``mail.outbox.kind_name``)."""
        return sorted({kind for kind, _ in self.counts}, key=kind_name)

    def as_json(self) -> dict[str, object]:
        """JSON-ready."""
        return {"total": self.page.total, "page": self.page.page, "pages": self.page.pages,
                "messages": [row.as_json() for row in self.page.rows],
                "counts": [{"kind": k, "status": s, "count": c}
                           for (k, s), c in sorted(self.counts.items())]}


def kinds(ctx: Context) -> list[str]:
    """The kinds of message the outbox holds, by their names."""
    with reading(ctx.engine) as conn:
        return sorted({kind for kind, _ in overview.outbox_counts(conn)}, key=kind_name)


def list_sends(ctx: Context, search: SendSearch) -> SendList:
    """The search's page of outbox rows, newest first, never a message body, every address
    masked."""
    with reading(ctx.engine) as conn:
        rows, total = overview.outbox_page(conn, search)
        counts = overview.outbox_counts(conn)
        describe = ctx.describer(conn, [(row.kind, row.key) for row in rows])
    return SendList(Paged([listed(r, describe) for r in rows], total, search.page), counts)


def retry_send(ctx: Context, row_id: int, *, by: str) -> Sent:
    """Make a failed message, or one waiting for its next try (the mail server was down,
    and is mended now), due now; the relay's next pass sends it."""
    with writing(ctx.engine) as conn:
        row = overview.outbox_row(conn, row_id)
        if row is None:
            raise NotFound(f"no message {row_id}")
        if not overview.due_now(conn, row_id, ctx.now()):
            raise AwarenessError(f"message {row_id} is {row.status}: only a failed message, or "
                                 "one waiting for its next try, can be sent again now")
        describe = ctx.describer(conn, [(row.kind, row.key)])
    log.info("outbox message %s (%s %s) queued again by %s", row_id, row.kind, row.key, by)
    return listed(row, describe)


@dataclass(frozen=True)
class Upcoming:
    """A subscriber's next digest of one frequency: when the scheduler sends it, and what it
    holds so far (None: nothing approved for them since their last, or nothing goes to
    them then: paused, unsubscribed)."""

    frequency: str
    at: datetime
    digest: Digest | None


@dataclass(frozen=True)
class NextDigest:
    """What a subscriber's next digests hold so far, one per frequency they follow;
    ``topics`` says whether they follow any (someone with none gets no digest, and with
    ``bulletins`` gets the library's bulletins alone); ``waiting``: matches in their topics
    a librarian has not decided yet, which go in too if approved before then."""

    subscriber_id: int
    address: str  # masked
    digests: list[Upcoming]
    topics: bool = True
    bulletins: bool = False
    waiting: int = 0
    status: str = "active"  # roster.STATUSES: only an active or paused one gets digests
    paused_until: datetime | None = None


def next_digests(ctx: Context, email: str) -> NextDigest:
    """Each next digest of the subscriber as ``awareness digests send --dry-run`` would build
    it at its send time: what is approved for them now and not sent to them yet. (A dry run
    now says only whether one would go now: nothing, once today's went.)"""
    with reading(ctx.engine) as conn:
        found = subscribers.by_email(conn, email.strip().lower())
        pending = overview.pending_by_topic(conn)
    if found is None:
        raise NotFound(f"no subscriber {mask_address(email)}")
    upcoming = []
    for frequency in dict.fromkeys(how for _, how in found.subscriptions):
        at = _next_digest_send(ctx, frequency)
        built = preview_digest(ctx, found.id, frequency=frequency, at=at)
        upcoming.append(Upcoming(frequency, at, built[0] if built else None))
    return NextDigest(found.id, mask_address(found.email), upcoming,
                      topics=bool(found.subscriptions), bulletins=found.bulletins,
                      waiting=sum(pending.get(slug, 0)
                                  for slug in dict.fromkeys(t for t, _ in found.subscriptions)),
                      status=status_of(found, ctx.now()), paused_until=found.paused_until)

