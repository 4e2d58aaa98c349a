"""/healthz latency and server memory while 10 clients upload hostile files to /verify.

Starts a real city (temp dir, SQLite, its own keys) with `cardservice serve` (one worker,
4 threads, default [uploads] limits), then 10 client threads upload hostile files again
and again (Flate-in-ASCIIHex PDFs, a 14400 pt page, a white 7740x7740 PNG; see
tests/hostile.py) while /healthz is timed; the RSS of the server (master and worker) and
of the sandbox's children is read from /proc every 50 ms.

--server-path runs the server from another source tree (e.g. an export of main, for the
"before" figures): it is put first on the server's PYTHONPATH.

Usage: .venv/bin/python bench/bench_hostile_uploads.py [--clients 10] [--probes 20]
           [--server-path DIR]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests import hostile  # noqa: E402
from tests.e2e.cities import City  # noqa: E402
from tests.e2e.hostile_load import storm  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--probes", type=int, default=20)
    parser.add_argument("--server-path", type=Path, default=None)
    args = parser.parse_args()
    files = [("flate-in-hex.pdf", hostile.hex_wrapped_pdf()),
             ("huge-page.pdf", hostile.huge_page_pdf()),
             ("flate-in-hex-2.pdf", hostile.hex_wrapped_pdf()),
             ("white-7740.png", hostile.white_png())]
    with tempfile.TemporaryDirectory() as tmp:
        city = City(Path(tmp), city_id="PTLIS", name="Lisboa", with_clerk=False)
        if args.server_path is not None:
            city.env["PYTHONPATH"] = str(args.server_path.resolve())
        try:
            city.setup()
            city.start()
            assert city.process is not None
            result = storm(city.url, city.process.pid, files, clients=args.clients,
                           probes=args.probes)
        finally:
            city.stop()
    lat = sorted(result.healthz_seconds)
    print(f"server: {args.server_path or 'this tree'}; {args.clients} clients uploading")
    print(f"/healthz: median {statistics.median(lat):.3f} s, max {lat[-1]:.3f} s, "
          f"statuses {sorted(set(result.healthz_statuses))}")
    print(f"uploads in flight at the probes: min {min(result.uploads_in_flight_at_probes)}")
    print(f"upload answers: {dict(sorted(result.upload_statuses.items()))}")
    print(f"peak RSS: server {result.server_peak_mb:.0f} MB, "
          f"sandbox child {result.child_peak_mb:.0f} MB")


if __name__ == "__main__":
    main()
