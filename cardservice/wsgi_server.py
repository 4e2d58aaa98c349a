"""Run the app under gunicorn from ``cardservice serve`` (no separate config file needed)."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

from cardservice.config import Settings, per_process_limits_warning

_log = logging.getLogger("cardservice.server")


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self._settings = settings
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        from cardservice import create_app

        return create_app(self._settings)


def run_gunicorn(settings: Settings, *, host: str, port: int, workers: int,
                 threads: int = 4) -> None:
    """Serve with ``workers`` processes; each builds its own app after the fork."""
    warning = per_process_limits_warning(settings, processes=max(1, workers))
    if warning:
        warn_at_start(warning)
    if settings.metrics.enabled:
        shared_metrics_dir(settings)
    _Server(settings, {
        "bind": f"{host}:{port}",
        "workers": max(1, workers),
        # Threads let a worker overlap the waits on the database and Redis; they also keep
        # a slow client from holding a whole process. The app keeps no per-request globals.
        "worker_class": "gthread",
        "threads": threads,
        "accesslog": None,  # request lines would carry card serials and names in URLs
        "errorlog": "-",
        "timeout": 60,
        "graceful_timeout": 10,
        # gunicorn 27's control socket lives at one path per user: several cities (or
        # instances) on one host would steal each other's. We manage processes by signal.
        "control_socket_disable": True,
    }).run()


METRICS_DIR_ENV = "PROMETHEUS_MULTIPROC_DIR"


def shared_metrics_dir(settings: Settings) -> Path:
    """Make the workers keep request metrics in files they share, emptied at start.

    ``PROMETHEUS_MULTIPROC_DIR`` (default ``<instance_dir>/metrics``) is set before the
    workers are forked, so each imports prometheus_client in multiprocess mode; any worker
    answering ``/metrics`` then adds up every worker's counts. The files hold counts per
    route pattern only.
    """
    directory = Path(os.environ.get(METRICS_DIR_ENV) or settings.instance_dir / "metrics")
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    for stale in directory.glob("*.db"):  # counts of an earlier run would be added again
        stale.unlink()
    os.environ[METRICS_DIR_ENV] = str(directory)
    return directory


def warn_at_start(message: str) -> None:
    """Say ``message`` on stderr and in the log (once on stderr when the log is unset)."""
    if _log.hasHandlers():
        print(message, file=sys.stderr, flush=True)
    _log.warning(message)  # with no handler at all, Python's last resort prints it to stderr
