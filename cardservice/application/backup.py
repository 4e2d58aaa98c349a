"""Use cases of backups: one file that restores into a working city (README "Backup and restore").

A backup is a gzip-compressed tar (``backupfile``) holding:

- ``manifest.json``: format, city id, schema revision, when it was made, each file's size
  and SHA-256, each table's columns and row count;
- ``database/<table>.jsonl``: a logical dump of every table from one consistent snapshot
  (``dbdump``); residents' personal data is in it only as the ciphertext the database holds;
- ``keys/…``: the keys directory as it is on disk. Private keys and the master key are
  already encrypted under the key passphrase; they are copied, never decrypted, and the
  passphrase and the server's secret key are never written into a backup.

Anyone holding a backup *and* the passphrase can read the register: keep them apart.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cardservice import backupfile, dbdump, securefile
from cardservice.application.unit import UnitOfWork
from cardservice.clock import utcnow
from cardservice.config import Settings
from cardservice.db import Database
from cardservice.errors import N_, ConflictError, DomainError, InvalidInputError
from cardservice.services import audit
from cardservice.services.citykeys import CityKeys

#: ``progress(step, done, total)``: step is a table name or ``"keys"``.
Progress = Callable[[str, int, int], None]
_KEYS = "keys"
_DATABASE = "database"
# Files in keys/ that are not the city's keys: the lock file and atomic writes' temp files.
_SKIPPED_PREFIX = "."
_KEYS_README = "README.md"


class BackupRefusedError(InvalidInputError):
    """The backup file is damaged, altered, of another city or otherwise unusable."""

    code = "backup_refused"


class RestoreTargetNotEmptyError(ConflictError):
    """The database or keys directory already holds a city (restore with ``--force``)."""

    code = "restore_target_not_empty"


@dataclass(frozen=True)
class BackupReport:
    """What a backup holds: counts only, never a name."""

    path: Path
    city_id: str
    schema_revision: str
    created_at: datetime
    rows: dict[str, int]
    key_files: int


def _no_progress(_step: str, _done: int, _total: int) -> None:
    pass


def _key_files(keys_dir: Path) -> list[Path]:
    """The files of the keys directory a backup carries, relative to it, sorted."""
    found = []
    for path in sorted(keys_dir.rglob("*")):
        rel = path.relative_to(keys_dir)
        if any(part.startswith(_SKIPPED_PREFIX) for part in rel.parts):
            continue
        if path.is_symlink():
            raise BackupRefusedError(N_("%(path)s is a symbolic link: a keys directory holds "
                                        "plain files only"), params={"path": str(path)})
        if path.is_file():
            found.append(rel)
    return found


class BackupUseCases:
    """Back the city up into one file, and restore it from one."""

    def __init__(self, settings: Settings, keys: CityKeys, db: Database, uow: UnitOfWork
                 ) -> None:
        self._settings = settings
        self._keys = keys
        self._db = db
        self._uow = uow

    # ---- backup --------------------------------------------------------------------------

    def create(self, out: Path, *, actor: str, progress: Progress = _no_progress
               ) -> BackupReport:
        """Write a backup of the database and ``keys/`` to ``out`` (mode 0600, atomically).

        The backup itself is then recorded in the audit log (after the snapshot, so the
        entry is not in this backup but in the next).
        """
        out = Path(out)
        if out.exists() and out.is_dir():
            raise InvalidInputError(N_("%(path)s is a directory: name the backup file"),
                                    params={"path": str(out)})
        keys_dir = self._settings.keys_dir
        if not (keys_dir / "keys.json").exists():
            raise BackupRefusedError(N_("%(path)s holds no city keys: nothing to back up"),
                                     params={"path": str(keys_dir)})
        now = utcnow()
        with backupfile.private_dir(out) as staging:
            (staging / _DATABASE).mkdir(mode=0o700)
            try:
                revision, tables = dbdump.dump(self._db, staging / _DATABASE,
                                               progress=progress)
            except dbdump.DumpError as exc:
                raise BackupRefusedError(N_("Cannot back up: %(detail)s"),
                                         params={"detail": str(exc)}) from None
            files = _key_files(keys_dir)
            for i, rel in enumerate(files, 1):
                target = staging / _KEYS / rel
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                shutil.copyfile(keys_dir / rel, target)  # bytes as on disk: still encrypted
                progress(_KEYS, i, len(files))
            names = [f"{_DATABASE}/{t}.jsonl" for t in tables]
            names += [f"{_KEYS}/{rel.as_posix()}" for rel in files]
            manifest = backupfile.Manifest(
                city_id=self._settings.city.id, schema_revision=revision, created_at=now,
                members=tuple(backupfile.member_of(staging, n) for n in names),
                tables=tables)
            backupfile.write(out, staging=staging, manifest=manifest)
        with self._uow() as s:
            audit.record(s, actor=actor, action="backup.create", target_type="city",
                         target_id=self._settings.city.id, now=now,
                         details={"schema_revision": revision})
        return BackupReport(out, manifest.city_id, revision, now,
                            {t: int(v["rows"]) for t, v in tables.items()}, len(files))

    # ---- restore -------------------------------------------------------------------------

    def target_is_empty(self) -> bool:
        """Whether neither the database nor ``keys/`` holds a city yet."""
        keys_dir = self._settings.keys_dir
        keys_empty = not keys_dir.exists() or not [
            f for f in _key_files(keys_dir) if f.as_posix() != _KEYS_README]
        return keys_empty and dbdump.is_empty(self._db)

    def restore(self, source: Path, *, force: bool, actor: str,
                progress: Progress = _no_progress) -> BackupReport:
        """Replace the database and ``keys/`` by the backup at ``source``.

        Every byte of the backup is checked first (and its city must be this one); a
        database or keys directory that already holds a city is refused unless ``force``.
        The database is replaced all or nothing, then the key files (modes 0700/0600),
        then the schema is at the newest revision and the restore is audited.
        """
        source = Path(source)
        keys_dir = self._settings.keys_dir
        with backupfile.private_dir(keys_dir) as scratch:
            try:
                manifest = backupfile.unpack(source, into=scratch)
            except backupfile.BackupFileError as exc:
                raise BackupRefusedError(N_("The backup is refused: %(detail)s"),
                                         params={"detail": str(exc)}) from None
            if manifest.city_id != self._settings.city.id:
                raise BackupRefusedError(
                    N_("This backup is of city %(backup)s, not of %(city)s: nothing restored"),
                    params={"backup": manifest.city_id, "city": self._settings.city.id})
            keys_in_backup = [m.name for m in manifest.members
                              if m.name.startswith(f"{_KEYS}/")]
            if f"{_KEYS}/keys.json" not in keys_in_backup:
                raise BackupRefusedError(N_("The backup holds no city keys: nothing restored"))
            if not force and not self.target_is_empty():
                raise RestoreTargetNotEmptyError(
                    N_("The database or the keys directory already holds a city: nothing "
                       "restored (restore with --force to replace it)"))
            files = scratch / "files"
            try:
                dbdump.restore(self._db, files / _DATABASE,
                               revision=manifest.schema_revision, tables=manifest.tables,
                               scratch=scratch, progress=progress)
            except dbdump.DumpError as exc:
                raise BackupRefusedError(N_("The backup is refused: %(detail)s"),
                                         params={"detail": str(exc)}) from None
            self._restore_keys(files / _KEYS, keys_in_backup, progress=progress)
        self._keys.forget_vault()
        with self._uow() as s:
            audit.record(s, actor=actor, action="backup.restore", target_type="city",
                         target_id=manifest.city_id, now=utcnow(),
                         details={"schema_revision": manifest.schema_revision,
                                  "backup_created_at": manifest.created_at.isoformat()})
        return BackupReport(source, manifest.city_id, manifest.schema_revision,
                            manifest.created_at,
                            {t: int(v["rows"]) for t, v in manifest.tables.items()},
                            len(keys_in_backup))

    def _restore_keys(self, unpacked: Path, names: list[str], *, progress: Progress) -> None:
        keys_dir = self._settings.keys_dir
        keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        keys_dir.chmod(0o700)
        wanted = {Path(n).relative_to(_KEYS) for n in names}
        for stale in _key_files(keys_dir):  # only reached when empty or forced
            if stale not in wanted and stale.as_posix() != _KEYS_README:
                (keys_dir / stale).unlink()
        for i, rel in enumerate(sorted(wanted), 1):
            target = keys_dir / rel
            for parent in reversed(rel.parents[:-1]):
                (keys_dir / parent).mkdir(mode=0o700, exist_ok=True)
                (keys_dir / parent).chmod(0o700)
            securefile.write_atomically(target, (unpacked / rel).read_bytes(), mode=0o600,
                                        overwrite=True)
            progress(_KEYS, i, len(wanted))


__all__ = ["BackupRefusedError", "BackupReport", "BackupUseCases", "DomainError",
           "RestoreTargetNotEmptyError"]
