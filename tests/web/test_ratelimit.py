"""Abuse: verification is rate-limited per client and answers 429 with Retry-After."""

from __future__ import annotations

import secrets
import subprocess
import time
from pathlib import Path

import pytest

from cardservice import create_app
from cardservice.config import per_process_limits_warning
from tests.conftest import copy_keys, make_settings, skip_or_fail
from tests.e2e.cities import EXE, START_TIMEOUT, City


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


# ---- several processes (issue 11, finding 11) ------------------------------------------------
# Real servers: `cardservice serve` subprocesses on one SQLite file, and the real Redis.

REDIS_URL = "redis://127.0.0.1:6379/0"
RENEWAL = {"serial": "QQQQ-QQQQ-QQQQ", "date_of_birth": "2000-01-01",
           "renewal_code": "WRONG-CODE"}


@pytest.fixture
def redis_client():
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as exc:
        client.close()
        skip_or_fail(f"Redis is not reachable at {REDIS_URL}: {type(exc).__name__}")
    yield client
    client.close()


def unique_city_id() -> str:
    """A city id nobody else uses, so this test's Redis keys are its own (their prefix)."""
    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "ZZ" + "".join(secrets.choice(letters) for _ in range(3))


def city_server(base: Path, city_id: str, *, storage: str) -> City:
    """A city whose configuration counts rate limits in ``storage``."""
    city = City(base, city_id=city_id, name="Testville", with_clerk=False)
    text = city.config.read_text(encoding="utf-8")
    city.config.write_text(text.replace(
        "secure_cookies = false\n",
        f'secure_cookies = false\nratelimit_storage_url = "{storage}"\n'), encoding="utf-8")
    return city


def test_two_instances_sharing_redis_share_a_limit(tmp_path, redis_client, request):
    """Before: each process counted apart, so 2 workers let 9 renewal attempts through a
    "5 per hour" limit. With Redis configured both instances count in one place."""
    city_id = unique_city_id()
    request.addfinalizer(lambda: [redis_client.delete(k)
                                  for k in redis_client.scan_iter(f"*{city_id}*")])
    first = city_server(tmp_path / "city", city_id, storage=REDIS_URL)
    first.setup()
    request.addfinalizer(first.stop)
    first.start()
    # the same city (same database and configuration) in a second process
    second = city_server(tmp_path / "city", city_id, storage=REDIS_URL)
    request.addfinalizer(second.stop)
    second.start()
    statuses = [(first if n % 2 == 0 else second).api("POST", "/api/v1/renewals",
                                                      json=RENEWAL).status
                for n in range(6)]
    assert 429 not in statuses[:5] and statuses[5] == 429, statuses


def test_serve_warns_when_workers_count_apart(tmp_path, request):
    city = city_server(tmp_path / "city", "PTLIS", storage="memory://")
    city.setup()
    with open(city.log, "ab") as log:
        process = subprocess.Popen(
            [str(EXE), "serve", "--host", "127.0.0.1", "--port", str(city.port),
             "--workers", "2"],
            env=city.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    city.process = process
    request.addfinalizer(city.stop)
    deadline = time.monotonic() + START_TIMEOUT
    while "ratelimit_storage_url" not in city.log_tail() and time.monotonic() < deadline:
        assert process.poll() is None, city.log_tail()
        time.sleep(0.2)
    log_text = city.log_tail()
    assert "server.ratelimit_storage_url" in log_text and "redis://" in log_text, log_text
    assert "each of the 2 worker processes counts rate limits apart" in log_text


def test_one_worker_or_redis_gives_no_warning(tmp_path):
    base = make_settings(tmp_path, database_url="sqlite://")
    assert per_process_limits_warning(base, processes=1) is None
    shared = make_settings(tmp_path, database_url="sqlite://",
                           server={"ratelimit_storage_url": REDIS_URL})
    assert per_process_limits_warning(shared, processes=8) is None
    assert per_process_limits_warning(base, processes=2)
