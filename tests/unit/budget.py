"""Run a decoder on hostile bytes in a fresh process and measure what it cost.

A child process, because peak memory (ru_maxrss) is a high-water mark of the whole
process: measured inside the test run it would hide a new peak under older ones.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_CHILD = """
import json, resource, sys, time
import pypdfium2, zxingcpp  # imported before measuring, as in a running worker
from cardservice import photo, qr
data = open(sys.argv[1], "rb").read()
call = {"qr": qr.read_qr_from_file, "photo": photo.process_photo}[sys.argv[2]]
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.process_time()
try:
    call(data)
    error = None
except Exception as exc:  # the test decides which type is right
    error = f"{type(exc).__module__}.{type(exc).__name__}: {exc}"
cpu = time.process_time() - start
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"error": error, "cpu": cpu, "mb": (peak - base) / 1024}))
"""


@dataclass(frozen=True)
class Cost:
    """What one call cost: CPU seconds, extra peak memory (MB), the error it raised."""

    error: str | None
    cpu: float
    mb: float


def cost_of(decoder: str, data: bytes, tmp: Path) -> Cost:
    """Call ``qr.read_qr_from_file`` or ``photo.process_photo`` on ``data`` in a child."""
    path = tmp / "hostile.bin"
    path.write_bytes(data)
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", _CHILD, str(path), decoder], cwd=root,
                         env={"PYTHONPATH": str(root)}, capture_output=True, text=True,
                         timeout=120, check=True)
    return Cost(**json.loads(out.stdout))
