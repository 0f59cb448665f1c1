"""What a fetch does to a source and its items, decided without touching anything (pure).

The poll reads (storage), decides here, then writes (storage): lemon24/reader's *decider*.
Given the source's state, the entries a fetch parsed, and what the source has stored, the
decision says which entries are new items, which stored items were edited or re-keyed, and
which of the source's columns change. Nothing here reads the clock: ``now`` comes in.

Identity is docs/item-identity.md: an entry is a stored item when its key, or (for link-less
entries) its fingerprint, is known; an entry a librarian deleted stays deleted (tombstones,
RELIABILITY D7); a later twin in the same fetch edits the first rather than adding a copy.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, TypedDict

from awareness.links import normalise_link
from awareness.model import ParsedItem
from awareness.sources import identity, redirects, schedule
from awareness.subscriptions import SourceDef


@dataclass(frozen=True)
class SourceState:
    """A source's row as a poll needs it: its definition and its fetch state."""

    id: str
    publisher: str
    kind: str
    url: str
    interval_minutes: int
    fetch_url: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    baseline_done: bool = False
    state: str = "active"
    error_count: int = 0
    redirect_target: str | None = None
    redirect_count: int = 0
    duplicate_of: str | None = None
    recent_items: int | None = None  # new items in the last week (None: not counted)
    # A sitemap index's children: url → (etag, last_modified) each last answered with.
    child_validators: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)

    @property
    def address(self) -> str:
        """Where the source is fetched from now (moved after repeated permanent redirects)."""
        return self.fetch_url or self.url

    @property
    def redirect(self) -> redirects.RedirectState:
        """Its redirect columns."""
        return redirects.RedirectState(self.fetch_url, self.redirect_target,
                                       self.redirect_count, self.duplicate_of)


class SourceChanges(TypedDict, total=False):
    """The columns of a source that a poll changes (absent: unchanged)."""

    etag: str | None
    last_modified: str | None
    body_hash: str | None
    baseline_done: bool
    warnings: str | None
    state: str
    next_check_at: datetime
    last_attempt_at: datetime
    last_success_at: datetime
    error_count: int
    last_error: str | None
    fetch_url: str | None
    redirect_target: str | None
    redirect_count: int
    duplicate_of: str | None
    child_validators: dict[str, list[str | None]]


@dataclass(frozen=True)
class StoredEntry:
    """An item the source has stored, as identity and edits need it."""

    known: identity.KnownItem
    summary_html: str
    baseline: bool


@dataclass(frozen=True, slots=True)
class NewItem:
    """An entry to store as a new item (the columns that differ from item to item)."""

    key: str
    guid: str | None
    title: str
    link: str | None
    summary_html: str
    summary_text: str
    categories: tuple[str, ...]
    published_at: datetime | None
    doi: str | None
    # Digests of the normalised link and title, so stories are found through an index; a
    # baseline item takes no part in stories and stores none (each is an index insert).
    link_key: str | None
    title_key: str | None
    updated_at: datetime | None = None


@dataclass(frozen=True)
class ItemEdit:
    """The columns of a stored item that a fetch changed."""

    item_id: int
    changes: Mapping[str, Any]


@dataclass(frozen=True)
class StoreIntent:
    """What storing one fetch's entries must do."""

    new: list[NewItem] = field(default_factory=list)
    edits: list[ItemEdit] = field(default_factory=list)
    updated: int = 0  # stored items whose title or summary changed (what a reader sees)
    rekeyed: int = 0  # known items that came with a new id (GUID churn, a CMS migration: D2)


_EDITABLE = ("key", "title", "summary_html", "summary_text")
_NO_DATE = datetime.min.replace(tzinfo=UTC)
_SEEN = {"title", "summary_html"}  # what a reader sees of an item


def store_intent(entries: Iterable[ParsedItem], stored: Iterable[StoredEntry],
                 tombstones: AbstractSet[str], *, now: datetime, baseline: bool) -> StoreIntent:
    """Decide what to store of a fetch's ``entries``, given the source's ``stored`` items and
    the keys of the ones a librarian deleted (``tombstones``). Edits never re-alert."""
    by_id = {entry.known.id: entry for entry in stored}
    index = identity.SourceIndex(entry.known for entry in by_id.values())
    pending: dict[int, dict[str, Any]] = {}  # new entries, under provisional negative ids
    edited: dict[int, dict[str, Any]] = {}  # stored items as this fetch leaves them
    rekeyed = 0
    for parsed in entries:
        if tombstones and not tombstones.isdisjoint(tombstone_keys(
                parsed.key, parsed.link, parsed.title, parsed.summary_text)):
            continue
        known = index.known_item(parsed.key, parsed.link, parsed.title, parsed.summary_text)
        if known is None:
            provisional = -1 - len(pending)  # a twin later in this fetch edits this entry
            pending[provisional] = _new_values(parsed, baseline)
            index.add(identity.KnownItem(id=provisional, key=parsed.key, link=parsed.link,
                                         title=parsed.title, summary_text=parsed.summary_text))
            continue
        if known.id < 0:
            current, in_stories = pending[known.id], not baseline
        else:
            entry = by_id[known.id]
            current = edited.setdefault(known.id, _editable(entry))
            in_stories = not entry.baseline
        rekeyed += _follow_new_key(current, known, parsed, index)
        _apply_edit(current, parsed, now, in_stories)
    edits = [ItemEdit(item_id, changes) for item_id, values in edited.items()
             if (changes := _changes(by_id[item_id], values))]
    updated = sum(1 for edit in edits if edit.changes.keys() & _SEEN)
    return StoreIntent(_oldest_first(NewItem(**values) for values in pending.values()),
                       edits, updated, rekeyed)


def _oldest_first(items: Iterable[NewItem]) -> list[NewItem]:
    """New items in the order to store them: the oldest first, so that the newest gets the
    highest id and every list that shows what arrived most recently first (by arrival, then
    id) shows one fetch's items newest first too. By publication date; items without one
    count as older than any dated one, in reverse feed order (feeds and pages list their
    newest entry first)."""
    return sorted(reversed(list(items)), key=lambda item: (
        item.published_at is not None, item.published_at or _NO_DATE))


def tombstone_keys(key: str, link: str | None, title: str, summary_text: str) -> list[str]:
    """Every identity of an item that a tombstone records, so no re-keying brings it back."""
    keys = [key]
    if link:
        keys.append("link:" + normalise_link(link))
    keys.append("fp:" + identity.fingerprint(title, summary_text))
    return keys


def _new_values(parsed: ParsedItem, baseline: bool) -> dict[str, Any]:
    return dict(key=parsed.key, guid=parsed.guid, title=parsed.title, link=parsed.link,
                summary_html=parsed.summary_html, summary_text=parsed.summary_text,
                categories=parsed.categories, published_at=parsed.published,
                doi=identity.find_doi(parsed.link, parsed.guid, parsed.summary_html),
                link_key=None if baseline else identity.link_digest(parsed.link),
                title_key=None if baseline else identity.title_digest(parsed.title))


def _editable(entry: StoredEntry) -> dict[str, Any]:
    return {"key": entry.known.key, "title": entry.known.title,
            "summary_html": entry.summary_html, "summary_text": entry.known.summary_text}


def _changes(entry: StoredEntry, values: dict[str, Any]) -> dict[str, Any]:
    """The columns a fetch changed, compared with what is stored. The edit time and title
    digest go with a change a reader sees (title or summary), so a feed that repeats an
    entry with another title and then the stored one again changes nothing."""
    before = _editable(entry)
    changed = {name: values[name] for name in _EDITABLE if values[name] != before[name]}
    if changed.keys() & _SEEN:
        changed.update({name: value for name, value in values.items()
                        if name not in _EDITABLE})
    return changed


def _follow_new_key(current: dict[str, Any], known: identity.KnownItem, parsed: ParsedItem,
                    index: identity.SourceIndex) -> int:
    """The feed changed a known entry's id (GUID churn, CMS migration): follow it (D2)."""
    if current["key"] == parsed.key or parsed.key in index.by_key:
        return 0
    index.by_key.pop(current["key"], None)
    current["key"] = parsed.key
    index.by_key[parsed.key] = replace(known, key=parsed.key)
    return 1


def _apply_edit(current: dict[str, Any], parsed: ParsedItem, now: datetime,
                in_stories: bool) -> None:
    """Apply an edit to ``current`` when it changes what a reader sees. Only items that take
    part in stories (not baseline ones) keep a title digest."""
    if (current["title"], current["summary_html"]) == (parsed.title, parsed.summary_html):
        return
    current.update(title=parsed.title, summary_html=parsed.summary_html,
                   summary_text=parsed.summary_text, updated_at=now,
                   title_key=identity.title_digest(parsed.title) if in_stories else None)


def after_success(source: SourceState, *, etag: str | None, last_modified: str | None,
                  body_hash: str | None, redirect: redirects.RedirectState,
                  now: datetime, max_age: float | None = None,
                  new_items: int = 0) -> SourceChanges:
    """The source's columns after a successful fetch (a 304 and an unchanged body too);
    ``max_age`` is how long the server said the response stays fresh, ``new_items`` how many
    this fetch stored (they count towards the source's cadence at once)."""
    recent = None if source.recent_items is None else source.recent_items + new_items
    changes = SourceChanges(
        etag=etag, last_modified=last_modified, last_attempt_at=now, last_success_at=now,
        error_count=0, last_error=None,
        next_check_at=schedule.next_check_after_success(
            now, source.interval_minutes, recent_items=recent, max_age=max_age),
        fetch_url=redirect.fetch_url, redirect_target=redirect.target,
        redirect_count=redirect.count, duplicate_of=redirect.duplicate_of)
    if body_hash is not None:
        changes["body_hash"] = body_hash
    if source.state == "broken":
        changes["state"] = "active"  # one success resets everything (RELIABILITY F15)
    return changes


def after_failure(source: SourceState, *, error: str, gone: bool, retry_after: float | None,
                  now: datetime, jitter: float) -> SourceChanges:
    """The source's columns after a failed fetch or parse: back off, and after many failures
    in a row (or a 410) show it as broken (or gone) to people (RELIABILITY F14-F16)."""
    errors = source.error_count + 1
    changes = SourceChanges(
        error_count=errors, last_error=error, last_attempt_at=now,
        next_check_at=schedule.next_check_after_failure(
            now, source.interval_minutes, errors, retry_after, jitter))
    if gone:
        changes["state"] = "gone"
    elif schedule.is_broken(errors):
        changes["state"] = "broken"
    return changes


def stored_warnings(warnings: Iterable[str], rekeyed: int) -> str | None:
    """The warnings a librarian sees on the source after this fetch, or None."""
    lines = list(warnings)
    if rekeyed:
        lines.append(f"the feed changed the ids of {rekeyed} known items; they were "
                     "recognised and not alerted again")
    return "\n".join(lines) or None


def over_budget_warning(title: str) -> str:
    """The warning for an item stored unmatched because matching it would cost too much."""
    shown = title if len(title) <= 80 else title[:79] + "…"
    return (f"'{shown}' was too long to match within the per-item budget; it was stored "
            "but not matched (a NEAR with a large distance on a very long text?)")


@dataclass(frozen=True)
class StoredDefinition:
    """The columns of a source that come from sources.toml, as stored."""

    id: str
    url: str | None
    name: str
    publisher: str
    kind: str
    interval_minutes: int
    enabled: bool


def definition_changes(defs: Iterable[SourceDef], stored: Mapping[str, StoredDefinition]
                        ) -> tuple[list[SourceDef], list[str], list[str]]:
    """(new or changed definitions, ids whose URL changed, ids to disable): what
    ``storage.sources.save_definitions`` must write to bring the table in line with sources.toml."""
    defs = list(defs)
    changed = [d for d in defs if _differs(d, stored.get(d.id))]
    moved = [d.id for d in changed if d.id in stored and stored[d.id].url != d.url]
    wanted = {d.id for d in defs}
    disabled = [sid for sid, row in stored.items() if sid not in wanted and row.enabled]
    return changed, moved, disabled


def _differs(d: SourceDef, row: StoredDefinition | None) -> bool:
    return row is None or (row.url, row.name, row.publisher, row.kind, row.interval_minutes,
                           row.enabled) != (d.url, d.name, d.publisher, d.kind,
                                            d.interval_minutes, d.enabled)
