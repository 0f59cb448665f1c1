"""A digest's own page ("View in browser"): check the link, read the stored message, give
its HTML part. Reading only: a GET of the link never changes anything."""

from __future__ import annotations

from awareness.digests.view import html_part, is_signed, outbox_key_of
from awareness.service.context import Context
from awareness.storage import outbox
from awareness.storage.db import reading


def digest_html(ctx: Context, ref: str, signature: str) -> str | None:
    """The HTML part of the digest ``ref`` names, if ``signature`` is its link's signature
    and the digest is still stored; None otherwise (the caller says "not found", whichever
    it was, so a wrong signature tells nobody that a digest exists)."""
    key = outbox_key_of(ref)
    if key is None or not is_signed(ctx.secret(), ref, signature):
        return None
    with reading(ctx.engine) as connection:
        message = outbox.digest_message(connection, key)
    return html_part(message) if message is not None else None
