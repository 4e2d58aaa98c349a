"""A city's keys directory: private-key files, certificate files and the :class:`KeyStore`.

Rules this module enforces (SPEC §4):

- Private keys are written only as encrypted PKCS#8 PEM (passphrase never empty),
  mode 0600, created atomically; a key file readable by group or others is refused.
- The keys directory (mode 0700) holds the city root, its signing certificates and
  ``keys.json`` (city, signing periods); init and rotations are serialised between
  processes by a lock file, and a directory of another city is refused.

This is not a pure module: it reads and writes the files inside the keys directory it
is given (and nothing else). Certificates themselves are made and checked by
:mod:`cardservice.pki`; nothing here imports a web framework or a database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice import securefile
from cardservice.pki import (
    PKIError,
    check_city_id,
    check_city_name,
    city_id_of,
    fingerprint,
    generate_root,
    issue_signing_certificate,
    key_id,
    key_matches,
    utc_seconds,
)

__all__ = [
    "KeyFileError",
    "KeyPassphraseError",
    "KeyStore",
    "KeyStoreError",
    "KeyStoreNotInitialisedError",
    "KeyStoreStatus",
    "NoActiveSigningKeyError",
    "Signer",
    "SigningCertificateStatus",
    "load_certificate",
    "load_private_key",
    "save_certificate",
    "save_private_key",
]


# --------------------------------------------------------------------------- errors
# Subclasses of pki.PKIError, so a caller that catches every key and certificate
# problem in one place (the CLI) keeps doing so.


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
            check_city_id(meta["city_id"])
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
        start = utc_seconds(now, "now")
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
        check_city_id(city_id)
        check_city_name(city_name)
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
        start = utc_seconds(now, "now")
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
        start = utc_seconds(now, "now")
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
        at = utc_seconds(now, "now")
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
        at = utc_seconds(now, "now")
        meta = self._read_meta()
        kid_hex = self._active_entry(meta, at)
        if kid_hex is None:
            raise NoActiveSigningKeyError(
                f"no signing key may sign at {_iso(at)}; run `cardservice keys rotate`"
            )
        entry = next(e for e in meta["signing"] if e["kid"] == kid_hex)
        cert = self._signing_certificate(kid_hex)
        key = self._private_key(self._signing_path(kid_hex, "key"))
        if not key_matches(key, cert):
            raise KeyStoreError(f"signing key {kid_hex} does not match its certificate")
        return Signer(
            key=key,
            certificate=cert,
            kid=bytes.fromhex(kid_hex),
            signs_until=_from_iso(entry["signs_until"]),
        )
