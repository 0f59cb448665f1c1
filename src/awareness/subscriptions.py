"""The librarians' files under subscriptions/, parsed and validated (pure).

    subscriptions/sources.toml          [[source]] tables: where items come from
    subscriptions/topics/<slug>.toml    one topic: its name, description, query and review policy

The caller reads the files and passes their text; nothing here touches the file system. Every
problem is a ConfigError with ``path`` and ``line`` (``path:line: message``, located by
toml_checks), and unknown keys are errors, because a misspelt key silently ignored is a topic
that quietly does the wrong thing. The formats are documented in docs/subscriptions.md.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, cast

from awareness.errors import ConfigError, QuerySyntaxError
from awareness.links import is_safe_link
from awareness.model import ItemText
from awareness.sources.rules import HtmlRules, SitemapRules, selector_error
from awareness.toml_checks import (
    SLUG,
    Checker,
    KeyLines,
    array_of_tables,
    load_toml,
    toml_string,
)
from awareness.topics.query import Query, parse_query
from awareness.topics.spelling import SPELLINGS

SourceKind = Literal["feed", "html", "sitemap", "drivers"]
# Each kind with the extra keys its tables may carry (docs/sources.md explains them).
SOURCE_KINDS: Mapping[str, frozenset[str]] = {
    "feed": frozenset(),
    "html": frozenset({"item", "title", "link", "date", "summary"}),
    "sitemap": frozenset({"include", "exclude", "sitemaps", "max_pages", "max_sitemaps"}),
    # A MAP-toolkit archive page (a WordPress tag or category archive, or one post): its
    # driver records and case studies are imported, not stored as items (issue 16).
    "drivers": frozenset(),
}
MAX_PAGES_PER_POLL = 50
MIN_INTERVAL_MINUTES = 15
REVIEW_POLICIES = ("required", "none")
EXPECTATIONS = ("match", "no-match")

_SOURCE_KEYS = frozenset({"id", "name", "publisher", "url", "kind", "interval_minutes", "enabled"})
_TOPIC_KEYS = frozenset(
    {"name", "description", "query", "review", "sources", "driver_tags", "examples", "spelling",
     "published"})
_EXAMPLE_KEYS = frozenset({"title", "summary", "categories", "source", "expect"})


@dataclass(frozen=True)
class SourceDef:
    """One ``[[source]]`` table of sources.toml."""

    id: str
    name: str
    publisher: str
    url: str
    kind: SourceKind
    interval_minutes: int = 60
    enabled: bool = True
    html: HtmlRules | None = None  # kind "html": the listing page's selectors
    sitemap: SitemapRules | None = None  # kind "sitemap": URL filter and bounds


@dataclass(frozen=True)
class TopicExample:
    """One ``[[examples]]`` table: an item the topic should or should not match (issue 4)."""

    title: str
    expect: Literal["match", "no-match"]
    summary: str = ""
    categories: tuple[str, ...] = ()
    source: str = ""

    def item(self) -> ItemText:
        """The example as the matcher sees an item."""
        return ItemText(self.title, self.summary, self.categories, self.source)


@dataclass(frozen=True)
class Topic:
    """One topic file. ``sources`` restricts it to those source ids (empty: every source)."""

    slug: str
    name: str
    description: str
    query: Query
    review: Literal["required", "none"]
    sources: tuple[str, ...] = ()
    driver_tags: tuple[str, ...] = ()
    path: str = ""
    examples: tuple[TopicExample, ...] = ()
    published: bool = True  # in the public catalogue: staff can find and sign up for it
    # Where ``sources =`` is written, so check_source_refs can point at it.
    sources_line: int | None = field(default=None, compare=False, repr=False)


# ---------------------------------------------------------------- sources.toml


def parse_sources(text: str, path: str) -> list[SourceDef]:
    """The ``[[source]]`` tables of a sources.toml text; raise ConfigError (ConfigErrors for
    several) on any problem: every problem of every table is reported at once (issue 16)."""
    data = load_toml(text, path)
    lines = KeyLines(text)
    top = Checker(path, lines, errors=[])
    top.reject_unknown(data, {"source"})
    no_tables: list[dict[str, object]] = []
    tables = top.collect(lambda: array_of_tables(data, "source", top), no_tables)
    sources: list[SourceDef] = []
    first_lines: dict[str, int | None] = {}
    for index, table in enumerate(tables):
        check = Checker(path, lines, "source", index, errors=top.errors)
        source = _source(table, check)
        if source is None:
            continue
        if source.id in first_lines:
            _refuse(check, f"duplicate id '{source.id}' (first defined at line "
                           f"{first_lines[source.id]}); ids must be unique", "id")
        first_lines.setdefault(source.id, lines.line("id", "source", index))
        sources.append(source)
    top.raise_collected()
    return sources


def _refuse(check: Checker, message: str, key: str) -> None:
    """Keep one more problem located at ``key``."""
    check.collect(lambda: check.fail(message, key), None)


def _source(table: dict[str, object], check: Checker) -> SourceDef | None:
    """One ``[[source]]`` table, each of its problems kept in ``check.errors``; None when it
    has any."""
    raw_id, kind = table.get("id"), table.get("kind")
    named = isinstance(raw_id, str) and SLUG.fullmatch(raw_id)
    check.label = f"source '{raw_id}': " if named else f"source #{check.index + 1}: "
    before = len(check.errors)
    check.reject_unknown(table, _SOURCE_KEYS | SOURCE_KINDS.get(str(kind), frozenset()))
    source_id = check.collect(lambda: _source_id(table, check), "")
    url = check.collect(lambda: _source_url(table, check), "")
    interval = check.collect(lambda: _interval(table, check), 60)
    kind = check.collect(lambda: check.choice(table, "kind", tuple(SOURCE_KINDS)), "feed")
    name = check.collect(lambda: check.text(table, "name"), "")
    publisher = check.collect(lambda: check.text(table, "publisher"), "")
    enabled = check.collect(lambda: check.value(table, "enabled", bool, True), True)
    html = check.collect(lambda: _html_rules(table, check), None) if kind == "html" else None
    sitemap = (check.collect(lambda: _sitemap_rules(table, check), None)
               if kind == "sitemap" else None)
    if len(check.errors) > before:
        return None
    return SourceDef(id=source_id, name=name, publisher=publisher, url=url,
                     kind=cast(SourceKind, kind), interval_minutes=interval,
                     enabled=cast(bool, enabled), html=html, sitemap=sitemap)


def _source_id(table: dict[str, object], check: Checker) -> str:
    source_id = check.text(table, "id")
    if not SLUG.fullmatch(source_id):
        check.fail(f"id '{source_id}' must be lower-case letters, digits and single hyphens "
                   "(e.g. nhs-england-news)", "id")
    return source_id


def _source_url(table: dict[str, object], check: Checker) -> str:
    url = check.text(table, "url")
    if not is_safe_link(url):
        check.fail(f"url '{url}' must be an absolute http:// or https:// address", "url")
    return url


def _interval(table: dict[str, object], check: Checker) -> int:
    interval = cast(int, check.value(table, "interval_minutes", int, 60))
    if interval < MIN_INTERVAL_MINUTES:
        check.fail(f"interval_minutes must be at least {MIN_INTERVAL_MINUTES} (publishers "
                   f"update a few times a day at most), not {interval}", "interval_minutes")
    return interval


def _html_rules(table: dict[str, object], check: Checker) -> HtmlRules:
    selectors = {key: check.text(table, key, None if key in ("item", "title") else "")
                 for key in ("item", "title", "link", "date", "summary")}
    for key, selector in selectors.items():
        if selector and (problem := selector_error(selector)):
            check.fail(f"{key}: {problem}", key)
    return HtmlRules(**selectors)


def _sitemap_rules(table: dict[str, object], check: Checker) -> SitemapRules:
    patterns = {key: check.text_list(table, key) for key in ("include", "exclude", "sitemaps")}
    for key, values in patterns.items():
        for pattern in values:
            if not pattern.startswith("/"):
                check.fail(f"{key}: '{pattern}' must be a URL path pattern starting with / "
                           "(e.g. /news/*)", key)
    bounds = {}
    for key, default in (("max_pages", 10), ("max_sitemaps", 5)):
        bounds[key] = cast(int, check.value(table, key, int, default))
        if not 1 <= bounds[key] <= MAX_PAGES_PER_POLL:
            check.fail(f"{key} must be between 1 and {MAX_PAGES_PER_POLL} (pages are fetched "
                       f"politely, a few per poll), not {bounds[key]}", key)
    return SitemapRules(include=patterns["include"], exclude=patterns["exclude"],
                        sitemaps=patterns["sitemaps"], max_pages=bounds["max_pages"],
                        max_sitemaps=bounds["max_sitemaps"])


# ---------------------------------------------------------------- topics/<slug>.toml


def parse_topic(text: str, path: str, slug: str) -> Topic:
    """The topic in ``text`` (the file ``topics/<slug>.toml``); raise ConfigError on any problem."""
    if not SLUG.fullmatch(slug):
        raise ConfigError(f"topic file name '{slug}' must be lower-case letters, digits and "
                          "single hyphens (e.g. nursing-workforce.toml)", path=path)
    data = load_toml(text, path)
    lines = KeyLines(text)
    check = Checker(path, lines, errors=[])  # every problem of the file, not just the first
    check.reject_unknown(data, _TOPIC_KEYS)
    name = check.collect(lambda: check.text(data, "name"), "")
    description = check.collect(lambda: check.text(data, "description"), "")
    spelling = check.collect(lambda: check.choice(data, "spelling", SPELLINGS, "none"), "none")
    query = check.collect(lambda: _topic_query(check.value(data, "query", str, None), check,
                                               spelling), None)
    no_sources: tuple[str, ...] = ()
    sources = check.collect(lambda: _topic_sources(data, check), no_sources)
    review = check.collect(lambda: check.choice(data, "review", REVIEW_POLICIES, "required"),
                           "required")
    driver_tags = check.collect(lambda: check.text_list(data, "driver_tags"), no_sources)
    no_examples: tuple[TopicExample, ...] = ()
    examples = check.collect(lambda: _examples(data, check), no_examples)
    published = check.collect(lambda: check.value(data, "published", bool, True), True)
    check.raise_collected()
    assert query is not None
    return Topic(
        slug=slug, name=name, description=description, query=query,
        review=cast(Literal["required", "none"], review), sources=sources,
        driver_tags=driver_tags, path=path, examples=examples, published=published,
        sources_line=lines.line("sources") if sources else None,
    )


@dataclass(frozen=True)
class TopicDraft:
    """A strategy tried on the try page, with what makes it a topic: the file is written from
    it (``topic_file``) for whoever keeps subscriptions/ to put in topics/ as it is.
    ``examples`` are items the topic must match (its test set starts with them), each with
    only the fields it needs to match (``topics.examples.shortest``)."""

    slug: str
    name: str
    description: str
    query: str
    spelling: str = "none"
    review: str = "required"
    published: bool = True
    examples: tuple[ItemText, ...] = ()


def topic_file(draft: TopicDraft) -> str:
    """The file ``topics/<slug>.toml`` for ``draft``, in the shipped topics' layout: the
    strategy a multi-line literal string, kept as the librarian wrote it. Check it with
    ``parse_topic`` (the web page does, before it is offered)."""
    lines = [f"# Topic: {draft.slug}, made from a draft strategy on the try page. The format is",
             "# in docs/subscriptions.md; run `awareness check` after putting it in topics/.",
             "",
             f"name = {toml_string(draft.name)}",
             f"description = {toml_string(draft.description)}",
             "",
             f"query = {_multiline(draft.query)}",
             "",
             f"review = {toml_string(draft.review)}"]
    if draft.spelling != "none":
        lines.append(f"spelling = {toml_string(draft.spelling)}")
    if not draft.published:
        lines.append("published = false  # not in the catalogue yet: only librarians can "
                     "subscribe people")
    for item in draft.examples:
        lines += ["", "[[examples]]", f"title = {toml_string(item.title)}"]
        if item.summary:
            lines.append(f"summary = {toml_string(item.summary)}")
        if item.categories:
            lines.append(f"categories = [{', '.join(map(toml_string, item.categories))}]")
        if item.source:
            lines.append(f"source = {toml_string(item.source)}")
        lines.append('expect = "match"')
    return "\n".join(lines) + "\n"


def with_query(text: str, path: str, query: str) -> str:
    """The topic file ``text`` with its strategy replaced by ``query`` (written as
    ``topic_file`` writes one), the rest of the file as it was: its comments, its layout and
    every other key. The strategy's value is found as the fewest lines after ``query =``
    whose replacing leaves every other key as it was. ConfigError when there is none."""
    before = load_toml(text, path)
    lines = text.splitlines(keepends=True)
    first = KeyLines(text).line("query")
    if first is None or "query" not in before:
        raise ConfigError("the file has no query to replace", path=path)
    written = f"query = {_multiline(query)}\n"
    wanted = tomllib.loads(written)["query"]
    others = {key: value for key, value in before.items() if key != "query"}
    for last in range(first - 1, len(lines)):
        rebuilt = "".join([*lines[:first - 1], written, *lines[last + 1:]])
        try:
            after = tomllib.loads(rebuilt)
        except tomllib.TOMLDecodeError:
            continue  # some of the old value is left
        if after.get("query") == wanted and {
                key: value for key, value in after.items() if key != "query"} == others:
            return rebuilt
    raise ConfigError("the file's query could not be replaced on its own", path=path)


def _multiline(text: str) -> str:
    """``text`` as a multi-line literal string (nothing escaped, as a librarian writes one),
    or a basic string when it holds what a literal string cannot (``'''``, control
    characters)."""
    text = "\n".join(line.rstrip() for line in text.strip().splitlines())
    if "'''" in text or any((ch < " " and ch not in "\n\t") or ch == "\x7f" for ch in text):
        return toml_string(text)
    return f"'''\n{text}\n'''"


def _topic_sources(data: Mapping[str, object], check: Checker) -> tuple[str, ...]:
    sources = check.text_list(data, "sources")
    for source_id in sources:
        if not SLUG.fullmatch(source_id):
            check.fail(f"sources: '{source_id}' is not a source id (ids look like "
                       "nhs-england-news)", "sources")
    return sources


def _topic_query(text: str, check: Checker, spelling: str = "none") -> Query:
    try:
        return parse_query(text, spelling)
    except QuerySyntaxError as err:
        key_line = check.lines.line("query")
        line, column, shown = _query_position(check.lines.lines, key_line, text, err.column)
        caret = " " * (column - 1) + "^"
        raise ConfigError(f"query: {err.message} (column {column})\n    {shown}\n    {caret}",
                          path=check.path, line=line) from None


def _query_position(file_lines: list[str], key_line: int | None, query: str,
                    column: int) -> tuple[int | None, int, str]:
    """(file line, column within the query's line, that line) for a column of the query.

    A long strategy is usually a multi-line string, so the error line is found by following
    the query's own lines through the file from the ``query =`` line.
    """
    before = query[:column - 1]
    query_lines = query.split("\n")
    row = before.count("\n")
    column_in_row = column - (before.rfind("\n") + 1)
    line = key_line
    if key_line is not None:
        at = key_line - 1
        for wanted in query_lines[:row + 1]:
            at = next((i for i in range(at, len(file_lines)) if wanted in file_lines[i]), at)
            line, at = at + 1, at + 1
    return line, column_in_row, query_lines[row].replace("\t", " ")


def _examples(data: Mapping[str, object], check: Checker) -> tuple[TopicExample, ...]:
    tables = array_of_tables(data, "examples", check)
    examples = []
    for index, table in enumerate(tables):
        row = Checker(check.path, check.lines, "examples", index, check.errors)
        row.label = f"examples #{index + 1}: "
        examples.append(_example(row, table))
    return tuple(examples)


def _example(row: Checker, table: Mapping[str, object]) -> TopicExample:
    """One ``[[examples]]`` table, its problems collected with the file's."""
    row.reject_unknown(table, _EXAMPLE_KEYS)
    return TopicExample(
        title=row.collect(lambda: row.text(table, "title"), ""),
        expect=cast(Literal["match", "no-match"], row.collect(
            lambda: row.choice(table, "expect", EXPECTATIONS), "match")),
        summary=row.collect(lambda: row.text(table, "summary", ""), ""),
        categories=row.collect(lambda: row.text_list(table, "categories"), ()),
        source=row.collect(lambda: row.text(table, "source", ""), ""),
    )


def check_source_refs(topics: Iterable[Topic], sources: Iterable[SourceDef]) -> list[ConfigError]:
    """One error per topic ``sources`` entry that names no source in sources.toml."""
    known = sorted(source.id for source in sources)
    errors = []
    for topic in topics:
        for source_id in topic.sources:
            if source_id not in known:
                close = difflib.get_close_matches(source_id, known, n=1)
                hint = f"did you mean '{close[0]}'?" if close else "known ids: " + \
                    (", ".join(known) or "none")
                errors.append(ConfigError(f"sources: unknown source id '{source_id}'; {hint}",
                                          path=topic.path, line=topic.sources_line))
    return errors


def name_key(name: str) -> str:
    """What two topic names must not share: the name in any case, however spaced."""
    return " ".join(name.casefold().split())


def check_topic_names(topics: Iterable[Topic]) -> list[ConfigError]:
    """One error per topic whose name another topic has already (any case): staff choose
    topics by name, so two with one name cannot be told apart."""
    first: dict[str, Topic] = {}
    errors = []
    for topic in topics:
        key = name_key(topic.name)
        if key in first:
            errors.append(ConfigError(
                f"name '{topic.name}' is already the name of {first[key].path}; staff choose "
                "topics by name: give each its own", path=topic.path,
                line=None))
        else:
            first[key] = topic
    return errors
