"""The documented test vectors (docs/vectors/*.json), checked by independent code.

The QR text is decoded with the ``base45`` package and ``zlib``, the COSE_Sign1 is
decoded and its signature verified with **pycose** (not cardservice's decoder), the
chain and kid with ``cryptography`` directly, and the claims with ``cbor2``, following
docs/card-format.md. Only the last test uses cardservice, to prove that the encoder
still produces these exact bytes (the format has not drifted).
"""

from __future__ import annotations

import codecs
import datetime as dt
import hashlib
import importlib.util
import json
import unicodedata
import zlib
from pathlib import Path

import base45
import cbor2
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from pycose.algorithms import EdDSA
from pycose.headers import KID, Algorithm
from pycose.keys import OKPKey
from pycose.keys.curves import Ed25519
from pycose.messages import Sign1Message

VECTOR_DIR = Path(__file__).resolve().parents[2] / "docs" / "vectors"
VECTORS = sorted(VECTOR_DIR.glob("*.json"))

# docs/card-format.md, "Holder claim": id byte -> WHATWG encoding label.
NAME_ENCODINGS = {
    1: "windows-1252",
    2: "windows-1250",
    3: "windows-1251",
    4: "windows-1253",
    5: "windows-1254",
    6: "windows-1255",
    7: "windows-1256",
    8: "windows-1257",
    9: "windows-1258",
    10: "windows-874",
    11: "iso-8859-16",
    12: "utf-16be",
    13: "viscii",
}
PYTHON_CODEC = {"windows-874": "cp874"}  # the one label Python does not know as such
# "viscii" (RFC 1456) is in neither Python's codecs nor the WHATWG standard: this file's
# own copy of its table, written as code points (cardservice.viscii spells the same
# letters out; tests/unit/test_viscii.py holds that one to glibc's iconv). Bytes below
# 0x80 are ASCII except six capitals in place of C0 controls.
VISCII_LOW = {0x02: 0x1EB2, 0x05: 0x1EB4, 0x06: 0x1EAA, 0x14: 0x1EF6, 0x19: 0x1EF8, 0x1E: 0x1EF4}
# fmt: off
VISCII_HIGH = [  # 0x80-0xFF, eight a line
    0x1EA0, 0x1EAE, 0x1EB0, 0x1EB6, 0x1EA4, 0x1EA6, 0x1EA8, 0x1EAC,
    0x1EBC, 0x1EB8, 0x1EBE, 0x1EC0, 0x1EC2, 0x1EC4, 0x1EC6, 0x1ED0,
    0x1ED2, 0x1ED4, 0x1ED6, 0x1ED8, 0x1EE2, 0x1EDA, 0x1EDC, 0x1EDE,
    0x1ECA, 0x1ECE, 0x1ECC, 0x1EC8, 0x1EE6, 0x0168, 0x1EE4, 0x1EF2,
    0x00D5, 0x1EAF, 0x1EB1, 0x1EB7, 0x1EA5, 0x1EA7, 0x1EA9, 0x1EAD,
    0x1EBD, 0x1EB9, 0x1EBF, 0x1EC1, 0x1EC3, 0x1EC5, 0x1EC7, 0x1ED1,
    0x1ED3, 0x1ED5, 0x1ED7, 0x1EE0, 0x01A0, 0x1ED9, 0x1EDD, 0x1EDF,
    0x1ECB, 0x1EF0, 0x1EE8, 0x1EEA, 0x1EEC, 0x01A1, 0x1EDB, 0x01AF,
    0x00C0, 0x00C1, 0x00C2, 0x00C3, 0x1EA2, 0x0102, 0x1EB3, 0x1EB5,
    0x00C8, 0x00C9, 0x00CA, 0x1EBA, 0x00CC, 0x00CD, 0x0128, 0x1EF3,
    0x0110, 0x1EE9, 0x00D2, 0x00D3, 0x00D4, 0x1EA1, 0x1EF7, 0x1EEB,
    0x1EED, 0x00D9, 0x00DA, 0x1EF9, 0x1EF5, 0x00DD, 0x1EE1, 0x01B0,
    0x00E0, 0x00E1, 0x00E2, 0x00E3, 0x1EA3, 0x0103, 0x1EEF, 0x1EAB,
    0x00E8, 0x00E9, 0x00EA, 0x1EBB, 0x00EC, 0x00ED, 0x0129, 0x1EC9,
    0x0111, 0x1EF1, 0x00F2, 0x00F3, 0x00F4, 0x00F5, 0x1ECF, 0x1ECD,
    0x1EE5, 0x00F9, 0x00FA, 0x0169, 0x1EE7, 0x00FD, 0x1EE3, 0x1EEE,
]
# fmt: on
HOLDER = -70001
# docs/card-format.md, "Claims": cti is the serial's value, a base-32 number written in
# Crockford's alphabet, as 7 big-endian bytes; "Holder claim": gender codes.
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
GENDERS = {1: "F", 2: "M", 3: "X"}


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def cose_bytes(qr: str) -> bytes:
    assert qr.startswith("LC1:")
    payload = base45.b45decode(qr[4:])
    if payload[0] == 0x78:
        cose = zlib.decompress(payload)
        assert len(payload) < len(cose)  # compressed only when shorter
        return cose
    assert payload[0] == 0xD2
    return payload


def decode_name(value) -> str:
    if isinstance(value, str):
        return value
    label = NAME_ENCODINGS[value[0]]
    if label == "viscii":
        text = "".join(
            chr(VISCII_HIGH[b - 0x80] if b >= 0x80 else VISCII_LOW.get(b, b)) for b in value[1:]
        )
    else:
        text = value[1:].decode(codecs.lookup(PYTHON_CODEC.get(label, label)).name)
    return unicodedata.normalize("NFC", text)


def decode_serial(cti: bytes) -> str:
    assert isinstance(cti, bytes) and len(cti) == 7
    value = int.from_bytes(cti, "big")
    assert value < 32**11
    digits = []
    for _ in range(11):
        value, digit = divmod(value, 32)
        digits.append(CROCKFORD[digit])
    return "".join(reversed(digits))


def iso(seconds: int) -> str:
    return dt.datetime.fromtimestamp(seconds, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_there_are_at_least_three_vectors_one_non_latin():
    names = [load(p)["expected"]["card"]["holder"]["name"] for p in VECTORS]
    assert len(names) >= 3
    assert any(not all(ch < "\u0250" for ch in name) for name in names)


def test_vectors_cover_text_utf16_and_both_vietnamese_forms():
    forms = {load(p)["expected"]["name_encoding"] for p in VECTORS}
    assert {"utf-8 text", "utf-16be", "windows-1258", "viscii"} <= forms


def test_the_viscii_vector_holds_a_letter_from_the_c0_range():
    (vector,) = [load(p) for p in VECTORS if load(p)["expected"]["name_encoding"] == "viscii"]
    name_bytes = bytes.fromhex(vector["expected"]["claims"]["-70001 (holder)"][0]["bytes_hex"])
    assert name_bytes[0] == 13 and set(name_bytes[1:]) & set(VISCII_LOW)
    assert len(VISCII_HIGH) == 128


def test_vectors_cover_every_gender_code_and_a_serial_with_leading_zeros():
    cards = [load(p)["expected"]["card"] for p in VECTORS]
    assert {c["holder"]["gender"] for c in cards} == {"F", "M", "X", None}
    assert any(c["serial"].startswith("00") for c in cards)


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_vector_verifies_with_pycose(path):
    vector = load(path)
    cose = cose_bytes(vector["qr"])
    assert cose.hex() == vector["cose_hex"]
    assert (base45.b45decode(vector["qr"][4:])[0] == 0x78) == vector["zlib"]

    root = x509.load_pem_x509_certificate(vector["root_certificate"].encode())
    signing = x509.load_pem_x509_certificate(vector["signing_certificate"].encode())
    signing.verify_directly_issued_by(root)
    der = signing.public_bytes(serialization.Encoding.DER)
    kid = hashlib.sha256(der).digest()[:8]
    assert kid.hex() == vector["kid_hex"]
    root_hash = hashlib.sha256(root.public_bytes(serialization.Encoding.DER)).hexdigest()
    assert vector["root_fingerprint"].replace(" ", "") == root_hash.upper()

    message = Sign1Message.decode(cose)
    assert message.phdr[Algorithm] is EdDSA
    assert message.phdr[KID] == kid
    assert dict(message.uhdr) == {}
    raw_key = signing.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    message.key = OKPKey(crv=Ed25519, x=raw_key)
    assert message.verify_signature()

    # The signed claims, read with cbor2 against the documented layout.
    claims = cbor2.loads(message.payload)
    assert sorted(claims) == sorted([1, 4, 6, 7, HOLDER])
    expected = vector["expected"]
    assert claims[1] == expected["claims"]["1 (iss)"]
    assert claims[4] == expected["claims"]["4 (exp)"]
    assert claims[6] == expected["claims"]["6 (iat)"]
    assert {"bytes_hex": claims[7].hex()} == expected["claims"]["7 (cti)"]
    holder = claims[HOLDER]
    wire = expected["claims"][f"{HOLDER} (holder)"]
    if isinstance(holder[0], bytes):
        assert {"bytes_hex": holder[0].hex()} == wire[0]
        assert NAME_ENCODINGS[holder[0][0]] == expected["name_encoding"]
    else:
        assert holder[0] == wire[0] and expected["name_encoding"] == "utf-8 text"
    assert holder[1:] == wire[1:]

    card = expected["card"]
    assert card["issuer"] == claims[1]
    assert card["serial"] == decode_serial(claims[7])
    assert card["issued_at"] == iso(claims[6]) and card["expires_at"] == iso(claims[4])
    assert card["holder"]["name"] == decode_name(holder[0])
    born = dt.date(1970, 1, 1) + dt.timedelta(days=holder[1])
    assert card["holder"]["date_of_birth"] == born.isoformat()
    assert card["holder"]["gender"] == (GENDERS[holder[2]] if len(holder) == 3 else None)
    # Signed within the signing certificate's validity.
    assert signing.not_valid_before_utc.timestamp() <= claims[6]
    assert claims[4] <= signing.not_valid_after_utc.timestamp()


@pytest.mark.parametrize("path", VECTORS, ids=[p.stem for p in VECTORS])
def test_pycose_refuses_a_tampered_vector(path):
    vector = load(path)
    cose = bytearray(cose_bytes(vector["qr"]))
    cose[-1] ^= 0x01  # last signature byte
    message = Sign1Message.decode(bytes(cose))
    signing = x509.load_pem_x509_certificate(vector["signing_certificate"].encode())
    message.key = OKPKey(
        crv=Ed25519,
        x=signing.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        ),
    )
    assert not message.verify_signature()


def test_the_encoder_still_produces_the_documented_vectors():
    spec = importlib.util.spec_from_file_location("make_vectors", VECTOR_DIR / "make_vectors.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build()
    assert sorted(built) == sorted(p.stem for p in VECTORS)
    for path in VECTORS:
        assert built[path.stem] == load(path), path.name
