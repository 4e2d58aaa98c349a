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
}


def init_app(app: Flask) -> None:
    """Make ``verdict_title`` and ``verdict_reason`` available to templates."""
    app.jinja_env.globals["verdict_title"] = lambda status: str(TITLES.get(status, status))
    app.jinja_env.globals["verdict_reason"] = lambda status: str(REASONS.get(status, ""))
