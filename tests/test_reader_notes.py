"""Two notes (issue 12): the note for the review log never leaves the service; the note for
readers is the only librarian text a digest carries.

The digest goes through the real relay to a real SMTP server (aiosmtpd on loopback), and the
check is on the bytes the server received, so no template, query or encoding can leak the
review-log note without this failing.
"""

from __future__ import annotations

import quopri
from email import message_from_bytes, policy

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from awareness.cli import cli
from awareness.errors import AwarenessError
from awareness.service import digests, review
from awareness.storage.models import Match, Review
from tests.conftest import orm_session
from tests.test_outbox import add_match, smtp_context  # noqa: F401 (a fixture)
from tests.test_web import Site, parse, running_site, signed_in

REVIEW_LOG = "LOGONLY-7Q2Z Checked with Sam: duplicate of the board paper; do not chase."
FOR_READERS = "Useful for appraisal season: the library can find the evidence behind it."


def everything_sent(inbox) -> list[str]:
    """Each message as received, and its quoted-printable body decoded, as text."""
    texts = []
    for _, _, data in inbox.messages:
        texts.append(data.decode("ascii", "replace"))
        texts.append(quopri.decodestring(data).decode("utf-8", "replace"))
        message = message_from_bytes(data, policy=policy.default)
        texts += [part.get_content() for part in message.walk() if not part.is_multipart()]
    return texts


def test_the_review_log_note_is_never_mailed_and_the_reader_note_is(smtp_context):  # noqa: F811
    ctx, inbox = smtp_context
    match_id = add_match(ctx, "Leadership framework published", status="pending")
    review.decide(ctx, match_id, "approved", librarian="alice", note=REVIEW_LOG,
                  reader_note=FOR_READERS)
    other = add_match(ctx, "Board development guide", status="pending")
    review.decide(ctx, other, "approved", librarian="alice", note=REVIEW_LOG)

    report = digests.send_digests(ctx)
    assert (report.queued, report.sent) == (1, 1)
    sent = everything_sent(inbox)
    for text in sent:
        assert "LOGONLY" not in text and "duplicate of the board paper" not in text
    message = message_from_bytes(inbox.messages[0][2], policy=policy.default)
    for kind in ("plain", "html"):
        body = message.get_body((kind,)).get_content()  # type: ignore[union-attr]
        assert " ".join(body.split()).count("the library can find the evidence behind it") == 1
    assert "Board development guide" in message.get_body(("plain",)).get_content()


def test_changing_the_reader_note_of_an_approved_match_is_logged(make_context):
    ctx = make_context()
    match_id = add_match(ctx, "Leadership framework published", status="pending")
    review.decide(ctx, match_id, "approved", librarian="alice", note="first look")
    review.decide(ctx, match_id, "approved", librarian="alice")  # nothing new: a no-op
    view = review.decide(ctx, match_id, "approved", librarian="bob", reader_note=FOR_READERS).view
    assert view.reader_note == FOR_READERS
    review.decide(ctx, match_id, "approved", librarian="bob", reader_note=FOR_READERS)  # same
    review.decide(ctx, match_id, "approved", librarian="carol", note="asked the board")
    with orm_session(ctx) as session:
        log = session.execute(select(Review.librarian, Review.note).order_by(Review.id)).all()
    assert [tuple(row) for row in log] == [("alice", "first look"), ("bob", ""),
                                           ("carol", "asked the board")]
    with pytest.raises(AwarenessError, match="500 or fewer"):
        review.decide(ctx, match_id, "approved", librarian="bob", reader_note="x" * 501)


def test_the_cli_sets_a_reader_note_apart_from_the_log_note(make_context, tmp_path):
    from tests.conftest import settings_env

    ctx = make_context()
    match_id = add_match(ctx, "Leadership framework published", status="pending")
    result = CliRunner().invoke(
        cli, ["review", "approve", str(match_id), "--note", REVIEW_LOG,
              "--reader-note", FOR_READERS],
        env=settings_env(tmp_path, ctx.settings.database.url), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with orm_session(ctx) as session:
        assert session.get_one(Match, match_id).reader_note == FOR_READERS
        assert session.scalars(select(Review.note)).all() == [REVIEW_LOG]


def labels_of(tree) -> dict[str | None, str]:
    """Each label's text, by the id of the field it labels."""
    return {el.get("for"): " ".join("".join(el.itertext()).split()) for el in tree.iter("label")}


def notes_form(site: Site, page: str, key: str) -> dict[str, str]:
    """The labels of the review form's note fields of one match, by field name."""
    tree = parse(page)
    labels = labels_of(tree)
    return {el.get("name", ""): labels.get(el.get("id"), "")
            for el in tree.iter("textarea")
            if el.get("id", "").endswith(f"note-{site.ids[key]}")}


@pytest.mark.integration
def test_the_review_page_has_two_clearly_labelled_notes(make_context):
    with running_site(make_context) as site, signed_in(site) as (client, token):
        assert notes_form(site, client.get("/review").text, "good") == {
            "reader_note": "Note for readers (appears in the digest)",
            "note": "Note for the review log (never sent)"}
        good = site.ids["good"]
        response = client.post(f"/review/{good}/approve", data={
            "csrf": token, "note": REVIEW_LOG, "reader_note": f"  {FOR_READERS}  "})
        assert response.status_code == 303
        approved = client.get("/review?status=approved").text
        assert FOR_READERS in approved  # the field shows the note for readers to edit
        # The review log is shown to librarians with the decision (issue 14), never in a
        # field whose text could be saved as the note for readers.
        assert "LOGONLY" in " ".join(el.text or "" for el in parse(approved).iter("q"))
        assert all("LOGONLY" not in (el.text or "") for el in parse(approved).iter("textarea"))
        with orm_session(site.ctx) as session:
            assert session.get_one(Match, good).reader_note == FOR_READERS
            assert session.scalars(select(Review.note)).all() == [REVIEW_LOG]
        for path in ("/drivers", "/drivers/interim-nhs-people-plan"):
            assert "LOGONLY" not in client.get(path).text


def submitted(page: str, button: str, filled: dict[str, str]) -> tuple[str, dict[str, str]]:
    """What a browser sends when ``button`` is pressed: the address (the button's
    ``formaction``, else its form's ``action``) and the fields of the form that holds it, each
    field labelled by a key of ``filled`` taking that value."""
    tree = parse(page)
    labels = labels_of(tree)
    form = next(form for form in tree.iter("form")
                if any((b.text or "").strip() == button for b in form.iter("button")))
    pressed = next(b for b in form.iter("button") if (b.text or "").strip() == button)
    fields = {el.get("name", ""): el.get("value", "") for el in form.iter("input")}
    for area in form.iter("textarea"):
        fields[area.get("name", "")] = filled.get(labels.get(area.get("id"), ""),
                                                  area.text or "")
    return pressed.get("formaction") or form.get("action", ""), fields


@pytest.mark.integration
def test_the_match_page_decides_with_the_same_two_notes(make_context):
    """A reviewer who went to a match's own page to check its driver links approved it there
    without a note: the page had Approve and Reject but neither note field."""
    with running_site(make_context) as site, signed_in(site) as (client, _):
        good = site.ids["good"]
        page = client.get(f"/review/{good}").text
        assert notes_form(site, page, "good") == {
            "reader_note": "Note for readers (appears in the digest)",
            "note": "Note for the review log (never sent)"}
        action, fields = submitted(page, "Approve", {
            "Note for readers (appears in the digest)": FOR_READERS,
            "Note for the review log (never sent)": REVIEW_LOG})
        response = client.post(action, data=fields)
        assert response.headers["location"] == f"/review/{good}"  # back to the match's page
        with orm_session(site.ctx) as session:
            assert session.get_one(Match, good).status == "approved"
            assert session.get_one(Match, good).reader_note == FOR_READERS
            assert session.scalars(select(Review.note)).all() == [REVIEW_LOG]
        shown = client.get(f"/review/{good}").text
        assert FOR_READERS in shown and "LOGONLY" in shown  # the field, and the history
