"""Verify requests per second under gunicorn, against a trivial endpoint of the same app.

Starts a real city (temp dir, SQLite, its own keys), serves it with gunicorn
(`cardservice serve`: 2 processes × 4 threads), issues one card, then drives both
endpoints with the same client (wrk when installed, else Python) in alternating rounds:

    POST /api/v1/verify {"qr": ...}   the full check: Base45, CBOR, Ed25519, revocation
    GET  /healthz                     the trivial endpoint: one `SELECT 1`

and prints the best round of each and their ratio (issue target: verify/trivial >= 0.6).
The client, Redis and the server share the same 2 cores, so absolute figures are lower
than on a real deployment; the ratio is what compares.

Usage: .venv/bin/python bench/bench_verify_http.py [--rounds 5] [--seconds 4] [--client wrk|python]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXE = Path(sys.executable).parent / "cardservice"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_city(tmp: Path, port: int, workers: int, limiter: str, threads: int
               ) -> tuple[subprocess.Popen[bytes], dict[str, str]]:
    keys = tmp / "keys"
    keys.mkdir(mode=0o700)
    cfg = tmp / "city.toml"
    cfg.write_text(
        f'[city]\nid = "PTLIS"\nname = "Lisboa"\nbase_url = "http://127.0.0.1:{port}"\n'
        f'[database]\nurl = "sqlite:///{tmp}/bench.db"\n[keys]\ndir = "{keys}"\n'
        f'[server]\ninstance_dir = "{tmp}"\nsecure_cookies = false\n'
        f'ratelimit_storage_url = "{limiter}"\n'
        f'[verify]\nrate_limit = "10000000 per minute"\n', encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARDSERVICE_")}
    env.update(CARDSERVICE_CONFIG=str(cfg), CARDSERVICE_SECRET_KEY=secrets.token_urlsafe(40),
               CARDSERVICE_KEY_PASSPHRASE=secrets.token_urlsafe(16))
    subprocess.run([str(EXE), "init"], env=env, check=True, capture_output=True)
    subprocess.run([str(EXE), "users", "add", "bench", "--role", "clerk"], env=env, check=True,
                   capture_output=True)
    token = subprocess.run([str(EXE), "users", "token", "bench"], env=env, check=True,
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]
    env["BENCH_TOKEN"] = token
    log = open(tmp / "server.log", "wb")  # noqa: SIM115 - open for the server's lifetime
    proc = subprocess.Popen([str(EXE), "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(workers), "--threads", str(threads)],
                            env=env, stdout=log, stderr=log)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return proc, env
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the city did not start")


def call(conn: http.client.HTTPConnection, method: str, path: str, body: bytes | None,
         headers: dict[str, str]) -> int:
    conn.request(method, path, body=body, headers=headers)
    resp = conn.getresponse()
    resp.read()
    return resp.status


def worker(port: int, method: str, path: str, body: bytes | None, seconds: float,
           conns: int, out: mp.Queue) -> None:  # type: ignore[type-arg]
    import threading

    counts = [0] * conns
    errors = [0] * conns
    stop = time.monotonic() + seconds
    headers = {"Content-Type": "application/json"}

    def loop(i: int) -> None:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while time.monotonic() < stop:
            try:
                status = call(c, method, path, body, headers)
            except (OSError, http.client.HTTPException) as exc:
                # A closed keep-alive connection: reconnect, count it, go on.
                print(f"connection error on {path}: {type(exc).__name__}", file=sys.stderr)
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                errors[i] += 1
                continue
            if status == 200:
                counts[i] += 1
            else:
                print(f"HTTP {status} on {path}", file=sys.stderr)
                errors[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((sum(counts), sum(errors)))


class FailedRequests(Exception):
    """The server answered something other than 200."""


def rate_wrk(port: int, method: str, path: str, body: bytes | None, seconds: float) -> float:
    """Requests per second measured by wrk (a C client: it leaves more CPU to the server)."""
    script = None
    if body is not None:
        fd, script = tempfile.mkstemp(suffix=".lua")
        with os.fdopen(fd, "w") as fh:
            fh.write(f'wrk.method = "{method}"\nwrk.body = {json.dumps(body.decode())}\n'
                     'wrk.headers["Content-Type"] = "application/json"\n')
    try:
        args = ["wrk", "-t1", "-c8", f"-d{seconds:.0f}s", f"http://127.0.0.1:{port}{path}"]
        if script:
            args[1:1] = ["-s", script]
        out = subprocess.run(args, capture_output=True, text=True, check=True).stdout
    finally:
        if script:
            os.unlink(script)
    if "Non-2xx" in out:
        raise FailedRequests(f"failed requests on {path}:\n{out}")
    return float(out.split("Requests/sec:")[1].split()[0])


def rate(port: int, method: str, path: str, body: bytes | None, seconds: float) -> float:
    q: mp.Queue = mp.Queue()  # type: ignore[type-arg]
    procs = [mp.Process(target=worker, args=(port, method, path, body, seconds, 4, q))
             for _ in range(2)]
    start = time.monotonic()
    for p in procs:
        p.start()
    results = [q.get() for _ in procs]
    for p in procs:
        p.join()
    elapsed = time.monotonic() - start
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    if errors:
        raise SystemExit(f"{errors} failed requests on {path}")
    return ok / elapsed


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4.0, help="length of one round")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--client", choices=["python", "wrk"],
                    default="wrk" if shutil.which("wrk") else "python",
                    help="load generator; wrk (Debian package) when installed")
    ap.add_argument("--limiter", default="memory://",
                    help="rate-limit storage: the default configuration keeps counts in each "
                         "process (memory://); redis://127.0.0.1:6379/14 shares them")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        proc, env = start_city(Path(d), port, args.workers, args.limiter, args.threads)
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            auth = {"Authorization": f"Bearer {env['BENCH_TOKEN']}",
                    "Content-Type": "application/json"}
            c.request("POST", "/api/v1/residents", body=json.dumps({
                "given_names": "Nguyễn Thị", "family_names": "Minh Khai",
                "date_of_birth": "1990-01-01", "address": {"line1": "Rua A 1"},
                "documents": ["passport", "utility_bill"]}), headers=auth)
            rid = json.loads(c.getresponse().read())["id"]
            c.request("POST", f"/api/v1/residents/{rid}/cards", headers=auth)
            qr = json.loads(c.getresponse().read())["qr"]
            body = json.dumps({"qr": qr}).encode()
            measure = rate_wrk if args.client == "wrk" else rate
            measure(port, "POST", "/api/v1/verify", body, 1.0)  # warm-up: caches, connections
            measure(port, "GET", "/healthz", None, 1.0)
            # Alternate short rounds and keep the best of each: other load on the machine
            # only ever slows a round down, so the best rounds compare like with like.
            trivial_runs, verify_runs = [], []
            for _ in range(args.rounds):
                trivial_runs.append(measure(port, "GET", "/healthz", None, args.seconds))
                verify_runs.append(measure(port, "POST", "/api/v1/verify", body, args.seconds))
        except FailedRequests as exc:
            print(exc, file=sys.stderr)
            print((Path(d) / "server.log").read_text(errors="replace")[-4000:], file=sys.stderr)
            raise SystemExit(1) from None
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    trivial, verify = max(trivial_runs), max(verify_runs)
    med = statistics.median
    client = ("wrk, 1 thread x 8 connections" if args.client == "wrk"
              else "python, 2 processes x 4 connections")
    print(f"gunicorn workers: {args.workers} ({args.threads} threads each), client: {client}, "
          f"{args.rounds} rounds of {args.seconds:.0f} s each, cores: {os.cpu_count()}, "
          f"rate limits in {args.limiter}")
    print(f"trivial  GET /healthz        {trivial:8.0f} req/s  best of "
          f"{', '.join(f'{r:.0f}' for r in trivial_runs)}")
    print(f"verify   POST /api/v1/verify {verify:8.0f} req/s  best of "
          f"{', '.join(f'{r:.0f}' for r in verify_runs)}")
    print(f"ratio verify / trivial       {verify / trivial:8.2f}   (target >= 0.6); "
          f"ratio of medians {med(verify_runs) / med(trivial_runs):.2f}")


if __name__ == "__main__":
    main()
