"""The backup file: one gzip-compressed tar holding a manifest, a database dump and ``keys/``.

Rules this module enforces:

- Every byte of the file is checked before anything is restored: the gzip header is the
  fixed one this module writes (no name, no time), the compressed stream is inflated to
  its end (so its CRC-32 and length are checked), and each member's SHA-256 must match
  the manifest. A flipped byte anywhere is refused as :class:`BackupFileError`.
- The manifest names the format version, the city, the schema revision, when it was made,
  and each member with its size and SHA-256; a member the manifest does not list, or a
  listed member that is missing, is refused.
- Member names are plain relative paths (``database/…``, ``keys/…``): no absolute path,
  no ``..``, no link or device, so an archive cannot write outside where it is unpacked.
- The file is written 0600, atomically (a crash leaves the old file or none).

Key files go in as they are on disk: private keys stay encrypted under the passphrase,
which is never written here. This module reads and writes files only; it knows nothing of
databases or web frameworks.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import secrets
import shutil
import tarfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import Any

from cardservice import securefile

FORMAT = "cardservice-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
_CHUNK = 1024 * 1024
# What gzip.GzipFile(filename="", mtime=0, compresslevel=6) writes: magic, deflate, no
# flags, no time, no extra flags, OS "unknown". Fixed, so no header byte goes unchecked.
_GZIP_HEADER = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
_COMPRESSLEVEL = 6


class BackupFileError(Exception):
    """The backup file is damaged, altered, incomplete or not a backup at all."""


@dataclass(frozen=True)
class Member:
    """One file in the backup: its name inside the archive, size and SHA-256."""

    name: str
    size: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    """What a backup holds and where it came from (no secret, no personal data)."""

    city_id: str
    schema_revision: str
    created_at: datetime
    members: tuple[Member, ...]
    tables: dict[str, dict[str, Any]]

    def to_json(self) -> bytes:
        """The manifest as stored in the archive."""
        return json.dumps({
            "format": FORMAT, "format_version": FORMAT_VERSION, "city_id": self.city_id,
            "schema_revision": self.schema_revision,
            "created_at": self.created_at.isoformat(),
            "tables": self.tables,
            "files": [{"name": m.name, "size": m.size, "sha256": m.sha256}
                      for m in self.members],
        }, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, data: bytes) -> Manifest:
        """Parse a stored manifest; :class:`BackupFileError` when it is not one."""
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                raise BackupFileError("this is not a cardservice backup")
            if doc.get("format_version") != FORMAT_VERSION:
                raise BackupFileError(f"backup format version {doc.get('format_version')!r} "
                                      f"is not supported (this version reads {FORMAT_VERSION})")
            members = tuple(Member(str(f["name"]), int(f["size"]), str(f["sha256"]))
                            for f in doc["files"])
            return cls(str(doc["city_id"]), str(doc["schema_revision"]),
                       datetime.fromisoformat(doc["created_at"]), members,
                       dict(doc["tables"]))
        except BackupFileError:
            raise
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise BackupFileError(f"the backup's manifest is unreadable ({exc})") from None


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file, read in chunks."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def _safe_name(name: str) -> PurePosixPath:
    p = PurePosixPath(name)
    if p.is_absolute() or not p.parts or any(part in ("", ".", "..") for part in p.parts):
        raise BackupFileError(f"the backup holds a file with an unsafe name: {name!r}")
    return p


@contextlib.contextmanager
def private_dir(near: Path) -> Iterator[Path]:
    """A fresh directory (mode 0700) beside ``near``, removed with everything in it."""
    parent = near.parent
    parent.mkdir(parents=True, exist_ok=True)
    path = parent / f".{near.name}.{secrets.token_hex(8)}.tmp"
    path.mkdir(mode=0o700)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def write(out: Path, *, staging: Path, manifest: Manifest) -> None:
    """Pack ``staging`` (the files the manifest lists) into ``out``: mode 0600, atomically.

    The archive is built in a private temp file beside ``out`` and moved into place.
    """
    out = Path(out)
    tmp = out.parent / f".{out.name}.{secrets.token_hex(8)}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                 0o600)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as raw:
            with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0,
                               compresslevel=_COMPRESSLEVEL) as gz, \
                    tarfile.open(fileobj=gz, mode="w", format=tarfile.PAX_FORMAT) as tar:
                data = manifest.to_json()
                info = tarfile.TarInfo(MANIFEST)
                info.size, info.mode = len(data), 0o600
                tar.addfile(info, io.BytesIO(data))
                for m in manifest.members:
                    info = tarfile.TarInfo(m.name)
                    info.size, info.mode = m.size, 0o600
                    with (staging / m.name).open("rb") as fh:
                        tar.addfile(info, fh)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    with contextlib.suppress(OSError):
        securefile.fsync_dir(out.parent)


def _inflate(path: Path, into: Path) -> None:
    """Decompress ``path`` to ``into``, checking the fixed header, the stream and its CRC."""
    try:
        with path.open("rb") as fh:
            if fh.read(len(_GZIP_HEADER)) != _GZIP_HEADER:
                raise BackupFileError("this is not a cardservice backup, or its first bytes "
                                      "are damaged")
            fh.seek(0)
            with gzip.GzipFile(fileobj=fh, mode="rb") as gz, into.open("wb") as dst:
                while chunk := gz.read(_CHUNK):
                    dst.write(chunk)
    except (gzip.BadGzipFile, zlib.error, EOFError) as exc:
        raise BackupFileError(f"the backup file is damaged ({exc})") from None
    except OSError as exc:
        raise BackupFileError(f"cannot read the backup file: {exc.strerror or exc}") from None


def unpack(path: Path, *, into: Path) -> Manifest:
    """Check every byte of the backup at ``path`` and unpack its members under ``into``.

    Returns the manifest; raises :class:`BackupFileError` for anything damaged, altered,
    missing, extra or unsafe. ``into`` should be a private, empty directory.
    """
    tar_path = into / "backup.tar"
    _inflate(Path(path), tar_path)
    files = into / "files"
    files.mkdir(mode=0o700)
    manifest: Manifest | None = None
    seen: dict[str, tuple[int, str]] = {}
    try:
        with tarfile.open(tar_path, mode="r:") as tar:
            for info in tar:
                if not info.isfile():
                    raise BackupFileError(f"the backup holds something that is not a plain "
                                          f"file: {info.name!r}")
                name = _safe_name(info.name)
                src = tar.extractfile(info)
                if src is None:  # pragma: no cover - isfile() members always have data
                    raise BackupFileError(f"cannot read {info.name!r} in the backup")
                if str(name) == MANIFEST:
                    manifest = Manifest.from_json(src.read(16 * 1024 * 1024))
                    continue
                if str(name) in seen:
                    raise BackupFileError(f"the backup holds {info.name!r} twice")
                target = files.joinpath(*name.parts)
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                h = hashlib.sha256()
                with target.open("xb") as dst:
                    while chunk := src.read(_CHUNK):
                        h.update(chunk)
                        dst.write(chunk)
                target.chmod(0o600)
                seen[str(name)] = (info.size, h.hexdigest())
    except tarfile.TarError as exc:
        raise BackupFileError(f"the backup file is damaged ({exc})") from None
    finally:
        tar_path.unlink(missing_ok=True)
    if manifest is None:
        raise BackupFileError("the backup has no manifest")
    listed = {m.name: m for m in manifest.members}
    extra = sorted(set(seen) - set(listed))
    if extra:
        raise BackupFileError(f"the backup holds {extra[0]!r}, which its manifest does not list")
    for m in manifest.members:
        if m.name not in seen:
            raise BackupFileError(f"{m.name!r} is missing from the backup")
        if seen[m.name] != (m.size, m.sha256):
            raise BackupFileError(f"{m.name!r} in the backup does not match its manifest "
                                  "hash: the file was altered or damaged")
    return manifest


def member_of(staging: Path, name: str) -> Member:
    """Describe a staged file for the manifest."""
    path = staging.joinpath(*_safe_name(name).parts)
    return Member(name, path.stat().st_size, sha256_file(path))
