"""How a card writes its holder's name in as few bytes as possible (pure; part of ``LC1:``).

A name is carried as UTF-8 text, or — when strictly shorter and exact — as a compact
byte string ``id || bytes`` in one of :data:`NAME_ENCODINGS`. Decoding a compact form
ends in NFC; an encoder only chooses a compact form that decodes back to exactly the
name. The ids are fixed for ``LC1:`` and never reused (docs/card-format.md).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from cardservice import viscii

__all__ = ["NAME_ENCODINGS", "VISCII_ID", "code_page_form", "decode_compact_name",
           "encode_name"]

#: Encodings a holder name may be written in, by the id byte that starts the compact
#: (byte-string) form: (Python codec, WHATWG encoding label). Single-byte code pages
#: write alphabetic scripts in one byte a letter (UTF-8 takes two); UTF-16 writes
#: CJK, Ethiopic, Indic and other scripts in two (UTF-8 takes three). All are in the
#: WHATWG Encoding Standard, so a browser's TextDecoder reads them too, except VISCII
#: (id 13: RFC 1456, every precomposed Vietnamese letter in one byte), which is in
#: neither Python's codecs nor the WHATWG standard: its "codec" is
#: :mod:`cardservice.viscii` and its label the IANA name, and card-offline.js carries
#: its table. Fixed for ``LC1:``; ids are never reused. See docs/card-format.md.
NAME_ENCODINGS: dict[int, tuple[str, str]] = {
    1: ("cp1252", "windows-1252"),  # Western European
    2: ("cp1250", "windows-1250"),  # Central European
    3: ("cp1251", "windows-1251"),  # Cyrillic
    4: ("cp1253", "windows-1253"),  # Greek
    5: ("cp1254", "windows-1254"),  # Turkish
    6: ("cp1255", "windows-1255"),  # Hebrew
    7: ("cp1256", "windows-1256"),  # Arabic, Urdu
    8: ("cp1257", "windows-1257"),  # Baltic
    9: ("cp1258", "windows-1258"),  # Vietnamese (tone marks as combining characters)
    10: ("cp874", "windows-874"),  # Thai
    11: ("iso8859_16", "iso-8859-16"),  # South-Eastern European (Romanian ș ț)
    12: ("utf_16_be", "utf-16be"),  # any script; shortest for CJK, Ethiopic, Indic...
    13: ("viscii", "viscii"),  # Vietnamese, every tone precomposed (cardservice.viscii)
}
VISCII_ID = 13


def code_page_form(name: str, codec: str) -> bytes | None:
    """``name`` in one of :data:`NAME_ENCODINGS`, or None when it cannot be written so.

    A character the code page lacks is tried as its base letter (with the marks the
    code page cannot write separately) followed by combining marks it can write:
    this is how windows-1258 writes Vietnamese tones (ễ = ê + U+0303). VISCII has no
    combining marks: it writes the NFC form of the name, precomposed letters only.
    """
    if codec == "viscii":
        try:
            return viscii.encode(unicodedata.normalize("NFC", name))
        except UnicodeEncodeError:
            return None
    try:
        # Every codec here is stateless: the whole name encodes to what the loop below
        # would join character by character. Only a name it cannot write needs the loop.
        return name.encode(codec)
    except UnicodeEncodeError:
        pass
    out = bytearray()
    for ch in name:
        try:
            out += ch.encode(codec)
            continue
        except UnicodeEncodeError:
            pass
        decomposed = unicodedata.normalize("NFD", ch)
        attached, loose = [], []
        for mark in decomposed[1:]:
            try:
                mark.encode(codec)
                loose.append(mark)
            except UnicodeEncodeError:
                attached.append(mark)
        head = unicodedata.normalize("NFC", decomposed[0] + "".join(attached))
        try:
            out += (head + "".join(loose)).encode(codec)
        except UnicodeEncodeError:
            return None
    return bytes(out)


def decode_compact_name(data: bytes) -> str:
    """The holder name a compact form (``id || bytes``) writes; ``ValueError`` if unknown."""
    codec = NAME_ENCODINGS.get(data[0]) if data else None
    if codec is None:
        raise ValueError("unknown name encoding")
    # Every VISCII byte has a character; the C0 controls among them are refused by the
    # name check (credential's holder rule) like any control character, so the form stays strict.
    text = viscii.decode(data[1:]) if data[0] == VISCII_ID else data[1:].decode(codec[0])
    return unicodedata.normalize("NFC", text)


def encode_name(name: str, encodings: Iterable[int] | None = None) -> str | bytes:
    """The shortest exact form of a name: UTF-8 text, or an encoded byte string.

    The byte-string form is ``id || bytes``; it is used only when strictly shorter and
    when decoding it (code page, then NFC) gives back exactly ``name``. Candidates are
    tried in id order and a later one must be strictly shorter to win, so a tie goes
    to the older encoding: VISCII (13) takes only names with a tone windows-1258 writes
    as a combining mark (they were windows-1258 or UTF-8 text); no other name changes.
    ``encodings`` limits the ids tried (test vectors made before an id existed).
    """
    best: str | bytes = name
    if name.isascii():
        # UTF-8 writes ASCII in one byte a letter; no compact form, with its id byte, can
        # be strictly shorter.
        return best
    best_len = len(name.encode("utf-8"))
    for code in NAME_ENCODINGS if encodings is None else sorted(encodings):
        body = code_page_form(name, NAME_ENCODINGS[code][0])
        if body is None or len(body) + 1 >= best_len:
            continue
        candidate = bytes([code]) + body
        try:
            if decode_compact_name(candidate) != name:
                continue
        except (ValueError, UnicodeDecodeError):
            continue
        best, best_len = candidate, len(candidate)
    return best
