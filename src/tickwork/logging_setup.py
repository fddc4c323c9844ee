"""Log output: human-readable text or one JSON object per line (``--log-format json``).

Either way a record is exactly one line plus its traceback: control characters in a
message (a request path, a name, a task's output) are escaped, so no text can forge a line
or send escape sequences to the terminal that shows the log.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from tickwork.escaping import escape_control


class TextFormatter(logging.Formatter):
    """The human-readable line, with control characters of the message escaped (the
    traceback, which the logging machinery adds, keeps its lines)."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_control(record.message)
        return super().formatMessage(record)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, logger, message, and exception if any."""

    def format(self, record: logging.LogRecord) -> str:
        data = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            "process": record.process,
            "thread": record.threadName,
        }
        fields = getattr(record, "fields", None)  # structured extras: extra={"fields": {...}}
        if isinstance(fields, dict):
            for key, value in fields.items():
                data.setdefault(key, value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


def configure_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send logs to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(
            TextFormatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%H:%M:%S")
        )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("alembic.runtime.migration", "httpx", "uvicorn.access"):
        logging.getLogger(name).setLevel(logging.WARNING)
