"""Abuse: verification is rate-limited per client and answers 429 with Retry-After."""

from __future__ import annotations

import pytest

from cardservice import create_app
from tests.conftest import copy_keys, make_settings


@pytest.fixture
def limited_app(tmp_path, db, keys_template):
    copy_keys(keys_template, tmp_path / "keys")
    app = create_app(make_settings(tmp_path, database_url=db.url,
                                   verify={"rate_limit": "5 per minute"}))
    yield app
    app.extensions["cardservice"].db.dispose()


def test_verify_rate_limit_429_with_retry_after(limited_app):
    client = limited_app.test_client()
    codes = [client.post("/api/v1/verify", json={"qr": "x"}).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    resp = client.post("/api/v1/verify", json={"qr": "x"})
    assert resp.status_code == 429
    assert int(resp.headers["Retry-After"]) > 0
    assert resp.get_json()["error"] == "rate_limited"
    # another client is not affected
    other = client.post("/api/v1/verify", json={"qr": "x"},
                        environ_overrides={"REMOTE_ADDR": "10.9.8.7"})
    assert other.status_code == 200
