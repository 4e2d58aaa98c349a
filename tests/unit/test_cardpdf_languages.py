"""The spoken-languages field of the card front: the second label language when it fits."""

from __future__ import annotations

import unicodedata

import pytest

from cardservice.cardpdf import InvalidCardDataError, UnsupportedCharactersError, render_card_pdf
from tests.unit.test_cardpdf import make_face, page_text


def front(**changes) -> str:
    return page_text(render_card_pdf(make_face(**changes)), 0)


def test_names_in_both_label_languages_when_the_line_fits():
    text = front(languages=("vietnamien",), languages_second=("Vietnamese",))
    assert "vietnamien / Vietnamese" in text


def test_the_first_label_language_alone_when_both_would_be_condensed():
    text = front(languages=("vietnamien", "portugais brésilien"),
                 languages_second=("Vietnamese", "Brazilian Portuguese"))
    assert "vietnamien, portugais brésilien" in text and "Vietnamese" not in text


def test_the_same_names_are_printed_once():
    # Two label languages may name a language alike.
    text = front(languages=("Tigrinya",), languages_second=("Tigrinya",))
    assert "Tigrinya" in text and "Tigrinya / Tigrinya" not in text


def test_at_most_two_and_every_printed_name_checked_against_the_fonts():
    with pytest.raises(InvalidCardDataError):
        make_face(languages_second=("a", "b", "c"))
    with pytest.raises(UnsupportedCharactersError) as caught:
        render_card_pdf(make_face(languages=("x",), languages_second=("ᬩᬮᬶ",)))  # Balinese
    assert caught.value.field == "languages"


def test_arabic_names_are_listed_with_the_arabic_comma():
    text = unicodedata.normalize("NFKC", front(languages=("العربية", "الفرنسية")))
    assert "،" in text and "," not in text
