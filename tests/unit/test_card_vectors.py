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
}
PYTHON_CODEC = {"windows-874": "cp874"}  # the one label Python does not know as such
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
