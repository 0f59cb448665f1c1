"""The daily "broken or stale sources" e-mail: which sources need a person, and why (pure).

Input is ``health.health_row``'s rows; output is the subject and plain-text body.
A source needs a person when it is broken (a run of failures), gone (410), stale (answers but
has stopped publishing) or a duplicate of another source (its address redirects there).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def problems(rows: Iterable[Mapping[str, Any]]) -> list[tuple[Mapping[str, Any], str]]:
    """Each enabled source that needs attention, with one sentence saying why."""
    found = []
    for row in rows:
        if not row.get("enabled", True):
            continue
        reason = _reason(row)
        if reason:
            found.append((row, reason))
    return found


def _reason(row: Mapping[str, Any]) -> str | None:
    if row["state"] == "gone":
        return "gone: the publisher answered 410, the address has been removed for good"
    if row["state"] == "broken":
        since = (row.get("last_success_at") or "")[:10] or "never"
        return (f"broken: {row['error_count']} failed checks in a row, last success {since}; "
                f"last error: {row.get('last_error') or 'unknown'}")
    if row.get("duplicate_of"):
        return (f"duplicate of {row['duplicate_of']}: its address now redirects to that "
                "source's address")
    if row.get("stale"):
        newest = (row.get("newest_item_at") or "")[:10] or "never"
        return (f"stale: no new item since {newest} (usually about "
                f"{row.get('items_per_week') or 0:g} a week); check the page still lists news")
    return None


def message_text(found: list[tuple[Mapping[str, Any], str]], *, day: str) -> tuple[str, str]:
    """(subject, body) of the e-mail listing ``found`` on ``day`` (YYYY-MM-DD)."""
    count = len(found)
    noun = "source needs" if count == 1 else "sources need"
    subject = f"{count} {noun} attention ({day})"
    lines = [f"Sources that need attention on {day}:", ""]
    for row, reason in found:
        lines += [f"* {row['name']} ({row['id']}, {row['publisher']})", f"  {reason}",
                  f"  {row['url']}", ""]
    lines += ["To see what a source's definition extracts from its page now, run:",
              "    awareness sources test ID",
              "Fix the definition in subscriptions/sources.toml, then run `awareness check`."]
    return subject, "\n".join(lines) + "\n"
