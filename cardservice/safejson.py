"""JSON from strangers: one parser with a size, depth and number budget.

Rules (each refusal is a ``JsonBodyError`` that says what was wrong, never a crash):

1. size: at most ``max_bytes`` bytes, checked before anything is decoded;
2. encoding: UTF-8 (a BOM is tolerated, as RFC 8259 allows parsers to);
3. syntax: strict JSON — no ``NaN``, ``Infinity`` or ``-Infinity``, no number that
   overflows a float or has more than ``MAX_NUMBER_CHARS`` characters;
4. no object with the same key twice (the last would silently win, and a refused
   field could hide behind its twin);
5. depth: at most ``max_depth`` nested arrays or objects. Python's decoder recurses, so
   a deep enough document raises ``RecursionError`` inside it; that is caught here and,
   like any document deeper than the budget, refused.

``JsonBodyError`` is a ``ValueError`` too, so code that expects a JSON decoder's
failure (Flask's ``get_json(silent=True)``) treats it as "not JSON".
"""

from __future__ import annotations

import json
import math
from typing import Any

from cardservice.errors import N_, InvalidInputError

MAX_DEPTH = 32
MAX_BYTES = 64 * 1024
MAX_NUMBER_CHARS = 64


class JsonBodyError(InvalidInputError, ValueError):
    """A request body that is not acceptable JSON; the message says why."""


class JsonTooLargeError(JsonBodyError):
    """A body larger than the endpoint accepts."""

    code = "too_large"
    http_status = 413


def _refuse_constant(name: str) -> Any:
    raise JsonBodyError(N_("The JSON body holds %(value)s, which is not a JSON number."),
                        params={"value": name})


def _number_text(text: str) -> None:
    if len(text) > MAX_NUMBER_CHARS:
        raise JsonBodyError(N_("The JSON body holds a number longer than %(max)d characters."),
                            params={"max": MAX_NUMBER_CHARS})


def _parse_int(text: str) -> int:
    _number_text(text)
    return int(text)


def _parse_float(text: str) -> float:
    _number_text(text)
    value = float(text)
    if math.isinf(value):
        raise JsonBodyError(N_("The JSON body holds a number too large to represent."))
    return value


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise JsonBodyError(N_("The JSON body holds the key '%(key)s' twice in one object."),
                                params={"key": key[:64]}, field=key[:64])
        result[key] = value
    return result


def depth(value: Any) -> int:
    """How many arrays and objects are nested in ``value`` (iteratively: never recurses)."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        level += 1
        deepest = max(deepest, level)
        stack.extend((child, level) for child in children)
    return deepest


def _too_deep(max_depth: int) -> JsonBodyError:
    return JsonBodyError(
        N_("The JSON body is nested more than %(max)d levels deep."), params={"max": max_depth})


def loads(data: bytes | str, *, max_bytes: int = MAX_BYTES, max_depth: int = MAX_DEPTH) -> Any:
    """Decode ``data`` within the budget; ``JsonBodyError`` says what was wrong."""
    # (1) size, before any decoding work
    if len(data) > max_bytes:
        raise JsonTooLargeError(N_("The JSON body is larger than %(max)d bytes."),
                                params={"max": max_bytes})
    # (2) encoding
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise JsonBodyError(N_("The JSON body is not valid UTF-8.")) from None
    else:
        text = data
    # (3), (4) strict syntax, numbers and duplicate keys; (5) recursion in the decoder
    try:
        value = json.loads(text, object_pairs_hook=_object, parse_constant=_refuse_constant,
                           parse_int=_parse_int, parse_float=_parse_float)
    except JsonBodyError:
        raise
    except RecursionError:
        raise _too_deep(max_depth) from None
    except ValueError as exc:
        raise JsonBodyError(N_("The body is not valid JSON: %(problem)s."),
                            params={"problem": _problem(exc)}) from None
    # (5) depth within the budget
    if depth(value) > max_depth:
        raise _too_deep(max_depth)
    return value


def _problem(exc: ValueError) -> str:
    """Where the decoder stopped, without echoing the input back."""
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg} (line {exc.lineno}, column {exc.colno})"
    return "a value that cannot be decoded"
