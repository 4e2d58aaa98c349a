"""The card credential: what the QR code on a card holds, how it is made and checked.

Format (SPEC §3; details and test vectors in ``docs/card-format.md``)::

    "LC1:" + Base45( zlib(COSE) if strictly shorter else COSE )
    COSE = COSE_Sign1 (tag 18) [ protected {1: -8 (EdDSA), 4: kid}, unprotected {},
                                 payload (CWT claims), signature (Ed25519, 64 bytes) ]
    claims = {1 iss: city id, 4 exp: int, 6 iat: int,
              7 cti: serial as a 7-byte big-endian integer (11 Crockford Base32 digits),
              -70001 holder: [name, date of birth (days since 1970-01-01),
                              gender? (1 F, 2 M, 3 X)]}

Rules this module enforces:

- ``iat`` is also the card's *not-before*: a card is valid from ``iat`` (inclusive)
  to ``exp`` (exclusive), to the second. There is no ``nbf`` claim.
- Verification is a sequence of numbered checks, each raising a typed
  :class:`CardVerificationError` whose ``status`` is a SPEC §6 status:
  (1) format -> ``malformed``; (2) issuer known -> ``unknown_issuer``; (3) kid known
  -> ``unknown_key``; (4) certificate chains to a trusted root of that issuer ->
  ``unknown_key``; (5) signature -> ``bad_signature``; (6) the card lies within its
  signing certificate's validity -> ``bad_signature``; (7) not before ``iat`` ->
  ``not_yet_valid``; (8) before ``exp`` -> ``expired``; (9) not revoked -> ``revoked``.
- Claims (holder included) are attached to an error only for checks (7)-(9), i.e.
  once the signature and the signing key are known good.
- The format is strict so that a card has one encoding: shortest-form CBOR, exactly
  these headers and claims, an empty unprotected header. Anything else is malformed.
- A card serial is 11 characters of Crockford Base32 (``cardservice.serials``); the
  card holds its 55-bit value in 7 bytes. Whether its check character is right is
  the issuer's business, not the credential's: any 11 characters of the alphabet go.
- Time is passed in as ``now``; nothing here reads the clock.

Library choice: cards are *signed* with ``cwt``'s COSE API (maintained; kid passed in
the protected header, no ``nbf``). Verification does not use ``cwt.decode``: that
checks ``exp`` against the real clock and returns no certificate; instead the checks
below match the fixed envelope bytes, decode the claims with ``cbor2`` and verify the
Sig_structure with ``cryptography``'s Ed25519. That keeps a whole verification at
about 0.82 of the rate of a bare Ed25519 verify (``bench/bench_credential.py``);
``base45`` + ``cwt``'s ``COSE.decode`` alone, before any claim or time check, measured
0.75 on the same machine.
"""

from __future__ import annotations

import datetime as dt
import functools
import io
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple, Protocol

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cwt import COSE, COSEKey

from cardservice import cose, namecodec, pki, values
from cardservice.namecodec import NAME_ENCODINGS
from cardservice.serials import ALPHABET as SERIAL_ALPHABET

__all__ = [
    "GENDERS",
    "HOLDER_CLAIM_KEY",
    "NAME_ENCODINGS",
    "PREFIX",
    "SERIAL_LENGTH",
    "STATUSES",
    "BadSignatureError",
    "CardClaims",
    "CardVerificationError",
    "ExpiredError",
    "Holder",
    "InvalidClaimsError",
    "MalformedCardError",
    "NotYetValidError",
    "TrustExpiredError",
    "PartnerSuspendedError",
    "RevokedError",
    "SignedOutsideValidityError",
    "StaticTrustAnchors",
    "TrustAnchors",
    "UnknownIssuerError",
    "UnknownKeyError",
    "UntrustedKeyError",
    "VerifiedCard",
    "encode_card",
    "unsafe_encode_card",
    "verify_card",
]

#: Text before the Base45 payload; a breaking format change takes ``LC2:``.
PREFIX = "LC1:"
#: CWT claim key of the holder claim: private-use range (< -65536, RFC 8392 §9.1).
HOLDER_CLAIM_KEY = -70001
#: Gender markers a card may carry (as on ICAO travel documents); absent when None.
#: On the wire each is its position here plus one (1 F, 2 M, 3 X): one CBOR byte.
GENDERS = values.GENDERS
#: Characters in a card serial (Crockford Base32, ``cardservice.serials``).
SERIAL_LENGTH = values.SERIAL_LENGTH
#: Every ``status`` a verification can end in (SPEC §6).
STATUSES = (
    "valid",
    "expired",
    "not_yet_valid",
    "revoked",
    "bad_signature",
    "unknown_issuer",
    "unknown_key",
    "malformed",
    "partner_suspended",
    "trust_expired",
)


MAX_NAME_LENGTH = values.MAX_NAME_LENGTH
#: The longest serial a revocation list may name (``cardservice.trust``); card serials
#: themselves are exactly :data:`SERIAL_LENGTH` characters.
MAX_SERIAL_LENGTH = 32
_MAX_QR_CHARS = 4096
_MAX_COSE_BYTES = 4096  # also the cap on zlib output: no decompression bomb
_ISS, _EXP, _IAT, _CTI = 1, 4, 6, 7
_CLAIM_KEYS = frozenset({_ISS, _EXP, _IAT, _CTI, HOLDER_CLAIM_KEY})
_MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z
_EPOCH_DAY = dt.date(1970, 1, 1)
_MIN_DAY = (dt.date.min - _EPOCH_DAY).days
_MAX_DAY = (dt.date.max - _EPOCH_DAY).days
# The wire rule for names (values.check_card_name): what verification refuses.
_NAME_FORBIDDEN = values.CARD_NAME_FORBIDDEN
_SERIAL_PATTERN = values.SERIAL_PATTERN
_SERIAL_BYTES = 7  # 11 digits of 5 bits: 55 bits, the top bit of 7 bytes is always 0
_SERIAL_DIGITS = {ch: i for i, ch in enumerate(SERIAL_ALPHABET)}
# Two serial digits per 10 bits: decoding the 55-bit value takes six look-ups, not an
# eleven-step loop (about 1 µs against 3 µs, on every verification).
_SERIAL_PAIRS = tuple(a + b for a in SERIAL_ALPHABET for b in SERIAL_ALPHABET)
_GENDER_CODES = {g: i + 1 for i, g in enumerate(GENDERS)}


# --------------------------------------------------------------------------- errors


class InvalidClaimsError(ValueError):
    """Claims that cannot go on a card (wrong type, range, or time order)."""


class CardVerificationError(Exception):
    """A card that is not valid. ``status`` is its SPEC §6 status.

    ``claims`` is set only when the signature and signing key checked out (checks 7-9),
    so a caller may show the holder and dates of an expired or revoked card.
    """

    status: ClassVar[str] = "malformed"

    def __init__(self, message: str, *, claims: CardClaims | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.claims = claims


class MalformedCardError(CardVerificationError):
    """(1) Not a card: prefix, Base45, zlib, CBOR, COSE structure, algorithm or claims."""

    status = "malformed"


class UnknownIssuerError(CardVerificationError):
    """(2) No trusted root for the card's issuer."""

    status = "unknown_issuer"


class UnknownKeyError(CardVerificationError):
    """(3) No signing certificate of that issuer has the card's kid."""

    status = "unknown_key"


class UntrustedKeyError(UnknownKeyError):
    """(4) Certificates with that kid exist, but none chains to the issuer's root.

    Mapped to ``unknown_key``: a key we cannot tie to the city is, for a verifier,
    a key it does not know.
    """

    status = "unknown_key"


class BadSignatureError(CardVerificationError):
    """(5) The signature does not verify with the signing certificate."""

    status = "bad_signature"


class SignedOutsideValidityError(BadSignatureError):
    """(6) The card's lifetime is not within its signing certificate's validity.

    Mapped to ``bad_signature``: the signature is mathematically sound but the key
    was not authorised to make it for that time, so it does not vouch for the card.
    """

    status = "bad_signature"


class NotYetValidError(CardVerificationError):
    """(7) ``now`` is before the card's issue time."""

    status = "not_yet_valid"


class ExpiredError(CardVerificationError):
    """(8) ``now`` is at or after the card's expiry."""

    status = "expired"


class RevokedError(CardVerificationError):
    """(9) The issuer has revoked the card."""

    status = "revoked"


class PartnerSuspendedError(CardVerificationError):
    """The issuer is a partner city whose recognition is suspended.

    Not raised by :func:`verify_card` itself: a :class:`TrustAnchors` implementation
    may raise it from ``roots_for`` so that the status reaches the caller unchanged.
    """

    status = "partner_suspended"


class TrustExpiredError(CardVerificationError):
    """The issuer is a partner city whose trust bundle, as held here, has expired.

    Its keys are no longer vouched for, so none of its cards reads ``valid`` until the
    partner is synced. Like :class:`PartnerSuspendedError`, raised by a
    :class:`TrustAnchors` implementation from ``roots_for``.
    """

    status = "trust_expired"


# --------------------------------------------------------------------------- claims


def _utc_whole_seconds(value: Any, name: str) -> dt.datetime:
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise InvalidClaimsError(f"{name} must be a timezone-aware datetime")
    if value.microsecond:
        raise InvalidClaimsError(f"{name} must be a whole second (the card stores seconds)")
    if value.tzinfo is not dt.UTC:
        value = value.astimezone(dt.UTC)
    if not 0 <= value.timestamp() <= _MAX_TIMESTAMP:
        raise InvalidClaimsError(f"{name} is out of range")
    return value


def _check_name(name: Any) -> None:
    """The wire rule (what verification accepts); ``InvalidClaimsError`` if broken."""
    try:
        values.check_card_name(name)
    except values.ValueRuleError as exc:
        raise InvalidClaimsError(str(exc)) from exc


@dataclass(frozen=True)
class Holder:
    """The holder as the card shows them: printed name, date of birth, optional gender.

    The name follows the wire rule (:func:`values.check_card_name`), which a card read
    back is held to as well. What a city registers and prints is stricter
    (:func:`values.check_printed_name`), and registration checks it.
    """

    name: str
    date_of_birth: dt.date
    gender: str | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        # datetime is a date subclass; a time of birth has no place on the card.
        if type(self.date_of_birth) is not dt.date:
            raise InvalidClaimsError("date_of_birth must be a datetime.date")
        if self.gender is not None and self.gender not in GENDERS:
            raise InvalidClaimsError(f"gender must be one of {GENDERS} or None")


@dataclass(frozen=True)
class CardClaims:
    """What a card says: issuing city, serial, validity, holder.

    Times are timezone-aware, whole seconds, stored in UTC; ``issued_at`` is also the
    first instant of validity and ``expires_at`` the first instant of invalidity.
    """

    issuer: str
    serial: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    holder: Holder

    def __post_init__(self) -> None:
        if not values.is_city_id(self.issuer):
            raise InvalidClaimsError("issuer must be a city id (UN/LOCODE without the space)")
        if not isinstance(self.serial, str) or not _SERIAL_PATTERN.fullmatch(self.serial):
            raise InvalidClaimsError(
                f"serial must be {SERIAL_LENGTH} characters of {SERIAL_ALPHABET}"
            )
        object.__setattr__(self, "issued_at", _utc_whole_seconds(self.issued_at, "issued_at"))
        object.__setattr__(self, "expires_at", _utc_whole_seconds(self.expires_at, "expires_at"))
        if self.expires_at <= self.issued_at:
            raise InvalidClaimsError("expires_at must be later than issued_at")
        if not isinstance(self.holder, Holder):
            raise InvalidClaimsError("holder must be a Holder")


# --------------------------------------------------------------------------- encoding


_B45_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_B45_VALUES = bytes(
    _B45_ALPHABET.index(chr(i)) if chr(i) in _B45_ALPHABET else 0xFF for i in range(256)
)
_B45_MASKS: dict[int, int] = {}


def _b45encode(data: bytes) -> str:
    out: list[str] = []
    for i in range(0, len(data) - 1, 2):
        value = (data[i] << 8) | data[i + 1]
        value, c = divmod(value, 45)
        e, d = divmod(value, 45)
        out += (_B45_ALPHABET[c], _B45_ALPHABET[d], _B45_ALPHABET[e])
    if len(data) % 2:
        d, c = divmod(data[-1], 45)
        out += (_B45_ALPHABET[c], _B45_ALPHABET[d])
    return "".join(out)


def _b45decode(text: str) -> bytes:
    """Base45 (RFC 9285) decoding, strict: the one valid string for each byte string.

    Works on all triples at once with big-integer arithmetic: each triple's value
    (at most 91124) fits in its own 24-bit lane, so no carry crosses lanes. About 5x
    faster than a per-triple loop, which matters for the verification rate.
    """
    try:
        raw = text.encode("ascii")
    except UnicodeEncodeError as exc:
        raise ValueError("not Base45") from exc
    digits = raw.translate(_B45_VALUES)
    if b"\xff" in digits:
        raise ValueError("not Base45")
    n, rest = divmod(len(digits), 3)
    if rest == 1:
        raise ValueError("Base45 length")
    out = bytearray(2 * n + (rest == 2))
    if n:
        mask = _B45_MASKS.get(n)
        if mask is None:
            mask = _B45_MASKS.setdefault(n, int.from_bytes(b"\xff\x00\x00" * n, "little"))
        x = int.from_bytes(digits[: 3 * n], "little")
        lanes = ((x & mask) + 45 * ((x >> 8) & mask) + 2025 * ((x >> 16) & mask)).to_bytes(
            3 * n, "little"
        )
        if lanes[2::3].count(0) != n:
            raise ValueError("Base45 triple out of range")
        out[0 : 2 * n : 2] = lanes[1::3]
        out[1 : 2 * n : 2] = lanes[0::3]
    if rest == 2:
        value = digits[-2] + 45 * digits[-1]
        if value > 0xFF:
            raise ValueError("Base45 pair out of range")
        out[-1] = value
    return bytes(out)


def _serial_to_cti(serial: str) -> bytes:
    """The 7-byte big-endian value of an 11-digit Crockford Base32 serial."""
    value = 0
    for ch in serial:
        value = value * 32 + _SERIAL_DIGITS[ch]
    return value.to_bytes(_SERIAL_BYTES, "big")


def _cti_to_serial(cti: bytes) -> str:
    """The serial a 7-byte cti holds, left-padded with '0'; ``ValueError`` if none."""
    value = int.from_bytes(cti, "big")
    # Exactly 7 bytes and below 32**11: each serial has one cti and each cti one serial.
    if len(cti) != _SERIAL_BYTES or value >> 55:
        raise ValueError("cti is not a serial's 7-byte value")
    pairs = _SERIAL_PAIRS
    return (
        SERIAL_ALPHABET[value >> 50]
        + pairs[(value >> 40) & 1023]
        + pairs[(value >> 30) & 1023]
        + pairs[(value >> 20) & 1023]
        + pairs[(value >> 10) & 1023]
        + pairs[value & 1023]
    )


def _claims_map(claims: CardClaims) -> dict[int, Any]:
    holder = claims.holder
    entry: list[Any] = [
        namecodec.encode_name(holder.name),
        (holder.date_of_birth - _EPOCH_DAY).days,
    ]
    if holder.gender is not None:
        entry.append(_GENDER_CODES[holder.gender])
    return {
        _ISS: claims.issuer,
        _EXP: int(claims.expires_at.timestamp()),
        _IAT: int(claims.issued_at.timestamp()),
        _CTI: _serial_to_cti(claims.serial),
        HOLDER_CLAIM_KEY: entry,
    }


_COSE_KEYS: dict[int, tuple[Ed25519PrivateKey, Any]] = {}


def _cose_key(key: Ed25519PrivateKey) -> Any:
    """cwt's COSE key for ``key``, cached per key object (building one costs ~80 µs)."""
    hit = _COSE_KEYS.get(id(key))
    if hit is not None and hit[0] is key:
        return hit[1]
    if len(_COSE_KEYS) > 64:
        _COSE_KEYS.clear()
    d = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    x = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    # COSE_Key: kty OKP (1), alg EdDSA (-8), crv Ed25519 (6), x, d.
    cose_key = COSEKey.new({1: 1, 3: cose.ALG_EDDSA, -1: 6, -2: x, -4: d})
    _COSE_KEYS[id(key)] = (key, cose_key)
    return cose_key


@functools.lru_cache(maxsize=1)
def _cose_context() -> Any:
    # No automatic headers: alg and kid go in the protected header, set explicitly.
    return COSE.new(alg_auto_inclusion=False, kid_auto_inclusion=False)


def unsafe_encode_card(claims: CardClaims, *, signer_key: Ed25519PrivateKey, kid: bytes) -> str:
    """Sign ``claims`` with no check of the signer: for tests and tools only.

    It makes cards that :func:`verify_card` refuses (wrong kid, key outside its
    certificate's validity); issuing code must use :func:`encode_card`.
    """
    payload = cbor2.dumps(_claims_map(claims), canonical=True)
    message = _cose_context().encode_and_sign(
        payload,
        _cose_key(signer_key),
        protected={1: cose.ALG_EDDSA, 4: bytes(kid)},
        unprotected={},
    )
    compressed = zlib.compress(message, 9)
    return PREFIX + _b45encode(compressed if len(compressed) < len(message) else message)


def encode_card(
    claims: CardClaims,
    *,
    signer_key: Ed25519PrivateKey,
    signer_cert: x509.Certificate,
) -> str:
    """The QR text of a card: ``LC1:`` + Base45 of the (maybe zlib-compressed) COSE_Sign1.

    Refuses (:class:`InvalidClaimsError`) a card that verification would refuse on
    the signer's account: a key that is not the certificate's, an issuer that is not
    the certificate's city, or a card lifetime outside the certificate's validity.
    """
    public = signer_cert.public_key()
    if not isinstance(public, Ed25519PublicKey) or public.public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ) != signer_key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ):
        raise InvalidClaimsError("the signing key does not belong to the signing certificate")
    if pki.city_id_of(signer_cert) != claims.issuer:
        raise InvalidClaimsError("the card's issuer is not the signing certificate's city")
    if not (
        signer_cert.not_valid_before_utc <= claims.issued_at
        and claims.expires_at <= signer_cert.not_valid_after_utc
    ):
        raise InvalidClaimsError("the card's lifetime exceeds the signing certificate's")
    return unsafe_encode_card(claims, signer_key=signer_key, kid=pki.key_id(signer_cert))


# --------------------------------------------------------------------------- trust


class TrustAnchors(Protocol):
    """What verification needs to know about trusted cities."""

    def roots_for(self, issuer: str) -> Sequence[x509.Certificate]:
        """The trusted root certificates of ``issuer`` (empty: issuer unknown)."""
        ...

    def signing_certificates_for(self, issuer: str, kid: bytes) -> Sequence[x509.Certificate]:
        """The signing certificates of ``issuer`` whose kid is ``kid`` (empty: unknown)."""
        ...


class StaticTrustAnchors:
    """An in-memory :class:`TrustAnchors` built from root and signing certificates.

    Certificates are filed under the city id in their subject; whether a signing
    certificate really belongs to that city is decided by the chain check (4).
    """

    def __init__(
        self,
        *,
        roots: Iterable[x509.Certificate] = (),
        signing_certificates: Iterable[x509.Certificate] = (),
    ) -> None:
        self._roots: dict[str, list[x509.Certificate]] = {}
        self._signing: dict[tuple[str, bytes], list[x509.Certificate]] = {}
        for root in roots:
            self._roots.setdefault(pki.city_id_of(root), []).append(root)
        for cert in signing_certificates:
            key = (pki.city_id_of(cert), pki.key_id(cert))
            self._signing.setdefault(key, []).append(cert)

    def roots_for(self, issuer: str) -> Sequence[x509.Certificate]:
        """Trusted roots of ``issuer``."""
        return self._roots.get(issuer, ())

    def signing_certificates_for(self, issuer: str, kid: bytes) -> Sequence[x509.Certificate]:
        """Signing certificates of ``issuer`` with ``kid``."""
        return self._signing.get((issuer, kid), ())


# Caches for the hot path, keyed by object identity (hashing a certificate costs more
# than the rest of a lookup). Each entry holds the objects themselves, so an id cannot
# be reused while its entry lives; the caches are cleared when they grow large.
_CERT_INFO: dict[int, tuple[x509.Certificate, Ed25519PublicKey | None, float, float]] = {}
_CHAINS: dict[tuple[int, int], tuple[x509.Certificate, x509.Certificate, bool]] = {}
_CACHE_LIMIT = 4096


def _cert_info(cert: x509.Certificate) -> tuple[Ed25519PublicKey | None, float, float]:
    hit = _CERT_INFO.get(id(cert))
    if hit is not None and hit[0] is cert:
        return hit[1], hit[2], hit[3]
    public = cert.public_key()
    info = (
        public if isinstance(public, Ed25519PublicKey) else None,
        cert.not_valid_before_utc.timestamp(),
        cert.not_valid_after_utc.timestamp(),
    )
    if len(_CERT_INFO) >= _CACHE_LIMIT:
        _CERT_INFO.clear()
    _CERT_INFO[id(cert)] = (cert, *info)
    return info


def _chains(cert: x509.Certificate, root: x509.Certificate) -> bool:
    hit = _CHAINS.get((id(cert), id(root)))
    if hit is not None and hit[0] is cert and hit[1] is root:
        return hit[2]
    ok = pki.chains_to(cert, (root,))
    if len(_CHAINS) >= _CACHE_LIMIT:
        _CHAINS.clear()
    _CHAINS[(id(cert), id(root))] = (cert, root, ok)
    return ok


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class VerifiedCard:
    """A card that passed every check: its claims and the certificate that signed it."""

    claims: CardClaims
    certificate: x509.Certificate
    kid: bytes
    status: ClassVar[str] = "valid"


class _ParsedCard(NamedTuple):
    protected: bytes
    payload: bytes
    signature: bytes
    kid: bytes
    claims: CardClaims
    iat: int
    exp: int


def _inflate(data: bytes) -> bytes:
    inflater = zlib.decompressobj()
    out = inflater.decompress(data, _MAX_COSE_BYTES)
    if inflater.unconsumed_tail or not inflater.eof or inflater.unused_data:
        raise ValueError("zlib stream too large, truncated or followed by data")
    if len(out) <= len(data):
        # The encoder compresses only when that is strictly shorter.
        raise ValueError("zlib used where it does not shorten the card")
    return out


def _not_all_int(keys: Iterable[Any]) -> bool:
    # 1.0 and True equal 1 as dict keys; only true integers are claim keys.
    return set(map(type, keys)) != {int}


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int subclass and never a valid value here


# Bound once: the verify loop below runs thousands of times a second, and a module
# attribute lookup per call is measurable there (bench/bench_verify_instructions.py).
_parse_sign1 = cose.parse_sign1_eddsa
_sig1_input = cose.sig1_input
_decode_name = namecodec.decode_compact_name
_check_card_name = values.check_card_name
_is_city_id = values.CITY_ID_PATTERN.fullmatch


def _parse(qr: Any) -> _ParsedCard:
    """Check (1): decode and type-check everything, or raise ``ValueError``/``TypeError``.

    The COSE_Sign1 envelope is matched byte for byte (:func:`cose.parse_sign1_eddsa`);
    the claims inside are decoded with cbor2.
    """
    if not isinstance(qr, str):
        raise TypeError("a card is text")
    if len(qr) > _MAX_QR_CHARS:
        raise ValueError("too long to be a card")
    if not qr.startswith(PREFIX):
        raise ValueError(f"does not start with {PREFIX}")
    data = _b45decode(qr[len(PREFIX) :])
    if data[:1] == b"\x78":
        data = _inflate(data)
    envelope = _parse_sign1(data)
    payload = envelope.payload

    stream = io.BytesIO(payload)
    raw = cbor2.CBORDecoder(stream).decode()
    if stream.tell() != len(payload):
        raise ValueError("data after the claims")
    if type(raw) is not dict or raw.keys() != _CLAIM_KEYS or _not_all_int(raw):
        raise ValueError(f"claims are not exactly iss, exp, iat, cti and {HOLDER_CLAIM_KEY}")
    iss = raw[_ISS]
    exp = raw[_EXP]
    iat = raw[_IAT]
    cti = raw[_CTI]
    entry = raw[HOLDER_CLAIM_KEY]
    if not (
        type(iss) is str
        and _is_int(exp)
        and _is_int(iat)
        and 0 <= iat < exp <= _MAX_TIMESTAMP
        and type(cti) is bytes
        and type(entry) is list
        and 2 <= len(entry) <= 3
        and _is_int(entry[1])
        and _MIN_DAY <= entry[1] <= _MAX_DAY
        and (len(entry) == 2 or (_is_int(entry[2]) and 1 <= entry[2] <= len(GENDERS)))
        and _is_city_id(iss)
    ):
        raise ValueError("claims of the wrong type or range")
    serial = _cti_to_serial(cti)
    name = entry[0]
    if type(name) is bytes:
        name = _decode_name(name)
    elif type(name) is not str:
        raise ValueError("holder name of the wrong type")
    _check_card_name(name)  # a ValueError: the caller answers "malformed"
    # Every field is checked above exactly as Holder and CardClaims check them, so the
    # objects are filled in directly: the constructors' second pass would cost ~2 µs,
    # a tenth of the decoding time, on every verification.
    holder = object.__new__(Holder)
    holder.__dict__.update(
        name=name,
        date_of_birth=_EPOCH_DAY + dt.timedelta(days=entry[1]),
        gender=GENDERS[entry[2] - 1] if len(entry) == 3 else None,
    )
    claims = object.__new__(CardClaims)
    claims.__dict__.update(
        issuer=iss,
        serial=serial,
        issued_at=dt.datetime.fromtimestamp(iat, dt.UTC),
        expires_at=dt.datetime.fromtimestamp(exp, dt.UTC),
        holder=holder,
    )
    return _ParsedCard(*envelope, claims, iat, exp)


def verify_card(
    qr: str,
    *,
    trust: TrustAnchors,
    now: dt.datetime,
    is_revoked: Callable[[str, str], bool] | None = None,
) -> VerifiedCard:
    """Check a card's QR text at ``now``; return it, or raise a :class:`CardVerificationError`.

    ``is_revoked(issuer, serial)`` is asked last, only for an otherwise valid card.
    """
    if not isinstance(now, dt.datetime) or now.tzinfo is None:
        raise ValueError("now must be a timezone-aware datetime")
    at = now.timestamp()

    # (1): format — prefix, Base45, zlib, CBOR, COSE_Sign1 structure, alg, claim types
    try:
        card = _parse(qr)
    except CardVerificationError:
        raise
    except Exception as exc:
        # Decoders of untrusted bytes fail in many ways (cbor2 alone raises several
        # exception types); each is the same answer here: this is not a card.
        raise MalformedCardError("not a readable card") from exc
    claims = card.claims

    # (2): issuer known
    roots = trust.roots_for(claims.issuer)
    if not roots:
        raise UnknownIssuerError(f"cards of {claims.issuer} are not recognised here")

    # (3): kid lookup
    candidates = trust.signing_certificates_for(claims.issuer, card.kid)
    if not candidates:
        raise UnknownKeyError(f"{claims.issuer} has no signing key {card.kid.hex()}")

    # (4): certificate chain to a trusted root of the issuer
    chained = []
    for cert in candidates:
        for root in roots:
            if _chains(cert, root):
                chained.append((cert, root))
                break
    if not chained:
        raise UntrustedKeyError(
            f"signing key {card.kid.hex()} is not certified by a trusted root of {claims.issuer}"
        )

    # (5): signature over the COSE Sig_structure
    to_be_signed = _sig1_input(card.protected, card.payload)
    signer = None
    for cert, root in chained:
        public, cert_from, cert_until = _cert_info(cert)
        if public is None:
            continue
        try:
            public.verify(card.signature, to_be_signed)
        except InvalidSignature:
            continue
        signer = (cert, root, cert_from, cert_until)
        break
    if signer is None:
        raise BadSignatureError("the signature does not match the card")
    cert, root, cert_from, cert_until = signer

    # (6): the card's lifetime lies within the signing certificate's validity
    iat, exp = card.iat, card.exp
    _root_public, root_from, root_until = _cert_info(root)
    if not (cert_from <= iat and exp <= cert_until and root_from <= iat <= root_until):
        raise SignedOutsideValidityError(
            "the card was signed outside its signing certificate's validity"
        )

    # (7): not before the issue time
    if at < iat:
        raise NotYetValidError(f"valid from {claims.issued_at:%Y-%m-%d %H:%M:%S}Z", claims=claims)

    # (8): expiry — exp is the first instant at which the card is no longer valid
    if at >= exp:
        raise ExpiredError(f"expired at {claims.expires_at:%Y-%m-%d %H:%M:%S}Z", claims=claims)

    # (9): revocation
    if is_revoked is not None and is_revoked(claims.issuer, claims.serial):
        raise RevokedError("the issuer has revoked this card", claims=claims)

    return VerifiedCard(claims=claims, certificate=cert, kid=card.kid)
