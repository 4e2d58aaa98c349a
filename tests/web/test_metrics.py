"""``/metrics``: off by default, behind its own token, numbers about nothing and no one."""

from __future__ import annotations

import os

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cardservice import create_app
from cardservice.config import ConfigError, settings_from_mapping
from tests.conftest import TEST_PASSPHRASE, TEST_SECRET, city_config, copy_keys
from tests.web.test_api_residents import ANA, register

TOKEN = "metrics-token-" + "m" * 30  # noqa: S105 - a test value


def _settings(tmp_path, url, *, env_token=TOKEN, **metrics):
    """Settings with ``[metrics] enabled`` (plus ``metrics``), the token from the env."""
    env = {"CARDSERVICE_SECRET_KEY": TEST_SECRET, "CARDSERVICE_KEY_PASSPHRASE": TEST_PASSPHRASE}
    if env_token:
        env["CARDSERVICE_METRICS_TOKEN"] = env_token
    return settings_from_mapping(
        city_config(tmp_path, database_url=url, metrics={"enabled": True, **metrics}),
        base_dir=tmp_path, environ=env)


@pytest.fixture
def metered(tmp_path, db, keys_template):
    """A client of the app with ``[metrics] enabled``."""
    copy_keys(keys_template, tmp_path / "keys")
    app = create_app(_settings(tmp_path, db.url),
                     overrides={"TESTING": True, "RATELIMIT_ENABLED": False})
    yield app.test_client()
    app.extensions["cardservice"].db.dispose()


def scrape(client) -> dict[tuple[str, tuple], float]:
    resp = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.content_type.startswith("text/plain; version=")  # the text format
    samples = {}
    for family in text_string_to_metric_families(resp.get_data(as_text=True)):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def test_metrics_are_off_by_default(client):
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
                      ).status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong-token-" + "w" * 30, f"Basic {TOKEN}",
                                    "Bearer "])
def test_metrics_need_the_token(metered, header):
    headers = {"Authorization": header} if header else {}
    resp = metered.get("/metrics", headers=headers)
    assert resp.status_code == 401
    assert resp.get_json()["error"] == "unauthorized"
    assert "cardservice_" not in resp.get_data(as_text=True)


def test_enabling_metrics_needs_a_long_token(tmp_path, db):
    with pytest.raises(ConfigError, match="CARDSERVICE_METRICS_TOKEN"):
        _settings(tmp_path, db.url, env_token=None)
    with pytest.raises(ConfigError, match="CARDSERVICE_METRICS_TOKEN"):
        _settings(tmp_path, db.url, env_token="short")
    with pytest.raises(ConfigError, match="never read from the file"):
        _settings(tmp_path, db.url, token=TOKEN)


def test_scrape_counts_verifications_and_says_nothing_about_anyone(metered, staff):
    clerk = {"Authorization": f"Bearer {staff['clerk'].token}"}
    resp = register(metered, clerk)
    assert resp.status_code == 201, resp.get_json()
    rid = resp.get_json()["id"]
    card = metered.post(f"/api/v1/residents/{rid}/cards", headers=clerk).get_json()
    serial = card["serial"]
    before = scrape(metered)
    valid = ("cardservice_verifications_total", (("status", "valid"),))
    verdict = metered.post("/api/v1/verify", json={"qr": card["qr"]}).get_json()
    assert verdict["status"] == "valid"
    assert metered.get(f"/api/v1/cards/{serial}", headers=clerk).status_code == 200
    assert metered.get(f"/clerk/cards/{serial}/issued").status_code == 302  # not signed in
    after = scrape(metered)
    assert after[valid] == before.get(valid, 0) + 1

    # Route labels are the rules, never the paths.
    ok = (("method", "GET"), ("route", "/api/v1/cards/<serial>"), ("status", "2xx"))
    assert after[("cardservice_http_requests_total", ok)] == 1
    redirected = (("method", "GET"), ("route", "/clerk/cards/<serial>/issued"),
                  ("status", "3xx"))
    assert after[("cardservice_http_requests_total", redirected)] == 1
    assert any(name == "cardservice_http_request_duration_seconds_bucket"
               and dict(labels)["route"] == "/api/v1/verify" for name, labels in after)
    metered.get(f"/no/such/{serial}")
    body = metered.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}
                       ).get_data(as_text=True)
    assert 'route="<unmatched>"' in body
    assert serial not in body and rid not in body
    for word in (*ANA["given_names"].split(), *ANA["family_names"].split(),
                 ANA["date_of_birth"], ANA["address"]["line1"]):
        if len(word) > 3:  # "da" is in "days"
            assert word not in body, word
    assert after[("cardservice_renewal_queue_length", ())] == 0
    assert after[("cardservice_signing_key_days_left", ())] > 300
    assert after[("cardservice_root_days_left", ())] > after[
        ("cardservice_signing_key_days_left", ())]


def test_serve_gives_its_workers_an_emptied_metrics_directory(tmp_path, db, monkeypatch):
    from cardservice.wsgi_server import METRICS_DIR_ENV, shared_metrics_dir

    settings = _settings(tmp_path, db.url)
    monkeypatch.delenv(METRICS_DIR_ENV, raising=False)
    stale = settings.instance_dir / "metrics" / "counter_123.db"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"old counts")
    monkeypatch.setenv(METRICS_DIR_ENV, "")  # restored after the test
    directory = shared_metrics_dir(settings)
    assert directory == settings.instance_dir / "metrics"
    assert not stale.exists()
    assert os.environ[METRICS_DIR_ENV] == str(directory)
