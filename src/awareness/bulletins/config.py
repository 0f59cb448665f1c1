"""``subscriptions/bulletins/<slug>.toml``: one bulletin, parsed and validated (pure).

    title = "Workforce and leadership bulletin"
    description = "What is new on leadership and the workforce, every Friday."
    send_day = "friday"
    send_time = "09:00"
    editors = ["alice", "bob"]       # librarians' user names; empty: every librarian
    if_unapproved = "hold"           # or "send": what happens at send time without approval
    public_archive = true

    [audience]
    subscribers = true               # staff who chose bulletins in their preferences
    addresses = ["workforce.directorate@nhs.net"]

    [[section]]
    title = "Leadership"
    topics = ["leadership"]

A bulletin without ``[[section]]`` tables names its ``topics`` at the top instead, and each
topic becomes a section under the topic's name. Every problem in the file is reported at once
(``path:line: message``), as for topic files.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import PurePath
from typing import Literal, cast

from awareness.addresses import is_placeholder
from awareness.dates import clock_time
from awareness.errors import ConfigError
from awareness.toml_checks import SLUG, Checker, KeyLines, array_of_tables, load_toml

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
IF_UNAPPROVED = ("hold", "send")
MAX_ADDRESSES = 50
_KEYS = frozenset({"title", "description", "send_day", "send_time", "editors", "if_unapproved",
                   "public_archive", "audience", "section", "topics"})
_AUDIENCE_KEYS = frozenset({"subscribers", "addresses"})
_SECTION_KEYS = frozenset({"title", "topics"})
RESERVED = frozenset({"stop"})  # /bulletins/stop/<token> is the one-click "stop bulletins"
_TIME = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
_ADDRESS = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")


@dataclass(frozen=True)
class Section:
    """A named part of an issue and the topics whose approved items go into it."""

    title: str
    topics: tuple[str, ...]


@dataclass(frozen=True)
class BulletinDef:
    """One bulletin file. ``sections`` is empty when the file names ``topics`` alone: each
    topic is then a section under its topic's name (``sections_for``)."""

    slug: str
    title: str
    description: str
    send_day: str
    send_time: str
    sections: tuple[Section, ...]
    topics: tuple[str, ...]
    editors: tuple[str, ...] = ()
    if_unapproved: Literal["hold", "send"] = "hold"
    public_archive: bool = True
    to_subscribers: bool = True
    addresses: tuple[str, ...] = ()
    path: str = ""

    @property
    def all_topics(self) -> tuple[str, ...]:
        """Every topic the bulletin draws from, each once, in file order."""
        found = [t for section in self.sections for t in section.topics] + list(self.topics)
        return tuple(dict.fromkeys(found))

    def sections_for(self, topic_names: Mapping[str, str]) -> tuple[Section, ...]:
        """The sections as an issue shows them: the file's, or one per topic by its name."""
        if self.sections:
            return self.sections
        return tuple(Section(topic_names.get(t, t), (t,)) for t in self.topics)

    def may_edit(self, librarian: str) -> bool:
        """Can this librarian edit the bulletin's issues?"""
        return not self.editors or librarian in self.editors

    @property
    def send_hour_minute(self) -> tuple[int, int]:
        hour, minute = self.send_time.split(":")
        return int(hour), int(minute)

    @property
    def schedule(self) -> str:
        """When it comes, as its readers are told: ``every Friday at 9am``."""
        return f"every {self.send_day.capitalize()} at {clock_time(*self.send_hour_minute)}"


def parse_bulletin(text: str, path: str, slug: str) -> BulletinDef:
    """The bulletin in ``text`` (the file ``bulletins/<slug>.toml``); ConfigError (or
    ConfigErrors, for several) on any problem."""
    if not SLUG.fullmatch(slug):
        raise ConfigError(f"bulletin file name '{slug}' must be lower-case letters, digits and "
                          "single hyphens (e.g. workforce-weekly.toml)", path=path)
    if slug in RESERVED:
        raise ConfigError(f"a bulletin cannot be called '{slug}' (its address is taken); "
                          "rename the file", path=path)
    data = load_toml(text, path)
    lines = KeyLines(text)
    check = Checker(path, lines, errors=[])
    check.reject_unknown(data, _KEYS)
    none: tuple[str, ...] = ()
    no_sections: tuple[Section, ...] = ()
    title = check.collect(lambda: check.text(data, "title"), "")
    description = check.collect(lambda: check.text(data, "description", ""), "")
    day = check.collect(lambda: check.choice(data, "send_day", DAYS, "friday"), "friday")
    time = check.collect(lambda: _time(data, check), "09:00")
    editors = check.collect(lambda: check.text_list(data, "editors"), none)
    if_unapproved = check.collect(
        lambda: check.choice(data, "if_unapproved", IF_UNAPPROVED, "hold"), "hold")
    public = check.collect(lambda: check.value(data, "public_archive", bool, True), True)
    to_subscribers, addresses = check.collect(lambda: _audience(data, check, lines),
                                              (True, none))
    sections = check.collect(lambda: _sections(data, check, lines), no_sections)
    topics = check.collect(lambda: _topic_list(check, data), none)
    if not check.errors and not sections and not topics:
        check.collect(lambda: check.fail("name the topics the bulletin draws from: "
                                         "topics = [\"…\"], or [[section]] tables"), None)
    if not check.errors and sections and topics:
        check.collect(lambda: check.fail("write topics either at the top or in [[section]] "
                                         "tables, not both", "topics"), None)
    if not check.errors and not to_subscribers and not addresses:
        check.collect(lambda: check.fail("the bulletin has nobody to go to: set "
                                         "audience.subscribers = true or give addresses",
                                         "audience"), None)
    check.raise_collected()
    return BulletinDef(
        slug=slug, title=title, description=description, send_day=day, send_time=time,
        sections=sections, topics=topics, editors=editors,
        if_unapproved=cast(Literal["hold", "send"], if_unapproved), public_archive=public,
        to_subscribers=to_subscribers, addresses=addresses, path=path)


def _time(data: Mapping[str, object], check: Checker) -> str:
    value = check.text(data, "send_time", "09:00")
    if not _TIME.fullmatch(value):
        check.fail(f"send_time must be a 24-hour time such as 09:00, not '{value}'",
                   "send_time")
    return value


def _topic_list(check: Checker, table: Mapping[str, object]) -> tuple[str, ...]:
    topics = check.text_list(table, "topics")
    for slug in topics:
        if not SLUG.fullmatch(slug):
            check.fail(f"topics: '{slug}' is not a topic (topics are named by their file, "
                       "e.g. leadership for topics/leadership.toml)", "topics")
    return topics


def _audience(data: Mapping[str, object], top: Checker,
              lines: KeyLines) -> tuple[bool, tuple[str, ...]]:
    table = top.value(data, "audience", dict, {})
    check = Checker(top.path, lines, "audience", errors=top.errors)
    check.reject_unknown(table, _AUDIENCE_KEYS)
    subscribers = cast(bool, check.value(table, "subscribers", bool, True))
    addresses = check.text_list(table, "addresses")
    for address in addresses:
        if not _ADDRESS.fullmatch(address):
            check.fail(f"addresses: '{address}' is not one plain e-mail address", "addresses")
    if len(addresses) > MAX_ADDRESSES:
        check.fail(f"addresses: at most {MAX_ADDRESSES} (use a distribution list for more)",
                   "addresses")
    return subscribers, addresses


def _sections(data: Mapping[str, object], top: Checker, lines: KeyLines) -> tuple[Section, ...]:
    sections = []
    for index, table in enumerate(array_of_tables(data, "section", top)):
        check = Checker(top.path, lines, "section", index, errors=top.errors)
        check.label = f"section #{index + 1}: "
        sections.append(_section(table, check))
    return tuple(sections)


def _section(table: Mapping[str, object], check: Checker) -> Section:
    check.reject_unknown(table, _SECTION_KEYS)
    title = check.collect(lambda: check.text(table, "title"), "")
    none: tuple[str, ...] = ()
    topics = check.collect(lambda: _topic_list(check, table), none)
    if not topics:
        check.collect(lambda: check.fail('a section needs topics = ["…"]'), None)
    return Section(title, topics)


def check_bulletin_refs(bulletins: Iterable[BulletinDef], topics: Iterable[str],
                        librarians: Iterable[str] | None = None) -> list[ConfigError]:
    """Problems across files: a bulletin naming a topic that has no file, or (when the
    librarians are known) an editor who is not a librarian."""
    known = set(topics)
    problems = []
    for bulletin in bulletins:
        for slug in bulletin.all_topics:
            if slug not in known:
                problems.append(ConfigError(
                    f"no topic '{slug}' (known topics: {', '.join(sorted(known)) or 'none'})",
                    path=bulletin.path))
        if librarians is not None:
            people = set(librarians)
            for editor in bulletin.editors:
                if editor not in people:
                    problems.append(ConfigError(
                        f"editor '{editor}' is not a librarian (add them with "
                        f"`awareness librarians add {editor}`)", path=bulletin.path))
    return problems


def placeholder_warnings(text: str, path: str) -> list[str]:
    """A ``path:line: message`` warning for each address of a bulletin file's audience that
    is a placeholder (``addresses.is_placeholder``); ConfigError when the file has errors."""
    line = KeyLines(text).line("addresses", "audience")
    where = f"{path}:{line}" if line else path
    bulletin = parse_bulletin(text, path, PurePath(path).stem)
    return [f"{where}: the audience's address {address} is a placeholder: the bulletin sent "
            "to it goes nowhere" for address in bulletin.addresses if is_placeholder(address)]
