"""JSON log lines: one object per line, an error's type and stack but never its message."""

from __future__ import annotations

import json
import logging

from cardservice.logjson import JsonFormatter


def _record(msg: str, *args: object, exc: BaseException | None = None) -> logging.LogRecord:
    exc_info = (type(exc), exc, exc.__traceback__) if exc is not None else None
    return logging.LogRecord("cardservice.verify", logging.WARNING, __file__, 1, msg, args,
                             exc_info)


def test_a_record_is_one_json_line():
    line = JsonFormatter().format(_record("counts not saved yet: %s", "OperationalError"))
    assert "\n" not in line
    doc = json.loads(line)
    assert doc["level"] == "warning" and doc["logger"] == "cardservice.verify"
    assert doc["message"] == "counts not saved yet: OperationalError"
    assert doc["time"].endswith("Z")


def test_an_error_keeps_its_type_and_stack_not_its_message():
    try:
        raise ValueError("Ana Maria Conceição da Silva 1990-04-12")
    except ValueError as exc:
        line = JsonFormatter().format(_record("unhandled error on %s %s", "GET", "/x", exc=exc))
    doc = json.loads(line)
    assert doc["error"] == "ValueError"
    assert any("test_an_error_keeps_its_type" in frame for frame in doc["stack"])
    assert "Conceição" not in line and "1990-04-12" not in line
