"""Readers' feedback (issue 17): signed links under every item and message of a digest, a
GET that records nothing (mail gateways fetch every link), a POST that counts once per reader
and item, and refused links that cannot be told apart.

The integration tests run the real web app on 127.0.0.1 and send the real digest through the
relay to an aiosmtpd server, then follow the links found in the delivered mail.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from email.message import Message

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from itsdangerous import URLSafeSerializer
from sqlalchemy import select

from awareness.feedback import (
    NOT_USEFUL,
    SALT,
    USEFUL,
    FeedbackTarget,
    item_feedback_urls,
    item_token,
    message_feedback_url,
    read_token,
)
from awareness.service import digests, feedback, people
from awareness.storage.models import Feedback, Item, Match, Review
from tests.conftest import Clock, orm_session
from tests.test_self_service import StaffSite, links_in, serving, text_of
from tests.test_web import EMAIL, csrf_of

FIXTURE_TIERS = {"staff_site": "integration"}
KEY = "a secret key for the tests, long enough"
BASE = "https://library.example.nhs.uk/awareness"


# --- the token (pure) ---------------------------------------------------------------------------

def test_a_link_names_one_reader_and_one_item() -> None:
    links = item_feedback_urls(BASE, KEY, 42, 7, "leadership")
    token = links.useful.removeprefix(f"{BASE}/feedback/").removesuffix("/useful")
    assert links.not_useful == f"{BASE}/feedback/{token}/not-useful"
    assert read_token(KEY, token) == FeedbackTarget(42, item_id=7, topic="leadership")
    assert read_token(KEY, token).key == "item:7"  # type: ignore[union-attr]
    more = message_feedback_url(BASE, KEY, 42, "42/weekly:2026-W48")
    target = read_token(KEY, more.rsplit("/", 1)[1])
    assert target == FeedbackTarget(42, message_key="42/weekly:2026-W48")
    assert "@" not in links.useful + more  # ids only, never an address


def test_tampered_other_reader_and_other_purpose_tokens_are_refused() -> None:
    token = item_token(KEY, 42, 7, "leadership")
    payload, _, signature = token.rpartition(".")
    # Reader 43 with reader 42's signature: the payload no longer matches it.
    other_payload = URLSafeSerializer(KEY, salt=SALT).dumps(["i", 43, 7, "leadership"])
    assert read_token(KEY, other_payload.rpartition(".")[0] + "." + signature) is None
    # Another item, the same way.
    other_item = URLSafeSerializer(KEY, salt=SALT).dumps(["i", 42, 8, "leadership"])
    assert read_token(KEY, other_item.rpartition(".")[0] + "." + signature) is None
    flipped = signature[:-1] + ("A" if signature[-1] != "A" else "B")
    assert read_token(KEY, f"{payload}.{flipped}") is None
    assert read_token("another key", token) is None
    # Signed by our key for another purpose (a session, a confirmation): not a feedback link.
    assert read_token(KEY, URLSafeSerializer(KEY, salt="session").dumps(
        ["i", 42, 7, "leadership"])) is None
    # Signed by us but not of the shape we make.
    assert read_token(KEY, URLSafeSerializer(KEY, salt=SALT).dumps(["i", -1, 7, "x"])) is None
    assert read_token(KEY, URLSafeSerializer(KEY, salt=SALT).dumps({"i": 1})) is None
    for junk in ("", ".", "a.b.c", "é" * 40):
        assert read_token(KEY, junk) is None


@given(reader=st.integers(1, 10**9), item=st.integers(1, 10**9),
       topic=st.text(min_size=1, max_size=40), at=st.integers(0, 10**6), char=st.characters())
def test_any_link_reads_back_and_any_change_to_it_is_refused(
        reader: int, item: int, topic: str, at: int, char: str) -> None:
    token = item_token(KEY, reader, item, topic)
    assert read_token(KEY, token) == FeedbackTarget(reader, item_id=item, topic=topic)
    where = at % len(token)
    changed = token[:where] + char + token[where + 1:]
    assume(changed != token)
    found = read_token(KEY, changed)
    # base64 padding bits aside, a changed token names nothing, or exactly the same thing.
    assert found is None or found == FeedbackTarget(reader, item_id=item, topic=topic)


@given(reader=st.integers(1, 10**9), item=st.integers(1, 10**9),
       topic=st.text(min_size=1, max_size=120))
def test_links_are_itsdangerous_tokens(reader: int, item: int, topic: str) -> None:
    # Signed without itsdangerous's per-call work, but the same tokens: itsdangerous reads
    # every one, and writes the very same unless it chose to compress the payload.
    serializer = URLSafeSerializer(KEY, salt=SALT)
    payload = ["i", reader, item, topic]
    token = item_token(KEY, reader, item, topic)
    assert serializer.loads(token) == payload
    theirs = serializer.dumps(payload)
    assert token == theirs or theirs.startswith(".")


# --- over HTTP ----------------------------------------------------------------------------------

@pytest.fixture
def staff_site(make_context, smtp_server) -> Iterator[StaffSite]:
    with serving(make_context, smtp_server) as site:
        yield site


def answers(site: StaffSite) -> list[tuple[int, str, str | None, str, str | None]]:
    with orm_session(site.ctx) as session:
        return [tuple(row) for row in session.execute(select(  # type: ignore[misc]
            Feedback.subscriber_id, Feedback.target, Feedback.answer, Feedback.comment,
            Feedback.topic_slug).order_by(Feedback.id)).all()]


def the_digest(site: StaffSite, clock: Clock) -> Message:
    clock.advance(days=1)
    digests.send_digests(site.ctx)
    [digest] = [m for m in site.deliver() if m["To"] == EMAIL]
    return digest


def feedback_links(digest: Message, site: StaffSite) -> tuple[str, str, str]:
    links = [link.removeprefix(site.url) for link in links_in(digest, site.url)
             if "/feedback/" in link]
    [useful] = [link for link in links if link.endswith("/useful")]
    [not_useful] = [link for link in links if link.endswith("/not-useful")]
    [more] = [link for link in links if link not in (useful, not_useful)]
    return useful, not_useful, more


def approved_item(site: StaffSite) -> int:
    with orm_session(site.ctx) as session:
        return session.execute(select(Item.id).where(Item.key == "a")).scalar_one()


def test_scanner_gets_record_nothing_and_a_post_counts_once(staff_site: StaffSite,
                                                            clock: Clock) -> None:
    site = staff_site
    digest = the_digest(site, clock)
    text = text_of(digest)
    assert "Was this useful to you?" in text and "Tell us more" in text
    useful, not_useful, more = feedback_links(digest, site)
    with httpx.Client(base_url=site.url, follow_redirects=True) as scanner:
        for link in (useful, not_useful, more):
            for method in ("GET", "HEAD", "GET"):  # Safe Links, then a second gateway
                assert scanner.request(method, link).status_code == 200, link
    assert answers(site) == [], "a GET records nothing"

    item = approved_item(site)
    with site.client() as reader:
        page = reader.get(useful)
        assert "Was this useful?" in page.text and "Already approved item" in page.text
        token = useful.removesuffix("/useful")
        posted = reader.post(token, data={"csrf": csrf_of(page.text), "answer": USEFUL,
                                          "comment": "  Shared it with the board.  "})
        assert posted.status_code == 200 and "Thank you" in posted.text
        assert answers(site) == [(1, f"item:{item}", USEFUL, "Shared it with the board.",
                                  "leadership")]
        # The same reader again, and the other answer: still one row, the last answer counts,
        # and an empty comment keeps the one given before.
        page = reader.get(not_useful)
        assert "You answered “Useful” before" in page.text
        reader.post(token, data={"csrf": csrf_of(page.text), "answer": NOT_USEFUL})
        reader.post(token, data={"csrf": csrf_of(page.text), "answer": NOT_USEFUL})
        assert answers(site) == [(1, f"item:{item}", NOT_USEFUL, "Shared it with the board.",
                                  "leadership")]


def test_tell_us_more_needs_words_and_keeps_them(staff_site: StaffSite, clock: Clock) -> None:
    site = staff_site
    _, _, more = feedback_links(the_digest(site, clock), site)
    with site.client() as reader:
        page = reader.get(more)
        assert page.status_code == 200 and "Tell us more" in page.text
        empty = reader.post(more, data={"csrf": csrf_of(page.text), "comment": "   "})
        assert empty.status_code == 400 and "There is a problem" in empty.text
        assert reader.post(more, data={"csrf": csrf_of(page.text), "answer": USEFUL,
                                       "comment": "x"}).status_code == 400
        assert answers(site) == []
        done = reader.post(more, data={"csrf": csrf_of(page.text),
                                       "comment": "More on workforce, please."})
        assert done.status_code == 200
    [(_, target, answer, comment, topic)] = answers(site)
    assert target.startswith("message:1/weekly:") and answer is None and topic is None
    assert comment == "More on workforce, please."


def test_tampered_and_other_readers_links_are_refused(staff_site: StaffSite,
                                                      clock: Clock) -> None:
    site = staff_site
    useful, _, more = feedback_links(the_digest(site, clock), site)
    token = useful.removeprefix("/feedback/").removesuffix("/useful")
    payload, _, signature = token.rpartition(".")
    key = site.ctx.settings.secret_key()
    another_reader = URLSafeSerializer(key, salt=SALT).dumps(
        ["i", 2, approved_item(site), "leadership"]).rpartition(".")[0] + "." + signature
    flipped = payload + "." + signature[::-1]
    unknown_reader = feedback.item_links(site.ctx, 999, approved_item(site), "leadership")
    gone_item = feedback.item_links(site.ctx, 1, 99999, "leadership")
    with site.client() as visitor:
        csrf = csrf_of(visitor.get(useful).text)
        for bad in (another_reader, flipped, "x" * 40, "x" * 400):
            assert visitor.get(f"/feedback/{bad}/useful").status_code == 404
            refused = visitor.post(f"/feedback/{bad}", data={"csrf": csrf, "answer": USEFUL})
            assert refused.status_code == 404 and "not valid" in refused.text
        for links in (unknown_reader, gone_item):
            assert visitor.get(links.useful.removeprefix(site.url)).status_code == 404
        assert visitor.get(f"/feedback/{token}/maybe").status_code == 404
        # "Tell us more" takes a comment, not an answer.
        assert visitor.get(f"{more}/useful").status_code == 404
        # A form from elsewhere (no token of this page) is refused too.
        assert visitor.post(f"/feedback/{token}", data={"answer": USEFUL}).status_code == 403
        assert visitor.post(f"/feedback/{token}", data={"csrf": csrf,
                                                        "answer": "brilliant"}).status_code == 400
    assert answers(site) == []


def test_pages_show_no_internal_text_and_erasure_removes_answers(staff_site: StaffSite,
                                                                 clock: Clock) -> None:
    site = staff_site
    with orm_session(site.ctx) as session, session.begin():
        match = session.execute(select(Match).join(Item).where(Item.key == "a")).scalar_one()
        session.add(Review(match_id=match.id, librarian="alice", decision="approved",
                           note="INTERNAL: the review log", decided_at=match.created_at))
    useful, _, more = feedback_links(the_digest(site, clock), site)
    with site.client() as reader:
        for link in (useful, more):
            page = reader.get(link)
            assert "INTERNAL" not in page.text and "alice" not in page.text
            assert page.headers["x-robots-tag"] == "noindex, nofollow"
        page = reader.get(useful)
        reader.post(useful.removesuffix("/useful"), data={
            "csrf": csrf_of(page.text), "answer": USEFUL, "comment": "good"})
    exported = people.export_subscriber(site.ctx, EMAIL)
    assert [a["answer"] for a in exported["feedback"]] == [USEFUL]  # type: ignore[index,union-attr]
    people.erase_subscriber(site.ctx, EMAIL)
    assert answers(site) == []
    with site.client() as reader:
        assert reader.get(useful).status_code == 404  # an erased reader's links stop working


def test_other_mail_gets_the_same_links_for_an_item(staff_site: StaffSite, clock: Clock) -> None:
    """A bulletin (built elsewhere) asks ``service.feedback.item_links`` for an item's links;
    they are the digest's links for the same reader, item and topic."""
    site = staff_site
    useful, not_useful, _ = feedback_links(the_digest(site, clock), site)
    links = feedback.item_links(site.ctx, 1, approved_item(site), "leadership")
    assert (links.useful, links.not_useful) == (site.url + useful, site.url + not_useful)
    assert re.fullmatch(r"/feedback/[A-Za-z0-9_.-]+/useful", useful)
