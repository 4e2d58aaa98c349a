"""VISCII, the Vietnamese 8-bit character set of RFC 1456 (IANA charset ``VISCII``).

VISCII writes every precomposed Vietnamese letter in one byte: the 134 letters that
are not ASCII (a ă â e ê i o ô ơ u ư y with each of the five tones, both cases, and
đ Đ) take 0x80-0xFF and six C0 positions (0x02 Ẳ, 0x05 Ẵ, 0x06 Ẫ, 0x14 Ỷ, 0x19 Ỹ,
0x1E Ỵ); every other byte below 0x80 is ASCII. The table is a bijection between the
256 byte values and 256 distinct code points, so the six C0 controls it displaces
(U+0002, U+0005, U+0006, U+0014, U+0019, U+001E) cannot be written at all.

Neither Python's codecs nor the WHATWG Encoding Standard (a browser's TextDecoder)
has VISCII, so the table is carried here and, once more, in
``cardservice/static/js/card-offline.js``; the tests hold the two to each other and
to glibc's iconv. Nothing is registered with :mod:`codecs`: importing this module
changes no global state.
"""

from __future__ import annotations

import codecs

__all__ = ["DECODING_TABLE", "LETTERS", "decode", "encode"]

# The 128 letters at 0x80-0xFF, sixteen a line, in RFC 1456's order.
_HIGH_HALF = (
    "ẠẮẰẶẤẦẨẬẼẸẾỀỂỄỆỐ"  # 0x80-0x8F
    "ỒỔỖỘỢỚỜỞỊỎỌỈỦŨỤỲ"  # 0x90-0x9F
    "Õắằặấầẩậẽẹếềểễệố"  # 0xA0-0xAF
    "ồổỗỠƠộờởịỰỨỪỬơớƯ"  # 0xB0-0xBF
    "ÀÁÂÃẢĂẳẵÈÉÊẺÌÍĨỳ"  # 0xC0-0xCF
    "ĐứÒÓÔạỷừửÙÚỹỵÝỡư"  # 0xD0-0xDF
    "àáâãảăữẫèéêẻìíĩỉ"  # 0xE0-0xEF
    "đựòóôõỏọụùúũủýợỮ"  # 0xF0-0xFF
)
# The six capitals that take the place of C0 controls.
_LOW_LETTERS = {0x02: "Ẳ", 0x05: "Ẵ", 0x06: "Ẫ", 0x14: "Ỷ", 0x19: "Ỹ", 0x1E: "Ỵ"}

#: Byte value -> character: 256 distinct characters, the form ``codecs.charmap_decode``
#: takes.
DECODING_TABLE = "".join(_LOW_LETTERS.get(b, chr(b)) for b in range(0x80)) + _HIGH_HALF
#: The 134 letters VISCII adds to ASCII, in byte order.
LETTERS = "".join(ch for ch in DECODING_TABLE if ord(ch) >= 0x80)

_ENCODING_MAP = codecs.charmap_build(DECODING_TABLE)


def encode(text: str) -> bytes:
    """``text`` in VISCII; :class:`UnicodeEncodeError` for a character it cannot write.

    Only precomposed letters are in the table: pass NFC text (a letter followed by a
    combining tone mark has no VISCII form).
    """
    data, _ = codecs.charmap_encode(text, "strict", _ENCODING_MAP)
    return data


def decode(data: bytes) -> str:
    """VISCII bytes as text. Every byte has a character, C0 controls included."""
    text, _ = codecs.charmap_decode(data, "strict", DECODING_TABLE)
    return text
