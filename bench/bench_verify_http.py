"""Verify requests per second under gunicorn, against a trivial endpoint of the same app.

Starts a real city (temp dir, SQLite, its own keys), serves it with gunicorn
(`cardservice serve`, 2 workers), issues one card, then drives both endpoints with
the same client (2 processes × 4 keep-alive connections each) for the same time:

    POST /api/v1/verify {"qr": ...}   the full check: Base45, CBOR, Ed25519, revocation
    GET  /healthz                     the trivial endpoint: one `SELECT 1`

and prints both rates and their ratio (issue target: verify/trivial >= 0.6). The client
runs on the same 2-core machine as the server, so absolute figures are lower than
on a real deployment; the ratio is what compares.

Usage: .venv/bin/python bench/bench_verify_http.py [--seconds 8] [--workers 2]
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import secrets
import socket
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


def start_city(tmp: Path, port: int, workers: int, limiter: str
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
    proc = subprocess.Popen([str(EXE), "serve", "--host", "127.0.0.1", "--port", str(port),
                             "--workers", str(workers)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
            status = call(c, method, path, body, headers)
            if status == 200:
                counts[i] += 1
            else:
                errors[i] += 1

    threads = [threading.Thread(target=loop, args=(i,)) for i in range(conns)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((sum(counts), sum(errors)))


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
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--limiter", default="redis://127.0.0.1:6379/14",
                    help="rate-limit storage, shared by the workers as in production "
                         "(memory:// gives each worker its own counts)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        port = free_port()
        proc, env = start_city(Path(d), port, args.workers, args.limiter)
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
            rate(port, "POST", "/api/v1/verify", body, 1.0)  # warm-up: caches, connections
            rate(port, "GET", "/healthz", None, 1.0)
            trivial = rate(port, "GET", "/healthz", None, args.seconds)
            verify = rate(port, "POST", "/api/v1/verify", body, args.seconds)
            trivial2 = rate(port, "GET", "/healthz", None, args.seconds)
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    base = (trivial + trivial2) / 2
    print(f"gunicorn workers: {args.workers}, client: 2 processes x 4 connections, "
          f"{args.seconds:.0f} s each, cores: {os.cpu_count()}, rate limits in {args.limiter}")
    print(f"trivial  GET /healthz        {base:8.0f} req/s  (runs: {trivial:.0f}, {trivial2:.0f})")
    print(f"verify   POST /api/v1/verify {verify:8.0f} req/s")
    print(f"ratio verify / trivial       {verify / base:8.2f}   (target >= 0.6)")


if __name__ == "__main__":
    main()
