"""Following a counted link (issue 17): check it, count the click when it is a reader's,
and say where to go.

This is the one GET of the service that writes, and only when the library turned
``[mail] track_clicks`` on: a redirect cannot wait for a button. What a scanner does to it
is kept out by ``clicks.is_counted`` (delivery-time window, known user agents) and the
unique key (a reader counts once per item).
"""

from __future__ import annotations

from awareness.clicks import click_url, is_counted, read_click
from awareness.links import is_safe_link
from awareness.service.context import Context
from awareness.storage import clicks, feedback
from awareness.storage.db import reading, writing


def follow(ctx: Context, token: str, user_agent: str, count: bool = True) -> str | None:
    """The URL the link ``token`` goes to, or None when we did not sign it. Counts the click
    when ``count`` (a GET, not a HEAD), counting is on, and the request is a reader's."""
    found = read_click(ctx.secret(), token)
    if found is None:
        return None
    mail = ctx.settings.mail
    if count and mail.track_clicks:
        now = ctx.now()
        with reading(ctx.engine) as connection:
            delivered = clicks.delivered_at(connection, found.subscriber_id, found.item_id)
        if is_counted(user_agent=user_agent, delivered_at=delivered, now=now,
                      ignore_seconds=mail.click_ignore_seconds):
            with writing(ctx.engine) as connection:
                if feedback.reader_exists(connection, found.subscriber_id):
                    clicks.record(connection, found.subscriber_id, found.item_id, now)
    return found.url


def item_link(ctx: Context, subscriber_id: int, item_id: int, url: str) -> str:
    """The link a mail gives an item: counted when ``[mail] track_clicks`` is on and the URL
    is an http(s) link, else the URL itself."""
    if not ctx.settings.mail.track_clicks or not is_safe_link(url):
        return url
    return click_url(ctx.settings.base_url, ctx.secret(), subscriber_id, item_id,
                     url)
