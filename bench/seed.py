"""Bulk seeding of a city register for benchmarks — BENCH ONLY, never for a real city.

Fills a migrated, empty (or partly seeded) city database with ``count`` residents and
the rows a city of that size holds, fast enough for a million residents on two cores.
Nothing in ``cardservice`` imports this module: no web route or CLI command reaches it.

What is real, exactly as the service writes it:

* every resident's record is ``ResidentData.to_json()`` sealed under a fresh data key
  wrapped by the city's master key (``Vault.new_data_key`` / ``Vault.encrypt``), and
  both blind indexes come from ``services.residents.search_indexes``: the application
  finds, opens and purges seeded residents like any other;
* every card's ``print_data`` is the QR text sealed with the holder's data key under the
  field ``card:<serial>``, like ``services.cards.issue_card``;
* every change is in the audit log, hash-chained with ``services.audit.entry_hash`` from
  the current head, so ``cardservice audit verify`` passes after seeding.

The shortcuts, all for speed and all on purpose:

* **One renewal code per seeding process.** argon2 takes tenths of a second a hash on a
  busy machine; every card a process seeds shares one code and so one hash (same column,
  same hash format). The codes are
  not kept: no seeded card can be renewed by a resident (bench-issued cards can).
* **Historic cards are signed outside their certificate's lifetime.** A card "issued"
  four years ago is signed now, by today's signing key, with
  ``credential.unsafe_encode_card``: its QR has the real shape and size but verifies as
  refused (the key did not exist then). Benchmarks verify cards they issue themselves.
* **The history is drawn, not lived.** Registration times are spread over the last
  ``HISTORY_YEARS`` years; cards older than their validity were renewed (the older one
  superseded), ``REVOKED_SHARE`` of cards in force are revoked, ``RENEWAL_SHARE`` of
  residents have a request (about half pending), ``PURGED_SHARE`` were forgotten by a
  past purge (tombstones, as ``purge_resident`` leaves them), cards of the last
  ``UNPRINTED_DAYS`` days are not printed yet, and ``purge_candidates`` residents (a fixed
  number, as in a city whose retention job runs every day) are past retention now.
  Audit times follow the drawn history; within the log they are not in time order.

Resumable: each batch is one transaction that also moves the counter ``bench.seeded``;
a run that was stopped starts again at the next unseeded index. Resident *i*'s personal
data is a function of *i* alone (:func:`person`), so a benchmark can search for a
seeded resident by name without reading the register.

Bulk writes: PostgreSQL ``COPY`` through psycopg; SQLite executemany inserts (SQLAlchemy
Core). Run it through :func:`seed`, or ``python bench/seed.py --config city.toml 10000``.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import random
import resource
import secrets
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Table, insert, select, update
from sqlalchemy.exc import IntegrityError

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cardservice import credential, serials  # noqa: E402
from cardservice.application import Application  # noqa: E402
from cardservice.clock import utcnow  # noqa: E402
from cardservice.config import Settings  # noqa: E402
from cardservice.models import (  # noqa: E402
    AuditEntry,
    AuditHead,
    Card,
    CardStatus,
    Counter,
    RenewalRequest,
    Resident,
)
from cardservice.services import audit, cards, residents  # noqa: E402
from cardservice.services.residents import Address, Contact, DocumentSeen, ResidentData  # noqa: E402
from cardservice.vault import Vault  # noqa: E402

ACTOR = "bench-seed"
COUNTER = "bench.seeded"
BATCH = 5000
HISTORY_YEARS = 8
REVOKED_SHARE = 0.03
RENEWAL_SHARE = 0.01
PURGED_SHARE = 0.02
UNPRINTED_DAYS = 14
PURGE_CANDIDATES = 100

GIVEN = (
    "Ana", "Maria", "João", "José", "Francisco", "Inês", "Beatriz", "Leonor", "Tomás",
    "Duarte", "Matilde", "Carolina", "Rodrigo", "Afonso", "Margarida", "Lourenço", "Diogo",
    "Mariana", "Sofia", "Pedro", "Miguel", "Gonçalo", "Rafael", "Santiago", "Martim",
    "Amadou", "Fatou", "Aïssatou", "Moussa", "Ibrahima", "Mariama", "Ousmane", "Awa",
    "Chinedu", "Ngozi", "Emeka", "Adaeze", "Oluwaseun", "Yetunde", "Kwame", "Abena",
    "Thị Minh", "Văn Hùng", "Thu Hà", "Quốc Bảo", "Ngọc Lan", "Đức Anh", "Hồng Nhung",
    "Olena", "Mykola", "Oksana", "Dmytro", "Iryna", "Андрій", "Наталія", "Сергій",
    "Layla", "Omar", "Yusuf", "Amira", "Karim", "Nour", "Samir", "ليلى", "محمد",
    "Priya", "Arjun", "Ananya", "Rohan", "Lakshmi", "Sandeep", "Kavya", "Vikram",
    "Wei", "Li Na", "Jun", "Mei", "Hao", "Xiu Ying", "Sam", "Alex", "Kim", "Robin",
    "Luísa", "Renata", "Thiago", "Camila", "Valentina", "Mateus", "Larissa", "Bruna",
    "Élodie", "Guillaume", "Zoë", "Søren", "Ødegård", "Łukasz", "Małgorzata", "Jiří",
    "Anaïs", "Noémie", "Bogdan", "Ştefan", "Ioana", "Dragoş", "Tiago", "Rui", "Nuno",
    "Catarina", "Teresa", "Helena", "Filipa", "Joana", "Vasco", "Bernardo", "Simão",
)
FAMILY = (
    "Silva", "Santos", "Ferreira", "Pereira", "Oliveira", "Costa", "Rodrigues", "Martins",
    "Jesus", "Sousa", "Fernandes", "Gonçalves", "Gomes", "Lopes", "Marques", "Alves",
    "Almeida", "Ribeiro", "Pinto", "Carvalho", "Teixeira", "Moreira", "Correia", "Mendes",
    "Nunes", "Soares", "Vieira", "Monteiro", "Cardoso", "Rocha", "Raposo", "Neves",
    "Coelho", "Cruz", "Cunha", "Pires", "Ramos", "Reis", "Simões", "Antunes", "Matos",
    "Fonseca", "Machado", "Araújo", "Barbosa", "Tavares", "Lourenço", "Castro", "Figueiredo",
    "Diallo", "Baldé", "Djaló", "Embaló", "Camará", "Sanhá", "Sow", "Bah", "Barry", "Ndiaye",
    "Okafor", "Adeyemi", "Mensah", "Asante", "Boateng", "Okonkwo", "Eze", "Nwosu",
    "Nguyễn", "Trần", "Lê", "Phạm", "Hoàng", "Huỳnh", "Phan", "Vũ", "Võ", "Đặng",
    "Shevchenko", "Kovalenko", "Bondarenko", "Tkachenko", "Шевченко", "Коваленко",
    "Haddad", "Khoury", "Mansour", "Nasser", "Saleh", "حداد", "منصور", "Al-Sayed",
    "Sharma", "Patel", "Singh", "Kumar", "Gupta", "Reddy", "Iyer", "Nair", "Das",
    "Wang", "Li", "Zhang", "Liu", "Chen", "Yang", "Huang", "Zhao", "Wu", "Zhou",
    "O'Brien", "Dupont", "Müller", "Kowalski", "Nowak", "Popescu", "Ionescu", "Novák",
    "García-López", "Hernández", "Martínez", "Sánchez", "Rodríguez", "Pérez", "Gómez",
    "Da Costa", "De Sousa", "Dos Santos", "Conceição", "Magalhães", "Brandão", "Sequeira",
)
STREETS = ("Rua Augusta", "Avenida da Liberdade", "Rua do Ouro", "Travessa do Carmo",
           "Rua dos Fanqueiros", "Calçada do Combro", "Rua de São Bento", "Largo do Rato",
           "Avenida Almirante Reis", "Rua da Prata", "Beco do Chão Salgado")
# Categories of the default catalogue (config.DEFAULT_DOCUMENTS): 2 + 1 points.
PHOTO_DOCUMENTS = ("passport", "identity_card", "consular_card", "driving_licence")
ADDRESS_DOCUMENTS = ("utility_bill", "tenancy_agreement", "bank_statement", "employer_letter")
LANGUAGES = ("Portuguese", "English", "French", "Spanish", "Arabic", "Vietnamese",
             "Ukrainian", "Hindi", "Mandarin", "Fula", "Igbo", "Romanian")


@dataclass
class SeedReport:
    """What one :func:`seed` call did."""

    residents: int = 0
    cards: int = 0
    requests: int = 0
    audit_entries: int = 0
    seconds: float = 0.0
    already: int = 0
    #: CPU time of this process and its workers (not of the database server).
    cpu_seconds: float = 0.0

    def line(self) -> str:
        """One line for a terminal."""
        rate = self.residents / self.seconds if self.seconds else 0.0
        return (f"seeded {self.residents} residents ({self.already} were there), "
                f"{self.cards} cards, {self.requests} requests, {self.audit_entries} audit "
                f"entries in {self.seconds:.1f} s ({rate:.0f} residents/s; client CPU "
                f"{self.cpu_seconds:.1f} s)")


def _rng(index: int) -> random.Random:
    # Seeded by the index alone: resident i is the same person in every run.
    return random.Random(index * 7919 + 104729)


def person(index: int) -> ResidentData:
    """Seeded resident ``index``'s personal data (a pure function of ``index``)."""
    r = _rng(index)
    given = " ".join(r.sample(GIVEN, 2 if r.random() < 0.3 else 1))
    family = " ".join(r.sample(FAMILY, 2 if r.random() < 0.4 else 1))
    born = date(1940, 1, 1) + timedelta(days=r.randrange(80 * 365))
    no_address = r.random() < 0.03
    address = Address(
        line1="" if no_address else f"{r.choice(STREETS)} {r.randrange(1, 300)}",
        line2="" if no_address or r.random() < 0.6 else f"{r.randrange(1, 9)}º "
        f"{r.choice('ABCDE')}",
        postcode="" if no_address else f"1{r.randrange(100, 999)}-{r.randrange(100, 999)}",
        no_fixed_address=no_address, confidential=r.random() < 0.02)
    contact = Contact()
    if r.random() < 0.5:
        contact = Contact(email=f"resident{index}@example.org")
    elif r.random() < 0.5:
        contact = Contact(phone=f"+351 9{r.randrange(10_000_000, 99_999_999)}")
    return ResidentData(
        given_names=given, family_names=family, date_of_birth=born,
        gender=r.choice(("F", "M", "X", None)), address=address,
        languages=tuple(r.sample(LANGUAGES, r.randrange(0, 3))), contact=contact,
        documents=(DocumentSeen(r.choice(PHOTO_DOCUMENTS), 2),
                   DocumentSeen(r.choice(ADDRESS_DOCUMENTS), 1)),
    )


def registration_fields(data: ResidentData) -> dict[str, Any]:
    """``data`` as a clerk's registration form sends it (for ``Application`` calls)."""
    fields = data.public_dict()
    fields["documents"] = [d.category for d in data.documents]
    return fields


def _add_years(day: datetime, years: int) -> datetime:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


@dataclass
class _Batch:
    """Rows of one batch, per table, and the audit events to chain."""

    residents: list[dict[str, Any]] = field(default_factory=list)
    cards: list[dict[str, Any]] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    events: list[tuple[datetime, str, str, str, dict[str, object]]] = field(
        default_factory=list)


class _Seeder:
    """Makes the rows of seeded residents with the city's real keys."""

    def __init__(self, app: Application, *, now: datetime, purge_candidates: int) -> None:
        self.settings: Settings = app.settings
        self.vault: Vault = app.keys.vault()
        signer = app.keys.signer(now=now)
        self.signer_key = signer.key
        self.kid = signer.kid
        self.now = now.replace(microsecond=0)
        self.purge_candidates = purge_candidates
        self.used_serials: set[str] = set()
        self._code_hash: str | None = None

    @property
    def code_hash(self) -> str:
        """The one argon2 hash this process gives its cards (see the module's docstring)."""
        if self._code_hash is None:
            self._code_hash = cards.hash_renewal_code(serials.new_renewal_code())
        return self._code_hash

    def _serial(self) -> str:
        while True:
            serial = serials.new_serial()
            if serial not in self.used_serials:
                self.used_serials.add(serial)
                return serial

    def _qr(self, data: ResidentData, serial: str, issued: datetime, expires: datetime) -> str:
        holder = credential.Holder(
            name=cards.printed_name(data), date_of_birth=data.date_of_birth,
            gender=data.gender if self.settings.cards.print_gender else None)
        claims = credential.CardClaims(issuer=self.settings.city.id, serial=serial,
                                       issued_at=issued, expires_at=expires, holder=holder)
        # Unsafe on purpose (see the module's docstring): historic dates, today's key.
        return credential.unsafe_encode_card(claims, signer_key=self.signer_key, kid=self.kid)

    def resident(self, index: int, batch: _Batch, code_hash: str) -> None:
        """Append resident ``index`` and their cards, request and audit events to ``batch``."""
        r = _rng(index ^ 0x5EED)
        data = person(index)
        retention = timedelta(days=self.settings.retention.days_after_expiry)
        rid = residents._new_id()  # noqa: SLF001 - the same ids as registration
        if index < self.purge_candidates:
            # Past retention now: the last card expired a little more than the period ago.
            last_expiry = self.now - retention - timedelta(days=1 + r.randrange(60))
            created = last_expiry - timedelta(days=365 * self.settings.cards.validity_years)
        else:
            created = self.now - timedelta(seconds=r.randrange(HISTORY_YEARS * 365 * 86400))
        created = created.replace(microsecond=0)
        purged = index >= self.purge_candidates and r.random() < PURGED_SHARE
        data_key, wrapped = self.vault.new_data_key(record_id=rid)
        blind, family_year = residents.search_indexes(self.vault, data)
        row: dict[str, Any] = {
            "id": rid, "created_at": created, "updated_at": created, "wrapped_key": wrapped,
            "record": self.vault.encrypt(data_key, data.to_json(), record_id=rid,
                                         field="record"),
            "photo": None, "blind_index": blind, "family_year_index": family_year,
            "last_card_expires_at": None, "purged_at": None,
        }
        batch.residents.append(row)
        batch.events.append((created, "resident.register", "resident", rid,
                             {"confirmed_duplicate": False, "photo": False}))

        # Cards: one at registration, renewed (the old one superseded) when it ran out.
        issued = created
        history: list[dict[str, Any]] = []
        while True:
            expires = cards.validity_end(self.settings, born=data.date_of_birth,
                                         issued_at=issued)
            serial = self._serial()
            card = {
                "serial": serial, "resident_id": rid, "issued_at": issued,
                "expires_at": expires, "status": CardStatus.ACTIVE, "revoked_at": None,
                "revocation_reason": None, "superseded_by": None, "kid": self.kid.hex(),
                "renewal_code_hash": code_hash,
                "print_data": self.vault.encrypt(
                    data_key, json.dumps({"qr": self._qr(data, serial, issued, expires)})
                    .encode(), record_id=rid, field=f"card:{serial}"),
                "printed_at": issued + timedelta(days=1)
                if issued < self.now - timedelta(days=UNPRINTED_DAYS) else None,
            }
            if history:
                old = history[-1]
                old.update(status=CardStatus.SUPERSEDED, revoked_at=issued,
                           revocation_reason="superseded", superseded_by=serial)
            history.append(card)
            batch.events.append((issued, "card.issue", "card", serial, {"resident": rid}))
            renew_at = expires - timedelta(days=r.randrange(1, 60))
            if index < self.purge_candidates or renew_at >= self.now:
                break
            issued = renew_at.replace(microsecond=0)
        current = history[-1]
        row["last_card_expires_at"] = max(c["expires_at"] for c in history)
        row["updated_at"] = current["issued_at"]

        if not purged and index >= self.purge_candidates and r.random() < REVOKED_SHARE:
            reason = r.choice(cards.REVOCATION_REASONS)
            at = current["issued_at"] + (self.now - current["issued_at"]) * r.random()
            current.update(status=CardStatus.REVOKED, revoked_at=at, revocation_reason=reason)
            batch.events.append((at, "card.revoke", "card", current["serial"],
                                 {"reason": reason}))
        elif not purged and index >= self.purge_candidates and r.random() < RENEWAL_SHARE \
                / (1 - REVOKED_SHARE):
            self._request(r, rid, current, batch)

        if purged:
            at = self.now - timedelta(days=r.randrange(1, 365))
            row.update(wrapped_key=None, record=None, photo=None, blind_index=None,
                       family_year_index=None, purged_at=at)
            for card in history:
                card.update(print_data=None, renewal_code_hash=None)
            batch.events.append((at, "resident.purge", "resident", rid,
                                 {"reason": "retention"}))
        batch.cards.extend(history)

    def _request(self, r: random.Random, rid: str, card: dict[str, Any], batch: _Batch
                 ) -> None:
        kind = r.choice(("renew", "renew", "damaged", "lost"))
        created = card["issued_at"] + (self.now - card["issued_at"]) * r.random()
        pending = r.random() < 0.5
        request = {
            "id": secrets.token_urlsafe(18)[:24], "serial": card["serial"], "resident_id": rid,
            "kind": kind, "changes": None, "status": "pending" if pending else "rejected",
            "created_at": created, "decided_at": None if pending else created
            + timedelta(days=1), "decided_by": None if pending else ACTOR,
            "reject_reason": None if pending else "Please come to the desk.",
            "new_serial": None, "locale": "pt",
        }
        if kind == "lost":
            card.update(status=CardStatus.REVOKED, revoked_at=created, revocation_reason="lost")
            batch.events.append((created, "card.revoke", "card", card["serial"],
                                 {"reason": "lost", "by": "holder"}))
        batch.requests.append(request)
        batch.events.append((created, "request.create", "request", request["id"],
                             {"kind": kind, "card": card["serial"]}))
        if not pending:
            batch.events.append((created + timedelta(days=1), "request.reject", "request",
                                 request["id"], {}))


def _chain(conn: Connection, events: Sequence[tuple[datetime, str, str, str,
                                                      dict[str, object]]]
           ) -> list[dict[str, Any]]:
    """Audit rows for ``events``, chained from the current head; the head moves with them."""
    head = conn.execute(update(AuditHead).where(AuditHead.id == 1)
                        .values(seq=AuditHead.seq + len(events))
                        .returning(AuditHead.seq, AuditHead.hash)).one()
    seq, prev = int(head[0]) - len(events), str(head[1])
    rows = []
    for at, action, target_type, target_id, details in events:
        seq += 1
        digest = audit.entry_hash(prev_hash=prev, seq=seq, at=at, actor=ACTOR, action=action,
                                  target_type=target_type, target_id=target_id,
                                  details=details)
        rows.append({"seq": seq, "at": at, "actor": ACTOR, "action": action,
                     "target_type": target_type, "target_id": target_id, "details": details,
                     "prev_hash": prev, "hash": digest})
        prev = digest
    conn.execute(update(AuditHead).where(AuditHead.id == 1).values(hash=prev))
    return rows


def _copy(conn: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> None:
    """PostgreSQL COPY of ``rows`` into ``table`` (dicts keyed by column name)."""
    names = [c.name for c in table.columns]
    json_columns = {c.name for c in table.columns if c.type.__class__.__name__ == "JSON"}
    raw = conn.connection.driver_connection
    assert raw is not None
    columns = ", ".join(f'"{n}"' for n in names)
    with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([json.dumps(row[n], ensure_ascii=False, separators=(",", ":"))
                            if n in json_columns else row[n] for n in names])


def _write(conn: Connection, batch: _Batch, audit_rows: list[dict[str, Any]]) -> None:
    tables = ((Resident.__table__, batch.residents), (Card.__table__, batch.cards),
              (RenewalRequest.__table__, batch.requests), (AuditEntry.__table__, audit_rows))
    for table, rows in tables:
        if not rows:
            continue
        if conn.dialect.name == "postgresql":
            _copy(conn, table, rows)  # type: ignore[arg-type]
        else:
            conn.execute(insert(table), rows)  # type: ignore[arg-type]


def seeded_count(app: Application) -> int:
    """How many residents earlier runs seeded (the next index to seed)."""
    with app.db.engine.connect() as conn:
        value = conn.scalar(select(Counter.value).where(Counter.name == COUNTER))
    return int(value or 0)


_WORKER: _Seeder | None = None


def _make_batch(job: tuple[int, int]) -> _Batch:
    """Rows of residents ``[start, stop)`` (run in a worker process, or in this one)."""
    start, stop = job
    assert _WORKER is not None
    batch = _Batch()
    for index in range(start, stop):
        _WORKER.resident(index, batch, _WORKER.code_hash)
    return batch


def _store(app: Application, batch: _Batch, upto: int) -> int:
    """Write one batch and move the counter, in one transaction; returns the audit rows."""
    with app.db.engine.begin() as conn:
        counter = conn.execute(update(Counter).where(Counter.name == COUNTER)
                               .values(value=upto))
        if counter.rowcount == 0:  # type: ignore[attr-defined]
            conn.execute(insert(Counter).values(name=COUNTER, value=upto))
        audit_rows = _chain(conn, batch.events)
        _write(conn, batch, audit_rows)
    return len(audit_rows)


def seed(app: Application, *, count: int, batch_size: int = BATCH,
         purge_candidates: int = PURGE_CANDIDATES, workers: int = 1,
         now: datetime | None = None, progress: Callable[[int], None] | None = None
         ) -> SeedReport:
    """Seed until the register holds ``count`` seeded residents (resuming a cut-off run).

    The schema must be migrated and the city's keys made (``Application.upgrade_schema``,
    ``CityKeys.init``). Each batch of ``batch_size`` residents is one transaction, written
    in order by this process; with ``workers`` > 1, forked processes make the rows (the
    encryption, blind indexes and signatures) meanwhile.
    """
    global _WORKER
    now = now or utcnow()
    _WORKER = _Seeder(app, now=now, purge_candidates=purge_candidates)
    report = SeedReport(already=seeded_count(app))
    started = time.perf_counter()
    cpu_started = time.process_time() + _children_cpu()
    jobs = [(start, min(count, start + batch_size))
            for start in range(report.already, count, batch_size)]
    pool = None
    if workers > 1 and len(jobs) > 1:
        # Forked: the workers inherit the opened vault and signing key, never a connection
        # in use (the engine's pool is disposed first).
        app.db.dispose()
        pool = multiprocessing.get_context("fork").Pool(workers)
        batches: Iterable[_Batch] = pool.imap(_make_batch, jobs)
    else:
        batches = map(_make_batch, jobs)
    try:
        for (start, stop), batch in zip(jobs, batches, strict=True):
            try:
                report.audit_entries += _store(app, batch, stop)
            except IntegrityError:
                # Two processes drew the same random serial (about one chance in a thousand
                # at a million residents): draw this batch again.
                batch = _make_batch((start, stop))
                report.audit_entries += _store(app, batch, stop)
            report.residents += stop - start
            report.cards += len(batch.cards)
            report.requests += len(batch.requests)
            if progress is not None:
                progress(stop)
    finally:
        if pool is not None:
            pool.terminate()
            pool.join()
        _WORKER = None
    report.seconds = time.perf_counter() - started
    report.cpu_seconds = time.process_time() + _children_cpu() - cpu_started
    return report


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str] | None = None) -> None:
    """Seed the city of a configuration file (its schema migrated, its keys made)."""
    from cardservice.config import load_settings

    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("count", type=int, help="seeded residents the register should hold")
    ap.add_argument("--config", type=Path, required=True, help="the city's TOML file")
    ap.add_argument("--batch", type=int, default=BATCH)
    ap.add_argument("--purge-candidates", type=int, default=PURGE_CANDIDATES)
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="processes that make rows (default: one per core)")
    args = ap.parse_args(argv)
    app = Application(load_settings(args.config))
    try:
        report = seed(app, count=args.count, batch_size=args.batch,
                      purge_candidates=args.purge_candidates, workers=args.workers,
                      progress=lambda n: print(f"  {n}", file=sys.stderr, flush=True))
    finally:
        app.close()
    print(report.line())


if __name__ == "__main__":
    main()
