"""Every benchmark still runs. They call into the service below its public functions (a poll's
storing step, a digest's queueing) and nothing else exercises them, so a change of signature
broke three of them silently once; here each runs on the smallest input it takes and must
finish cleanly. The figures they print are for docs/performance.md, never asserted."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration  # each benchmark is a process, with its own servers

SMALL = {
    "pipeline": ["--sources", "3", "--items", "4", "--topics", "10", "--repeat", "1"],
    "storing": ["--sources", "3", "--items", "4", "--repeat", "1"],
    "digests": ["--subscribers", "3", "--items", "2", "--repeat", "1"],
    "topics_try": ["--sizes", "100", "--repeat", "1"],
    "polling": ["--sources", "3", "--items", "4", "--repeat", "1", "--runs", "1"],
    "suite": ["--baseline", "HEAD", "--", "tests/test_query_ebsco.py"],  # one small file
}


@pytest.mark.parametrize("bench", sorted(SMALL))
def test_the_benchmark_runs(bench: str) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / f"{bench}.py"), *SMALL[bench]],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip(), "a benchmark prints its figures"
