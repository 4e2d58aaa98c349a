"""Plain words for every verification status, in the agent's language."""

from __future__ import annotations

from flask import Flask
from flask_babel import lazy_gettext as _l

TITLES = {
    "valid": _l("Valid card"),
    "expired": _l("Expired"),
    "not_yet_valid": _l("Not yet valid"),
    "revoked": _l("Revoked"),
    "bad_signature": _l("Not genuine"),
    "unknown_issuer": _l("Unknown city"),
    "unknown_key": _l("Not recognised"),
    "malformed": _l("Not a card code"),
    "partner_suspended": _l("City not recognised now"),
    "trust_expired": _l("City's trust data out of date"),
}
REASONS = {
    "valid": _l("This card is genuine and in force."),
    "expired": _l("This card is genuine but has expired. The holder can renew it."),
    "not_yet_valid": _l("This card is genuine but its validity has not started. Check the "
                        "device's date and time."),
    "revoked": _l("This card was cancelled (lost, stolen, replaced or withdrawn). Do not "
                  "accept it."),
    "bad_signature": _l("The code has been altered or was not made by the city. Do not accept "
                        "this card."),
    "unknown_issuer": _l("This card comes from a city whose cards are not recognised here."),
    "unknown_key": _l("The card was signed with a key this service does not know. Trust data "
                      "may be out of date."),
    "malformed": _l("This is not a local citizenship card code, or it was read incompletely. "
                    "Try again."),
    "partner_suspended": _l("Cards of this partner city are not recognised at the moment."),
    "trust_expired": _l("The trust data this service holds for this partner city has "
                               "expired, so its cards cannot be checked. Ask an administrator "
                               "to sync the partner city."),
}
#: Warnings a verdict may carry (``VerificationResult.warnings``), in plain words.
WARNINGS = {
    "revocations_stale": _l("This city's list of cancelled cards has not been updated here "
                            "recently: a card cancelled since then still shows as valid. Ask an "
                            "administrator to sync the partner city."),
}

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
