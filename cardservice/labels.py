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


def N_(message: str) -> str:  # noqa: N802 - the gettext convention for "mark, translate later"
    """Mark a string for extraction; it is translated where it is shown."""
    return message


@cache
def translations(locale: str) -> NullTranslations:
    """The compiled catalog for ``locale`` (English text when there is none)."""
    return Translations.load(str(TRANSLATIONS), [locale], domain="messages")


@cache
def card_labels(locale: str, city_name: str) -> CardLabels:
    """The card's printed labels in one language."""
    t = translations(locale).gettext
    return CardLabels(
        title=t("Local citizenship card"),
        name=t("Name"),
        preferred_name=t("Known as"),
        date_of_birth=t("Date of birth"),
        gender=t("Gender"),
        serial=t("Card number"),
        issued=t("Issued"),
        expires=t("Expires"),
        languages=t("Languages"),
        renewal_code=t("Renewal code"),
        back_notice=t("The holder of this card lives in %(city)s. This card says nothing "
                      "about immigration status. Check it by scanning the code.")
        % {"city": city_name},
    )
