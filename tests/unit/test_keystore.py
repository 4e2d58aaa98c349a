"""Tests for cardservice.keystore: private-key and certificate files, the KeyStore."""

from __future__ import annotations

import datetime as dt
import json
import os
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from cardservice import keystore, pki

from .conftest import CITY_EPOCH

DAY = dt.timedelta(days=1)



# --------------------------------------------------------------------------- key files


def test_private_key_file_is_encrypted_pkcs8_with_mode_0600(tmp_path, passphrase):
    path = tmp_path / "k.pem"
    key = Ed25519PrivateKey.generate()
    keystore.save_private_key(path, key, passphrase=passphrase)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    text = path.read_text()
    assert text.startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert "BEGIN PRIVATE KEY" not in text
    loaded = keystore.load_private_key(path, passphrase=passphrase)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    assert loaded.public_key().public_bytes(*raw) == key.public_key().public_bytes(*raw)
    assert [p.name for p in tmp_path.iterdir()] == ["k.pem"]  # no temp file left


def test_key_file_mode_ignores_a_permissive_umask(tmp_path, passphrase):
    old = os.umask(0)
    try:
        key = Ed25519PrivateKey.generate()
        keystore.save_private_key(tmp_path / "k.pem", key, passphrase=passphrase)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "k.pem").stat().st_mode) == 0o600


def test_saving_refuses_to_overwrite_a_key(tmp_path, passphrase):
    path = tmp_path / "k.pem"
    keystore.save_private_key(path, Ed25519PrivateKey.generate(), passphrase=passphrase)
    before = path.read_bytes()
    with pytest.raises(keystore.KeyFileError):
        keystore.save_private_key(path, Ed25519PrivateKey.generate(), passphrase=passphrase)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["k.pem"]


def test_wrong_passphrase_is_a_passphrase_error(tmp_path, passphrase):
    path = tmp_path / "k.pem"
    keystore.save_private_key(path, Ed25519PrivateKey.generate(), passphrase=passphrase)
    with pytest.raises(keystore.KeyPassphraseError):
        keystore.load_private_key(path, passphrase=b"wrong")


@pytest.mark.parametrize("bad", [b"", None])
def test_empty_or_missing_passphrase_is_refused(tmp_path, bad):
    with pytest.raises(keystore.KeyPassphraseError):
        keystore.save_private_key(tmp_path / "k.pem", Ed25519PrivateKey.generate(), passphrase=bad)
    assert not (tmp_path / "k.pem").exists()


def test_missing_key_file_is_a_key_file_error(tmp_path, passphrase):
    with pytest.raises(keystore.KeyFileError):
        keystore.load_private_key(tmp_path / "absent.pem", passphrase=passphrase)


def test_corrupt_key_file_is_a_key_file_error(tmp_path, passphrase):
    path = tmp_path / "k.pem"
    keystore.save_private_key(path, Ed25519PrivateKey.generate(), passphrase=passphrase)
    lines = path.read_text().splitlines()
    lines[1] = "A" * len(lines[1])
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    with pytest.raises((keystore.KeyFileError, keystore.KeyPassphraseError)):
        keystore.load_private_key(path, passphrase=passphrase)
    path.write_text("not a key at all\n")
    with pytest.raises(keystore.KeyFileError):
        keystore.load_private_key(path, passphrase=passphrase)


def test_unencrypted_key_file_is_refused(tmp_path, passphrase):
    path = tmp_path / "k.pem"
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.write_bytes(pem)
    os.chmod(path, 0o600)
    with pytest.raises(keystore.KeyFileError, match="unencrypted"):
        keystore.load_private_key(path, passphrase=passphrase)


def test_key_file_readable_by_others_is_refused(tmp_path, passphrase):
    path = tmp_path / "k.pem"
    keystore.save_private_key(path, Ed25519PrivateKey.generate(), passphrase=passphrase)
    os.chmod(path, 0o644)
    with pytest.raises(keystore.KeyFileError, match="chmod 600"):
        keystore.load_private_key(path, passphrase=passphrase)


def test_certificate_files_round_trip(tmp_path, lisboa):
    path = tmp_path / "c.pem"
    keystore.save_certificate(path, lisboa.root)
    assert keystore.load_certificate(path) == lisboa.root
    with pytest.raises(keystore.KeyFileError):
        keystore.load_certificate(tmp_path / "absent.pem")
    (tmp_path / "bad.pem").write_text("garbage")
    with pytest.raises(keystore.KeyFileError):
        keystore.load_certificate(tmp_path / "bad.pem")


# --------------------------------------------------------------------------- key store


@pytest.fixture
def store(tmp_path, passphrase):
    return keystore.KeyStore(tmp_path / "keys", passphrase=passphrase)


def _init(store, now=CITY_EPOCH):
    return store.init(city_id="PTLIS", city_name="Lisboa", now=now)


def test_keystore_init_creates_root_signing_key_and_metadata(store):
    assert not store.is_initialised()
    assert _init(store) is True
    d = store.directory
    assert stat.S_IMODE(d.stat().st_mode) == 0o700
    assert stat.S_IMODE((d / "root.key.pem").stat().st_mode) == 0o600
    assert (d / "root.crt.pem").exists()
    [cert] = store.signing_certificates()
    kid = pki.key_id(cert).hex()
    assert stat.S_IMODE((d / "signing" / f"{kid}.key.pem").stat().st_mode) == 0o600
    meta = json.loads((d / "keys.json").read_text())
    assert meta["city_id"] == "PTLIS" and meta["signing"][0]["kid"] == kid
    pki.check_chain(cert=cert, root=store.root_certificate())


def test_keystore_init_is_idempotent(store):
    assert _init(store) is True
    files = {p: p.read_bytes() for p in store.directory.rglob("*") if p.is_file()}
    assert _init(store, now=CITY_EPOCH + 30 * DAY) is False
    after = {p: p.read_bytes() for p in store.directory.rglob("*") if p.is_file()}
    assert after == files


def test_keystore_refuses_another_citys_directory(store):
    _init(store)
    with pytest.raises(keystore.KeyStoreError):
        store.init(city_id="FRLYS", city_name="Lyon", now=CITY_EPOCH)


def test_keystore_status_before_init_says_so(store):
    with pytest.raises(keystore.KeyStoreNotInitialisedError):
        store.status(now=CITY_EPOCH)


def test_signing_certificate_outlives_every_card_it_signs(store):
    _init(store)
    [row] = store.status(now=CITY_EPOCH).signing
    assert row.signs_from == CITY_EPOCH
    assert row.signs_until == CITY_EPOCH + 365 * DAY
    assert row.not_after == row.signs_until + (5 * 366 + 1) * DAY
    assert row.state == "active" and row.active


def test_keystore_status(store):
    _init(store)
    status = store.status(now=CITY_EPOCH + DAY)
    assert status.city_id == "PTLIS" and status.city_name == "Lisboa"
    assert status.root_fingerprint == pki.fingerprint(store.root_certificate())
    assert status.root_not_before == CITY_EPOCH
    assert status.active is not None and status.active.kid == status.signing[0].kid


def test_rotate_makes_the_new_certificate_active_and_keeps_the_old_for_verification(store):
    _init(store)
    old = store.active_signer(now=CITY_EPOCH + DAY)
    rotated_at = CITY_EPOCH + 100 * DAY
    new_row = store.rotate(now=rotated_at)
    assert new_row.active and new_row.kid != old.kid.hex()

    new = store.active_signer(now=rotated_at)
    assert new.kid.hex() == new_row.kid
    assert store.active_signer(now=rotated_at + DAY).kid == new.kid

    certs = store.signing_certificates()
    assert [pki.key_id(c) for c in certs] == [old.kid, new.kid]
    rows = {r.kid: r for r in store.status(now=rotated_at + DAY).signing}
    assert rows[old.kid.hex()].state == "verify-only"
    assert rows[old.kid.hex()].signs_until == rotated_at
    assert rows[new.kid.hex()].state == "active"
    # Before the rotation instant the old key was the signer.
    assert store.active_signer(now=rotated_at - dt.timedelta(seconds=1)).kid == old.kid
    # Once past its not_after, the old certificate shows as expired.
    later = rows[old.kid.hex()].not_after
    assert {r.kid: r.state for r in store.status(now=later).signing}[old.kid.hex()] == "expired"


def test_no_active_signer_after_the_signing_period(store):
    _init(store)
    with pytest.raises(keystore.NoActiveSigningKeyError):
        store.active_signer(now=CITY_EPOCH + 366 * DAY)
    with pytest.raises(keystore.NoActiveSigningKeyError):
        store.active_signer(now=CITY_EPOCH - DAY)


def test_active_signer_key_matches_its_certificate(store):
    _init(store)
    signer = store.active_signer(now=CITY_EPOCH)
    raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
    cert_key = signer.certificate.public_key().public_bytes(*raw)
    assert signer.key.public_key().public_bytes(*raw) == cert_key
    assert "PRIVATE" not in repr(signer) and signer.kid.hex() in repr(signer)


def test_a_second_process_sees_the_rotation(store, passphrase):
    _init(store)
    server = keystore.KeyStore(store.directory, passphrase=passphrase)
    before = server.active_signer(now=CITY_EPOCH + DAY)
    store.rotate(now=CITY_EPOCH + 2 * DAY)
    after = server.active_signer(now=CITY_EPOCH + 2 * DAY)
    assert after.kid != before.kid


def test_read_only_keystore_needs_no_passphrase(store):
    _init(store)
    reader = keystore.KeyStore(store.directory, passphrase=None)
    assert reader.status(now=CITY_EPOCH).city_id == "PTLIS"
    assert len(reader.signing_certificates()) == 1
    with pytest.raises(keystore.KeyPassphraseError):
        reader.active_signer(now=CITY_EPOCH)
    with pytest.raises(keystore.KeyPassphraseError):
        reader.rotate(now=CITY_EPOCH)


def test_keystore_with_the_wrong_passphrase_cannot_sign(store):
    _init(store)
    wrong = keystore.KeyStore(store.directory, passphrase=b"not it")
    with pytest.raises(keystore.KeyPassphraseError):
        wrong.active_signer(now=CITY_EPOCH)


def test_keystore_refuses_an_empty_passphrase(tmp_path):
    with pytest.raises(keystore.KeyPassphraseError):
        keystore.KeyStore(tmp_path, passphrase=b"")


def test_no_plaintext_private_key_is_ever_written(store):
    _init(store)
    store.rotate(now=CITY_EPOCH + DAY)
    store.rotate(now=CITY_EPOCH + 2 * DAY)
    key_files = list(store.directory.rglob("*.key.pem"))
    assert len(key_files) == 4  # root + three signing keys
    for path in store.directory.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert b"BEGIN PRIVATE KEY" not in data, path
            assert b"BEGIN OPENSSH PRIVATE KEY" not in data, path
    for path in key_files:
        assert path.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert stat.S_IMODE(path.stat().st_mode) == 0o600


# ---- root rotation (issue 7) ---------------------------------------------------------------

def test_rotate_root_keeps_previous_root_and_old_signing_certs(tmp_path):
    now = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    store = keystore.KeyStore(tmp_path / "keys", passphrase=b"rotate me please")
    store.init(city_id="PTLIS", city_name="Lisboa", now=now)
    old_root = store.root_certificate()
    old_signer = store.active_signer(now=now)
    assert store.previous_root() is None
    later = now + dt.timedelta(days=30)
    new_fp = store.rotate_root(now=later)
    new_root = store.root_certificate()
    assert new_fp == pki.fingerprint(new_root) != pki.fingerprint(old_root)
    assert store.previous_root() == old_root
    assert pki.fingerprint(store.previous_root_key().public_key() and old_root) == \
        pki.fingerprint(old_root)
    assert store.roots() == [new_root, old_root]
    signer = store.active_signer(now=later)
    pki.check_chain(cert=signer.certificate, root=new_root)
    pki.check_chain(cert=old_signer.certificate, root=old_root)
    assert old_signer.certificate in store.signing_certificates()
    states = {s.kid: s.state for s in store.status(now=later).signing}
    assert states[old_signer.kid.hex()] == "verify-only"
    assert states[signer.kid.hex()] == "active"
    # files: old root kept encrypted, mode 0600
    old_files = sorted((tmp_path / "keys" / "roots").iterdir())
    assert len(old_files) == 2
    for f in old_files:
        assert f.stat().st_mode & 0o077 == 0 or f.suffix == ".pem" and "crt" in f.name


def test_root_file_not_matching_metadata_is_refused(tmp_path):
    now = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    store = keystore.KeyStore(tmp_path / "keys", passphrase=b"rotate me please")
    store.init(city_id="PTLIS", city_name="Lisboa", now=now)
    _key, stray = pki.generate_root(city_id="PTLIS", city_name="Lisboa", now=now)
    keystore.save_certificate(tmp_path / "keys" / "root.crt.pem", stray, overwrite=True)
    with pytest.raises(keystore.KeyStoreError, match="interrupted root rotation"):
        store.root_certificate()
