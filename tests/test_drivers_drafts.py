"""Item → draft record (pure): a feed's cut-short summary becomes the complete sentences it
gave, tried on NHS England's real news feed and on the marks other feeds put after an excerpt."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from awareness import demo
from awareness.drivers.drafts import complete_sentences, draft_from_item, without_format_prefix
from awareness.drivers.editions import latest_edition
from awareness.drivers.importer import parse_driver_page
from awareness.model import DriverRecord
from tests.test_parse import nhs_england_rss, parse

DATA = Path(__file__).parent / "data"


def nhs_england_items() -> dict[str, str]:
    """Every distinct item of the real NHS England news feed snapshots: title → raw excerpt."""
    data = json.loads((DATA / "nhs-england-news-feed-poll-snapshots-2025-10_2026-01.json")
                      .read_text(encoding="utf-8"))
    return {item["title"]: item["description"]
            for snapshot in data["snapshots"] for item in snapshot["items"]}


def stored_summary(title: str) -> str:
    """The item's summary as the service stores it: the real excerpt through the feed parser."""
    (item,) = parse(nhs_england_rss([{"title": title,
                                      "description": nhs_england_items()[title]}])).items
    return item.summary_text


def draft(summary: str, link: str = "https://www.england.nhs.uk/2025/11/alert/") -> dict[str, str]:
    record = draft_from_item(title="An item", publisher="NHS England", link=link,
                             published=datetime(2025, 11, 20, tzinfo=UTC), summary=summary,
                             taken=set())
    assert record.summary == record.fields.get("summary", "")
    return record.fields


# Real excerpts (WordPress's " [&#8230;]" after 55 words), each for a reason of its own.
@pytest.mark.parametrize(("title", "ends_with"), [
    # the usual case: two sentences, then a third cut off mid-way
    ("NHS to roll out first long-acting injection to prevent HIV",
     "in the next five years."),
    # a no-break space after the full stop, and a one-word fragment
    ("NHS hospitals trialling 15-minute blood test for life-threatening conditions in children",
     "can be picked up sooner."),
    # no-break spaces inside the fragment, and a bracket it leaves open
    ("Record numbers using NHS App to manage health",
     "now has more than 39 million registered users."),
    # the excerpt ends on a complete sentence: nothing but the mark goes
    ("A&Es under siege from hiccups and ingrowing toenails",
     "for itchy skin and 96,998 for a sore throat."),
    # the same, after an apostrophe written as "&#8217;"
    ("NHS diabetes prevention scheme helps one million people",
     "the world’s first diabetes prevention schemes when it was launched in 2016."),
    # a closing quotation mark inside the last complete sentence, a dash in the fragment
    ("Hundreds more blood cancer patients to receive life-giving drug on NHS",
     "hope of a cure and “a new lease of life” from today thanks to an NHS drug rollout."),
])
def test_real_excerpt_ends_at_its_last_complete_sentence(title: str, ends_with: str) -> None:
    summary = stored_summary(title)
    fields = draft(summary)
    assert fields["summary"].endswith(ends_with), fields["summary"]
    assert summary.startswith(fields["summary"])
    assert "notes" not in fields


def test_real_excerpt_without_one_complete_sentence_is_left_empty() -> None:
    # One 60-word sentence, cut by the feed before its full stop.
    summary = stored_summary("National patient safety alert – harm from incorrect recording of "
                             "penicillin allergy as penicillamine allergy")
    assert summary.endswith("(EPMA)…")
    fields = draft(summary)
    assert "summary" not in fields
    assert fields["notes"] == ("Summary left empty: the feed's text stopped before its first "
                               "sentence ended. Full text: https://www.england.nhs.uk/2025/11/alert/")
    assert draft(summary, link="")["notes"].endswith("The full text is on the publisher's site.")


def test_every_real_excerpt_ends_at_a_sentence_and_starts_as_the_feed_did() -> None:
    for title in nhs_england_items():
        summary = stored_summary(title)
        kept = complete_sentences(summary)
        assert summary.startswith(kept), title
        assert kept == "" or kept.endswith((".", ".”", ".’", ")", "!", "?")), (title, kept)
        assert "…" not in kept[-3:] and "&#" not in kept and "\xa0" not in kept, title


@pytest.mark.parametrize(("summary", "expected"), [
    # the marks other feeds use, on their own and together
    ("First sentence. Second is cut … [Read more]", "First sentence."),
    ("First sentence. Second is cut [Read more]", "First sentence."),
    ("First sentence. Second is cut Read more »", "First sentence."),
    ("First sentence. Second is cut… Continue reading “The whole post” →", "First sentence."),
    ("First sentence. Second is cut (more…)", "First sentence."),
    ("First sentence. Second is cut [...]", "First sentence."),
    ("First sentence. Second is cut...", "First sentence."),
    ("First sentence. Second is cut&hellip;", "First sentence."),
    ("First sentence. Second is cut [&#8230;]", "First sentence."),
    ("First sentence. [&hellip;]", "First sentence."),
    ("Is it due? Yes! Then the rest…", "Is it due? Yes!"),
    # a stop that does not end a sentence: a title, an initial, a decimal, "e.g."
    ("Led by Prof. Chris Whitty and J. Smith, it finds…", ""),
    ("Beds rose to 94.5% in the week. It is a rise of…", "Beds rose to 94.5% in the week."),
    ("Trusts should, e.g. in the spring, plan. Then…", "Trusts should, e.g. in the spring, plan."),
    # entities and whitespace a feed left in its text
    ("Staff &amp; patients\n\tagree.  More&nbsp;…", "Staff & patients agree."),
    # no mark: the feed gave all of it, with or without a full stop
    ("Guidance for trusts on safe staffing", "Guidance for trusts on safe staffing"),
    ("Staff can read more on the intranet", "Staff can read more on the intranet"),
    ("  A&#38;E   attendances\u00a0rose.  ", "A&E attendances rose."),
    ("", ""),
])
def test_complete_sentences(summary: str, expected: str) -> None:
    assert complete_sentences(summary) == expected


_WORDS = st.lists(st.from_regex(r"[a-z]{1,8}", fullmatch=True), min_size=1, max_size=6)
# At least two words, the last of four letters or more: "A." and "No." are no sentences here.
_SENTENCES = st.lists(st.tuples(_WORDS, st.from_regex(r"[a-z]{4,8}", fullmatch=True)).map(
    lambda words: " ".join([*words[0], words[1]]).capitalize() + "."), max_size=4)
_MARKS = st.sampled_from(["…", " …", " […]", " [&#8230;]", "...", " [Read more]",
                          " Continue reading →", "&hellip; Read more"])


@given(_SENTENCES, _WORDS, _MARKS)
def test_a_cut_summary_keeps_exactly_its_complete_sentences(
        sentences: list[str], fragment: list[str], mark: str) -> None:
    text = " ".join([*sentences, " ".join(fragment).capitalize()]) + mark
    assert complete_sentences(text) == " ".join(sentences)


# "&" is left out: entities are decoded, so the kept text need not be a prefix of the raw one.
# The second alphabet makes marks and stops common.
@given(st.one_of(st.text(alphabet=st.characters(blacklist_characters="&")),
                 st.text(alphabet=".!?… []()ReadmorContinug\"”’'xX \n\u00a0")))
def test_what_is_kept_is_how_the_summary_starts_and_stays_as_it_is(summary: str) -> None:
    plain = " ".join(summary.split())
    kept = complete_sentences(summary)
    assert plain.startswith(kept)
    assert kept in ("", plain) or re.search(r"[.!?][)\]\"'’”]*$", kept), kept
    assert complete_sentences(kept) == kept


# ---------------------------------------------------------------- GOV.UK titles, new editions

SEED_RECORDS = parse_driver_page((DATA / "map-toolkit-leadership-tag-page.txt")
                                 .read_text(encoding="utf-8"))
GOVUK_SAMPLES = tomllib.loads((Path(demo.__file__).parent / "govuk-samples.toml")
                              .read_text(encoding="utf-8"))


@pytest.mark.parametrize(("title", "expected"), [
    # the sample of a CQC organisation feed: the type goes, and so leaves the slug
    ("Corporate report: State of Care 2024/25", "State of Care 2024/25"),
    # only the first colon is the type's: the title's own stays
    ("Guidance: Assessment framework: the well-led key question",
     "Assessment framework: the well-led key question"),
    # GOV.UK writes "Official Statistics" with a capital S; types of several words
    ("Official Statistics: NHS workforce statistics, August 2025",
     "NHS workforce statistics, August 2025"),
    ("Independent report: Independent investigation of the NHS in England",
     "Independent investigation of the NHS in England"),
    # no title after the type, or no word in it: kept as the feed gave it
    ("Press release: …", "Press release: …"),
    ("Guidance:", "Guidance:"),
    # a colon that is not after a GOV.UK type
    ("White Paper: the new era of thinking and practice in change and transformation",
     "White Paper: the new era of thinking and practice in change and transformation"),
    ("Statistics on NHS staff: a summary", "Statistics on NHS staff: a summary"),
])
def test_without_format_prefix(title: str, expected: str) -> None:
    assert without_format_prefix(title) == expected


def test_real_titles_keep_their_own_words_and_govuk_samples_lose_their_type() -> None:
    # The MAP site's records ("Leadership in today’s NHS: delivering the impossible", "White
    # Paper: …") and NHS England's news titles have no GOV.UK type before them.
    for title in [r.title for r in SEED_RECORDS] + list(nhs_england_items()):
        assert without_format_prefix(title) == title
    for entry in (e for entries in GOVUK_SAMPLES.values() for e in entries):
        kind, _, rest = entry["title"].partition(": ")
        assert kind in {"Press release", "News story", "Guidance", "Consultation outcome",
                        "Policy paper", "Corporate report", "Research and analysis"}
        assert without_format_prefix(entry["title"]) == rest


def test_a_new_edition_carries_over_the_series_but_not_the_edition() -> None:
    earlier = next(r for r in SEED_RECORDS if r.title == "State of Care 2013/14")
    assert (earlier.fields["member_responsible"], earlier.tags) == ("VT", ("Leadership",))
    record = draft_from_item(
        title="Corporate report: State of Care 2024/25", publisher="Care Quality Commission",
        link="https://www.gov.uk/government/publications/state-of-care-202425",
        published=datetime(2025, 10, 17, tzinfo=UTC), taken={earlier.slug}, earlier=earlier,
        summary="The annual assessment of health care and social care in England.")
    assert (record.slug, record.title, record.tags) == (
        "state-of-care-2024-25", "State of Care 2024/25", ("Leadership",))
    assert record.fields["member_responsible"] == "VT"
    assert record.fields["primary_audience"] == earlier.fields["primary_audience"]
    # The edition's own: its summary and date, no impact, key features or review dates.
    assert record.summary == "The annual assessment of health care and social care in England."
    assert record.fields["date_of_publication"] == "17 October 2025"
    assert record.impact == "" and earlier.impact
    assert not {"key_features", "date_last_updated", "due_for_review"} & set(record.fields)
    assert record.fields["notes"].startswith(
        "New edition of state-of-care-2013-14 (“State of Care 2013/14”): ")
    assert ("That record stays on the needs-attention list until it is marked reviewed"
            in record.fields["notes"])


def test_a_new_edition_whose_summary_was_cut_keeps_both_notes() -> None:
    earlier = next(r for r in SEED_RECORDS if r.title == "State of Care 2013/14")
    record = draft_from_item(title="State of Care 2024/25", publisher="",
                             link="https://www.cqc.org.uk/soc", published=None, taken=set(),
                             summary="The annual assessment of health care in…", earlier=earlier)
    first, second = record.fields["notes"].split("\n\n")
    assert first.startswith("New edition of state-of-care-2013-14")
    assert second.endswith("Full text: https://www.cqc.org.uk/soc")  # its link still last
    assert record.source == "Care Quality Commission (CQC)"  # the feed named no publisher


def test_a_draft_that_is_no_new_edition_copies_nothing() -> None:
    record = draft_from_item(title="State of Care 2024/25", publisher="CQC", link="",
                             published=None, summary="", taken=set())
    # No "Title of driver" repeating the title: the page keeps one only when it differs.
    assert (record.tags, set(record.fields)) == ((), {"source", "publication_format"})


def test_latest_edition() -> None:
    older = next(r for r in SEED_RECORDS if r.title == "State of Care 2013/14")
    newer = DriverRecord(kind="driver", slug="state-of-care-2014-15",
                         title="State of Care 2014/15")
    assert latest_edition([older, newer]) == latest_edition([newer, older]) == newer
    assert latest_edition([]) is None
