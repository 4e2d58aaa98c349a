"""Hypothesis strategies for hostile request bodies and files (tests/web/test_fuzz.py and
bench/bench_fuzz.py share them).

Each strategy mixes plain random input with shapes that broke real parsers: deep
nesting, numbers no float holds, NaN and Infinity, duplicate keys, invalid UTF-8, odd
unicode, huge strings, and images whose header promises more than the file holds.
"""

from __future__ import annotations

import functools
import io
import json
import struct
import zlib

import cbor2
from hypothesis import strategies as st
from PIL import Image

# Names a body might carry: the API's own, never-collected ones, and document details.
KEYS = st.sampled_from([
    "qr", "serial", "date_of_birth", "renewal_code", "kind", "changes", "reason", "url",
    "fingerprint", "given_names", "family_names", "address", "line1", "care_of",
    "no_fixed_address", "documents", "category", "points", "number", "photo", "gender",
    "contact", "email", "phone", "languages", "fee_waiver", "confirm_new", "nationality",
    "place_of_birth", "passport_number", "ssn", "", "__proto__", "constructor",
]) | st.text(max_size=12)

ODD_TEXT = st.sampled_from([
    "\u202e\u2066evil\u2069", "\u200b\u200c\u200d\ufeff", "\ud7ff\ue000\uffff", "e\u0301" * 50,
    "\U0001f600\U0001f1f5\U0001f1f9", "\x00\x01\x1f\x7f", "LC1:" + "A" * 5000, "LC1:",
    "Nguyễn Thị", "王小明", "محمد", "1990-02-30", "0000-00-00", "9999-12-31", "+1e5",
])
SCALARS = (st.none() | st.booleans() | st.integers(-(2**70), 2**70)
           | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=40) | ODD_TEXT)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=25)


def _dumps(value: object, ascii_only: bool) -> bytes:
    return json.dumps(value, ensure_ascii=ascii_only).encode("utf-8", "surrogatepass")


@st.composite
def _plain(draw: st.DrawFn) -> bytes:
    body = draw(st.dictionaries(KEYS, JSON_VALUES, max_size=8))
    return _dumps(body, draw(st.booleans()))


@st.composite
def _deep(draw: st.DrawFn) -> bytes:
    depth = draw(st.sampled_from([31, 32, 33, 100, 999, 1000, 5000, 30_000, 100_000]))
    opener, closer = draw(st.sampled_from([(b"[", b"]"), (b'{"a":', b"}"), (b'{"qr":[', b"]}")]))
    closed = draw(st.booleans())
    return opener * depth + b"1" + (closer * depth if closed else b"")


@st.composite
def _spliced(draw: st.DrawFn) -> bytes:
    """A plausible body with one hostile token spliced in as a value."""
    key = draw(KEYS)
    token = draw(st.sampled_from([
        b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"1" * 5000, b"0." + b"0" * 400,
        b'"' + b"x" * 200_000 + b'"', b'"\\ud800"', b'"\\u0000"', b"\xff\xfe", b"\xc3\x28",
        b"[" * 40 + b"]" * 40, b"{}", b"null", b'"' + "é".encode() * 1000 + b'"',
    ]))
    dup = draw(st.booleans())
    head = b'{"' + key.encode("utf-8", "surrogatepass") + b'": ' + token
    return head + (b', "' + key.encode("utf-8", "surrogatepass") + b'": 1}' if dup else b"}")


@st.composite
def _broken(draw: st.DrawFn) -> bytes:
    good = draw(_plain())
    cut = draw(st.integers(0, max(0, len(good) - 1)))
    return good[:cut] + draw(st.binary(max_size=8))


def hostile_json() -> st.SearchStrategy[bytes]:
    """Bodies sent as application/json: some valid JSON, most of them not acceptable."""
    return st.one_of(_plain(), _deep(), _spliced(), _broken(), st.binary(max_size=64))


# ---- files ----------------------------------------------------------------------------------

@functools.cache
def _samples() -> tuple[bytes, ...]:
    out = []
    for fmt in ("PNG", "JPEG", "WEBP", "GIF", "BMP"):
        buf = io.BytesIO()
        Image.new("RGB", (64, 48), (200, 30, 90)).save(buf, fmt)
        out.append(buf.getvalue())
    return tuple(out)


def _png_claiming(width: int, height: int) -> bytes:
    """A PNG whose header promises width × height pixels, with one tiny compressed row."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr)
            + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b""))


def _pdf(width: int, height: int, content: bytes) -> bytes:
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 %d %d] /Contents 4 0 R >>"
            % (width, height),
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream"]
    out = b"%PDF-1.4\n"
    for i, obj in enumerate(objs, 1):
        out += b"%d 0 obj\n" % i + obj + b"\nendobj\n"
    return out + b"trailer\n<< /Root 1 0 R >>\n%%EOF\n"


@st.composite
def _mutated_sample(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_samples())))
    for _ in range(draw(st.integers(0, 8))):
        i = draw(st.integers(0, len(data) - 1))
        data[i] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return bytes(data[:cut])


def hostile_files(*, max_pdf_points: int = 2000) -> st.SearchStrategy[bytes]:
    """Uploads: random bytes, real small images mutated or cut, images whose header lies
    about their size, small PDFs with odd content. (Pages far larger than ``max_pdf_points``
    are the heavy-decoding work's own tests.)"""
    sizes = st.integers(1, max_pdf_points)
    return st.one_of(
        st.binary(max_size=4096),
        _mutated_sample(),
        st.builds(_png_claiming, st.sampled_from([1, 65535, 100_000, 2**31 - 1]),
                  st.sampled_from([1, 65535, 100_000, 2**31 - 1])),
        st.builds(_pdf, sizes, sizes, st.binary(max_size=256)
                  | st.just(b"0 0 m 100 100 l S") | st.just(b"q 1 0 0 1 0 0 cm BI ID EI Q")),
        st.sampled_from([b"", b"%PDF-", b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"RIFF\x00\x00"
                         b"\x00\x00WEBP", b"GIF89a"]),
    )


# ---- COSE -----------------------------------------------------------------------------------

CBOR_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**64), 2**64) | st.binary(max_size=64)
    | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(
        st.integers(-8, 8) | st.text(max_size=6), inner, max_size=5),
    max_leaves=20)


def hostile_cose() -> st.SearchStrategy[bytes]:
    """Bodies of a recognition request: random bytes and CBOR shaped like COSE_Sign1."""
    sign1 = st.builds(lambda p, u, payload, sig: cbor2.dumps(cbor2.CBORTag(18, [p, u, payload,
                                                                                sig])),
                      st.binary(max_size=32) | st.builds(cbor2.dumps, CBOR_VALUES),
                      st.dictionaries(st.integers(-8, 8), CBOR_VALUES, max_size=3),
                      st.binary(max_size=512) | st.builds(cbor2.dumps, CBOR_VALUES),
                      st.binary(min_size=0, max_size=80))
    return st.one_of(st.binary(max_size=1024), st.builds(cbor2.dumps, CBOR_VALUES), sign1)
