"""Tests for cardservice.viscii: the RFC 1456 table, checked entry by entry."""

from __future__ import annotations

import re
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cardservice import viscii

JS = Path(__file__).resolve().parents[2] / "cardservice" / "static" / "js" / "card-offline.js"

# Every Vietnamese letter: the twelve vowels with no tone and each of the five tones
# (grave, acute, tilde, hook above, dot below), both cases, and đ Đ.
VOWELS = "aăâeêioôơuưy"
TONES = ("", "\u0300", "\u0301", "\u0303", "\u0309", "\u0323")
VIETNAMESE_LETTERS = {
    unicodedata.normalize("NFC", v + t) for v in VOWELS + VOWELS.upper() for t in TONES
} | {"đ", "Đ"}
# The six letters RFC 1456 puts in place of C0 controls.
C0_LETTERS = {0x02: "Ẳ", 0x05: "Ẵ", 0x06: "Ẫ", 0x14: "Ỷ", 0x19: "Ỹ", 0x1E: "Ỵ"}


def test_the_table_is_a_bijection_of_256_bytes_and_256_characters():
    assert len(viscii.DECODING_TABLE) == 256
    assert len(set(viscii.DECODING_TABLE)) == 256
    assert viscii.encode(viscii.DECODING_TABLE) == bytes(range(256))
    assert viscii.decode(bytes(range(256))) == viscii.DECODING_TABLE


def test_the_table_holds_every_precomposed_vietnamese_letter():
    non_ascii = {ch for ch in VIETNAMESE_LETTERS if ord(ch) >= 0x80}
    assert len(VIETNAMESE_LETTERS) == 146 and len(non_ascii) == 134
    assert all(len(ch) == 1 for ch in VIETNAMESE_LETTERS)  # each has a precomposed form
    assert set(viscii.LETTERS) == non_ascii and len(viscii.LETTERS) == 134
    assert set(viscii.DECODING_TABLE) == non_ascii | {
        chr(b) for b in range(0x80) if b not in C0_LETTERS
    }


def test_ascii_is_ascii_except_six_c0_positions():
    for b in range(0x80):
        assert viscii.DECODING_TABLE[b] == C0_LETTERS.get(b, chr(b)), hex(b)
    printable = bytes(range(0x20, 0x7F))
    assert viscii.decode(printable) == printable.decode("ascii")
    assert viscii.encode(printable.decode("ascii")) == printable


def test_the_table_matches_glibc_iconv():
    """An implementation that is not ours: glibc's VISCII charmap (Debian's libc-bin)."""
    iconv = shutil.which("iconv")
    assert iconv, "iconv (libc-bin) is on every Debian machine"
    out = subprocess.run(
        [iconv, "-f", "VISCII", "-t", "UTF-8"], input=bytes(range(256)), capture_output=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode("utf-8") == viscii.DECODING_TABLE


def test_the_browser_carries_the_same_table():
    """card-offline.js spells the table out the same way: six C0 letters, 128 high ones."""
    source = JS.read_text(encoding="utf-8")
    low = re.search(r"const VISCII_LOW = \{([^}]*)\}", source)
    assert low
    pairs = re.findall(r'0x([0-9a-f]{2}): "(.)"', low[1])
    assert {int(b, 16): ch for b, ch in pairs} == C0_LETTERS
    high = re.search(r"const VISCII_HIGH =\n((?:.*\n){8})", source)
    assert high
    rows = re.findall(r'"(.{16})"', high[1])
    assert "".join(rows) == viscii.DECODING_TABLE[0x80:]


@pytest.mark.parametrize("text", ["ü", "ñ", "Ω", "e\u0303", "\u0002", "\u001e", "€"])
def test_characters_outside_the_table_cannot_be_encoded(text):
    with pytest.raises(UnicodeEncodeError):
        viscii.encode(text)


def test_every_letter_round_trips():
    for letter in viscii.LETTERS:
        assert len(viscii.encode(letter)) == 1
        assert viscii.decode(viscii.encode(letter)) == letter


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=120))
def test_any_bytes_decode_and_encode_back(data):
    assert viscii.encode(viscii.decode(data)) == data
