"""The register's everyday operations at 10 k and 1 M residents: does each stay within 2×?

For each size (``--sizes``, default ``pg:10000,pg:1000000,sqlite:100000``) the bench
makes a fresh city (temporary keys; a fresh PostgreSQL schema in the ``test`` database,
or a SQLite file), seeds it in bulk with ``bench/seed.py`` (real encryption, blind
indexes and audit chain; see its docstring for the shortcuts), runs ``ANALYZE``, then
times through the real application layer (``cardservice.application.Application``):

    register        a new resident, with the duplicate check (blind index look-up)
    find_serial     the holder of a card, by its serial
    find_name_dob   a resident by all names + date of birth (blind index)
    find_family     residents by family names + birth year (the coarse index), first page
    issue           a new card to a live resident (signing and argon2 included)
    verify          a card issued above: signature, then the revocation look-up (half are
                    revoked first)
    batch_sheet     the clerk's unprinted cards of the last 14 days, first page (50)
    renewal_queue   the clerks' queue of pending requests, first page (25)
    purge_dry_run   what ``cardservice purge --dry-run`` asks: residents past retention
                    (the seeded city has a fixed number of them, as with a daily purge)
    audit_page      the admin's audit log, first page (50), with its counts

Each operation runs ``--warmup`` times, then ``--repeat`` times on varied inputs; the
table shows the median and p95 in milliseconds, then the database size per resident
(PostgreSQL: sum of ``pg_total_relation_size`` of the city's tables; SQLite: the file
after a checkpoint), and for each backend measured at two sizes the ratio of the largest
size's median to the smallest's (issue #15's goal: at most 2×). The schema is dropped
(or the file deleted) afterwards unless ``--keep``.

The client, PostgreSQL and whatever else runs here share the same 2 cores: absolute
times are noisy, ratios compare. Seeding time is printed with each size.

A million residents take a while to seed: ``--city DIR`` keeps each size's city (keys,
secrets and database) under DIR, so a later run with the same DIR resumes or skips the
seeding and measures again (after a fix, say); ``--seed-only`` stops after seeding.

Usage: .venv/bin/python bench/bench_scale.py [--sizes pg:10000,pg:100000] [--repeat 100]
       [--warmup 10] [--workers 2] [--keep] [--city DIR] [--seed-only]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import secrets
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import seed  # noqa: E402

from cardservice.application import (  # noqa: E402
    Application,
    AuditQuery,
    CardQuery,
    FamilyQuery,
    LikelyDuplicateError,
    NameQuery,
)
from cardservice.clock import utcnow  # noqa: E402
from cardservice.config import settings_from_mapping  # noqa: E402

PG_BASE_URL = os.environ.get("CARDSERVICE_BENCH_PG_URL",
                             "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ACTOR = "bench"
OPERATIONS = ("register", "find_serial", "find_name_dob", "find_family", "issue", "verify",
              "batch_sheet", "renewal_queue", "purge_dry_run", "audit_page")
PRINT_LIST_PAGE = 50  # web.clerk.PRINT_LIST_PAGE
QUEUE_PAGE = 25  # web.queue.PAGE
AUDIT_PAGE = 50  # web.admin.AUDIT_PAGE


@dataclass
class SizeResult:
    """What one backend at one size measured."""

    backend: str
    size: int
    seed_seconds: float = 0.0
    seed_line: str = ""
    bytes_total: int = 0
    residents: int = 0
    times: dict[str, list[float]] = field(default_factory=dict)

    def median(self, op: str) -> float:
        """Median of an operation, in seconds."""
        return statistics.median(self.times[op])

    def p95(self, op: str) -> float:
        """95th percentile of an operation, in seconds."""
        values = sorted(self.times[op])
        return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))]


@dataclass
class City:
    """A bench city: its application, and how to drop it."""

    app: Application
    drop: Callable[[], None]


def make_city(backend: str, tmp: Path) -> City:
    """A city with its keys in ``tmp`` and a migrated database of ``backend``.

    A new ``tmp`` gets a fresh database (a new PostgreSQL schema, or a SQLite file); a
    ``tmp`` kept from an earlier run (``--city``: its ``city.json``) gets that city back,
    so a million residents are seeded once and measured again after a change.
    """
    saved = tmp / "city.json"
    if saved.exists():
        city = json.loads(saved.read_text(encoding="utf-8"))
    else:
        (tmp / "keys").mkdir(mode=0o700, parents=True)
        schema = f"bench_scale_{uuid.uuid4().hex[:10]}" if backend == "pg" else None
        city = {"schema": schema, "secret": secrets.token_urlsafe(40),
                "passphrase": secrets.token_urlsafe(16)}
        if schema is not None:
            with create_engine(PG_BASE_URL).begin() as conn:
                conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        saved.write_text(json.dumps(city), encoding="utf-8")
    schema = city["schema"]
    url = f"{PG_BASE_URL}?options=-csearch_path%3D{schema}" if schema is not None \
        else f"sqlite:///{tmp / 'city.db'}"
    settings = settings_from_mapping(
        {"city": {"id": "PTLIS", "name": "Lisboa", "base_url": "http://127.0.0.1:5000",
                  "languages": ["en", "fr"]},
         "database": {"url": url}, "keys": {"dir": str(tmp / "keys")},
         "server": {"secure_cookies": False, "instance_dir": str(tmp / "instance")}},
        base_dir=tmp,
        environ={"CARDSERVICE_SECRET_KEY": city["secret"],
                 "CARDSERVICE_KEY_PASSPHRASE": city["passphrase"]})
    app = Application(settings)
    app.keys.init(now=utcnow())
    app.upgrade_schema()

    def drop() -> None:
        app.close()
        if schema is not None:
            base = create_engine(PG_BASE_URL)
            with base.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
            base.dispose()

    return City(app, drop)


def analyze(app: Application) -> None:
    """Fresh planner statistics, as autovacuum would have them after a bulk load."""
    with app.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE" if not app.db.is_sqlite else "ANALYZE"))


def database_bytes(app: Application) -> int:
    """The city's tables and indexes (PostgreSQL), or its file after a checkpoint (SQLite)."""
    with app.db.engine.connect() as conn:
        if app.db.is_sqlite:
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            path = Path(str(app.db.engine.url.database))
            return path.stat().st_size
        return int(conn.scalar(text(
            "SELECT sum(pg_total_relation_size(c.oid)) FROM pg_class c "
            "JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = current_schema() AND c.relkind = 'r'")) or 0)


def sample(app: Application, sql: str, k: int) -> list[str]:
    """``k`` random values of a one-column query (read once, before timing)."""
    with app.db.engine.connect() as conn:
        rows = [str(r[0]) for r in conn.execute(text(sql))]
    return random.Random(1).sample(rows, min(k, len(rows)))


def timed(times: list[float], runs: int, warmup: int, call: Callable[[int], Any]) -> None:
    """Run ``call(i)`` ``warmup`` times untimed, then ``runs`` times timed."""
    for i in range(warmup):
        call(i)
    for i in range(warmup, warmup + runs):
        started = time.perf_counter()
        call(i)
        times.append(time.perf_counter() - started)


def measure(backend: str, size: int, args: argparse.Namespace) -> SizeResult:
    """Seed one city of ``size`` residents and time every operation in it."""
    result = SizeResult(backend, size)
    keep = args.keep or args.city is not None
    if args.city is not None:
        tmp = args.city / f"{backend}-{size}"
        tmp.mkdir(parents=True, exist_ok=True)
    else:
        tmp = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    city = make_city(backend, tmp)
    app = city.app
    try:
        started = time.perf_counter()
        report = seed.seed(app, count=size, workers=args.workers,
                           progress=lambda n: print(f"  seeding {backend} {n}/{size} "
                                                    f"{time.perf_counter() - started:.0f} s",
                                                    file=sys.stderr, flush=True))
        if report.residents:
            analyze(app)
        result.seed_seconds = time.perf_counter() - started
        result.seed_line = report.line()
        print(f"  {result.seed_line}; with ANALYZE {result.seed_seconds:.1f} s",
              file=sys.stderr)
        if args.seed_only:
            return result

        n, w = args.repeat, args.warmup
        need = n + w
        serials = sample(app, "SELECT serial FROM cards WHERE status = 'active' "
                              "AND print_data IS NOT NULL", need) \
            if size <= 200_000 else sample(
                app, "SELECT serial FROM cards TABLESAMPLE SYSTEM (1) "
                     "WHERE status = 'active' AND print_data IS NOT NULL", need)
        live = sample(app, "SELECT id FROM residents WHERE purged_at IS NULL", need) \
            if size <= 200_000 else sample(
                app, "SELECT id FROM residents TABLESAMPLE SYSTEM (1) "
                     "WHERE purged_at IS NULL", need)
        rng = random.Random(2)
        people = [seed.person(rng.randrange(seed.PURGE_CANDIDATES, size)) for _ in range(need)]
        times = {op: [] for op in OPERATIONS}
        result.times = times

        def register(i: int) -> None:
            fields = seed.registration_fields(seed.person(10**9 + size + i))
            # A likely duplicate found is the check at work too.
            with contextlib.suppress(LikelyDuplicateError):
                app.residents.register(fields, photo=None, confirm_new=False, actor=ACTOR)

        def find_serial(i: int) -> None:
            found = app.residents.find(CardQuery(serials[i % len(serials)]), actor=ACTOR)
            assert found.total == 1, found

        def find_name(i: int) -> None:
            p = people[i]
            found = app.residents.find(NameQuery(p.given_names, p.family_names,
                                                 p.date_of_birth), actor=ACTOR)
            assert found.total <= 3, found.total

        def find_family(i: int) -> None:
            p = people[i]
            app.residents.find(FamilyQuery(p.family_names, p.date_of_birth.year),
                               actor=ACTOR)

        issued: list[str] = []

        def issue(i: int) -> None:
            card = app.cards.issue(live[i % len(live)], actor=ACTOR)
            issued.append(card.qr)
            if i % 2:
                app.cards.revoke(card.serial, reason="lost", actor=ACTOR)

        def verify(i: int) -> None:
            status = app.verifier.verify(issued[i % len(issued)], now=utcnow()).status
            assert status in ("valid", "revoked"), status

        now = utcnow()

        def batch_sheet(_i: int) -> None:
            app.cards.print_selection(start=now - timedelta(days=14), end=now + timedelta(
                days=1), only_unprinted=True, offset=0, limit=PRINT_LIST_PAGE)

        def renewal_queue(_i: int) -> None:
            app.renewals.pending(limit=QUEUE_PAGE)

        def purge_dry_run(_i: int) -> None:
            plan = app.residents.plan_purge()
            # Issuing above may have given a candidate a new card: most are still there.
            assert len(plan.resident_ids) >= seed.PURGE_CANDIDATES // 2, plan.resident_ids

        def audit_page(_i: int) -> None:
            app.staff.audit_page(AuditQuery(), size=AUDIT_PAGE)

        calls: dict[str, Callable[[int], Any]] = {
            "register": register, "find_serial": find_serial, "find_name_dob": find_name,
            "find_family": find_family, "issue": issue, "verify": verify,
            "batch_sheet": batch_sheet, "renewal_queue": renewal_queue,
            "purge_dry_run": purge_dry_run, "audit_page": audit_page}
        for op in OPERATIONS:
            timed(times[op], n, w, calls[op])
            print(f"  {op:<14} median {result.median(op) * 1e3:8.2f} ms", file=sys.stderr)
        result.bytes_total = database_bytes(app)
        result.residents = size
    finally:
        if keep:
            print(f"  kept: {app.settings.database_url} (keys in {tmp})", file=sys.stderr)
            app.close()
        else:
            city.drop()
            shutil.rmtree(tmp, ignore_errors=True)
        # (--city: the directory and its database stay for the next run)
    return result


def parse_sizes(text_: str) -> list[tuple[str, int]]:
    """``pg:10000,sqlite:100000`` → ``[("pg", 10000), ("sqlite", 100000)]``."""
    sizes = []
    for part in text_.split(","):
        backend, _, number = part.strip().partition(":")
        if backend not in ("pg", "sqlite") or not number.replace("_", "").isdigit():
            raise argparse.ArgumentTypeError(f"not a size: {part!r} (pg:N or sqlite:N)")
        sizes.append((backend, int(number.replace("_", ""))))
    return sizes


def table(results: list[SizeResult]) -> Iterator[str]:
    """The printed report: times per size, then ratios per backend."""
    head = f"{'operation':<15}" + "".join(f"{r.backend + ' ' + f'{r.size:,}':>24}"
                                          for r in results)
    yield "median / p95, milliseconds"
    yield head
    for op in OPERATIONS:
        yield f"{op:<15}" + "".join(
            f"{r.median(op) * 1e3:>13.2f} /{r.p95(op) * 1e3:>8.2f}" for r in results)
    yield f"{'bytes/resident':<15}" + "".join(
        f"{r.bytes_total / r.residents:>24,.0f}" for r in results)
    yield f"{'seeding, s':<15}" + "".join(f"{r.seed_seconds:>24.1f}" for r in results)
    for backend in ("pg", "sqlite"):
        mine = sorted((r for r in results if r.backend == backend), key=lambda r: r.size)
        if len(mine) < 2:
            continue
        small, large = mine[0], mine[-1]
        yield ""
        yield (f"{backend}: {large.size:,} / {small.size:,} residents, ratio of medians "
               "(goal <= 2.0)")
        for op in OPERATIONS:
            ratio = large.median(op) / small.median(op)
            flag = "" if ratio <= 2.0 else "   over"
            yield f"  {op:<15}{ratio:>7.2f}{flag}"


def main() -> None:
    """Run the sizes asked for and print the table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--sizes", type=parse_sizes,
                    default=parse_sizes("pg:10000,pg:1000000,sqlite:100000"),
                    help="backend:residents, comma-separated (pg or sqlite)")
    ap.add_argument("--repeat", type=int, default=100, help="timed runs per operation")
    ap.add_argument("--warmup", type=int, default=10, help="untimed runs first")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="processes that make the seeded rows")
    ap.add_argument("--keep", action="store_true", help="keep the databases afterwards")
    ap.add_argument("--city", type=Path, default=None,
                    help="a directory for cities kept between runs (one per size): seeding "
                         "resumes or is skipped, nothing is dropped")
    ap.add_argument("--seed-only", action="store_true", help="seed, measure nothing")
    args = ap.parse_args()
    results = []
    for backend, size in args.sizes:
        print(f"== {backend} {size:,} residents", file=sys.stderr)
        results.append(measure(backend, size, args))
    if args.seed_only:
        return
    print()
    for line in table(results):
        print(line)


if __name__ == "__main__":
    main()
