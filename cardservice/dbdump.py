"""A logical dump of the city's database, and its restore: the database half of a backup.

The dump is one JSON-lines file per table (``<table>.jsonl``: the column names on the
first line, then one JSON array per row), tables in dependency order, taken from one
consistent snapshot: a ``REPEATABLE READ`` read-only transaction on PostgreSQL, a copy
made with SQLite's online backup API on SQLite. It is the same format for both engines,
so a city can move from SQLite to PostgreSQL through a backup; bytes are Base64 and times
ISO 8601 with their zone, so every value comes back exactly. Personal data is in it only
as the ciphertext the database holds.

A restore rebuilds the schema at the dump's revision, loads every row, moves PostgreSQL's
id sequences past the restored ids and upgrades the schema to the newest revision — on
PostgreSQL in one transaction, on SQLite in a new file copied over the database in one
step, so a failed restore leaves the database as it was.

Like ``schema``, this module works on connections and transactions of its own; the
application layer calls it and nothing else does.
"""

from __future__ import annotations

import base64
import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    Date,
    Integer,
    LargeBinary,
    MetaData,
    Table,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy.types import TypeEngine

from cardservice import schema
from cardservice.db import Database, make_private, sqlite_file
from cardservice.models import Base, UTCDateTime

#: ``progress(table, rows_done, rows_in_table)``
Progress = Callable[[str, int, int], None]
_BATCH = 1000


class DumpError(Exception):
    """The database cannot be dumped or restored as asked; the message says why."""


def _no_progress(_table: str, _done: int, _total: int) -> None:
    pass


def _encode(value: Any) -> Any:
    if isinstance(value, bytes | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def _decoder(kind: TypeEngine[Any]) -> Callable[[Any], Any]:
    if isinstance(kind, LargeBinary):
        return lambda v: base64.b64decode(v, validate=True)
    if isinstance(kind, UTCDateTime):
        return datetime.fromisoformat
    if isinstance(kind, Date):
        return date.fromisoformat
    return lambda v: v  # str, int, bool and JSON come back as JSON gave them


def _decode(decoders: list[Callable[[Any], Any]], row: list[Any]) -> list[Any]:
    return [None if v is None else d(v) for d, v in zip(decoders, row, strict=True)]


# ---------------------------------------------------------------------------- dump


@contextlib.contextmanager
def _snapshot(db: Database, scratch: Path) -> Iterator[Connection]:
    """A connection that sees one consistent state of the whole database."""
    if db.is_sqlite:
        path = sqlite_file(db.engine.url)
        if path is None:
            raise DumpError("an in-memory SQLite database cannot be backed up")
        copy = scratch / "snapshot.db"
        src = sqlite3.connect(path)
        dst = sqlite3.connect(copy)
        try:
            src.backup(dst)  # the online backup API: one consistent copy, writers go on
        finally:
            dst.close()
            src.close()
        snap = Database(f"sqlite:///{copy}")
        try:
            with snap.engine.connect() as conn:
                yield conn
        finally:
            snap.dispose()
            for end in ("", "-wal", "-shm", "-journal"):
                Path(f"{copy}{end}").unlink(missing_ok=True)
        return
    with db.engine.connect() as conn:
        conn = conn.execution_options(isolation_level="REPEATABLE READ",
                                      postgresql_readonly=True)
        yield conn  # every statement below runs in the one transaction it opened


def dump(db: Database, into: Path, *, progress: Progress = _no_progress
         ) -> tuple[str, dict[str, dict[str, Any]]]:
    """Write every table to ``into/<table>.jsonl`` from one snapshot.

    Returns the schema revision and, per table, its columns and row count. Refuses a
    database whose schema is not at the newest revision (run ``cardservice init`` first).
    """
    tables: dict[str, dict[str, Any]] = {}
    with _snapshot(db, into) as conn:
        revision = schema.current_revision(conn)
        if revision is None or revision != schema.head_revision():
            raise DumpError("the database schema is not up to date: run `cardservice init` "
                            "before backing up")
        for table in Base.metadata.sorted_tables:
            total = conn.execute(select(func.count()).select_from(table)).scalar_one()
            columns = [c.name for c in table.columns]
            order = list(table.primary_key.columns) or list(table.columns)
            done = 0
            progress(table.name, 0, total)
            with (into / f"{table.name}.jsonl").open("x", encoding="utf-8") as out:
                out.write(json.dumps(columns) + "\n")
                rows = conn.execution_options(yield_per=_BATCH).execute(
                    select(*table.columns).order_by(*order))
                for row in rows:
                    out.write(json.dumps([_encode(v) for v in row], ensure_ascii=False,
                                         separators=(",", ":")) + "\n")
                    done += 1
                    if done % _BATCH == 0:
                        progress(table.name, done, total)
            if done != total:  # the snapshot guarantees this; say so loudly if it did not hold
                raise DumpError(f"table {table.name} changed while it was dumped")
            progress(table.name, done, total)
            tables[table.name] = {"columns": columns, "rows": done}
    return revision, tables


# ---------------------------------------------------------------------------- restore


def is_empty(db: Database) -> bool:
    """Whether the database holds no city: no tables, or tables without rows.

    The audit head's initial row (sequence 0) does not count as content.
    """
    existing = set(inspect(db.engine).get_table_names())
    with db.engine.connect() as conn:
        for table in Base.metadata.sorted_tables:
            if table.name not in existing:
                continue
            query = select(table).limit(1)
            if table.name == "audit_head":
                query = query.where(table.c.seq > 0)
            if conn.execute(query).first() is not None:
                return False
    return True


def _narrowed(table: Table, columns: list[str]) -> Table:
    """``table`` with only ``columns`` (a dump of an older revision may lack newer ones)."""
    known = {c.name: c for c in table.columns}
    missing = [c for c in columns if c not in known]
    if missing:
        raise DumpError(f"the dump of table {table.name} has columns this version does not "
                        f"know: {', '.join(missing)}")
    return Table(table.name, MetaData(),
                 *[Column(name, known[name].type, primary_key=known[name].primary_key)
                   for name in columns])


def _reset_sequences(conn: Connection) -> None:
    """Move PostgreSQL's id sequences past the restored ids (new rows must not collide)."""
    if conn.dialect.name != "postgresql":
        return  # SQLite hands out max(rowid) + 1
    for table in Base.metadata.sorted_tables:
        pk = list(table.primary_key.columns)
        if len(pk) != 1 or not isinstance(pk[0].type, Integer) or pk[0].autoincrement is False:
            continue
        seq = conn.execute(text("SELECT pg_get_serial_sequence(:t, :c)"),
                           {"t": table.name, "c": pk[0].name}).scalar()
        if seq is None:
            continue
        top = conn.execute(select(func.max(pk[0]))).scalar()
        conn.execute(text("SELECT setval(:s, :v, :called)"),
                     {"s": seq, "v": top or 1, "called": top is not None})


def _load(conn: Connection, source: Path, *, revision: str, tables: dict[str, dict[str, Any]],
          progress: Progress) -> None:
    """Replace whatever ``conn``'s database holds by the dump in ``source``."""
    Base.metadata.drop_all(conn)
    conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    schema.upgrade_connection(conn, revision)
    for table in reversed(Base.metadata.sorted_tables):  # rows the migrations put in
        if inspect(conn).has_table(table.name):
            conn.execute(table.delete())
    by_name = {t.name: t for t in Base.metadata.sorted_tables}
    for name in [t.name for t in Base.metadata.sorted_tables if t.name in tables]:
        total = int(tables[name]["rows"])
        with (source / f"{name}.jsonl").open(encoding="utf-8") as fh:
            columns = json.loads(fh.readline())
            if columns != tables[name]["columns"]:
                raise DumpError(f"the dump of table {name} does not match its manifest")
            target = _narrowed(by_name[name], columns)
            decoders = [_decoder(c.type) for c in target.columns]
            batch: list[dict[str, Any]] = []
            done = 0
            progress(name, 0, total)
            for line in fh:
                values = _decode(decoders, json.loads(line))
                batch.append(dict(zip(columns, values, strict=True)))
                if len(batch) == _BATCH:
                    conn.execute(insert(target), batch)
                    done += len(batch)
                    batch = []
                    progress(name, done, total)
            if batch:
                conn.execute(insert(target), batch)
                done += len(batch)
            if done != total:
                raise DumpError(f"the dump of table {name} holds {done} rows, its manifest "
                                f"says {total}")
            progress(name, done, total)
    unknown = sorted(set(tables) - set(by_name))
    if unknown:
        raise DumpError(f"the dump holds tables this version does not know: {', '.join(unknown)}")
    _reset_sequences(conn)
    schema.upgrade_connection(conn, "head")


def restore(db: Database, source: Path, *, revision: str, tables: dict[str, dict[str, Any]],
            scratch: Path, progress: Progress = _no_progress) -> None:
    """Replace the database by the dump in ``source`` (checked beforehand), all or nothing."""
    if not schema.is_known_revision(revision):
        raise DumpError(f"the backup's schema revision {revision!r} is newer than this "
                        "version of cardservice: upgrade cardservice first")
    if not db.is_sqlite:
        with db.engine.begin() as conn:  # PostgreSQL's DDL is transactional too
            _load(conn, source, revision=revision, tables=tables, progress=progress)
        return
    path = sqlite_file(db.engine.url)
    if path is None:
        raise DumpError("cannot restore into an in-memory SQLite database")
    built = scratch / "restored.db"
    fresh = Database(f"sqlite:///{built}")
    try:
        with fresh.engine.begin() as conn:
            _load(conn, source, revision=revision, tables=tables, progress=progress)
    finally:
        fresh.dispose()
    db.dispose()
    make_private(path)
    src = sqlite3.connect(built)
    dst = sqlite3.connect(path, timeout=30)
    try:
        src.backup(dst)  # page by page under one write lock: readers see old or new
    finally:
        dst.close()
        src.close()


__all__ = ["DumpError", "Progress", "dump", "is_empty", "restore"]
