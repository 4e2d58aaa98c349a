"""The renewal slip: an A4 page with the serial, the code, what to do, in the given language."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pypdfium2 as pdfium
import pytest

from cardservice.slippdf import RenewalSlip, SlipLabels, SlipTextError, render_slip_pdf

MM = 72 / 25.4

FR = SlipLabels(
    title="Feuillet de renouvellement",
    serial="Numéro de carte",
    renewal_code="Code de renouvellement",
    renew_heading="Renouveler ou remplacer votre carte",
    renew_online="En ligne, avec le numéro de carte, votre date de naissance et ce code :",
    renew_desk="Ou au guichet, avec votre carte ou ce feuillet.",
    lost_heading="Si votre carte est perdue ou volée",
    lost_text="Signalez-le tout de suite en ligne avec ce feuillet et votre date de naissance, "
              "ou au guichet : la carte est annulée aussitôt.",
    desk_heading="Guichet",
    desk_address="Adresse",
    desk_hours="Horaires",
    warning="Gardez ce feuillet chez vous, à part de votre carte.",
    only_here="Ce code n'est imprimé que sur ce feuillet.",
)
AR = replace(FR, title="قسيمة التجديد", warning="احتفظ بهذه القسيمة في المنزل بعيدا عن بطاقتك.")


def make_slip(**changes: Any) -> RenewalSlip:
    slip = RenewalSlip(city_name="Lyon", serial="7K3M-9QXP-2HW", renewal_code="ABCD-EFGH",
                       resident_url="https://carte.lyon.example/card/", labels=FR)
    return replace(slip, **changes)


def text_of(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        return "\n".join(page.get_textpage().get_text_bounded() for page in doc)
    finally:
        doc.close()


def test_one_a4_page_with_serial_code_and_french_text():
    pdf = render_slip_pdf(make_slip())
    doc = pdfium.PdfDocument(pdf)
    assert len(doc) == 1
    width, height = doc[0].get_size()
    assert abs(width - 210 * MM) < 0.5 and abs(height - 297 * MM) < 0.5
    doc.close()
    text = text_of(pdf).replace("\r\n", " ").replace("\n", " ")
    for expected in ("Lyon", "Feuillet de renouvellement", "7K3M-9QXP-2HW", "ABCD-EFGH",
                     "Code de renouvellement", "https://carte.lyon.example/card/",
                     "Gardez ce feuillet chez vous", "Si votre carte est perdue ou volée",
                     "Ce code n'est imprimé que sur ce feuillet."):
        assert expected in text, expected


def test_desk_lines_only_when_configured():
    bare = text_of(render_slip_pdf(make_slip()))
    assert "Guichet\r\n" not in bare and "Horaires" not in bare and "Adresse" not in bare
    full = text_of(render_slip_pdf(make_slip(desk_address="1 place de la Comédie\n69001 Lyon",
                                             desk_hours="Lundi–vendredi, 9 h–17 h")))
    for expected in ("Guichet", "Adresse", "1 place de la Comédie", "69001 Lyon", "Horaires",
                     "Lundi–vendredi, 9 h–17 h"):
        assert expected in full, expected
    only_hours = text_of(render_slip_pdf(make_slip(desk_hours="9 h–17 h")))
    assert "Horaires" in only_hours and "Adresse" not in only_hours


def test_no_serial_or_code_in_the_metadata_and_same_bytes_each_time():
    pdf = render_slip_pdf(make_slip())
    assert pdf == render_slip_pdf(make_slip())  # no clock, no random id
    doc = pdfium.PdfDocument(pdf)
    meta = doc.get_metadata_dict()
    doc.close()
    assert "ABCD" not in str(meta) and "7K3M" not in str(meta)


def test_right_to_left_labels_print():
    text = text_of(render_slip_pdf(make_slip(labels=AR)))
    assert "ABCD-EFGH" in text and "7K3M-9QXP-2HW" in text


def test_long_text_flows_onto_a_second_page():
    long = replace(FR, lost_text="Signalez la perte au guichet. " * 200)
    pdf = render_slip_pdf(make_slip(labels=long))
    assert len(pdfium.PdfDocument(pdf)) >= 2
    assert "ABCD-EFGH" in text_of(pdf)


@pytest.mark.parametrize("changes, field", [
    ({"desk_address": "ᬩᬮᬶ"}, "desk_address"),
    ({"city_name": "Lyon\u202e"}, "city_name"),
    ({"labels": replace(FR, warning="\U00013000")}, "labels.warning"),
])
def test_characters_no_font_has_are_refused_naming_the_field(changes, field):
    with pytest.raises(SlipTextError) as err:
        render_slip_pdf(make_slip(**changes))
    assert err.value.field == field


@pytest.mark.parametrize("changes, field", [
    ({"renewal_code": " "}, "renewal_code"),
    ({"serial": ""}, "serial"),
    ({"labels": replace(FR, warning="")}, "labels.warning"),
])
def test_empty_texts_are_refused(changes, field):
    with pytest.raises(SlipTextError) as err:
        make_slip(**changes)
    assert err.value.field == field
