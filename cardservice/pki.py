"""Keys and certificates of a city: the city root, its signing certificates, key files.

Rules this module enforces (SPEC §3, §4):

- A city has one **root**: a self-signed X.509 CA certificate over an Ed25519 key,
  ``BasicConstraints(ca=True, path_length=0)`` and ``KeyUsage(keyCertSign, cRLSign)``.
  Its subject holds the city name as ``CN`` and the city id (UN/LOCODE without the
  space, e.g. ``PTLIS``) as ``organizationIdentifier`` (OID 2.5.4.97, the X.520
  attribute meant for an organisation's registered identifier).
- **Signing certificates** are Ed25519 end-entity certificates issued by the root
  (``ca=False``, ``KeyUsage(digitalSignature)``, AKI = root SKI). A signing certificate
  signs cards only during its *signing period*; its ``notAfter`` is the end of that
  period plus the longest card validity, so every card it signed expires before it does.
- The **kid** of a signing certificate is the first 8 bytes of SHA-256 over its DER.
- The **fingerprint** of a city is the SHA-256 of its root DER, as 16 groups of 4
  uppercase hex digits, so two officials can read it to each other.

- "Does this certificate chain to that root" is answered here only: :func:`check_chain`
  raises, :func:`chains_to` / :func:`find_issuer_root` answer for a set of roots.

Everything here is pure: time is passed in as ``now`` and no file is read or written
(key and certificate files, and the keys directory, are :mod:`cardservice.keystore`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from collections.abc import Iterable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.x509.oid import NameOID

from cardservice import values

__all__ = [
    "CITY_ID_PATTERN",
    "CertificateContentError",
    "CertificateValidityError",
    "FingerprintFormatError",
    "PKIError",
    "UntrustedCertificateError",
    "chains_to",
    "check_chain",
    "check_city_id",
    "check_city_name",
    "city_id_of",
    "city_name_of",
    "find_issuer_root",
    "fingerprint",
    "generate_root",
    "issue_signing_certificate",
    "key_id",
    "key_matches",
    "normalise_fingerprint",
    "utc_seconds",
]

#: A city id is a UN/LOCODE without its space (the rule is :data:`values.CITY_ID_PATTERN`).
CITY_ID_PATTERN = values.CITY_ID_PATTERN

#: Bytes of SHA-256(signing certificate DER) that make the kid (SPEC §3).
KID_LENGTH = 8

_CITY_ID_OID = NameOID.ORGANIZATION_IDENTIFIER


# --------------------------------------------------------------------------- errors


class PKIError(Exception):
    """Base class of every error raised by this module."""


class FingerprintFormatError(PKIError, ValueError):
    """A fingerprint typed by a person is not 64 hex digits."""


class UntrustedCertificateError(PKIError):
    """A certificate does not chain to the root it was checked against."""


class CertificateContentError(PKIError, ValueError):
    """A certificate or a request for one lacks something this project needs."""


class CertificateValidityError(PKIError, ValueError):
    """Asked for a certificate validity that the issuer cannot give."""







# --------------------------------------------------------------------------- helpers


def utc_seconds(value: dt.datetime, name: str) -> dt.datetime:
    """Return ``value`` in UTC truncated to whole seconds (X.509 times have no fraction)."""
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(dt.UTC).replace(microsecond=0)


def check_city_id(city_id: str) -> str:
    """Return ``city_id`` if it is a city id, else raise :class:`CertificateContentError`."""
    if not values.is_city_id(city_id):
        raise CertificateContentError(
            f"city id {city_id!r} is not a UN/LOCODE without the space (e.g. PTLIS)"
        )
    return city_id


def check_city_name(city_name: str) -> str:
    """Return ``city_name`` if a root may carry it, else raise :class:`CertificateContentError`."""
    if not isinstance(city_name, str) or not city_name.strip() or len(city_name) > 64:
        # 64 is the X.520 upper bound for commonName.
        raise CertificateContentError("city name must be 1 to 64 characters")
    return city_name


def _serial_from(public_key: Ed25519PublicKey, not_before: dt.datetime) -> int:
    """A positive 127-bit certificate serial derived from the key and the start time.

    Deriving it (rather than drawing it at random) makes certificates reproducible
    from a fixed key, which the test vectors rely on; a fresh random key keeps it
    unpredictable in normal use.
    """
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    digest = hashlib.sha256(
        b"cardservice certificate serial\x00" + raw + not_before.isoformat().encode()
    ).digest()
    return (int.from_bytes(digest[:16], "big") >> 1) or 1


def _public_raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_matches(private_key: Ed25519PrivateKey, cert: x509.Certificate) -> bool:
    """Whether ``private_key`` is the key of ``cert`` (an Ed25519 certificate)."""
    public = cert.public_key()
    return isinstance(public, Ed25519PublicKey) and _public_raw(
        private_key.public_key()
    ) == _public_raw(public)


# --------------------------------------------------------------------------- certificates


def generate_root(
    *,
    city_id: str,
    city_name: str,
    now: dt.datetime,
    valid_days: int = 25 * 365,
    private_key: Ed25519PrivateKey | None = None,
) -> tuple[Ed25519PrivateKey, x509.Certificate]:
    """Make a city root: a new Ed25519 key and its self-signed CA certificate.

    ``private_key`` is for reproducible test vectors only; leave it out otherwise.
    """
    check_city_id(city_id)
    check_city_name(city_name)
    not_before = utc_seconds(now, "now")
    if valid_days < 1:
        raise CertificateValidityError("a root must be valid for at least one day")
    key = private_key if private_key is not None else Ed25519PrivateKey.generate()
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, city_name),
            x509.NameAttribute(_CITY_ID_OID, city_id),
        ]
    )
    public = key.public_key()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(_serial_from(public, not_before))
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=valid_days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, None)
    )
    return key, cert


def issue_signing_certificate(
    *,
    root_key: Ed25519PrivateKey,
    root_cert: x509.Certificate,
    now: dt.datetime,
    not_after: dt.datetime,
    private_key: Ed25519PrivateKey | None = None,
) -> tuple[Ed25519PrivateKey, x509.Certificate]:
    """Make a new signing key and its certificate issued by the city root.

    ``not_after`` should be the end of the signing period plus the longest card
    validity (see :class:`KeyStore`); it may not outlive the root.
    ``private_key`` is for reproducible test vectors only.
    """
    not_before = utc_seconds(now, "now")
    end = utc_seconds(not_after, "not_after")
    if _public_raw(root_key.public_key()) != _public_raw(_ed25519_public_key(root_cert)):
        raise CertificateContentError("the root key does not belong to the root certificate")
    _require_ca(root_cert)
    if end <= not_before:
        raise CertificateValidityError("not_after must be later than now")
    if end > root_cert.not_valid_after_utc:
        raise CertificateValidityError(
            "a signing certificate cannot outlive its root "
            f"(root valid until {root_cert.not_valid_after_utc:%Y-%m-%d})"
        )
    if not_before < root_cert.not_valid_before_utc:
        raise CertificateValidityError("the root is not yet valid at that time")
    city_id = city_id_of(root_cert)
    city_name = city_name_of(root_cert)
    key = private_key if private_key is not None else Ed25519PrivateKey.generate()
    public = key.public_key()
    subject = x509.Name(
        [
            # Truncated so the CN stays within the X.520 bound of 64 characters.
            x509.NameAttribute(
                NameOID.COMMON_NAME, f"{city_name[:40]} card signing {not_before:%Y-%m-%d}"
            ),
            x509.NameAttribute(_CITY_ID_OID, city_id),
        ]
    )
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root_cert.subject)
        .public_key(public)
        .serial_number(_serial_from(public, not_before))
        .not_valid_before(not_before)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(root_ski),
            critical=False,
        )
        .sign(root_key, None)
    )
    return key, cert


def fingerprint(cert: x509.Certificate) -> str:
    """The city fingerprint: SHA-256 of the root DER as 16 groups of 4 uppercase hex digits."""
    digest = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest().upper()
    return " ".join(digest[i : i + 4] for i in range(0, 64, 4))


_FINGERPRINT_NOISE = re.compile(r"[\s:\-]+")


def normalise_fingerprint(text: str) -> str:
    """Bring a fingerprint typed or pasted by a person into the form :func:`fingerprint` gives.

    Spaces, colons, dashes and case are ignored; anything else must be 64 hex digits.
    """
    if not isinstance(text, str):
        raise FingerprintFormatError("a fingerprint is text")
    compact = _FINGERPRINT_NOISE.sub("", text).upper()
    if len(compact) != 64 or not re.fullmatch(r"[0-9A-F]{64}", compact):
        raise FingerprintFormatError(
            "a fingerprint is 64 hexadecimal digits (16 groups of 4), "
            f"got {len(compact)} characters after removing spaces"
        )
    return " ".join(compact[i : i + 4] for i in range(0, 64, 4))


def key_id(cert: x509.Certificate) -> bytes:
    """The kid of a signing certificate: first 8 bytes of SHA-256 over its DER (SPEC §3)."""
    return hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).digest()[:KID_LENGTH]


def city_id_of(cert: x509.Certificate) -> str:
    """The city id carried in a root or signing certificate (its organizationIdentifier)."""
    attrs = cert.subject.get_attributes_for_oid(_CITY_ID_OID)
    if len(attrs) != 1 or not isinstance(attrs[0].value, str):
        raise CertificateContentError("certificate subject has no single city id")
    return check_city_id(attrs[0].value)


def city_name_of(cert: x509.Certificate) -> str:
    """The city name of a root certificate (its subject commonName)."""
    attrs = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if len(attrs) != 1 or not isinstance(attrs[0].value, str):
        raise CertificateContentError("certificate subject has no single common name")
    return attrs[0].value


def _ed25519_public_key(cert: x509.Certificate) -> Ed25519PublicKey:
    key = cert.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise CertificateContentError("certificate key is not Ed25519")
    return key


def _require_ca(root: x509.Certificate) -> None:
    try:
        bc = root.extensions.get_extension_for_class(x509.BasicConstraints).value
        ku = root.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise UntrustedCertificateError("the root lacks BasicConstraints or KeyUsage") from exc
    if not bc.ca or not ku.key_cert_sign:
        raise UntrustedCertificateError("the root is not a certificate authority")


def check_chain(*, cert: x509.Certificate, root: x509.Certificate) -> None:
    """Raise :class:`UntrustedCertificateError` unless ``root`` issued the signing ``cert``.

    Checks: the root is a CA allowed to sign certificates; the cert names the root as
    its issuer and carries the root's signature; the cert is an Ed25519 end-entity
    certificate allowed to make digital signatures. Validity periods are judged by the
    caller against the time that matters to it (a card's issue time).
    """
    _require_ca(root)
    try:
        _ed25519_public_key(root)
        _ed25519_public_key(cert)
    except CertificateContentError as exc:
        raise UntrustedCertificateError(str(exc)) from exc
    try:
        cert.verify_directly_issued_by(root)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise UntrustedCertificateError("certificate was not issued by this root") from exc
    try:
        bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        if bc.ca:
            raise UntrustedCertificateError("a signing certificate must not be a CA")
    except x509.ExtensionNotFound:
        pass
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        if not ku.digital_signature:
            raise UntrustedCertificateError("certificate is not allowed to sign")
    except x509.ExtensionNotFound:
        pass


def find_issuer_root(
    cert: x509.Certificate, roots: Iterable[x509.Certificate]
) -> x509.Certificate | None:
    """The first of ``roots`` that issued the signing ``cert`` (:func:`check_chain`), or None."""
    for root in roots:
        try:
            check_chain(cert=cert, root=root)
        except UntrustedCertificateError:
            continue
        return root
    return None


def chains_to(cert: x509.Certificate, roots: Iterable[x509.Certificate]) -> bool:
    """Whether the signing ``cert`` chains to one of ``roots`` (see :func:`check_chain`)."""
    return find_issuer_root(cert, roots) is not None
