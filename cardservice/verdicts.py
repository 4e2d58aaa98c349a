"""Plain words for every verification status, marked for translation (``N_``).

Framework-free so that the web pages (web/verify_text.py, through Flask-Babel) and the
offline verification kit (verifykit.py, through Babel) say the same thing.
"""

from __future__ import annotations

from cardservice.errors import N_

TITLES = {
    "valid": N_("Valid card"),
    "expired": N_("Expired"),
    "not_yet_valid": N_("Not yet valid"),
    "revoked": N_("Revoked"),
    "bad_signature": N_("Not genuine"),
    "unknown_issuer": N_("Unknown city"),
    "unknown_key": N_("Not recognised"),
    "malformed": N_("Not a card code"),
    "partner_suspended": N_("City not recognised now"),
    "trust_expired": N_("City's trust data out of date"),
}
REASONS = {
    "valid": N_("This card is genuine and in force."),
    "expired": N_("This card is genuine but has expired. The holder can renew it."),
    "not_yet_valid": N_("This card is genuine but its validity has not started. Check the "
                        "device's date and time."),
    "revoked": N_("This card was cancelled (lost, stolen, replaced or withdrawn). Do not "
                  "accept it."),
    "bad_signature": N_("The code has been altered or was not made by the city. Do not accept "
                        "this card."),
    "unknown_issuer": N_("This card comes from a city whose cards are not recognised here."),
    "unknown_key": N_("The card was signed with a key this service does not know. Trust data "
                      "may be out of date."),
    "malformed": N_("This is not a local citizenship card code, or it was read incompletely. "
                    "Try again."),
    "partner_suspended": N_("Cards of this partner city are not recognised at the moment."),
    "trust_expired": N_("The trust data this service holds for this partner city has "
                               "expired, so its cards cannot be checked. Ask an administrator "
                               "to sync the partner city."),
}
#: Warnings a verdict may carry (``VerificationResult.warnings``), in plain words.
WARNINGS = {
    "revocations_stale": N_("This city's list of cancelled cards has not been updated here "
                            "recently: a card cancelled since then still shows as valid. Ask an "
                            "administrator to sync the partner city."),
}
