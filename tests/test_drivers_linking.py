"""Linking items to driver records: same document, related by tag and words, and no link."""

from __future__ import annotations

import html
import json
import random
from dataclasses import replace
from pathlib import Path

import pytest

from awareness.drivers.importer import parse_driver_page
from awareness.drivers.linking import DEFAULT_THRESHOLD, DriverLinker, related_drivers, words
from awareness.model import DriverLink, DriverRecord

DATA = Path(__file__).parent / "data"
SEED = tuple(parse_driver_page((DATA / "map-toolkit-leadership-tag-page.txt").read_text("utf-8")))
FYFV = "implementing-the-nhs-five-year-forward-view-aligning-policies-with-the-plan"
DEVELOPING_PEOPLE = (
    "developing-people-improving-care-a-national-framework-for-action-on-improvement"
)


def link(
    title: str,
    summary: str = "",
    *,
    url: str | None = None,
    tags: tuple[str, ...] = (),
    records: tuple[DriverRecord, ...] = SEED,
    limit: int = 3,
    threshold: float = DEFAULT_THRESHOLD,
) -> list[DriverLink]:
    return related_drivers(
        title=title,
        summary=summary,
        link=url,
        topic_tags=tags,
        records=records,
        limit=limit,
        threshold=threshold,
    )


LEADERSHIP_ITEM = (
    "New leadership and management framework for NHS managers",
    "NHS England has published a leadership and management framework setting out the "
    "standards expected of managers and leaders, to build a compassionate and inclusive "
    "culture and improve leadership development across the NHS [&#8230;]",
)
FLU_ITEM = (
    "NHS issues flu jab SOS with worst of winter only weeks away",
    "Health and care workers are urged to get their flu vaccine to protect patients, as the "
    "NHS prepares for a difficult winter with hospitals already under pressure.",
)

# (title, summary, topic tags, slugs that must be linked, in order)
CASES = [
    pytest.param(
        *LEADERSHIP_ITEM,
        ("Leadership",),
        [
            DEVELOPING_PEOPLE,
            "new-evidence-on-management-and-leadership",
            "leadership-zone-shrewsbury-and-telford-hospital-nhs-trust",
        ],
        id="leadership news -> leadership drivers",
    ),
    pytest.param(
        *LEADERSHIP_ITEM,
        (),
        [DEVELOPING_PEOPLE, "new-evidence-on-management-and-leadership"],
        id="leadership news without a shared tag -> only the closest",
    ),
    pytest.param(
        "NHS Long Term Workforce Plan",
        "Actions to recruit and retain staff and to address nursing shortages.",
        ("Workforce",),
        ["interim-nhs-people-plan"],
        id="workforce plan -> people plan",
    ),
    pytest.param(*FLU_ITEM, (), [], id="flu -> nothing"),
    pytest.param(*FLU_ITEM, ("Vaccination", "Leadership"), [], id="flu, shared tag -> nothing"),
]


@pytest.mark.parametrize(("title", "summary", "tags", "expected"), CASES)
def test_related_links(
    title: str, summary: str, tags: tuple[str, ...], expected: list[str]
) -> None:
    found = link(title, summary, tags=tags)
    assert [f.slug for f in found] == expected
    assert all(f.kind == "related" and DEFAULT_THRESHOLD <= f.score <= 1 for f in found)


def test_related_reason_names_the_tag_and_the_shared_words() -> None:
    best = link(*LEADERSHIP_ITEM, tags=("leadership",))[0]
    assert best.reason.startswith("same topic tag ‘Leadership’; shares: ")
    shared = best.reason.split("shares: ")[1].split(", ")
    assert {"leadership", "compassionate", "framework"} <= set(shared)
    untagged = link(*LEADERSHIP_ITEM)[0]
    assert untagged.reason.startswith("shares: ")
    assert untagged.score < best.score  # the shared tag raised it


def test_no_real_nhs_england_news_item_links_to_the_leadership_drivers() -> None:
    # 46 real items (flu, strikes, cancer drugs…); none is about leadership or workforce.
    snapshots = DATA / "nhs-england-news-feed-poll-snapshots-2025-10_2026-01.json"
    feed = json.loads(snapshots.read_text(encoding="utf-8"))
    items = {
        i["title"]: html.unescape(i["description"]) for s in feed["snapshots"] for i in s["items"]
    }
    assert len(items) == 46
    linked = {title: link(title, summary) for title, summary in items.items()}
    assert {title: found for title, found in linked.items() if found} == {}


def test_a_shared_tag_alone_never_links() -> None:
    assert link("Quarterly bulletin", "Dates for your diary.", tags=("Leadership",)) == []


SEED_FYFV_URL = (
    "http://www.kingsfund.org.uk/sites/files/kf/field/field_publication_file/"
    "implementing-the-nhs-five-year-forward-view-kingsfund-feb15.pdf"
)


@pytest.mark.parametrize(
    "item_url",
    [
        SEED_FYFV_URL,
        SEED_FYFV_URL.replace("http://www.", "https://") + "?utm_source=bulletin&utm_medium=email",
        SEED_FYFV_URL.replace("http://www.kingsfund", "HTTPS://WWW.KingsFund") + "#page=4",
    ],
)
def test_same_document_by_normalised_link(item_url: str) -> None:
    found = link("Unrelated wording entirely", url=item_url)
    assert found == [
        DriverLink(
            FYFV,
            "same_document",
            1.0,
            "links to the same document (https://kingsfund.org.uk/sites/files/kf/field/"
            "field_publication_file/implementing-the-nhs-five-year-forward-view-kingsfund-feb15.pdf)",
        )
    ]


def test_same_document_ignores_trailing_slash_and_tracking_and_comes_first() -> None:
    people_plan = next(r for r in SEED if r.slug == "interim-nhs-people-plan")
    with_link = replace(people_plan, link="https://www.england.nhs.uk/publication/people-plan/")
    records = tuple(with_link if r is people_plan else r for r in SEED)
    found = link(
        *LEADERSHIP_ITEM,
        tags=("Leadership",),
        records=records,
        url="https://england.nhs.uk/publication/people-plan?utm_campaign=x&fbclid=y",
    )
    assert found[0].slug == "interim-nhs-people-plan" and found[0].kind == "same_document"
    assert [f.kind for f in found[1:]] == ["related", "related"]
    assert "interim-nhs-people-plan" not in {f.slug for f in found[1:]}


@pytest.mark.parametrize(
    "item_url", [None, "", "javascript:alert(1)", "https://example.org:99999/x", "not a url"]
)
def test_unusable_item_links_make_no_same_document_link(item_url: str | None) -> None:
    assert all(f.kind == "related" for f in link(*LEADERSHIP_ITEM, url=item_url))


def test_records_without_links_never_match_an_item_without_a_link() -> None:
    assert all(f.kind == "related" for f in link("x", url=None, threshold=0.0))


def test_order_is_deterministic_whatever_the_record_order() -> None:
    expected = link(*LEADERSHIP_ITEM, tags=("Leadership",), limit=8, threshold=0.0)
    assert len(expected) == 8
    assert [f.score for f in expected] == sorted((f.score for f in expected), reverse=True)
    rng = random.Random(5)
    for _ in range(5):
        shuffled = list(SEED)
        rng.shuffle(shuffled)
        again = link(
            *LEADERSHIP_ITEM, tags=("Leadership",), limit=8, threshold=0.0, records=tuple(shuffled)
        )
        assert again == expected


def test_limit_and_threshold() -> None:
    assert link(*LEADERSHIP_ITEM, limit=0) == []
    assert len(link(*LEADERSHIP_ITEM, tags=("Leadership",), limit=1)) == 1
    assert link(*LEADERSHIP_ITEM, tags=("Leadership",), threshold=1.01) == []
    assert link(*LEADERSHIP_ITEM, records=()) == []


def test_case_study_is_linked_through_its_story() -> None:
    found = link(
        "Library creates leadership book collection",
        "Reading lists, e-books and patron-driven acquisition for leadership courses.",
        tags=("Leadership",),
    )
    assert found[0].slug == "leadership-zone-shrewsbury-and-telford-hospital-nhs-trust"


def test_words_drop_stop_words_numbers_and_plurals() -> None:
    assert words("The NHS’s 2019 leaders’ libraries and services") == ["leader", "library"]


# --- new editions ---------------------------------------------------------------------------

CARE = "state-of-care-2013-14"
PEOPLE_PLAN = "interim-nhs-people-plan"
LTP = DriverRecord("driver", "the-nhs-long-term-plan", "The NHS Long Term Plan",
                   source="NHS England")
EDITIONS = (*SEED, LTP)

# (item title, item publisher, the slug that must be linked as a new edition, or None)
EDITION_CASES = [
    pytest.param("State of Care 2014/15", None, CARE, id="next year of the series"),
    pytest.param("State of Care 2016-2017", "Care Quality Commission", CARE,
                 id="year range written out, same publisher"),
    pytest.param("Press release: CQC publishes State of Care 2014/15", "CQC", CARE,
                 id="GOV.UK prefix and a publisher's initials"),
    pytest.param("NHS Long Term Plan refresh", "NHS England", LTP.slug, id="a refresh"),
    pytest.param("NHS People Plan", "NHS England", PEOPLE_PLAN, id="interim -> final"),
    pytest.param("Final NHS People Plan", None, PEOPLE_PLAN, id="interim -> final, spelt out"),
    # Near-misses that must not link as a new edition:
    pytest.param("State of Health 2014/15", None, None, id="another series"),
    pytest.param("State of Care 2012/13", None, None, id="an older edition"),
    pytest.param("State of Care 2013/14", None, None, id="the same edition"),
    pytest.param("State of Care in mental health services 2014/15", None, None,
                 id="a different report that starts with the series name"),
    pytest.param("NHS Staff Survey 2015", None, None, id="a different series, later year"),
    pytest.param("State of Care 2014/15", "NHS Digital", None, id="another publisher"),
    pytest.param("Interim NHS People Plan", None, None, id="interim is not after interim"),
]


@pytest.mark.parametrize(("title", "publisher", "expected"), EDITION_CASES)
def test_new_edition_links(title: str, publisher: str | None, expected: str | None) -> None:
    found = [f for f in related_drivers(title=title, summary="", link=None, topic_tags=(),
                                        records=EDITIONS, publisher=publisher)
             if f.kind == "new_edition"]
    assert [f.slug for f in found] == ([expected] if expected else [])
    if found:
        assert "new edition" in found[0].reason and found[0].score == 0.9


def test_new_edition_comes_after_same_document_and_before_related() -> None:
    url = "https://www.longtermplan.nhs.uk/publication/nhs-long-term-plan/"
    with_link = replace(LTP, link=url)
    same = related_drivers(title="NHS Long Term Plan refresh", summary="", link=url,
                           topic_tags=(), records=(*SEED, with_link))
    assert [(f.slug, f.kind) for f in same if f.slug == LTP.slug] == [(LTP.slug, "same_document")]
    later = related_drivers(title="State of Care 2014/15", summary=LEADERSHIP_ITEM[1],
                            link=None, topic_tags=("Leadership",), records=SEED)
    assert later[0].kind == "new_edition" and all(f.kind == "related" for f in later[1:])


def _reference_related(text: str, tags: tuple[str, ...],
                       records: tuple[DriverRecord, ...]) -> list[tuple[str, float, str]]:
    """The related-link rule written the plain way, record by record (what DriverLinker
    replaced): the cosine of TF-IDF vectors with IDF over the records, a tag boost, at least
    two shared words."""
    import math
    from collections import Counter

    from awareness.drivers import linking as lk

    record_words = [words(lk.record_text(r)) for r in records]
    df = Counter(w for doc in record_words for w in set(doc))
    n = len(records)
    idf = {w: math.log((n + 1) / (c + 1)) + 1 for w, c in df.items()}
    unseen = math.log(n + 1) + 1

    def vector(tokens: list[str]) -> dict[str, float]:
        return {w: (1 + math.log(c)) * idf.get(w, unseen) for w, c in Counter(tokens).items()}

    item = vector(words(text))
    found = []
    for record, tokens in zip(records, record_words, strict=True):
        other = vector(tokens)
        if len(item.keys() & other.keys()) < lk.MIN_SHARED_WORDS:
            continue
        dot = sum(v * other[w] for w, v in item.items() if w in other)
        norm = math.sqrt(sum(v * v for v in item.values())) * math.sqrt(
            sum(v * v for v in other.values()))
        boost = 1 + (lk.TAG_BOOST if lk.shared_tags(record.tags, tags) else 0)
        score = min(1.0, (dot / norm if norm else 0.0) * boost)
        if score >= DEFAULT_THRESHOLD:
            found.append((record.slug, round(score, 3), "related"))
    return sorted(found)


def test_the_prepared_linker_agrees_with_the_plain_rule_on_real_items() -> None:
    # DriverLinker prepares the records once and looks candidates up by word (issue 11: the
    # linker recomputed every record's vector for every match). Same links, same scores.
    snapshots = DATA / "nhs-england-news-feed-poll-snapshots-2025-10_2026-01.json"
    feed = json.loads(snapshots.read_text(encoding="utf-8"))
    items = [(i["title"], html.unescape(i["description"]))
             for s in feed["snapshots"] for i in s["items"]]
    items += [LEADERSHIP_ITEM, ("Compassionate leadership and talent management for boards",
                                "A framework for developing leaders and improving culture.")]
    linker = DriverLinker(SEED)
    checked = 0
    for tags in ((), ("Leadership",)):
        for title, summary in items:
            got = linker.links(title=title, summary=summary, link=None, topic_tags=tags,
                               limit=len(SEED))
            related = sorted((f.slug, f.score, f.kind) for f in got if f.kind == "related")
            assert related == _reference_related(f"{title}\n{summary}", tags, SEED)
            checked += len(related)
    assert checked > 0, "the items must produce some related links for this to test anything"
