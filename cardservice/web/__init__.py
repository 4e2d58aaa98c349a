"""The web layer: extensions, security headers, error handling and blueprints."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from cardservice.application import Application
from cardservice.config import Settings
from cardservice.logjson import use_json_logs
from cardservice.web import errors, i18n, metrics, security
from cardservice.web.extensions import csrf, limiter


def init_app(app: Flask, settings: Settings, overrides: Mapping[str, Any]) -> None:
    """Configure ``app`` for ``settings`` and register everything."""
    app.config.update(
        SECRET_KEY=settings.secret_key,
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_NAME="__Host-session" if settings.secure_cookies else "session",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.auth.session_hours),
        MAX_CONTENT_LENGTH=12 * 1024 * 1024,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session
        RATELIMIT_STORAGE_URI=settings.ratelimit_storage_url,
        # Several cities may share one Redis: each counts under its own prefix.
        RATELIMIT_KEY_PREFIX=f"cardservice:{settings.city.id}",
        # X-RateLimit-* headers cost two storage round trips per request; 429 answers get
        # Retry-After from web.errors instead.
        RATELIMIT_HEADERS_ENABLED=False,
        # Explicit, because Flask-Limiter otherwise inherits the last app's setting.
        RATELIMIT_ENABLED=True,
        JSON_SORT_KEYS=False,
    )
    app.config.update(overrides)
    if settings.trusted_proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=settings.trusted_proxies, x_proto=settings.trusted_proxies,
            x_host=settings.trusted_proxies,
        )
    application = app.extensions["cardservice"] = Application(settings)
    # Read the emblem now: a file gone since the configuration was checked stops the
    # start with its ConfigError, instead of failing every page.
    branding = application.branding

    csrf.init_app(app)
    limiter.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    metrics.init_app(app, application, settings)

    from cardservice.web import (
        admin,
        alliances,
        api,
        auth,
        clerk,
        main,
        partners,
        queue,
        resident,
        verify,
        wellknown,
    )

    api.init_bodies(app)  # every request body, JSON or form, passes one door
    app.register_blueprint(main.bp)
    app.register_blueprint(auth.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(clerk.bp)
    app.register_blueprint(queue.bp)
    app.register_blueprint(api.bp)
    csrf.exempt(api.bp)  # the JSON API authenticates with bearer tokens, not cookies
    verify.init_app(app)
    resident.init_app(app)
    partners.init_app(app)
    alliances.init_app(app)
    wellknown.init_app(app)

    @app.context_processor
    def _city() -> dict[str, object]:
        return {"city_name": settings.city.name,
                "city_emblem": branding.emblem is not None}

    logging.getLogger("cardservice").setLevel(logging.INFO)
    if settings.log_format == "json":
        use_json_logs("cardservice")
