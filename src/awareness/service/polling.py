"""Polling: fetch due sources, store new items once, match them, link their drivers.

The life of one source's poll (docs/architecture.md), each row touched once:

1. *read*: every polled source's state, in one statement per run;
2. *fetch* and *parse*, outside any transaction (parsing in a worker process);
3. *read* what the source has stored (its items' identities and tombstones), one read
   transaction, no write lock;
4. *decide* (pure): which entries are new, which stored items were edited; *match* the new
   ones against the topics and link them to driver records (pure, outside any transaction);
5. *write*, one short transaction holding only writes: the new items (their ids returned),
   the edits, their stories, the matches and driver links in one batch each, the source's
   new state. A crash before commit leaves nothing: the next poll fetches the same body again
   (the validators move with the items), and nothing is lost or doubled (RELIABILITY F8).
"""

from __future__ import annotations

import hashlib
import logging
import random
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from awareness.errors import FetchError, ParseError
from awareness.matching import Candidate, ItemMatcher
from awareness.model import ItemText, NewMatch, ParsedFeed
from awareness.service import driver_sites, page_sources
from awareness.service.context import Context
from awareness.sources import decide, redirects
from awareness.sources.decide import SourceState, StoredEntry
from awareness.sources.fetch import FetchResult, Validators, fetch
from awareness.sources.identity import KnownItem
from awareness.sources.schedule import CADENCE_WINDOW
from awareness.sources.worker import ParsePool, shared_pool
from awareness.storage import drivers as stored_drivers
from awareness.storage import items, matches, sources, stories
from awareness.storage.db import reading, writing
from awareness.subscriptions import SourceDef, Topic
from awareness.topics.text import ItemWords, OverBudget, document, retokenised

if TYPE_CHECKING:
    from sqlalchemy import Connection

log = logging.getLogger(__name__)
# The log line of a failed source: `awareness poll` shows the failure in its own output and
# leaves this one out of a text log (cli/pipeline.py); the service's log keeps it.
SOURCE_FAILED = "source %s failed: %s"


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
    fetch_seconds: float | None = None  # how long the fetch took (None: never fetched)


def sync_sources(ctx: Context) -> None:
    """Bring the sources table in line with sources.toml (definitions only, never fetch state).

    A source removed from the file is disabled, never deleted: its items stay. Nothing is
    written when nothing changed, which is every poll but the first after an edit.
    """
    defs = ctx.sources()
    with reading(ctx.engine) as conn:
        changed, moved, disabled = decide.definition_changes(defs, sources.definitions(conn))
    if changed or disabled:
        with writing(ctx.engine) as conn:
            sources.save_definitions(conn, changed, moved, disabled)


def due_sources(ctx: Context) -> list[str]:
    """Ids of the enabled, active sources whose next check has come."""
    with reading(ctx.engine) as conn:
        return sources.due(conn, ctx.now())


def poll(ctx: Context, source_ids: Iterable[str] | None = None,
         on_done: Callable[[PollOutcome], None] | None = None) -> list[PollOutcome]:
    """Poll the given sources (default: those that are due); a failing source never stops it."""
    sync_sources(ctx)
    with reading(ctx.engine) as conn:
        ids = list(source_ids) if source_ids is not None else sources.due(conn, ctx.now())
        states = sources.states(conn, ids, since=ctx.now() - CADENCE_WINDOW)
    run = PollRun(item_matcher(ctx), stories.RecentTitles())
    limits: dict[str, threading.Semaphore] = {}
    per_host = max(1, ctx.settings.fetch.per_host)

    def one(source_id: str) -> PollOutcome:
        state = states.get(source_id)
        if state is None:
            return PollOutcome(source_id, "failed", error=f"no source {source_id!r}")
        # At most `per_host` fetches to one publisher at a time, however many sources it has.
        limit = limits.setdefault(urlsplit(state.address).hostname or "",
                                  threading.Semaphore(per_host))
        with limit:
            try:
                return poll_source(ctx, state, run)
            except Exception as exc:  # a bug for one source must not stop the others
                log.exception("polling %s failed unexpectedly", source_id)
                return _failed(ctx, state, FetchError(
                    f"internal error ({type(exc).__name__}); see the service log"))

    outcomes: dict[str, PollOutcome] = {}
    workers = max(1, min(ctx.settings.fetch.concurrency, len(ids)))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="poll") as pool:
        futures = {pool.submit(one, source_id): source_id for source_id in ids}
        for future in as_completed(futures):
            outcome = outcomes[futures[future]] = future.result()
            _report(outcome, on_done)
    return [outcomes[source_id] for source_id in ids]


@dataclass(frozen=True)
class PollRun:
    """What the sources of one run share: the topics and driver records prepared for
    matching, and the recent titles stories compare new ones with."""

    matcher: ItemMatcher
    titles: stories.RecentTitles


def item_matcher(ctx: Context, topics: Sequence[Topic] | None = None) -> ItemMatcher:
    """``topics`` (default: every topic as the files are now) and every driver record,
    prepared for matching."""
    with reading(ctx.engine) as conn:
        records = [record for _, record in stored_drivers.records_for_linking(conn)]
    return ItemMatcher(ctx.topics() if topics is None else topics, records)


def _report(outcome: PollOutcome, on_done: Callable[[PollOutcome], None] | None) -> None:
    if outcome.status == "ok":
        log.info("%s: %d new, %d updated, %d match%s%s", outcome.source_id, outcome.new_items,
                 outcome.updated_items, outcome.new_matches,
                 "" if outcome.new_matches == 1 else "es",
                 " (baseline)" if outcome.baseline else "")
    if on_done:
        on_done(outcome)


def poll_source(ctx: Context, state: SourceState, run: PollRun,
                parser: ParsePool | None = None) -> PollOutcome:
    """Fetch, parse and store one source whose state the run read as ``state``.

    Parsing runs in a worker process (``parser``, default the shared pool), bounded in time
    and memory, so a runaway feed costs one error, not the run (RELIABILITY P8).
    """
    # A sitemap index can stay the same while its child sitemaps change, and the children are
    # read only when the index is: ask for it unconditionally, never to be told "304" (issue 16).
    validators = (Validators() if state.kind == "sitemap"
                  else Validators(state.etag, state.last_modified))
    started = time.monotonic()
    try:
        result = fetch(state.address, validators=validators, policy=ctx.fetch_policy,
                       resolver=ctx.resolver)
    except FetchError as exc:
        return replace(_failed(ctx, state, exc), fetch_seconds=time.monotonic() - started)
    fetched = time.monotonic() - started
    return replace(_after_fetch(ctx, state, run, parser, result), fetch_seconds=fetched)


def _after_fetch(ctx: Context, state: SourceState, run: PollRun, parser: ParsePool | None,
                 result: FetchResult) -> PollOutcome:
    """Parse and store what the fetch brought (or only note that nothing changed)."""
    if state.kind == "drivers":
        return _poll_site(ctx, state, result)
    if result.status == "not_modified":
        return _succeeded(ctx, state, result, None, "not_modified")
    body_hash = hashlib.sha256(result.body).hexdigest()
    if body_hash == state.body_hash and state.kind != "sitemap":
        return _succeeded(ctx, state, result, body_hash, "unchanged")
    with reading(ctx.engine) as conn:
        stored = items.stored_entries(conn, state.id)
        tombstones = items.tombstones(conn, state.id)
    try:
        extracted = _parse(ctx, state, result, stored, tombstones, parser)
    except ParseError as exc:
        return _failed(ctx, state, FetchError(str(exc), url=state.address))
    children = extracted.child_validators
    if not extracted.complete:
        # New pages wait for the next poll: it must not get "304 not modified", from the
        # source or from any of its child sitemaps.
        result, children = replace(result, validators=Validators()), {}
    return _store(ctx, state, result, body_hash, extracted.feed, stored, tombstones, run,
                  children if state.kind == "sitemap" else None)


def _poll_site(ctx: Context, state: SourceState, result: FetchResult) -> PollOutcome:
    """A MAP-toolkit page that answered: its records imported when it changed, then the
    pages of a few records it no longer lists asked for (only after the listing itself
    answered, so a site that is down flags nothing)."""
    if result.status == "not_modified":
        outcome = _succeeded(ctx, state, result, None, "not_modified")
    else:
        body_hash = hashlib.sha256(result.body).hexdigest()
        outcome = (_succeeded(ctx, state, result, body_hash, "unchanged")
                   if body_hash == state.body_hash
                   else _import_records(ctx, state, result, body_hash))
    driver_sites.check_off_listing(ctx, state)
    return outcome


def _import_records(ctx: Context, state: SourceState, result: FetchResult,
                    body_hash: str) -> PollOutcome:
    """A MAP-toolkit page: its driver records imported, their members told (not on the first
    poll, which takes stock); no items (docs/driver-records.md, "A MAP site as a source")."""
    baseline = not state.baseline_done
    done = driver_sites.import_site_page(ctx, state, result, body_hash, tell=not baseline)
    with writing(ctx.engine) as conn:
        sources.write(conn, state.id, decide.after_success(
            state, etag=result.validators.etag, last_modified=result.validators.last_modified,
            body_hash=body_hash, redirect=_redirect(conn, state, result), now=ctx.now(),
            max_age=result.max_age, new_items=done.created + done.updated)
            | decide.SourceChanges(baseline_done=True,
                                   warnings=decide.stored_warnings(done.warnings, 0)))
    return PollOutcome(state.id, "ok", done.created, done.updated, 0, baseline)


def _parse(ctx: Context, state: SourceState, result: FetchResult, stored: list[StoredEntry],
           tombstones: set[str], parser: ParsePool | None) -> page_sources.Extracted:
    if state.kind == "feed":
        return page_sources.Extracted((parser or shared_pool()).parse(
            result.body, url=result.url, content_type=result.content_type, now=ctx.now()))
    seen = page_sources.seen_links(stored, tombstones)
    return page_sources.extract(ctx, _definition(ctx, state.id), result.body, result.url,
                                not state.baseline_done, seen, state.child_validators)


def _definition(ctx: Context, source_id: str) -> SourceDef:
    for definition in ctx.sources():
        if definition.id == source_id:
            return definition
    raise ParseError(f"source '{source_id}' is no longer in sources.toml")


def _store(ctx: Context, state: SourceState, result: FetchResult, body_hash: str,
           parsed: ParsedFeed, stored: list[StoredEntry], tombstones: set[str],
           run: PollRun, children: page_sources.ChildValidators | None) -> PollOutcome:
    now = ctx.now()
    baseline = not state.baseline_done
    intent = decide.store_intent(parsed.items, stored, tombstones, now=now, baseline=baseline)
    # Matching happens here, before the write transaction: it can take long on a wordy item,
    # and nobody should wait for it (issue 11). A first poll is a baseline: never alerted.
    found, too_long = ([], []) if baseline else _match_new(run.matcher, state, intent.new, now)
    warnings = decide.stored_warnings([*parsed.warnings, *too_long], intent.rekeyed)
    # Stored with the items so a dry run never normalises the archive again; after matching,
    # ``document`` has them cached (docs/performance.md, "Trying a query over the archive"),
    # and a first poll's items, never matched, need no document.
    words = {item.key: ItemWords.of_text(_candidate(state, item).text) if baseline
             else ItemWords.of(document(_candidate(state, item).text)) for item in intent.new}
    edits = [replace(edit, changes={**edit.changes, **retokenised(dict(edit.changes))})
             for edit in intent.edits]
    with writing(ctx.engine) as conn:
        if not baseline and intent.new:
            # Before the insert: new items then get ids in the order stories see them.
            stories.lock(conn)
            run.titles.refresh(conn, now)
        ids = items.insert_new(conn, state.id, intent.new, now=now, baseline=baseline,
                               words=words)
        items.write_edits(conn, edits)
        new_matches = 0
        if not baseline:
            stories.join(conn, state.id, _story_items(intent.new, ids, now), now, run.titles)
            new_matches = matches.insert_matches(
                conn, [(ids[item.key], m) for item, found_for in found if item.key in ids
                       for m in found_for], now=now)
        sources.write(conn, state.id, decide.after_success(
            state, etag=result.validators.etag, last_modified=result.validators.last_modified,
            body_hash=body_hash, redirect=_redirect(conn, state, result), now=now,
            max_age=result.max_age, new_items=0 if baseline else len(ids))
            | decide.SourceChanges(baseline_done=True, warnings=warnings)
            | _children_changes(children))
    return PollOutcome(state.id, "ok", len(ids), intent.updated, new_matches, baseline)


def _children_changes(children: page_sources.ChildValidators | None) -> decide.SourceChanges:
    """A sitemap's child validators as the column stores them; nothing for other kinds."""
    if children is None:
        return decide.SourceChanges()
    return decide.SourceChanges(child_validators={url: list(pair)
                                                  for url, pair in children.items()})


def _match_new(matcher: ItemMatcher, state: SourceState, new: Sequence[decide.NewItem],
               now: datetime) -> tuple[list[tuple[decide.NewItem, list[NewMatch]]], list[str]]:
    """Each new item with its matches, and a warning for each item too long to match within
    the per-item budget: it is stored unmatched, and the run goes on (issue 11)."""
    found: list[tuple[decide.NewItem, list[NewMatch]]] = []
    too_long: list[str] = []
    for item in new:
        try:
            found.append((item, matcher.match(_candidate(state, item), now)))
        except OverBudget:
            log.warning("source %s: item %s is too long to match within its budget",
                        state.id, item.link or item.key)
            too_long.append(decide.over_budget_warning(item.title))
    return found, too_long


def _candidate(state: SourceState, item: decide.NewItem) -> Candidate:
    return Candidate(ItemText(title=item.title, summary=item.summary_text,
                              categories=item.categories, source=f"{state.publisher} {state.id}"),
                     source_id=state.id, publisher=state.publisher, link=item.link,
                     published=item.published_at)


def _story_items(new: Sequence[decide.NewItem], ids: dict[str, int],
                 now: datetime) -> list[KnownItem]:
    """The items this poll stored, as stories need them (no need to read them back)."""
    return [KnownItem(id=ids[item.key], key=item.key, link=item.link, title=item.title,
                      summary_text="", published=item.published_at or now, doi=item.doi)
            for item in new if item.key in ids]


def _redirect(conn: Connection, state: SourceState,
              result: FetchResult) -> redirects.RedirectState:
    """Move the source's address after repeated permanent redirects (RELIABILITY F11, F12)."""
    # Only a redirect needs the other sources' addresses: a 304 stays one-row cheap.
    others = sources.addresses(conn, besides=state.id) if result.permanent_url else {}
    moved = redirects.after_fetch(state.redirect, configured_url=state.url,
                                  permanent_url=result.permanent_url, other_sources=others)
    if moved.fetch_url != state.fetch_url:
        log.info("source %s moved permanently to %s", state.id, moved.fetch_url)
    return moved


def _succeeded(ctx: Context, state: SourceState, result: FetchResult, body_hash: str | None,
               status: str) -> PollOutcome:
    with writing(ctx.engine) as conn:
        sources.write(conn, state.id, decide.after_success(
            state, etag=result.validators.etag, last_modified=result.validators.last_modified,
            body_hash=body_hash, redirect=_redirect(conn, state, result), now=ctx.now(),
            max_age=result.max_age))
    return PollOutcome(state.id, status)


def _failed(ctx: Context, state: SourceState, error: FetchError) -> PollOutcome:
    with writing(ctx.engine) as conn:
        sources.write(conn, state.id, decide.after_failure(
            state, error=str(error), gone=error.gone, retry_after=error.retry_after,
            now=ctx.now(), jitter=random.random()))
    log.warning(SOURCE_FAILED, state.id, error)
    return PollOutcome(state.id, "failed", error=str(error))


def delete_item(ctx: Context, item_id: int, *, by: str) -> None:
    """Delete an item and its matches, leaving a tombstone so the feed cannot bring it back
    (RELIABILITY D7); the log says who (``by``) deleted what. An item already sent in a
    digest stays: the delivery record needs it."""
    with writing(ctx.engine) as conn:
        source_id, title = items.delete_item(conn, item_id, now=ctx.now())
    log.info("item %s (%s: %r) deleted by %s", item_id, source_id, title, by)


__all__ = ["NewMatch", "PollOutcome", "delete_item", "due_sources", "item_matcher", "poll",
           "poll_source", "sync_sources"]
