"""The ``cardservice`` command as operators' scripts drive it (SPEC §7)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import text

from cardservice.cli import main
from tests.conftest import TEST_PASSPHRASE, TEST_SECRET

EXE = Path(sys.executable).parent / "cardservice"


def write_config(tmp: Path, database_url: str, extra: str = "") -> Path:
    keys = tmp / "keys"
    cfg = tmp / "city.toml"
    cfg.write_text(
        f'[city]\nid = "PTLIS"\nname = "Lisboa"\nbase_url = "http://127.0.0.1:5000"\n\n'
        f'[database]\nurl = "{database_url}"\n\n[keys]\ndir = "{keys}"\n\n'
        f'[server]\ninstance_dir = "{tmp / "instance"}"\nsecure_cookies = false\n{extra}',
        encoding="utf-8")
    return cfg


def env_for(cfg: Path) -> dict[str, str]:
    return {"CARDSERVICE_CONFIG": str(cfg), "CARDSERVICE_SECRET_KEY": TEST_SECRET,
            "CARDSERVICE_KEY_PASSPHRASE": TEST_PASSPHRASE}


@pytest.fixture
def city(tmp_path, db):
    """A configured, initialised city on the test database."""
    cfg = write_config(tmp_path, db.url)
    runner = CliRunner()
    env = env_for(cfg)
    result = runner.invoke(main, ["init", "--admin", "boss"], env=env)
    assert result.exit_code == 0, result.output
    return runner, env


def test_init_is_safe_to_run_twice(city):
    runner, env = city
    again = runner.invoke(main, ["init", "--admin", "boss"], env=env)
    assert again.exit_code == 0, again.output
    assert "admin boss already exists" in again.output
    listing = runner.invoke(main, ["users", "list"], env=env)
    assert listing.output.count("boss") == 1


def test_users_add_list_disable_token(city):
    runner, env = city
    added = runner.invoke(main, ["users", "add", "ana", "--role", "clerk"], env=env)
    assert added.exit_code == 0 and "created ana (clerk)" in added.output
    token = runner.invoke(main, ["users", "token", "ana"], env=env)
    assert token.exit_code == 0
    last_line = token.stdout.strip().splitlines()[-1]
    assert last_line.startswith("cs_") and len(last_line) > 40
    dup = runner.invoke(main, ["users", "add", "ana", "--role", "agent"], env=env)
    assert dup.exit_code == 2 and "taken" in dup.output
    disabled = runner.invoke(main, ["users", "disable", "ana"], env=env)
    assert disabled.exit_code == 0
    listing = runner.invoke(main, ["users", "list"], env=env)
    assert "ana" in listing.output and "disabled" in listing.output


def test_audit_verify_passes_then_names_the_edited_entry(city, db):
    runner, env = city
    for name in ("u1", "u2", "u3"):
        added = runner.invoke(main, ["users", "add", name, "--role", "agent"], env=env)
        assert added.exit_code == 0
    ok = runner.invoke(main, ["audit", "verify"], env=env)
    assert ok.exit_code == 0 and "intact: 4 entries" in ok.output
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone-else' WHERE seq = 3"))
    bad = runner.invoke(main, ["audit", "verify"], env=env)
    assert bad.exit_code == 1
    assert "entry 3" in bad.output and "altered" in bad.output


def test_audit_verify_names_a_deleted_entry(city, db):
    runner, env = city
    for name in ("u1", "u2", "u3"):
        runner.invoke(main, ["users", "add", name, "--role", "agent"], env=env)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    bad = runner.invoke(main, ["audit", "verify"], env=env)
    assert bad.exit_code == 1 and "entry 2" in bad.output and "missing" in bad.output


def test_audit_verify_notices_the_last_entry_deleted(city, db):
    runner, env = city
    runner.invoke(main, ["users", "add", "u1", "--role", "agent"], env=env)
    with db.engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_log WHERE seq = 2"))
    bad = runner.invoke(main, ["audit", "verify"], env=env)
    assert bad.exit_code == 1 and "entry 2" in bad.output


def test_audit_verify_notices_a_recomputed_forgery(city, db):
    """Rewriting an entry and its own hash still breaks the link to the next entry."""
    from cardservice.services.audit import entry_hash

    runner, env = city
    for name in ("u1", "u2"):
        runner.invoke(main, ["users", "add", name, "--role", "agent"], env=env)
    with db.engine.begin() as conn:
        row = conn.execute(text("SELECT * FROM audit_log WHERE seq = 2")).mappings().one()
        from sqlalchemy.orm import Session

        from cardservice.models import AuditEntry

        with Session(bind=conn) as s:
            e = s.get(AuditEntry, 2)
            forged = entry_hash(prev_hash=e.prev_hash, seq=2, at=e.at, actor="mallory",
                                action=e.action, target_type=e.target_type,
                                target_id=e.target_id, details=e.details)
        conn.execute(text("UPDATE audit_log SET actor='mallory', hash=:h WHERE seq=2"),
                     {"h": forged})
        assert row["actor"] != "mallory"
    bad = runner.invoke(main, ["audit", "verify"], env=env)
    assert bad.exit_code == 1 and "entry 3" in bad.output


# ---- configuration errors: one line naming the key, no traceback (real subprocess) ----------

def run_cli(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSERVICE_")}
    full_env.update(env)
    return subprocess.run([str(EXE), *args], env=full_env, capture_output=True, text=True,
                          timeout=60, check=False)


@pytest.mark.parametrize("case, edit, expected", [
    ("no config variable", None, "CARDSERVICE_CONFIG is not set"),
    ("missing file", "MISSING", "does not exist"),
    ("not TOML", "[city\nid=", "is not valid TOML"),
    ("missing city.id", 'id = "PTLIS"\n', "city.id is missing"),
    ("bad city.id", ('id = "PTLIS"', 'id = "Lisbon"'), "city.id"),
    ("missing database.url", ("[database]\nurl", "[database]\n# url"),
     "database.url is missing"),
    ("missing keys.dir", ("[keys]\ndir", "[keys]\n# dir"), "keys.dir is missing"),
    ("misspelt key", ("[keys]\ndir", "[keys]\nkeys_dir"),
     "keys.keys_dir: unknown key (did you mean keys.dir?)"),
    ("wrong type", ("secure_cookies = false", "secure_cookies = 'no'"), "server.secure_cookies"),
])
def test_bad_config_gives_one_line_naming_the_key(tmp_path, case, edit, expected):
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    (tmp_path / "keys").mkdir(mode=0o700)
    env = env_for(cfg)
    if edit is None:
        env.pop("CARDSERVICE_CONFIG")
    elif edit == "MISSING":
        env["CARDSERVICE_CONFIG"] = str(tmp_path / "nope.toml")
    elif isinstance(edit, str) and edit.startswith("[city\n"):
        cfg.write_text(edit, encoding="utf-8")
    elif isinstance(edit, str):
        cfg.write_text(cfg.read_text(encoding="utf-8").replace(edit, ""), encoding="utf-8")
    else:
        cfg.write_text(cfg.read_text(encoding="utf-8").replace(*edit), encoding="utf-8")
    result = run_cli(["users", "list"], env)
    assert result.returncode == 2, case
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert expected in lines[0]
    assert "Traceback" not in result.stderr


def test_missing_secret_key_refuses_to_start(tmp_path):
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    (tmp_path / "keys").mkdir(mode=0o700)
    env = env_for(cfg)
    env.pop("CARDSERVICE_SECRET_KEY")
    result = run_cli(["serve"], env)
    assert result.returncode == 2
    assert "secret key is missing" in result.stderr and "Traceback" not in result.stderr


def test_unusable_keys_dir_refuses_to_start(tmp_path):
    cfg = write_config(tmp_path, f"sqlite:///{tmp_path / 'x.db'}")
    (tmp_path / "keys").mkdir(mode=0o755)
    result = run_cli(["users", "list"], env_for(cfg))
    assert result.returncode == 2
    assert "keys.dir" in result.stderr and "chmod 700" in result.stderr


def test_keys_status_rotate_and_rotate_root(city):
    runner, env = city
    status = runner.invoke(main, ["keys", "status"], env=env)
    assert status.exit_code == 0 and "fingerprint" in status.output
    assert status.output.count("active") == 1
    fp_before = runner.invoke(main, ["trust", "fingerprint"], env=env).output.strip()
    rotated = runner.invoke(main, ["keys", "rotate"], env=env)
    assert rotated.exit_code == 0, rotated.output
    status = runner.invoke(main, ["keys", "status"], env=env).output
    assert "verify-only" in status and status.count(" active ") == 1
    rr = runner.invoke(main, ["keys", "rotate-root", "--yes"], env=env)
    assert rr.exit_code == 0, rr.output
    assert "signed by the old and the new root" in rr.output
    fp_after = runner.invoke(main, ["trust", "fingerprint"], env=env).output.strip()
    assert fp_after != fp_before and len(fp_after.split()) == 16
    audit_ok = runner.invoke(main, ["audit", "verify"], env=env)
    assert audit_ok.exit_code == 0


def test_offline_verify_command(city, tmp_path):
    runner, env = city
    bad = runner.invoke(main, ["verify", "LC1:NOTACARD"], env=env)
    assert bad.exit_code == 1 and "malformed" in bad.output
    missing = runner.invoke(main, ["verify", str(tmp_path / "nothing.png")], env=env)
    assert missing.exit_code == 1 and "malformed" in missing.output


def test_offline_verify_refuses_a_hostile_file_in_the_sandbox(city, tmp_path):
    from tests.hostile import white_png

    runner, env = city
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(white_png())
    refused = runner.invoke(main, ["verify", str(bomb)], env=env)
    assert refused.exit_code == 2
    assert "too large or too complex" in refused.output and "Traceback" not in refused.output


def test_offline_verify_of_a_front_says_the_code_is_on_the_back(city, tmp_path):
    from tests.unit import cardbacks

    runner, env = city
    front = tmp_path / "front.png"
    cardbacks.render_pdfium(cardbacks.card(0)[1], 0, 150).save(front)
    out = runner.invoke(main, ["verify", str(front)], env=env)
    assert out.exit_code == 2 and "the code is on the back" in out.output


def test_offline_verify_reads_a_card_pdf(city, tmp_path):
    from cardservice import create_app
    from cardservice.config import load_settings
    from tests.web.test_api_residents import ANA

    runner, env = city
    runner.invoke(main, ["users", "add", "ana", "--role", "clerk"], env=env)
    token = runner.invoke(main, ["users", "token", "ana"], env=env).stdout.strip().splitlines()[-1]
    app = create_app(load_settings(env["CARDSERVICE_CONFIG"], environ=env))
    client = app.test_client()
    h = {"Authorization": f"Bearer {token}"}
    rid = client.post("/api/v1/residents", json=ANA, headers=h).get_json()["id"]
    card = client.post(f"/api/v1/residents/{rid}/cards", headers=h).get_json()
    pdf = tmp_path / "card.pdf"
    pdf.write_bytes(client.get(f"/api/v1/cards/{card['serial']}/pdf", headers=h).data)
    app.extensions["cardservice"].db.dispose()
    ok = runner.invoke(main, ["verify", str(pdf)], env=env)
    assert ok.exit_code == 0, ok.output
    assert "VALID: valid" in ok.output and "Ana Maria" in ok.output
    as_json = runner.invoke(main, ["verify", "--json", card["qr"]], env=env)
    assert '"status": "valid"' in as_json.output


def test_cards_sheet(city, tmp_path):
    from datetime import UTC, datetime

    from cardservice import create_app
    from cardservice.config import load_settings
    from tests.web.test_api_residents import ANA

    runner, env = city
    runner.invoke(main, ["users", "add", "ana", "--role", "clerk"], env=env)
    token = runner.invoke(main, ["users", "token", "ana"], env=env).stdout.strip().splitlines()[-1]
    app = create_app(load_settings(env["CARDSERVICE_CONFIG"], environ=env))
    client = app.test_client()
    h = {"Authorization": f"Bearer {token}"}
    for i in range(3):
        rid = client.post("/api/v1/residents", json={**ANA, "given_names": f"Ana {i}"},
                          headers=h).get_json()["id"]
        client.post(f"/api/v1/residents/{rid}/cards", headers=h)
    app.extensions["cardservice"].db.dispose()
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    out = tmp_path / "sheet.pdf"
    old_umask = os.umask(0o022)  # an ordinary umask: files are 0644 unless made private
    try:
        done = runner.invoke(main, ["cards", "sheet", "--from", today, "-o", str(out)],
                             env=env)
    finally:
        os.umask(old_umask)
    assert done.exit_code == 0, done.output
    assert "wrote 3 cards" in done.output and out.read_bytes().startswith(b"%PDF")
    # Issue 11, finding 13: names, birth dates and renewal codes, once world-readable.
    assert stat.S_IMODE(out.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".sheet")] == []
    again = runner.invoke(main, ["cards", "sheet", "--from", today, "--unprinted", "-o",
                                 str(out)], env=env)
    assert again.exit_code == 2 and "no card" in again.output


@pytest.mark.parametrize("existing", [False, True], ids=["new file", "existing 0644 file"])
def test_sqlite_files_are_private(tmp_path, existing):
    # Issue 11, finding 13: the database and its -wal/-shm files were 0644.
    path = tmp_path / "city.db"
    env = env_for(write_config(tmp_path, f"sqlite:///{path}"))
    old_umask = os.umask(0o022)
    try:
        if existing:
            path.touch(mode=0o644)
        result = CliRunner().invoke(main, ["init", "--admin", "boss"], env=env)
        assert result.exit_code == 0, result.output
        from cardservice.db import Database
        db = Database(f"sqlite:///{path}")  # a second process's engine, with WAL files open
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM users")).scalar() == 1
            files = {p.name: stat.S_IMODE(p.stat().st_mode) for p in tmp_path.iterdir()
                     if p.name.startswith("city.db")}
        db.dispose()
    finally:
        os.umask(old_umask)
    assert {"city.db", "city.db-wal", "city.db-shm"} <= set(files)
    assert files == dict.fromkeys(files, 0o600)


def test_partners_import_with_a_wrong_fingerprint_does_not_print_the_right_one(city, tmp_path):
    from tests.web.test_partners import fingerprint_spellings, other_city_bundle

    runner, env = city
    data, fingerprint = other_city_bundle("BRREC", "Recife")
    bundle = tmp_path / "recife.cose"
    bundle.write_bytes(data)
    refused = runner.invoke(main, ["partners", "import", str(bundle),
                                   "--fingerprint", "AB" * 32], env=env)
    assert refused.exit_code != 0 and "does not match" in refused.output
    for spelling in fingerprint_spellings(fingerprint):
        assert spelling not in refused.output
    assert "no partner city" in runner.invoke(main, ["partners", "list"], env=env).output


def test_residents_reindex_fills_missing_indexes(city, db):
    from datetime import date

    from cardservice.application import Application, FamilyQuery, NameQuery
    from cardservice.config import load_settings

    runner, env = city
    application = Application(load_settings(env["CARDSERVICE_CONFIG"], environ=env))
    try:
        fields = {"family_names": "Silva", "date_of_birth": "1990-04-12",
                  "address": {"line1": "Rua 1"}, "documents": ["passport", "utility_bill"]}
        ids = [application.residents.register({**fields, "given_names": f"Ana {c}"},
                                              photo=None, confirm_new=True, actor="t")
               for c in "ABC"]
        # Rows registered before migration 0008 have no family+year index.
        with db.engine.begin() as conn:
            conn.execute(text("UPDATE residents SET family_year_index = NULL"))

        done = runner.invoke(main, ["residents", "reindex"], env=env)
        assert done.exit_code == 0, done.output
        assert "indexed 3 resident(s)" in done.stdout
        assert "Ana" not in done.output and "Silva" not in done.output  # counts, never names
        found = application.residents.find(FamilyQuery("silva", 1990), actor="t")
        assert sorted(m.id for m in found.matches) == sorted(ids)
        assert application.residents.find(NameQuery("ana b", "silva", date(1990, 4, 12)),
                                          actor="t").total == 1

        again = runner.invoke(main, ["residents", "reindex"], env=env)
        assert again.exit_code == 0 and "nothing to do" in again.stdout
        everything = runner.invoke(main, ["residents", "reindex", "--all"], env=env)
        assert everything.exit_code == 0 and "indexed 3 resident(s)" in everything.stdout
    finally:
        application.close()
def test_cards_new_slip(city):
    from cardservice import create_app
    from cardservice.config import load_settings
    from tests.web.test_api_residents import ANA

    runner, env = city
    runner.invoke(main, ["users", "add", "ana", "--role", "clerk"], env=env)
    token = runner.invoke(main, ["users", "token", "ana"], env=env).stdout.strip().splitlines()[-1]
    app = create_app(load_settings(env["CARDSERVICE_CONFIG"], environ=env))
    client = app.test_client()
    h = {"Authorization": f"Bearer {token}"}
    rid = client.post("/api/v1/residents", json=ANA, headers=h).get_json()["id"]
    card = client.post(f"/api/v1/residents/{rid}/cards", headers=h).get_json()
    refused = runner.invoke(main, ["cards", "new-slip", card["serial"]], env=env, input="n\n")
    assert refused.exit_code != 0 and "nothing changed" in refused.output
    done = runner.invoke(main, ["cards", "new-slip", card["serial"], "--yes"], env=env)
    assert done.exit_code == 0, done.output
    code = done.stdout.strip().splitlines()[-1]
    assert len(code) == 9 and code[4] == "-" and code.replace("-", "") != card["renewal_code"]

    def ask(renewal_code):
        return client.post("/api/v1/renewals", json={
            "serial": card["serial"], "date_of_birth": ANA["date_of_birth"],
            "renewal_code": renewal_code, "kind": "damaged"}).status_code

    assert ask(card["renewal_code"]) == 403
    assert ask(code) == 202
    unknown = runner.invoke(main, ["cards", "new-slip", "0000000000X", "--yes"], env=env)
    assert unknown.exit_code != 0
    app.extensions["cardservice"].db.dispose()


@pytest.mark.parametrize(("locale", "direction"), [("ar", "rtl"), ("pt", "ltr")])
def test_trust_kit_in_any_of_the_five_languages(city, tmp_path, locale, direction):
    runner, env = city
    out = tmp_path / f"kit-{locale}.html"
    result = runner.invoke(main, ["trust", "kit", str(out), "--locale", locale, "--no-decoder"],
                           env=env)
    assert result.exit_code == 0, result.output
    assert f'<html lang="{locale}" dir="{direction}">' in out.read_text(encoding="utf-8")


def test_trust_kit_refuses_a_language_without_a_catalog(city, tmp_path):
    runner, env = city
    result = runner.invoke(main, ["trust", "kit", str(tmp_path / "kit.html"), "--locale", "de"],
                           env=env)
    assert result.exit_code == 2 and "'de' is not one of 'en', 'fr', 'pt', 'es', 'ar'" in (
        result.output)
