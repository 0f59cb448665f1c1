"""The pure core must not pull in I/O libraries (docs/architecture.md)."""

from __future__ import annotations

import subprocess
import sys

import pytest

pytestmark = pytest.mark.integration  # each test starts a Python process

CORE = [
    "awareness.model", "awareness.links", "awareness.errors", "awareness.subscriptions",
    "awareness.sources.parse", "awareness.sources.schedule", "awareness.topics.query",
    "awareness.drivers.importer", "awareness.drivers.linking", "awareness.digests.build",
    "awareness.digests.schedule",
    "awareness.digests.render", "awareness.addresses", "awareness.toml_checks",
    "awareness.htmlparsing", "awareness.drivers.html",
]
FORBIDDEN = ["httpx", "sqlalchemy", "smtplib", "apscheduler", "uvicorn", "starlette"]


def test_core_imports_no_io_libraries():
    code = (
        "import sys\n"
        + "".join(f"import {name}\n" for name in CORE)
        + f"print(','.join(m for m in {FORBIDDEN!r} if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == ""


def test_the_check_would_notice_a_forbidden_import():
    # Guards the test above: the same probe does see an I/O library when one is imported.
    code = "import sys, awareness.sources.fetch; print('httpx' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            check=True)
    assert result.stdout.strip() == "True"
