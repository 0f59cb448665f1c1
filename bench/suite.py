"""Benchmark: the test suite's CPU beside an earlier revision's suite, on the same machine.

Run as ``.venv/bin/python bench/suite.py [--baseline REV] [--baseline-first] [--out FILE]
[-- PYTEST-ARGS]`` with ``AWARENESS_TEST_DATABASE_URL`` set as CI sets it (both databases).
The default baseline, 533da53, is the suite as issue 11 found it. Not timed: the baseline is
checked out into a git worktree in a temporary folder (removed after) and both suites run
with this checkout's ``.venv``, each with its own ``src`` first on the path; by default this
checkout's suite runs first (``--baseline-first`` to swap, since a shared machine's speed
drifts over a quarter of an hour: compare runs made both ways round).

Measured for each whole run, and for every test (a pytest plugin in this file, around each
test's setup, call and teardown):

* CPU: user + system time of the pytest process and of every process it started and waited
  for (``resource.getrusage``) — what ``/usr/bin/time`` reports; a whole run's includes
  starting pytest and collecting the tests, which no test's does;
* cgroup: where the kernel offers it (cgroup v1's ``cpuacct.usage``, v2's ``cpu.stat``), the
  CPU of every process in this machine's cgroup: also Chromium's renderers, which the tests
  never wait for, and the PostgreSQL server, and anything else the machine runs meanwhile.

Printed: each suite's tests and CPU, and the tests both suites have under the same name —
the same tests, then and now (the sum of their own figures, and the ratio of now to then).
Nothing leaves the machine but what the tests themselves do.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "533da53"  # main when issue 11 was filed: 1,316 tests with both databases
CGROUP_V1 = Path("/sys/fs/cgroup/cpuacct/cpuacct.usage")
CGROUP_V2 = Path("/sys/fs/cgroup/cpu.stat")
OUT = "AWARENESS_BENCH_SUITE_OUT"  # where the plugin writes its rows (one JSON list)


def cgroup_seconds() -> float | None:
    """CPU seconds of every process in this cgroup so far, or None where it cannot be read."""
    try:
        if CGROUP_V1.exists():
            return int(CGROUP_V1.read_text()) / 1e9
        for line in CGROUP_V2.read_text().splitlines():
            if line.startswith("usage_usec "):
                return int(line.split()[1]) / 1e6
    except OSError:
        pass
    return None


def process_seconds() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF)
    waited = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + waited.ru_utime + waited.ru_stime


# --- the plugin (``-p suite``): loaded into each suite's pytest --------------------------------

_rows: list[tuple[str, float, float | None]] = []

@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: Any, nextitem: Any) -> Iterator[None]:
    cpu, group = process_seconds(), cgroup_seconds()
    yield
    after = cgroup_seconds()
    _rows.append((item.nodeid, process_seconds() - cpu,
                  None if group is None or after is None else after - group))


def pytest_sessionfinish(session: Any) -> None:
    if os.environ.get(OUT):
        Path(os.environ[OUT]).write_text(json.dumps(_rows), encoding="utf-8")


# --- the runner -------------------------------------------------------------------------------

def run_suite(checkout: Path, pytest_args: list[str], label: str) -> dict[str, Any]:
    rows_file = Path(tempfile.mkstemp(prefix=f"suite-{label}-", suffix=".json")[1])
    env = {**os.environ, OUT: str(rows_file),
           "PYTHONPATH": os.pathsep.join([str(checkout / "src"), str(Path(__file__).parent)])}
    started, wall = cgroup_seconds(), time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                           "-p", "suite", *pytest_args], cwd=checkout, env=env,
                          capture_output=True, text=True)
    wall = time.monotonic() - wall
    ended = cgroup_seconds()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    rows = json.loads(rows_file.read_text(encoding="utf-8") or "[]")
    rows_file.unlink()
    summary = (done.stdout.strip().splitlines() or [""])[-1]
    if done.returncode != 0:
        print(f"{label}: pytest exited {done.returncode}: {summary}", file=sys.stderr)
    return {"label": label, "rows": {node: (cpu, group) for node, cpu, group in rows},
            "wall": wall, "cpu": cpu, "summary": summary, "exit": done.returncode,
            "cgroup": None if started is None or ended is None else ended - started}


def total(rows: dict[str, tuple[float, float | None]], nodes: Any, column: int) -> float:
    return sum(rows[node][column] or 0.0 for node in nodes)


def report(head: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    common = head["rows"].keys() & base["rows"].keys()
    figures: dict[str, Any] = {}
    for run in (head, base):
        rows = run["rows"]
        figures[run["label"]] = {
            "tests": len(rows), "cpu": round(run["cpu"], 1),
            "cgroup": None if run["cgroup"] is None else round(run["cgroup"], 1),
            "wall": round(run["wall"], 1), "summary": run["summary"]}
    same = {run["label"]: (total(run["rows"], common, 0), total(run["rows"], common, 1))
            for run in (head, base)}
    figures["same tests"] = {
        "tests": len(common),
        "cpu": {label: round(cpu, 1) for label, (cpu, _) in same.items()},
        "cgroup": {label: round(group, 1) for label, (_, group) in same.items()},
        "cpu ratio": round(same["head"][0] / same["baseline"][0], 3) if same["baseline"][0]
        else None}
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--baseline", default=BASELINE, help="the revision to compare with")
    parser.add_argument("--baseline-first", action="store_true",
                        help="run the baseline's suite first")
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    parser.add_argument("pytest_args", nargs="*", help="after --: passed to both pytest runs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="suite-baseline-") as folder:
        worktree = Path(folder) / "checkout"
        subprocess.run(["git", "worktree", "add", "--quiet", "--detach", str(worktree),
                        args.baseline], cwd=ROOT, check=True)
        try:
            order = [(worktree, "baseline"), (ROOT, "head")]
            if not args.baseline_first:
                order.reverse()
            runs = {label: run_suite(checkout, args.pytest_args, label)
                    for checkout, label in order}
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT,
                           check=False)
    figures = report(runs["head"], runs["baseline"])
    for label in ("baseline", "head"):
        run = figures[label]
        group = "" if run["cgroup"] is None else f", cgroup {run['cgroup']} s"
        print(f"{label:8} {run['tests']:5} tests  CPU {run['cpu']} s{group}, wall "
              f"{run['wall']} s  ({run['summary']})")
    same = figures["same tests"]
    print(f"same     {same['tests']:5} tests  CPU {same['cpu']['baseline']} s then, "
          f"{same['cpu']['head']} s now ({same['cpu ratio']}); cgroup "
          f"{same['cgroup']['baseline']} s then, {same['cgroup']['head']} s now")
    if args.out:
        args.out.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
    return max(run["exit"] for run in runs.values())


if __name__ == "__main__":
    sys.exit(main())
