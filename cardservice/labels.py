"""Card labels in the city's languages, translated with the app's gettext catalogs.

Uses Babel directly (not Flask-Babel) so services and the CLI can print cards
outside a web request.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from babel.support import NullTranslations, Translations

from cardservice.cardpdf import CardLabels

TRANSLATIONS = Path(__file__).resolve().parent / "translations"


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog for ``locale`` (English text when there is none)."""
    return Translations.load(str(TRANSLATIONS), [locale], domain="messages")


@cache
def card_labels(locale: str, city_name: str) -> CardLabels:
    """The card's printed labels in one language."""
    _ = translations(locale).gettext
    return CardLabels(
        title=_("Local citizenship card"),
        name=_("Name"),
        preferred_name=_("Known as"),
        date_of_birth=_("Date of birth"),
        gender=_("Gender"),
        serial=_("Card number"),
        issued=_("Issued"),
        expires=_("Expires"),
        languages=_("Languages"),
        check_at=_("Check this card at"),
        return_to=_("If found, please return to"),
        back_notice=_("The holder of this card lives in %(city)s. This card says nothing "
                      "about immigration status. Check it by scanning the code.")
        % {"city": city_name},
    )
