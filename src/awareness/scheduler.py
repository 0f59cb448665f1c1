"""The scheduler (shell, thin): triggers service functions at the right times, decides nothing.

APScheduler 3.11 ``BackgroundScheduler`` with an in-memory job store: schedules are declared
here in code at start-up with fixed ids (RELIABILITY S6), so a release that renames a function
cannot leave a stale job behind. What is due is asked of the database; every job is idempotent
(digest periods are unique in the outbox), so coalesced or repeated runs are harmless.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from apscheduler.events import EVENT_JOB_ERROR, EVENT_JOB_MAX_INSTANCES
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)


class Heartbeat:
    """When the scheduler last proved it was alive, and how many jobs failed (for /healthz)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.last_beat: datetime | None = None
        self.job_errors = 0

    def beat(self) -> None:
        with self._lock:
            self.last_beat = datetime.now(UTC)

    def healthy(self, interval_seconds: float) -> bool:
        last = self.last_beat
        if last is None:
            return False
        return (datetime.now(UTC) - last).total_seconds() < 2 * interval_seconds


def build_scheduler(*, timezone: str, poll_seconds: int, daily_time: str, weekly_day: str,
                    weekly_time: str, poll: Callable[[], object],
                    send_daily: Callable[[], object], send_weekly: Callable[[], object],
                    relay: Callable[[], object], heartbeat: Heartbeat,
                    stewardship: Callable[[], object],
                    sources_report: Callable[[], object],
                    housekeeping: Callable[[], object],
                    bulletins: Callable[[], object] | None = None,
                    weekly_every_day: bool = False) -> BackgroundScheduler:
    """A scheduler with the service's jobs, not yet started. ``weekly_every_day``: the
    weekly digest job fires every day at its time and ``send_weekly`` decides whether this
    is the week's send day (a bank holiday moves it)."""
    scheduler = BackgroundScheduler(
        timezone=timezone,
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 3600},
    )
    daily_h, daily_m = daily_time.split(":")
    weekly_h, weekly_m = weekly_time.split(":")
    scheduler.add_job(poll, IntervalTrigger(seconds=poll_seconds), id="poll",
                      replace_existing=True, next_run_time=datetime.now(UTC))
    scheduler.add_job(send_daily, CronTrigger(hour=daily_h, minute=daily_m, timezone=timezone),
                      id="digests-daily", replace_existing=True)
    scheduler.add_job(send_weekly, CronTrigger(day_of_week="*" if weekly_every_day else weekly_day,
                                               hour=weekly_h,
                                               minute=weekly_m, timezone=timezone),
                      id="digests-weekly", replace_existing=True)
    # Members' lists go out with the weekly digests; the sent-log makes a rerun send nothing.
    scheduler.add_job(stewardship, CronTrigger(day_of_week=weekly_day, hour=weekly_h,
                                               minute=weekly_m, timezone=timezone),
                      id="stewardship-weekly", replace_existing=True)
    # The owner's "broken or stale sources" e-mail; a rerun the same day sends nothing.
    scheduler.add_job(sources_report, CronTrigger(hour=daily_h, minute=daily_m,
                                                  timezone=timezone),
                      id="sources-report-daily", replace_existing=True)
    scheduler.add_job(relay, IntervalTrigger(minutes=5), id="relay", replace_existing=True)
    # Sign-ups never confirmed are deleted once they expire, with old rate-limit records.
    scheduler.add_job(housekeeping, IntervalTrigger(hours=1), id="housekeeping",
                      replace_existing=True)
    if bulletins is not None:
        # Drafts the next issues, reminds editors, sends approved issues at their time; each
        # step is idempotent, so a pass every quarter of an hour is as good as a timer per
        # bulletin, and it follows an edited bulletin file without a restart.
        scheduler.add_job(bulletins, IntervalTrigger(minutes=15), id="bulletins",
                          replace_existing=True, next_run_time=datetime.now(UTC))
    scheduler.add_job(heartbeat.beat, IntervalTrigger(seconds=30), id="heartbeat",
                      replace_existing=True, next_run_time=datetime.now(UTC))

    def on_event(event: Any) -> None:
        if event.code == EVENT_JOB_ERROR:
            heartbeat.job_errors += 1
            # APScheduler hands the traceback over already formatted, as text: given as
            # ``exc_info`` it made the logger itself fail ("--- Logging error ---", issue 16).
            log.error("job %s failed: %r\n%s", event.job_id, event.exception,
                      (event.traceback or "").rstrip())
        else:
            log.warning("job %s still running; this run was skipped", event.job_id)

    scheduler.add_listener(on_event, EVENT_JOB_ERROR | EVENT_JOB_MAX_INSTANCES)
    return scheduler
