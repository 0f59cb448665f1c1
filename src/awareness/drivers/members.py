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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from awareness.addresses import address_problem, is_placeholder
from awareness.drivers.records import member_initials
from awareness.errors import AwarenessError, ConfigError
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
    """The ``[[member]]`` tables of a members.toml text; raise ConfigError (ConfigErrors for
    several) on any problem: every problem is reported at once (issue 16)."""
    data = load_toml(text, path)
    lines = KeyLines(text)
    top = Checker(path, lines, errors=[])
    top.reject_unknown(data, {"member"})
    no_tables: list[dict[str, object]] = []
    members: list[Member] = []
    seen: dict[str, int | None] = {}
    for index, table in enumerate(top.collect(lambda: array_of_tables(data, "member", top),
                                              no_tables)):
        check = Checker(path, lines, "member", index, errors=top.errors)
        member = _member(table, check)
        if member is None:
            continue
        if member.initials in seen:
            _refuse(check, f"initials '{member.initials}' already used at line "
                           f"{seen[member.initials]}", "initials")
        seen.setdefault(member.initials, lines.line("initials", "member", index))
        members.append(member)
    top.raise_collected()
    return members


def _member(table: dict[str, object], check: Checker) -> Member | None:
    before = len(check.errors)
    check.reject_unknown(table, {"initials", "name", "email"})
    initials = check.collect(lambda: _initials(table, check), "")
    email = check.collect(lambda: _email(table, check), "")
    name = check.collect(lambda: check.text(table, "name").strip(), "")
    return Member(initials, name, email) if len(check.errors) == before else None


def _initials(table: dict[str, object], check: Checker) -> str:
    initials = check.text(table, "initials").strip()
    if not _INITIALS.match(initials):
        check.fail(f"initials '{initials}' must be 1 to 4 capital letters, as written in "
                   "the records' 'Group member responsible' field", "initials")
    return initials


def _email(table: dict[str, object], check: Checker) -> str:
    email = check.text(table, "email").strip()
    problem = address_problem(email)
    if problem:
        check.fail(f"email '{email}' is not an e-mail address: {problem}", "email")
    return email


def _refuse(check: Checker, message: str, key: str) -> None:
    check.collect(lambda: check.fail(message, key), None)


def member_for(members: list[Member], initials: str) -> Member | None:
    """The member with these initials (case-insensitive), or None."""
    wanted = initials.strip().upper()
    return next((m for m in members if m.initials == wanted), None)


def member_named(members: Sequence[Member], typed: str, *, where: str = MEMBERS_FILE) -> str:
    """The initials of the member ``typed`` names, as ``where`` (members.toml) writes them:
    "vt" or "VT (Vicky)" → "VT"; "" for an empty value (nobody). Initials it does not list
    raise AwarenessError naming every member: a record naming them would be in nobody's
    weekly mail."""
    if not typed.strip():
        return ""
    found = member_for(list(members), member_initials(typed))
    if found is not None:
        return found.initials
    listed = ", ".join(f"{m.initials} ({m.name})" for m in members)
    who = f"its members are {listed}" if members else "it lists nobody yet"
    raise AwarenessError(f"Group member responsible: “{typed.strip()[:40]}” is not a member "
                         f"in {where}; {who}. Leave it empty for nobody, or add the member "
                         "there first")


def unknown_initials(members: list[Member], used: list[str]) -> list[str]:
    """Initials used in records that members.toml does not list, sorted."""
    known = {m.initials for m in members}
    return sorted({u.strip().upper() for u in used if u.strip()} - known)


def member_choices(members: Sequence[Member], used: Iterable[str]) -> list[tuple[str, str]]:
    """Everyone a list of records can be narrowed to, as (initials, name) by initials: the
    members of members.toml, and the initials records use that it does not list (no name)."""
    named = {member.initials: member.name for member in members}
    named.update(dict.fromkeys(unknown_initials(list(members), list(used)), ""))
    return sorted(named.items())


def responsible_choices(members: Sequence[Member], current: str) -> list[tuple[str, str]]:
    """The choices of a record's "Group member responsible" as (value, label): nobody, then
    each member by initials and name, then the record's own text when it is not a member's
    initials (an imported "ZZ", someone who left), so that saving the form keeps it."""
    choices = [("", "Nobody yet"), *((m.initials, f"{m.initials} – {m.name}") for m in members)]
    if current and current not in {m.initials for m in members}:
        choices.append((current, f"{current} (as the record has it; not in {MEMBERS_FILE})"))
    return choices


def check_members_text(text: str, path: str) -> list[str]:
    """Problems with a members.toml text as ``path:line: message`` lines (empty: valid)."""
    try:
        parse_members(text, path)
    except ConfigError as exc:
        return exc.located().splitlines()
    return []


def placeholder_warnings(text: str, path: str) -> list[str]:
    """A ``path:line: message`` warning for each member of a members.toml text whose address
    is a placeholder (``addresses.is_placeholder``); ConfigError when the text has errors."""
    lines = KeyLines(text)
    return [f"{path}:{lines.line('email', 'member', index)}: {member.initials}'s address "
            f"{member.email} is a placeholder: stewardship mail to it goes nowhere"
            for index, member in enumerate(parse_members(text, path))
            if is_placeholder(member.email)]
