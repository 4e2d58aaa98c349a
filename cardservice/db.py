"""Database engine and sessions (SQLAlchemy 2), SQLite or PostgreSQL by URL."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL
from sqlalchemy.orm import Session, sessionmaker

#: Seconds to wait for PostgreSQL to accept a new connection before giving up (a 503).
CONNECT_TIMEOUT = 5

#: libpq TCP settings of every PostgreSQL connection: a connection whose peer vanished
#: without a reset (a dropped route, a failed-over host) is declared dead within about
#: 30 s + 3 x 10 s when idle, or 30 s after data went unacknowledged, instead of waiting
#: for the kernel's default of two hours (idle) or about 15 minutes (retransmissions).
#: ``tcp_user_timeout`` is in milliseconds (Linux only; ignored elsewhere).
PG_KEEPALIVE: dict[str, int] = {
    "keepalives": 1,
    "keepalives_idle": 30,
    "keepalives_interval": 10,
    "keepalives_count": 3,
    "tcp_user_timeout": 30_000,
}


class Database:
    """An engine plus a session factory for one city database."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine: Engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        """Whether this is an embedded SQLite database."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that is always closed; the caller commits."""
        session = self.sessions()
        try:
            yield session
        finally:
            session.close()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine with the settings this project relies on."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {}).setdefault("timeout", 30)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        path = sqlite_file(engine.url)
        if path is not None:
            # Before every new connection, so the file SQLite opens (and the -wal and -shm
            # files it creates with the database file's mode) are never readable by others.
            event.listen(engine, "do_connect", lambda *_args: make_private(path))
        return engine
    # A pooled connection the server closed (a restart) is replaced before use, and a
    # server that does not answer makes a request fail within the connect timeout
    # instead of hanging; the web turns either failure into a 503 with Retry-After.
    kwargs.setdefault("pool_pre_ping", True)
    if url.startswith("postgresql"):
        connect_args = kwargs.setdefault("connect_args", {})
        connect_args.setdefault("connect_timeout", CONNECT_TIMEOUT)
        for name, value in PG_KEEPALIVE.items():
            connect_args.setdefault(name, value)
    return create_engine(url, **kwargs)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers go on while one writer commits; foreign keys are off by default.
    cur = dbapi_connection.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=FULL")
    cur.close()


# The files SQLite keeps beside the database: each holds pages of it.
SQLITE_COMPANIONS = ("-wal", "-shm", "-journal")


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL; None for an in-memory or URI-named database."""
    name = url.database
    if not name or name == ":memory:" or name.startswith("file:") or url.query.get("uri"):
        return None
    return Path(name)


def make_private(path: Path) -> None:
    """Create the SQLite database file 0600 if it is missing; narrow it and its companions to
    0600 if they are wider (a database of residents is nobody else's to read)."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0),
                     0o600)
    except FileExistsError:
        pass
    except FileNotFoundError:
        return  # no such directory: SQLite itself says so
    else:
        os.close(fd)  # an empty file is an empty SQLite database; SQLite copies its mode
    for file in (path, *(path.with_name(path.name + end) for end in SQLITE_COMPANIONS)):
        try:
            mode = file.stat().st_mode
        except FileNotFoundError:
            continue
        if mode & 0o077:
            file.chmod(0o600)
