"""Readers' feedback (issue 17): check a link, show what it is about, record an answer.

Reading a link (``page``) never writes: mail gateways fetch every link in a message, so only
``answer`` (the page's POST) records anything. A link is refused, the same way whatever the
reason, when its signature is wrong, or its reader or item no longer exists.
"""

from __future__ import annotations

from dataclasses import dataclass

from awareness.feedback import (
    ANSWERS,
    FeedbackTarget,
    ItemFeedbackLinks,
    StoredAnswer,
    clean_comment,
    item_feedback_urls,
    message_feedback_url,
    read_token,
)
from awareness.service.context import Context
from awareness.storage import feedback
from awareness.storage.db import reading, writing


@dataclass(frozen=True)
class FeedbackPage:
    """What a feedback page shows: the item's title and topic name (empty for "Tell us
    more") and the reader's answer so far."""

    target: FeedbackTarget
    title: str
    topic: str
    earlier: StoredAnswer | None


def page(ctx: Context, token: str) -> FeedbackPage | None:
    """What the link ``token`` is about, or None when it is refused. Writes nothing."""
    target = read_token(ctx.secret(), token)
    if target is None:
        return None
    with reading(ctx.engine) as connection:
        if not feedback.reader_exists(connection, target.subscriber_id):
            return None
        title = ""
        if target.item_id is not None:
            found = feedback.item_title(connection, target.item_id)
            if found is None:
                return None
            title = found
        earlier = feedback.answer_of(connection, target)
    names = {t.slug: t.name for t in ctx.topics()}
    return FeedbackPage(target, title, names.get(target.topic or "", ""), earlier)


def answer(ctx: Context, token: str, *, answer: str | None, comment: str) -> bool:
    """Record the reader's answer (and comment) to the link ``token``; False when the link is
    refused or the answer is not one an item takes. An item needs useful or not_useful; a
    "Tell us more" link needs a comment."""
    found = page(ctx, token)
    if found is None:
        return False
    target, text = found.target, clean_comment(comment)
    if target.item_id is not None and answer not in ANSWERS:
        return False
    if target.item_id is None and (answer is not None or not text):
        return False
    with writing(ctx.engine) as connection:
        feedback.record(connection, target, answer=answer, comment=text, now=ctx.now())
    return True


def item_links(ctx: Context, subscriber_id: int, item_id: int,
               topic: str) -> ItemFeedbackLinks:
    """The "Useful" / "Not useful" links of one item for one reader, for any mail that shows
    items (a digest, a bulletin)."""
    return item_feedback_urls(ctx.settings.base_url, ctx.secret(), subscriber_id,
                              item_id, topic)


def message_link(ctx: Context, subscriber_id: int, message_key: str) -> str:
    """The "Tell us more" link of one message (its outbox key) for its reader."""
    return message_feedback_url(ctx.settings.base_url, ctx.secret(),
                                subscriber_id, message_key)
