"""Migration 0008 (the family name + birth year index) on a database that has residents.

Runs the real Alembic scripts from 0007 on SQLite and on PostgreSQL (a schema of its
own, dropped at the end): the column and its index appear, existing rows keep every
value and get NULL until ``cardservice residents reindex``; downgrading and upgrading
again works.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from alembic import command
from sqlalchemy import inspect, text

from cardservice import schema
from cardservice.db import Database
from tests.conftest import postgres_schema


@pytest.fixture(params=["sqlite", "postgres"])
def fresh_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty database (nothing migrated yet) on each backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    request.applymarker(pytest.mark.postgres)
    with postgres_schema("cs_mig") as url:
        yield url


def _migrate(db: Database, revision: str, *, down: bool = False) -> None:
    cfg = schema._alembic_config()
    with db.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        (command.downgrade if down else command.upgrade)(cfg, revision)


def _columns(db: Database) -> set[str]:
    return {c["name"] for c in inspect(db.engine).get_columns("residents")}


def _indexes(db: Database) -> set[str]:
    return {i["name"] for i in inspect(db.engine).get_indexes("residents")}


def test_0008_adds_a_nullable_indexed_column_and_keeps_existing_rows(fresh_url):
    db = Database(fresh_url)
    try:
        _migrate(db, "0007")
        assert "family_year_index" not in _columns(db)
        now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO residents (id, created_at, updated_at, wrapped_key, record, "
                "blind_index) VALUES (:id, :now, :now, :key, :rec, :bi)"),
                {"id": "r1", "now": now, "key": b"k" * 61, "rec": b"sealed", "bi": "ab" * 16})

        _migrate(db, "head")
        assert schema.is_current(db)
        assert "family_year_index" in _columns(db)
        assert "ix_residents_family_year_index" in _indexes(db)
        with db.engine.connect() as conn:
            row = conn.execute(text("SELECT id, record, blind_index, family_year_index "
                                    "FROM residents")).one()
        assert (row.id, bytes(row.record), row.blind_index, row.family_year_index) == (
            "r1", b"sealed", "ab" * 16, None)

        _migrate(db, "0007", down=True)
        assert "family_year_index" not in _columns(db)
        assert "ix_residents_family_year_index" not in _indexes(db)
        _migrate(db, "head")
        assert "family_year_index" in _columns(db)
    finally:
        db.dispose()
