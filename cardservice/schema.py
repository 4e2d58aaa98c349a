"""Create or upgrade the database schema with Alembic; safe to run any number of times."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy import Connection

from cardservice.db import Database

MIGRATIONS = Path(__file__).parent / "migrations"


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def upgrade(db: Database) -> None:
    """Bring the schema to the newest revision (a no-op when it is already there)."""
    with db.engine.begin() as conn:
        upgrade_connection(conn, "head")


def upgrade_connection(conn: Connection, revision: str) -> None:
    """Upgrade the schema to ``revision`` inside the caller's transaction on ``conn``."""
    cfg = _alembic_config()
    cfg.attributes["connection"] = conn
    command.upgrade(cfg, revision)


def head_revision() -> str | None:
    """The newest revision this version of cardservice knows."""
    return ScriptDirectory.from_config(_alembic_config()).get_current_head()


def is_known_revision(revision: str) -> bool:
    """Whether ``revision`` is one of this version's migrations."""
    try:
        return ScriptDirectory.from_config(_alembic_config()).get_revision(revision) is not None
    except CommandError:
        return False


def current_revision(conn: Connection) -> str | None:
    """The revision the database on ``conn`` is at (None: no schema yet)."""
    return MigrationContext.configure(conn).get_current_revision()


def is_current(db: Database) -> bool:
    """Whether the database is at the newest revision."""
    with db.engine.connect() as conn:
        return current_revision(conn) == head_revision()
