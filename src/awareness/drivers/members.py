"""The steering-group members who look after driver records (pure).

``subscriptions/members.toml`` maps the initials written in a record's "Group member
responsible" field to a name and an e-mail address, so stewardship e-mails reach a person::

    [[member]]
    initials = "FG"
    name = "F. G. Example"
    email = "fg.example@example.nhs.uk"

Errors are ``ConfigError`` located at ``path:line`` like every other file under subscriptions/.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from awareness.addresses import address_problem
from awareness.errors import ConfigError
from awareness.toml_checks import Checker, KeyLines, array_of_tables, load_toml

MEMBERS_FILE = "members.toml"
_INITIALS = re.compile(r"^[A-Z]{1,4}$")


@dataclass(frozen=True)
class Member:
    """One member: the initials used in records, a name, and where their list is sent."""

    initials: str
    name: str
    email: str


def parse_members(text: str, path: str) -> list[Member]:
    """The ``[[member]]`` tables of a members.toml text; raise ConfigError on any problem."""
    data = load_toml(text, path)
    lines = KeyLines(text)
    top = Checker(path, lines)
    top.reject_unknown(data, {"member"})
    members: list[Member] = []
    seen: dict[str, int | None] = {}
    for index, table in enumerate(array_of_tables(data, "member", top)):
        check = Checker(path, lines, "member", index)
        check.reject_unknown(table, {"initials", "name", "email"})
        initials = check.text(table, "initials").strip()
        if not _INITIALS.match(initials):
            check.fail(f"initials '{initials}' must be 1 to 4 capital letters, as written in "
                       "the records' 'Group member responsible' field", "initials")
        if initials in seen:
            check.fail(f"initials '{initials}' already used at line {seen[initials]}",
                       "initials")
        seen[initials] = lines.line("initials", "member", index)
        email = check.text(table, "email").strip()
        problem = address_problem(email)
        if problem:
            check.fail(f"email '{email}' is not an e-mail address: {problem}", "email")
        members.append(Member(initials, check.text(table, "name").strip(), email))
    return members


def member_for(members: list[Member], initials: str) -> Member | None:
    """The member with these initials (case-insensitive), or None."""
    wanted = initials.strip().upper()
    return next((m for m in members if m.initials == wanted), None)


def unknown_initials(members: list[Member], used: list[str]) -> list[str]:
    """Initials used in records that members.toml does not list, sorted."""
    known = {m.initials for m in members}
    return sorted({u.strip().upper() for u in used if u.strip()} - known)


def check_members_text(text: str, path: str) -> list[str]:
    """Problems with a members.toml text as ``path:line: message`` lines (empty: valid)."""
    try:
        parse_members(text, path)
    except ConfigError as exc:
        return [exc.located()]
    return []
