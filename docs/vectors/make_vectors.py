"""Regenerate the card test vectors in docs/vectors/ (deterministically).

Fixed Ed25519 seeds and fixed times make every byte reproducible: Ed25519 signatures
are deterministic and certificate serials are derived from the key and start time.
Running this again must leave the files unchanged; ``--check`` fails when they differ.

    .venv/bin/python docs/vectors/make_vectors.py [--check]

The keys below are public test keys: never use them for a real city.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import hashlib
import json
import sys
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

import base45
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice import credential, namecodec, pki

HERE = Path(__file__).resolve().parent
CITY_ID = "PTLIS"
CITY_NAME = "Lisboa"
ROOT_TIME = dt.datetime(2026, 1, 1, 0, 0, 0, tzinfo=dt.UTC)
SIGNING_DAYS = 365 + 5 * 366 + 1  # one signing year plus the longest card validity


def _seeded(label: str) -> Ed25519PrivateKey:
    seed = hashlib.sha256(f"cardservice test vector: {label}".encode()).digest()
    return Ed25519PrivateKey.from_private_bytes(seed)


VECTORS = [
    # (file stem, description, name, date of birth, gender, serial, issued at, years)
    # Serials are real ones (cardservice.serials: 10 random characters and the check
    # character), though the credential does not check the check character.
    (
        "01-latin-text",
        "ASCII name: the name is a CBOR text string (UTF-8).",
        "Ana Maria Silva",
        dt.date(1984, 7, 9),
        "F",
        "7K2M9XD4P3J",
        dt.datetime(2026, 2, 2, 10, 20, 30, tzinfo=dt.UTC),
        5,
    ),
    (
        "02-cyrillic-windows-1251",
        "Cyrillic name, no gender marker: the name is a byte string in windows-1251 (id 3).",
        "Мария Ивановна Петрова",
        dt.date(1969, 12, 31),
        None,
        "Q4ZR1B7T0HV",
        dt.datetime(2026, 3, 15, 8, 0, 0, tzinfo=dt.UTC),
        5,
    ),
    (
        "03-arabic-windows-1256",
        "Arabic name: the name is a byte string in windows-1256 (id 7).",
        "عبد الرحمن بن محمد الهاشمي",
        dt.date(1958, 1, 20),
        "M",
        "M0C3YJ9WQ2T",
        dt.datetime(2026, 4, 1, 12, 0, 0, tzinfo=dt.UTC),
        5,
    ),
    (
        "04-chinese-utf-16",
        "Chinese name, gender X (3): the name is a byte string in UTF-16BE (id 12). The "
        "serial starts with zeros: its 7-byte cti starts with zero bytes, and a verifier "
        "pads the serial back to 11 characters.",
        "王小明",
        dt.date(2001, 11, 3),
        "X",
        "00A9B8C7D6P",
        dt.datetime(2026, 5, 5, 15, 45, 0, tzinfo=dt.UTC),
        1,
    ),
    (
        "05-vietnamese-windows-1258",
        "Vietnamese name: windows-1258 (id 9), tone marks as combining characters; "
        "decode, then NFC.",
        "Nguyễn Thị Phương Thảo",
        dt.date(1992, 2, 29),
        "F",
        "HV8N3K2P0RV",
        dt.datetime(2026, 6, 30, 23, 59, 59, tzinfo=dt.UTC),
        5,
    ),
    (
        "06-persian-text",
        "Persian name with a zero-width non-joiner: no one-byte table has Persian yeh, "
        "so the name is a CBOR text string (UTF-8).",
        "محمدرضا حسینی\u200cنژاد",
        dt.date(1975, 3, 21),
        "M",
        "T6W5X4Y3Z28",
        dt.datetime(2026, 7, 1, 9, 0, 0, tzinfo=dt.UTC),
        5,
    ),
    (
        "07-zlib-compressed",
        "A repetitive name: zlib makes the COSE bytes shorter, so the QR holds the zlib "
        "stream (first byte 0x78).",
        "Ana Ana Ana Ana Ana Ana Ana Ana Ana Ana Ana Ana Ana Ana",
        dt.date(2010, 10, 10),
        None,
        "Z9Y8X7W6V59",
        dt.datetime(2026, 8, 8, 8, 8, 8, tzinfo=dt.UTC),
        5,
    ),
    (
        "08-vietnamese-viscii",
        "Vietnamese name with a tone on every syllable: VISCII (id 13, RFC 1456), every "
        "precomposed letter in one byte; Ỷ is one of the six letters VISCII puts in the C0 "
        "range (0x14). VISCII is in no WHATWG or Python codec: decode with its table, then "
        "NFC.",
        "Tôn Nữ Thị Ỷ Lan",
        dt.date(1948, 6, 15),
        "F",
        "R4K8M2V6Q15",
        dt.datetime(2026, 9, 9, 9, 9, 9, tzinfo=dt.UTC),
        5,
    ),
]

# Vectors made before a name encoding existed keep the encoding they were made with:
# cards issued then stay in people's hands, and verifiers must go on reading them.
# Today's encoder writes 05's name in VISCII (id 13), three bytes shorter than
# windows-1258 with its combining tones; 05 stays the windows-1258 (id 9) vector.
ENCODINGS_THEN = {"05-vietnamese-windows-1258": range(1, 13)}


def _pem(cert) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def build() -> dict[str, dict]:
    """Every vector as the JSON object written to docs/vectors/<stem>.json."""
    root_key, root = pki.generate_root(
        city_id=CITY_ID, city_name=CITY_NAME, now=ROOT_TIME, private_key=_seeded("root")
    )
    signing_key, signing = pki.issue_signing_certificate(
        root_key=root_key,
        root_cert=root,
        now=ROOT_TIME,
        not_after=ROOT_TIME + dt.timedelta(days=SIGNING_DAYS),
        private_key=_seeded("signing"),
    )
    out = {}
    for stem, description, name, born, gender, serial, issued, years in VECTORS:
        # Made with the encodings there were then (see ENCODINGS_THEN).
        with _name_encodings(ENCODINGS_THEN.get(stem)):
            expires = issued + dt.timedelta(days=365 * years + years // 4)
            claims = credential.CardClaims(
                issuer=CITY_ID,
                serial=serial,
                issued_at=issued,
                expires_at=expires,
                holder=credential.Holder(name=name, date_of_birth=born, gender=gender),
            )
            qr = credential.encode_card(claims, signer_key=signing_key, signer_cert=signing)
            payload = base45.b45decode(qr[len(credential.PREFIX) :])
            compressed = payload[0] == 0x78
            cose = zlib.decompress(payload) if compressed else payload
            name_form = namecodec.encode_name(name)
            holder_claim: list = [
                name_form if isinstance(name_form, str) else {"bytes_hex": name_form.hex()},
                (born - dt.date(1970, 1, 1)).days,
            ]
            if gender is not None:
                holder_claim.append(credential.GENDERS.index(gender) + 1)
            encoding = (
                "utf-8 text"
                if isinstance(name_form, str)
                else credential.NAME_ENCODINGS[name_form[0]][1]
            )
            out[stem] = {
                "description": description,
                "qr": qr,
                "qr_length": len(qr),
                "zlib": compressed,
                "cose_hex": cose.hex(),
                "kid_hex": pki.key_id(signing).hex(),
                "root_fingerprint": pki.fingerprint(root),
                "root_certificate": _pem(root),
                "signing_certificate": _pem(signing),
                "signing_public_key_b64": base64.b64encode(
                    signing.public_key().public_bytes(
                        serialization.Encoding.Raw, serialization.PublicFormat.Raw
                    )
                ).decode(),
                "valid_at": _iso(issued),
                "expected": {
                    "claims": {
                        "1 (iss)": CITY_ID,
                        "4 (exp)": int(expires.timestamp()),
                        "6 (iat)": int(issued.timestamp()),
                        "7 (cti)": {"bytes_hex": credential._serial_to_cti(serial).hex()},
                        f"{credential.HOLDER_CLAIM_KEY} (holder)": holder_claim,
                    },
                    "name_encoding": encoding,
                    "card": {
                        "issuer": CITY_ID,
                        "serial": serial,
                        "issued_at": _iso(issued),
                        "expires_at": _iso(expires),
                        "holder": {
                            "name": name,
                            "date_of_birth": born.isoformat(),
                            "gender": gender,
                        },
                    },
                },
            }
    return out


@contextmanager
def _name_encodings(ids: Iterable[int] | None) -> Iterator[None]:
    """Let the encoder use only the name encodings ``ids`` (all of them when None)."""
    original = namecodec.encode_name
    if ids is not None:
        namecodec.encode_name = lambda name: original(name, ids)
    try:
        yield
    finally:
        namecodec.encode_name = original


def _serialise(vector: dict) -> str:
    return json.dumps(vector, indent=2, ensure_ascii=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description="Regenerate docs/vectors/*.json")
    parser.add_argument("--check", action="store_true", help="fail if a file would change")
    args = parser.parse_args()
    stale = []
    for stem, vector in build().items():
        path = HERE / f"{stem}.json"
        text = _serialise(vector)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(HERE.parent.parent)} ({vector['qr_length']} chars)")
    if stale:
        print("out of date: " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
