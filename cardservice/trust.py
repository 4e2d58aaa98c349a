"""Trust between cities: trust bundles, revocation lists, and what a city holds about a partner.

Rules this module enforces (SPEC §5, issue 7):

- A **trust bundle** is signed by the city root it carries. It names the city, its base URL,
  a **version** that only grows, ``issued_at`` / ``expires_at``, the root, the root it
  replaced (``previous_root``, while cards signed under it are still valid), every signing
  certificate still in force, and where the revocation list is.
- A **revocation list** is signed by the current root and holds the revoked card serials
  that have not yet expired, a **sequence** number that only grows and ``next_update``.
- Trust starts from a **pinned fingerprint** (SHA-256 of the root DER) given by another
  channel; nothing is trusted unless it matches (:meth:`TrustedState.from_pinned_bundle`).
- A **root rotation** is a bundle whose ``previous_root`` is the root a partner holds,
  signed by *both* that previous root and the new root. A partner more than one rotation
  behind follows the chain of rotation bundles (``intermediates``), at most
  :data:`MAX_ROOT_CHAIN` rotations in one update.
- A bundle with a lower version than the one held is refused (no rollback); the same
  version is accepted only as the very same content (a no-op). A bundle past its
  ``expires_at`` or whose root has expired is refused.
- Every signing certificate in a bundle must chain to its root or to the ``previous_root``
  it names (both are vouched for by the root's signature); one that does not makes the
  whole bundle refused: a publisher that lists a bad certificate is broken.
- A revocation list is accepted only from the held root, for the held city, with a
  sequence not lower than the one held (same sequence: same content only). A list past
  its ``next_update`` is *stale*: still accepted when newer than the one held (it is the
  best information there is), and :meth:`TrustedState.revocations_stale` says so, so that
  verification can report the age of its trust data. Only the current root signs lists:
  a retired root may have been retired for being compromised. A list accepted before a
  rotation stays until the next one arrives; after following two rotations at once, the
  held list's root is no longer named by the bundle and the list is dropped (it could not
  be checked again on loading; any list from the new root is newer anyway).
- Onboarding during a rotation: the pinned fingerprint may also be that of the
  ``previous_root`` of a bundle signed by both roots.
- :class:`TrustedState` is immutable. Updates return a *new* state or raise a
  :class:`TrustError`; a caller stores the new state only on success, so a refused
  document never changes what is trusted. Any malformed input raises
  :class:`TrustFormatError`, never another exception type.
- Stored state (:meth:`TrustedState.to_bytes`) is the raw signed documents; loading it
  (:meth:`TrustedState.from_bytes`) checks every signature again against the fingerprint
  the caller holds, so storage cannot smuggle in an unverified field. Loading accepts an
  expired bundle (the data is still the best known); ``bundle_expired`` and
  ``trust_data_age_seconds`` report it.
- Time is passed in as ``now``; nothing here reads the clock.

Encoding (CBOR, RFC 8949; COSE, RFC 9052; all maps in canonical order; times are integer
seconds since 1970-01-01T00:00:00Z; ``kid(root)`` = first 8 bytes of SHA-256 over the
root certificate DER; external_aad is empty)::

    bundle, one signer     COSE_Sign1, tag 18:
                           [ << {1: -8, 3: "application/citycard-trust-bundle+cbor",
                                 4: kid(root)} >>, {}, payload, signature ]
    bundle, root rotation  COSE_Sign, tag 98:
                           [ << {3: "application/citycard-trust-bundle+cbor"} >>, {}, payload,
                             [ [ << {1: -8, 4: kid(root)} >>,          {}, signature ],
                               [ << {1: -8, 4: kid(previous_root)} >>, {}, signature ] ] ]
    revocation list        COSE_Sign1, tag 18:
                           [ << {1: -8, 3: "application/citycard-revocations+cbor",
                                 4: kid(root)} >>, {}, payload, signature ]

    bundle payload   {"city_id": tstr, "city_name": tstr, "names": {lang: tstr},
                      "base_url": tstr, "version": uint, "issued_at": uint,
                      "expires_at": uint, "root": bstr (DER),
                      "previous_root": bstr (DER) / null,
                      "signing_certificates": [{"kid": bstr, "certificate": bstr (DER),
                                                "not_before": uint, "not_after": uint}],
                      "revocations_url": tstr}
    revocations      {"city_id": tstr, "sequence": uint, "issued_at": uint,
                      "next_update": uint, "revoked": [[serial tstr, expires_at uint,
                                                        reason tstr], ...] (by serial)}

COSE_Sign (the standard multi-signer structure) is used only for a rotation, with the new
root's signature first; a bundle that names a ``previous_root`` but is no longer part of
a rotation is a plain COSE_Sign1 by the current root. The content type in the protected
header, covered by every signature, keeps a revocation list from being read as a bundle
and the reverse. Decoding is strict: shortest-form CBOR, exactly these headers and keys.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import cbor2
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from cardservice import pki
from cardservice.credential import MAX_SERIAL_LENGTH

__all__ = [
    "BUNDLE_CONTENT_TYPE",
    "MAX_BUNDLE_BYTES",
    "MAX_REVOCATION_LIST_BYTES",
    "MAX_ROOT_CHAIN",
    "MAX_SIGNING_CERTIFICATES",
    "REVOCATIONS_CONTENT_TYPE",
    "CityMismatchError",
    "ExpiredTrustDataError",
    "FingerprintMismatchError",
    "PartnerTrustAnchors",
    "RevocationList",
    "RevokedCard",
    "RollbackError",
    "RootRotationError",
    "SigningKeyMismatchError",
    "SigningKeyInfo",
    "TrustBundle",
    "TrustError",
    "TrustFormatError",
    "TrustSignatureError",
    "TrustedState",
    "UntrustedRootError",
    "UntrustedSigningCertificateError",
    "bundle_to_json",
    "decode_bundle_unverified",
    "decode_revocations_unverified",
    "make_bundle",
    "make_revocation_list",
    "revocations_to_json",
    "sign_bundle",
    "sign_revocations",
]

#: Most root rotations followed in one update (intermediate rotation bundles + the new one).
MAX_ROOT_CHAIN = 8
#: Largest signed bundle accepted; a real one is a few kilobytes.
MAX_BUNDLE_BYTES = 256 * 1024
#: Largest signed revocation list accepted (about 40 bytes a serial: ~800 000 serials).
MAX_REVOCATION_LIST_BYTES = 32 * 1024 * 1024
#: Most signing certificates in one bundle.
MAX_SIGNING_CERTIFICATES = 64
#: Content types in the protected header: what kind of document a signature covers.
BUNDLE_CONTENT_TYPE = "application/citycard-trust-bundle+cbor"
REVOCATIONS_CONTENT_TYPE = "application/citycard-revocations+cbor"

_STATE_FORMAT = 1
_COSE_SIGN1_TAG = 18
_COSE_SIGN_TAG = 98
_ALG_EDDSA = -8
_H_ALG, _H_CONTENT_TYPE, _H_KID = 1, 3, 4
_SIGNATURE_LENGTH = 64
_MAX_CERT_BYTES = 8 * 1024
_MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z
_MAX_COUNTER = 2**63 - 1
_MAX_TEXT = 64
_MAX_URL = 2048
_MAX_NAMES = 32
_LANG_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}")
_REASON = re.compile(r"[a-z][a-z_]{0,31}")
# Bidi embedding/override/isolate controls could make a name display as another.
_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# --------------------------------------------------------------------------- errors


class TrustError(Exception):
    """Base class of every refusal of trust data. ``code`` is stable, for APIs and logs."""

    code: ClassVar[str] = "trust_error"


class TrustFormatError(TrustError, ValueError):
    """Not a well-formed bundle or revocation list (or a value that cannot go in one)."""

    code = "malformed"


class TrustSignatureError(TrustError):
    """A signature does not verify, or is not by the root the document says signed it."""

    code = "bad_signature"


class UntrustedRootError(TrustError):
    """The document's root is not the root held, nor linked to it by a rotation."""

    code = "untrusted_root"


class FingerprintMismatchError(UntrustedRootError):
    """The root's fingerprint is not the one given by the partner's officials."""

    code = "fingerprint_mismatch"


class RootRotationError(UntrustedRootError):
    """A root rotation lacks the old root's signature, breaks the chain, or is too long."""

    code = "root_rotation"


class RollbackError(TrustError):
    """An older document than the one held, or the same number with other content."""

    code = "rollback"


class ExpiredTrustDataError(TrustError):
    """The bundle is past its ``expires_at``, or its root has expired."""

    code = "expired"


class CityMismatchError(TrustError):
    """The document belongs to another city, or its parts name different cities."""

    code = "city_mismatch"


class UntrustedSigningCertificateError(TrustError):
    """A listed signing certificate does not chain to the root or its previous root."""

    code = "untrusted_signing_certificate"


class SigningKeyMismatchError(ValueError):
    """The private key given to sign a document is not the key of the root it must carry."""


# --------------------------------------------------------------------------- helpers


def _utc_seconds(value: Any, name: str) -> dt.datetime:
    """``value`` as an aware UTC datetime, floored to the second (the encoding keeps seconds)."""
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise TrustFormatError(f"{name} must be a timezone-aware datetime")
    value = value.astimezone(dt.UTC).replace(microsecond=0)
    if not 0 <= value.timestamp() <= _MAX_TIMESTAMP:
        raise TrustFormatError(f"{name} is out of range")
    return value


def _now(now: Any) -> dt.datetime:
    if not isinstance(now, dt.datetime) or now.tzinfo is None:
        # A programming error, not bad data: say so plainly.
        raise ValueError("now must be a timezone-aware datetime")
    return now


def _seconds(value: dt.datetime) -> int:
    return int(value.timestamp())


def _from_seconds(value: Any, name: str) -> dt.datetime:
    if not _is_int(value) or not 0 <= value <= _MAX_TIMESTAMP:
        raise TrustFormatError(f"{name} is not a time")
    return _EPOCH + dt.timedelta(seconds=value)


def _is_int(value: Any) -> bool:
    return type(value) is int  # bool is an int subclass and never a valid value here


def _check_text(value: Any, name: str, *, max_length: int = _MAX_TEXT) -> str:
    if type(value) is not str or not value.strip() or len(value) > max_length:
        raise TrustFormatError(f"{name} must be 1 to {max_length} characters")
    if value != value.strip():
        raise TrustFormatError(f"{name} must not start or end with white space")
    for ch in value:
        if unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or ch in _BIDI_CONTROLS:
            raise TrustFormatError(f"{name} holds control character U+{ord(ch):04X}")
    return value


def _check_url(value: Any, name: str) -> str:
    if type(value) is not str or not 0 < len(value) <= _MAX_URL or not value.isascii():
        raise TrustFormatError(f"{name} must be an ASCII URL of at most {_MAX_URL} characters")
    if any(ch <= " " or ch == "\x7f" for ch in value):
        raise TrustFormatError(f"{name} must not hold spaces or control characters")
    try:
        parts = urllib.parse.urlsplit(value)
    except ValueError as exc:
        raise TrustFormatError(f"{name} is not a URL") from exc
    # http is allowed for cities on a private network and for tests; the documents are
    # signed, so transport security is not what makes them trustworthy.
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise TrustFormatError(f"{name} must be an http(s) URL with a host")
    if parts.username is not None or parts.password is not None or parts.fragment:
        raise TrustFormatError(f"{name} must not hold credentials or a fragment")
    return value


def _check_city_id(value: Any, name: str = "city_id") -> str:
    if type(value) is not str or not pki.CITY_ID_PATTERN.fullmatch(value):
        raise TrustFormatError(f"{name} is not a city id (UN/LOCODE without the space)")
    return value


def _check_counter(value: Any, name: str, *, minimum: int) -> int:
    if not _is_int(value) or not minimum <= value <= _MAX_COUNTER:
        raise TrustFormatError(f"{name} must be an integer from {minimum} to 2**63-1")
    return value


def _check_certificate(value: Any, name: str) -> x509.Certificate:
    if not isinstance(value, x509.Certificate):
        raise TrustFormatError(f"{name} must be an X.509 certificate")
    return value


def _der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def _pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode("ascii")


def _load_der(value: Any, name: str) -> x509.Certificate:
    if type(value) is not bytes or not 0 < len(value) <= _MAX_CERT_BYTES:
        raise TrustFormatError(f"{name} is not a DER certificate")
    try:
        cert = x509.load_der_x509_certificate(value)
        # cryptography parses lazily; touch what later checks use so a bad certificate
        # fails here, as a format error, rather than deep inside a check.
        cert.public_key()
        cert.not_valid_before_utc  # noqa: B018
        cert.not_valid_after_utc  # noqa: B018
        cert.extensions  # noqa: B018
        if _der(cert) != value:
            raise ValueError("certificate DER does not round-trip")
    except Exception as exc:
        # The X.509 parser reports bad input with several exception types.
        raise TrustFormatError(f"{name} is not a readable certificate") from exc
    return cert


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _ed25519(cert: x509.Certificate) -> Ed25519PublicKey:
    key = cert.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise UntrustedRootError("a root certificate's key is not Ed25519")
    return key


def _same_key(private: Ed25519PrivateKey, cert: x509.Certificate) -> bool:
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    public = cert.public_key()
    return isinstance(public, Ed25519PublicKey) and private.public_key().public_bytes(
        *raw
    ) == public.public_bytes(*raw)


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class SigningKeyInfo:
    """A signing certificate as a bundle lists it, with its validity and kid."""

    certificate: x509.Certificate
    not_before: dt.datetime
    not_after: dt.datetime

    @property
    def kid(self) -> bytes:
        """First 8 bytes of SHA-256 over the certificate DER (SPEC §3)."""
        return pki.key_id(self.certificate)

    @classmethod
    def of(cls, cert: x509.Certificate) -> SigningKeyInfo:
        """The listing of ``cert``: its validity as the certificate states it."""
        return cls(cert, cert.not_valid_before_utc, cert.not_valid_after_utc)


@dataclass(frozen=True, kw_only=True)
class TrustBundle:
    """What a city publishes about itself for partners (SPEC §5). Fields are checked here.

    ``names`` holds optional localised names by language tag (``{"en": "Lisbon"}``).
    ``previous_root`` is set during and after a root rotation, while cards signed under
    the old root may still be valid. Times are kept to the second.
    """

    city_id: str
    city_name: str
    names: Mapping[str, str] = field(default_factory=dict)
    base_url: str
    version: int
    issued_at: dt.datetime
    expires_at: dt.datetime
    root: x509.Certificate
    previous_root: x509.Certificate | None = None
    signing_certificates: tuple[x509.Certificate, ...]
    revocations_url: str

    def __post_init__(self) -> None:
        _check_city_id(self.city_id)
        _check_text(self.city_name, "city_name")
        _check_url(self.base_url, "base_url")
        _check_url(self.revocations_url, "revocations_url")
        _check_counter(self.version, "version", minimum=1)
        object.__setattr__(self, "issued_at", _utc_seconds(self.issued_at, "issued_at"))
        object.__setattr__(self, "expires_at", _utc_seconds(self.expires_at, "expires_at"))
        if self.expires_at <= self.issued_at:
            raise TrustFormatError("expires_at must be later than issued_at")
        _check_certificate(self.root, "root")
        if self.previous_root is not None:
            _check_certificate(self.previous_root, "previous_root")
            if self.previous_root == self.root:
                raise TrustFormatError("previous_root is the root itself")
        if not isinstance(self.signing_certificates, tuple | list):
            raise TrustFormatError("signing_certificates must be a sequence of certificates")
        certs = tuple(self.signing_certificates)
        if len(certs) > MAX_SIGNING_CERTIFICATES:
            raise TrustFormatError(f"more than {MAX_SIGNING_CERTIFICATES} signing certificates")
        for cert in certs:
            _check_certificate(cert, "signing certificate")
        if len({_der(c) for c in certs}) != len(certs):
            raise TrustFormatError("a signing certificate is listed twice")
        object.__setattr__(self, "signing_certificates", certs)
        if not isinstance(self.names, Mapping) or len(self.names) > _MAX_NAMES:
            raise TrustFormatError(f"names must be a mapping of at most {_MAX_NAMES} entries")
        for lang, name in self.names.items():
            if type(lang) is not str or not _LANG_TAG.fullmatch(lang):
                raise TrustFormatError(f"{lang!r} is not a language tag")
            _check_text(name, f"names[{lang}]")
        object.__setattr__(self, "names", dict(sorted(self.names.items())))

    @property
    def fingerprint(self) -> str:
        """The city fingerprint: SHA-256 of the root DER in 16 groups of 4 hex digits."""
        return pki.fingerprint(self.root)

    @property
    def signing_keys(self) -> tuple[SigningKeyInfo, ...]:
        """Every signing certificate with its validity and kid."""
        return tuple(SigningKeyInfo.of(c) for c in self.signing_certificates)


@dataclass(frozen=True)
class RevokedCard:
    """One revoked card: its serial, when it would have expired, and a reason code.

    ``reason`` is a short code (``lost``, ``stolen``, ``damaged``, ``withdrawn``…), never
    free text: a partner has no business reading more about a resident than that.
    """

    serial: str
    expires_at: dt.datetime
    reason: str

    def __post_init__(self) -> None:
        if (
            type(self.serial) is not str
            or not 1 <= len(self.serial) <= MAX_SERIAL_LENGTH
            or not all("!" <= c <= "~" for c in self.serial)
        ):
            raise TrustFormatError(
                f"a serial is 1 to {MAX_SERIAL_LENGTH} printable ASCII characters"
            )
        object.__setattr__(self, "expires_at", _utc_seconds(self.expires_at, "expires_at"))
        if type(self.reason) is not str or not _REASON.fullmatch(self.reason):
            raise TrustFormatError("a revocation reason is a short lowercase code")


@dataclass(frozen=True, kw_only=True)
class RevocationList:
    """The revoked, not yet expired cards of a city, numbered by ``sequence`` (SPEC §5).

    ``revoked`` is kept sorted by serial, each serial once.
    """

    city_id: str
    sequence: int
    issued_at: dt.datetime
    next_update: dt.datetime
    revoked: tuple[RevokedCard, ...]

    def __post_init__(self) -> None:
        _check_city_id(self.city_id)
        _check_counter(self.sequence, "sequence", minimum=0)
        object.__setattr__(self, "issued_at", _utc_seconds(self.issued_at, "issued_at"))
        object.__setattr__(self, "next_update", _utc_seconds(self.next_update, "next_update"))
        if self.next_update <= self.issued_at:
            raise TrustFormatError("next_update must be later than issued_at")
        if not isinstance(self.revoked, tuple | list):
            raise TrustFormatError("revoked must be a sequence of RevokedCard")
        entries = tuple(self.revoked)
        for entry in entries:
            if not isinstance(entry, RevokedCard):
                raise TrustFormatError("revoked must be a sequence of RevokedCard")
        entries = tuple(sorted(entries, key=lambda e: e.serial))
        if any(a.serial == b.serial for a, b in zip(entries, entries[1:], strict=False)):
            raise TrustFormatError("a serial is listed twice")
        object.__setattr__(self, "revoked", entries)


def make_revocation_list(
    *,
    city_id: str,
    sequence: int,
    revoked: Iterable[RevokedCard],
    now: dt.datetime,
    next_update: dt.datetime,
) -> RevocationList:
    """The list a city publishes at ``now``: only cards that have not yet expired."""
    at = _now(now)
    return RevocationList(
        city_id=city_id,
        sequence=sequence,
        issued_at=at,
        next_update=next_update,
        revoked=tuple(r for r in revoked if r.expires_at > at),
    )


def make_bundle(
    *,
    city_id: str,
    city_name: str,
    base_url: str,
    version: int,
    now: dt.datetime,
    valid_for: dt.timedelta,
    root: x509.Certificate,
    signing_certificates: Iterable[x509.Certificate],
    revocations_url: str,
    previous_root: x509.Certificate | None = None,
    names: Mapping[str, str] | None = None,
) -> TrustBundle:
    """The bundle a city publishes at ``now``, valid for ``valid_for``.

    Signing certificates already expired at ``now`` are left out: no card they signed
    is still valid. The content is checked as a partner would check it.
    """
    at = _now(now)
    if valid_for <= dt.timedelta(0):
        raise TrustFormatError("a bundle must be valid for some time")
    bundle = TrustBundle(
        city_id=city_id,
        city_name=city_name,
        names=dict(names or {}),
        base_url=base_url,
        version=version,
        issued_at=at,
        expires_at=at + valid_for,
        root=root,
        previous_root=previous_root,
        signing_certificates=tuple(c for c in signing_certificates if c.not_valid_after_utc > at),
        revocations_url=revocations_url,
    )
    _check_bundle_content(bundle)
    return bundle


# --------------------------------------------------------------------------- payloads


_BUNDLE_KEYS = frozenset(
    {
        "city_id",
        "city_name",
        "names",
        "base_url",
        "version",
        "issued_at",
        "expires_at",
        "root",
        "previous_root",
        "signing_certificates",
        "revocations_url",
    }
)
_SIGNING_KEYS = frozenset({"kid", "certificate", "not_before", "not_after"})
_REVOCATION_KEYS = frozenset({"city_id", "sequence", "issued_at", "next_update", "revoked"})


def _bundle_payload(bundle: TrustBundle) -> bytes:
    return cbor2.dumps(
        {
            "city_id": bundle.city_id,
            "city_name": bundle.city_name,
            "names": dict(bundle.names),
            "base_url": bundle.base_url,
            "version": bundle.version,
            "issued_at": _seconds(bundle.issued_at),
            "expires_at": _seconds(bundle.expires_at),
            "root": _der(bundle.root),
            "previous_root": None if bundle.previous_root is None else _der(bundle.previous_root),
            "signing_certificates": [
                {
                    "kid": info.kid,
                    "certificate": _der(info.certificate),
                    "not_before": _seconds(info.not_before),
                    "not_after": _seconds(info.not_after),
                }
                for info in bundle.signing_keys
            ],
            "revocations_url": bundle.revocations_url,
        },
        canonical=True,
    )


def _revocations_payload(rl: RevocationList) -> bytes:
    return cbor2.dumps(
        {
            "city_id": rl.city_id,
            "sequence": rl.sequence,
            "issued_at": _seconds(rl.issued_at),
            "next_update": _seconds(rl.next_update),
            "revoked": [[r.serial, _seconds(r.expires_at), r.reason] for r in rl.revoked],
        },
        canonical=True,
    )


def _load_canonical_map(payload: bytes, keys: frozenset[str], what: str) -> dict[str, Any]:
    try:
        raw = cbor2.loads(payload)
    except Exception as exc:
        raise TrustFormatError(f"the {what} payload is not CBOR") from exc
    if type(raw) is not dict or raw.keys() != keys:
        raise TrustFormatError(f"the {what} payload does not hold exactly the expected keys")
    return raw


def _require_canonical(raw: Any, payload: bytes, what: str) -> None:
    # Checked after the type checks, so only plain CBOR values are re-encoded. One
    # encoding per content is what makes "same version, same content" a byte comparison.
    try:
        same = cbor2.dumps(raw, canonical=True) == payload
    except Exception as exc:
        raise TrustFormatError(f"the {what} payload is not plain CBOR") from exc
    if not same:
        raise TrustFormatError(f"the {what} payload is not in canonical CBOR form")


def _bundle_from_payload(payload: bytes) -> TrustBundle:
    raw = _load_canonical_map(payload, _BUNDLE_KEYS, "bundle")
    names = raw["names"]
    if type(names) is not dict or not all(
        type(k) is str and type(v) is str for k, v in names.items()
    ):
        raise TrustFormatError("names must map language tags to text")
    listed = raw["signing_certificates"]
    if type(listed) is not list or len(listed) > MAX_SIGNING_CERTIFICATES:
        raise TrustFormatError("signing_certificates must be a short list")
    infos = []
    for item in listed:
        if type(item) is not dict or item.keys() != _SIGNING_KEYS:
            raise TrustFormatError("a signing certificate entry has the wrong keys")
        cert = _load_der(item["certificate"], "a signing certificate")
        info = SigningKeyInfo(
            cert,
            _from_seconds(item["not_before"], "not_before"),
            _from_seconds(item["not_after"], "not_after"),
        )
        if type(item["kid"]) is not bytes or item["kid"] != info.kid:
            raise TrustFormatError("a signing certificate's kid does not match it")
        if (info.not_before, info.not_after) != (
            cert.not_valid_before_utc,
            cert.not_valid_after_utc,
        ):
            raise TrustFormatError("a signing certificate's listed validity is not its own")
        infos.append(info)
    previous = raw["previous_root"]
    for key in ("version", "issued_at", "expires_at"):
        if not _is_int(raw[key]):
            raise TrustFormatError(f"{key} must be an integer")
    bundle = TrustBundle(
        city_id=raw["city_id"],
        city_name=raw["city_name"],
        names=names,
        base_url=raw["base_url"],
        version=raw["version"],
        issued_at=_from_seconds(raw["issued_at"], "issued_at"),
        expires_at=_from_seconds(raw["expires_at"], "expires_at"),
        root=_load_der(raw["root"], "root"),
        previous_root=None if previous is None else _load_der(previous, "previous_root"),
        signing_certificates=tuple(i.certificate for i in infos),
        revocations_url=raw["revocations_url"],
    )
    _require_canonical(raw, payload, "bundle")
    return bundle


def _revocations_from_payload(payload: bytes) -> RevocationList:
    raw = _load_canonical_map(payload, _REVOCATION_KEYS, "revocation list")
    entries = raw["revoked"]
    if type(entries) is not list:
        raise TrustFormatError("revoked must be a list")
    revoked = []
    for entry in entries:
        if type(entry) is not list or len(entry) != 3:
            raise TrustFormatError("a revocation entry is [serial, expires_at, reason]")
        serial, expires_at, reason = entry
        revoked.append(
            RevokedCard(
                serial=serial, expires_at=_from_seconds(expires_at, "expires_at"), reason=reason
            )
        )
    if [r.serial for r in revoked] != sorted(r.serial for r in revoked):
        raise TrustFormatError("revoked serials are not in order")
    for key in ("sequence", "issued_at", "next_update"):
        if not _is_int(raw[key]):
            raise TrustFormatError(f"{key} must be an integer")
    rl = RevocationList(
        city_id=raw["city_id"],
        sequence=raw["sequence"],
        issued_at=_from_seconds(raw["issued_at"], "issued_at"),
        next_update=_from_seconds(raw["next_update"], "next_update"),
        revoked=tuple(revoked),
    )
    _require_canonical(raw, payload, "revocation list")
    return rl


# --------------------------------------------------------------------------- COSE


@dataclass(frozen=True)
class _Signature:
    kid: bytes
    to_be_signed: bytes
    signature: bytes


@dataclass(frozen=True)
class _Envelope:
    """A decoded COSE_Sign1 / COSE_Sign: its payload and each signature's input."""

    raw: bytes
    payload: bytes
    signatures: tuple[_Signature, ...]


def _header(alg_kid: bytes | None, content_type: str | None) -> bytes:
    header: dict[int, Any] = {}
    if alg_kid is not None:
        header[_H_ALG] = _ALG_EDDSA
        header[_H_KID] = alg_kid
    if content_type is not None:
        header[_H_CONTENT_TYPE] = content_type
    return cbor2.dumps(header, canonical=True)


def _sig1_input(protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature1", protected, b"", payload])


def _sig_input(body_protected: bytes, sign_protected: bytes, payload: bytes) -> bytes:
    return cbor2.dumps(["Signature", body_protected, sign_protected, b"", payload])


def _sign1(payload: bytes, *, content_type: str, key: Ed25519PrivateKey, kid: bytes) -> bytes:
    protected = _header(kid, content_type)
    signature = key.sign(_sig1_input(protected, payload))
    return cbor2.dumps(cbor2.CBORTag(_COSE_SIGN1_TAG, [protected, {}, payload, signature]))


def _sign_multi(
    payload: bytes, *, content_type: str, signers: Sequence[tuple[Ed25519PrivateKey, bytes]]
) -> bytes:
    body = _header(None, content_type)
    signatures = []
    for key, kid in signers:
        protected = _header(kid, None)
        signatures.append([protected, {}, key.sign(_sig_input(body, protected, payload))])
    return cbor2.dumps(cbor2.CBORTag(_COSE_SIGN_TAG, [body, {}, payload, signatures]))


def _parse_header(protected: Any, *, alg_kid: bool, content_type: str | None) -> bytes:
    """Check a protected header is exactly the expected one; return its kid (or b"")."""
    if type(protected) is not bytes:
        raise TrustFormatError("a protected header is not a byte string")
    try:
        header = cbor2.loads(protected)
    except Exception as exc:
        raise TrustFormatError("a protected header is not CBOR") from exc
    if type(header) is not dict:
        raise TrustFormatError("a protected header is not a map")
    kid = header.get(_H_KID)
    if alg_kid and (type(kid) is not bytes or len(kid) != pki.KID_LENGTH):
        raise TrustFormatError("a protected header lacks an 8-byte kid")
    if content_type is not None and header.get(_H_CONTENT_TYPE) != content_type:
        if type(header.get(_H_CONTENT_TYPE)) is str:
            raise TrustFormatError(
                f"this document is {header[_H_CONTENT_TYPE][:60]!r}, not {content_type!r}"
            )
        raise TrustFormatError("a protected header lacks the content type")
    # Rebuilding the header from what was read and comparing bytes rejects anything
    # else: other labels, another algorithm, a non-canonical encoding.
    if _header(kid if alg_kid else None, content_type) != protected:
        raise TrustFormatError("a protected header is not {alg: EdDSA, kid} / {content type}")
    return kid if alg_kid and isinstance(kid, bytes) else b""


def _decode_envelope(
    data: Any, *, content_type: str, max_bytes: int, allow_multi: bool
) -> _Envelope:
    """(1): format — decode a COSE_Sign1 (or, if allowed, COSE_Sign) strictly."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TrustFormatError("a signed document is bytes")
    data = bytes(data)
    if not data or len(data) > max_bytes:
        raise TrustFormatError(f"a signed document is 1 to {max_bytes} bytes")
    try:
        message = cbor2.loads(data)
    except Exception as exc:
        # cbor2 reports malformed input with several exception types.
        raise TrustFormatError("not CBOR") from exc
    if (
        type(message) is not cbor2.CBORTag
        or message.tag not in (_COSE_SIGN1_TAG, _COSE_SIGN_TAG)
        or (message.tag == _COSE_SIGN_TAG and not allow_multi)
        or type(message.value) is not list
        or len(message.value) != 4
    ):
        raise TrustFormatError("not a COSE_Sign1 message" + (" or COSE_Sign" * allow_multi))
    first, unprotected, payload, last = message.value
    if type(unprotected) is not dict or unprotected or type(payload) is not bytes:
        raise TrustFormatError("COSE fields of the wrong type")
    if message.tag == _COSE_SIGN1_TAG:
        kid = _parse_header(first, alg_kid=True, content_type=content_type)
        if type(last) is not bytes or len(last) != _SIGNATURE_LENGTH:
            raise TrustFormatError("the signature is not 64 bytes")
        signatures: tuple[_Signature, ...] = (_Signature(kid, _sig1_input(first, payload), last),)
    else:
        _parse_header(first, alg_kid=False, content_type=content_type)
        if type(last) is not list or len(last) != 2:
            # Two signers exactly: a rotation, old and new root. One signer is COSE_Sign1.
            raise TrustFormatError("a COSE_Sign bundle carries exactly two signatures")
        sigs = []
        for item in last:
            if type(item) is not list or len(item) != 3:
                raise TrustFormatError("a COSE_Signature is not [protected, {}, signature]")
            protected, unprotected_sig, signature = item
            if type(unprotected_sig) is not dict or unprotected_sig:
                raise TrustFormatError("a COSE_Signature has an unprotected header")
            if type(signature) is not bytes or len(signature) != _SIGNATURE_LENGTH:
                raise TrustFormatError("a signature is not 64 bytes")
            kid = _parse_header(protected, alg_kid=True, content_type=None)
            sigs.append(_Signature(kid, _sig_input(first, protected, payload), signature))
        signatures = tuple(sigs)
    # Shortest-form CBOR and nothing after it: each document has exactly one encoding.
    try:
        shortest = cbor2.dumps(message) == data
    except Exception as exc:
        raise TrustFormatError("not plain CBOR") from exc
    if not shortest:
        raise TrustFormatError("not in shortest CBOR form, or followed by other data")
    return _Envelope(data, payload, signatures)


def _verify(signature: _Signature, signer: x509.Certificate, what: str) -> None:
    if signature.kid != pki.key_id(signer):
        raise TrustSignatureError(f"the {what} signature is not by the root it should be")
    try:
        _ed25519(signer).verify(signature.signature, signature.to_be_signed)
    except InvalidSignature as exc:
        raise TrustSignatureError(f"the {what} signature does not verify") from exc


# --------------------------------------------------------------------------- signing


def sign_bundle(bundle: TrustBundle, *, root_keys: Sequence[Ed25519PrivateKey]) -> bytes:
    """Sign ``bundle``: COSE_Sign1 with one root key, COSE_Sign with two for a rotation.

    For a rotation pass the keys of ``bundle.root`` and ``bundle.previous_root`` (in any
    order). Refuses content a partner would refuse (the same errors it would get).
    """
    if not isinstance(bundle, TrustBundle):
        raise TypeError("bundle must be a TrustBundle")
    _check_bundle_content(bundle)
    keys = list(root_keys)
    payload = _bundle_payload(bundle)
    if len(keys) == 1:
        if not _same_key(keys[0], bundle.root):
            raise SigningKeyMismatchError("the key is not the key of the bundle's root")
        return _sign1(
            payload,
            content_type=BUNDLE_CONTENT_TYPE,
            key=keys[0],
            kid=pki.key_id(bundle.root),
        )
    if len(keys) == 2:
        previous = bundle.previous_root
        if previous is None:
            raise SigningKeyMismatchError("two root keys sign only a rotation (previous_root)")
        new = next((k for k in keys if _same_key(k, bundle.root)), None)
        old = next((k for k in keys if _same_key(k, previous)), None)
        if new is None or old is None:
            raise SigningKeyMismatchError("the keys are not those of the root and previous root")
        return _sign_multi(
            payload,
            content_type=BUNDLE_CONTENT_TYPE,
            signers=[(new, pki.key_id(bundle.root)), (old, pki.key_id(previous))],
        )
    raise SigningKeyMismatchError("a bundle is signed by one root key, or two for a rotation")


def sign_revocations(
    rl: RevocationList, *, root_key: Ed25519PrivateKey, root: x509.Certificate
) -> bytes:
    """Sign a revocation list with the city's current root (COSE_Sign1)."""
    if not isinstance(rl, RevocationList):
        raise TypeError("rl must be a RevocationList")
    if not _same_key(root_key, root):
        raise SigningKeyMismatchError("the key is not the key of the root certificate")
    try:
        root_city = pki.city_id_of(root)
    except pki.PKIError as exc:
        raise TrustFormatError("the root names no city") from exc
    if root_city != rl.city_id:
        raise CityMismatchError(f"the root is {root_city}'s, the list is {rl.city_id}'s")
    return _sign1(
        _revocations_payload(rl),
        content_type=REVOCATIONS_CONTENT_TYPE,
        key=root_key,
        kid=pki.key_id(root),
    )


# --------------------------------------------------------------------------- decoding


def decode_bundle_unverified(data: bytes) -> TrustBundle:
    """Read a signed bundle WITHOUT checking any signature: for display only.

    Nothing read this way may be trusted; use :class:`TrustedState` for that.
    """
    env = _decode_envelope(
        data, content_type=BUNDLE_CONTENT_TYPE, max_bytes=MAX_BUNDLE_BYTES, allow_multi=True
    )
    return _bundle_from_payload(env.payload)


def decode_revocations_unverified(data: bytes) -> RevocationList:
    """Read a signed revocation list WITHOUT checking its signature: for display only."""
    env = _decode_envelope(
        data,
        content_type=REVOCATIONS_CONTENT_TYPE,
        max_bytes=MAX_REVOCATION_LIST_BYTES,
        allow_multi=False,
    )
    return _revocations_from_payload(env.payload)


def bundle_to_json(bundle: TrustBundle) -> dict[str, Any]:
    """A readable form of ``bundle`` (certificates in PEM, times ISO 8601 UTC)."""
    return {
        "type": "citycard-trust-bundle",
        "city_id": bundle.city_id,
        "city_name": bundle.city_name,
        "names": dict(bundle.names),
        "base_url": bundle.base_url,
        "version": bundle.version,
        "issued_at": _iso(bundle.issued_at),
        "expires_at": _iso(bundle.expires_at),
        "fingerprint": bundle.fingerprint,
        "root": _pem(bundle.root),
        "previous_root": None if bundle.previous_root is None else _pem(bundle.previous_root),
        "previous_root_fingerprint": (
            None if bundle.previous_root is None else pki.fingerprint(bundle.previous_root)
        ),
        "signing_certificates": [
            {
                "kid": info.kid.hex(),
                "not_before": _iso(info.not_before),
                "not_after": _iso(info.not_after),
                "certificate": _pem(info.certificate),
            }
            for info in bundle.signing_keys
        ],
        "revocations_url": bundle.revocations_url,
    }


def revocations_to_json(rl: RevocationList) -> dict[str, Any]:
    """A readable form of a revocation list (times ISO 8601 UTC)."""
    return {
        "type": "citycard-revocations",
        "city_id": rl.city_id,
        "sequence": rl.sequence,
        "issued_at": _iso(rl.issued_at),
        "next_update": _iso(rl.next_update),
        "revoked": [
            {"serial": r.serial, "expires_at": _iso(r.expires_at), "reason": r.reason}
            for r in rl.revoked
        ],
    }


# --------------------------------------------------------------------------- checks


def _check_root(root: x509.Certificate, city_id: str, what: str) -> None:
    """A root is a self-signed Ed25519 CA certificate of the bundle's city."""
    try:
        _ed25519(root)
        bc = root.extensions.get_extension_for_class(x509.BasicConstraints).value
        ku = root.extensions.get_extension_for_class(x509.KeyUsage).value
        if not bc.ca or not ku.key_cert_sign:
            raise UntrustedRootError(f"the {what} is not a certificate authority")
        root.verify_directly_issued_by(root)
    except UntrustedRootError:
        raise
    except Exception as exc:
        # x509 reports a missing extension, a bad self-signature and a name mismatch
        # with different exception types; each means this is no root.
        raise UntrustedRootError(f"the {what} is not a self-signed Ed25519 CA") from exc
    try:
        root_city = pki.city_id_of(root)
    except pki.PKIError as exc:
        raise CityMismatchError(f"the {what} names no city") from exc
    if root_city != city_id:
        raise CityMismatchError(f"the {what} belongs to {root_city}, the bundle to {city_id}")


def _check_bundle_content(bundle: TrustBundle) -> None:
    """(4): content — roots are the city's CAs; every signing certificate chains to one."""
    _check_root(bundle.root, bundle.city_id, "root")
    roots = [bundle.root]
    if bundle.previous_root is not None:
        _check_root(bundle.previous_root, bundle.city_id, "previous root")
        roots.append(bundle.previous_root)
    for cert in bundle.signing_certificates:
        kid = pki.key_id(cert).hex()
        try:
            cert_city = pki.city_id_of(cert)
        except pki.PKIError as exc:
            raise CityMismatchError(f"signing certificate {kid} names no city") from exc
        if cert_city != bundle.city_id:
            raise CityMismatchError(f"signing certificate {kid} belongs to {cert_city}")
        for root in roots:
            try:
                pki.check_chain(cert=cert, root=root)
                break
            except pki.PKIError:
                continue
        else:
            raise UntrustedSigningCertificateError(
                f"signing certificate {kid} does not chain to the root or previous root"
            )


@dataclass(frozen=True)
class _VerifiedBundle:
    """A bundle whose every signature verified and whose content checked out."""

    envelope: _Envelope
    bundle: TrustBundle
    signed_by: tuple[x509.Certificate, ...]


def _read_bundle(data: Any) -> _VerifiedBundle:
    """(1)-(4) of a bundle: format, every signature, content. Trust is decided by the caller."""
    # (1): format
    env = _decode_envelope(
        data, content_type=BUNDLE_CONTENT_TYPE, max_bytes=MAX_BUNDLE_BYTES, allow_multi=True
    )
    bundle = _bundle_from_payload(env.payload)
    # (2): signatures — the bundle's own root always signs; a two-signature bundle is a
    # rotation, signed by the previous root as well. Every signature present must verify.
    if len(env.signatures) == 1:
        signers: tuple[x509.Certificate, ...] = (bundle.root,)
    elif bundle.previous_root is None:
        raise TrustFormatError("a two-signature bundle names no previous root")
    else:
        signers = (bundle.root, bundle.previous_root)
    for signature, signer, what in zip(
        env.signatures, signers, ("root", "previous root")[: len(signers)], strict=True
    ):
        _verify(signature, signer, what)
    # (3): content
    _check_bundle_content(bundle)
    return _VerifiedBundle(env, bundle, signers)


def _link(verified: _VerifiedBundle, anchor: x509.Certificate) -> None:
    """(5): trust — the bundle's root is ``anchor``, or a rotation signed by ``anchor``."""
    bundle = verified.bundle
    if bundle.root == anchor:
        return
    if bundle.previous_root is not None and bundle.previous_root == anchor:
        if anchor not in verified.signed_by:
            raise RootRotationError(
                "the bundle rotates to a new root without the signature of the root held"
            )
        return
    raise UntrustedRootError("the bundle's root is not the root held, nor signed by it")


def _check_fresh(bundle: TrustBundle, now: dt.datetime) -> None:
    """(7): expiry — of the bundle and of its root."""
    if now >= bundle.expires_at:
        raise ExpiredTrustDataError(f"the bundle expired at {_iso(bundle.expires_at)}")
    if now >= bundle.root.not_valid_after_utc:
        raise ExpiredTrustDataError(f"the root expired at {_iso(bundle.root.not_valid_after_utc)}")


@dataclass(frozen=True)
class _VerifiedRevocations:
    envelope: _Envelope
    revocations: RevocationList
    signer: x509.Certificate


def _read_revocations(
    data: Any, *, city_id: str, roots: Sequence[x509.Certificate]
) -> _VerifiedRevocations:
    """Format, city, and signature by one of ``roots`` (chosen by kid)."""
    # (1): format
    env = _decode_envelope(
        data,
        content_type=REVOCATIONS_CONTENT_TYPE,
        max_bytes=MAX_REVOCATION_LIST_BYTES,
        allow_multi=False,
    )
    rl = _revocations_from_payload(env.payload)
    # (2): city
    if rl.city_id != city_id:
        raise CityMismatchError(f"the revocation list is {rl.city_id}'s, not {city_id}'s")
    # (3): signed by a root held
    (signature,) = env.signatures
    signer = next((r for r in roots if pki.key_id(r) == signature.kid), None)
    if signer is None:
        raise UntrustedRootError("the revocation list is not signed by the root held")
    _verify(signature, signer, "revocation list")
    return _VerifiedRevocations(env, rl, signer)


# --------------------------------------------------------------------------- state


_CONSTRUCT = object()


class TrustedState:
    """What one city trusts about a partner: a verified bundle and revocation list.

    Immutable. Build it with :meth:`from_pinned_bundle` (onboarding) or
    :meth:`from_bytes` (stored state); every update returns a new state or raises a
    :class:`TrustError` and leaves this one as it was.
    """

    __slots__ = ("_bundle", "_by_kid", "_revocations", "_revoked")

    _bundle: _VerifiedBundle
    _revocations: _VerifiedRevocations | None
    _by_kid: dict[bytes, tuple[x509.Certificate, ...]]
    _revoked: frozenset[str]

    def __init__(
        self,
        bundle: _VerifiedBundle,
        revocations: _VerifiedRevocations | None,
        *,
        _token: object = None,
    ) -> None:
        if _token is not _CONSTRUCT:
            raise TypeError("use TrustedState.from_pinned_bundle or TrustedState.from_bytes")
        by_kid: dict[bytes, list[x509.Certificate]] = {}
        for cert in bundle.bundle.signing_certificates:
            by_kid.setdefault(pki.key_id(cert), []).append(cert)
        set_ = object.__setattr__
        set_(self, "_bundle", bundle)
        set_(self, "_revocations", revocations)
        set_(self, "_by_kid", {k: tuple(v) for k, v in by_kid.items()})
        set_(
            self,
            "_revoked",
            frozenset(r.serial for r in revocations.revocations.revoked)
            if revocations is not None
            else frozenset(),
        )

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError("a TrustedState is immutable; updates return a new one")

    def __repr__(self) -> str:
        rl = self._revocations
        return (
            f"TrustedState(city_id={self.city_id!r}, version={self.version}, "
            f"fingerprint={self.fingerprint!r}, "
            f"revocations_sequence={None if rl is None else rl.revocations.sequence})"
        )

    # -- construction

    @classmethod
    def from_pinned_bundle(cls, data: bytes, *, fingerprint: str, now: dt.datetime) -> TrustedState:
        """Start trusting a partner from its bundle and the fingerprint its officials gave.

        The fingerprint must be that of the bundle's root, or of its previous root when
        the bundle is a rotation signed by both. Raises ``pki.FingerprintFormatError``
        when ``fingerprint`` is not 64 hex digits, else a :class:`TrustError`.
        """
        pinned = pki.normalise_fingerprint(fingerprint)
        at = _now(now)
        verified = _read_bundle(data)  # (1)-(4)
        bundle = verified.bundle
        # (5): trust — the pinned fingerprint names the anchor
        if pki.fingerprint(bundle.root) == pinned:
            anchor = bundle.root
        elif bundle.previous_root is not None and pki.fingerprint(bundle.previous_root) == pinned:
            anchor = bundle.previous_root
        else:
            raise FingerprintMismatchError(
                f"the bundle's root has fingerprint {bundle.fingerprint}, not {pinned}"
            )
        _link(verified, anchor)
        # (7): expiry
        _check_fresh(bundle, at)
        return cls(verified, None, _token=_CONSTRUCT)

    @classmethod
    def from_bytes(cls, data: bytes, *, fingerprint: str) -> TrustedState:
        """Load a state stored with :meth:`to_bytes`, checking every signature again.

        ``fingerprint`` is the :attr:`fingerprint` stored with it (the current root's).
        An expired bundle or stale list is loaded; the accessors report it.
        """
        pinned = pki.normalise_fingerprint(fingerprint)
        if not isinstance(data, bytes | bytearray | memoryview) or not data:
            raise TrustFormatError("stored trust state is bytes")
        limit = MAX_BUNDLE_BYTES + MAX_REVOCATION_LIST_BYTES + 1024
        if len(data) > limit:
            raise TrustFormatError("stored trust state is too large")
        try:
            raw = cbor2.loads(bytes(data))
        except Exception as exc:
            raise TrustFormatError("stored trust state is not CBOR") from exc
        if (
            type(raw) is not dict
            or raw.keys() != {"format", "bundle", "revocations"}
            or raw["format"] != _STATE_FORMAT
            or not _is_int(raw["format"])
            or type(raw["bundle"]) is not bytes
            or (raw["revocations"] is not None and type(raw["revocations"]) is not bytes)
        ):
            raise TrustFormatError("stored trust state has an unknown layout")
        if cbor2.dumps(raw, canonical=True) != bytes(data):
            raise TrustFormatError("stored trust state is not in canonical CBOR form")
        verified = _read_bundle(raw["bundle"])
        if verified.bundle.fingerprint != pinned:
            raise FingerprintMismatchError("stored bundle's root is not the fingerprint held")
        revocations = None
        if raw["revocations"] is not None:
            revocations = _read_revocations(
                raw["revocations"],
                city_id=verified.bundle.city_id,
                roots=_roots_of(verified.bundle),
            )
        return cls(verified, revocations, _token=_CONSTRUCT)

    def to_bytes(self) -> bytes:
        """The state for storage: the raw signed documents (see :meth:`from_bytes`)."""
        return cbor2.dumps(
            {
                "format": _STATE_FORMAT,
                "bundle": self._bundle.envelope.raw,
                "revocations": (
                    None if self._revocations is None else self._revocations.envelope.raw
                ),
            },
            canonical=True,
        )

    # -- updates

    def update_bundle(
        self,
        data: bytes,
        *,
        now: dt.datetime,
        intermediates: Sequence[bytes] = (),
    ) -> TrustedState:
        """Accept a newer bundle, following root rotations; return the new state.

        ``intermediates`` are the rotation bundles between the root held and the new
        bundle's ``previous_root``, oldest first, for a partner more than one rotation
        behind; at most ``MAX_ROOT_CHAIN - 1`` of them. The same version with the same
        content returns this state unchanged.
        """
        at = _now(now)
        if isinstance(intermediates, bytes | bytearray | str):
            raise TypeError("intermediates is a sequence of signed bundles")
        steps = list(intermediates)
        # The cap comes before any decoding: a long chain costs nothing to refuse.
        if len(steps) >= MAX_ROOT_CHAIN:
            raise RootRotationError(
                f"more than {MAX_ROOT_CHAIN} root rotations in one update; re-pin the partner"
            )
        held = self._bundle.bundle
        anchor, floor = held.root, held.version
        for raw in steps:
            step = _read_bundle(raw)  # (1)-(4)
            if step.bundle.city_id != held.city_id:
                raise CityMismatchError(f"an intermediate bundle is {step.bundle.city_id}'s")
            if step.bundle.root == anchor:
                raise RootRotationError("an intermediate bundle does not rotate the root")
            if step.bundle.previous_root != anchor:
                raise RootRotationError("an intermediate bundle does not continue the chain")
            _link(step, anchor)  # (5)
            if step.bundle.version <= floor:  # (6)
                raise RollbackError("intermediate bundles must have growing versions")
            # Intermediates only prove the succession of roots: their expiry is not
            # judged, as a rotation bundle is normally long expired when a partner
            # that fell behind catches up.
            anchor, floor = step.bundle.root, step.bundle.version

        verified = _read_bundle(data)  # (1)-(4)
        bundle = verified.bundle
        # (2b): city
        if bundle.city_id != held.city_id:
            raise CityMismatchError(f"the bundle is {bundle.city_id}'s, not {held.city_id}'s")
        # (5): trust
        _link(verified, anchor)
        # (6): order — no rollback; the same version only as the same content
        if not steps and bundle.version == held.version:
            if verified.envelope.payload == self._bundle.envelope.payload:
                return self
            raise RollbackError(f"version {bundle.version} is held with other content")
        if bundle.version <= floor:
            raise RollbackError(f"version {bundle.version} is older than {floor}, held")
        # (7): expiry
        _check_fresh(bundle, at)
        # A list signed by a root the new bundle no longer names cannot be checked again
        # on loading; it is dropped (any list from the new root is newer anyway).
        revocations = self._revocations
        if revocations is not None and revocations.signer not in _roots_of(bundle):
            revocations = None
        return TrustedState(verified, revocations, _token=_CONSTRUCT)

    def update_revocations(self, data: bytes, *, now: dt.datetime) -> TrustedState:
        """Accept a newer revocation list signed by the root held; return the new state.

        A list past its ``next_update`` is still accepted when newer than the one held;
        :meth:`revocations_stale` reports it. The same sequence with the same content
        returns this state unchanged.
        """
        _now(now)
        # (1)-(3): format, city, signature by the current root only: a previous root may
        # be the reason for a rotation and must not be able to block newer lists.
        verified = _read_revocations(data, city_id=self.city_id, roots=(self._bundle.bundle.root,))
        # (6): order
        held = self._revocations
        if held is not None:
            sequence, held_sequence = verified.revocations.sequence, held.revocations.sequence
            if sequence < held_sequence:
                raise RollbackError(f"sequence {sequence} is older than {held_sequence}, held")
            if sequence == held_sequence:
                if verified.envelope.payload == held.envelope.payload:
                    return self
                raise RollbackError(f"sequence {sequence} is held with other content")
        return TrustedState(self._bundle, verified, _token=_CONSTRUCT)

    # -- accessors

    @property
    def city_id(self) -> str:
        """The partner's city id."""
        return self._bundle.bundle.city_id

    @property
    def bundle(self) -> TrustBundle:
        """The accepted bundle."""
        return self._bundle.bundle

    @property
    def root(self) -> x509.Certificate:
        """The root held (the accepted bundle's root)."""
        return self._bundle.bundle.root

    @property
    def roots(self) -> tuple[x509.Certificate, ...]:
        """Roots that signing certificates may chain to: the root, then the previous root."""
        return _roots_of(self._bundle.bundle)

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the root held; store it with :meth:`to_bytes`."""
        return self._bundle.bundle.fingerprint

    @property
    def version(self) -> int:
        """Version of the accepted bundle."""
        return self._bundle.bundle.version

    @property
    def expires_at(self) -> dt.datetime:
        """When the accepted bundle expires."""
        return self._bundle.bundle.expires_at

    @property
    def revocations(self) -> RevocationList | None:
        """The latest accepted revocation list, if any."""
        return None if self._revocations is None else self._revocations.revocations

    @property
    def raw_bundle(self) -> bytes:
        """The accepted bundle as signed, to pass on or archive."""
        return self._bundle.envelope.raw

    @property
    def raw_revocations(self) -> bytes | None:
        """The accepted revocation list as signed."""
        return None if self._revocations is None else self._revocations.envelope.raw

    def signing_certificates_for(self, kid: bytes) -> list[x509.Certificate]:
        """Signing certificates with ``kid``; each chains to one of :attr:`roots`."""
        return list(self._by_kid.get(bytes(kid), ()))

    def is_revoked(self, serial: str) -> bool:
        """Whether the latest accepted list revokes ``serial``."""
        return serial in self._revoked

    def bundle_expired(self, now: dt.datetime) -> bool:
        """Whether the bundle held is past its ``expires_at`` (possible after loading)."""
        return _now(now) >= self._bundle.bundle.expires_at

    def revocations_stale(self, now: dt.datetime) -> bool:
        """Whether there is no revocation list, or it is past its ``next_update``."""
        rl = self.revocations
        return rl is None or _now(now) >= rl.next_update

    def trust_data_age_seconds(self, now: dt.datetime) -> int:
        """Seconds since the older of the bundle and revocation list was issued (>= 0)."""
        oldest = self._bundle.bundle.issued_at
        rl = self.revocations
        if rl is not None:
            oldest = min(oldest, rl.issued_at)
        return max(0, int((_now(now) - oldest).total_seconds()))


def _roots_of(bundle: TrustBundle) -> tuple[x509.Certificate, ...]:
    if bundle.previous_root is None:
        return (bundle.root,)
    return (bundle.root, bundle.previous_root)


class PartnerTrustAnchors:
    """The ``credential.TrustAnchors`` of a set of partner states, plus their revocations."""

    def __init__(self, states: Iterable[TrustedState]) -> None:
        self._states: dict[str, TrustedState] = {}
        for state in states:
            if state.city_id in self._states:
                raise ValueError(f"two trusted states for {state.city_id}")
            self._states[state.city_id] = state

    def roots_for(self, issuer: str) -> Sequence[x509.Certificate]:
        """The root and previous root held for ``issuer`` (empty: not a partner)."""
        state = self._states.get(issuer)
        return () if state is None else state.roots

    def signing_certificates_for(self, issuer: str, kid: bytes) -> Sequence[x509.Certificate]:
        """Signing certificates of ``issuer`` with ``kid``."""
        state = self._states.get(issuer)
        return () if state is None else state.signing_certificates_for(kid)

    def is_revoked(self, issuer: str, serial: str) -> bool:
        """Whether ``issuer``'s latest accepted list revokes ``serial``."""
        state = self._states.get(issuer)
        return state is not None and state.is_revoked(serial)
