"""The job queue (shell; issue 15): polls and relay passes as jobs for worker processes.

With ``[queue] enabled`` (PostgreSQL only) the scheduler's leader stops doing the work itself
and only *enqueues* it: one ``poll_source`` job for each due source and a ``relay`` job at
each relay time; ``awareness run --role worker`` processes run the jobs. The queue is
procrastinate (docs/scaling.md says why): jobs in PostgreSQL tables of its own, taken with
``SELECT … FOR UPDATE SKIP LOCKED``, woken by LISTEN/NOTIFY.

Nothing is done twice that matters:

- a source has at most one job waiting (``queueing_lock`` ``poll:<id>``) and one running
  (``lock`` ``source:<id>``), and the job polls only if the source is still due when it runs;
- the relay has one job waiting and one running (``relay``); the outbox's claims keep a
  message to one sender in any case;
- a worker killed in the middle of a job stops beating; after ``STALLED_AFTER_SECONDS`` a
  periodic task in the other workers (``retry_stalled_jobs``, deduplicated across workers by
  procrastinate) puts its jobs back — or ends one whose work is already queued again — and
  the unique keys that guard items, stories and outbox rows keep their effects exactly once.

procrastinate's tables are created by ``awareness init`` (``ensure_schema``), outside the
Alembic migrations, which describe only the service's own tables.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued, ConnectorException, UniqueViolation
from procrastinate.jobs import Status

from awareness.errors import ConfigError
from awareness.service import outbox, polling
from awareness.service.context import Context
from awareness.service.outbox import RelayReport
from awareness.service.polling import PollOutcome
from awareness.storage.leadership import is_postgresql

log = logging.getLogger(__name__)

WORKER_HEARTBEAT_SECONDS = 2.0
STALLED_AFTER_SECONDS = 10.0
QUEUES = ("polls", "mail", "maintenance")


class JobQueue:
    """The queue of one process: enqueue (the leader, a web process) or run (a worker)."""

    def __init__(self, ctx: Context, *, on_poll: Callable[[PollOutcome], None] | None = None,
                 on_relay: Callable[[RelayReport], None] | None = None):
        url = ctx.settings.database.url
        if not is_postgresql(url):
            raise ConfigError("[queue] enabled needs PostgreSQL: set database.url to a "
                              "postgresql+psycopg:// URL, or turn the queue off")
        self.ctx = ctx
        self.app = procrastinate.App(connector=procrastinate.PsycopgConnector(
            conninfo=url.replace("postgresql+psycopg://", "postgresql://", 1),
            min_size=1, max_size=4))
        self._register(on_poll, on_relay)

    def _register(self, on_poll: Callable[[PollOutcome], None] | None,
                  on_relay: Callable[[RelayReport], None] | None) -> None:
        app, ctx = self.app, self.ctx

        @app.task(name="poll_source", queue="polls")
        def poll_source(source_id: str) -> None:
            # Only while still due: a job put back after its poll was written does nothing.
            if source_id in polling.due_sources(ctx):
                polling.poll(ctx, [source_id], on_done=on_poll)

        @app.task(name="relay", queue="mail")
        def relay() -> None:
            report = outbox.relay(ctx)
            if on_relay:
                on_relay(report)

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
