"""The one JSON parser for request bodies: hostile documents are refused with a reason."""

from __future__ import annotations

import pytest

from cardservice import safejson
from cardservice.safejson import JsonBodyError, JsonTooLargeError

DEEP = 100_000

# name -> (body, words the refusal must contain)
HOSTILE: dict[str, tuple[bytes, str]] = {
    "arrays nested 100,000 deep (RecursionError inside json)": (
        b"[" * DEEP + b"]" * DEEP, "nested more than 32 levels"),
    "objects nested 100,000 deep": (b'{"a":' * DEEP + b"1" + b"}" * DEEP,
                                    "nested more than 32 levels"),
    "unclosed nesting 100,000 deep": (b'{"a":[' * DEEP, "nested more than 32 levels"),
    "33 levels, one past the budget": (b"[" * 33 + b"]" * 33, "nested more than 32 levels"),
    "NaN": (b'{"qr": NaN}', "NaN"),
    "Infinity": (b'{"qr": Infinity}', "Infinity"),
    "-Infinity": (b'[-Infinity]', "-Infinity"),
    "a float that overflows": (b'{"n": 1e999}', "too large"),
    "a 5,000-digit integer": (b'{"n": ' + b"9" * 5000 + b"}", "longer than 64"),
    "a duplicate key": (b'{"qr": "a", "qr": "b"}', "'qr' twice"),
    "a duplicate key in a nested object": (b'{"a": {"x": 1, "x": 2}}', "'x' twice"),
    "not UTF-8": (b'{"qr": "\xff\xfe"}', "UTF-8"),
    "truncated": (b'{"qr": "LC1:', "not valid JSON"),
    "trailing garbage": (b'{"qr": "x"} {}', "not valid JSON"),
    "empty": (b"", "not valid JSON"),
    "a lone surrogate escape is fine for json but trailing comma is not": (
        b'{"a": "\\ud800",}', "not valid JSON"),
    "single quotes": (b"{'qr': 'x'}", "not valid JSON"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_json_is_refused_with_a_reason(name):
    body, words = HOSTILE[name]
    with pytest.raises(JsonBodyError) as info:
        safejson.loads(body, max_bytes=12 * 1024 * 1024)  # depth, not size, must refuse these
    assert words in info.value.message, info.value.message
    assert info.value.http_status == 400
    assert isinstance(info.value, ValueError)  # Flask's get_json(silent=True) copes


def test_too_large_is_refused_before_decoding():
    body = b'{"qr": "' + b"x" * safejson.MAX_BYTES + b'"}'
    with pytest.raises(JsonTooLargeError) as info:
        safejson.loads(body)
    assert info.value.http_status == 413 and str(safejson.MAX_BYTES) in info.value.message
    assert safejson.loads(body, max_bytes=len(body))["qr"].startswith("xxx")


ACCEPTED = {
    "32 levels, the budget": (b"[" * 32 + b"]" * 32, None),
    "a BOM": (b'\xef\xbb\xbf{"qr": "LC1:x"}', {"qr": "LC1:x"}),
    "odd unicode": ('{"n": "\u202e\u200b\U0001f600 Nguyễn"}'.encode(),
                    {"n": "\u202e\u200b\U0001f600 Nguyễn"}),
    "null, numbers, booleans": (b'{"a": null, "b": -1.5e3, "c": 12, "d": true}',
                                {"a": None, "b": -1500.0, "c": 12, "d": True}),
    "text, not bytes": ('{"qr": "x"}', {"qr": "x"}),
}


@pytest.mark.parametrize("name", list(ACCEPTED))
def test_ordinary_json_is_accepted(name):
    body, expected = ACCEPTED[name]
    value = safejson.loads(body)
    if expected is not None:
        assert value == expected
    else:
        assert safejson.depth(value) == 32


def test_depth_counts_without_recursing():
    deep: list = []
    for _ in range(20_000):  # well past Python's recursion limit
        deep = [deep]
    assert safejson.depth(deep) == 20_001
    assert safejson.depth({"a": [1, {"b": []}]}) == 4
    assert safejson.depth("x") == 0
