"""Prometheus metrics (shell; issue 15), in the official client's registry of one process.

Two kinds, so that no number is counted twice across processes:

- **Counters and histograms** of what this process did: polls by outcome, items stored,
  matches made, messages sent or given up, how long each fetch (by outcome) and each send
  took, and, on a worker, jobs run by task and outcome. Without the queue only the leader
  polls and relays, so they rise on the leader; with it, on the workers. Prometheus sums
  them over processes (``sum(rate(awareness_polls_total[5m]))``), and a restart or a change
  of leader resets them, as counters may.
- **Gauges read from the database at scrape time** (``ServiceCollector``): the review queue,
  the outbox, sources by state. Every process reports the same values; take ``max`` over
  processes rather than ``sum``.

``awareness_leader`` is 1 on the process that runs the scheduler. No metric carries an
address, a title or a name: labels are outcomes, statuses and roles only.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from awareness.model import ServiceCounts

if TYPE_CHECKING:
    from awareness.service.outbox import RelayReport
    from awareness.service.polling import PollOutcome

POLL_OUTCOMES = ("ok", "not_modified", "unchanged", "failed")
JOB_TASKS = ("poll_source", "relay", "build_digests", "bulletin", "stewardship",
             "sources_report")
# Seconds: a fetch on loopback takes milliseconds, a slow publisher tens of seconds (the
# total deadline is 60 s); an SMTP transaction, milliseconds to seconds.
FETCH_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
SEND_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """This process's registry and counters."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.polls = Counter("awareness_polls", "Polls of one source, by outcome.",
                             ["outcome"], registry=self.registry)
        for outcome in POLL_OUTCOMES:
            self.polls.labels(outcome)  # each outcome shows from the start, at 0
        self.items_stored = Counter("awareness_items_stored",
                                    "New items stored by polls (baselines included).",
                                    registry=self.registry)
        self.matches = Counter("awareness_matches", "Matches of a topic on a new item.",
                               registry=self.registry)
        self.relayed = Counter("awareness_messages", "Messages the relay sent or gave up on.",
                               ["outcome"], registry=self.registry)
        for outcome in ("sent", "retrying", "failed"):
            self.relayed.labels(outcome)
        # By outcome, never by source: a label per source would be thousands of series.
        self.fetch_seconds = Histogram("awareness_fetch_seconds",
                                       "How long fetching one source took, by poll outcome.",
                                       ["outcome"], buckets=FETCH_BUCKETS,
                                       registry=self.registry)
        self.send_seconds = Histogram("awareness_send_seconds",
                                      "How long the relay took to hand one message to the "
                                      "mail server (or fail to).", buckets=SEND_BUCKETS,
                                      registry=self.registry)
        self.jobs_run = Counter("awareness_jobs_run", "Queued jobs this process ran, by task "
                                "and outcome (ok, failed).", ["task", "outcome"],
                                registry=self.registry)

    def record_poll(self, outcome: PollOutcome) -> None:
        """Count one source's poll, and time its fetch."""
        status = outcome.status if outcome.status in POLL_OUTCOMES else "failed"
        self.polls.labels(status).inc()
        self.items_stored.inc(outcome.new_items)
        self.matches.inc(outcome.new_matches)
        if outcome.fetch_seconds is not None:
            self.fetch_seconds.labels(status).observe(outcome.fetch_seconds)

    def record_relay(self, report: RelayReport) -> None:
        """Count one relay pass, and time each of its sends."""
        self.relayed.labels("sent").inc(report.sent)
        self.relayed.labels("retrying").inc(report.retrying)
        self.relayed.labels("failed").inc(report.failed)
        for seconds in report.send_seconds:
            self.send_seconds.observe(seconds)

    def record_job(self, task: str, outcome: str, seconds: float) -> None:
        """Count one queued job this process ran (``JobQueue``'s ``on_job``)."""
        self.jobs_run.labels(task if task in JOB_TASKS else "other", outcome).inc()

    def watch(self, counts: Callable[[], ServiceCounts], role: Callable[[], str],
              now: Callable[[], datetime]) -> None:
        """Report the database's totals and this process's role at every scrape."""
        self.registry.register(ServiceCollector(counts, role, now))

    def watch_jobs(self, depth: Callable[[], dict[str, int]]) -> None:
        """Report the job queue's waiting and running jobs at every scrape."""
        self.registry.register(JobsCollector(depth))


class JobsCollector(Collector):
    """The job queue's depth, read when Prometheus scrapes ([queue] enabled)."""

    def __init__(self, depth: Callable[[], dict[str, int]]):
        self._depth = depth

    def describe(self) -> list[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        try:
            depth = self._depth()
        except Exception:  # the database is away: awareness_database_up says so
            return
        jobs = GaugeMetricFamily("awareness_jobs", "Queued jobs: waiting (todo), running "
                                 "(doing).", labels=["status"])
        for status, n in sorted(depth.items()):
            jobs.add_metric([status], n)
        yield jobs


class ServiceCollector(Collector):
    """Gauges read when Prometheus scrapes: one short read of the database."""

    def __init__(self, counts: Callable[[], ServiceCounts], role: Callable[[], str],
                 now: Callable[[], datetime]):
        self._counts, self._role, self._now = counts, role, now

    def describe(self) -> list[Metric]:
        return []  # the families are known only by reading; no description up front

    def collect(self) -> Iterator[Metric]:
        leader = GaugeMetricFamily("awareness_leader",
                                   "1 when this process runs the scheduler, else 0.",
                                   labels=["role"])
        role = self._role()
        leader.add_metric([role], 1.0 if role == "leader" else 0.0)
        yield leader
        try:
            counts = self._counts()
        except Exception:  # the database is away: say so, and still answer the scrape
            yield GaugeMetricFamily("awareness_database_up",
                                    "1 when the database answered this scrape.", value=0)
            return
        yield GaugeMetricFamily("awareness_database_up",
                                "1 when the database answered this scrape.", value=1)
        yield GaugeMetricFamily("awareness_review_queue",
                                "Matches waiting for a librarian's decision.",
                                value=counts.review_queue)
        outbox = GaugeMetricFamily("awareness_outbox_messages",
                                   "Outbox messages not sent: pending, sending, failed.",
                                   labels=["status"])
        for status, n in sorted(counts.outbox.items()):
            outbox.add_metric([status], n)
        yield outbox
        age = (self._now() - counts.oldest_unsent).total_seconds() if counts.oldest_unsent else 0
        yield GaugeMetricFamily("awareness_outbox_oldest_unsent_seconds",
                                "Age of the oldest pending or sending message (0: none).",
                                value=max(age, 0.0))
        sources = GaugeMetricFamily("awareness_sources", "Enabled sources, by state.",
                                    labels=["state"])
        for state, n in sorted(counts.sources.items()):
            sources.add_metric([state], n)
        yield sources
