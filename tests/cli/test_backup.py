"""``cardservice backup`` / ``restore``: a city backed up, destroyed and restored still works.

Runs on SQLite and PostgreSQL (the ``db`` fixture), through the real commands.
"""

from __future__ import annotations

import gzip
import io
import shutil
import stat
import tarfile
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cardservice.application import Application
from cardservice.cli import main
from cardservice.clock import utcnow
from cardservice.errors import NotFoundError
from cardservice.models import Base
from tests.cli.test_cli import env_for, write_config

NAMES = [("Ana Beatriz", "Quaresmeira", "1990-04-12"), ("Jean-Baptiste", "Okonkwo", "1984-11-02"),
         ("Mariam", "Traoré Diallo", "2001-07-30"), ("Zhou", "Xiulan", "1975-01-09")]


def _fields(given: str, family: str, born: str) -> dict:
    return {"given_names": given, "family_names": family, "date_of_birth": born,
            "address": {"line1": "Rua das Flores 12"},
            "documents": ["passport", "utility_bill"]}


@pytest.fixture
def city(tmp_path, settings, db):
    """A city with residents, cards (one revoked), a purged resident and audit entries."""
    app = Application(settings)
    ids, qrs = [], []
    for given, family, born in NAMES:
        rid = app.residents.register(_fields(given, family, born), photo=None,
                                     confirm_new=False, actor="clerk1")
        ids.append(rid)
        qrs.append(app.cards.issue(rid, actor="clerk1").qr)
    revoked = app.cards.issue(ids[0], actor="clerk1")  # supersedes the first card
    app.cards.revoke(revoked.serial, reason="lost", actor="clerk1")
    qrs.append(revoked.qr)
    app.residents.purge(ids[3], actor="admin1", reason="asked")
    now = utcnow()
    before = [app.verifier.verify(q, now=now).status for q in qrs]
    assert {"valid", "revoked"} <= set(before), before
    app.close()
    cfg = write_config(tmp_path, db.url)
    yield {"ids": ids, "qrs": qrs, "before": before, "runner": CliRunner(),
           "env": env_for(cfg), "settings": settings, "db": db, "tmp": tmp_path}


def _run(city, *args):
    return city["runner"].invoke(main, list(args), env=city["env"])


def _destroy(db, keys: Path) -> None:
    """Drop every table of the database and delete keys/."""
    with db.engine.begin() as conn:
        Base.metadata.drop_all(conn)
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    db.dispose()
    shutil.rmtree(keys)


def _backup(city) -> Path:
    out = city["tmp"] / "backups" / "city.backup"
    done = _run(city, "backup", str(out))
    assert done.exit_code == 0, done.output
    assert "wrote" in done.stdout
    return out


def test_backup_restores_into_a_working_city(city):
    out = _backup(city)
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    # Nothing personal in clear: not a name, not an address, in the whole unpacked archive.
    raw = gzip.decompress(out.read_bytes())
    # Words of 6 letters or more: a 3- or 4-byte word ("Ana", "Zhou") turns up by chance
    # in a megabyte of ciphertext and compressed data.
    for given, family, _born in NAMES:
        for word in (*given.split(), *family.split(), f"{given} {family}"):
            if len(word) >= 6:
                assert word.encode() not in raw, word
    assert b"Rua das Flores" not in raw
    assert b"test passphrase" not in raw and b"test-secret-" not in raw
    with tarfile.open(fileobj=io.BytesIO(raw)) as tar:
        names = tar.getnames()
    assert "manifest.json" in names and "keys/keys.json" in names
    assert "keys/master.key" in names and "database/residents.jsonl" in names

    settings, db = city["settings"], city["db"]
    _destroy(db, settings.keys_dir)
    restored = _run(city, "restore", str(out))
    assert restored.exit_code == 0, restored.output
    assert "restored city PTLIS" in restored.stdout

    assert stat.S_IMODE(settings.keys_dir.stat().st_mode) == 0o700
    for path in settings.keys_dir.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == (0o700 if path.is_dir() else 0o600), path
    app = Application(settings)
    try:
        now = utcnow()
        after = [app.verifier.verify(q, now=now).status for q in city["qrs"]]
        assert after == city["before"]
        for rid, (given, family, _born) in zip(city["ids"][:3], NAMES, strict=False):
            view = app.residents.get(rid)
            assert (view.data.given_names, view.data.family_names) == (given, family)
        with pytest.raises(NotFoundError):
            app.residents.get(city["ids"][3])
        # New rows after the restore get fresh ids (PostgreSQL's sequences moved on).
        app.staff.create(username="after-restore", role="agent", actor="test")
        rid = app.residents.register(_fields("Nova", "Pessoa", "1999-09-09"), photo=None,
                                     confirm_new=False, actor="clerk1")
        assert app.cards.issue(rid, actor="clerk1").serial
    finally:
        app.close()
    audit = _run(city, "audit", "verify")
    assert audit.exit_code == 0 and "audit log intact" in audit.output


def test_restore_over_a_city_is_refused_without_force(city):
    out = _backup(city)
    app = Application(city["settings"])
    try:
        extra = app.residents.register(_fields("Depois", "Do Backup", "1970-02-02"),
                                       photo=None, confirm_new=False, actor="clerk1")
        refused = _run(city, "restore", str(out))
        assert refused.exit_code == 2
        assert "already holds a city" in refused.output
        assert app.residents.get(extra).data.family_names == "Do Backup"  # nothing changed
        forced = _run(city, "restore", "--force", "--yes", str(out))
        assert forced.exit_code == 0, forced.output
        with pytest.raises(NotFoundError):
            app.residents.get(extra)  # the register is the backup's again
        assert app.residents.get(city["ids"][1]).data.family_names == "Okonkwo"
    finally:
        app.close()
    assert _run(city, "audit", "verify").exit_code == 0


@pytest.mark.parametrize("where", ["header", "middle", "end"])
def test_a_damaged_backup_is_refused_and_changes_nothing(city, where):
    out = _backup(city)
    data = bytearray(out.read_bytes())
    at = {"header": 5, "middle": len(data) // 2, "end": len(data) - 2}[where]
    data[at] ^= 0x01
    damaged = city["tmp"] / "damaged.backup"
    damaged.write_bytes(bytes(data))
    settings, db = city["settings"], city["db"]
    _destroy(db, settings.keys_dir)
    refused = _run(city, "restore", str(damaged))
    assert refused.exit_code == 2
    assert "The backup is refused" in refused.output
    assert not any(settings.keys_dir.iterdir())  # no key file restored
    assert _run(city, "restore", str(out)).exit_code == 0  # the intact one still restores


def test_a_backup_of_another_city_is_refused(city, tmp_path):
    out = _backup(city)
    (tmp_path / "other").mkdir()
    other = write_config(tmp_path / "other", city["db"].url)
    other.write_text(other.read_text(encoding="utf-8").replace('id = "PTLIS"', 'id = "FRLYS"'),
                     encoding="utf-8")
    refused = city["runner"].invoke(main, ["restore", str(out)], env=env_for(other))
    assert refused.exit_code == 2
    assert "of city PTLIS, not of FRLYS" in refused.output
