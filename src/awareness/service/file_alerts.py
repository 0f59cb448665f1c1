"""Tell the sources' owner when a librarian file cannot be read (issue 16, item 6).

The service never stops for a broken file: it goes on with the last good version of the file,
or without the file when it has none (a file broken when the service started), and says so on
the librarians' pages and in ``/healthz`` (``Context.file_problems``). Nobody may be looking
at either, so the owner (``[sources] owner_email``) also gets one short mail per problem and
day: the outbox key is the day and a hash of the problem, so a poll every minute queues it
once.
"""

from __future__ import annotations

import logging

from awareness.mail.compose import Sender, compose, key_parts, message_id
from awareness.mail.outbox import FILE_PROBLEM, Queued, file_problem_key
from awareness.service.context import Context
from awareness.storage import outbox
from awareness.storage.db import reading, writing

log = logging.getLogger(__name__)


def alert_unreadable_files(ctx: Context) -> int:
    """Queue a mail to the owner for each file problem not reported today; how many."""
    problems = ctx.file_problems()
    owner = ctx.settings.sources.owner_email.strip()
    if not problems or not owner:
        return 0
    now = ctx.now()
    day = now.astimezone(ctx.settings.timezone).date()
    keys = {file_problem_key(day, p.text): p for p in problems}
    with reading(ctx.engine) as connection:
        done = outbox.queued_keys(connection, FILE_PROBLEM, keys)
    todo = {key: problem for key, problem in keys.items() if key not in done}
    if not todo:
        return 0
    s = ctx.settings
    queued = 0
    with writing(ctx.engine) as connection:
        for key, problem in todo.items():
            mail = compose(
                sender=Sender(s.mail.from_addr, s.mail.from_name), to=owner,
                subject=f"A file under subscriptions/ cannot be read: {problem.path.name}",
                text=(f"A file under subscriptions/ cannot be read:\n\n{problem.text}\n\n"
                      f"{problem.outcome}\n\n"
                      "Fix the file and save it again; `awareness check` lists every problem "
                      "in every file. Librarians also see this on their pages, and /healthz "
                      "reports it until the file reads again.\n\n"
                      f"{s.library.name}\n"),
                message_id=message_id("file-problem", *key_parts(key), domain=s.mail.domain),
                date=now.astimezone(s.timezone))
            queued += outbox.queue(connection, Queued(FILE_PROBLEM, key, mail), now)
    log.warning("told the sources' owner about %s unreadable file(s)", queued)
    return queued
