"""A database of undocumented people is a danger to them: what the database really holds.

Reads the raw SQLite file and a real ``pg_dump`` after registering residents and looks
for their names, birth dates, addresses and photo bytes in clear. Then purges a
resident and shows nothing on the machine can read them any more, while their card
still verifies; then destroys the whole register.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import subprocess
from datetime import date, timedelta
from urllib.parse import urlsplit

import pytest
from click.testing import CliRunner
from PIL import Image
from sqlalchemy import select

from cardservice import vault
from cardservice.application import UnitOfWork
from cardservice.clock import utcnow
from cardservice.config import load_settings
from cardservice.models import Resident
from cardservice.services import residents
from cardservice.services.citykeys import CityKeys, RegisterDestroyedError
from tests.conftest import skip_or_fail

PEOPLE = [
    {"given_names": "Zinhle Precious", "family_names": "Mokoena-Dlamini",
     "date_of_birth": "1987-11-23", "address": {"line1": "14 Siphiwe Street Khayelitsha",
                                               "postcode": "7784-KHY"}},
    {"given_names": "Nguyễn Thị", "family_names": "Phương Thảo", "date_of_birth": "1999-03-07",
     "address": {"care_of": "Associação Lusofonia Sem Fronteiras", "no_fixed_address": True}},
    {"given_names": "Алексей", "family_names": "Кузнецов", "name_latin": "Aleksei Kuznetsov",
     "date_of_birth": "1975-08-30",
     "address": {"line1": "Rua Quirino da Fonseca 9", "confidential": True}},
]


def photo_bytes() -> bytes:
    img = Image.new("RGB", (600, 800))
    px = img.load()
    for x in range(600):
        for y in range(800):
            px[x, y] = ((x * 7) % 256, (y * 3) % 256, (x + y) % 256)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def register_all(client, token):
    headers = {"Authorization": f"Bearer {token}"}
    ids = []
    photo = base64.b64encode(photo_bytes()).decode()
    for person in PEOPLE:
        body = {**person, "documents": ["passport", "utility_bill"], "photo": photo,
                "contact": {"email": "zinhle.m@example.org", "phone": "+27 21 555 0199"}}
        resp = client.post("/api/v1/residents", json=body, headers=headers)
        assert resp.status_code == 201, resp.get_json()
        ids.append(resp.get_json()["id"])
    return ids


def needles(processed_photo: bytes | None = None) -> list[bytes]:
    found = []
    for p in PEOPLE:
        for value in (p["given_names"], p["family_names"], p["date_of_birth"],
                      *([p["name_latin"]] if "name_latin" in p else []),
                      *(v for v in p["address"].values() if isinstance(v, str))):
            found.append(value.encode("utf-8"))
            found.append(value.encode("utf-16-le"))
        found.append(p["date_of_birth"].replace("-", "").encode())
    found += [b"zinhle.m@example.org", b"+27 21 555 0199"]
    if processed_photo:
        found.append(processed_photo[200:264])  # 64 bytes from inside the stored JPEG
    # Short values (a 4-digit number) could appear by chance in any binary; keep distinctive ones.
    return [n for n in found if len(n) >= 8]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_sqlite_file_holds_no_personal_data_in_clear(app, client, staff, db):
    ids = register_all(client, staff["clerk"].token)
    ext = app.extensions["cardservice"]
    with ext.db.session() as s:
        stored_photo = residents.get_photo(s, ext.keys, ids[0])
    db.dispose()
    path = urlsplit(db.url).path
    raw = b""
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            with open(path + suffix, "rb") as fh:
                raw += fh.read()
    assert len(raw) > 10_000
    for needle in needles(stored_photo):
        assert needle not in raw, needle[:40]
    # The search columns hold keyed hashes only: not the normalised names, nor an unkeyed
    # hash of them anyone could recompute from a guess.
    for p in PEOPLE:
        born = p["date_of_birth"]
        full = vault.normalise_name(f"{p['given_names']} {p['family_names']}")
        family = vault.normalise_name(p["family_names"])
        for clear in (full, family, f"{full}\x00{born}", f"{family}\x00{born[:4]}"):
            assert clear.encode() not in raw, clear
            for digest in (hashlib.sha256(clear.encode()).hexdigest(),
                           hashlib.md5(clear.encode()).hexdigest()):  # noqa: S324
                assert digest[:32].encode() not in raw, clear
    with ext.db.session() as s:
        rows = s.scalars(select(Resident)).all()
        assert len(rows) == len(PEOPLE)
        for row in rows:
            for value in (row.blind_index, row.family_year_index):
                assert value is not None and re.fullmatch(r"[0-9a-f]{32}", value)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
def test_postgres_dump_holds_no_personal_data_in_clear(app, client, staff, db):
    pg_dump = shutil.which("pg_dump")
    if pg_dump is None:
        skip_or_fail("pg_dump is not installed")
    ids = register_all(client, staff["clerk"].token)
    ext = app.extensions["cardservice"]
    with ext.db.session() as s:
        stored_photo = residents.get_photo(s, ext.keys, ids[0])
    url = urlsplit(db.url.replace("postgresql+psycopg", "postgresql"))
    schema = url.query.split("search_path%3D")[-1]
    dump = subprocess.run(
        [pg_dump, "-h", url.hostname or "127.0.0.1", "-p", str(url.port or 5432),
         "-U", url.username or "postgres", "-n", schema, "--data-only", url.path.lstrip("/")],
        capture_output=True, timeout=120, check=True).stdout
    assert b"COPY" in dump and len(dump) > 10_000
    # bytea is dumped as hex: look for hex forms too
    for needle in needles(stored_photo):
        assert needle not in dump, needle[:40]
        assert needle.hex().encode() not in dump, needle[:40]


def test_purge_one_resident_unreadable_and_card_still_verifies(app, client, staff, db):
    clerk = {"Authorization": f"Bearer {staff['clerk'].token}"}
    ids = register_all(client, staff["clerk"].token)
    card = client.post(f"/api/v1/residents/{ids[0]}/cards", headers=clerk).get_json()
    ext = app.extensions["cardservice"]
    with ext.db.session() as s:
        before = s.get(Resident, ids[0])
        saved_record, saved_photo = before.record, before.photo  # a "backup" of ciphertexts
    ext.residents.purge(ids[0], actor="test", reason="retention")
    with ext.db.session() as s:
        row = s.get(Resident, ids[0])
        assert row.wrapped_key is None and row.record is None and row.photo is None
        assert row.blind_index is None and row.family_year_index is None
        others = [s.get(Resident, i) for i in ids[1:]]
        v = ext.keys.vault()
        # no data key on the machine opens the purged ciphertexts
        for other in others:
            key = v.unwrap_data_key(other.wrapped_key, record_id=other.id)
            for blob, field in ((saved_record, "record"), (saved_photo, "photo")):
                with pytest.raises(vault.VaultDecryptError):
                    v.decrypt(key, blob, record_id=ids[0], field=field)
    assert client.get(f"/api/v1/residents/{ids[0]}", headers=clerk).status_code == 404
    body = client.post("/api/v1/verify", json={"qr": card["qr"]}).get_json()
    assert body["status"] == "valid"


def test_purge_cli_dry_run_and_retention(tmp_path, db, keys_template):
    from cardservice.cli import main
    from tests.cli.test_cli import env_for, write_config
    from tests.conftest import copy_keys

    copy_keys(keys_template, tmp_path / "keys")
    cfg = write_config(tmp_path, db.url, extra="\n[retention]\ndays_after_expiry = 0\n")
    env = env_for(cfg)
    runner = CliRunner()
    assert runner.invoke(main, ["init"], env=env).exit_code == 0
    keys = CityKeys(load_settings(cfg, environ=env))
    with UnitOfWork(db)() as s:
        data = residents.ResidentData(given_names="Old", family_names="Card",
                                      date_of_birth=date(1970, 1, 1),
                                      address=residents.Address(line1="x"))
        rid = residents.register(s, keys, data=data, photo=None, confirm_new=True, actor="t",
                                 now=utcnow() - timedelta(days=10), settings=keys.settings)
    dry = runner.invoke(main, ["purge", "--dry-run"], env=env)
    assert dry.exit_code == 0 and "1 resident(s)" in dry.output and rid in dry.output
    with db.session() as s:
        assert s.get(Resident, rid).wrapped_key is not None  # dry run changed nothing
    done = runner.invoke(main, ["purge"], env=env)
    assert done.exit_code == 0, done.output
    with db.session() as s:
        assert s.get(Resident, rid).wrapped_key is None


def test_purge_all_needs_typed_confirmation_and_cards_keep_verifying(
        tmp_path, db, keys_template, staff):
    from cardservice import create_app
    from cardservice.cli import main
    from tests.cli.test_cli import env_for, write_config
    from tests.conftest import copy_keys, make_settings

    copy_keys(keys_template, tmp_path / "keys")
    app = create_app(make_settings(tmp_path, database_url=db.url),
                     overrides={"RATELIMIT_ENABLED": False})
    client = app.test_client()
    clerk = {"Authorization": f"Bearer {staff['clerk'].token}"}
    rid = register_all(client, staff["clerk"].token)[0]
    card = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk).get_json()
    env = env_for(write_config(tmp_path, db.url))
    runner = CliRunner()
    wrong = runner.invoke(main, ["purge", "--all", "--confirm", "FRLYS"], env=env)
    assert wrong.exit_code == 2 and "nothing destroyed" in wrong.output
    assert (tmp_path / "keys" / "master.key").exists()
    done = runner.invoke(main, ["purge", "--all", "--confirm", "PTLIS"], env=env)
    assert done.exit_code == 0, done.output
    assert not (tmp_path / "keys" / "master.key").exists()
    # a fresh process can no longer read anyone, but cards verify
    app2 = create_app(make_settings(tmp_path, database_url=db.url),
                      overrides={"RATELIMIT_ENABLED": False})
    c2 = app2.test_client()
    resp = c2.get(f"/api/v1/residents/{rid}", headers=clerk)
    assert resp.status_code == 410 and resp.get_json()["error"] == "register_destroyed"
    assert c2.post("/api/v1/verify", json={"qr": card["qr"]}).get_json()["status"] == "valid"
    with pytest.raises(RegisterDestroyedError):
        app2.extensions["cardservice"].keys.vault()
    # The blind indexes went with the key: they would still say who shares a name.
    with db.session() as s:
        assert s.scalars(select(Resident.id).where(
            (Resident.blind_index.is_not(None)) | (Resident.family_year_index.is_not(None))
        )).all() == []
    for a in (app, app2):
        a.extensions["cardservice"].db.dispose()
