"""``POST /api/v1/verify``: every status of SPEC §6, and what verification never records."""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta

import pytest

from cardservice import credential, pki
from cardservice.services.citykeys import CityKeys
from tests.web.test_api_residents import ANA, register


@pytest.fixture
def clerk(staff):
    return {"Authorization": f"Bearer {staff['clerk'].token}"}


@pytest.fixture
def issued(client, clerk):
    rid = register(client, clerk).get_json()["id"]
    return client.post(f"/api/v1/residents/{rid}/cards", headers=clerk).get_json()


def verify(client, qr):
    resp = client.post("/api/v1/verify", json={"qr": qr})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    return resp.get_json()


def signer_of(settings):
    return CityKeys(settings).signer(now=datetime.now(UTC))


def make_card(*, key, cert, issuer="PTLIS", iat=None, exp=None, serial="TE5TSER1A1N"):
    iat = iat or datetime.now(UTC).replace(microsecond=0)
    exp = exp or iat + timedelta(days=365)
    claims = credential.CardClaims(
        issuer=issuer, serial=serial, issued_at=iat, expires_at=exp,
        holder=credential.Holder(name="Test Person", date_of_birth=date(1980, 1, 1)))
    return credential.unsafe_encode_card(claims, signer_key=key, kid=pki.key_id(cert))


def test_valid(client, issued):
    body = verify(client, issued["qr"])
    assert body["valid"] is True and body["status"] == "valid"
    assert body["issuer"] == {"id": "PTLIS", "name": "Lisboa", "own": True}
    assert body["card"]["serial"] == issued["serial"]
    assert body["holder"] == {"name": "Ana Maria Conceição da Silva",
                              "date_of_birth": ANA["date_of_birth"], "gender": "F"}
    assert body["trust_data_age_seconds"] == 0


def test_revoked(client, clerk, issued):
    client.post(f"/api/v1/cards/{issued['serial']}/revoke", json={"reason": "lost"},
                headers=clerk)
    body = verify(client, issued["qr"])
    assert body["status"] == "revoked" and body["valid"] is False
    assert body["holder"]["name"]  # the signature was good: the agent may compare


def test_superseded_card_reads_revoked(client, clerk, issued):
    rid = client.get(f"/api/v1/cards/{issued['serial']}", headers=clerk).get_json()["resident_id"]
    new = client.post(f"/api/v1/residents/{rid}/cards", headers=clerk).get_json()
    assert verify(client, issued["qr"])["status"] == "revoked"
    assert verify(client, new["qr"])["status"] == "valid"


def test_expired(client, settings):
    s = signer_of(settings)
    start = s.certificate.not_valid_before_utc
    qr = make_card(key=s.key, cert=s.certificate, iat=start, exp=start + timedelta(seconds=1))
    body = verify(client, qr)
    assert body["status"] == "expired" and "holder" in body


def test_not_yet_valid(client, settings):
    s = signer_of(settings)
    iat = datetime.now(UTC).replace(microsecond=0) + timedelta(days=2)
    body = verify(client, make_card(key=s.key, cert=s.certificate, iat=iat))
    assert body["status"] == "not_yet_valid"


def test_bad_signature_has_no_holder(client, settings):
    s = signer_of(settings)
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    qr = make_card(key=Ed25519PrivateKey.generate(), cert=s.certificate)
    body = verify(client, qr)
    assert body["status"] == "bad_signature" and "holder" not in body and body["valid"] is False


def test_unknown_key(client):
    now = datetime.now(UTC)
    other_root_key, other_root = pki.generate_root(city_id="PTLIS", city_name="Fake", now=now)
    key, cert = pki.issue_signing_certificate(root_key=other_root_key, root_cert=other_root,
                                              now=now, not_after=now + timedelta(days=3000))
    body = verify(client, make_card(key=key, cert=cert))
    assert body["status"] == "unknown_key" and "holder" not in body


def test_unknown_issuer(client):
    now = datetime.now(UTC)
    root_key, root = pki.generate_root(city_id="FRLYS", city_name="Lyon", now=now)
    key, cert = pki.issue_signing_certificate(root_key=root_key, root_cert=root, now=now,
                                              not_after=now + timedelta(days=3000))
    body = verify(client, make_card(key=key, cert=cert, issuer="FRLYS"))
    assert body["status"] == "unknown_issuer" and "holder" not in body


@pytest.mark.parametrize("qr", ["", "hello", "LC1:", "LC1:%%%%", "LC2:ABC", "LC1:" + "A" * 4000])
def test_malformed(client, qr):
    body = verify(client, qr)
    assert body == {"valid": False, "status": "malformed", "trust_data_age_seconds": None}


@pytest.mark.parametrize("data, kwargs", [
    ("not json", {"content_type": "application/json"}),
    ("qr=LC1:abc", {"content_type": "application/x-www-form-urlencoded"}),
    ('{"text": "LC1:"}', {"content_type": "application/json"}),
    ('["LC1:"]', {"content_type": "application/json"}),
    ('{"qr": 5}', {"content_type": "application/json"}),
])
def test_not_json_or_no_qr_is_400(client, data, kwargs):
    resp = client.post("/api/v1/verify", data=data, **kwargs)
    assert resp.status_code == 400
    assert resp.get_json()["error"] == "invalid"


def test_logs_hold_no_serial_or_name(client, clerk, issued, caplog):
    caplog.set_level(logging.DEBUG)
    for _ in range(30):
        verify(client, issued["qr"])
        verify(client, issued["qr"][:-3])
    client.post(f"/api/v1/cards/{issued['serial']}/revoke", json={"reason": "lost"},
                headers=clerk)
    verify(client, issued["qr"])
    text = caplog.text
    for secret in (issued["serial"], "Conceição", "Ana Maria", issued["qr"][4:40]):
        assert secret not in text


def test_counts_by_status_only(app, client, issued, db):
    from sqlalchemy import text

    for _ in range(3):
        verify(client, issued["qr"])
    verify(client, "garbage")
    app.extensions["cardservice"].verifier.flush_counts()
    with db.engine.connect() as conn:
        rows = dict(conn.execute(text("SELECT status, count FROM verification_counts")).all())
        columns = conn.execute(text("SELECT * FROM verification_counts")).keys()
    assert rows == {"valid": 3, "malformed": 1}
    assert set(columns) == {"day", "status", "count"}


def test_require_login(tmp_path, db, keys_template, staff):
    from cardservice import create_app
    from tests.conftest import copy_keys, make_settings

    copy_keys(keys_template, tmp_path / "keys")
    app = create_app(make_settings(tmp_path, database_url=db.url,
                                   verify={"require_login": True}),
                     overrides={"RATELIMIT_ENABLED": False})
    client = app.test_client()
    assert client.post("/api/v1/verify", json={"qr": "x"}).status_code == 401
    assert client.get("/verify").status_code == 302
    ok = client.post("/api/v1/verify", json={"qr": "x"},
                     headers={"Authorization": f"Bearer {staff['agent'].token}"})
    assert ok.status_code == 200
    app.extensions["cardservice"].db.dispose()


def test_trust_data_for_offline_use(client, issued, clerk):
    client.post(f"/api/v1/cards/{issued['serial']}/revoke", json={"reason": "stolen"},
                headers=clerk)
    data = client.get("/verify/trust-data.json").get_json()
    own = data["issuers"][0]
    assert own["id"] == "PTLIS" and own["own"] is True and len(own["keys"]) == 1
    assert own["revoked"] == [issued["serial"]]
    assert len(own["fingerprint"].split()) == 16


def test_verify_page_without_script(client, issued):
    page = client.get("/verify")
    assert page.status_code == 200 and b'id="verify-form"' in page.data
    resp = client.post("/verify", data={"qr": issued["qr"]})
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert 'data-status="valid"' in html and "Valid card" in html
    assert "Ana Maria Conceição da Silva" in html


def test_concurrent_count_flushes_lose_nothing_and_never_fail(db):
    import threading
    from datetime import UTC, datetime

    from cardservice.application import UnitOfWork
    from cardservice.services.verification import VerificationCounter, add_counts

    counter = VerificationCounter(flush_every=1)
    uow = UnitOfWork(db)

    def flush():
        with counter.take() as pending, uow() as s:
            add_counts(s, pending)
    now = datetime.now(UTC)
    barrier = threading.Barrier(4)
    failures = []

    def work():
        barrier.wait()
        for _ in range(25):
            counter.add("valid", now=now)
            try:
                flush()
            except Exception as exc:  # noqa: BLE001 - the test reports any failure
                failures.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    flush()
    from sqlalchemy import text

    with db.engine.connect() as conn:
        total = conn.execute(text("SELECT count FROM verification_counts")).scalar()
    assert failures == [] and total == 100


# --- uploads on the page without script: decoded in the sandbox -------------------------------

def _upload(client, data: bytes, name: str = "card.png"):
    import io

    return client.post("/verify", data={"image": (io.BytesIO(data), name)},
                       content_type="multipart/form-data")


def test_uploaded_card_picture_is_read_and_verified(client, issued):
    import io

    from cardservice import qr

    buf = io.BytesIO()
    qr.encode_qr(issued["qr"]).to_image(scale=4).save(buf, format="PNG")
    resp = _upload(client, buf.getvalue())
    assert resp.status_code == 200
    assert 'data-status="valid"' in resp.get_data(as_text=True)


@pytest.mark.parametrize("make, status, message", [
    ("white_png", 413, "too large or too complex"),
    ("huge_page_pdf", 413, "too large or too complex"),
    ("not_a_picture", 400, "not a picture or a PDF we can read"),
    ("blank_png", 400, "No card code was found"),
])
def test_refused_uploads_say_why_with_a_4xx(client, make, status, message):
    import io

    from PIL import Image

    from tests import hostile

    def blank_png() -> bytes:
        buf = io.BytesIO()
        Image.new("L", (200, 200), 255).save(buf, format="PNG")
        return buf.getvalue()

    makers = {"white_png": hostile.white_png, "huge_page_pdf": hostile.huge_page_pdf,
              "not_a_picture": lambda: b"GIF89a\0\0", "blank_png": blank_png}
    resp = _upload(client, makers[make]())
    assert resp.status_code == status
    assert message in resp.get_data(as_text=True)


def test_upload_when_every_decoding_slot_is_taken_is_503_with_retry_after(tmp_path, db,
                                                                            keys_template):
    from cardservice import create_app
    from tests.conftest import copy_keys, make_settings

    copy_keys(keys_template, tmp_path / "keys")
    app = create_app(make_settings(tmp_path, database_url=db.url,
                                   uploads={"concurrent_decodes": 1, "waiting_decodes": 0}),
                     overrides={"RATELIMIT_ENABLED": False})
    client = app.test_client()
    # A decode in progress holds the only slot (taken here directly: no timing involved).
    with app.extensions["cardservice"].uploads.sandbox._gate.slot():
        resp = _upload(client, b"GIF89a\0\0")
    assert resp.status_code == 503
    assert resp.headers["Retry-After"] == "5"
    assert "busy" in resp.get_data(as_text=True)
    assert _upload(client, b"GIF89a\0\0").status_code == 400  # the slot is free again
    app.extensions["cardservice"].db.dispose()


def test_an_uploaded_front_says_the_code_is_on_the_back(client):
    import io

    from tests.unit import cardbacks

    _, pdf = cardbacks.card(0)
    buf = io.BytesIO()
    cardbacks.render_pdfium(pdf, 0, 150).save(buf, format="PNG")
    resp = _upload(client, buf.getvalue())
    assert resp.status_code == 400
    assert "If this is the front of the card, the code is on the back" in resp.get_data(
        as_text=True)
