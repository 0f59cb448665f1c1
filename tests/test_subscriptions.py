"""Loading subscriptions/ files: sources.toml, topic files, and the shipped defaults."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from awareness.errors import ConfigError, ConfigErrors
from awareness.model import ItemText
from awareness.subscriptions import (
    SourceDef,
    Topic,
    TopicDraft,
    check_source_refs,
    parse_sources,
    parse_topic,
    topic_file,
    with_query,
)
from awareness.topics.query import parse_query

SUBSCRIPTIONS = Path(__file__).parents[1] / "subscriptions"
DATA = Path(__file__).parent / "data"

SOURCE = """\
[[source]]
id = "nhs-england-news"
name = "NHS England news"
publisher = "NHS England"
url = "https://www.england.nhs.uk/news/feed/"
kind = "feed"
"""

TOPIC = """\
name = "Leadership"
description = "Leadership and management."
query = "leader* OR \\"talent management\\""
"""


def source_errors(text: str) -> list[ConfigError]:
    """Every problem of ``text``, in line order (a file's problems are all reported)."""
    with pytest.raises(ConfigError) as caught:
        parse_sources(text, "subscriptions/sources.toml")
    errors = caught.value.errors if isinstance(caught.value, ConfigErrors) else [caught.value]
    assert all(error.path == "subscriptions/sources.toml" for error in errors)
    return errors


def source_error(text: str) -> ConfigError:
    return source_errors(text)[0]


def topic_error(text: str, slug: str = "leadership") -> ConfigError:
    """The first problem of ``text`` (by line: a file's problems are all reported)."""
    with pytest.raises(ConfigError) as caught:
        parse_topic(text, "subscriptions/topics/leadership.toml", slug)
    error = caught.value.errors[0] if isinstance(caught.value, ConfigErrors) else caught.value
    assert error.path == "subscriptions/topics/leadership.toml"
    return error


# ---------------------------------------------------------------- sources.toml

def test_a_source_with_defaults() -> None:
    assert parse_sources(SOURCE, "sources.toml") == [SourceDef(
        id="nhs-england-news", name="NHS England news", publisher="NHS England",
        url="https://www.england.nhs.uk/news/feed/", kind="feed", interval_minutes=60,
        enabled=True)]


def test_optional_keys_and_several_sources() -> None:
    second = SOURCE.replace("nhs-england-news", "dhsc") + "interval_minutes = 15\nenabled = false\n"
    sources = parse_sources(SOURCE + "\n" + second, "sources.toml")
    assert [s.id for s in sources] == ["nhs-england-news", "dhsc"]
    assert (sources[1].interval_minutes, sources[1].enabled) == (15, False)


def test_an_empty_file_has_no_sources() -> None:
    assert parse_sources("# nothing yet\n", "sources.toml") == []


# The line is where a librarian must look: the key's own line, or the table's header when the
# key is missing.
@pytest.mark.parametrize(("text", "line", "message"), [
    ("[[source]]\nid = \n", 2, "not valid TOML: Invalid value"),
    (SOURCE + "[source\n", 7, "not valid TOML: "),
    ('[[source]]\nname = """never closed\n', 2, "not valid TOML: Unterminated string"),
    ("sources = []\n", 1, "unknown key 'sources'; did you mean 'source'?"),
    ('source = "nhs"\n', 1, "source must be written as [[source]] tables"),
    (SOURCE + "\n" + SOURCE.replace("nhs-england-news", "dhsc").replace("url", "ulr"), 12,
     "source 'dhsc'"),
    (SOURCE + "\n" + SOURCE.replace("nhs-england-news", "dhsc").replace("url", "ulr"), 12,
     "unknown key 'ulr'; did you mean 'url'?"),
    (SOURCE + "colour = 'blue'\n", 7, "unknown key 'colour'; expected one of: enabled, id,"),
    (SOURCE + "\n" + SOURCE.replace('publisher = "NHS England"\n', ""), 8,
     "missing required key 'publisher'"),
    (SOURCE.replace('"nhs-england-news"', '"NHS England"'), 2,
     "id 'NHS England' must be lower-case letters, digits and single hyphens"),
    (SOURCE.replace('"nhs-england-news"', "7"), 2, "id must be a string, not a integer"),
    (SOURCE + "\n" + SOURCE, 9, "duplicate id 'nhs-england-news' (first defined at line 2)"),
    (SOURCE.replace("https://www.england.nhs.uk/news/feed/", "www.england.nhs.uk/feed"), 5,
     "url 'www.england.nhs.uk/feed' must be an absolute http:// or https:// address"),
    (SOURCE.replace("https://", "ftp://"), 5, "must be an absolute http:// or https:// address"),
    (SOURCE.replace('"feed"', '"rss"'), 6,
     "kind must be one of feed, html, sitemap, drivers, not 'rss'"),
    (SOURCE + "interval_minutes = 5\n", 7, "interval_minutes must be at least 15"),
    (SOURCE + "interval_minutes = true\n", 7, "interval_minutes must be a integer, not a boolean"),
    (SOURCE + 'interval_minutes = "60"\n', 7, "interval_minutes must be a integer, not a string"),
    (SOURCE + 'enabled = "no"\n', 7, "enabled must be a boolean, not a string"),
    (SOURCE.replace('"NHS England news"', '"  "'), 3, "name must not be empty"),
])
def test_source_errors_point_at_the_line(text: str, line: int, message: str) -> None:
    errors = source_errors(text)
    found = [e for e in errors if e.line == line and message in e.message]
    assert found, [e.located() for e in errors]
    assert str(found[0]).startswith(f"subscriptions/sources.toml:{line}: ")


def test_a_sources_file_with_several_mistakes_shows_them_all() -> None:
    text = (SOURCE.replace('url = "https://', 'url = "ftp://')
            + "\n" + SOURCE.replace("nhs-england-news", "Bad Id").replace(
                "[[source]]", "[[source]]\ninterval_minutes = 5"))
    lines = [e.located() for e in source_errors(text)]
    assert len(lines) == 3, lines
    assert "must be an absolute http:// or https:// address" in lines[0]
    assert "interval_minutes must be at least 15" in lines[1]
    assert "must be lower-case letters" in lines[2]


# ---------------------------------------------------------------- topic files

def test_a_minimal_topic_takes_the_defaults() -> None:
    topic = parse_topic(TOPIC, "topics/leadership.toml", "leadership")
    assert (topic.slug, topic.name, topic.review, topic.sources, topic.driver_tags) == (
        "leadership", "Leadership", "required", (), ())
    assert topic.path == "topics/leadership.toml"
    assert topic.query.text == 'leader* OR "talent management"'
    assert topic.query.match(ItemText("Talent management in the NHS"))


def test_a_full_topic() -> None:
    text = TOPIC + """\
review = "none"
sources = ["nhs-england-news", "dhsc"]
driver_tags = ["Leadership", "Workforce"]

[[examples]]
title = "Leadership matters"
summary = "About leaders."
categories = ["Workforce"]
source = "dhsc"
expect = "match"

[[examples]]
title = "Flu jabs"
expect = "no-match"
"""
    topic = parse_topic(text, "topics/leadership.toml", "leadership")
    assert topic.review == "none"
    assert topic.sources == ("nhs-england-news", "dhsc")
    assert topic.sources_line == 5
    assert topic.driver_tags == ("Leadership", "Workforce")
    assert [(e.title, e.expect) for e in topic.examples] == [
        ("Leadership matters", "match"), ("Flu jabs", "no-match")]
    assert topic.examples[0].item() == ItemText(
        "Leadership matters", "About leaders.", ("Workforce",), "dhsc")


def test_a_byte_order_mark_is_tolerated() -> None:
    assert parse_topic("\ufeff" + TOPIC, "t.toml", "leadership").name == "Leadership"


MULTILINE = '''\
name = "Leadership"
description = """
A description that mentions
query = "not the real one"
"""
query = \'\'\'
leader* OR "talent management"
OR ((manag* OR board*)
    AND (culture OR le*))
\'\'\'
'''


@pytest.mark.parametrize(("text", "line", "message"), [
    ("name = \n", 1, "not valid TOML: Invalid value"),
    (TOPIC.replace("name", "title"), 1, "unknown key 'title'"),
    (TOPIC + 'reveiw = "none"\n', 4, "unknown key 'reveiw'; did you mean 'review'?"),
    (TOPIC + 'driver_tag = ["Leadership"]\n', 4, "did you mean 'driver_tags'?"),
    (TOPIC + "[[example]]\ntitle = 'x'\n", 4, "unknown key 'example'; did you mean 'examples'?"),
    (TOPIC.replace('name = "Leadership"\n', ""), None, "missing required key 'name'"),
    (TOPIC.replace("query", "#query"), None, "missing required key 'query'"),
    (TOPIC.replace('"Leadership and management."', '""'), 2, "description must not be empty"),
    (TOPIC.replace('"Leadership"', "42"), 1, "name must be a string, not a integer"),
    ('name = "x"\ndescription = "y"\nquery = 5\n', 3, "query must be a string, not a integer"),
    ('name = "x"\ndescription = "y"\nquery = "leader* OR (talent"\n', 3,
     "query: unbalanced parenthesis: this '(' is never closed; expected ')' (column 12)"),
    ('name = "x"\ndescription = "y"\nquery = ""\n', 3, "query: empty query"),
    (MULTILINE, 9, "query: truncation too short: 'le*' needs at least 3"),
    (MULTILINE, 9, "(column 21)"),
    (TOPIC + 'review = "optional"\n', 4, "review must be one of required, none, not 'optional'"),
    (TOPIC + 'sources = "dhsc"\n', 4, "sources must be a array, not a string"),
    (TOPIC + 'sources = ["NHS England"]\n', 4, "sources: 'NHS England' is not a source id"),
    (TOPIC + "driver_tags = [1]\n", 4, "driver_tags must be an array of non-empty strings"),
    (TOPIC + "examples = 'none'\n", 4, "examples must be written as [[examples]] tables"),
    (TOPIC + "\n[[examples]]\ntitle = 'x'\nexpect = 'match'\nsumary = 'y'\n", 8,
     "examples #1: unknown key 'sumary'; did you mean 'summary'?"),
    (TOPIC + "\n[[examples]]\ntitle = 'x'\nexpect = 'match'\n\n[[examples]]\nexpect = 'yes'\n",
     9, "examples #2: missing required key 'title'"),
    (TOPIC + "\n[[examples]]\ntitle = 'x'\nexpect = 'maybe'\n", 7,
     "examples #1: expect must be one of match, no-match, not 'maybe'"),
    (TOPIC + "\n[[examples]]\ntitle = 'x'\nexpect = 'match'\ncategories = 'news'\n", 8,
     "categories must be a array, not a string"),
])
def test_topic_errors_point_at_the_line(text: str, line: int | None, message: str) -> None:
    error = topic_error(text)
    assert error.line == line
    assert message in error.message


def test_a_query_error_shows_the_query_line_with_a_caret() -> None:
    error = topic_error(MULTILINE)
    assert error.message.splitlines()[1:] == [
        "        AND (culture OR le*))",
        "                        ^",
    ]


def test_a_single_line_query_error_shows_a_caret_under_the_column() -> None:
    error = topic_error('name = "x"\ndescription = "y"\nquery = "nurse AND"\n')
    assert error.message.splitlines()[1:] == ["    nurse AND", "          ^"]


def test_the_topic_slug_must_be_slug_like() -> None:
    error = topic_error(TOPIC, slug="Leadership Topic")
    assert "topic file name 'Leadership Topic' must be lower-case" in error.message


# ---------------------------------------------------------------- cross-file references

def _topic_with_sources(sources: str) -> Topic:
    return parse_topic(TOPIC + f"sources = {sources}\n", "topics/leadership.toml", "leadership")


def test_topics_restricted_to_known_sources_are_fine() -> None:
    sources = parse_sources(SOURCE, "sources.toml")
    assert check_source_refs([_topic_with_sources('["nhs-england-news"]')], sources) == []


def test_unknown_source_ids_are_reported_at_the_sources_line() -> None:
    sources = parse_sources(SOURCE, "sources.toml")
    errors = check_source_refs([_topic_with_sources('["nhs-englnd-news", "kings-fund"]')],
                               sources)
    assert [str(e) for e in errors] == [
        "topics/leadership.toml:4: sources: unknown source id 'nhs-englnd-news'; "
        "did you mean 'nhs-england-news'?",
        "topics/leadership.toml:4: sources: unknown source id 'kings-fund'; "
        "known ids: nhs-england-news",
    ]


# ---------------------------------------------------------------- the shipped files

def _shipped_sources() -> list[SourceDef]:
    path = SUBSCRIPTIONS / "sources.toml"
    return parse_sources(path.read_text(encoding="utf-8"), str(path))


def _shipped_topics() -> list[Topic]:
    return [parse_topic(path.read_text(encoding="utf-8"), str(path), path.stem)
            for path in sorted((SUBSCRIPTIONS / "topics").glob("*.toml"))]


def test_the_shipped_files_load_and_agree() -> None:
    sources, topics = _shipped_sources(), _shipped_topics()
    assert {s.id for s in sources} == {
        "nhs-england-news", "dhsc", "cqc", "mhra", "ukhsa", "kings-fund", "cqc-news",
        "nuffield-trust", "health-foundation", "nhs-confederation"}
    assert "leadership" in {t.slug for t in topics}
    assert check_source_refs(topics, sources) == []


def test_the_shipped_topics_pass_their_own_examples() -> None:
    for topic in _shipped_topics():
        for example in topic.examples:
            matched = bool(topic.query.match(example.item()))
            assert matched is (example.expect == "match"), (topic.slug, example.title)


def _leadership() -> Topic:
    return next(topic for topic in _shipped_topics() if topic.slug == "leadership")


def test_leadership_is_reviewed_and_linked_to_the_leadership_tag() -> None:
    topic = _leadership()
    assert topic.review == "required"
    assert topic.driver_tags == ("Leadership",)
    assert len(topic.examples) >= 8


def _nhs_england_items() -> dict[str, str]:
    snapshots = json.loads((DATA / "nhs-england-news-feed-poll-snapshots-2025-10_2026-01.json")
                           .read_text(encoding="utf-8"))["snapshots"]
    return {item["title"]: item["description"]
            for snapshot in snapshots for item in snapshot["items"]}


def test_leadership_on_three_months_of_nhs_england_news() -> None:
    query = _leadership().query
    items = _nhs_england_items()
    matched = {title for title, summary in items.items() if query.match(ItemText(title, summary))}
    # Of 46 real items (flu, strikes, screening, AI...), only one is about leadership.
    assert len(items) == 46
    assert matched == {"NHS former chief executive among health service honours"}


@pytest.mark.parametrize("title", [
    "Fire station vaccine pop-ups to extinguish flu ‘wildfire’",  # "most senior nurse"
    "England’s leading doctors set out medical training recommendations",  # leading ≠ leader
    "GPs managed record number of online requests in October",
    "NHS diabetes prevention scheme helps one million people",  # weight management
    "Record numbers using NHS App to manage health",
    "NHS backs AI notetaking to free up more face-to-face care",  # NHS organisations
])
def test_leadership_ignores_near_misses_in_nhs_england_news(title: str) -> None:
    summary = _nhs_england_items()[title]
    assert _leadership().query.match(ItemText(title, summary)) == ()


def _spaced(text: str) -> str:
    return " ".join(text.split())


def _seed_text() -> str:
    # The page has no-break spaces inside titles ("NHS\u00a0Trust"); compare on plain spacing.
    return _spaced((DATA / "map-toolkit-leadership-tag-page.txt").read_text(encoding="utf-8"))


SEED_TITLES = [
    "Leadership in today’s NHS: delivering the impossible",
    "Developing People – Improving Care: A national framework for action on improvement and "
    "leadership development in NHS-funded services.",
    "White Paper: the new era of thinking and practice in change and transformation: a call to "
    "action for leaders of health and care",
    "New Evidence on Management & Leadership",
    "Leadership Zone (Shrewsbury and Telford Hospital NHS Trust)",
]


@pytest.mark.parametrize("title", SEED_TITLES)
def test_leadership_matches_the_seed_drivers_titles(title: str) -> None:
    assert _spaced(title) in _seed_text()
    assert _leadership().query.match(ItemText(title))


@pytest.mark.parametrize(("title", "summary_line"), [
    ("Interim NHS People Plan", "Leaders need to develop a positive, compassionate, inclusive "
                                "and people-centred culture."),
    ("Implementing the NHS five year forward view: aligning policies with the plan",
     "The report highlights the levels of funding required to meet this vision and the need "
     "for the NHS to have high-quality and consistent leadership."),
])
def test_leadership_matches_seed_drivers_on_their_summaries(title: str,
                                                            summary_line: str) -> None:
    assert _spaced(title) in _seed_text() and _spaced(summary_line) in _seed_text()
    assert _leadership().query.match(ItemText(title)) == ()
    assert _leadership().query.match(ItemText(title, summary_line))


# ---------------------------------------------------------------- writing a topic file

@pytest.mark.parametrize("query", [
    'leader* OR "talent management"\r\nOR (board* AND culture)',
    "nurs* NEAR/5 retention\n\n\tOR midwi*   ",
    "\"it'''s\" OR x",  # what a literal string cannot hold: written as a basic one
    'back\\slash OR "quoted"',
])
def test_a_topic_file_reads_back_as_the_draft_it_was_made_from(query: str) -> None:
    draft = TopicDraft(
        slug="nursing-workforce", name='Nurses’ "workforce" \\ and retention',
        description="Recruiting and keeping nurses.\tWhere they go.", query=query,
        spelling="uk-us", review="none", published=False,
        examples=(ItemText("Nurses stay longer"),
                  ItemText("A title", 'Its "summary"', ("Workforce", "Nursing"),
                           "NHS England")))
    topic = parse_topic(topic_file(draft), "topics/nursing-workforce.toml", "nursing-workforce")
    assert (topic.slug, topic.name, topic.description) == (
        draft.slug, draft.name, draft.description)
    written = parse_query(query, "uk-us")  # the same strategy; its text without \r or margins
    assert (topic.query.ast, topic.query.spelling) == (written.ast, written.spelling)
    assert (topic.review, topic.published, topic.sources) == ("none", False, ())
    assert [(e.title, e.summary, e.categories, e.source, e.expect) for e in topic.examples] == [
        ("Nurses stay longer", "", (), "", "match"),
        ("A title", 'Its "summary"', ("Workforce", "Nursing"), "NHS England", "match")]


def test_a_topic_file_keeps_the_strategy_as_it_was_written() -> None:
    text = topic_file(TopicDraft("leadership-2", "Leaders", "Leaders.",
                                 'leader*\r\nOR "well led"'))
    assert "query = '''\nleader*\nOR \"well led\"\n'''\n" in text
    assert 'review = "required"' in text
    assert "spelling" not in text and "published" not in text and "[[examples]]" not in text


@pytest.mark.parametrize("written", [
    'query = "leader* OR \\"well led\\""\n',
    "query = '''leader* OR \"well led\"'''\n",
    "query = '''\nleader*\n  OR \"well led\"\n'''\n",
    'query = """\nleader* OR \\"well led\\"\n"""\n',
])
def test_a_topic_files_strategy_is_replaced_and_nothing_else(written: str) -> None:
    text = ("# Leadership: kept as written.\nname = \"Leadership\"\n# The strategy:\n"
            f"{written}# after it\nreview = \"none\"  # no review\n\n[[examples]]\n"
            "title = \"Leaders meet\"\nexpect = \"match\"\n")
    updated = with_query(text, "leadership.toml", 'leader*\r\nOR "board development"')
    assert updated == text.replace(
        written, "query = '''\nleader*\nOR \"board development\"\n'''\n")
    topic = parse_topic(updated.replace("name =", "description = \"d\"\nname ="),
                        "leadership.toml", "leadership")
    assert topic.query.ast == parse_query('leader* OR "board development"').ast


def test_a_topic_file_without_a_strategy_is_refused() -> None:
    with pytest.raises(ConfigError, match="no query to replace"):
        with_query('name = "Leadership"\n', "leadership.toml", "leader*")
