"""Plain words for every verification status, in the agent's language."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

from cardservice import verdicts

TITLES = {status: _l(text) for status, text in verdicts.TITLES.items()}
REASONS = {status: _l(text) for status, text in verdicts.REASONS.items()}
#: Warnings a verdict may carry (``VerificationResult.warnings``), in plain words.
WARNINGS = {code: _l(text) for code, text in verdicts.WARNINGS.items()}

#: How a verdict looks: green for valid, red for a card to refuse, neutral (blue) when
#: only the reading failed and the agent should try again.
NEUTRAL = frozenset({"malformed"})


def verdict_kind(status: str) -> str:
    """``valid``, ``unreadable`` or ``invalid``: the verdict's colour and symbol."""
    return "valid" if status == "valid" else "unreadable" if status in NEUTRAL else "invalid"


def init_app(app: Flask) -> None:
    """Make ``verdict_title``, ``verdict_reason`` and ``verdict_warning`` available to templates."""
    app.jinja_env.globals["verdict_title"] = lambda status: str(TITLES.get(status, status))
    app.jinja_env.globals["verdict_reason"] = lambda status: str(REASONS.get(status, ""))
    app.jinja_env.globals["verdict_kind"] = verdict_kind
    app.jinja_env.globals["verdict_warning"] = lambda code: str(WARNINGS.get(code, code))
