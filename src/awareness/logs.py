"""The log's format (shell; issue 15): text for a person at a terminal, or one JSON object a
line for a log collector (``[log] format = "json"``, ``AWARENESS_LOG_FORMAT=json``).

A JSON line holds ``time`` (UTC, ISO 8601), ``level``, ``logger`` and ``message``, and
``exception`` (the traceback's text) when the record carries one. Nothing else: a log line
says what the message says, as the text format does.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per record, on one line (newlines inside are escaped)."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, str] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def use_format(log_format: str) -> None:
    """Give every handler of the root logger the chosen format ("text" or "json")."""
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    for handler in logging.getLogger().handlers:
        handler.setFormatter(formatter)
