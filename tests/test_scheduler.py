"""The scheduler: fixed jobs, coalescing, one scheduler per deployment, local digest times."""

from __future__ import annotations

import io
import logging
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from awareness.digests.schedule import missed_runs
from awareness.leader import FileLock
from awareness.scheduler import Heartbeat, build_scheduler


def make(**overrides):
    calls = {name: [] for name in ("poll", "daily", "weekly", "relay", "stewardship",
                                   "sources_report", "housekeeping")}
    options = dict(timezone="Europe/London", poll_seconds=60, daily_time="07:00",
                   weekly_day="mon", weekly_time="07:00",
                   poll=lambda: calls["poll"].append(1),
                   send_daily=lambda: calls["daily"].append(1),
                   send_weekly=lambda: calls["weekly"].append(1),
                   relay=lambda: calls["relay"].append(1), heartbeat=Heartbeat(),
                   stewardship=lambda: calls["stewardship"].append(1),
                   sources_report=lambda: calls["sources_report"].append(1),
                   housekeeping=lambda: calls["housekeeping"].append(1))
    options.update(overrides)
    return build_scheduler(**options), calls


def test_jobs_are_declared_with_fixed_ids_and_never_pile_up():
    scheduler, _ = make()
    scheduler.start(paused=True)  # job defaults are applied when the scheduler starts
    try:
        jobs = {job.id: job for job in scheduler.get_jobs()}
    finally:
        scheduler.shutdown(wait=False)
    assert set(jobs) == {"poll", "digests-daily", "digests-weekly", "relay", "heartbeat",
                         "stewardship-weekly", "sources-report-daily", "housekeeping"}
    for job in jobs.values():
        assert job.coalesce is True
        assert job.max_instances == 1


def fire_times(trigger, start: datetime, count: int) -> list[datetime]:
    times, previous, now = [], None, start
    for _ in range(count):
        fire = trigger.get_next_fire_time(previous, now)
        times.append(fire)
        previous, now = fire, fire
    return times


def test_daily_digest_is_at_seven_local_time_across_clock_changes():
    scheduler, _ = make()
    trigger = scheduler.get_job("digests-daily").trigger
    # 2026-03-29: British Summer Time starts; 2026-10-25: it ends.
    spring = fire_times(trigger, datetime(2026, 3, 28, 12, tzinfo=UTC), 3)
    autumn = fire_times(trigger, datetime(2026, 10, 24, 12, tzinfo=UTC), 3)
    for fire in spring + autumn:
        local = fire.astimezone(trigger.timezone)
        assert (local.hour, local.minute) == (7, 0)
    assert len({f.date() for f in spring + autumn}) == 6  # one per local day, none doubled


def test_weekly_digest_is_on_the_configured_day():
    scheduler, _ = make(weekly_day="thu", weekly_time="08:30")
    trigger = scheduler.get_job("digests-weekly").trigger
    for fire in fire_times(trigger, datetime(2026, 11, 26, 12, tzinfo=UTC), 3):
        local = fire.astimezone(trigger.timezone)
        assert (local.strftime("%a"), local.hour, local.minute) == ("Thu", 8, 30)


def test_a_failing_job_does_not_stop_the_scheduler():
    heartbeat = Heartbeat()

    def broken():
        raise RuntimeError("boom")

    scheduler, _ = make(poll=broken, poll_seconds=1, heartbeat=heartbeat)
    scheduler.start()
    try:
        deadline = time.monotonic() + 60  # two runs a second apart; generous for a busy machine
        while heartbeat.job_errors < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        scheduler.shutdown(wait=True)
    assert heartbeat.job_errors >= 2  # it failed, and was run again
    assert heartbeat.healthy(60)


class _Written(logging.StreamHandler):
    """Formats each record as the service's log does, and says when one was written."""

    def __init__(self) -> None:
        super().__init__(io.StringIO())
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        self.written = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        super().emit(record)
        self.written.set()


def test_a_failing_jobs_error_is_logged_whole_whatever_its_text(capsys):
    # Issue 16: a topic file in Windows-1252 made every poll fail, and the job-error logger
    # itself crashed ("--- Logging error ---"), so the log said nothing useful.
    name = "Gesundheitsb\u00fccher \u2013 100% f\u00fcr %s %(x)s.toml"
    raw = "caf\u00e9 \u2018draft\u2019".encode("cp1252")

    def broken():
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ValueError(f"{name}: cannot read {raw!r}") from exc

    handler = _Written()
    logger = logging.getLogger("awareness.scheduler")
    logger.addHandler(handler)
    scheduler, _ = make(poll=broken, heartbeat=Heartbeat())
    scheduler.start()
    try:
        assert handler.written.wait(60)
    finally:
        scheduler.shutdown(wait=True)
        logger.removeHandler(handler)
    text = handler.stream.getvalue()
    assert text.startswith("ERROR awareness.scheduler: job poll failed: ValueError(")
    assert name in text and "cannot read b'caf" in text
    assert 'in broken' in text and "raise ValueError" in text  # the traceback, as text
    assert "Logging error" not in capsys.readouterr().err


@pytest.mark.integration
def test_only_one_process_holds_the_scheduler_lock(tmp_path):
    path = tmp_path / "scheduler.lock"
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sys, time\n"
         "from pathlib import Path\n"
         "from awareness.leader import FileLock\n"
         f"lock = FileLock(Path({str(path)!r}))\n"
         "assert lock.acquire()\n"
         "print('held', flush=True)\n"
         "time.sleep(60)\n"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        assert FileLock(path).acquire() is False  # standby while the leader lives
    finally:
        holder.kill()
        holder.wait()
    lock = FileLock(path)
    assert lock.acquire() is True  # the OS released the dead leader's lock
    lock.release()


LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize(("local", "expected"), [
    (datetime(2026, 11, 23, 6, 59), []),                     # Monday before 07:00
    (datetime(2026, 11, 23, 7, 0), ["daily", "weekly"]),     # Monday at 07:00
    (datetime(2026, 11, 24, 6, 0), ["weekly"]),              # Tuesday early: Monday's missed
    (datetime(2026, 11, 29, 23, 0), ["daily", "weekly"]),    # Sunday night
    (datetime(2026, 3, 29, 7, 30), ["daily", "weekly"]),     # the day the clocks go forward
])
def test_missed_runs_after_a_restart(local, expected):
    now = local.replace(tzinfo=LONDON).astimezone(UTC)
    assert missed_runs(now, LONDON, daily_time="07:00", weekly_day="mon",
                       weekly_time="07:00") == expected
