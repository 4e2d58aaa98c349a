"""Structured logs: one JSON object per line (``[server] log_format = "json"``).

Each line holds the time (UTC, ISO 8601), level, logger, the formatted message and, for
an error, the exception's type and its stack (file, line, function) — never the
exception's own message or local values, which could carry what a user typed. What the
message says is up to the code that logs it, and ours logs no names, serials or QR text.
Standard library only; no web framework.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from datetime import UTC, datetime


class JsonFormatter(logging.Formatter):
    """Formats a record as one line of JSON."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON object on one line."""
        doc: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(
                timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info and record.exc_info[0] is not None:
            exc_type, _exc, tb = record.exc_info
            doc["error"] = exc_type.__name__
            doc["stack"] = [f"{f.filename}:{f.lineno} in {f.name}"
                            for f in traceback.extract_tb(tb)]
        return json.dumps(doc, ensure_ascii=False)


def use_json_logs(logger_name: str = "cardservice") -> logging.Handler:
    """Send ``logger_name``'s records to stderr as JSON lines (once per logger)."""
    logger = logging.getLogger(logger_name)
    for handler in logger.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            return handler
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.propagate = False  # one line per event, not a second one in text
    return handler
