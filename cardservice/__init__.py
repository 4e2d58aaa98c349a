"""cardservice: issue and verify local citizenship cards.

``create_app`` builds the web application; importing this package has no side
effects (no app, no keys, no connections).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cardservice.config import Settings, load_settings

if TYPE_CHECKING:
    from flask import Flask

__all__ = ["create_app"]

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES = PROJECT_ROOT / "templates"


def create_app(
    settings: Settings | None = None, *, overrides: Mapping[str, Any] | None = None,
) -> Flask:
    """Build the application for one city.

    ``settings`` default to the file named by ``CARDSERVICE_CONFIG``; ``overrides``
    are extra Flask config values (tests use them, e.g. ``TESTING``).
    """
    # Flask is imported here, not with the package: the upload decoder's child process
    # (``python -m cardservice.sandbox``) imports the package and needs no web framework.
    from flask import Flask

    if settings is None:
        settings = load_settings()
    app = Flask(__name__, template_folder=str(TEMPLATES), instance_path=str(settings.instance_dir))
    from cardservice.web import init_app

    init_app(app, settings, overrides or {})
    return app
