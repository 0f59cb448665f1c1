"""The job queue (shell; issue 15): polls, digests, bulletins, the members' lists and relay
passes as jobs for worker processes.

With ``[queue] enabled`` (PostgreSQL only) the scheduler's leader stops doing the work itself
and only *enqueues* it: one ``poll_source`` job for each due source, ``DIGEST_SHARDS``
``build_digests`` jobs at a digest time (each for the subscribers whose id is its shard
modulo ``DIGEST_SHARDS``), one ``bulletin`` job per bulletin at each bulletin pass, a
``stewardship`` and a ``sources_report`` job at theirs, and a ``relay`` job at each relay
time; ``awareness run --role worker`` processes run the jobs. The queue is
procrastinate (docs/scaling.md says why): jobs in PostgreSQL tables of its own, taken with
``SELECT … FOR UPDATE SKIP LOCKED``, woken by LISTEN/NOTIFY.

Nothing is done twice that matters:

- a source has at most one job waiting (``queueing_lock`` ``poll:<id>``) and one running
  (``lock`` ``source:<id>``), and the job polls only if the source is still due when it runs;
- the relay has one job waiting and one running (``relay``); the outbox's claims keep a
  message to one sender in any case;
- every other job has one waiting and one running per its arguments (a digest shard of a
  frequency, a bulletin); what it writes to the outbox is unique per key (a subscriber's
  period, a bulletin issue and recipient, a member's week), so a job run again — put back
  after its worker died, or queued again at the next time — queues nothing twice, and
  what it queued is sent by a ``relay`` job;
- a worker killed in the middle of a job stops beating; after ``STALLED_AFTER_SECONDS`` a
  periodic task in the other workers (``retry_stalled_jobs``, deduplicated across workers by
  procrastinate) puts its jobs back — or ends one whose work is already queued again — and
  the unique keys that guard items, stories and outbox rows keep their effects exactly once.

procrastinate's tables are created by ``awareness init`` (``ensure_schema``), outside the
Alembic migrations, which describe only the service's own tables.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from functools import wraps
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException, UniqueViolation
from procrastinate.jobs import Status

from awareness.errors import ConfigError
from awareness.service import bulletins, digests, outbox, polling, source_report, stewardship
from awareness.service.context import Context
from awareness.service.outbox import RelayReport
from awareness.service.polling import PollOutcome
from awareness.storage.leadership import is_postgresql

log = logging.getLogger(__name__)

WORKER_HEARTBEAT_SECONDS = 2.0
STALLED_AFTER_SECONDS = 10.0
QUEUES = ("polls", "mail", "maintenance")
DIGEST_SHARDS = 16  # build_digests jobs per digest time: enough to keep 4 workers × 4 busy

JobHook = Callable[[str, str, float], None]  # task name, outcome (ok|failed), seconds


class JobQueue:
    """The queue of one process: enqueue (the leader, a web process) or run (a worker)."""

    def __init__(self, ctx: Context, *, on_poll: Callable[[PollOutcome], None] | None = None,
                 on_relay: Callable[[RelayReport], None] | None = None,
                 on_job: JobHook | None = None):
        url = ctx.settings.database.url
        if not is_postgresql(url):
            raise ConfigError("[queue] enabled needs PostgreSQL: set database.url to a "
                              "postgresql+psycopg:// URL, or turn the queue off")
        self.ctx = ctx
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(
            conninfo=url.replace("postgresql+psycopg://", "postgresql://", 1),
            min_size=1, max_size=4))
        self._on_job = on_job
        self._register(on_poll, on_relay)

    def _counted(self, name: str, body: Callable[..., None]) -> Callable[..., None]:
        """``body``, telling ``on_job`` how each run ended and how long it took."""

        @wraps(body)
        def run(*args: Any, **kwargs: Any) -> None:
            started, outcome = time.monotonic(), "failed"
            try:
                body(*args, **kwargs)
                outcome = "ok"
            finally:
                if self._on_job:
                    self._on_job(name, outcome, time.monotonic() - started)

        return run

    def _register(self, on_poll: Callable[[PollOutcome], None] | None,
                  on_relay: Callable[[RelayReport], None] | None) -> None:
        app, ctx = self.app, self.ctx

        def task(name: str, queue: str) -> Callable[[Callable[..., None]], Any]:
            return lambda body: app.task(name=name, queue=queue)(self._counted(name, body))

        @task("poll_source", "polls")
        def poll_source(source_id: str) -> None:
            # Only while still due: a job put back after its poll was written does nothing.
            if source_id in polling.due_sources(ctx):
                polling.poll(ctx, [source_id], on_done=on_poll)

        @task("relay", "mail")
        def relay() -> None:
            report = outbox.relay(ctx)
            if on_relay:
                on_relay(report)

        @task("build_digests", "mail")
        def build_digests(frequency: str | None, shard: int) -> None:
            report = digests.SendReport()
            digests.enqueue(ctx, report, frequency=frequency, dry_run=False,
                            shard=(shard, DIGEST_SHARDS))
            # Also when all were queued already: this may be a job put back after its worker
            # died between queuing them and asking for the relay.
            if report.queued or report.already_queued:
                self.enqueue_relay()

        @task("bulletin", "mail")
        def bulletin(slug: str) -> None:
            report = bulletins.tick(ctx, slug)
            if report.queued or report.reminded:
                self.enqueue_relay()

        # Both queue at most a few messages and relay them at once themselves.
        @task("stewardship", "mail")
        def members_lists() -> None:
            stewardship.send_stewardship(ctx)

        @task("sources_report", "mail")
        def owners_report() -> None:
            source_report.send_source_report(ctx)

        @app.periodic(cron="* * * * * */5")  # every 5 seconds (6th field); one across workers
        @app.task(name="retry_stalled_jobs", queue="maintenance",
                  queueing_lock="retry_stalled_jobs")
        async def retry_stalled_jobs(timestamp: int) -> None:
            stalled = await app.job_manager.get_stalled_jobs(
                seconds_since_heartbeat=STALLED_AFTER_SECONDS)
            for job in stalled:
                log.warning("job %s (%s) was left by a worker that stopped; putting it back",
                            job.id, job.task_name)
                try:
                    await app.job_manager.retry_job(job)
                except UniqueViolation:
                    # The same work is already waiting (its queueing lock): end this one, which
                    # frees the lock the waiting job needs to run.
                    await app.job_manager.finish_job(job, status=Status.FAILED,
                                                     delete_job=False)

    def open(self) -> JobQueue:
        """Connect, for enqueueing; refuses a database whose queue tables are missing."""
        self.app.open()
        try:
            self.app.job_manager.list_queues()
        except ConnectorException as exc:
            self.app.close()
            raise ConfigError("the job queue's tables are missing: run `awareness init`") from exc
        return self

    def close(self) -> None:
        self.app.close()

    def enqueue_due_polls(self) -> int:
        """One ``poll_source`` job for each due source without one waiting; how many."""
        polling.sync_sources(self.ctx)  # a source just added to sources.toml is due at once
        queued = 0
        for source_id in polling.due_sources(self.ctx):
            task = self.app.configure_task("poll_source", queueing_lock=f"poll:{source_id}",
                                           lock=f"source:{source_id}")
            queued += _defer(task, source_id=source_id)
        return queued

    def enqueue_relay(self) -> None:
        """A relay pass, unless one is waiting already."""
        _defer(self.app.configure_task("relay", queueing_lock="relay", lock="relay"))

    def enqueue_digests(self, frequency: str | None) -> int:
        """The digests of ``frequency`` (None: every frequency) as ``DIGEST_SHARDS`` jobs, each
        unless the same shard is waiting already; how many were queued."""
        queued = 0
        for shard in range(DIGEST_SHARDS):
            name = f"digests:{frequency or 'all'}:{shard}"
            queued += _defer(self.app.configure_task("build_digests", queueing_lock=name,
                                                     lock=name),
                             frequency=frequency, shard=shard)
        return queued

    def enqueue_bulletins(self) -> int:
        """One bulletin pass per bulletin, unless one is waiting; how many were queued."""
        return sum(_defer(self.app.configure_task("bulletin", queueing_lock=f"bulletin:{b.slug}",
                                                  lock=f"bulletin:{b.slug}"), slug=b.slug)
                   for b in self.ctx.bulletins())

    def enqueue(self, task: str) -> int:
        """A job without arguments (``stewardship``, ``sources_report``), unless one waits."""
        return _defer(self.app.configure_task(task, queueing_lock=task, lock=task))

    def depth(self) -> dict[str, int]:
        """Jobs waiting and running, over every queue (for /metrics)."""
        rows = self.app.job_manager.list_queues()
        return {"todo": sum(r["todo"] for r in rows), "doing": sum(r["doing"] for r in rows)}

    def run_worker(self) -> None:
        """Run jobs in the foreground until SIGINT or SIGTERM (finishing the running ones)."""
        log.info("worker: running jobs from %s", ", ".join(QUEUES))
        self.app.run_worker(queues=list(QUEUES),
                            concurrency=self.ctx.settings.queue.worker_concurrency,
                            update_heartbeat_interval=WORKER_HEARTBEAT_SECONDS,
                            stalled_worker_timeout=STALLED_AFTER_SECONDS * 3,
                            delete_jobs="successful")


def _defer(task: Any, **arguments: Any) -> int:
    try:
        task.defer(**arguments)
    except AlreadyEnqueued:
        return 0
    return 1


def ensure_schema(ctx: Context) -> bool:
    """Create procrastinate's tables unless they exist; whether it created them."""
    queue = JobQueue(ctx)
    queue.app.open()
    try:
        try:
            queue.app.job_manager.list_queues()
            return False
        except ConnectorException:
            queue.app.schema_manager.apply_schema()
            return True
    finally:
        queue.app.close()
