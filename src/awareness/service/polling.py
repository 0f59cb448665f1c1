"""Polling: fetch due sources, store new items once, match them, link their drivers."""

from __future__ import annotations

import hashlib
import logging
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from urllib.parse import urlsplit

from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.orm import Session

from awareness.drivers.linking import related_drivers
from awareness.errors import AwarenessError, FetchError, NotFound, ParseError
from awareness.links import normalise_link
from awareness.model import DriverRecord, ItemText, ParsedItem
from awareness.service import page_sources
from awareness.service.context import Context
from awareness.service.ingest import tombstone_keys, upsert_items
from awareness.sources import redirects, schedule
from awareness.sources.fetch import FetchResult, Validators, fetch
from awareness.sources.worker import ParsePool, shared_pool
from awareness.storage.db import reading, transaction
from awareness.storage.drivers import records_for_linking
from awareness.storage.models import (
    DeliveryItem,
    Item,
    ItemTombstone,
    Match,
    MatchDriver,
    Review,
    Source,
)
from awareness.subscriptions import SourceDef, Topic
from awareness.topics.presearch import cached_index

log = logging.getLogger(__name__)

@dataclass(frozen=True)
class PollOutcome:
    """What one poll of one source did, for the CLI and the logs."""

    source_id: str
    status: str  # ok|not_modified|unchanged|failed
    new_items: int = 0
    updated_items: int = 0
    new_matches: int = 0
    baseline: bool = False
    error: str | None = None


def sync_sources(ctx: Context) -> None:
    """Bring the sources table in line with sources.toml (definitions only, never fetch state).

    A source removed from the file is disabled, never deleted: its items stay.
    """
    defs = {d.id: d for d in ctx.sources()}
    with transaction(ctx.sessions) as session:
        rows = {row.id: row for row in session.scalars(select(Source))}
        for source_id, d in defs.items():
            row = rows.get(source_id) or Source(id=source_id, baseline_done=False, error_count=0,
                                                state="active")
            if row.url != d.url and row.url is not None:
                # A new URL is a new feed for conditional GET purposes.
                row.etag = row.last_modified = row.body_hash = None
                row.fetch_url = row.redirect_target = row.duplicate_of = None
                row.redirect_count = 0
            row.name, row.publisher, row.url, row.kind = d.name, d.publisher, d.url, d.kind
            row.interval_minutes, row.enabled = d.interval_minutes, d.enabled
            session.add(row)
        for source_id, row in rows.items():
            if source_id not in defs:
                row.enabled = False


def due_sources(ctx: Context) -> list[str]:
    """Ids of the enabled, active sources whose next check has come."""
    now = ctx.now()
    with ctx.sessions() as session:
        rows = session.scalars(
            select(Source).where(Source.enabled.is_(True), Source.state == "active")
        ).all()
        return [row.id for row in rows if schedule.is_due(row.next_check_at, now)]


def poll(ctx: Context, source_ids: Iterable[str] | None = None,
         on_done: Callable[[PollOutcome], None] | None = None) -> list[PollOutcome]:
    """Poll the given sources (default: those that are due); a failing source never stops it."""
    sync_sources(ctx)
    ids = list(source_ids) if source_ids is not None else due_sources(ctx)
    topics = ctx.topics()
    drivers = load_driver_records(ctx)
    states = _source_states(ctx, ids)
    limits: dict[str, threading.Semaphore] = {}
    per_host = max(1, ctx.settings.fetch.per_host)

    def one(source_id: str) -> PollOutcome:
        # At most `per_host` fetches to one publisher at a time, however many sources it has.
        state = states.get(source_id)
        host = (urlsplit(state.fetch_url or state.url).hostname or "") if state else ""
        limit = limits.setdefault(host, threading.Semaphore(per_host))
        with limit:
            try:
                return poll_source(ctx, source_id, topics, drivers, state=state)
            except Exception as exc:  # a bug for one source must not stop the others
                log.exception("polling %s failed unexpectedly", source_id)
                return _record_failure(ctx, source_id, FetchError(
                    f"internal error ({type(exc).__name__}); see the service log"))

    outcomes: dict[str, PollOutcome] = {}
    workers = max(1, min(ctx.settings.fetch.concurrency, len(ids)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool:
        futures = {pool.submit(one, source_id): source_id for source_id in ids}
        for future in as_completed(futures):
            outcome = outcomes[futures[future]] = future.result()
            _report(outcome, on_done)
    return [outcomes[source_id] for source_id in ids]


def _source_states(ctx: Context, ids: list[str]) -> dict[str, Any]:
    """Every polled source's state, read once for the run rather than once per source."""
    with ctx.sessions() as session:
        return {row.id: row for row in session.connection().execute(
            _STATES.where(Source.id.in_(bindparam("ids", expanding=True))), {"ids": ids})}


def _report(outcome: PollOutcome, on_done: Callable[[PollOutcome], None] | None) -> None:
    if outcome.status == "ok":
        log.info("%s: %d new, %d updated, %d matches%s", outcome.source_id, outcome.new_items,
                 outcome.updated_items, outcome.new_matches,
                 " (baseline)" if outcome.baseline else "")
    if on_done:
        on_done(outcome)


def poll_source(ctx: Context, source_id: str, topics: Sequence[Topic],
                drivers: list[tuple[int, DriverRecord]],
                parser: ParsePool | None = None, state: Any = None) -> PollOutcome:
    """Fetch, parse and store one source. Validators move only with the items they describe.

    Parsing runs in a worker process (``parser``, default the shared pool), bounded in time
    and memory, so a runaway feed costs one error, not the run (RELIABILITY P8). ``state``
    is the source's row as the run read it (default: read it now). It only saves work
    (validators, the last body's hash): storing reads the row again in its transaction.
    """
    if state is None:
        with ctx.sessions() as session:
            state = _source_state(session, source_id)
    url = state.fetch_url or state.url
    validators = Validators(state.etag, state.last_modified)
    old_hash, kind, baseline = state.body_hash, state.kind, not state.baseline_done
    try:
        result = fetch(url, validators=validators, policy=ctx.fetch_policy, resolver=ctx.resolver)
    except FetchError as exc:
        return _record_failure(ctx, source_id, exc)
    if result.status == "not_modified":
        return _record_success(ctx, source_id, result, None, "not_modified")
    body_hash = hashlib.sha256(result.body).hexdigest()
    # A sitemap index can stay the same while its child sitemaps change: always read it.
    if body_hash == old_hash and kind != "sitemap":
        return _record_success(ctx, source_id, result, body_hash, "unchanged")
    try:
        if kind == "feed":
            parsed = (parser or shared_pool()).parse(
                result.body, url=result.url, content_type=result.content_type, now=ctx.now())
        else:
            extracted = page_sources.extract(ctx, _definition(ctx, source_id), result.body,
                                             result.url, baseline)
            parsed = extracted.feed
            if not extracted.complete:
                # New pages wait for the next poll: it must not get "304 not modified".
                result = replace(result, validators=Validators())
    except ParseError as exc:
        return _record_failure(ctx, source_id, FetchError(str(exc), url=url))
    return _store(ctx, source_id, result, body_hash, parsed.items, parsed.warnings, topics,
                  drivers)


def _definition(ctx: Context, source_id: str) -> SourceDef:
    for definition in ctx.sources():
        if definition.id == source_id:
            return definition
    raise ParseError(f"source '{source_id}' is no longer in sources.toml")


def _store(ctx: Context, source_id: str, result: FetchResult, body_hash: str,
           items: Iterable[ParsedItem], warnings: Iterable[str], topics: Sequence[Topic],
           drivers: list[tuple[int, DriverRecord]]) -> PollOutcome:
    now = ctx.now()
    with transaction(ctx.sessions) as session:
        # Columns and one UPDATE, not the ORM: this runs for every fetch that has items.
        source = _source_state(session, source_id)
        baseline = not source.baseline_done
        new, updated, rekeyed = upsert_items(session, source_id, items, now, baseline)
        new_matches = 0 if baseline else sum(
            match_item(session, item, source, topics, drivers, now)
            for item in session.scalars(select(Item).where(Item.id.in_(new)).order_by(Item.id))
        )
        if rekeyed:
            warnings = [*warnings, f"the feed changed the ids of {rekeyed} known items; they "
                        "were recognised and not alerted again"]
        _update_source(session, source_id, _success_values(source, result, body_hash, now)
                       | _redirect_values(session, source, result)
                       | {"baseline_done": True, "warnings": "\n".join(warnings) or None})
    return PollOutcome(source_id, "ok", len(new), updated, new_matches, baseline)


class SourceRef(Protocol):
    """What matching needs to know of an item's source."""

    @property
    def id(self) -> str: ...
    @property
    def publisher(self) -> str: ...


def match_item(session: Session, item: Item, source: SourceRef, topics: Sequence[Topic],
               drivers: list[tuple[int, DriverRecord]], now: datetime) -> int:
    """Match one stored item against every topic; store each match with its driver links."""
    text = ItemText(title=item.title, summary=item.summary_text,
                    categories=tuple(item.categories or ()),
                    source=f"{source.publisher} {source.id}")
    # The presearch index evaluates only the topics whose required words occur in the item.
    found = cached_index(tuple((t.slug, t.query) for t in topics)).match(text)
    count = 0
    for topic in topics:
        if topic.sources and source.id not in topic.sources:
            continue
        hits = found.get(topic.slug, ())
        if not hits:
            continue
        match = Match(item_id=item.id, topic_slug=topic.slug,
                      status="pending" if topic.review == "required" else "auto",
                      hits=[{"term": h.term, "field": h.field, "word": h.word} for h in hits],
                      score=topic.query.score(text, hits, published=item.published_at, now=now),
                      created_at=now, profile_version=topic.query.version)
        session.add(match)
        session.flush()
        _link_drivers(session, match, item, topic, drivers)
        count += 1
    return count


def _link_drivers(session: Session, match: Match, item: Item, topic: Topic,
                  drivers: list[tuple[int, DriverRecord]]) -> None:
    ids = {record.slug: row_id for row_id, record in drivers}
    links = related_drivers(title=item.title, summary=item.summary_text, link=item.link,
                            topic_tags=topic.driver_tags,
                            records=[record for _, record in drivers],
                            publisher=item.source.publisher)
    for link in links:
        session.add(MatchDriver(match_id=match.id, driver_id=ids[link.slug], kind=link.kind,
                                score=link.score, reason=link.reason))


def load_driver_records(ctx: Context) -> list[tuple[int, DriverRecord]]:
    """Every stored driver record as (row id, pure value) for the linker."""
    with reading(ctx.engine) as conn:
        return records_for_linking(conn)


# What a poll reads of a source and how it writes it back: as columns, statements built once
# and run through the connection (the ORM's statement handling cost more than the database's
# own work here).
_STATES = select(Source.id, Source.publisher, Source.kind, Source.url, Source.fetch_url,
                 Source.etag, Source.last_modified, Source.body_hash, Source.baseline_done,
                 Source.redirect_target, Source.redirect_count, Source.duplicate_of,
                 Source.state, Source.interval_minutes, Source.error_count)
_STATE = _STATES.where(Source.id == bindparam("source_id"))
_UPDATE = update(Source).where(Source.id == bindparam("source_id"))


def _source_state(session: Session, source_id: str) -> Any:
    return session.connection().execute(_STATE, {"source_id": source_id}).one()


def _update_source(session: Session, source_id: str, values: dict[str, Any]) -> None:
    session.connection().execute(_UPDATE, {**values, "source_id": source_id})


def _redirect_values(session: Session, source: Any, result: FetchResult) -> dict[str, Any]:
    """Move the source's address after repeated permanent redirects (RELIABILITY F11, F12)."""
    # Only a redirect needs the other sources' addresses: a 304 stays one-row cheap.
    others = {normalise_link(fetch_url or url): other for other, fetch_url, url in
              session.execute(select(Source.id, Source.fetch_url, Source.url)
                              .where(Source.id != source.id))} if result.permanent_url else {}
    state = redirects.after_fetch(
        redirects.RedirectState(source.fetch_url, source.redirect_target,
                                source.redirect_count or 0, source.duplicate_of),
        configured_url=source.url, permanent_url=result.permanent_url, other_sources=others)
    if state.fetch_url != source.fetch_url:
        log.info("source %s moved permanently to %s", source.id, state.fetch_url)
    return {"fetch_url": state.fetch_url, "redirect_target": state.target,
            "redirect_count": state.count, "duplicate_of": state.duplicate_of}


def _success_values(source: Any, result: FetchResult, body_hash: str | None,
                    now: datetime) -> dict[str, Any]:
    values: dict[str, Any] = {
        "etag": result.validators.etag, "last_modified": result.validators.last_modified,
        "last_attempt_at": now, "last_success_at": now, "error_count": 0, "last_error": None,
        "next_check_at": schedule.next_check_after_success(now, source.interval_minutes)}
    if body_hash is not None:
        values["body_hash"] = body_hash
    if source.state == "broken":
        values["state"] = "active"  # one success resets everything (RELIABILITY F15)
    return values


def _record_success(ctx: Context, source_id: str, result: FetchResult, body_hash: str | None,
                    status: str) -> PollOutcome:
    with transaction(ctx.sessions) as session:
        source = _source_state(session, source_id)
        _update_source(session, source_id, _success_values(source, result, body_hash, ctx.now())
                       | _redirect_values(session, source, result))
    return PollOutcome(source_id, status)


def _record_failure(ctx: Context, source_id: str, error: FetchError) -> PollOutcome:
    now = ctx.now()
    with transaction(ctx.sessions) as session:
        source = _source_state(session, source_id)
        errors = source.error_count + 1
        values: dict[str, Any] = {
            "error_count": errors, "last_error": str(error), "last_attempt_at": now,
            "next_check_at": schedule.next_check_after_failure(
                now, source.interval_minutes, errors, error.retry_after, random.random())}
        if error.gone:
            values["state"] = "gone"
        elif schedule.is_broken(errors):
            values["state"] = "broken"
        _update_source(session, source_id, values)
    log.warning("source %s failed: %s", source_id, error)
    return PollOutcome(source_id, "failed", error=str(error))


def delete_item(ctx: Context, item_id: int) -> None:
    """Delete an item and its matches, leaving a tombstone so the feed cannot bring it back
    (RELIABILITY D7). An item already sent in a digest stays: the delivery record needs it."""
    with transaction(ctx.sessions) as session:
        item = session.get(Item, item_id)
        if item is None:
            raise NotFound(f"no item {item_id}")
        if session.scalar(select(DeliveryItem.id).where(DeliveryItem.item_id == item_id)):
            raise AwarenessError(f"item {item_id} was already sent in a digest; reject its "
                                 "matches instead of deleting it")
        match_ids = list(session.scalars(select(Match.id).where(Match.item_id == item_id)))
        for model in (MatchDriver, Review):
            session.execute(delete(model).where(model.match_id.in_(match_ids)))
        session.execute(delete(Match).where(Match.item_id == item_id))
        for key in dict.fromkeys(tombstone_keys(item.key, item.link, item.title,
                                                item.summary_text)):
            session.add(ItemTombstone(source_id=item.source_id, key=key, deleted_at=ctx.now()))
        session.delete(item)
