"""The driver-page importer: the real seed page against its golden file, then each layout
variation DOMAIN.md lists as a small page of its own, then free-text dates."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from awareness.drivers.importer import (
    CASE_STUDY_FIELDS,
    DRIVER_FIELDS,
    match_label,
    parse_driver_page,
    parse_free_date,
    read_driver_page,
    slugify,
)
from awareness.model import DriverRecord

DATA = Path(__file__).parent / "data"
SEED_TEXT = (DATA / "map-toolkit-leadership-tag-page.txt").read_text(encoding="utf-8")
GOLDEN = json.loads((DATA / "seed-expected.json").read_text(encoding="utf-8"))


def one(text: str, **kwargs: str) -> DriverRecord:
    records = parse_driver_page(text, **kwargs)
    assert len(records) == 1, [r.title for r in records]
    return records[0]


# --- the seed page -------------------------------------------------------------------------


def test_seed_page_has_seven_drivers_and_one_case_study() -> None:
    records = parse_driver_page(SEED_TEXT)
    assert [r.kind for r in records] == ["driver"] * 7 + ["case_study"]
    assert [r.title for r in records] == [g["title"] for g in GOLDEN["records"]]


@pytest.mark.parametrize("index", range(len(GOLDEN["records"])))
def test_seed_record_matches_golden_file_field_by_field(index: int) -> None:
    expected = GOLDEN["records"][index]
    record = parse_driver_page(SEED_TEXT)[index]
    assert (record.kind, record.title, record.slug) == (
        expected["kind"],
        expected["title"],
        expected["slug"],
    )
    assert list(record.tags) == expected["tags"]
    assert (record.source, record.link) == (expected["source"], expected["link"])
    assert sorted(record.fields) == sorted(expected["fields"]), record.title
    for name, value in expected["fields"].items():
        assert record.fields[name] == value, f"{record.title}: field {name}"


def test_seed_lifted_attributes_agree_with_fields() -> None:
    for record in parse_driver_page(SEED_TEXT):
        assert record.impact == record.fields["impact"]
        summary_field = "summary" if record.kind == "driver" else "story"
        assert record.summary == record.fields[summary_field]
        assert record.source == record.fields.get("source", "")


def test_seed_page_tag_comes_from_heading_and_can_be_overridden() -> None:
    assert read_driver_page(SEED_TEXT).page_tag == "Leadership"
    records = parse_driver_page(SEED_TEXT, page_tag="Management")
    assert {r.tags for r in records} == {("Management",)}


def test_seed_page_leaves_no_line_unread() -> None:
    assert read_driver_page(SEED_TEXT).skipped == ()


def test_every_seed_field_name_is_a_documented_canonical_name() -> None:
    names = {f.name for f in DRIVER_FIELDS} | {f.name for f in CASE_STUDY_FIELDS}
    for record in parse_driver_page(SEED_TEXT):
        assert set(record.fields) <= names


# --- layout variations ---------------------------------------------------------------------

NO_COLONS_VALUES_BELOW = """\
Tag Archives: Workforce

Nursing Workforce Standards

Source
Royal College of Nursing

Date of publication

May 2021

Summary of driver
Standards for safe nurse staffing.

They apply to all settings.

What does this mean for libraries
Libraries can support workforce planning.

Due for review June 2023

Group member responsible
AB
"""


def test_labels_without_colons_and_values_on_following_lines() -> None:
    record = one(NO_COLONS_VALUES_BELOW)
    assert record.title == "Nursing Workforce Standards"
    assert record.tags == ("Workforce",)
    assert record.source == "Royal College of Nursing"
    assert record.fields["date_of_publication"] == "May 2021"
    assert record.summary == "Standards for safe nurse staffing.\n\nThey apply to all settings."
    assert record.impact == "Libraries can support workforce planning."
    assert record.fields["due_for_review"] == "June 2023"  # a date label needs no colon
    assert record.fields["member_responsible"] == "AB"


BULLETS = """\
Bullet Styles Report

Source: Test Body

Key features of driver:
• round bullet
•no space after the bullet
- hyphen bullet
* star bullet
plain line with no bullet

Summary of driver:
  1. rendered numbered item
  1. another rendered item
    • nested under it

Impact on library policy:
1. Smith J (2011). A typed reference stays as typed.
"""


def test_bullets_of_every_style_become_dash_lines() -> None:
    record = one(BULLETS)
    assert record.fields["key_features"] == (
        "- round bullet\n"
        "- no space after the bullet\n"
        "- hyphen bullet\n"
        "- star bullet\n"
        "plain line with no bullet"
    )
    # The text export indents HTML list items; nesting is relative to the shallowest bullet.
    assert record.summary == (
        "- rendered numbered item\n- another rendered item\n  - nested under it"
    )
    assert record.impact == "1. Smith J (2011). A typed reference stays as typed."


EMPTY_AND_MISSING = """\
Empty Fields Driver

Source: NHS England

Link to main document

Publication format:

Summary of driver: Only a summary here.
"""


def test_empty_fields_are_kept_empty_and_missing_fields_are_absent() -> None:
    record = one(EMPTY_AND_MISSING)
    assert record.fields["link"] == "" and record.link == ""
    assert record.fields["publication_format"] == ""
    assert "due_for_review" not in record.fields
    assert record.impact == ""


CURLY = """\
‘Quoted’ Driver: “Care” isn’t simple

Source: King’s Fund

Summary of driver: It says “hello” — and ‘goodbye’.
"""


def test_curly_quotes_and_dashes_are_kept_as_typed() -> None:
    record = one(CURLY)
    assert record.title == "‘Quoted’ Driver: “Care” isn’t simple"
    assert record.source == "King’s Fund"
    assert record.summary == "It says “hello” — and ‘goodbye’."
    assert record.slug == "quoted-driver-care-isnt-simple"


BOILERPLATE = """\
Leading Change Report

A policy briefing is available for LKS staff to share in their organisations.

What does this mean for libraries?

More demand for leadership books.

Source: NHS Providers

Summary of driver:

A survey of trust leaders.
"""


def test_policy_briefing_boilerplate_is_a_note_not_a_title_or_summary() -> None:
    record = one(BOILERPLATE)
    assert record.title == "Leading Change Report"
    assert record.fields["notes"].startswith("A policy briefing is available")
    assert record.summary == "A survey of trust leaders."
    assert record.impact == "More demand for leadership books."


TWO_LABELS_ON_ONE_LINE = """\
Two Labels Driver

Source:  Link to main document: http://www.example.org/report.pdf.

Publication format: PDF
"""


def test_two_labels_on_one_line_split_into_two_fields() -> None:
    record = one(TWO_LABELS_ON_ONE_LINE)
    assert record.fields["source"] == ""
    assert record.link == "http://www.example.org/report.pdf"


IMPACT_FIRST_THEN_IMPACT_LATE = """\
First Driver

What does this mean for libraries?

First impact.

Source: Body A

Summary of driver: First summary.

Second Driver

Source: Body B

Summary of driver: Second summary.

Impact on library policy/practice: Second impact.
"""


def test_impact_field_first_or_late_under_any_of_its_names() -> None:
    first, second = parse_driver_page(IMPACT_FIRST_THEN_IMPACT_LATE)
    assert (first.title, first.impact, first.summary) == (
        "First Driver",
        "First impact.",
        "First summary.",
    )
    assert (second.title, second.impact) == ("Second Driver", "Second impact.")


MEETING_NOTES_BETWEEN_DRIVERS = """\
Category Archives: Drivers

Driver Before

Source: Body A

Group member responsible: AB

Steering group meeting notes, 12 May 2016

Present: AB, CD, EF. Apologies: GH.

1. Minutes of the last meeting were agreed.

Posted in Meetings | Tagged minutes | Leave a comment

Protected: Meeting notes March 2016

This content is password protected. To view it please enter your password below:

Password:

Driver After

Source: Body B

Group member responsible: CD
"""


def test_unrelated_posts_between_records_do_not_become_records() -> None:
    page = read_driver_page(MEETING_NOTES_BETWEEN_DRIVERS)
    assert [r.title for r in page.records] == ["Driver Before", "Driver After"]
    assert page.records[0].fields["member_responsible"] == "AB"
    assert page.records[0].tags == ()  # the meeting post's footer tag is not the driver's
    assert "Steering group meeting notes, 12 May 2016" in page.skipped
    assert "Password:" in page.skipped
    assert page.page_tag is None  # a category is not a tag


NEWS_POST_AFTER_OPEN_RECORD = """\
Driver With No Closing Field

Source: Body A

Summary of driver: The summary.

Library opening hours over Christmas
Posted on 20 December 2016 by admin

The library will close at noon on Christmas Eve.
This entry was posted in News. Bookmark the permalink.
"""


def test_a_post_title_with_a_byline_ends_the_record_before_it() -> None:
    page = read_driver_page(NEWS_POST_AFTER_OPEN_RECORD)
    assert [r.title for r in page.records] == ["Driver With No Closing Field"]
    assert page.records[0].summary == "The summary."
    assert "The library will close at noon on Christmas Eve." in page.skipped


WORDPRESS_POSTS = """\
Posted Driver
Posted on 3 March 2015 by admin

Source: Body A

Summary of driver: A summary.

This entry was posted in Drivers and tagged Leadership, Staff Wellbeing. Bookmark the permalink.

Leave a comment
"""


def test_wordpress_footer_tags_are_added_and_bylines_ignored() -> None:
    record = one(WORDPRESS_POSTS, page_tag="leadership")
    assert record.tags == ("leadership", "Staff Wellbeing")  # deduplicated ignoring case
    assert record.summary == "A summary."


TITLE_OF_DRIVER_ONLY = """\
Title of driver: First Untitled

Source: Body A

Title of driver: Second Untitled

Source: Body B
"""


def test_records_without_a_heading_line_are_named_by_title_of_driver() -> None:
    records = parse_driver_page(TITLE_OF_DRIVER_ONLY)
    assert [(r.title, r.source) for r in records] == [
        ("First Untitled", "Body A"),
        ("Second Untitled", "Body B"),
    ]
    assert "title_of_driver" not in records[0].fields  # no alternative name to keep


PROSE_THAT_STARTS_LIKE_A_LABEL = """\
Prose Driver

Summary of driver:

Source material was gathered from ten trusts.

Lessons learned from the pilot were shared.

Impact assessment is planned

Date last updated: May 2020
"""


def test_prose_starting_with_a_label_word_is_not_a_label() -> None:
    record = one(PROSE_THAT_STARTS_LIKE_A_LABEL)
    assert record.summary == (
        "Source material was gathered from ten trusts.\n\n"
        "Lessons learned from the pilot were shared.\n\n"
        "Impact assessment is planned"
    )
    assert set(record.fields) == {"summary", "date_last_updated"}


CASE_STUDY_PLAIN_LABELS = """\
Evidence Search Service (Example Trust)

Project team: Two librarians.

Resources required: Staff time.

2015 – 2016

The story: We built a service.

Impact: Searches doubled.

Lessons learnt: Start small.

Next steps: Keep going.

Contact: A Librarian, a.librarian@example.nhs.uk

Date completed: 1st April 2016
"""


def test_case_study_with_other_label_spellings_and_a_bare_period_line() -> None:
    record = one(CASE_STUDY_PLAIN_LABELS)
    assert record.kind == "case_study"
    assert record.fields == {
        "project_team": "Two librarians.",
        "resources_required": "Staff time.",
        "timeline": "2015 – 2016",
        "story": "We built a service.",
        "impact": "Searches doubled.",
        "lessons_learned": "Start small.",
        "sustainability": "Keep going.",
        "contact": "A Librarian, a.librarian@example.nhs.uk",
        "date_completed": "1st April 2016",
    }
    assert record.summary == "We built a service."


def test_same_title_twice_gets_unique_slugs() -> None:
    page = "Same Title\n\nSource: A\n\nSame Title\n\nSource: B\n\nSame Title 2\n\nSource: C\n"
    slugs = [r.slug for r in parse_driver_page(page)]
    assert slugs == ["same-title", "same-title-2", "same-title-2-2"]


def test_labels_without_any_title_are_reported_not_imported() -> None:
    page = read_driver_page("Source: Orphan Body\n\nSummary of driver: Text.\n")
    assert page.records == ()
    assert page.skipped == ("a record without a title (fields: source, summary)",)


def test_page_without_records_gives_an_empty_list() -> None:
    assert parse_driver_page("") == []
    assert parse_driver_page("Meeting notes\n\nPresent: AB\n\nNothing else.") == []


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("Source: NHS England", ("source", "NHS England")),
        ("Impact on library policy / practice:", ("impact", "")),
        ("What does this mean for libraries?", ("impact", "")),
        ("“The Story”", ("story", "")),
        ("Sustainability / next steps?", ("sustainability", "")),
        ("Source – NHS Providers", ("source", "NHS Providers")),
        ("Date of publication 1 May 2020", ("date_of_publication", "1 May 2020")),
        ("Sources of funding vary", None),
        ("Summary: https://example.org/summary.pdf", None),  # a line in the link field
        ("Lessons learned from this were many", None),
    ],
)
def test_label_spellings(line: str, expected: tuple[str, str] | None) -> None:
    hit = match_label(line)
    assert (None if hit is None else (hit.field, hit.value)) == expected


def test_slugify() -> None:
    assert slugify("State of Care 2013/14") == "state-of-care-2013-14"
    assert slugify("New Evidence on Management & Leadership") == (
        "new-evidence-on-management-and-leadership"
    )
    assert slugify("Café ‘quoted’") == "cafe-quoted"
    assert slugify("———") == "record"
    assert len(slugify("word " * 40)) <= 80


# --- robustness ----------------------------------------------------------------------------

SEED_LINES = SEED_TEXT.splitlines()


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_arbitrary_text_never_raises(text: str) -> None:
    assert isinstance(parse_driver_page(text), list)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from([*SEED_LINES, "", "Posted on 1 May 2016", "Tags: A, B"])))
def test_shuffled_seed_lines_give_well_formed_records(lines: list[str]) -> None:
    records = parse_driver_page("\n".join(lines))
    assert len({r.slug for r in records}) == len(records)
    for record in records:
        assert record.title.strip() == record.title and record.title
        assert all("\n\n\n" not in value for value in record.fields.values())


# --- free-text dates -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("June 2019", date(2019, 6, 1)),
        ("1 December 2016", date(2016, 12, 1)),
        ("31st March 2017", date(2017, 3, 31)),
        ("Oct/Nov 2016", date(2016, 11, 1)),  # a range of months: the later one
        ("October – November 2016", date(2016, 11, 1)),
        ("February 2018", date(2018, 2, 1)),
        ("Sept 2015", date(2015, 9, 1)),
        ("December 1, 2016", date(2016, 12, 1)),
        ("01/12/2016", date(2016, 12, 1)),  # UK order
        ("2016-12-01", date(2016, 12, 1)),
        ("2019", date(2019, 1, 1)),
        ("  March 2014", date(2014, 3, 1)),
        ("31 February 2017", None),
        ("2013/14", None),
        ("Spring 2017", None),
        ("", None),
        ("FG", None),
    ],
)
def test_parse_free_date(text: str, expected: date | None) -> None:
    assert parse_free_date(text) == expected


def test_every_seed_date_field_parses() -> None:
    date_fields = ("date_of_publication", "date_last_updated", "due_for_review", "date_completed")
    for record in parse_driver_page(SEED_TEXT):
        for name in date_fields:
            if name in record.fields:
                assert parse_free_date(record.fields[name]) is not None, (record.title, name)


@given(st.text())
def test_parse_free_date_never_raises(text: str) -> None:
    assert parse_free_date(text) is None or isinstance(parse_free_date(text), date)


@pytest.mark.integration
def test_importer_and_linking_are_pure() -> None:
    code = (
        "import sys, awareness.drivers.importer, awareness.drivers.linking\n"
        "banned = {'httpx', 'sqlalchemy', 'smtplib', 'apscheduler', 'socket'}\n"
        "print(sorted(banned & {name.split('.')[0] for name, module in sys.modules.items()\n"
        "                      if module is not None}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
