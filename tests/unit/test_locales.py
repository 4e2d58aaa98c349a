"""Each interface language's own name and writing direction, from Babel's CLDR data."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cardservice.config import SUPPORTED_LOCALES
from cardservice.locales import is_right_to_left, own_name, text_direction
from cardservice.verifykit import OfflineKit, render_kit


@pytest.mark.parametrize(("code", "name", "direction"), [
    ("en", "English", "ltr"), ("fr", "Français", "ltr"), ("pt", "Português", "ltr"),
    ("es", "Español", "ltr"), ("ar", "العربية", "rtl"),
])
def test_own_name_and_direction(code: str, name: str, direction: str) -> None:
    assert own_name(code) == name
    assert text_direction(code) == direction
    assert is_right_to_left(code) is (direction == "rtl")


def test_the_five_languages_are_supported() -> None:
    assert set(SUPPORTED_LOCALES) == {"en", "fr", "pt", "es", "ar"}


@pytest.mark.parametrize(("locale", "direction"), [("ar", "rtl"), ("pt", "ltr")])
def test_offline_kit_page_declares_its_direction(locale: str, direction: str) -> None:
    kit = OfflineKit(city_id="PTLIS", city_name="Lisboa",
                     generated_at=datetime(2026, 11, 30, 12, 0, tzinfo=UTC),
                     max_age_hours=72, pins=[], documents=[])
    html = render_kit(kit, locale=locale, include_decoder=False).decode("utf-8")
    assert f'<html lang="{locale}" dir="{direction}">' in html
