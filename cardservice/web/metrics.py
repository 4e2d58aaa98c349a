"""``/metrics``: numbers an operator can watch, in the Prometheus text format.

Nothing here is about a person: requests are labelled with the route's *pattern*
(``/api/v1/cards/<serial>``, never the path, which can carry a serial), the method and
the status class; verifications are counted by status only; the rest are queue lengths,
ages and days left.

Processes: request counts and latencies live in each process. Under ``cardservice
serve`` with several workers, ``PROMETHEUS_MULTIPROC_DIR`` makes prometheus_client keep
them in files that every worker writes and any worker reads back on a scrape
(``wsgi_server`` sets and empties it). The other numbers are read from the database at
scrape time, so whichever worker answers gives the same answer.
"""

from __future__ import annotations

import hmac
import os
import time
from collections.abc import Iterator

from flask import Flask, Response, abort, g, request
from flask.typing import ResponseReturnValue
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from cardservice.application import Application
from cardservice.clock import utcnow
from cardservice.config import Settings
from cardservice.errors import N_, AuthenticationError
from cardservice.web.access import PUBLIC, api

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
UNMATCHED = "<unmatched>"  # a path no route matched (a 404 or 405): never the path itself
_EXTENSION = "cardservice.metrics"


class _DatabaseNumbers(Collector):
    """Numbers read from the database (and this process's unflushed counts) at scrape time."""

    def __init__(self, application: Application) -> None:
        self._application = application

    def describe(self) -> list[Metric]:
        """Nothing up front: registering must not reach the database."""
        return []

    def collect(self) -> Iterator[Metric]:
        """One read-only unit of work per scrape."""
        n = self._application.monitoring.numbers(now=utcnow())
        verifications = CounterMetricFamily(
            "cardservice_verifications", "Card verifications by outcome status (counts only).",
            labels=["status"])
        for status, total in sorted(n.verifications.items()):
            verifications.add_metric([status], total)
        yield verifications
        yield GaugeMetricFamily("cardservice_renewal_queue_length",
                                "Residents' requests waiting for a clerk.", value=n.renewal_queue)
        age = GaugeMetricFamily("cardservice_partner_sync_age_seconds",
                                "Seconds since each partner city's last successful sync "
                                "(NaN: never synced).", labels=["partner"])
        for city, seconds in sorted(n.partner_sync_age_seconds.items()):
            age.add_metric([city], float("nan") if seconds is None else seconds)
        yield age
        for name, doc, days in (
                ("cardservice_signing_key_days_left",
                 "Days until the current signing key stops signing cards.",
                 n.signing_key_days_left),
                ("cardservice_root_days_left", "Days until the city root certificate expires.",
                 n.root_days_left)):
            if days is not None:
                yield GaugeMetricFamily(name, doc, value=days)


class _RequestMetrics:
    """Request counts and latencies of one app, per route pattern, method and status class."""

    def __init__(self, database: Collector) -> None:
        self.database = database
        self.registry = CollectorRegistry()
        self.registry.register(database)
        self.requests = Counter("cardservice_http_requests", "HTTP requests answered.",
                                ["route", "method", "status"], registry=self.registry)
        self.latency = Histogram("cardservice_http_request_duration_seconds",
                                 "Time to answer HTTP requests.", ["route", "method"],
                                 registry=self.registry)

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        self.requests.labels(route, method, f"{status // 100}xx").inc()
        self.latency.labels(route, method).observe(seconds)


def _exposition(database: Collector, own: CollectorRegistry) -> bytes:
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # every worker's request counts, added up
        registry.register(database)
        return generate_latest(registry)
    return generate_latest(own)


def init_app(app: Flask, application: Application, settings: Settings) -> None:
    """Time every request; serve ``/metrics`` (404 unless ``[metrics] enabled``)."""
    metrics = app.extensions[_EXTENSION] = _RequestMetrics(_DatabaseNumbers(application))
    enabled = settings.metrics.enabled
    token = settings.metrics.token.encode()

    if enabled:
        @app.before_request
        def _start_timer() -> None:
            g.metrics_started = time.perf_counter()

        @app.after_request
        def _count(response: Response) -> Response:
            started = g.pop("metrics_started", None)
            if started is not None:
                rule = request.url_rule.rule if request.url_rule is not None else UNMATCHED
                metrics.observe(rule, request.method, response.status_code,
                                time.perf_counter() - started)
            return response

    @app.get("/metrics")
    @api(PUBLIC)  # guarded by its own token below, not by a staff account
    def prometheus_metrics() -> ResponseReturnValue:
        """The Prometheus exposition, for a scraper holding the metrics token."""
        if not enabled:
            abort(404)
        scheme, _, given = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(given.strip().encode(),
                                                                  token):
            raise AuthenticationError(N_("Send the metrics token: "
                                         "'Authorization: Bearer <token>'."))
        body = _exposition(metrics.database, metrics.registry)
        return Response(body, content_type=CONTENT_TYPE_LATEST,
                        headers={"Cache-Control": "no-store"})
