"""Spoken languages: BCP 47 codes checked against CLDR, read from names, named per reader."""

from __future__ import annotations

import pytest

from cardservice import spokenlang

CANONICAL = {
    "a two-letter language": ("vi", "vi"),
    "a three-letter language": ("ckb", "ckb"),
    "upper case": ("TI", "ti"),
    "with a region, underscore": ("PT_br", "pt-BR"),
    "with a numeric region": ("es-419", "es-419"),
    "surrounding spaces": (" fr ", "fr"),
}


@pytest.mark.parametrize("given, expected", CANONICAL.values(), ids=CANONICAL.keys())
def test_codes_are_written_in_one_spelling(given, expected):
    assert spokenlang.check_code(given) == expected
    assert spokenlang.is_code(expected) and spokenlang.code_for(given) == expected


REFUSED = {
    "empty": "",
    "unknown language": "xx",
    "undetermined": "und",
    "no linguistic content": "zxx",
    "unknown region": "pt-XX",
    "a script subtag": "zh-Hans",
    "three subtags": "pt-BR-x",
    "a name": "English",
    "a number": 7,
    "nothing": None,
}


@pytest.mark.parametrize("value", REFUSED.values(), ids=REFUSED.keys())
def test_what_is_not_a_known_code_is_refused(value):
    with pytest.raises(spokenlang.LanguageCodeError):
        spokenlang.check_code(value)
    assert not spokenlang.is_code(value)


NAMES = {
    "English": ("Vietnamese", "vi"),
    "French": ("vietnamien", "vi"),
    "Portuguese autonym": ("Português", "pt"),
    "Spanish, no accent, capitals": ("PORTUGUES", "pt"),
    "Arabic": ("الفيتنامية", "vi"),
    "a regional variant CLDR names": ("portugais brésilien", "pt-BR"),
    "spaces inside": ("  Brazilian   Portuguese ", "pt-BR"),
}


@pytest.mark.parametrize("name, code", NAMES.values(), ids=NAMES.keys())
def test_names_in_the_service_languages_are_read_as_codes(name, code):
    assert spokenlang.code_for(name) == code


def test_what_is_no_language_reads_as_none():
    for text in ("", "   ", "Elvish of the hills", "xx", "pt-XX"):
        assert spokenlang.code_for(text) is None, text


def test_names_follow_the_reader_and_free_text_stays_as_typed():
    assert spokenlang.language_name("vi", "fr") == "vietnamien"
    assert spokenlang.language_name("vi", "en") == "Vietnamese"
    assert spokenlang.language_name("vi", "pt") == "vietnamita"
    assert spokenlang.language_name("pt-BR", "fr") == "portugais brésilien"
    # A region CLDR has no combined name for: language, then region.
    assert spokenlang.language_name("ar-MA", "fr") == "arabe (Maroc)"
    # Free text from before codes is shown as it was typed.
    assert spokenlang.language_name("Crioulo de Cabo Verde", "fr") == "Crioulo de Cabo Verde"
    assert spokenlang.language_names(["ti", "Vietnamese"], "en") == ["Tigrinya", "Vietnamese"]


def test_every_language_offered_is_a_code_sorted_by_its_name():
    listed = spokenlang.all_languages("fr")
    assert len(listed) > 500 and all(spokenlang.is_code(code) for code, _ in listed)
    names = [name for _, name in listed]
    assert names.index("allemand") < names.index("anglais") < names.index("éwé") \
        < names.index("français")  # accents ignored when sorting
    common = dict(spokenlang.all_languages("en", spokenlang.COMMON))
    assert set(common) == set(spokenlang.COMMON) and common["ti"] == "Tigrinya"
