"""The privacy vault: envelope encryption of residents' personal data.

Rules this module enforces:

1. Every resident's personal data (names, birth date, address, contacts, photo) is
   encrypted with that resident's own random 256-bit *data key* (AES-256-GCM).
2. A data key is only ever stored *wrapped*: encrypted under a key-encryption key
   (KEK) derived from the city's *master key*. The wrap is bound to the record id,
   so a wrapped key copied onto another record does not unwrap.
3. Each field's ciphertext is bound to its record id and field name, so a ciphertext
   moved to another record or another field does not decrypt.
4. The master key exists on disk only inside ``keys/master.key``, encrypted under a
   passphrase-derived key (scrypt), mode 0600, written atomically.
5. Deleting is destroying keys (crypto-shredding):

   * one resident: the caller deletes the wrapped data key. The data key never
     existed anywhere else, so any copy of the ciphertexts (a backup, a replica, a
     forgotten dump) can no longer be decrypted by anything on the machine;
   * the whole register: :func:`destroy_master_key`. Every wrapped data key, and the
     blind-index key, derive from the master key, so nothing can be unwrapped and no
     blind index can be recomputed. Card verification does not use this key.

6. Residents are found through *blind indexes* only, keyed hashes (HMAC-SHA256) under
   keys of their own, so the database never holds a searchable name:

   * :meth:`Vault.blind_index` — every name token, sorted, and the birth date
     (duplicates at registration; the clerk's "name and date of birth" search);
   * :meth:`Vault.family_year_index` — the family-name tokens, sorted, and the birth
     *year* only: coarse on purpose, many residents share one value.

What this module cannot promise (and the operators' guide must say):

* Overwriting a file before unlinking it is best effort: SSD wear levelling,
  journaling and copy-on-write file systems and snapshots may keep old blocks.
  The real guarantee is that ``master.key`` *and every backup of keys/* are gone.
* Rotating the passphrase does not invalidate old copies of ``master.key``: a backup
  still opens with the old passphrase.
* Python cannot reliably wipe secrets from memory; keys live as ``bytes`` in the
  process until it exits.
* A wrapped field can be deleted, or replaced by an *older* ciphertext of the same
  record and field, by someone who can write to the database; the AAD binds place,
  not revision.

Format notes (version 1):

* field ciphertext  = ``0x01 || nonce (12) || AES-256-GCM(ct || tag (16))``
* wrapped data key  = the same layout around the 32-byte data key (61 bytes).
* AAD = ``0x01 || purpose || len32(record_id) || record_id [|| len32(field) || field]``;
  the length prefixes stop ``("ab", "c")`` and ``("a", "bc")`` from sharing an AAD.

Random 96-bit nonces are safe here: a data key encrypts a handful of fields per
edit, and the KEK wraps one key per record, far below the 2**32 messages per key
where random-nonce collisions start to matter.

This module is bytes in, bytes out: it never reads the clock, the environment or a
database. The caller reads ``CARDSERVICE_KEY_PASSPHRASE`` and caches the loaded
:class:`MasterKey` for the life of the process (scrypt is slow on purpose).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import stat
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from cardservice import securefile

__all__ = [
    "BLIND_INDEX_BYTES",
    "KEY_BYTES",
    "SCRYPT_N",
    "SCRYPT_P",
    "SCRYPT_R",
    "MasterKey",
    "MasterKeyExistsError",
    "MasterKeyFormatError",
    "MasterKeyMissingError",
    "SealedRecord",
    "Vault",
    "VaultDecryptError",
    "VaultError",
    "VaultPassphraseError",
    "create_master_key",
    "destroy_master_key",
    "load_master_key",
    "normalise_name",
    "rotate_passphrase",
]

KEY_BYTES = 32
"""Length of the master key and of every data key (AES-256)."""

SCRYPT_N = 2**15
"""scrypt cost for new master-key files: ~32 MiB and ~0.1 s per load on this hardware."""
SCRYPT_R = 8
SCRYPT_P = 1

BLIND_INDEX_BYTES = 16
"""Blind-index length. Collisions are harmless: a match only asks the clerk to confirm."""

_FORMAT_VERSION = 1
_VERSION_BYTE = bytes([_FORMAT_VERSION])
_NONCE_BYTES = 12
_TAG_BYTES = 16
_SALT_BYTES = 16
_WRAPPED_KEY_BYTES = 1 + _NONCE_BYTES + KEY_BYTES + _TAG_BYTES

# HKDF info strings: one sub-key per purpose, so no key is ever used for two jobs.
_INFO_KEK = b"cardservice/vault/v1/key-encryption-key"
_INFO_BLIND_INDEX = b"cardservice/vault/v1/blind-index-key"
_INFO_FAMILY_YEAR_INDEX = b"cardservice/vault/v1/family-year-index-key"
_INFO_KEY_ID = b"cardservice/vault/v1/key-id"

_ENVELOPE_FORMAT = "cardservice-master-key"
# A key file is tiny; refusing big files keeps a hostile file from eating memory.
_MAX_ENVELOPE_BYTES = 64 * 1024
# Bounds on scrypt parameters read from a file: a damaged or hostile file must not
# make the loader allocate gigabytes. The floor (2**10) admits test files; new files
# use SCRYPT_N unless the caller asks otherwise.
_SCRYPT_N_MIN = 2**10
_SCRYPT_N_MAX = 2**20
_SCRYPT_MAX_MEMORY = 1024 * 1024 * 1024


class VaultError(Exception):
    """Base class for every error raised by the vault."""


class VaultPassphraseError(VaultError):
    """The passphrase does not open the master-key file (or the file was altered)."""


class MasterKeyMissingError(VaultError):
    """There is no master-key file: never created, or destroyed by ``purge --all``."""


class MasterKeyExistsError(VaultError):
    """A master-key file already exists and will not be overwritten."""


class MasterKeyFormatError(VaultError):
    """The master-key file is not a master-key envelope this version understands."""


class VaultDecryptError(VaultError):
    """A ciphertext or wrapped key does not open: wrong key, record, field, or tampered."""


class MasterKey:
    """The city's 256-bit master key; everything in the vault derives from it.

    The raw bytes are deliberately not a public attribute and never appear in
    ``repr``, so the key does not end up in a log or a traceback by accident.
    """

    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        """Wrap existing key bytes (exactly 32)."""
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise VaultError(f"a master key is exactly {KEY_BYTES} bytes")
        self._key = key

    @classmethod
    def generate(cls) -> MasterKey:
        """Make a new random master key from the OS CSPRNG."""
        return cls(secrets.token_bytes(KEY_BYTES))

    def derive_subkey(self, *, info: bytes, length: int = KEY_BYTES) -> bytes:
        """Derive a purpose-bound sub-key with HKDF-SHA256 (no salt: the key is uniform)."""
        return HKDF(algorithm=hashes.SHA256(), length=length, salt=None, info=info).derive(
            self._key
        )

    @property
    def key_id(self) -> str:
        """A public 16-hex-digit id of this key, to tell keys apart in logs and checks.

        It is an HKDF output under its own ``info``, so it reveals nothing about the key
        or the other sub-keys.
        """
        return self.derive_subkey(info=_INFO_KEY_ID, length=8).hex()

    def _envelope_plaintext(self) -> bytes:
        return self._key

    def __repr__(self) -> str:
        return f"MasterKey(key_id={self.key_id})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MasterKey):
            return NotImplemented
        return hmac.compare_digest(self._key, other._key)

    def __hash__(self) -> int:
        return hash(self.key_id)

    def __reduce__(self) -> Any:
        # Pickling would copy the raw key into caches, queues or crash dumps.
        raise TypeError("MasterKey cannot be pickled")


# --------------------------------------------------------------------------------------
# The master-key file
# --------------------------------------------------------------------------------------


def _b64e(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _b64d(text: Any, *, name: str) -> bytes:
    if not isinstance(text, str):
        raise MasterKeyFormatError(f"master-key file: {name} is not a string")
    try:
        return base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise MasterKeyFormatError(f"master-key file: {name} is not base64") from exc


def _check_scrypt_params(n: Any, r: Any, p: Any) -> tuple[int, int, int]:
    ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (n, r, p))
    if not ints:
        raise MasterKeyFormatError("scrypt parameters must be integers")
    if n < _SCRYPT_N_MIN or n > _SCRYPT_N_MAX or n & (n - 1):
        raise MasterKeyFormatError(
            f"scrypt n must be a power of two between 2**10 and 2**20, not {n}"
        )
    if not (1 <= r <= 32 and 1 <= p <= 16) or 128 * n * r > _SCRYPT_MAX_MEMORY:
        raise MasterKeyFormatError("scrypt r/p out of range")
    return n, r, p


def _derive_wrapping_key(passphrase: bytes, salt: bytes, n: int, r: int, p: int) -> bytes:
    return Scrypt(salt=salt, length=KEY_BYTES, n=n, r=r, p=p).derive(passphrase)


def _envelope_header_aad(header: Mapping[str, Any]) -> bytes:
    # Authenticate every header field (format, version, KDF parameters, nonce) so an
    # edited header fails like a wrong passphrase instead of being silently used.
    return json.dumps(header, sort_keys=True, separators=(",", ":")).encode("ascii")


def _check_passphrase(passphrase: Any) -> None:
    if not isinstance(passphrase, bytes):
        raise TypeError("passphrase must be bytes")
    if not passphrase:
        # An empty passphrase would leave the key as good as unencrypted.
        raise VaultPassphraseError("the key passphrase is empty")


def _seal_envelope(master: MasterKey, *, passphrase: bytes, scrypt_n: int) -> bytes:
    _check_passphrase(passphrase)
    try:
        _check_scrypt_params(scrypt_n, SCRYPT_R, SCRYPT_P)
    except MasterKeyFormatError as exc:
        raise VaultError(str(exc)) from exc
    salt = secrets.token_bytes(_SALT_BYTES)
    nonce = secrets.token_bytes(_NONCE_BYTES)
    header: dict[str, Any] = {
        "format": _ENVELOPE_FORMAT,
        "version": _FORMAT_VERSION,
        "kdf": {"alg": "scrypt", "salt": _b64e(salt), "n": scrypt_n, "r": SCRYPT_R, "p": SCRYPT_P},
        "cipher": {"alg": "A256GCM", "nonce": _b64e(nonce)},
    }
    wrapping_key = _derive_wrapping_key(passphrase, salt, scrypt_n, SCRYPT_R, SCRYPT_P)
    ciphertext = AESGCM(wrapping_key).encrypt(
        nonce, master._envelope_plaintext(), _envelope_header_aad(header)
    )
    envelope = dict(header, ciphertext=_b64e(ciphertext))
    return (json.dumps(envelope, indent=2, sort_keys=True) + "\n").encode("ascii")


def _open_envelope(data: bytes, *, passphrase: bytes) -> MasterKey:
    _check_passphrase(passphrase)
    try:
        envelope = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MasterKeyFormatError("master-key file is not JSON") from exc
    if not isinstance(envelope, dict) or envelope.get("format") != _ENVELOPE_FORMAT:
        raise MasterKeyFormatError("not a cardservice master-key file")
    if envelope.get("version") != _FORMAT_VERSION:
        raise MasterKeyFormatError(
            f"unsupported master-key file version {envelope.get('version')!r}"
        )
    kdf, cipher = envelope.get("kdf"), envelope.get("cipher")
    if not isinstance(kdf, dict) or kdf.get("alg") != "scrypt":
        raise MasterKeyFormatError("master-key file: unsupported kdf")
    if not isinstance(cipher, dict) or cipher.get("alg") != "A256GCM":
        raise MasterKeyFormatError("master-key file: unsupported cipher")
    n, r, p = _check_scrypt_params(kdf.get("n"), kdf.get("r"), kdf.get("p"))
    salt = _b64d(kdf.get("salt"), name="kdf.salt")
    nonce = _b64d(cipher.get("nonce"), name="cipher.nonce")
    ciphertext = _b64d(envelope.get("ciphertext"), name="ciphertext")
    if len(salt) < _SALT_BYTES or len(nonce) != _NONCE_BYTES:
        raise MasterKeyFormatError("master-key file: bad salt or nonce length")
    if len(ciphertext) != KEY_BYTES + _TAG_BYTES:
        raise MasterKeyFormatError("master-key file: bad ciphertext length")
    header = {k: v for k, v in envelope.items() if k != "ciphertext"}
    wrapping_key = _derive_wrapping_key(passphrase, salt, n, r, p)
    try:
        key = AESGCM(wrapping_key).decrypt(nonce, ciphertext, _envelope_header_aad(header))
    except InvalidTag as exc:
        # GCM cannot tell a wrong passphrase from an altered file; say both.
        raise VaultPassphraseError(
            "the passphrase does not open the master-key file (wrong passphrase, "
            "or the file was altered)"
        ) from exc
    return MasterKey(key)


_fsync_dir = securefile.fsync_dir


def _write_secret_file(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Write ``data`` to ``path`` atomically, mode 0600 (see ``securefile``)."""
    try:
        securefile.write_atomically(path, data, mode=0o600, overwrite=overwrite)
    except FileExistsError as exc:
        raise MasterKeyExistsError(
            f"{path} already exists; refusing to overwrite a master key") from exc


def _read_secret_file(path: Path) -> bytes:
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError as exc:
        raise MasterKeyMissingError(
            f"no master key at {path}: the register's personal data cannot be opened"
        ) from exc
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise MasterKeyFormatError(f"{path} is not a regular file")
        data = fh.read(_MAX_ENVELOPE_BYTES + 1)
    if len(data) > _MAX_ENVELOPE_BYTES:
        raise MasterKeyFormatError(f"{path} is too large to be a master-key file")
    return data


def create_master_key(
    path: str | os.PathLike[str], *, passphrase: bytes, scrypt_n: int = SCRYPT_N
) -> MasterKey:
    """Generate a master key and store it encrypted at ``path`` (mode 0600, atomic).

    Refuses to replace an existing file (:class:`MasterKeyExistsError`): overwriting a
    master key would silently shred the whole register. ``scrypt_n`` exists so tests
    can run fast; production code should leave the default.
    """
    master = MasterKey.generate()
    data = _seal_envelope(master, passphrase=passphrase, scrypt_n=scrypt_n)
    _write_secret_file(Path(path), data, overwrite=False)
    return master


def load_master_key(path: str | os.PathLike[str], *, passphrase: bytes) -> MasterKey:
    """Open the master-key file with the passphrase.

    Slow on purpose (scrypt): call once per process and keep the result.
    Raises :class:`MasterKeyMissingError` when the file is gone (e.g. after
    ``purge --all``), :class:`VaultPassphraseError` for a wrong passphrase and
    :class:`MasterKeyFormatError` for a file this version cannot read.
    """
    return _open_envelope(_read_secret_file(Path(path)), passphrase=passphrase)


def rotate_passphrase(
    path: str | os.PathLike[str], *, old: bytes, new: bytes, scrypt_n: int = SCRYPT_N
) -> None:
    """Re-encrypt the master-key file under a new passphrase, atomically.

    The master key itself does not change, so no data key needs rewrapping. Backups
    of the old file still open with the old passphrase: replace or destroy them too.
    """
    p = Path(path)
    master = load_master_key(p, passphrase=old)
    data = _seal_envelope(master, passphrase=new, scrypt_n=scrypt_n)
    _write_secret_file(p, data, overwrite=True)


def destroy_master_key(path: str | os.PathLike[str]) -> None:
    """Shred the master-key file: overwrite with random bytes, fsync, unlink.

    After this nothing can unwrap a data key or recompute a blind index, so every
    resident's personal data is gone, here and in any database backup. The
    overwrite is best effort (SSDs, journaling and copy-on-write file systems and
    snapshots may keep old blocks); the guarantee holds only once every copy of
    ``keys/master.key`` (backups included) is destroyed as well.
    Raises :class:`MasterKeyMissingError` if there is no file.
    """
    p = Path(path)
    try:
        fd = os.open(p, os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError as exc:
        raise MasterKeyMissingError(f"no master key at {p}") from exc
    try:
        size = os.fstat(fd).st_size
        view = memoryview(secrets.token_bytes(size))
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.unlink(p)
    _fsync_dir(p.parent)


# --------------------------------------------------------------------------------------
# The vault
# --------------------------------------------------------------------------------------


def _utf8(value: str, *, name: str) -> bytes:
    if not isinstance(value, str) or not value:
        raise VaultError(f"{name} must be a non-empty string")
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise VaultError(f"{name} is not valid Unicode text") from exc


def _aad(purpose: bytes, *parts: bytes) -> bytes:
    out = bytearray(_VERSION_BYTE)
    out += purpose
    for part in parts:
        out += len(part).to_bytes(4, "big")
        out += part
    return bytes(out)


def _gcm_seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return _VERSION_BYTE + nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def _gcm_open(key: bytes, blob: bytes, aad: bytes, *, what: str) -> bytes:
    if not isinstance(blob, bytes | bytearray | memoryview):
        raise TypeError(f"{what} must be bytes")
    blob = bytes(blob)
    if len(blob) < 1 + _NONCE_BYTES + _TAG_BYTES or blob[:1] != _VERSION_BYTE:
        raise VaultDecryptError(f"{what} is truncated or of an unknown format version")
    nonce, body = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, body, aad)
    except InvalidTag as exc:
        raise VaultDecryptError(
            f"{what} does not open: wrong key, wrong record or field, or tampered"
        ) from exc


def _check_data_key(data_key: bytes) -> None:
    if not isinstance(data_key, bytes) or len(data_key) != KEY_BYTES:
        raise VaultError(f"a data key is exactly {KEY_BYTES} bytes")


@dataclass(frozen=True)
class SealedRecord:
    """One resident's personal data at rest: the wrapped data key and field ciphertexts.

    Purging the resident means deleting ``wrapped_key``; the ``fields`` are then noise.
    """

    wrapped_key: bytes
    fields: dict[str, bytes]


class Vault:
    """Encrypts and decrypts residents' personal data under keys derived from a master key.

    Sub-keys come from the master key with HKDF-SHA256 under distinct ``info``
    strings: a key-encryption key (KEK) that wraps data keys, and one key per blind
    index. Destroying the master key therefore destroys the blind-index keys too.
    """

    __slots__ = ("_blind_index_key", "_family_year_key", "_kek", "_key_id")

    def __init__(self, master: MasterKey) -> None:
        """Derive the vault's sub-keys from ``master``."""
        if not isinstance(master, MasterKey):
            raise TypeError("Vault needs a MasterKey")
        self._kek = AESGCM(master.derive_subkey(info=_INFO_KEK))
        self._blind_index_key = master.derive_subkey(info=_INFO_BLIND_INDEX)
        # A key of its own: a family+year value can never equal, or be turned into, a
        # name+date value, even for a resident with a single name.
        self._family_year_key = master.derive_subkey(info=_INFO_FAMILY_YEAR_INDEX)
        self._key_id = master.key_id

    @property
    def key_id(self) -> str:
        """The public id of the master key this vault was built from."""
        return self._key_id

    def __repr__(self) -> str:
        return f"Vault(key_id={self._key_id})"

    # -- data keys ---------------------------------------------------------------------

    def wrap_data_key(self, data_key: bytes, *, record_id: str) -> bytes:
        """Encrypt a data key under the KEK, bound to ``record_id`` (61 bytes out)."""
        _check_data_key(data_key)
        aad = _aad(b"wrap", _utf8(record_id, name="record_id"))
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _VERSION_BYTE + nonce + self._kek.encrypt(nonce, data_key, aad)

    def unwrap_data_key(self, wrapped: bytes, *, record_id: str) -> bytes:
        """Recover a data key; :class:`VaultDecryptError` if it was not wrapped here for
        this record, or was altered."""
        aad = _aad(b"wrap", _utf8(record_id, name="record_id"))
        if not isinstance(wrapped, bytes) or len(wrapped) != _WRAPPED_KEY_BYTES:
            raise VaultDecryptError("wrapped data key has the wrong length")
        if wrapped[:1] != _VERSION_BYTE:
            raise VaultDecryptError("wrapped data key has an unknown format version")
        nonce, body = wrapped[1 : 1 + _NONCE_BYTES], wrapped[1 + _NONCE_BYTES :]
        try:
            return self._kek.decrypt(nonce, body, aad)
        except InvalidTag as exc:
            raise VaultDecryptError(
                "wrapped data key does not open: another master key, another record, or tampered"
            ) from exc

    def new_data_key(self, *, record_id: str) -> tuple[bytes, bytes]:
        """Make a fresh random data key for ``record_id``: ``(plaintext key, wrapped key)``.

        Store only the wrapped key; let the plaintext go out of scope after use.
        """
        data_key = secrets.token_bytes(KEY_BYTES)
        return data_key, self.wrap_data_key(data_key, record_id=record_id)

    # -- fields ------------------------------------------------------------------------

    @staticmethod
    def encrypt(data_key: bytes, plaintext: bytes, *, record_id: str, field: str) -> bytes:
        """Encrypt one field with AES-256-GCM, bound to its record id and field name."""
        _check_data_key(data_key)
        if not isinstance(plaintext, bytes | bytearray | memoryview):
            raise TypeError("plaintext must be bytes")
        aad = _aad(b"field", _utf8(record_id, name="record_id"), _utf8(field, name="field"))
        return _gcm_seal(data_key, bytes(plaintext), aad)

    @staticmethod
    def decrypt(data_key: bytes, ciphertext: bytes, *, record_id: str, field: str) -> bytes:
        """Decrypt one field; :class:`VaultDecryptError` on a wrong key, record or field,
        or any altered byte."""
        _check_data_key(data_key)
        aad = _aad(b"field", _utf8(record_id, name="record_id"), _utf8(field, name="field"))
        return _gcm_open(data_key, ciphertext, aad, what=f"field {field!r}")

    # -- whole records -----------------------------------------------------------------

    def seal_record(self, record_id: str, fields: Mapping[str, bytes]) -> SealedRecord:
        """Encrypt every field of a record under a new data key and wrap that key."""
        data_key, wrapped = self.new_data_key(record_id=record_id)
        sealed = {
            name: self.encrypt(data_key, value, record_id=record_id, field=name)
            for name, value in fields.items()
        }
        return SealedRecord(wrapped_key=wrapped, fields=sealed)

    def open_record(self, record_id: str, sealed: SealedRecord) -> dict[str, bytes]:
        """Unwrap the record's data key and decrypt every field."""
        data_key = self.unwrap_data_key(sealed.wrapped_key, record_id=record_id)
        return {
            name: self.decrypt(data_key, ct, record_id=record_id, field=name)
            for name, ct in sealed.fields.items()
        }

    # -- blind indexes -----------------------------------------------------------------

    def blind_index(self, given_names: str, family_names: str, date_of_birth: date) -> str:
        """A keyed hash of the normalised full name and birth date, as 32 hex digits.

        Given and family names are pooled and sorted (see :func:`normalise_name`), so a
        swapped order or a name entered in the wrong box still matches. The index only
        flags a *likely* duplicate for the clerk to confirm, so a rare collision is
        harmless. It is keyed: without the master key nobody can test a guessed name
        and birth date against the database.
        """
        if isinstance(date_of_birth, datetime) or not isinstance(date_of_birth, date):
            raise TypeError("date_of_birth must be a datetime.date")
        name = normalise_name(f"{given_names} {family_names}")
        if not name:
            raise VaultError("the name is empty once normalised")
        message = name.encode("utf-8") + b"\x00" + date_of_birth.isoformat().encode("ascii")
        digest = hmac.new(self._blind_index_key, message, hashlib.sha256).digest()
        return digest[:BLIND_INDEX_BYTES].hex()

    def family_year_index(self, family_names: str, year: int) -> str:
        """A keyed hash of the normalised family names and the birth year, as 32 hex digits.

        Coarse on purpose: it finds the "Silva born in 1990" a clerk cannot narrow down
        further, so many residents share one value and the value alone says little
        about any of them. Family tokens are sorted like :meth:`blind_index`'s
        ("Conceição da Silva" = "Silva da Conceicao").
        """
        if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= 9999:
            raise TypeError("year must be an int from 1 to 9999")
        name = normalise_name(family_names)
        if not name:
            raise VaultError("the family name is empty once normalised")
        message = name.encode("utf-8") + b"\x00" + f"{year:04d}".encode("ascii")
        digest = hmac.new(self._family_year_key, message, hashlib.sha256).digest()
        return digest[:BLIND_INDEX_BYTES].hex()


# --------------------------------------------------------------------------------------
# Name normalisation
# --------------------------------------------------------------------------------------

# Scripts whose combining marks are optional in everyday writing, so a clerk may or may
# not type them: Latin accents, Greek tonos (dropped in capitals), Cyrillic breve and
# diaeresis (ё is often written е), Arabic harakat and hamza seats, Hebrew niqqud.
# Elsewhere (Devanagari, Thai, ...) marks are letters' vowels and must stay.
_OPTIONAL_MARK_SCRIPTS = ("LATIN", "GREEK", "CYRILLIC", "ARABIC", "HEBREW")

# Latin letters that Unicode does not decompose but people write without the stroke.
_LATIN_FOLD = str.maketrans(
    {
        "ł": "l",
        "ø": "o",
        "đ": "d",
        "ð": "d",
        "ħ": "h",
        "ı": "i",
        "ŧ": "t",
        "æ": "ae",
        "œ": "oe",
        "þ": "th",
        "\u0640": "",  # Arabic tatweel: stretches a word, carries no letter
    }
)

# Apostrophes vanish ("O'Brien" = "OBrien", "D’Almeida" = "DAlmeida"); every other
# non-letter, non-digit character separates tokens ("García-López" = "Garcia Lopez").
_APOSTROPHES = frozenset("'\u2019\u2018\u02bc\u02bb\u0060\u00b4\u2032\uff07")


def _script(char: str) -> str:
    return unicodedata.name(char, "").split(" ", 1)[0]


def normalise_name(text: str) -> str:
    """Canonical form of a name for the blind index: lower case, plain letters, sorted.

    Steps: NFKC (full-width and presentation forms to plain letters), casefold
    (``ß`` → ``ss``), drop optional combining marks (see ``_OPTIONAL_MARK_SCRIPTS``),
    fold a few stroked Latin letters (``ł`` → ``l``), drop apostrophes, split on any
    other non-alphanumeric character, then **sort the tokens**. Sorting is
    deliberate: the same person is often registered as "Ana Maria Silva" and
    "Silva Ana Maria", or with given and family names in each other's box. The
    cost is that some genuinely different people collide, which the clerk resolves.
    """
    if not isinstance(text, str):
        raise TypeError("name must be a str")
    text = unicodedata.normalize("NFKC", text).casefold()
    kept: list[str] = []
    base_script = ""
    for char in unicodedata.normalize("NFKD", text):
        if unicodedata.combining(char) or unicodedata.category(char) == "Mn":
            if base_script in _OPTIONAL_MARK_SCRIPTS:
                continue
        else:
            base_script = _script(char)
        kept.append(char)
    text = unicodedata.normalize("NFC", "".join(kept)).translate(_LATIN_FOLD)
    tokens: list[str] = []
    current: list[str] = []
    for char in text:
        if char in _APOSTROPHES:
            continue
        category = unicodedata.category(char)
        if category[0] in "LMN":
            current.append(char)
        elif current:
            tokens.append("".join(current))
            current = []
    if current:
        tokens.append("".join(current))
    return " ".join(sorted(tokens))
