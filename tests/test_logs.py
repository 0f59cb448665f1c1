"""JSON logs (issue 15): ``[log] format = "json"`` gives one JSON object a line on standard
error, from the command line as from ``run``; a wrong value is a settings problem."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from awareness.logs import JsonFormatter
from tests.conftest import ROOT, free_port, settings_env

pytestmark = pytest.mark.integration  # the command line in a process of its own


def awareness(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "awareness", *args], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)


def test_json_logs_are_one_object_a_line_from_the_command_line(tmp_path: Path) -> None:
    subs = tmp_path / "subscriptions"
    (subs / "topics").mkdir(parents=True)
    closed = free_port()  # nothing listens there: the poll fails and says so in the log
    (subs / "sources.toml").write_text(
        f'[[source]]\nid = "away"\nname = "Away"\npublisher = "NHS England"\nkind = "feed"\n'
        f'url = "http://127.0.0.1:{closed}/feed"\n')
    env = settings_env(tmp_path, f"sqlite:///{tmp_path / 'awareness.db'}",
                       AWARENESS_PATHS_SUBSCRIPTIONS=str(subs), AWARENESS_LOG_FORMAT="json",
                       PATH="/usr/bin:/bin")
    assert awareness(env, "init").returncode == 0
    polled = awareness(env, "poll")
    # The log's lines are JSON; the command's own report (on standard error too) is not a log.
    lines = [json.loads(line) for line in polled.stderr.splitlines() if line.startswith("{")]
    assert " WARNING " not in polled.stderr  # no line in the text format
    [failed] = [line for line in lines if line["logger"] == "awareness.service.polling"]
    assert failed["level"] == "WARNING"
    assert failed["message"].startswith("source away failed")
    assert set(failed) == {"time", "level", "logger", "message"}
    assert failed["time"].endswith("+00:00")

    wrong = awareness({**env, "AWARENESS_LOG_FORMAT": "yaml"}, "check")
    assert wrong.returncode != 0
    assert "AWARENESS_LOG_FORMAT" in wrong.stdout + wrong.stderr


def test_a_json_line_carries_the_exception_text() -> None:
    try:
        raise ValueError("bad feed\nsecond line")
    except ValueError:
        record = logging.LogRecord("awareness.x", logging.ERROR, __file__, 1, "polling %s",
                                   ("s1",), sys.exc_info())
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["message"] == "polling s1"
    assert parsed["level"] == "ERROR"
    assert parsed["exception"].startswith("Traceback")
    assert "ValueError: bad feed\nsecond line" in parsed["exception"]
