"""Languages: the user's choice first, then their profile, then ``Accept-Language``."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, g, request, session
from flask_babel import Babel

from cardservice.config import SUPPORTED_LOCALES
from cardservice.locales import own_name, text_direction
from cardservice.web.state import settings

TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
# Each language in its own name, so a reader finds theirs whatever the page's language.
LANGUAGE_NAMES = {code: own_name(code) for code in SUPPORTED_LOCALES}

babel = Babel()


def select_locale() -> str:
    """Pick the locale for this request."""
    chosen = session.get("locale")
    if chosen in SUPPORTED_LOCALES:
        return str(chosen)
    user = g.get("user")
    if user is not None and user.locale in SUPPORTED_LOCALES:
        return str(user.locale)
    return accepted_locale() or settings().default_locale


def accepted_locale() -> str | None:
    """The browser's most wanted language that we have, by its primary subtag.

    Werkzeug's ``best_match`` prefers any exact match to a regional variant, so
    ``ar-EG,en;q=0.5`` would give English; here ``ar-EG`` gives Arabic, as its weight says.
    """
    for value, _quality in request.accept_languages:  # best first
        primary = value.replace("_", "-").split("-")[0].casefold()
        if primary in SUPPORTED_LOCALES:
            return primary
    return None


def ui_locales() -> list[str]:
    """The languages the pages (and printed papers) can be shown in: Flask-Babel's catalogs."""
    found = {str(locale) for locale in babel.list_translations()}
    return [code for code in SUPPORTED_LOCALES if code in found] or [settings().default_locale]


def init_app(app: Flask) -> None:
    """Bind Flask-Babel to ``app``."""
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    babel.init_app(app, locale_selector=select_locale)

    @app.context_processor
    def _languages() -> dict[str, object]:
        locale = select_locale()
        return {"language_names": LANGUAGE_NAMES, "current_locale": locale,
                "text_direction": text_direction(locale)}
