"""``make run``: a demo city (Lisboa, PTLIS) on SQLite, served on http://127.0.0.1:5000.

DEMO ONLY. To need no set-up, it keeps its session secret and key passphrase in
``instance/demo-secrets.env`` (mode 0600) next to the database. A real city sets
them in the environment (see README) and never stores the passphrase beside the keys.
A second run reuses everything it made the first time.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTANCE = ROOT / "instance"
CONFIG = INSTANCE / "demo.toml"
EMBLEM = INSTANCE / "demo-emblem.png"
SECRETS = INSTANCE / "demo-secrets.env"

DEMO_TOML = """\
# Demo city made by `make run`. DEMO ONLY: see cardservice/demo.py.
[city]
id = "PTLIS"
name = "Lisboa"
base_url = "http://127.0.0.1:5000"
languages = ["pt", "en"]   # labels in Portuguese and English; pages in Portuguese by default

[database]
url = "sqlite:///demo.db"

[keys]
dir = "../keys"

[branding]
emblem = "demo-emblem.png"   # drawn by cardservice/demo_seed.py; a real city uses its own
colour = "#1d1d1b"
return_to = "Loja do Cidadão (demo), Rua do Arsenal 15, Lisboa"

[server]
instance_dir = "."
secure_cookies = false   # plain HTTP on loopback; production runs behind TLS with true
"""


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)


def _load_secrets() -> dict[str, str]:
    if not SECRETS.exists():
        _write_private(SECRETS, (
            "# DEMO ONLY: a real city keeps these out of files next to its keys.\n"
            f"CARDSERVICE_SECRET_KEY={secrets.token_urlsafe(48)}\n"
            f"CARDSERVICE_KEY_PASSPHRASE={secrets.token_urlsafe(24)}\n"
        ))
    values = {}
    for line in SECRETS.read_text(encoding="utf-8").splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def main() -> int:
    """Initialise the demo city if needed, then serve it."""
    INSTANCE.mkdir(exist_ok=True)
    # git does not keep directory modes: a fresh clone's keys/ is 0755, the app wants 0700.
    (ROOT / "keys").mkdir(exist_ok=True)
    (ROOT / "keys").chmod(0o700)
    if not CONFIG.exists():
        from cardservice.demo_seed import gyronny_emblem

        EMBLEM.write_bytes(gyronny_emblem())
        CONFIG.write_text(DEMO_TOML, encoding="utf-8")
    env = dict(os.environ)
    env.update(_load_secrets())
    env["CARDSERVICE_CONFIG"] = str(CONFIG)
    env.pop("CARDSERVICE_DATABASE_URL", None)
    exe = Path(sys.executable).parent / "cardservice"
    print("== cardservice demo city: Lisboa (PTLIS) — DEMO ONLY, not for real residents")
    first = not (INSTANCE / "demo.db").exists()
    init = subprocess.run([str(exe), "init", "--admin", "admin"], env=env, check=False)  # noqa: S603
    if init.returncode != 0:
        return init.returncode
    if first:  # a few clearly marked demo residents, so the desk, queue and verifier show
        subprocess.run([sys.executable, "-m", "cardservice.demo_seed"], env=env,  # noqa: S603
                       check=False)
    else:
        print("== reusing the demo city from an earlier run (delete instance/ and keys/* to start"
              " over; `cardservice users reset-password admin` gives a new admin password)")
    print("== serving on http://127.0.0.1:5000  (Ctrl-C to stop)")
    # One process: the demo is the embedded single-process city (SQLite, rate limits counted
    # in memory without a second worker to count apart).
    os.execve(str(exe), [str(exe), "serve", "--host", "127.0.0.1", "--port", "5000",  # noqa: S606
                         "--workers", "1", "--threads", "8"], env)
    return 0  # pragma: no cover - execve does not return


if __name__ == "__main__":
    sys.exit(main())
