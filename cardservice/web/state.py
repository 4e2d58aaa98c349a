"""Per-application state and the per-request database session."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from flask import current_app, g
from sqlalchemy.orm import Session

from cardservice.config import Settings
from cardservice.db import Database
from cardservice.services.citykeys import CityKeys


@dataclass
class AppState:
    """What ``create_app`` attaches to the Flask app."""

    settings: Settings
    db: Database
    keys: CityKeys
    # Per-process caches of services (trust data, counters), created on first use.
    extras: dict[str, Any] = field(default_factory=dict)


def state() -> AppState:
    """The current application's state."""
    st: AppState = current_app.extensions["cardservice"]
    return st


def settings() -> Settings:
    """The current application's settings."""
    return state().settings


def keys() -> CityKeys:
    """The city's keys (loaded on first use)."""
    return state().keys


def session() -> Session:
    """The request's database session, opened on first use and closed at teardown."""
    if "db_session" not in g:
        g.db_session = state().db.sessions()
    s: Session = g.db_session
    return s


def close_session() -> None:
    """Close the request's session (rolling back anything not committed)."""
    s = g.pop("db_session", None)
    if s is not None:
        s.close()
