"""Saved WordPress pages (tag, category and single-post pages, older and newer themes) read to
the same records as pages saved as text; the plain JSON format; record details and merging."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awareness.drivers.html import html_to_text, looks_like_html, post_links
from awareness.drivers.importer import DriverPage, read_driver_page
from awareness.drivers.plain import dump_records, load_plain, load_records
from awareness.drivers.records import (
    EMAIL_REMOVED,
    PHONE_REMOVED,
    bullet_items,
    changes,
    details,
    member_initials,
    merge_records,
    redact_personal_data,
)
from awareness.drivers.site import page_verdict, record_pages
from awareness.errors import ImportFormatError
from awareness.model import DriverRecord

DATA = Path(__file__).parent / "data" / "drivers"


def page(name: str) -> DriverPage:
    return read_driver_page(html_to_text((DATA / name).read_text(encoding="utf-8")))


def test_older_tag_archive_gives_both_posts_and_no_furniture() -> None:
    result = page("tag-archive-older.html")
    assert result.page_tag == "Workforce"
    assert [r.title for r in result.records] == [
        "State of Care 2013/14",
        "Report of the Mid Staffordshire NHS Foundation Trust Public Inquiry",
    ]
    care = result.records[0]
    assert care.tags == ("Workforce", "Quality")  # page tag, then the post footer's tags
    assert care.link == "https://www.cqc.org.uk/publications/major-report/state-care-2013-14"
    assert care.fields["key_features"] == (
        "- Variation in the quality of care between and within providers\n"
        "- Pressure on services\n"
        "  - especially urgent and emergency care"
    )
    assert care.fields["member_responsible"] == "JB"  # not the site footer's "nobody"
    assert result.skipped == ()  # the sidebar's "Source:" heading and the script are gone


def test_table_layout_reads_label_cells_and_value_cells() -> None:
    francis = page("tag-archive-older.html").records[1]
    assert francis.fields["title_of_driver"] == "The Francis Report"
    assert francis.source == "The Stationery Office"
    assert francis.fields["due_for_review"] == "February 2014"
    assert francis.impact == "Libraries support a culture of openness with evidence."


def test_newer_tag_archive_with_impact_first_and_an_ordered_list() -> None:
    (record,) = page("tag-archive-newer.html").records
    assert record.title == "The NHS Long Term Plan"
    assert record.tags == ("Long term plan", "Digital")
    assert record.impact == "Libraries can support the “digitally enabled” care the plan describes."
    assert record.source == "NHS England"  # "Source – NHS England": a dash for a colon
    assert bullet_items(record.fields["key_features"]) == (
        "Prevention and health inequalities", "Digitally enabled care")


def test_category_archive_skips_protected_and_news_posts_with_reasons() -> None:
    result = page("category-archive.html")
    assert [r.title for r in result.records] == ["Sustainability and transformation plans"]
    assert result.records[0].tags == ("Integration",)  # a category is not a topic tag
    assert [(p.title, p.reason) for p in result.skipped_posts] == [
        ("Protected: Steering group meeting November 2016", "a password-protected post"),
        ("New members welcome at the MAP toolkit group",
         "a post without record labels (news or meeting notes)"),
    ]
    assert not any("Password" in line for line in result.skipped)  # the form is not text


def test_single_post_matches_the_same_record_on_the_archive_page() -> None:
    (single,) = page("single-post.html").records
    archive = page("tag-archive-older.html").records[0]
    assert single.slug == archive.slug
    assert single.fields == archive.fields
    assert single.tags == ("Regulation",)
    (merged,) = merge_records([archive, single])
    assert merged.tags == ("Workforce", "Quality", "Regulation")


@pytest.mark.parametrize("name", ["tag-archive-older.html", "tag-archive-newer.html",
                                  "category-archive.html", "single-post.html"])
def test_saved_pages_are_recognised_as_html(name: str) -> None:
    assert looks_like_html((DATA / name).read_text(encoding="utf-8"))


def test_seed_text_is_not_taken_for_html() -> None:
    seed = (DATA.parent / "map-toolkit-leadership-tag-page.txt").read_text(encoding="utf-8")
    assert not looks_like_html(seed)


@given(st.text())
def test_any_markup_never_raises(markup: str) -> None:
    read_driver_page(html_to_text(markup))
    post_links(markup)


def test_escaped_markup_in_text_stays_text() -> None:
    text = html_to_text("<p>Source: A &lt;script&gt; &amp; B</p><p>x<br>y</p>")
    assert text == "Source: A <script> & B\n\nx\ny\n"


# --- record details, personal data, merging ------------------------------------------------

def test_details_parse_dates_lists_names_and_member() -> None:
    francis = page("tag-archive-older.html").records[1]
    about = details(francis)
    assert about.alternative_names == ("The Francis Report",)
    assert (about.published_on, about.review_due_on) == (date(2013, 2, 6), date(2014, 2, 1))
    assert about.member == "AB"
    assert details(page("tag-archive-older.html").records[0]).last_updated_on == date(2014, 11, 1)


@pytest.mark.parametrize(("text", "expected"), [("jb", "JB"), (" A.B. (chair)", "AB"), ("", "")])
def test_member_initials(text: str, expected: str) -> None:
    assert member_initials(text) == expected


def test_personal_data_is_removed_outside_contact_fields_only() -> None:
    care = page("tag-archive-older.html").records[0]
    clean, touched = redact_personal_data(care)
    assert touched == ("impact",)
    assert "jane.doe" not in clean.impact and "496" not in clean.impact
    assert EMAIL_REMOVED in clean.impact and PHONE_REMOVED in clean.impact
    assert clean.fields["impact"] == clean.impact
    assert clean.fields["date_last_updated"] == "1/11/2014"  # a date is not a phone number
    study = load_records((DATA / "records.json").read_text(encoding="utf-8"))[1]
    assert redact_personal_data(study) == (study, ())
    assert "jo.bloggs@example.nhs.uk" in study.fields["contact"]


def test_merge_fills_gaps_but_never_overwrites() -> None:
    first = DriverRecord("driver", "x", "X", source="A", tags=("One",), fields={"source": "A"})
    later = DriverRecord("driver", "x", "X", source="B", impact="I", tags=("one", "Two"),
                         fields={"source": "B", "impact": "I"})
    (merged,) = merge_records([first, later])
    assert (merged.source, merged.impact, merged.tags) == ("A", "I", ("One", "Two"))
    assert merged.fields == {"source": "A", "impact": "I"}


def test_changes_name_each_changed_field() -> None:
    old = DriverRecord("driver", "x", "X", tags=("A",), fields={"due_for_review": "2020"})
    new = DriverRecord("driver", "x", "X", tags=("A", "B"), fields={"due_for_review": "2021"})
    assert changes(old, new) == {"tags": [["A"], ["A", "B"]],
                                 "fields.due_for_review": ["2020", "2021"]}
    assert changes(old, old) == {}


# --- the plain format ----------------------------------------------------------------------

def test_plain_format_round_trips() -> None:
    records = load_records((DATA / "records.json").read_text(encoding="utf-8"))
    assert [r.slug for r in records] == ["state-of-care-2014-15", "clinical-librarian-pilot"]
    again = load_records(dump_records(records))
    assert [(r, r.fields) for r in again] == [(r, r.fields) for r in records]
    assert dump_records(again) == (DATA / "records.json").read_text(encoding="utf-8")


@pytest.mark.parametrize(("doc", "message"), [
    ("{", "not valid JSON"),
    ('{"format": "other"}', "not a driver-records file"),
    ('{"format": "awareness-driver-records", "version": 9, "records": []}', "version 9"),
    ('{"format": "awareness-driver-records", "version": 1, "records": [{"title": "T"}]}',
     "record 1: needs a \"slug\""),
    ('{"format": "awareness-driver-records", "version": 1, '
     '"records": [{"slug": "s", "title": "T", "tags": "x"}]}', "\"tags\" must be a list"),
    ('{"format": "awareness-driver-records", "version": 1, '
     '"records": [{"slug": "s", "title": "T", "kind": "memo"}]}', "\"kind\" must be"),
    ('{"format": "awareness-driver-records", "version": 1, '
     '"records": [{"slug": "s", "title": "T", "status": "deleted"}]}',
     "record 1: \"status\" must be \"active\" or \"draft\""),
])
def test_plain_format_errors_say_what_is_wrong(doc: str, message: str) -> None:
    with pytest.raises(ImportFormatError, match=message.replace("(", r"\(")):
        load_records(doc, path="r.json")


def test_plain_format_carries_each_records_status_when_given() -> None:
    records = load_records((DATA / "records.json").read_text(encoding="utf-8"))
    text = dump_records(records, {"state-of-care-2014-15": "draft"})
    assert [status for _, status in load_plain(text)] == ["draft", None]
    assert '"status": "draft"' in text


def test_plain_format_is_valid_json_with_sorted_keys() -> None:
    text = (DATA / "records.json").read_text(encoding="utf-8")
    assert json.loads(text)["version"] == 1


@pytest.mark.integration
def test_new_driver_modules_are_pure() -> None:
    import subprocess
    import sys

    # A None in sys.modules is an import turned away (awareness/__init__.py: httpx's own
    # command line), not a module that was loaded.
    code = (
        "import sys\n"
        "import awareness.drivers.html, awareness.drivers.records, awareness.drivers.plain\n"
        "import awareness.drivers.editions, awareness.drivers.labels, awareness.drivers.dates\n"
        "import awareness.drivers.site, awareness.drivers.provenance\n"
        "banned = {'httpx', 'sqlalchemy', 'smtplib', 'apscheduler', 'socket'}\n"
        "print(sorted(banned & {name.split('.')[0] for name, module in sys.modules.items()\n"
        "                      if module is not None}))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_an_unknown_marked_section_does_not_stop_a_saved_page() -> None:
    # html.parser raises AssertionError on '<![x]>' (found by fuzzing the feed parser, P15).
    text = html_to_text("<p>State of Care <![x]> 2024/25</p><p>Next</p>")
    assert text.split() == ["State", "of", "Care", "2024/25", "Next"]


VARIATIONS = Path(__file__).parent / "data" / "drivers" / "variations.html"


def test_the_variations_of_real_pages_are_read_into_the_right_fields() -> None:
    page = read_driver_page(html_to_text(VARIATIONS.read_text(encoding="utf-8")))
    plan, librarian = page.records
    assert plan.title == "NHS Long Term Workforce Plan"
    assert plan.fields["also_known_as"] == "the LTWP"
    assert "title_of_driver" not in plan.fields  # it was the title, with its other name
    # The link's words were the label; the address was only in the href.
    assert plan.link == "https://www.england.nhs.uk/publication/nhs-long-term-workforce-plan/"
    assert plan.fields["key_features"] == (
        "1. Train: double medical school places by 2031.\n\n"
        "2. Retain: improve culture, leadership and flexible working.\n\n"
        "Reform\n\nNew roles, apprenticeships and digital tools.")
    assert plan.fields["member_responsible"] == "FG"
    # The unlabelled paragraph after the title is reported, and is in no field.
    assert [(u.title, u.after, u.text[:40]) for u in page.unplaced] == [
        ("NHS Long Term Workforce Plan", "title_of_driver",
         "The plan sets out how the NHS will train")]
    assert all("train, retain and reform" not in value for value in plan.fields.values())
    assert (librarian.kind, librarian.impact) == (
        "case_study", "Fewer duplicated tests; junior doctors saved two hours a week.")
    assert librarian.fields["timeline"] == "April 2015 onwards"
    # Neighbouring posts: skipped with a reason, and none of their text in any record.
    assert [(p.title, p.reason) for p in page.skipped_posts] == [
        ("Protected: Steering group notes, July 2023", "a password-protected post"),
        ("Library week news", "a post without record labels (news or meeting notes)")]
    everything = " ".join(v for r in page.records for v in r.fields.values())
    for foreign in ("password", "Password", "library week", "Steering group"):
        assert foreign not in everything


def test_each_record_is_matched_to_its_own_post_on_the_site():
    # Issue 16: a record that left an archive is flagged only after its own post answers
    # 404/410, so each record must be paired with the post its heading links to.
    site = "https://maptoolkit.example.org/tag/ltp/"
    older = (DATA / "tag-archive-older.html").read_text(encoding="utf-8")
    records = read_driver_page(html_to_text(older)).records
    pages = record_pages(records, post_links(older), site)
    assert pages["state-of-care-2013-14"] == \
        "https://maptoolkit.example.org/2014/10/state-of-care-2013-14/"
    assert len(records) == len(pages) == 2  # date links (rel="bookmark" too) are not posts
    single = (DATA / "single-post.html").read_text(encoding="utf-8")
    post = "https://maptoolkit.example.org/2014/10/state-of-care-2013-14/"
    [record] = read_driver_page(html_to_text(single)).records
    assert record_pages([record], post_links(single), post) == {record.slug: post}
    assert [page_verdict(s) for s in (404, 410, 200, 500, 503, 403, None)] == [
        "gone", "gone", "there", "unknown", "unknown", "unknown", "unknown"]
