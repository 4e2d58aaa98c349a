"""The application object of the current Flask app (see ``cardservice.application``)."""

from __future__ import annotations

from flask import current_app

from cardservice.application import Application
from cardservice.config import Settings


def application() -> Application:
    """The current city's application layer: every use case a view may call."""
    app: Application = current_app.extensions["cardservice"]
    return app


def settings() -> Settings:
    """The current application's settings."""
    return application().settings
