"""Commands that run the pipeline: init, backup, restore, check, poll, digests, run."""

from __future__ import annotations

import logging
from typing import Any

import click

from awareness.cli.base import State, bars, cli, pass_state, printed_instead, progress
from awareness.errors import AwarenessError


@cli.command()
@pass_state
def init(state: State) -> None:
    """Create the database or upgrade it to the newest schema (and say how to make the
    first login while there is none)."""
    from awareness.service.librarians import everyone
    from awareness.service.polling import sync_sources
    from awareness.storage.db import upgrade

    state.ctx.sources()  # a missing or broken sources.toml stops it before the schema changes
    before, after = upgrade(state.ctx.engine)
    sync_sources(state.ctx)
    if state.settings.queue.enabled:
        from awareness.queue import ensure_schema

        if ensure_schema(state.ctx):
            click.echo("job queue tables created")
    if before == after:
        click.echo(f"database is up to date (schema {after})")
    else:
        verb = "upgraded" if before else "created"
        click.echo(f"database {verb}: schema {before or '-'} → {after}")
    if not everyone(state.ctx):
        click.echo("nobody can sign in to the web pages yet: "
                   "`awareness librarians add NAME --role administrator` makes the first login")


@cli.command()
@click.argument("destination")
@pass_state
def backup(state: State, destination: str) -> None:
    """Copy the database to DESTINATION (a new file, or a folder to name the copy in: one
    that exists, or a name ending in / which is made) while the service runs, checked, with
    the generated signing key beside it. SQLite only: on PostgreSQL it says how to use
    pg_dump."""
    from awareness.service.backup import backup as take

    made = take(state.ctx, destination)
    click.echo(f"backup written: {made.database} ({made.size / 2**20:.1f} MiB; SQLite's "
               "integrity check: ok)")
    if made.key is not None:
        click.echo(f"signing key copied beside it: {made.key} (restore the two together: "
                   "links in mail already sent need the key)")
    else:
        click.echo("the signing key is AWARENESS_WEB_SECRET_KEY's: keep it with your backups")


@cli.command()
@click.argument("copy", metavar="BACKUP")
@pass_state
def restore(state: State, copy: str) -> None:
    """Put the SQLite database BACKUP (a copy `awareness backup` made) in the database's
    place, with the signing key beside it. Stop the service first: it refuses while a
    process has the database open. The database it replaces is kept, with its -wal and
    -shm, under a name that says when. On PostgreSQL it says how to use pg_restore."""
    from awareness.service.backup import restore as put_back

    done = put_back(state.ctx, copy)
    click.echo(f"restored {copy} to {done.database} (SQLite's integrity check: ok; schema "
               f"{done.schema})")
    if done.set_aside:
        click.echo(f"the database it replaced is kept as {done.set_aside[0]}"
                   + "".join(f", {path.name}" for path in done.set_aside[1:]))
    else:
        click.echo(f"there was no database at {done.database} to keep")
    for line in _key_lines(state, done):
        click.echo(line)
    upgrade = " (upgrades the copy to this release's schema)" if done.needs_upgrade else ""
    click.echo(f"next: `awareness init`{upgrade}, then start the service")


def _key_lines(state: State, done: Any) -> list[str]:
    """What happened to the signing key, and which one the service will use."""
    if done.key is None:
        lines = ["no signing key beside the copy: the key in the data folder (or "
                 "AWARENESS_WEB_SECRET_KEY) stays as it was"]
    else:
        lines = [f"signing key restored to {done.key}"
                 + (f"; the one it replaced is kept as {done.key_set_aside}"
                    if done.key_set_aside else "")]
        if state.settings.web.secret_key:
            lines.append("AWARENESS_WEB_SECRET_KEY is set, and the service signs with it, not "
                         "with the restored key: set it to the key the copy was made with")
    return lines


@cli.command()
@pass_state
def check(state: State) -> None:
    """Validate the settings and every file under subscriptions/."""
    from awareness.service.checks import check_all

    problems, warnings = check_all(state.settings)
    for warning in warnings:
        click.echo(f"warning: {warning}")
    for problem in problems:
        click.echo(problem)
    if problems:
        raise SystemExit(2)
    click.echo("ok: settings and subscriptions are valid")


@cli.command()
@click.option("--source", "source_ids", multiple=True, metavar="ID", help="Poll only this source.")
@click.option("--all", "poll_all", is_flag=True, help="Poll every enabled source, due or not.")
@pass_state
def poll(state: State, source_ids: tuple[str, ...], poll_all: bool) -> None:
    """Fetch due sources once, store new items and match them."""
    from awareness.service import polling

    ctx = state.ctx
    polling.sync_sources(ctx)
    if source_ids:
        known = {s.id for s in ctx.sources()}
        for source_id in source_ids:
            if source_id not in known:
                raise AwarenessError(
                    f"no source {source_id!r}; `awareness sources list` shows them")
        ids = list(source_ids)
    elif poll_all:
        ids = [s.id for s in ctx.sources() if s.enabled]
    else:
        ids = polling.due_sources(ctx)
    if not ids:
        click.echo("no source is due; use --all to poll every source now")
        return
    failed = 0
    # Each failure is a line of the progress output.
    with printed_instead(state, polling.log, polling.SOURCE_FAILED), \
            progress("polling", total=len(ids)) as advance:
        def done(outcome: polling.PollOutcome) -> None:
            nonlocal failed
            failed += outcome.status == "failed"
            advance(_describe_outcome(outcome))
        polling.poll(ctx, ids, on_done=done)
    if failed:
        raise SystemExit(1)


def _describe_outcome(outcome: Any) -> str:
    if outcome.status == "failed":
        return f"[red]{outcome.source_id}: {outcome.error}[/red]"
    if outcome.status in ("not_modified", "unchanged"):
        return f"{outcome.source_id}: no change"
    baseline = " (first poll: stored as baseline, no alerts)" if outcome.baseline else ""
    return (f"{outcome.source_id}: {outcome.new_items} new, {outcome.updated_items} updated, "
            f"{outcome.new_matches} match{'' if outcome.new_matches == 1 else 'es'}{baseline}")


@cli.group()
def digests() -> None:
    """Digest e-mails."""


@digests.command("send")
@click.option("--frequency", type=click.Choice(["daily", "weekly"]),
              help="Only subscribers of this frequency (default: all).")
@click.option("--dry-run", is_flag=True, help="Show who would get what; send nothing.")
@pass_state
def digests_send(state: State, frequency: str | None, dry_run: bool) -> None:
    """Queue this period's digests (each subscriber at most once per period), then send
    everything due in the outbox; exit 1 while anything in it is still unsent."""
    from awareness.mail.outbox import unsent_lines
    from awareness.service.digests import send_digests

    with bars() as steps:
        report = send_digests(state.ctx, frequency=frequency, dry_run=dry_run, steps=steps)
    for email, digest in report.previews:
        click.echo(f"would send {digest.entry_count} items to {email} ({digest.period_key})")
        for section in digest.sections:
            for entry in section.entries:
                click.echo(f"  [{section.topic_slug}] {entry.title}")
    if dry_run:
        click.echo(f"dry run: {len(report.previews)} digests would be sent, "
                   f"{report.already_queued} already done this period, "
                   f"{report.nothing_to_send} with nothing to send; nothing was sent")
    else:
        click.echo(f"queued {report.queued}, sent {report.sent}, retrying {report.retrying}, "
                   f"failed {report.failed}, already done this period {report.already_queued}, "
                   f"nothing to send {report.nothing_to_send}")
    if report.suspended:
        click.echo(f"{report.suspended} subscribers suspended after a hard bounce; "
                   "`awareness subscribers list` shows why")
    if report.paused:
        click.echo("the mail server kept failing, so sending paused; pending messages are "
                   "retried on the next run")
    if report.possible_duplicates:
        click.echo(f"{report.possible_duplicates} messages sent again after an unconfirmed "
                   "send: their recipients may have them twice (same Message-ID)")
    lines = unsent_lines(report.unsent)
    for line in lines:
        click.echo(f"unsent {line}")
    if lines:
        raise SystemExit(1)


@cli.command()
@click.option("--demo", is_flag=True, help="Serve sample publisher feeds on loopback and use them.")
@click.option("--role", type=click.Choice(["all", "web", "scheduler", "worker"]),
              default="all", show_default=True,
              help="all: pages and the scheduler; web: pages only; scheduler: the scheduler "
                   "(when this process leads) and the health endpoints only; worker: queued "
                   "jobs ([queue] enabled).")
@pass_state
def run(state: State, demo: bool, role: str) -> None:
    """Run the service: the web app and the scheduler in one process (--role all, the
    default), or one of the other three roles: web, scheduler or worker."""
    from awareness.cli.run import run_service

    if demo and role != "all":
        raise click.UsageError("--demo runs every role in one process: leave out --role")
    if role == "worker" and not state.settings.queue.enabled:
        raise click.UsageError("--role worker needs the job queue: set [queue] enabled")
    if not state.debug:
        logging.getLogger("awareness").setLevel(logging.INFO)
    run_service(state.settings, demo=demo, role=role)


