"""Instructions per card verification, counted by valgrind (not timed: load does not matter).

Wall-clock rates on this 2-core machine move by ±20 % with whatever else runs; the
number of instructions the CPU executes for one ``credential.verify_card`` does not.
The script runs the verify loop twice under ``valgrind --tool=callgrind`` (n and 6n
iterations) and reports the difference per verification, which cancels start-up
(interpreter, imports, key generation).

    .venv/bin/python bench/bench_verify_instructions.py             # this checkout
    .venv/bin/python bench/bench_verify_instructions.py --src DIR   # another checkout
    .venv/bin/python bench/bench_verify_instructions.py --compare DIR   # both, and the ratio

Needs valgrind (Debian package ``valgrind``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs inside the checkout under test: issue one card, verify it `n` times.
LOOP = r"""
import datetime as dt, sys
from cardservice import credential, pki
now = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
root_key, root = pki.generate_root(city_id="PTLIS", city_name="Lisboa", now=now)
key, cert = pki.issue_signing_certificate(root_key=root_key, root_cert=root, now=now,
                                          not_after=now + dt.timedelta(days=2000))
claims = credential.CardClaims(
    issuer="PTLIS", serial="K7Q2M9XD4PP", issued_at=now,
    expires_at=now + dt.timedelta(days=365),
    holder=credential.Holder(name="Ana Maria Conceição da Silva",
                             date_of_birth=dt.date(1990, 4, 12), gender="F"))
qr = credential.encode_card(claims, signer_key=key, signer_cert=cert)
trust = credential.StaticTrustAnchors(roots=[root], signing_certificates=[cert])
at = now + dt.timedelta(days=1)
for _ in range(int(sys.argv[1])):
    credential.verify_card(qr, trust=trust, now=at, is_revoked=lambda i, s: False)
"""


def instructions(src: Path, n: int) -> int:
    """Instructions executed by the loop with ``n`` verifications, in checkout ``src``."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "callgrind.out"
        # A fixed hash seed: set and dict orders (and so the instruction count) repeat.
        env = {**os.environ, "PYTHONPATH": str(src), "PYTHONHASHSEED": "0"}
        proc = subprocess.run(
            ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
             sys.executable, "-c", LOOP, str(n)],
            env=env, capture_output=True, text=True, check=True, cwd=tmp)
        m = re.search(r"Collected : (\d+)", proc.stderr)
        if m is None:
            raise SystemExit(f"valgrind gave no count:\n{proc.stderr[-2000:]}")
        return int(m.group(1))


def per_verify(src: Path, n: int) -> float:
    """Instructions per verification: the difference between 6n and n iterations."""
    return (instructions(src, 6 * n) - instructions(src, n)) / (5 * n)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--src", type=Path, default=ROOT, help="checkout to measure")
    parser.add_argument("--compare", type=Path, help="a baseline checkout to measure too")
    parser.add_argument("-n", type=int, default=200, help="verifications in the short run")
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("needs valgrind (apt-get install valgrind)")
        return 1
    here = per_verify(args.src, args.n)
    print(f"{args.src}: {here:,.0f} instructions per verify_card")
    if args.compare is not None:
        base = per_verify(args.compare, args.n)
        print(f"{args.compare}: {base:,.0f} instructions per verify_card")
        print(f"ratio (this / baseline): {here / base:.3f}  (below 1: fewer instructions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
