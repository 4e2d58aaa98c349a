"""Shared fixtures: a city configuration, the app on SQLite and PostgreSQL, users, sign-in.

Each backend's schema is built once per session with the real Alembic migrations;
every test then starts from empty tables. PostgreSQL tests run in a schema of their
own inside the ``test`` database; locally they skip with a reason when the server is
absent, in CI (``CI=true``) they fail instead.
"""

from __future__ import annotations

import os
import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from cardservice import create_app, schema
from cardservice.application import UnitOfWork
from cardservice.clock import utcnow
from cardservice.config import Settings, settings_from_mapping
from cardservice.db import Database
from cardservice.models import Base
from cardservice.services import users

IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
PG_BASE_URL = os.environ.get(
    "CARDSERVICE_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
TEST_SECRET = "test-secret-" + "x" * 40
TEST_PASSPHRASE = "test passphrase, not for production"  # noqa: S105


def skip_or_fail(reason: str) -> None:
    """Skip locally; in CI a missing service is a failure, not a skip."""
    if IN_CI:
        pytest.fail(f"{reason} (required in CI)")
    pytest.skip(reason)


def city_config(tmp: Path, *, database_url: str, **sections: dict[str, Any]) -> dict[str, Any]:
    """A minimal city configuration mapping rooted at ``tmp``."""
    keys = tmp / "keys"
    keys.mkdir(mode=0o700, exist_ok=True)
    data: dict[str, Any] = {
        "city": {"id": "PTLIS", "name": "Lisboa", "base_url": "http://127.0.0.1:5000",
                 "languages": ["en", "fr"]},
        "database": {"url": database_url},
        "keys": {"dir": str(keys)},
        "server": {"secure_cookies": False, "instance_dir": str(tmp / "instance")},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    return data


def make_settings(tmp: Path, *, database_url: str, **sections: dict[str, Any]) -> Settings:
    """Validated settings for a test city."""
    return settings_from_mapping(
        city_config(tmp, database_url=database_url, **sections), base_dir=tmp,
        environ={"CARDSERVICE_SECRET_KEY": TEST_SECRET,
                 "CARDSERVICE_KEY_PASSPHRASE": TEST_PASSPHRASE},
    )


@contextmanager
def postgres_schema(prefix: str = "cs_test", base_url: str = PG_BASE_URL) -> Iterator[str]:
    """A URL whose search_path is a fresh schema of the ``test`` database, dropped after.

    Skips (fails in CI) when PostgreSQL is not reachable.
    """
    import sqlalchemy

    base = sqlalchemy.create_engine(base_url)
    try:
        with base.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # noqa: BLE001 - any connection failure means "not here"
        base.dispose()
        skip_or_fail(f"PostgreSQL is not reachable at {base_url}: {type(exc).__name__}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with base.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{name}"'))
    try:
        yield f"{base_url}?options=-csearch_path%3D{name}"
    finally:
        with base.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{name}" CASCADE'))
        base.dispose()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped at the end."""
    with postgres_schema() as url:
        yield url


_migrated: dict[str, bool] = {}


def _empty_tables(db: Database) -> None:
    names = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with db.engine.begin() as conn:
        if db.engine.dialect.name == "postgresql":
            conn.execute(text("TRUNCATE " + ", ".join(f'"{n}"' for n in names) + " CASCADE"))
        else:
            for n in names:
                conn.execute(text(f'DELETE FROM "{n}"'))
        conn.execute(text("INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, :h)"),
                     {"h": "0" * 64})


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A SQLite file for this test session."""
    return f"sqlite:///{tmp_path_factory.mktemp('db') / 'cardservice.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Each test that uses the database runs on SQLite and on PostgreSQL."""
    if request.param == "postgres":
        request.applymarker(pytest.mark.postgres)
        url: str = request.getfixturevalue("pg_url")
    else:
        url = request.getfixturevalue("sqlite_url")
    return url


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    """The migrated database, emptied for this test."""
    database = Database(database_url)
    if not _migrated.get(database_url):
        schema.upgrade(database)
        _migrated[database_url] = True
    _empty_tables(database)
    yield database
    database.dispose()


@pytest.fixture(scope="session")
def keys_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A city's keys made once per session (key generation and scrypt are slow on purpose)."""
    from cardservice.services.citykeys import CityKeys

    base = tmp_path_factory.mktemp("keys-template")
    settings = make_settings(base, database_url="sqlite://")
    CityKeys(settings).init(now=utcnow())
    return base / "keys"


def copy_keys(template: Path, target: Path) -> None:
    """Copy a keys directory, keeping its modes."""
    import shutil

    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(template, target)
    for path in [target, *target.rglob("*")]:
        path.chmod(0o700 if path.is_dir() else 0o600)


@pytest.fixture
def settings(tmp_path: Path, db: Database, keys_template: Path) -> Settings:
    """Settings of a test city on this test's database, with its keys in place."""
    copy_keys(keys_template, tmp_path / "keys")
    return make_settings(tmp_path, database_url=db.url)


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    """The application, with CSRF on (tests post real tokens)."""
    # Rate limits are off here; tests/web/test_ratelimit.py turns them on.
    application = create_app(settings, overrides={"TESTING": True, "RATELIMIT_ENABLED": False})
    yield application
    application.extensions["cardservice"].db.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    """A browser-like test client."""
    return app.test_client()


@dataclass
class StaffAccount:
    """A test account with its password and an API token."""

    username: str
    role: str
    password: str
    token: str


@pytest.fixture
def staff(db: Database) -> dict[str, StaffAccount]:
    """One account per role, each with an API token."""
    accounts = {}
    with UnitOfWork(db)() as s:
        for role in ("admin", "clerk", "agent"):
            name = f"{role}1"
            password = "pw-" + secrets.token_urlsafe(12)
            users.create_user(s, username=name, role=role, actor="test", now=utcnow(),
                              password=password)
            token = users.create_token(s, username=name, actor="test", now=utcnow())
            accounts[role] = StaffAccount(name, role, password, token)
    return accounts


_CSRF = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"|'
                   r'name="csrf_token" value="([^"]+)"')


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token a page would give the browser."""
    html = client.get(path).get_data(as_text=True)
    m = _CSRF.search(html)
    assert m, f"no CSRF token on {path}"
    return m.group(1) or m.group(2)


class Auth:
    """Sign test clients in and out through the real login form."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def login(self, account: StaffAccount) -> None:
        token = csrf_token(self.client)
        resp = self.client.post("/login", data={"username": account.username,
                                                "password": account.password,
                                                "csrf_token": token})
        assert resp.status_code == 302, resp.get_data(as_text=True)[:500]

    def logout(self) -> None:
        token = csrf_token(self.client, "/")
        self.client.post("/logout", data={"csrf_token": token})


@pytest.fixture
def auth(client: FlaskClient) -> Auth:
    """Sign-in helper bound to ``client``."""
    return Auth(client)
