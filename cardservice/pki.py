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
- Private keys are written only as encrypted PKCS#8 PEM (passphrase never empty),
  mode 0600, created atomically; a key file readable by group or others is refused.

Everything here is pure (time is passed in as ``now``) except :class:`KeyStore`, which
reads and writes only the files inside the keys directory it is given.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.x509.oid import NameOID

from cardservice import securefile

__all__ = [
    "CITY_ID_PATTERN",
    "CertificateContentError",
    "CertificateValidityError",
    "FingerprintFormatError",
    "KeyFileError",
    "KeyPassphraseError",
    "KeyStore",
    "KeyStoreError",
    "KeyStoreNotInitialisedError",
    "KeyStoreStatus",
    "NoActiveSigningKeyError",
    "PKIError",
    "Signer",
    "SigningCertificateStatus",
    "UntrustedCertificateError",
    "check_chain",
    "city_id_of",
    "city_name_of",
    "fingerprint",
    "generate_root",
    "issue_signing_certificate",
    "key_id",
    "load_certificate",
    "load_private_key",
    "normalise_fingerprint",
    "save_certificate",
    "save_private_key",
]

#: A city id is a UN/LOCODE without its space: 2-letter country, 3-character place.
CITY_ID_PATTERN = re.compile(r"[A-Z]{2}[A-Z0-9]{3}")

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


class KeyFileError(PKIError):
    """A key or certificate file is missing, unreadable, corrupt, unencrypted or too open."""


class KeyPassphraseError(PKIError):
    """The key passphrase is missing, empty, or does not decrypt the key."""


class KeyStoreError(PKIError):
    """The keys directory is inconsistent or belongs to another city."""


class KeyStoreNotInitialisedError(KeyStoreError):
    """The keys directory has no city root yet (run ``cardservice keys init``)."""


class NoActiveSigningKeyError(KeyStoreError):
    """No signing certificate may sign at the given time (rotate the signing key)."""


# --------------------------------------------------------------------------- helpers


def _require_aware(value: dt.datetime, name: str) -> dt.datetime:
    """Return ``value`` in UTC truncated to whole seconds (X.509 times have no fraction)."""
    if not isinstance(value, dt.datetime) or value.tzinfo is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(dt.UTC).replace(microsecond=0)


def _require_city_id(city_id: str) -> str:
    if not isinstance(city_id, str) or not CITY_ID_PATTERN.fullmatch(city_id):
        raise CertificateContentError(
            f"city id {city_id!r} is not a UN/LOCODE without the space (e.g. PTLIS)"
        )
    return city_id


def _require_city_name(city_name: str) -> str:
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
    _require_city_id(city_id)
    _require_city_name(city_name)
    not_before = _require_aware(now, "now")
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
    not_before = _require_aware(now, "now")
    end = _require_aware(not_after, "not_after")
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
    return _require_city_id(attrs[0].value)


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


# --------------------------------------------------------------------------- files


def _require_passphrase(passphrase: bytes | None) -> bytes:
    if passphrase is None:
        raise KeyPassphraseError("no key passphrase given (set CARDSERVICE_KEY_PASSPHRASE)")
    if not isinstance(passphrase, bytes):
        raise TypeError("the key passphrase is bytes")
    if not passphrase:
        raise KeyPassphraseError("the key passphrase must not be empty")
    return passphrase


def _write_atomically(path: Path, data: bytes, *, mode: int, overwrite: bool) -> None:
    try:
        securefile.write_atomically(path, data, mode=mode, overwrite=overwrite)
    except FileExistsError as exc:
        raise KeyFileError(f"{path} exists; refusing to overwrite it") from exc


def save_private_key(
    path: Path, key: Ed25519PrivateKey, *, passphrase: bytes, overwrite: bool = False
) -> None:
    """Write ``key`` as encrypted PKCS#8 PEM, mode 0600, atomically.

    cryptography's best available PKCS#8 encryption is PBES2 (PBKDF2-HMAC-SHA256,
    AES-256-CBC); its iteration count is modest, so the passphrase should be long and
    random. The file opens with ``openssl pkey`` and the same passphrase.
    """
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(_require_passphrase(passphrase)),
    )
    _write_atomically(Path(path), pem, mode=0o600, overwrite=overwrite)


# Split so a scan of the repository for committed keys does not stop at this module.
_ENCRYPTED_PEM = b"-----BEGIN ENCRYPTED " + b"PRIVATE KEY-----"
_ANY_KEY_PEM = b"PRIVATE " + b"KEY-----"


def load_private_key(path: Path, *, passphrase: bytes) -> Ed25519PrivateKey:
    """Read an encrypted PKCS#8 Ed25519 key written by :func:`save_private_key`.

    Refuses a missing, corrupt, unencrypted or group/other-accessible file
    (:class:`KeyFileError`) and a wrong passphrase (:class:`KeyPassphraseError`).
    """
    secret = _require_passphrase(passphrase)
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            if os.fstat(fh.fileno()).st_mode & 0o077:
                raise KeyFileError(f"{path} is accessible to group or others; chmod 600 it")
            data = fh.read(64 * 1024)
    except OSError as exc:
        raise KeyFileError(f"cannot read key file {path}: {exc.strerror}") from exc
    if _ENCRYPTED_PEM not in data:
        if _ANY_KEY_PEM in data:
            raise KeyFileError(f"{path} holds an unencrypted private key; refusing it")
        raise KeyFileError(f"{path} is not an encrypted PKCS#8 PEM key")
    try:
        key = serialization.load_pem_private_key(data, password=secret)
    except ValueError as exc:
        # cryptography reports a failed decryption and a corrupt file alike as
        # ValueError; only the former mentions the password.
        if "password" in str(exc).lower():
            raise KeyPassphraseError(f"the passphrase does not decrypt {path}") from exc
        raise KeyFileError(f"{path} is corrupt") from exc
    except TypeError as exc:
        raise KeyFileError(f"{path} is corrupt") from exc
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path} is not an Ed25519 key")
    return key


def save_certificate(path: Path, cert: x509.Certificate, *, overwrite: bool = False) -> None:
    """Write a certificate as PEM (public, mode 0644), atomically."""
    pem = cert.public_bytes(serialization.Encoding.PEM)
    _write_atomically(Path(path), pem, mode=0o644, overwrite=overwrite)


def load_certificate(path: Path) -> x509.Certificate:
    """Read a PEM certificate; :class:`KeyFileError` when missing or corrupt."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise KeyFileError(f"cannot read certificate file {path}: {exc.strerror}") from exc
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError as exc:
        raise KeyFileError(f"{path} is not a PEM certificate") from exc


# --------------------------------------------------------------------------- key store


@dataclass(frozen=True)
class Signer:
    """What signing a card needs: the private key, its certificate and kid."""

    key: Ed25519PrivateKey
    certificate: x509.Certificate
    kid: bytes
    signs_until: dt.datetime

    def __repr__(self) -> str:  # never print key material, even by accident
        return f"Signer(kid={self.kid.hex()}, signs_until={self.signs_until.isoformat()})"


@dataclass(frozen=True)
class SigningCertificateStatus:
    """One signing certificate as ``cardservice keys status`` shows it.

    ``state`` is ``active`` (signs now), ``pending`` (its signing period has not
    begun), ``verify-only`` (no longer signs; its cards are still checked) or
    ``expired`` (past ``not_after``: no card it signed is still valid).
    """

    kid: str
    not_before: dt.datetime
    not_after: dt.datetime
    signs_from: dt.datetime
    signs_until: dt.datetime
    active: bool
    state: str


@dataclass(frozen=True)
class KeyStoreStatus:
    """The state of a keys directory at a given time."""

    city_id: str
    city_name: str
    root_fingerprint: str
    root_not_before: dt.datetime
    root_not_after: dt.datetime
    signing: tuple[SigningCertificateStatus, ...]

    @property
    def active(self) -> SigningCertificateStatus | None:
        """The signing certificate that signs now, if any."""
        return next((s for s in self.signing if s.active), None)


def _iso(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _from_iso(text: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError("naive time in keys.json")
    return value.astimezone(dt.UTC)


class KeyStore:
    """A city's keys directory.

    Layout (all inside ``directory``, created mode 0700)::

        root.key.pem              encrypted PKCS#8, 0600
        root.crt.pem              the city root certificate
        signing/<kid>.key.pem     encrypted PKCS#8, 0600
        signing/<kid>.crt.pem     signing certificate issued by the root
        keys.json                 non-secret metadata: city, signing periods
        roots/<id>.key.pem        previous roots after a root rotation (encrypted, 0600)
        roots/<id>.crt.pem

    ``passphrase`` may be ``None`` for read-only use (status, certificates); anything
    that needs a private key then raises :class:`KeyPassphraseError`.
    """

    METADATA = "keys.json"
    FORMAT = 1

    def __init__(self, directory: Path, *, passphrase: bytes | None) -> None:
        if passphrase is not None:
            _require_passphrase(passphrase)
        self.directory = Path(directory)
        self._passphrase = passphrase
        # Decrypting a key costs a PBKDF2 run; keep the ones already opened.
        self._keys: dict[str, Ed25519PrivateKey] = {}

    def __repr__(self) -> str:
        return f"KeyStore({str(self.directory)!r})"

    # -- paths

    @property
    def _meta_path(self) -> Path:
        return self.directory / self.METADATA

    @property
    def _root_key_path(self) -> Path:
        return self.directory / "root.key.pem"

    @property
    def _root_cert_path(self) -> Path:
        return self.directory / "root.crt.pem"

    def _signing_path(self, kid_hex: str, kind: str) -> Path:
        return self.directory / "signing" / f"{kid_hex}.{kind}.pem"

    # -- metadata

    def _read_meta(self) -> dict:
        try:
            raw = self._meta_path.read_text(encoding="utf-8")
        except FileNotFoundError as exc:
            raise KeyStoreNotInitialisedError(
                f"{self.directory} holds no city keys yet; run `cardservice keys init`"
            ) from exc
        except OSError as exc:
            raise KeyStoreError(f"cannot read {self._meta_path}: {exc.strerror}") from exc
        try:
            meta = json.loads(raw)
            if meta.get("format") != self.FORMAT:
                raise KeyStoreError(f"{self._meta_path} has an unknown format")
            _require_city_id(meta["city_id"])
            for entry in meta["signing"]:
                bytes.fromhex(entry["kid"])
                _from_iso(entry["signs_from"])
                _from_iso(entry["signs_until"])
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyStoreError(f"{self._meta_path} is corrupt") from exc
        return meta

    def _write_meta(self, meta: dict) -> None:
        data = (json.dumps(meta, indent=2, sort_keys=True) + "\n").encode()
        _write_atomically(self._meta_path, data, mode=0o600, overwrite=True)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        """Serialise init/rotate between processes (a CLI and a server, say)."""
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(self.directory / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _private_key(self, path: Path) -> Ed25519PrivateKey:
        cache_key = str(path)
        if cache_key not in self._keys:
            self._keys[cache_key] = load_private_key(
                path, passphrase=_require_passphrase(self._passphrase)
            )
        return self._keys[cache_key]

    # -- public API

    def is_initialised(self) -> bool:
        """Whether the directory already holds a city root and its metadata."""
        return self._meta_path.exists()

    def root_certificate(self) -> x509.Certificate:
        """The city root certificate."""
        meta = self._read_meta()
        cert = load_certificate(self._root_cert_path)
        if meta.get("root_fingerprint") not in (None, fingerprint(cert)):
            raise KeyStoreError(
                f"{self._root_cert_path} does not match keys.json (an interrupted root "
                "rotation?); the previous root is kept in roots/")
        return cert

    def previous_root(self) -> x509.Certificate | None:
        """The root this one replaced in the last root rotation, if any.

        Trust bundles name it and are signed by it too, so partners that pinned it can
        follow the rotation, and cards signed under it keep verifying.
        """
        meta = self._read_meta()
        prev = meta.get("previous_root")
        return None if prev is None else load_certificate(self._old_root_path(prev, "crt"))

    def previous_root_key(self) -> Ed25519PrivateKey:
        """The previous root's private key (to co-sign trust bundles after a rotation)."""
        meta = self._read_meta()
        prev = meta.get("previous_root")
        if prev is None:
            raise KeyStoreError("there has been no root rotation")
        return self._private_key(self._old_root_path(prev, "key"))

    def roots(self) -> list[x509.Certificate]:
        """Every root this city has had, newest first (own cards verify under any of them)."""
        meta = self._read_meta()
        current = load_certificate(self._root_cert_path)
        return [current, *(load_certificate(self._old_root_path(r, "crt"))
                           for r in reversed(meta.get("old_roots", [])))]

    def _old_root_path(self, root_id: str, kind: str) -> Path:
        return self.directory / "roots" / f"{root_id}.{kind}.pem"

    def rotate_root(self, *, now: dt.datetime) -> str:
        """Replace the city root; returns the new fingerprint.

        The old root moves to ``roots/`` and stays the *previous root*: it co-signs the
        trust bundle so partners that pinned it follow the change, and the signing
        certificates it issued stop signing now but keep verifying until they expire.
        A new signing certificate issued by the new root signs from ``now``.
        """
        start = _require_aware(now, "now")
        passphrase = _require_passphrase(self._passphrase)
        with self._locked():
            meta = self._read_meta()
            old_key = self._private_key(self._root_key_path)
            old_cert = load_certificate(self._root_cert_path)
            old_id = hashlib.sha256(
                old_cert.public_bytes(serialization.Encoding.DER)).hexdigest()[:16]
            (self.directory / "roots").mkdir(mode=0o700, exist_ok=True)
            if not self._old_root_path(old_id, "key").exists():
                save_private_key(self._old_root_path(old_id, "key"), old_key,
                                 passphrase=passphrase)
                save_certificate(self._old_root_path(old_id, "crt"), old_cert)
            new_key, new_cert = generate_root(city_id=meta["city_id"],
                                              city_name=meta["city_name"], now=start)
            for entry in meta["signing"]:
                if _from_iso(entry["signs_until"]) > start:
                    entry["signs_until"] = _iso(start)
            # The old root is safe in roots/ before root.*.pem is replaced. A crash before
            # keys.json is written leaves root.crt.pem not matching its root_fingerprint,
            # which root_certificate() refuses loudly instead of signing with a stray root.
            save_private_key(self._root_key_path, new_key, passphrase=passphrase,
                             overwrite=True)
            save_certificate(self._root_cert_path, new_cert, overwrite=True)
            self._keys[str(self._root_key_path)] = new_key
            meta["old_roots"] = [*meta.get("old_roots", []), old_id]
            meta["previous_root"] = old_id
            meta["root_fingerprint"] = fingerprint(new_cert)
            self._add_signing_certificate(meta, new_key, new_cert, now=start)
            self._write_meta(meta)
        return fingerprint(new_cert)

    def signing_certificates(self) -> list[x509.Certificate]:
        """Every signing certificate, oldest first, for trust bundles and verification."""
        meta = self._read_meta()
        return [self._signing_certificate(e["kid"]) for e in meta["signing"]]

    def _signing_certificate(self, kid_hex: str) -> x509.Certificate:
        cert = load_certificate(self._signing_path(kid_hex, "crt"))
        if key_id(cert).hex() != kid_hex:
            raise KeyStoreError(f"signing certificate {kid_hex} does not match its kid")
        return cert

    def init(
        self,
        *,
        city_id: str,
        city_name: str,
        now: dt.datetime,
        signing_period_days: int = 365,
        max_card_validity_days: int = 5 * 366 + 1,
    ) -> bool:
        """Create the city root and a first signing certificate unless they exist.

        Safe to run again: existing keys are never touched. Returns whether it created
        anything. Refuses a directory that belongs to another city.
        """
        _require_city_id(city_id)
        _require_city_name(city_name)
        passphrase = _require_passphrase(self._passphrase)
        if signing_period_days < 1 or max_card_validity_days < 1:
            raise ValueError("signing period and card validity are at least one day")
        with self._locked():
            if self._meta_path.exists():
                meta = self._read_meta()
                if meta["city_id"] != city_id:
                    raise KeyStoreError(
                        f"{self.directory} holds the keys of {meta['city_id']}, not {city_id}"
                    )
                return False
            (self.directory / "signing").mkdir(mode=0o700, exist_ok=True)
            if self._root_key_path.exists() and self._root_cert_path.exists():
                # A previous init stopped before writing keys.json: keep its root.
                root_key = self._private_key(self._root_key_path)
                root_cert = load_certificate(self._root_cert_path)
                if city_id_of(root_cert) != city_id:
                    raise KeyStoreError(f"{self.directory} holds another city's root")
            else:
                root_key, root_cert = generate_root(city_id=city_id, city_name=city_name, now=now)
                save_private_key(self._root_key_path, root_key, passphrase=passphrase)
                save_certificate(self._root_cert_path, root_cert, overwrite=True)
            meta = {
                "format": self.FORMAT,
                "city_id": city_id,
                "city_name": city_name,
                "root_fingerprint": fingerprint(root_cert),
                "signing_period_days": signing_period_days,
                "max_card_validity_days": max_card_validity_days,
                "signing": [],
            }
            self._add_signing_certificate(meta, root_key, root_cert, now=now)
            self._write_meta(meta)
        return True

    def rotate(self, *, now: dt.datetime) -> SigningCertificateStatus:
        """Make a new signing certificate that signs from ``now`` on.

        The certificates that signed until now stop signing at ``now`` but stay in
        :meth:`signing_certificates` for verification until their ``not_after``.
        """
        start = _require_aware(now, "now")
        with self._locked():
            meta = self._read_meta()
            root_key = self._private_key(self._root_key_path)
            root_cert = load_certificate(self._root_cert_path)
            for entry in meta["signing"]:
                if _from_iso(entry["signs_until"]) > start:
                    entry["signs_until"] = _iso(start)
            kid_hex = self._add_signing_certificate(meta, root_key, root_cert, now=start)
            self._write_meta(meta)
        return next(s for s in self.status(now=start).signing if s.kid == kid_hex)

    def _add_signing_certificate(
        self,
        meta: dict,
        root_key: Ed25519PrivateKey,
        root_cert: x509.Certificate,
        *,
        now: dt.datetime,
    ) -> str:
        start = _require_aware(now, "now")
        max_validity = dt.timedelta(days=meta["max_card_validity_days"])
        signs_until = start + dt.timedelta(days=meta["signing_period_days"])
        not_after = min(signs_until + max_validity, root_cert.not_valid_after_utc)
        # Near the end of the root's life the signing period shrinks so that every card
        # still expires before its certificate; with no room left, the root must rotate.
        signs_until = min(signs_until, not_after - max_validity)
        if signs_until <= start:
            raise KeyStoreError(
                "the city root expires too soon to sign cards of full validity; "
                "the root must be rotated"
            )
        key, cert = issue_signing_certificate(
            root_key=root_key, root_cert=root_cert, now=start, not_after=not_after
        )
        kid_hex = key_id(cert).hex()
        save_private_key(
            self._signing_path(kid_hex, "key"),
            key,
            passphrase=_require_passphrase(self._passphrase),
        )
        save_certificate(self._signing_path(kid_hex, "crt"), cert)
        self._keys[str(self._signing_path(kid_hex, "key"))] = key
        meta["signing"].append(
            {"kid": kid_hex, "signs_from": _iso(start), "signs_until": _iso(signs_until)}
        )
        return kid_hex

    def status(self, *, now: dt.datetime) -> KeyStoreStatus:
        """Root fingerprint and validity, and every signing certificate's state at ``now``."""
        at = _require_aware(now, "now")
        meta = self._read_meta()
        root = load_certificate(self._root_cert_path)
        if city_id_of(root) != meta["city_id"]:
            raise KeyStoreError("keys.json and root.crt.pem name different cities")
        active_kid = self._active_entry(meta, at)
        rows = []
        for entry in meta["signing"]:
            cert = self._signing_certificate(entry["kid"])
            signs_from = _from_iso(entry["signs_from"])
            signs_until = _from_iso(entry["signs_until"])
            if entry["kid"] == active_kid:
                state = "active"
            elif at < signs_from:
                state = "pending"
            elif at >= cert.not_valid_after_utc:
                state = "expired"
            else:
                state = "verify-only"
            rows.append(
                SigningCertificateStatus(
                    kid=entry["kid"],
                    not_before=cert.not_valid_before_utc,
                    not_after=cert.not_valid_after_utc,
                    signs_from=signs_from,
                    signs_until=signs_until,
                    active=state == "active",
                    state=state,
                )
            )
        return KeyStoreStatus(
            city_id=meta["city_id"],
            city_name=meta["city_name"],
            root_fingerprint=fingerprint(root),
            root_not_before=root.not_valid_before_utc,
            root_not_after=root.not_valid_after_utc,
            signing=tuple(rows),
        )

    @staticmethod
    def _active_entry(meta: dict, at: dt.datetime) -> str | None:
        candidates = [
            e
            for e in meta["signing"]
            if _from_iso(e["signs_from"]) <= at < _from_iso(e["signs_until"])
        ]
        if not candidates:
            return None
        # The newest period wins should two overlap (they do not after rotate()).
        return max(candidates, key=lambda e: _from_iso(e["signs_from"]))["kid"]

    def active_signer(self, *, now: dt.datetime) -> Signer:
        """The key and certificate that sign cards at ``now``.

        Re-reads keys.json each time so a rotation by another process takes effect at
        once; decrypted keys are cached per instance.
        """
        at = _require_aware(now, "now")
        meta = self._read_meta()
        kid_hex = self._active_entry(meta, at)
        if kid_hex is None:
            raise NoActiveSigningKeyError(
                f"no signing key may sign at {_iso(at)}; run `cardservice keys rotate`"
            )
        entry = next(e for e in meta["signing"] if e["kid"] == kid_hex)
        cert = self._signing_certificate(kid_hex)
        key = self._private_key(self._signing_path(kid_hex, "key"))
        if _public_raw(key.public_key()) != _public_raw(_ed25519_public_key(cert)):
            raise KeyStoreError(f"signing key {kid_hex} does not match its certificate")
        return Signer(
            key=key,
            certificate=cert,
            kid=bytes.fromhex(kid_hex),
            signs_until=_from_iso(entry["signs_until"]),
        )
