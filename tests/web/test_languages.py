"""The five interface languages: chosen from Accept-Language, each named in itself in the
switch, Arabic pages right to left (issue 13)."""

from __future__ import annotations

import re

import pytest

from cardservice.config import SUPPORTED_LOCALES
from tests.conftest import csrf_token

OWN_NAMES = {"en": "English", "fr": "Français", "pt": "Português", "es": "Español",
             "ar": "العربية"}


@pytest.mark.parametrize(("header", "lang", "direction"), [
    ("ar", "ar", "rtl"),
    ("ar-MA,ar;q=0.9,fr;q=0.5", "ar", "rtl"),
    ("pt-PT,pt;q=0.9,en;q=0.5", "pt", "ltr"),
    ("es-MX,es;q=0.9", "es", "ltr"),
    ("ar-EG,en;q=0.5", "ar", "rtl"),  # a regional variant still outweighs a lesser choice
    ("es-MX,en-US;q=0.7,en;q=0.3", "es", "ltr"),
    ("pt-BR", "pt", "ltr"),
    ("de-DE,fr;q=0.8,en;q=0.5", "fr", "ltr"),
    ("fr-FR,fr;q=0.9", "fr", "ltr"),
    ("de-DE,de;q=0.9", "en", "ltr"),  # no catalog: the city's default (tests: English)
])
def test_accept_language_sets_lang_and_direction(client, header, lang, direction) -> None:
    for path in ("/login", "/verify"):
        html = client.get(path, headers={"Accept-Language": header}).get_data(as_text=True)
        assert f'<html lang="{lang}" dir="{direction}">' in html, path


def test_the_switch_offers_each_language_in_its_own_name(client) -> None:
    for page_language in SUPPORTED_LOCALES:
        html = client.get("/login", headers={"Accept-Language": page_language}).get_data(
            as_text=True)
        select = re.search(r'<select id="lang-select" name="locale">(.*?)</select>', html, re.S)
        assert select is not None
        options = re.findall(r'<option value="([a-z]+)" lang="([a-z]+)"\s*(?:selected)?>'
                             r"([^<]+)</option>", select[1])
        assert [(value, name) for value, _, name in options] == list(OWN_NAMES.items())
        assert all(value == lang for value, lang, _ in options)
        assert re.search(f'<option value="{page_language}" [^>]*selected>', select[1])


def test_choosing_arabic_turns_the_pages_right_to_left(client) -> None:
    token = csrf_token(client)
    resp = client.post("/locale", data={"locale": "ar", "next": "/verify", "csrf_token": token},
                       headers={"Accept-Language": "en"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/verify")
    html = client.get("/verify", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="ar" dir="rtl">' in html


def test_an_unknown_language_cannot_be_chosen(client) -> None:
    token = csrf_token(client)
    client.post("/locale", data={"locale": "de", "next": "/login", "csrf_token": token})
    html = client.get("/login", headers={"Accept-Language": "pt"}).get_data(as_text=True)
    assert '<html lang="pt" dir="ltr">' in html


def test_the_installed_verifier_knows_its_direction(client) -> None:
    manifest = client.get("/verify/manifest.webmanifest",
                          headers={"Accept-Language": "ar"}).get_json(force=True)
    assert (manifest["lang"], manifest["dir"]) == ("ar", "rtl")
    manifest = client.get("/verify/manifest.webmanifest",
                          headers={"Accept-Language": "es"}).get_json(force=True)
    assert (manifest["lang"], manifest["dir"]) == ("es", "ltr")
