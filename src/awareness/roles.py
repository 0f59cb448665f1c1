"""Librarians' roles (issue 14, item 6; docs/web.md "Roles"): what each may do, and which role
a single sign-on user's groups give them. Pure: no I/O.

The roles are ordered; each may do everything the one before it may:

- ``reviewer``: reviews matches and their driver links, and looks at every page;
- ``editor``: also edits bulletins, driver records, subscribers, sources' pause and the
  outbox's retry (a bulletin whose file names ``editors`` still takes only those, and then
  only when they hold this role or above);
- ``administrator``: also manages librarians and sees the settings.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

ROLES = ("reviewer", "editor", "administrator")
# The role of an account that was removed (a librarian who left): it is no role, so it may
# nothing. The account's row stays, so that its name's old cookies never fit a new account.
REMOVED = "removed"
WHAT_EACH_MAY = {
    "reviewer": "review matches and driver links, and look at every page",
    "editor": "also edit bulletins, driver records, subscribers, sources and sends",
    "administrator": "also manage librarians and see the settings",
}


def is_role(name: str) -> bool:
    """Is ``name`` one of the roles?"""
    return name in ROLES


def allows(role: str, needed: str) -> bool:
    """May a librarian holding ``role`` do what needs ``needed``? An unknown role may
    nothing (a value edited into the database by hand must not grant more)."""
    if role not in ROLES:
        return False
    return ROLES.index(role) >= ROLES.index(needed)


def role_for_groups(groups: Iterable[str], mapping: Mapping[str, str]) -> str | None:
    """The highest role any of ``groups`` maps to; None when none of them is mapped (the
    user is refused: single sign-on admits only people an administrator chose)."""
    found = [mapping[group] for group in groups if mapping.get(group) in ROLES]
    return max(found, key=ROLES.index) if found else None
