"""Trust documents as data: bundles, revocation lists, their fields' rules, and errors.

The rules of the whole package are in :mod:`cardservice.trust`; this module holds the
data model (:class:`TrustBundle`, :class:`RevocationList`, :class:`RevokedCard`,
:class:`SigningKeyInfo`), every :class:`TrustError`, the checks each field must pass
(made in the constructors, so a value that could not go in a document never exists),
:func:`make_bundle` / :func:`make_revocation_list`, and the content check a bundle passes
before it is signed and after it is read (roots are the city's CAs; every signing
certificate chains to one of them).
"""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from cardservice import pki, values
from cardservice.credential import MAX_SERIAL_LENGTH

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

_MAX_CERT_BYTES = 8 * 1024
_MAX_TIMESTAMP = 253402300799  # 9999-12-31T23:59:59Z
_MAX_COUNTER = 2**63 - 1
_MAX_TEXT = 64
_MAX_URL = 2048
_MAX_NAMES = 32
_LANG_TAG = re.compile(r"[a-z]{2,3}(-[A-Za-z0-9]{1,8}){0,3}")
_REASON = re.compile(r"[a-z][a-z_]{0,31}")
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
    # The rule for names on cards (values.check_card_name), with a shorter limit.
    try:
        return values.check_card_name(value, what=name, max_length=max_length)
    except values.ValueRuleError as exc:
        raise TrustFormatError(str(exc)) from exc


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
    if not values.is_city_id(value):
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
    check_bundle_content(bundle)
    return bundle


# --------------------------------------------------------------------------- checks


def check_root(root: x509.Certificate, city_id: str, what: str) -> None:
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


def check_bundle_content(bundle: TrustBundle) -> None:
    """(4): content — roots are the city's CAs; every signing certificate chains to one."""
    check_root(bundle.root, bundle.city_id, "root")
    roots = [bundle.root]
    if bundle.previous_root is not None:
        check_root(bundle.previous_root, bundle.city_id, "previous root")
        roots.append(bundle.previous_root)
    for cert in bundle.signing_certificates:
        kid = pki.key_id(cert).hex()
        try:
            cert_city = pki.city_id_of(cert)
        except pki.PKIError as exc:
            raise CityMismatchError(f"signing certificate {kid} names no city") from exc
        if cert_city != bundle.city_id:
            raise CityMismatchError(f"signing certificate {kid} belongs to {cert_city}")
        if not pki.chains_to(cert, roots):
            raise UntrustedSigningCertificateError(
                f"signing certificate {kid} does not chain to the root or previous root"
            )


