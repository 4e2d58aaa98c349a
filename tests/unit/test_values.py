"""Tests for cardservice.values, and that every name registration accepts goes on a card."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardservice import cardpdf, credential, values
from cardservice.errors import InvalidInputError
from cardservice.labels import card_labels
from cardservice.services import cards, residents
from tests.conftest import make_settings

from .conftest import CITY_EPOCH

TODAY = dt.date(2026, 6, 1)
ISSUED = CITY_EPOCH + dt.timedelta(days=30)
ENCODE = settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
RENDER = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module")
def city_settings(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("values")
    return make_settings(Path(tmp), database_url=f"sqlite:///{tmp}/db.sqlite")


def registration(**names: str) -> dict:
    return {"date_of_birth": "1984-07-09", "address": {"line1": "Rua A 1"},
            "documents": ["passport", "utility_bill"], **names}


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("city_id", "ok"),
    [("PTLIS", True), ("USNYC", True), ("DEHA2", True), ("PT0LS", False), ("PTL1S", False),
     ("ptlis", False), ("PTLI", False), ("PTLISB", False), (None, False)],
)
def test_city_id_is_a_locode_with_place_digits_2_to_9(city_id, ok):
    assert values.is_city_id(city_id) is ok


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("Ana\u202eSilva", values.ForbiddenCharacterError),  # bidi override
        ("Ana\u00adSilva", values.ForbiddenCharacterError),  # soft hyphen (Cf) prints nothing
        ("Ana\ue000", values.ForbiddenCharacterError),  # private use
        ("Ana\U000e0001", values.ForbiddenCharacterError),  # language tag (Cf)
        ("Jose\u0301", values.NotNormalisedError),
        (" Ana", values.SurroundingSpaceError),
        ("", values.EmptyValueError),
        ("A" * 101, values.TooLongError),
    ],
)
def test_printed_name_refuses(name, error):
    with pytest.raises(error):
        values.check_printed_name(name)


@pytest.mark.parametrize("name", ["José", "Nguyễn Thị Lan", "محمد", "王小明", "مهر\u200cناز"])
def test_printed_name_accepts_real_names(name):
    assert values.check_printed_name(name) == name


def test_card_name_wire_rule_does_not_judge_unassigned_code_points():
    # A partner on a newer Unicode may sign a name with a character we do not know.
    assert values.check_card_name("Ana\U000e0080") == "Ana\U000e0080"


def test_birth_date_range():
    assert values.check_birth_date(dt.date(1900, 1, 1), today=TODAY)
    for bad in (TODAY + dt.timedelta(days=1), dt.date(1890, 1, 1)):
        with pytest.raises(values.ValueRuleError):
            values.check_birth_date(bad, today=TODAY)
    # 130 years before 29 February is a day that does not exist: no crash.
    assert values.check_birth_date(dt.date(1900, 3, 1), today=dt.date(2028, 2, 29))


# --------------------------------------------------------------------------- registration


def test_registration_refuses_a_bidi_override_naming_the_field(city_settings):
    with pytest.raises(InvalidInputError) as caught:
        residents.parse_resident(registration(given_names="Ana\u202eSilva"),
                                 settings=city_settings, today=TODAY)
    assert caught.value.field == "given_names"


def test_registration_refuses_a_name_too_long_for_the_card(city_settings):
    with pytest.raises(InvalidInputError) as caught:
        residents.parse_resident(registration(given_names="A" * 60, family_names="B" * 60),
                                 settings=city_settings, today=TODAY)
    assert caught.value.field == "family_names"
    assert "Maximum length: 100" in str(caught.value.message)


def test_registration_accepts_the_longest_name_a_card_holds(city_settings):
    data = residents.parse_resident(registration(given_names="A" * 49, family_names="B" * 50),
                                    settings=city_settings, today=TODAY)
    assert len(data.full_name) == values.MAX_NAME_LENGTH


# --------------------------------------------------------------------------- property

_SPECIALS = st.sampled_from(
    ["\u202e", "\u202d", "\u2066", "\u200b", "\u200c", "\u200d", "\u00ad", "\u0301", "\u0323",
     "\ufeff", "\ue000", "\U0001f600", "\U0001f469\u200d\U0001f4bb", "\x00", "\n", "\u2028"]
)
_SCRIPTS = st.sampled_from(
    ["Nguyễn Thị Phương Thảo", "محمد بن سلمان", "王小明", "José María", "Ólafur", "Σωκράτης",
     "Чайковский", "אברהם", "ශ්‍රී", "Đặng Lập", "مهر\u200cناز", "Zoë O'Brien-Smith"]
)
_NAME_PART = st.one_of(
    st.text(max_size=90),
    st.lists(st.one_of(_SCRIPTS, _SPECIALS, st.text(max_size=8)), max_size=8).map("".join),
    st.integers(min_value=70, max_value=90).map(lambda n: "Ã" * n),
)


def _accepted(city_settings, given: str, family: str):
    """What registration accepts: the record parses and its card front lays out."""
    try:
        data = residents.parse_resident(registration(given_names=given, family_names=family),
                                        settings=city_settings, today=TODAY)
        cards.check_printable(city_settings, data, now=ISSUED)
    except InvalidInputError:
        return None
    return data


def _card(data, lisboa) -> str:
    holder = credential.Holder(name=data.full_name, date_of_birth=data.date_of_birth)
    claims = credential.CardClaims(issuer="PTLIS", serial="K7Q2M9XD4PP", issued_at=ISSUED,
                                   expires_at=ISSUED + dt.timedelta(days=365), holder=holder)
    return credential.encode_card(claims, signer_key=lisboa.signing_key,
                                  signer_cert=lisboa.signing)


@ENCODE
@given(given=_NAME_PART, family=_NAME_PART)
def test_every_registered_name_is_signed_and_read_back(city_settings, lisboa, given, family):
    data = _accepted(city_settings, given, family)
    if data is None:
        return
    qr = _card(data, lisboa)
    trust = credential.StaticTrustAnchors(roots=[lisboa.root],
                                          signing_certificates=[lisboa.signing])
    card = credential.verify_card(qr, trust=trust, now=ISSUED + dt.timedelta(days=1))
    assert card.claims.holder.name == data.full_name


@RENDER
@given(given=_NAME_PART, family=_NAME_PART)
def test_every_registered_name_prints(
    city_settings, lisboa, given, family
):
    data = _accepted(city_settings, given, family)
    if data is None:
        return
    # Registration asks for a Latin line when the fonts lack a letter of the name.
    assert not cardpdf.missing_glyphs(data.full_name)
    face = cardpdf.CardFace(
        city_id="PTLIS", city_name="Lisboa", serial="K7Q2-M9XD-4PP", issued_at=ISSUED.date(),
        expires_at=ISSUED.date() + dt.timedelta(days=365), name=data.full_name,
        date_of_birth=data.date_of_birth, qr_text=_card(data, lisboa),
        labels=(card_labels("en", "Lisboa"),),
    )
    assert cardpdf.render_card_pdf(face).startswith(b"%PDF")


@pytest.mark.parametrize("given, family", [
    ("A" * 49, "B" * 50),                    # two words, each wider than the name box
    ("Ana", "Silva\u202e"),                  # a bidi override would reverse the printed name
    ("A" * 60, "B" * 60),                    # longer than a card's name
    ("Ana", "\U00013000"),                   # no font on the card has this glyph
])
def test_registration_refuses_what_no_card_can_print(city_settings, given, family):
    assert _accepted(city_settings, given, family) is None


def test_the_layout_check_names_the_field(city_settings):
    data = residents.parse_resident(registration(given_names="A" * 49, family_names="B" * 50),
                                    settings=city_settings, today=TODAY)
    with pytest.raises(InvalidInputError) as info:
        cards.check_printable(city_settings, data, now=ISSUED)
    assert info.value.field == "family_names" and "does not fit on the card" in str(info.value)


@pytest.mark.parametrize("given, family", [
    ("Ana", "0" * 52),                                     # one long word: split inside it
    ("Hubert", "Wolfeschlegelsteinhausenbergerdorff"),
    ("Ana Maria", "Llanfairpwllgwyngyllgogerychwyrndrobwllllantysiliogogogoch"),
    ("Maria da Conceição Aparecida", "dos Santos Oliveira Pereira de Albuquerque Cavalcanti"),
])
def test_long_real_names_print(city_settings, given, family):
    assert _accepted(city_settings, given, family) is not None
