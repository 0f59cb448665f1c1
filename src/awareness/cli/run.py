"""``awareness run``: the web app and the scheduler in one process (the embedded default), or
one role (``--role web``, ``scheduler`` or ``worker``, docs/scaling.md).

Only one process per deployment may run the scheduler (RELIABILITY finding 11, S1): the
scheduler runs only while this process holds the leader lock (``awareness.leader``: an
advisory lock on PostgreSQL, a ``flock`` on SQLite); any other process serves the web app
and waits on standby.

This is the process entry point, so it lives with the CLI and not in ``service/``, which holds
use cases only (docs/architecture.md). ``cli.pipeline``'s ``run`` command imports it only when
it runs, so other commands never load uvicorn, Starlette or APScheduler.
"""

from __future__ import annotations

import dataclasses
import logging
import secrets
import shlex
import shutil
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from awareness.digests.schedule import missed_runs, sends_today
from awareness.drivers.members import MEMBERS_FILE
from awareness.errors import ConfigError
from awareness.leader import Leadership, lock_for
from awareness.metrics import Metrics
from awareness.scheduler import Heartbeat, build_scheduler
from awareness.service import (
    bulletins,
    checks,
    digests,
    file_alerts,
    librarians,
    outbox,
    people,
    polling,
    source_report,
    stewardship,
    subscribing,
)
from awareness.service.context import Context, create_context
from awareness.settings import Settings, exposure_warnings
from awareness.storage.db import upgrade
from awareness.web.app import create_app
from awareness.web.operations import create_operations_app

if TYPE_CHECKING:
    from awareness.queue import JobQueue

log = logging.getLogger(__name__)


def run_service(settings: Settings, *, demo: bool = False, role: str = "all") -> None:
    """Run this process's role until stopped: ``all`` serves the pages and runs the scheduler
    when it leads; ``web`` only serves the pages; ``scheduler`` runs the scheduler when it
    leads and serves only the operator's endpoints; ``worker`` runs queued jobs
    (docs/scaling.md)."""
    for warning in exposure_warnings(settings):
        log.warning("%s", warning)
    if role == "worker":
        run_worker(settings)
        return
    feeds = None
    if demo:
        settings, feeds = prepare_demo(settings)
    ctx = _context(settings)
    upgrade(ctx.engine)
    polling.sync_sources(ctx)
    if demo:
        seed_demo(ctx)
    queue = _open_queue(ctx) if settings.queue.enabled else None
    app = create_operations_app(ctx) if role == "scheduler" else create_app(ctx)
    if queue is not None:
        app.state.nudge_relay = queue.enqueue_relay  # a worker sends it at once
        app.state.metrics.watch_jobs(queue.depth)
    election = _join_election(app, ctx, queue, demo=demo) if role != "web" else None
    log.info("role %s; polling every %s s", role, 10 if demo else settings.schedule.poll_seconds)
    try:
        uvicorn.run(app, host=settings.web.host, port=settings.web.port, log_level="info",
                    **_uvicorn_logging())
    finally:
        if election:
            election()
        if queue is not None:
            queue.close()
        if feeds:
            feeds.stop()
        ctx.dispose()


def run_worker(settings: Settings) -> None:
    """``--role worker``: run the queue's jobs until stopped, and serve the operator's
    endpoints (``/healthz``, ``/readyz``, ``/metrics`` with the jobs it ran) on
    ``web.host``:``web.port`` from a thread."""
    from awareness.queue import JobQueue

    ctx = _context(settings)
    upgrade(ctx.engine)
    app = create_operations_app(ctx)
    metrics: Metrics = app.state.metrics
    app.state.role = lambda: "worker"
    server = uvicorn.Server(uvicorn.Config(app, host=settings.web.host, port=settings.web.port,
                                           log_level="warning", **_uvicorn_logging()))
    # uvicorn leaves signals alone off the main thread: SIGINT and SIGTERM are the worker's.
    endpoints = threading.Thread(target=server.run, name="operations", daemon=True)
    endpoints.start()
    try:
        JobQueue(ctx, on_poll=metrics.record_poll, on_relay=metrics.record_relay,
                 on_job=metrics.record_job).run_worker()
    finally:
        server.should_exit = True
        endpoints.join(timeout=10)
        ctx.dispose()


def _context(settings: Settings) -> Context:
    """This process's context, once it can read what it needs under subscriptions/ (each file
    it cannot read is logged, once, and left out; ConfigError without sources.toml)."""
    ctx = create_context(settings)
    try:
        checks.files_at_start(ctx)
    except ConfigError:
        ctx.dispose()
        raise
    return ctx


def _uvicorn_logging() -> dict[str, Any]:
    """uvicorn's loggers keep no handlers of their own: their records (the server starting
    and stopping, each request) reach the root logger's, in the service's format, text or
    JSON, with a time on each line."""
    logging.getLogger("uvicorn").setLevel(logging.INFO)
    logging.getLogger("uvicorn.error").addFilter(_server_name)  # once, however often called
    return {"log_config": None}


def _server_name(record: logging.LogRecord) -> bool:
    """uvicorn logs "Started server process" as `uvicorn.error`; an operator reading the log
    should not take the server's news for errors, so its records are named `uvicorn`."""
    record.name = "uvicorn"
    return True


def _open_queue(ctx: Context) -> JobQueue:
    from awareness.queue import JobQueue

    return JobQueue(ctx).open()


def _join_election(app: Any, ctx: Context, queue: JobQueue | None, *,
                   demo: bool) -> Callable[[], None]:
    """Stand for leader in a thread of its own; tell ``app`` the role and the scheduler's
    health; return what ends it (stopping the scheduler gracefully if this process leads)."""
    heartbeat = Heartbeat()
    leadership = _leadership(ctx, heartbeat, app.state.metrics, queue, demo=demo)
    done = threading.Event()
    election = threading.Thread(target=leadership.run, args=(done,), daemon=True)
    election.start()

    def nudge_relay() -> None:
        """Send account mail (a confirmation link) now, not at the relay's next pass."""
        scheduler = leadership.handle
        if scheduler is not None and scheduler.running:
            scheduler.modify_job("relay", next_run_time=datetime.now(UTC))

    if queue is None:
        app.state.nudge_relay = nudge_relay
    app.state.role = lambda: leadership.role
    app.state.health_checks.append(lambda: _scheduler_check(leadership, heartbeat))
    # Ready while the election runs and, on the leader, the scheduler beats.
    app.state.ready_checks.append(lambda: _scheduler_check(leadership, heartbeat)
                                  if election.is_alive() else ("scheduler", False, "stopped"))

    def end() -> None:
        done.set()
        election.join(timeout=120)  # lets running jobs finish (RELIABILITY S8)

    return end


def _leadership(ctx: Context, heartbeat: Heartbeat, metrics: Metrics,
                queue: JobQueue | None, *, demo: bool) -> Leadership:
    """The election for this process: it schedules only while it holds the leader lock."""

    def start() -> Any:
        scheduler = _scheduler(ctx, heartbeat, metrics, queue, demo=demo)
        scheduler.start()
        heartbeat.beat()
        return scheduler

    def stop(scheduler: Any, graceful: bool) -> None:
        if scheduler.running:
            scheduler.shutdown(wait=graceful)

    lock = lock_for(ctx.settings.database.url, ctx.settings.paths.data)
    return Leadership(lock, start, stop)


def _scheduler_check(leadership: Leadership, heartbeat: Heartbeat) -> tuple[str, bool, str]:
    """/healthz: a standby is healthy but says so; a leader whose jobs stopped is not."""
    if leadership.role == "standby":
        return ("scheduler", True, "standby: another process runs the scheduler")
    return ("scheduler", heartbeat.healthy(60), f"leader: {heartbeat.job_errors} job errors")


def _scheduler(ctx: Context, heartbeat: Heartbeat, metrics: Metrics, queue: JobQueue | None,
               *, demo: bool) -> Any:
    s = ctx.settings

    def poll() -> None:
        if file_alerts.alert_unreadable_files(ctx):  # an edit the service cannot read
            outbox.relay(ctx)
        if queue is not None:  # the workers poll; the leader only says what is due
            queue.enqueue_due_polls()
            return
        ids = [src.id for src in ctx.sources() if src.enabled] if demo else None
        polling.poll(ctx, ids, on_done=metrics.record_poll)

    skip_holidays = s.schedule.bank_holidays == "next-working-day"

    def send(frequency: str | None) -> None:
        today = ctx.now().astimezone(s.timezone).date()
        if frequency and not sends_today(frequency, today, weekly_day=s.schedule.weekly_day,
                                         skip_holidays=skip_holidays):
            log.info("no %s digests today (bank holidays: next working day)", frequency)
            return
        send_now(frequency)

    def send_now(frequency: str | None) -> None:
        if queue is not None:  # the workers build them; the outbox keys keep each one once
            queue.enqueue_digests(frequency)
            return
        metrics.record_relay(digests.send_digests(ctx, frequency=frequency))

    def relay() -> None:
        if queue is not None:
            queue.enqueue_relay()
            return
        metrics.record_relay(outbox.relay(ctx))

    def in_process_or_queued(task: str, work: Callable[[], object]) -> Callable[[], object]:
        return (lambda: queue.enqueue(task)) if queue is not None else work

    scheduler = build_scheduler(
        timezone=s.schedule.timezone, poll_seconds=10 if demo else s.schedule.poll_seconds,
        daily_time=s.schedule.daily_time, weekly_day=s.schedule.weekly_day,
        weekly_time=s.schedule.weekly_time, poll=poll,
        send_daily=lambda: send("daily"), send_weekly=lambda: send("weekly"), relay=relay,
        heartbeat=heartbeat,
        stewardship=in_process_or_queued("stewardship",
                                         lambda: stewardship.send_stewardship(ctx)),
        sources_report=in_process_or_queued("sources_report",
                                            lambda: source_report.send_source_report(ctx)),
        housekeeping=lambda: subscribing.purge(ctx),
        bulletins=queue.enqueue_bulletins if queue is not None else lambda: _bulletins(ctx),
        weekly_every_day=skip_holidays)
    # Catch up on digest times missed while the service was down (idempotent per period).
    missed = missed_runs(ctx.now(), s.timezone, daily_time=s.schedule.daily_time,
                         weekly_day=s.schedule.weekly_day,
                         weekly_time=s.schedule.weekly_time, skip_holidays=skip_holidays)
    for frequency in missed:  # missed_runs has already skipped bank holidays if asked
        scheduler.add_job(send_now, args=[frequency], id=f"catch-up-{frequency}",
                          replace_existing=True)
    if demo:
        # The demo sends digests every half minute so a newcomer sees one in the outbox at once;
        # the outbox still holds each subscriber to one digest per period.
        scheduler.add_job(lambda: send(None), "interval", seconds=30, id="demo-digests",
                          replace_existing=True)
        scheduler.add_job(lambda: demo_bulletin(ctx), "interval", seconds=30,
                          id="demo-bulletin", replace_existing=True)
    return scheduler


def _bulletins(ctx: Context) -> None:
    """The bulletins' pass, then the relay at once when it queued copies or reminders."""
    report = bulletins.tick(ctx)
    if report.queued or report.reminded:
        outbox.relay(ctx)


# --- demo mode -------------------------------------------------------------------------------

def _demo_signup(ctx: Context) -> str:
    """A member of staff signs up for the first published topic and confirms, through the
    same service functions as the pages; the link to their preferences, or "" (a limit)."""
    from awareness.signup import Choice, Refused

    topics = subscribing.choosable(ctx)[:1]
    try:
        pending = subscribing.request_signup(
            ctx, email=DEMO_STAFF, choices=[Choice(slug, "weekly") for slug in topics],
            bulletins=False, client="demo")
    except Refused:
        return ""
    confirmed = subscribing.confirm(ctx, subscribing.confirmation_token(ctx, pending))
    return subscribing.preferences_url(ctx, confirmed) if confirmed else ""


def demo_bulletin(ctx: Context) -> None:
    """The demo's first bulletin issue, approved and sent as soon as it holds items, so that a
    newcomer sees one in the outbox, the archive and the feed; the next issue is then drafted
    and waits in the editor."""
    for bulletin in ctx.bulletins():
        if any(i.status == "sent" for i in bulletins.issues(ctx, bulletin.slug)):
            continue
        found = bulletins.draft(ctx, bulletin.slug)
        if found.shown:
            if found.status == "draft":
                bulletins.approve(ctx, bulletin.slug, found.number, by="demo-librarian")
            bulletins.send_issue(ctx, bulletin.slug, found.number)
            bulletins.draft(ctx, bulletin.slug)
            outbox.relay(ctx)


DEMO_READER = "demo.reader@library.example.nhs.uk"
DEMO_STAFF = "demo.staff@library.example.nhs.uk"


def prepare_demo(settings: Settings) -> tuple[Settings, Any]:
    """Start the sample feeds; return settings that point at them, at a demo folder for the
    librarians' files and the outbox, and at the demo's database (``demo_database_url``)."""
    from awareness.demo import DemoFeeds

    topics = settings.paths.subscriptions / "topics"
    if not any(topics.glob("*.toml")):
        raise ConfigError("the demo takes its topics from here and found none; run it in the "
                          "project's folder, or set paths.subscriptions to a folder with topics",
                          path=str(topics))
    feeds = DemoFeeds().start()
    data = settings.paths.data / "demo"
    subs = data / "subscriptions"
    (subs / "topics").mkdir(parents=True, exist_ok=True)
    for topic in (settings.paths.subscriptions / "topics").glob("*.toml"):
        shutil.copyfile(topic, subs / "topics" / topic.name)
    (subs / "bulletins").mkdir(exist_ok=True)
    for bulletin in (settings.paths.subscriptions / "bulletins").glob("*.toml"):
        shutil.copyfile(bulletin, subs / "bulletins" / bulletin.name)
    members = settings.paths.subscriptions / MEMBERS_FILE  # the weekly stewardship mail's
    if members.is_file():
        shutil.copyfile(members, subs / MEMBERS_FILE)
    (subs / "sources.toml").write_text(feeds.sources_toml(), encoding="utf-8")
    demo = dataclasses.replace(
        settings,
        database=dataclasses.replace(settings.database, url=demo_database_url(settings)),
        mail=dataclasses.replace(settings.mail, outbox=data / "outbox"),
        paths=dataclasses.replace(settings.paths, subscriptions=subs),
        fetch=dataclasses.replace(settings.fetch, allowed_hosts=("127.0.0.1",)))
    return demo, feeds


def demo_database_url(settings: Settings) -> str:
    """The demo's database: the configured one (a PostgreSQL database stays PostgreSQL), except
    that the default SQLite file, ``<data>/awareness.db``, becomes ``<data>/demo/awareness.db``
    so that trying the demo leaves the real database alone."""
    url, data = settings.database.url, settings.paths.data
    if url == f"sqlite:///{data / 'awareness.db'}":
        return f"sqlite:///{data / 'demo' / 'awareness.db'}"
    return url


def seed_demo(ctx: Context) -> None:
    """A reader subscribed to every topic, the seed driver records, and a librarian login."""
    from importlib import resources

    from awareness.service.drivers import import_drivers

    seed = resources.files("awareness.demo") / "map-toolkit-leadership.txt"
    with resources.as_file(seed) as path:
        import_drivers(ctx, path)
    people.add_subscriber(ctx, DEMO_READER, [t.slug for t in ctx.topics()], "daily",
                          bulletins=True)
    preferences = _demo_signup(ctx)
    password = secrets.token_urlsafe(12)
    try:
        librarians.add_librarian(ctx, "demo-librarian", password)
    except Exception:  # already there from an earlier demo run: reset it
        password = ""
    outbox = ctx.settings.mail.outbox
    print(
        "\nDemo running. Sample feeds reveal new items every 10 seconds.\n"
        f"  Review page: {ctx.settings.base_url}/review\n"
        + (f"  Log in as demo-librarian with password {password}\n" if password else
           "  Log in as demo-librarian (password from the first demo run, or delete the "
           "demo folder to get a new one)\n")
        + f"  Topic catalogue, as staff see it: {ctx.settings.base_url}/topics\n"
        + f"  Bulletins: {ctx.settings.base_url}/bulletins (the first issue is sent once "
          "items arrive; the next one waits in the editor)\n"
        + (f"  A member of staff who signed up and confirmed: {preferences}\n"
           if preferences else "")
        + f"  Digests and confirmation mails are written to {outbox}\n"
        + "  The command line on the demo's data, its mail and its feeds (another terminal):\n"
        + f"    {demo_environment(ctx.settings)} {this_command()} review list\n",
        flush=True,
    )


def this_command() -> str:
    """The ``awareness`` command that is running, as a path that works from any folder (the
    demo's banner said ``.venv/bin/awareness``, which works only from the project's); just
    ``awareness`` when it was started some other way (``python -m awareness``)."""
    script = Path(sys.argv[0])
    if script.name == "awareness" and script.is_file():
        return shlex.quote(str(script.resolve()))
    return "awareness"


def demo_environment(demo: Settings) -> str:
    """The settings, as environment variables for a shell, that point the command line at
    the demo's database, files, outbox, feeds and pages (without them a command run beside
    the demo reads and writes the real deployment's). A database URL the demo did not
    choose (PostgreSQL, say) is left out: it is in the environment already, perhaps with a
    password, which is not printed."""
    names = {"AWARENESS_PATHS_SUBSCRIPTIONS": str(demo.paths.subscriptions),
             "AWARENESS_MAIL_OUTBOX": str(demo.mail.outbox),
             "AWARENESS_FETCH_ALLOWED_HOSTS": ",".join(demo.fetch.allowed_hosts),
             "AWARENESS_WEB_BASE_URL": demo.base_url}
    if demo.database.url.startswith("sqlite:"):
        names = {"AWARENESS_DATABASE_URL": demo.database.url, **names}
    return " ".join(f"{name}={shlex.quote(value)}" for name, value in names.items())
