"""The COSE (RFC 9052) this project writes and reads: EdDSA signatures over CBOR payloads.

One codec for cards (:mod:`cardservice.credential`) and trust documents
(:mod:`cardservice.trust`). Rules it enforces:

- Only EdDSA (Ed25519, alg -8) with an 8-byte ``kid`` (:data:`KID_LENGTH`) in the
  protected header; signatures are exactly 64 bytes; external_aad is always empty.
- A protected header is exactly the one this project writes (canonical CBOR, these labels
  and nothing else): it is rebuilt from what was read and compared byte for byte.
- The unprotected header is always empty, and a message has exactly one encoding:
  shortest-form CBOR with nothing after it. Anything else is a :class:`CoseFormatError`.
- Two readers: :func:`decode` for trust documents (COSE_Sign1, and COSE_Sign when the
  caller allows it), and :func:`parse_sign1_eddsa`, which matches a card's fixed envelope
  bytes instead of decoding them: it is on the verification hot path.

Nothing here decides whom to trust; callers verify each :class:`Signature` against the
certificate its ``kid`` names.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import cbor2
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

__all__ = [
    "ALG_EDDSA",
    "KID_LENGTH",
    "SIGNATURE_LENGTH",
    "SIGN1_TAG",
    "SIGN_TAG",
    "CoseFormatError",
    "Envelope",
    "Signature",
    "Sign1Parts",
    "bstr_head",
    "assemble_multi",
    "decode",
    "parse_protected_header",
    "parse_sign1_eddsa",
    "protected_header",
    "sig1_input",
    "sig_input",
    "sign1",
    "sign_multi",
]

SIGN1_TAG = 18
SIGN_TAG = 98
ALG_EDDSA = -8
#: Bytes of a kid (the first bytes of SHA-256 over a certificate, ``pki.key_id``).
KID_LENGTH = 8
SIGNATURE_LENGTH = 64
_H_ALG, _H_CONTENT_TYPE, _H_KID = 1, 3, 4

# tag 18, array(4), bstr(13) holding map(2) {1: -8, 4: bstr(8) <kid>}
_SIGN1_EDDSA_HEAD = b"\xd2\x84\x4d\xa2\x01\x27\x04\x48"
_SIGN1_MIN_LENGTH = 8 + 8 + 1 + 1 + 66  # head, kid, {}, empty payload, signature
_SIG1_CONTEXT = b"\x84\x6aSignature1"  # array(4), text(10) "Signature1"


class CoseFormatError(ValueError):
    """Not a COSE message of the one form this project writes."""


# --------------------------------------------------------------------------- building


def bstr_head(length: int) -> bytes:
    """The shortest CBOR head of a byte string of ``length`` bytes (< 2**32)."""
    if length < 24:
        return bytes([0x40 | length])
    if length < 0x100:
        return bytes([0x58, length])
    if length < 0x10000:
        return b"\x59" + struct.pack(">H", length)
    return b"\x5a" + struct.pack(">I", length)


def protected_header(*, kid: bytes | None, content_type: str | None) -> bytes:
    """A serialised protected header: ``{1: EdDSA, 4: kid}`` with a kid, ``{3: ct}`` with a type."""
    header: dict[int, Any] = {}
    if kid is not None:
        header[_H_ALG] = ALG_EDDSA
        header[_H_KID] = kid
    if content_type is not None:
        header[_H_CONTENT_TYPE] = content_type
    return cbor2.dumps(header, canonical=True)


def sig1_input(protected: bytes, payload: bytes) -> bytes:
    """The Sig_structure a COSE_Sign1 signature covers (external_aad empty).

    Written out by hand: it is the same bytes as ``cbor2.dumps(["Signature1", protected,
    b"", payload])`` at a fraction of the cost, on every card verification.
    """
    return b"".join(
        (
            _SIG1_CONTEXT,
            bstr_head(len(protected)),
            protected,
            b"\x40",  # external_aad: empty
            bstr_head(len(payload)),
            payload,
        )
    )


def sig_input(body_protected: bytes, sign_protected: bytes, payload: bytes) -> bytes:
    """The Sig_structure one signer of a COSE_Sign covers (external_aad empty)."""
    return cbor2.dumps(["Signature", body_protected, sign_protected, b"", payload])


def sign1(
    payload: bytes, *, key: Ed25519PrivateKey, kid: bytes, content_type: str | None = None
) -> bytes:
    """A tagged COSE_Sign1 of ``payload`` by ``key``."""
    protected = protected_header(kid=kid, content_type=content_type)
    signature = key.sign(sig1_input(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(SIGN1_TAG, [protected, {}, payload, signature]))


def sign_multi(
    payload: bytes, *, content_type: str, signers: Sequence[tuple[Ed25519PrivateKey, bytes]]
) -> bytes:
    """A tagged COSE_Sign of ``payload``: one signature per ``(key, kid)``, in that order."""
    body = protected_header(kid=None, content_type=content_type)
    signatures = []
    for key, kid in signers:
        protected = protected_header(kid=kid, content_type=None)
        signatures.append([protected, {}, key.sign(sig_input(body, protected, payload))])
    return cbor2.dumps(cbor2.CBORTag(SIGN_TAG, [body, {}, payload, signatures]))


def assemble_multi(
    payload: bytes, *, content_type: str, signatures: Sequence[tuple[bytes, bytes]]
) -> bytes:
    """A tagged COSE_Sign of ``payload`` from signatures made already: ``(kid, signature)``.

    Lets a document gain signers one at a time (co-signing) without any key but the
    newest: every signer's protected header is ``{1: EdDSA, 4: kid}``, so it is rebuilt
    from the kid.
    """
    body = protected_header(kid=None, content_type=content_type)
    items = [[protected_header(kid=kid, content_type=None), {}, sig] for kid, sig in signatures]
    return cbor2.dumps(cbor2.CBORTag(SIGN_TAG, [body, {}, payload, items]))


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Signature:
    """One signature of a message: the signer's kid, the bytes it covers, the signature."""

    kid: bytes
    to_be_signed: bytes
    signature: bytes


@dataclass(frozen=True)
class Envelope:
    """A decoded COSE_Sign1 / COSE_Sign: the raw message, its payload, each signature."""

    raw: bytes
    payload: bytes
    signatures: tuple[Signature, ...]


def parse_protected_header(protected: Any, *, with_kid: bool, content_type: str | None) -> bytes:
    """Check a protected header is exactly the expected one; return its kid (or b"")."""
    if type(protected) is not bytes:
        raise CoseFormatError("a protected header is not a byte string")
    try:
        header = cbor2.loads(protected)
    except Exception as exc:
        raise CoseFormatError("a protected header is not CBOR") from exc
    if type(header) is not dict:
        raise CoseFormatError("a protected header is not a map")
    kid = header.get(_H_KID)
    if with_kid and (type(kid) is not bytes or len(kid) != KID_LENGTH):
        raise CoseFormatError("a protected header lacks an 8-byte kid")
    if content_type is not None and header.get(_H_CONTENT_TYPE) != content_type:
        if type(header.get(_H_CONTENT_TYPE)) is str:
            raise CoseFormatError(
                f"this document is {header[_H_CONTENT_TYPE][:60]!r}, not {content_type!r}"
            )
        raise CoseFormatError("a protected header lacks the content type")
    # Rebuilding the header from what was read and comparing bytes rejects anything
    # else: other labels, another algorithm, a non-canonical encoding.
    if protected_header(kid=kid if with_kid else None, content_type=content_type) != protected:
        raise CoseFormatError("a protected header is not {alg: EdDSA, kid} / {content type}")
    return kid if with_kid and isinstance(kid, bytes) else b""


def _bstr_at(data: bytes, pos: int) -> tuple[int, int]:
    """The (start, end) of the byte string whose shortest-form head is at ``data[pos]``."""
    if pos >= len(data):
        raise CoseFormatError("a COSE_Sign1 message ends early")
    first = data[pos]
    if 0x40 <= first < 0x58:
        head, length = 1, first - 0x40
    elif 0x58 <= first <= 0x5A:
        head = 1 + (1 << (first - 0x58))  # 0x58: 1 length byte, 0x59: 2, 0x5a: 4
        length = int.from_bytes(data[pos + 1 : pos + head], "big")
    else:
        raise CoseFormatError("a COSE_Sign1 field is not a byte string")
    start = pos + head
    if start > len(data) or data[pos:start] != bstr_head(length):
        raise CoseFormatError("not in shortest CBOR form")
    if start + length > len(data):
        raise CoseFormatError("a COSE_Sign1 message ends early")
    return start, start + length


def _decode_sign1(data: bytes, *, content_type: str) -> Envelope:
    """Split a COSE_Sign1 by its byte layout, without a CBOR decoder.

    The one encoding this project accepts is ``D2 84 <bstr protected> A0 <bstr payload>
    58 40 <signature>``: four shortest-form heads and nothing after the signature. Only
    the small protected header is decoded here; the payload (up to a 32 MB revocation
    list) is sliced once and left to the caller, who decodes it only after its signature
    verified.
    """
    if not data.startswith(b"\xd2\x84"):
        raise CoseFormatError("not a COSE_Sign1 message")
    p_start, p_end = _bstr_at(data, 2)
    protected = data[p_start:p_end]
    kid = parse_protected_header(protected, with_kid=True, content_type=content_type)
    if data[p_end : p_end + 1] != b"\xa0":
        raise CoseFormatError("the unprotected header is not empty")
    start, end = _bstr_at(data, p_end + 1)
    s_start, s_end = _bstr_at(data, end)
    if s_end - s_start != SIGNATURE_LENGTH:
        raise CoseFormatError("the signature is not 64 bytes")
    if s_end != len(data):
        raise CoseFormatError("not in shortest CBOR form, or followed by other data")
    payload = data[start:end]
    return Envelope(data, payload, (Signature(kid, sig1_input(protected, payload),
                                               data[s_start:s_end]),))


def decode(
    data: bytes, *, content_type: str, allow_multi: bool, signers: tuple[int, int] = (2, 2)
) -> Envelope:
    """Decode a COSE_Sign1 (or, if ``allow_multi``, a COSE_Sign) strictly.

    A COSE_Sign must carry between ``signers[0]`` and ``signers[1]`` signatures: two
    exactly for a root rotation (the default), more for an alliance's member list.

    A COSE_Sign1 is split by its byte layout (:func:`_decode_sign1`): its payload is not
    decoded, whatever its size. A COSE_Sign (root rotations, bundles only) goes through
    the CBOR decoder and is refused unless re-encoding gives the same bytes.
    """
    if data[:1] == b"\xd2":
        return _decode_sign1(data, content_type=content_type)
    try:
        message = cbor2.loads(data)
    except Exception as exc:
        # cbor2 reports malformed input with several exception types.
        raise CoseFormatError("not CBOR") from exc
    if (
        type(message) is not cbor2.CBORTag
        or message.tag not in (SIGN1_TAG, SIGN_TAG)
        or (message.tag == SIGN_TAG and not allow_multi)
        or type(message.value) is not list
        or len(message.value) != 4
    ):
        raise CoseFormatError("not a COSE_Sign1 message" + (" or COSE_Sign" * allow_multi))
    first, unprotected, payload, last = message.value
    if type(unprotected) is not dict or unprotected or type(payload) is not bytes:
        raise CoseFormatError("COSE fields of the wrong type")
    if message.tag == SIGN1_TAG:
        kid = parse_protected_header(first, with_kid=True, content_type=content_type)
        if type(last) is not bytes or len(last) != SIGNATURE_LENGTH:
            raise CoseFormatError("the signature is not 64 bytes")
        signatures: tuple[Signature, ...] = (Signature(kid, sig1_input(first, payload), last),)
    else:
        parse_protected_header(first, with_kid=False, content_type=content_type)
        low, high = signers
        if type(last) is not list or not low <= len(last) <= high:
            # A rotation: two signers exactly, old and new root (one signer is COSE_Sign1).
            if (low, high) == (2, 2):
                raise CoseFormatError("a COSE_Sign bundle carries exactly two signatures")
            raise CoseFormatError(f"a COSE_Sign here carries {low} to {high} signatures")
        sigs = []
        for item in last:
            if type(item) is not list or len(item) != 3:
                raise CoseFormatError("a COSE_Signature is not [protected, {}, signature]")
            protected, unprotected_sig, signature = item
            if type(unprotected_sig) is not dict or unprotected_sig:
                raise CoseFormatError("a COSE_Signature has an unprotected header")
            if type(signature) is not bytes or len(signature) != SIGNATURE_LENGTH:
                raise CoseFormatError("a signature is not 64 bytes")
            kid = parse_protected_header(protected, with_kid=True, content_type=None)
            sigs.append(Signature(kid, sig_input(first, protected, payload), signature))
        signatures = tuple(sigs)
    # Shortest-form CBOR and nothing after it: each document has exactly one encoding.
    try:
        shortest = cbor2.dumps(message) == data
    except Exception as exc:
        raise CoseFormatError("not plain CBOR") from exc
    if not shortest:
        raise CoseFormatError("not in shortest CBOR form, or followed by other data")
    return Envelope(data, payload, signatures)


class Sign1Parts(NamedTuple):
    """The parts of a card's COSE_Sign1, as slices of the message."""

    protected: bytes
    payload: bytes
    signature: bytes
    kid: bytes


def parse_sign1_eddsa(data: bytes) -> Sign1Parts:
    """Match a COSE_Sign1 with ``{1: EdDSA, 4: kid}`` and no content type, byte for byte.

    The envelope has exactly one valid encoding (shortest-form CBOR, fixed headers,
    empty unprotected header), so it is matched rather than decoded::

        D2 84                      tag 18, array(4)
        4D A2 01 27 04 48 <kid:8>  protected: bstr(13) {1: -8, 4: bstr(8)}
        A0                         unprotected: {}
        <bstr head> <payload>      the payload
        58 40 <signature:64>       Ed25519 signature

    Matching refuses every other encoding of the same message (no byte can change
    without changing what is checked) and is the cheaper path on the hot loop. The
    payload itself is the caller's to decode. Raises :class:`CoseFormatError`.
    """
    if len(data) < _SIGN1_MIN_LENGTH or not data.startswith(_SIGN1_EDDSA_HEAD):
        raise CoseFormatError("not a COSE_Sign1 card with {alg: EdDSA, kid: 8 bytes}")
    if data[16] != 0xA0:
        raise CoseFormatError("unprotected header is not empty")
    first = data[17]
    head_length = 1 if 0x40 <= first < 0x58 else 2 if first == 0x58 else 3 if first == 0x59 else 0
    payload = data[17 + head_length : -66]
    if (
        not head_length
        or data[17 : 17 + head_length] != bstr_head(len(payload))
        or data[-66:-64] != b"\x58\x40"
    ):
        raise CoseFormatError("not a COSE_Sign1 card in shortest CBOR form")
    return Sign1Parts(data[3:16], payload, data[-64:], data[8:16])
