"""Fuzz a served city with ≥ 100,000 generated inputs; report the 5xx count and p99 latency.

Starts a real city (temp dir, SQLite, its own keys, ``cardservice serve`` on a free loopback
port, as tests/e2e/cities.py does), then client processes send, round-robin over targets:

- schemathesis over the served ``/api/v1/openapi.json``: positive and negative cases for
  every operation, with a clerk's or an admin's token so bodies reach the use cases;
- hostile JSON bodies (tests/fuzzbodies.py) to every JSON endpoint;
- hostile files: pictures to the verify form, photos to ``POST /api/v1/residents``,
  COSE bodies to ``/.well-known/citycard/recognition-requests``.

Each answer's status and latency (client side, request sent to body read) is recorded.
Goal: 0 answers ≥ 500. Rate limits stay on (renewals and recognition requests mostly get
429 after the first few, which is the service doing its job); verify's limit is lifted.

Usage: .venv/bin/python bench/bench_fuzz.py [--inputs 100000] [--minutes 20] [--clients 2]
       [--server-workers 2] [--batch 100]
Stops at whichever comes first, --inputs or --minutes, and says how many inputs ran.
"""

from __future__ import annotations

import argparse
import base64
import json
import multiprocessing as mp
import random
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.cities import LOOPBACK, City  # noqa: E402

JSON_TARGETS = [("POST", "/api/v1/verify", None), ("POST", "/api/v1/renewals", None),
                ("POST", "/api/v1/residents", "clerk"),
                ("PATCH", "/api/v1/residents/000000000000000000000000", "clerk"),
                ("POST", "/api/v1/cards/X/revoke", "clerk"),
                ("POST", "/api/v1/partners", "admin")]
ANA = {"given_names": "Ana Maria", "family_names": "Silva", "date_of_birth": "1990-04-12",
       "address": {"line1": "Rua das Flores 12"}, "documents": ["passport", "utility_bill"]}


def mutations(body: bytes, rng: random.Random, count: int) -> list[bytes]:
    """Cheap variants of a generated JSON body: byte flips, cuts, a deep wrap, a duplicated
    key, a hostile token spliced in (generating with Hypothesis costs ~100× more)."""
    out = []
    for _ in range(count):
        kind = rng.randrange(6)
        b = bytearray(body or b"{}")
        if kind == 0:
            for _ in range(rng.randint(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
        elif kind == 1:
            b = b[:rng.randrange(len(b) + 1)]
        elif kind == 2:
            depth = rng.choice([33, 1000, 20_000])
            b = bytearray(b'{"a":' * depth + bytes(b) + b"}" * depth)
        elif kind == 3 and b.startswith(b"{") and len(b) > 2:
            b = bytearray(b"{" + bytes(b[1:-1]) + b"," + bytes(b[1:-1]) + b"}")
        elif kind == 4:
            token = rng.choice([b"NaN", b"-Infinity", b"1e999", b"9" * 400, b'"\\ud800"', b"null",
                                b'"' + b"x" * 70_000 + b'"', b"[[[[[[[[[[]]]]]]]]]]"])
            at = rng.randrange(len(b) + 1)
            b = b[:at] + token + b[at:]
        else:
            b = bytearray(json.dumps({"nationality": "x", "documents": [
                {"category": "passport", "number": "X1"}], "x": body.decode("latin-1")[:500]
            }).encode())
        out.append(bytes(b))
    return out


def serve(city: City, workers: int) -> subprocess.Popen[bytes]:
    """``cardservice serve`` with ``workers`` processes; returns once /healthz answers."""
    log = open(city.log, "ab")  # noqa: SIM115 - kept open for the server's life
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "cardservice"), "serve", "--host", LOOPBACK,
         "--port", str(city.port), "--workers", str(workers)],
        env=city.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if city.api("GET", "/healthz", timeout=2).status == 200:
                return proc
        except OSError:
            time.sleep(0.2)
    proc.terminate()
    raise SystemExit(f"server did not start: {city.log_tail()}")


def client(index: int, url: str, tokens: dict[str, str], real: dict[str, str], quota: int,
           deadline: float, batch: int, mutate: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    """One client process: generate and send until ``quota`` inputs or ``deadline``."""
    import requests
    import schemathesis
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis.errors import HypothesisException, HypothesisWarning

    from tests import fuzzbodies

    warnings.simplefilter("ignore", HypothesisWarning)
    session = requests.Session()
    session.trust_env = False  # loopback only, whatever the proxy variables say
    schema = schemathesis.openapi.from_url(f"{url}/api/v1/openapi.json")
    fuzz = settings(max_examples=batch, deadline=None, database=None, phases=[Phase.generate],
                    suppress_health_check=list(HealthCheck))
    statuses: dict[int, int] = {}
    latencies: list[float] = []
    errors: list[str] = []
    kinds: dict[str, int] = {}
    rng = random.Random(index)
    sent = retried = 0

    def record(status: int, seconds: float, what: str, kind: str) -> None:
        nonlocal sent
        sent += 1
        kinds[kind] = kinds.get(kind, 0) + 1
        statuses[status] = statuses.get(status, 0) + 1
        latencies.append(seconds)
        if status >= 500 and len(errors) < 20:
            errors.append(what)

    def once(request: Any) -> int:
        """Send; a keep-alive connection the server closed while idle (gunicorn closes them
        after 2 s, and a POST is not retried by requests) is retried once on a new one."""
        nonlocal retried
        try:
            resp = request()
        except requests.ConnectionError as exc:
            if "RemoteDisconnected" not in str(exc):
                raise
            retried += 1
            resp = request()
        resp.content  # noqa: B018 - read the whole body inside the timing
        return int(resp.status_code)

    def send(method: str, path: str, *, kind: str, token: str | None = None,
             **kw: object) -> None:
        headers = dict(kw.pop("headers", {}) or {})  # type: ignore[call-overload]
        if token:
            headers["Authorization"] = f"Bearer {tokens[token]}"
        t0 = time.perf_counter()
        try:
            status = once(lambda: session.request(method, url + path, headers=headers,
                                                  timeout=60, **kw))
        except requests.RequestException as exc:
            status = 599  # no answer at all counts as a server failure
            path = f"{path} ({type(exc).__name__}: {str(exc)[:160]})"
        record(status, time.perf_counter() - t0, f"{method} {path} {str(kw)[:200]}", kind)

    targets = []
    for operation in schema.get_all_operations():
        op = operation.ok()
        role = "admin" if "/partners" in op.path else "clerk"
        fixed = {k: v for k, v in real.items() if "{" + k + "}" in op.path}
        variants = [("positive", None), ("negative", None)] + (
            [("positive", fixed)] if fixed else [])
        for mode, params in variants:
            strategy = op.as_strategy(generation_mode=schemathesis.GenerationMode(mode),
                                      path_parameters=params)

            def run_schema(strategy=strategy, role=role, op=op,
                           label=f"{op.label} {mode}{' (real ids)' if params else ''}") -> None:
                @fuzz
                @given(case=strategy)
                def each(case: schemathesis.Case) -> None:
                    case.headers = {**(case.headers or {}),
                                    "Authorization": f"Bearer {tokens[role]}"}
                    t0 = time.perf_counter()
                    try:
                        status = once(lambda: case.call(base_url=url, session=session,
                                                        timeout=60))
                    except requests.RequestException:
                        status = 599
                    record(status, time.perf_counter() - t0, f"{label}: {case.formatted_path} "
                                                             f"{str(case.body)[:200]}",
                           "schemathesis")
                    if mutate and op.body and case.body is not None:
                        raw = json.dumps(case.body, default=str).encode()
                        for variant in mutations(raw, rng, mutate):
                            send(op.method.upper(), case.formatted_path, kind="mutated",
                                 token=role, data=variant,
                                 headers={"Content-Type": "application/json"})
                    if sent >= quota or time.monotonic() > deadline:
                        raise _Enough
                each()
            targets.append(run_schema)
    for method, path, role in JSON_TARGETS:
        def run_json(method=method, path=path, role=role) -> None:
            @fuzz
            @given(body=fuzzbodies.hostile_json())
            def each(body: bytes) -> None:
                send(method, path, kind="hostile json", token=role, data=body,
                     headers={"Content-Type": "application/json"})
                if sent >= quota or time.monotonic() > deadline:
                    raise _Enough
            each()
        targets.append(run_json)

    def run_files() -> None:
        @fuzz
        @given(data=fuzzbodies.hostile_files())
        def each(data: bytes) -> None:
            send("POST", "/verify", kind="hostile file", files={"image": ("card", data)})
            send("POST", "/api/v1/residents", kind="hostile file", token="clerk",
                 json={**ANA, "photo": base64.b64encode(data).decode()})
            if sent >= quota or time.monotonic() > deadline:
                raise _Enough
        each()

    def run_cose() -> None:
        @fuzz
        @given(data=fuzzbodies.hostile_cose())
        def each(data: bytes) -> None:
            send("POST", "/.well-known/citycard/recognition-requests", kind="hostile cose",
                 data=data,
                 headers={"Content-Type": "application/cose"})
            if sent >= quota or time.monotonic() > deadline:
                raise _Enough
        each()
    targets += [run_files, run_files, run_cose]

    i = index
    while sent < quota and time.monotonic() < deadline and targets:
        target = targets[i % len(targets)]
        try:
            target()
        except _Enough:
            break
        except HypothesisException:
            targets.remove(target)  # e.g. a negative case of an operation without input
        i += 1
    out.put({"statuses": statuses, "latencies": latencies, "errors": errors, "kinds": kinds,
             "retried": retried})


class _Enough(Exception):
    """The quota or the time is used up."""


def real_ids(city: City) -> dict[str, str]:
    """A registered resident and its card, so some cases reach real records."""
    rid = city.api("POST", "/api/v1/residents", token=city.clerk_token, json=ANA).json["id"]
    card = city.api("POST", f"/api/v1/residents/{rid}/cards", token=city.clerk_token).json
    return {"resident_id": rid, "serial": card["serial"]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--inputs", type=int, default=100_000)
    parser.add_argument("--minutes", type=float, default=20.0)
    parser.add_argument("--clients", type=int, default=2)
    parser.add_argument("--server-workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=50,
                        help="Hypothesis examples per target in a turn")
    parser.add_argument("--mutate", type=int, default=3,
                        help="cheap mutations sent after each generated body")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-fuzz-") as tmp:
        city = City(Path(tmp), city_id="PTLIS", name="Lisboa")
        city.setup()
        server = serve(city, args.server_workers)
        try:
            tokens = {"clerk": city.clerk_token, "admin": city.admin_token}
            real = real_ids(city)
            start = time.monotonic()
            deadline = start + args.minutes * 60
            queue: mp.Queue = mp.Queue()  # type: ignore[type-arg]
            share = -(-args.inputs // args.clients)
            procs = [mp.Process(target=client, args=(i, city.url, tokens, real, share, deadline,
                                                     args.batch, args.mutate, queue))
                     for i in range(args.clients)]
            for p in procs:
                p.start()
            results = [queue.get() for _ in procs]
            for p in procs:
                p.join()
            elapsed = time.monotonic() - start
            alive = city.api("GET", "/healthz", timeout=10).status
        finally:
            server.terminate()
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
        log = city.log_tail(200_000)

    statuses: dict[int, int] = {}
    latencies: list[float] = []
    errors: list[str] = []
    kinds: dict[str, int] = {}
    retried = sum(r["retried"] for r in results)
    for r in results:
        for k, v in r["kinds"].items():
            kinds[k] = kinds.get(k, 0) + v
        for k, v in r["statuses"].items():
            statuses[k] = statuses.get(k, 0) + v
        latencies += r["latencies"]
        errors += r["errors"]
    total = sum(statuses.values())
    server_errors = sum(v for k, v in statuses.items() if k >= 500)
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    print(f"inputs sent          {total} in {elapsed:.0f} s ({total / elapsed:.0f}/s), "
          f"{args.clients} clients, {args.server_workers} server workers")
    print(f"answers ≥ 500        {server_errors}   (goal 0)")
    print(f"latency p50 / p99    {q[49] * 1000:.1f} ms / {q[98] * 1000:.1f} ms, "
          f"max {max(latencies) * 1000:.0f} ms")
    print("statuses             " + json.dumps(dict(sorted(statuses.items()))))
    print("inputs by source     " + json.dumps(dict(sorted(kinds.items()))))
    print(f"resent after idle keep-alive close   {retried}")
    print(f"/healthz after       {alive}")
    print(f"tracebacks in log    {log.count('Traceback')}; worker timeouts "
          f"{log.count('WORKER TIMEOUT')}; workers started {log.count('Booting worker')}")
    for e in errors[:10]:
        print("  5xx:", e)
    return 1 if server_errors else 0


if __name__ == "__main__":
    sys.exit(main())
