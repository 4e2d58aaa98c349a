"""Tests for cardservice.credential: encoding, every verification status, tampering, density."""

from __future__ import annotations

import datetime as dt
import sys
import unicodedata
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import base45
import cbor2
import pytest
import segno
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cardservice import credential as c
from cardservice import pki

from .conftest import CITY_EPOCH, KeyedCity, make_city, seeded_key

SECOND = dt.timedelta(seconds=1)
DAY = dt.timedelta(days=1)
ISSUED = CITY_EPOCH + 10 * DAY
EXPIRES = ISSUED + 5 * 365 * DAY
SERIAL = "7K2M9XD4P3Q"  # 11 characters, the length cardservice.serials makes

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

NAMES = {
    "ascii": "Ana Maria Silva",
    "portuguese": "João Conceição d'Araújo",
    "spanish": "María José Fernández-Núñez",
    "polish": "Łukasz Żółkiewski",
    "turkish": "Gülşen Yılmaz İnce",
    "romanian": "Ștefan Țăranu",
    "cyrillic": "Мария Ивановна Петрова",
    "greek": "Αικατερίνη Παπαδοπούλου",
    "arabic": "عبد الرحمن بن محمد",
    "persian with ZWNJ": "محمدرضا حسینی\u200cنژاد",
    "hebrew": "אברהם רוזנברג",
    "vietnamese": "Nguyễn Thị Phương Thảo",
    "chinese": "王小明",
    "japanese": "山田 花子",
    "korean": "김민준",
    "thai": "สมศักดิ์ ศรีสุวรรณ",
    "amharic": "አበበ ከበደ",
    "mixed scripts": "Olga Ивановa-Smith",
    "decomposed (NFD) kept as typed": unicodedata.normalize("NFD", "José Müller"),
    "emoji": "Ana 🌻 Silva",
    "longest allowed": "A" * c.MAX_NAME_LENGTH,
}


def claims(
    *,
    name: str = "Ana Maria Silva",
    issuer: str = "PTLIS",
    serial: str = SERIAL,
    issued_at: dt.datetime = ISSUED,
    expires_at: dt.datetime = EXPIRES,
    gender: str | None = "F",
    born: dt.date = dt.date(1984, 7, 9),
) -> c.CardClaims:
    return c.CardClaims(
        issuer=issuer,
        serial=serial,
        issued_at=issued_at,
        expires_at=expires_at,
        holder=c.Holder(name=name, date_of_birth=born, gender=gender),
    )


def trust_of(*cities: KeyedCity, roots: list | None = None) -> c.StaticTrustAnchors:
    return c.StaticTrustAnchors(
        roots=roots if roots is not None else [x.root for x in cities],
        signing_certificates=[x.signing for x in cities],
    )


def issue(city: KeyedCity, card: c.CardClaims | None = None) -> str:
    return c.encode_card(card or claims(), signer_key=city.signing_key, signer_cert=city.signing)


def cose_of(qr: str) -> bytes:
    data = base45.b45decode(qr[len(c.PREFIX) :])
    return zlib.decompress(data) if data[0] == 0x78 else data


def qr_of(cose: bytes) -> str:
    return c.PREFIX + base45.b45encode(cose).decode()


def outcome(qr, trust, now=ISSUED + DAY, **kw) -> str:
    """The status a card gets; any exception other than a verification error propagates."""
    try:
        return c.verify_card(qr, trust=trust, now=now, **kw).status
    except c.CardVerificationError as exc:
        assert exc.status in c.STATUSES
        return exc.status


@pytest.fixture(scope="module")
def impostor() -> KeyedCity:
    """Same names as Lisboa (CN=Lisboa, PTLIS), other keys: what a forger would make."""
    return make_city("PTLIS", "Lisboa", seed="impostor")


@pytest.fixture(scope="module")
def good(lisboa) -> str:
    return issue(lisboa)


# --------------------------------------------------------------------------- round trip


@pytest.mark.parametrize("name", NAMES.values(), ids=NAMES.keys())
def test_round_trip_keeps_every_claim_exactly(lisboa, name):
    card = claims(name=name)
    qr = issue(lisboa, card)
    assert qr.startswith("LC1:")
    verified = c.verify_card(qr, trust=trust_of(lisboa), now=ISSUED)
    assert verified.claims == card
    assert verified.claims.holder.name == name
    assert verified.kid == lisboa.kid and verified.certificate == lisboa.signing
    assert verified.status == "valid"


@pytest.mark.parametrize("gender", [None, "F", "M", "X"])
def test_gender_is_optional(lisboa, gender):
    card = claims(gender=gender)
    assert c.verify_card(issue(lisboa, card), trust=trust_of(lisboa), now=ISSUED).claims == card


@pytest.mark.parametrize("born", [dt.date(1900, 1, 1), dt.date(1969, 12, 31), dt.date(2026, 2, 28)])
def test_dates_of_birth_before_and_after_1970(lisboa, born):
    card = claims(born=born)
    verified = c.verify_card(issue(lisboa, card), trust=trust_of(lisboa), now=ISSUED)
    assert verified.claims.holder.date_of_birth == born


def test_wire_format_is_the_documented_one(lisboa, good):
    cose = cose_of(good)
    message = cbor2.loads(cose)
    assert message.tag == 18
    protected, unprotected, payload, signature = message.value
    assert cbor2.loads(protected) == {1: -8, 4: lisboa.kid}
    assert unprotected == {} and len(signature) == 64
    raw = cbor2.loads(payload)
    assert list(raw) == [1, 4, 6, 7, -70001]  # deterministic (sorted) order
    assert raw[1] == "PTLIS" and raw[7] == SERIAL.encode()
    assert raw[6] == int(ISSUED.timestamp()) and raw[4] == int(EXPIRES.timestamp())
    assert raw[-70001] == ["Ana Maria Silva", (dt.date(1984, 7, 9) - dt.date(1970, 1, 1)).days, "F"]


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("Ana Silva", "text"),
        ("João", "text"),  # one accent: the id byte would cost what it saves
        ("João Conceição", 1),
        ("Łukasz Żółkiewski", 2),
        ("Мария Петрова", 3),
        ("Αικατερίνη", 4),
        ("Gülşen Yılmaz", 5),
        ("אברהם רוזנברג", 6),
        ("عبد الرحمن", 7),
        ("Nguyễn Thị Phương Thảo", 9),
        ("สมศักดิ์ ศรีสุวรรณ", 10),
        ("Ștefan Țăranu", 11),
        ("王小明李", 12),
        ("محمدرضا حسینی", "text"),  # Persian yeh is in no single-byte table: UTF-8
        (unicodedata.normalize("NFD", "João Conceição"), "text"),  # exact, not normalised
    ],
)
def test_holder_name_takes_its_shortest_exact_form(name, form):
    encoded = c._encode_name(name)
    if form == "text":
        assert encoded == name
    else:
        assert isinstance(encoded, bytes) and encoded[0] == form
        assert len(encoded) < len(name.encode())
        codec = c.NAME_ENCODINGS[form][0]
        assert unicodedata.normalize("NFC", encoded[1:].decode(codec)) == name


def test_vietnamese_tones_are_combining_marks_in_windows_1258():
    # ễ is ê (one byte) + combining tilde; ậ is â + combining dot below.
    assert c._code_page_form("Nguyễn Lập", "cp1258").decode("cp1258") == "Nguyê\u0303n Lâ\u0323p"
    encoded = c._encode_name("Nguyễn Thị Phương Thảo")
    assert encoded[0] == 9
    assert c._decode_compact_name(encoded) == "Nguyễn Thị Phương Thảo"


def test_non_utc_times_are_stored_in_utc():
    plus_two = dt.timezone(dt.timedelta(hours=2))
    card = claims(issued_at=ISSUED.astimezone(plus_two))
    assert card.issued_at == ISSUED and card.issued_at.tzinfo is dt.UTC


@pytest.mark.parametrize(
    "make",
    [
        pytest.param(lambda: claims(issued_at=ISSUED.replace(tzinfo=None)), id="naive time"),
        pytest.param(lambda: claims(issued_at=ISSUED + dt.timedelta(microseconds=5)), id="µs"),
        pytest.param(lambda: claims(expires_at=ISSUED), id="expires at issue"),
        pytest.param(lambda: claims(expires_at=ISSUED - SECOND), id="expires before issue"),
        pytest.param(lambda: claims(issuer="ptlis"), id="issuer lower case"),
        pytest.param(lambda: claims(issuer="PT LIS"), id="issuer with space"),
        pytest.param(lambda: claims(serial=""), id="empty serial"),
        pytest.param(lambda: claims(serial="AB CD"), id="serial with space"),
        pytest.param(lambda: claims(serial="ÄBC"), id="serial not ASCII"),
        pytest.param(lambda: claims(serial="A" * 33), id="serial too long"),
        pytest.param(lambda: claims(gender="female"), id="gender word"),
        pytest.param(lambda: claims(gender=""), id="gender empty"),
        pytest.param(lambda: claims(name=""), id="empty name"),
        pytest.param(lambda: claims(name=" Ana"), id="leading space"),
        pytest.param(lambda: claims(name="Ana\n"), id="trailing newline"),
        pytest.param(lambda: claims(name="Ana\x00Silva"), id="NUL"),
        pytest.param(lambda: claims(name="Ana\u202eavlis"), id="bidi override"),
        pytest.param(lambda: claims(name="Ana\u2028Silva"), id="line separator"),
        pytest.param(lambda: claims(name="A" * (c.MAX_NAME_LENGTH + 1)), id="name too long"),
        pytest.param(
            lambda: c.Holder("Ana", dt.datetime(1984, 7, 9, tzinfo=dt.UTC), None),  # type: ignore[arg-type]
            id="datetime as birth date",
        ),
    ],
)
def test_claims_that_cannot_go_on_a_card_are_refused(make):
    with pytest.raises(c.InvalidClaimsError):
        make()


def test_forbidden_name_characters_are_exactly_the_documented_categories():
    bidi = set(range(0x202A, 0x202F)) | set(range(0x2066, 0x206A))
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        expected = unicodedata.category(ch) in ("Cc", "Cs", "Zl", "Zp") or cp in bidi
        assert bool(c._NAME_FORBIDDEN.search(ch)) == expected, hex(cp)


def test_encode_refuses_a_key_that_is_not_the_certificates(lisboa, lyon):
    with pytest.raises(c.InvalidClaimsError):
        c.encode_card(claims(), signer_key=lyon.signing_key, signer_cert=lisboa.signing)


def test_encode_refuses_another_citys_certificate(lyon):
    with pytest.raises(c.InvalidClaimsError):
        c.encode_card(claims(issuer="PTLIS"), signer_key=lyon.signing_key, signer_cert=lyon.signing)


@pytest.mark.parametrize(
    "card",
    [
        pytest.param(lambda cert: claims(issued_at=cert.not_valid_before_utc - SECOND), id="early"),
        pytest.param(lambda cert: claims(expires_at=cert.not_valid_after_utc + SECOND), id="late"),
    ],
)
def test_encode_refuses_a_card_outliving_its_certificate(lisboa, card):
    with pytest.raises(c.InvalidClaimsError):
        c.encode_card(
            card(lisboa.signing), signer_key=lisboa.signing_key, signer_cert=lisboa.signing
        )


def test_encoding_is_deterministic(lisboa):
    assert issue(lisboa) == issue(lisboa)


# --------------------------------------------------------------------------- statuses


@dataclass(frozen=True)
class World:
    """The cities a scenario may use."""

    lisboa: KeyedCity
    lyon: KeyedCity
    impostor: KeyedCity


@dataclass(frozen=True)
class Case:
    """A named verification scenario: how to make the card, trust and time, and the verdict."""

    qr: Callable[[World], str]
    trust: Callable[[World], c.TrustAnchors]
    now: dt.datetime
    error: type[c.CardVerificationError] | None
    claims_attached: bool = False
    revoked: bool = False


class SuspendedPartner:
    def roots_for(self, issuer):
        raise c.PartnerSuspendedError("Lisboa's cards are not recognised at the moment.")

    def signing_certificates_for(self, issuer, kid):
        return ()


CASES = {
    "valid": Case(lambda w: issue(w.lisboa), lambda w: trust_of(w.lisboa), ISSUED, None),
    "valid among several cities": Case(
        lambda w: issue(w.lisboa), lambda w: trust_of(w.lyon, w.lisboa), ISSUED, None
    ),
    "expired": Case(
        lambda w: issue(w.lisboa), lambda w: trust_of(w.lisboa), EXPIRES, c.ExpiredError, True
    ),
    "not yet valid": Case(
        lambda w: issue(w.lisboa),
        lambda w: trust_of(w.lisboa),
        ISSUED - SECOND,
        c.NotYetValidError,
        True,
    ),
    "revoked": Case(
        lambda w: issue(w.lisboa),
        lambda w: trust_of(w.lisboa),
        ISSUED,
        c.RevokedError,
        True,
        revoked=True,
    ),
    "unknown issuer": Case(
        lambda w: issue(w.lisboa), lambda w: trust_of(w.lyon), ISSUED, c.UnknownIssuerError
    ),
    "unknown kid": Case(
        lambda w: issue(w.lisboa),
        lambda w: c.StaticTrustAnchors(roots=[w.lisboa.root]),
        ISSUED,
        c.UnknownKeyError,
    ),
    "signed by a look-alike root's certificate": Case(
        lambda w: issue(w.impostor),
        lambda w: c.StaticTrustAnchors(
            roots=[w.lisboa.root], signing_certificates=[w.lisboa.signing, w.impostor.signing]
        ),
        ISSUED,
        c.UntrustedKeyError,
    ),
    "certificate of another city's root filed under this city": Case(
        lambda w: c.unsafe_encode_card(claims(), signer_key=w.lyon.signing_key, kid=w.lyon.kid),
        lambda w: _FiledUnder(w.lisboa, w.lyon),
        ISSUED,
        c.UntrustedKeyError,
    ),
    "known kid, other key": Case(
        lambda w: c.unsafe_encode_card(
            claims(), signer_key=w.impostor.signing_key, kid=w.lisboa.kid
        ),
        lambda w: trust_of(w.lisboa),
        ISSUED,
        c.BadSignatureError,
    ),
    "issued before the certificate's validity": Case(
        lambda w: c.unsafe_encode_card(
            claims(issued_at=CITY_EPOCH - SECOND), signer_key=w.lisboa.signing_key, kid=w.lisboa.kid
        ),
        lambda w: trust_of(w.lisboa),
        ISSUED,
        c.SignedOutsideValidityError,
    ),
    "expiring after the certificate": Case(
        lambda w: c.unsafe_encode_card(
            claims(expires_at=w.lisboa.signing.not_valid_after_utc + SECOND),
            signer_key=w.lisboa.signing_key,
            kid=w.lisboa.kid,
        ),
        lambda w: trust_of(w.lisboa),
        ISSUED,
        c.SignedOutsideValidityError,
    ),
    "not a card": Case(
        lambda w: "HELLO", lambda w: trust_of(w.lisboa), ISSUED, c.MalformedCardError
    ),
    "partner suspended": Case(
        lambda w: issue(w.lisboa), lambda w: SuspendedPartner(), ISSUED, c.PartnerSuspendedError
    ),
}


class _FiledUnder:
    """Trust that files a foreign signing certificate under this city's id (a bad bundle)."""

    def __init__(self, city: KeyedCity, foreign: KeyedCity) -> None:
        self.city, self.foreign = city, foreign

    def roots_for(self, issuer):
        return [self.city.root] if issuer == self.city.city_id else []

    def signing_certificates_for(self, issuer, kid):
        return [self.foreign.signing] if kid == self.foreign.kid else []


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_verification_statuses(lisboa, lyon, impostor, case):
    w = World(lisboa, lyon, impostor)
    qr = case.qr(w)
    trust = case.trust(w)
    asked = []

    def is_revoked(issuer, serial):
        asked.append((issuer, serial))
        return case.revoked

    if case.error is None:
        verified = c.verify_card(qr, trust=trust, now=case.now, is_revoked=is_revoked)
        assert verified.status == "valid"
        assert asked == [("PTLIS", SERIAL)]
        return
    with pytest.raises(case.error) as info:
        c.verify_card(qr, trust=trust, now=case.now, is_revoked=is_revoked)
    err = info.value
    assert err.status == case.error.status and err.status in c.STATUSES
    assert err.message and str(err) == err.message
    if case.claims_attached:
        assert err.claims == claims()
    else:
        assert err.claims is None  # no holder unless the signature checked out


def test_every_status_has_an_error_class():
    statuses = {cls.status for cls in _subclasses(c.CardVerificationError)}
    statuses.add(c.VerifiedCard.status)
    assert statuses == set(c.STATUSES)


def _subclasses(cls):
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


def test_untrusted_and_outside_validity_map_to_documented_statuses():
    assert c.UntrustedKeyError.status == "unknown_key"
    assert issubclass(c.UntrustedKeyError, c.UnknownKeyError)
    assert c.SignedOutsideValidityError.status == "bad_signature"
    assert issubclass(c.SignedOutsideValidityError, c.BadSignatureError)


def test_revocation_is_not_asked_for_a_card_that_fails_earlier(lisboa, good):
    def is_revoked(issuer, serial):
        raise AssertionError("asked")

    with pytest.raises(c.ExpiredError):
        c.verify_card(good, trust=trust_of(lisboa), now=EXPIRES, is_revoked=is_revoked)


def test_a_candidate_that_does_not_chain_is_skipped(lisboa, impostor):
    # Two certificates share the kid lookup; only the one that chains is used.
    class Both:
        def roots_for(self, issuer):
            return [lisboa.root]

        def signing_certificates_for(self, issuer, kid):
            return [impostor.signing, lisboa.signing]

    verified = c.verify_card(issue(lisboa), trust=Both(), now=ISSUED)
    assert verified.certificate == lisboa.signing


def test_naive_now_is_a_programming_error(lisboa, good):
    with pytest.raises(ValueError):
        c.verify_card(good, trust=trust_of(lisboa), now=ISSUED.replace(tzinfo=None))


def test_verification_after_the_signing_period_still_works(tmp_path, passphrase):
    """A rotated-away certificate still verifies the cards it signed (KeyStore + credential)."""
    store = pki.KeyStore(tmp_path / "keys", passphrase=passphrase)
    store.init(city_id="PTLIS", city_name="Lisboa", now=CITY_EPOCH)
    old = store.active_signer(now=ISSUED)
    qr = c.encode_card(claims(), signer_key=old.key, signer_cert=old.certificate)
    store.rotate(now=ISSUED + DAY)
    trust = c.StaticTrustAnchors(
        roots=[store.root_certificate()], signing_certificates=store.signing_certificates()
    )
    assert c.verify_card(qr, trust=trust, now=EXPIRES - SECOND).kid == old.kid


# --------------------------------------------------------------------------- time, to the second


def test_validity_boundaries_to_the_second(lisboa, good):
    trust = trust_of(lisboa)
    tiny = dt.timedelta(microseconds=1)
    assert outcome(good, trust, ISSUED - SECOND) == "not_yet_valid"
    assert outcome(good, trust, ISSUED - tiny) == "not_yet_valid"
    assert outcome(good, trust, ISSUED) == "valid"
    assert outcome(good, trust, EXPIRES - SECOND) == "valid"
    assert outcome(good, trust, EXPIRES - tiny) == "valid"
    assert outcome(good, trust, EXPIRES) == "expired"
    assert outcome(good, trust, EXPIRES + SECOND) == "expired"


@PROPERTY
@given(offset=st.integers(min_value=-3 * 86400, max_value=5 * 365 * 86400 + 3 * 86400))
def test_status_over_time_is_exactly_the_validity_interval(lisboa, good, offset):
    now = ISSUED + dt.timedelta(seconds=offset)
    lifetime = int((EXPIRES - ISSUED).total_seconds())
    expected = "not_yet_valid" if offset < 0 else "expired" if offset >= lifetime else "valid"
    assert outcome(good, trust_of(lisboa), now) == expected


@PROPERTY
@given(
    start=st.integers(min_value=-400, max_value=400),
    length=st.integers(min_value=1, max_value=2 * 86400),
    cert_days=st.integers(min_value=1, max_value=3),
)
def test_cards_outside_their_certificates_validity_are_refused(start, length, cert_days):
    """Whatever the card's interval, it verifies only if it lies within the certificate's."""
    city = _short_city(cert_days)
    nb, na = city.signing.not_valid_before_utc, city.signing.not_valid_after_utc
    issued = nb + dt.timedelta(seconds=start)
    expires = issued + dt.timedelta(seconds=length)
    qr = c.unsafe_encode_card(
        claims(issued_at=issued, expires_at=expires), signer_key=city.signing_key, kid=city.kid
    )
    inside = nb <= issued and expires <= na
    status = outcome(qr, trust_of(city), now=issued)
    assert status == ("valid" if inside else "bad_signature")


_SHORT_CITIES: dict[int, KeyedCity] = {}


def _short_city(days: int) -> KeyedCity:
    """Lisboa with a signing certificate valid ``days`` days from CITY_EPOCH + 1 day."""
    if days not in _SHORT_CITIES:
        root_key, root = pki.generate_root(
            city_id="PTLIS", city_name="Lisboa", now=CITY_EPOCH, private_key=seeded_key("short")
        )
        start = CITY_EPOCH + DAY
        key, cert = pki.issue_signing_certificate(
            root_key=root_key,
            root_cert=root,
            now=start,
            not_after=start + days * DAY,
            private_key=seeded_key(f"short {days}"),
        )
        _SHORT_CITIES[days] = KeyedCity("PTLIS", root_key, root, key, cert)
    return _SHORT_CITIES[days]


# --------------------------------------------------------------------------- tampering


@PROPERTY
@given(data=st.data())
def test_any_changed_byte_of_the_cose_message_is_not_valid(lisboa, good, data):
    cose = cose_of(good)
    index = data.draw(st.integers(min_value=0, max_value=len(cose) - 1), label="index")
    value = data.draw(st.integers(min_value=0, max_value=255).filter(lambda v: v != cose[index]))
    tampered = cose[:index] + bytes([value]) + cose[index + 1 :]
    assert outcome(qr_of(tampered), trust_of(lisboa), ISSUED) != "valid"


@PROPERTY
@given(data=st.data())
def test_any_changed_character_of_the_qr_text_is_not_valid(lisboa, good, data):
    index = data.draw(st.integers(min_value=0, max_value=len(good) - 1), label="index")
    alphabet = c._B45_ALPHABET + "abcxyz:;!é\x00"
    char = data.draw(st.sampled_from(alphabet).filter(lambda ch: ch != good[index]))
    tampered = good[:index] + char + good[index + 1 :]
    assert outcome(tampered, trust_of(lisboa), ISSUED) != "valid"


@pytest.mark.parametrize("index", range(len("LC1:") + 200))
def test_every_position_of_a_card_matters(lisboa, good, index):
    """Exhaustive over the first characters: the next base45 character at each position."""
    if index >= len(good):
        pytest.skip("card shorter")
    alphabet = c._B45_ALPHABET
    if good[index] in alphabet:
        char = alphabet[(alphabet.index(good[index]) + 1) % len(alphabet)]
    else:
        char = "X"
    tampered = good[:index] + char + good[index + 1 :]
    assert outcome(tampered, trust_of(lisboa), ISSUED) != "valid"


def test_added_or_removed_characters_are_not_valid(lisboa, good):
    trust = trust_of(lisboa)
    for tampered in (good + "0", good + "00", good + "000", good[:-1], good[:-3], " " + good):
        assert outcome(tampered, trust, ISSUED) != "valid"


# Other encodings of the same message: each one refused, so a card has one spelling.
def _reencode(cose: bytes, fn) -> bytes:
    message = cbor2.loads(cose)
    return fn(message.value)


NON_CANONICAL = {
    "unprotected header not empty": lambda v: cbor2.dumps(
        cbor2.CBORTag(18, [v[0], {4: cbor2.loads(v[0])[4]}, v[2], v[3]])
    ),
    "protected header in the long length form": lambda v: (
        b"\xd2\x84\x58\x0d" + v[0] + cbor2.dumps(v[1]) + cbor2.dumps(v[2]) + cbor2.dumps(v[3])
    ),
    "payload in a 16-bit length form": lambda v: (
        b"\xd2\x84"
        + cbor2.dumps(v[0])
        + b"\xa0\x59"
        + len(v[2]).to_bytes(2, "big")
        + v[2]
        + cbor2.dumps(v[3])
    ),
    "trailing byte": lambda v: cbor2.dumps(cbor2.CBORTag(18, v)) + b"\x00",
    "untagged array": lambda v: cbor2.dumps(v),
    "COSE_Sign tag 98": lambda v: cbor2.dumps(cbor2.CBORTag(98, v)),
    "indefinite array": lambda v: b"\xd2\x9f" + b"".join(cbor2.dumps(x) for x in v) + b"\xff",
    "alg ES256 (-7)": lambda v: cbor2.dumps(
        cbor2.CBORTag(18, [cbor2.dumps({1: -7, 4: cbor2.loads(v[0])[4]}), {}, v[2], v[3]])
    ),
    "kid first": lambda v: cbor2.dumps(
        cbor2.CBORTag(18, [cbor2.dumps({4: cbor2.loads(v[0])[4], 1: -8}), {}, v[2], v[3]])
    ),
    "detached payload": lambda v: cbor2.dumps(cbor2.CBORTag(18, [v[0], {}, None, v[3]])),
}


@pytest.mark.parametrize("make", NON_CANONICAL.values(), ids=NON_CANONICAL.keys())
def test_other_encodings_of_the_envelope_are_malformed(lisboa, good, make):
    tampered = _reencode(cose_of(good), make)
    assert tampered != cose_of(good)
    assert outcome(qr_of(tampered), trust_of(lisboa), ISSUED) == "malformed"


# --------------------------------------------------------------------------- malformed input


@PROPERTY
@given(text=st.text(max_size=400))
def test_arbitrary_text_is_malformed(lisboa, text):
    assert outcome(text, trust_of(lisboa)) == "malformed"


@PROPERTY
@given(text=st.text(alphabet=c._B45_ALPHABET, max_size=400))
def test_arbitrary_base45_text_after_the_prefix_is_malformed(lisboa, text):
    assert outcome("LC1:" + text, trust_of(lisboa)) == "malformed"


@PROPERTY
@given(blob=st.binary(max_size=400))
def test_arbitrary_bytes_never_escape_as_another_exception(lisboa, blob):
    trust = trust_of(lisboa)
    for data in (blob, b"\xd2" + blob, zlib.compress(blob), cose_of(issue(lisboa))[:16] + blob):
        assert outcome(qr_of(data), trust) != "valid"


@pytest.mark.parametrize("value", [None, b"LC1:", 42, ["LC1:"], bytearray(b"LC1:")])
def test_non_text_is_malformed(lisboa, value):
    assert outcome(value, trust_of(lisboa)) == "malformed"


_cbor_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**64), max_value=2**64)
    | st.floats(allow_nan=False)
    | st.text(max_size=20)
    | st.binary(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.integers(-70002, 8) | st.text(max_size=3), inner, max_size=6)
    ),
    max_leaves=12,
)
_claim_like = st.fixed_dictionaries(
    {},
    optional={
        1: st.sampled_from(["PTLIS", "ptlis", ""]) | _cbor_values,
        4: st.integers(-5, 2**40) | _cbor_values,
        6: st.integers(-5, 2**40) | _cbor_values,
        7: st.binary(max_size=40) | _cbor_values,
        -70001: st.lists(_cbor_values, max_size=4)
        | st.tuples(
            st.text(max_size=5) | st.binary(max_size=5),
            st.integers(),
            st.sampled_from(["F", None]),
        ).map(list),
        8: _cbor_values,
    },
)


@PROPERTY
@given(payload=_claim_like | _cbor_values)
def test_signed_payloads_of_any_shape_are_refused_cleanly(lisboa, payload):
    """A correctly signed envelope around claims of any shape: never an uncaught exception."""
    from cwt import COSE

    body = cbor2.dumps(payload)
    cose = COSE.new().encode_and_sign(
        body, c._cose_key(lisboa.signing_key), protected={1: -8, 4: lisboa.kid}, unprotected={}
    )
    status = outcome(qr_of(cose), trust_of(lisboa), ISSUED)
    assert status in c.STATUSES


# --------------------------------------------------------------------------- zlib


def test_a_repetitive_card_is_compressed_and_verifies(lisboa):
    card = claims(name="Ana " * 24 + "Ana")
    qr = issue(lisboa, card)
    data = base45.b45decode(qr[4:])
    assert data[0] == 0x78
    assert len(data) < len(zlib.decompress(data))
    assert c.verify_card(qr, trust=trust_of(lisboa), now=ISSUED).claims == card


def test_a_typical_card_is_not_compressed(good):
    assert base45.b45decode(good[4:])[0] == 0xD2


@PROPERTY
@given(data=st.data())
def test_changed_characters_of_a_compressed_card_change_nothing_or_fail(lisboa, data):
    """Deflate ignores a few padding bits, so a change may decode to the same signed COSE:
    then the verdict is about the very same card. Any other change is not valid."""
    card = claims(name="Ana " * 24 + "Ana")
    qr = issue(lisboa, card)
    index = data.draw(st.integers(min_value=0, max_value=len(qr) - 1), label="index")
    char = data.draw(st.sampled_from(c._B45_ALPHABET).filter(lambda ch: ch != qr[index]))
    tampered = qr[:index] + char + qr[index + 1 :]
    try:
        verified = c.verify_card(tampered, trust=trust_of(lisboa), now=ISSUED)
    except c.CardVerificationError:
        return
    assert verified.claims == card
    assert cose_of(tampered) == cose_of(qr)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(zlib.compress(b"\x00" * 1_000_000, 9), id="decompression bomb"),
        pytest.param(zlib.compress(b"\xd2" + b"\x00" * 5000, 9), id="over 4 KiB"),
        pytest.param(zlib.compress(b"x", 9)[:-2], id="truncated"),
    ],
)
def test_bad_zlib_is_malformed(lisboa, data):
    assert outcome(qr_of(data), trust_of(lisboa)) == "malformed"


def test_zlib_that_does_not_shorten_is_malformed(lisboa, good):
    padded = zlib.compress(cose_of(good), 9)
    assert len(padded) > len(cose_of(good))
    assert outcome(qr_of(padded), trust_of(lisboa), ISSUED) == "malformed"


def test_zlib_with_trailing_bytes_is_malformed(lisboa):
    qr = issue(lisboa, claims(name="Ana " * 24 + "Ana"))
    data = base45.b45decode(qr[4:]) + b"\x00"
    assert outcome(qr_of(data), trust_of(lisboa), ISSUED) == "malformed"


# --------------------------------------------------------------------------- base45


@PROPERTY
@given(blob=st.binary(max_size=300))
def test_base45_matches_the_reference_package(blob):
    text = base45.b45encode(blob).decode()
    assert c._b45encode(blob) == text
    assert c._b45decode(text) == blob


@pytest.mark.parametrize("text", ["A", "GGW", "ZZZ", ":::", "abc", "A\u00e9C", "ZZ"])
def test_base45_refuses_invalid_text(text):
    with pytest.raises(ValueError):
        c._b45decode(text)


# --------------------------------------------------------------------------- QR density


def qr_version(qr: str) -> int:
    return segno.make_qr(qr, error="q", boost_error=False).version


# Names cut to the longest that fits QR version 11 at level Q with an 11-character
# serial: 40 characters in the scripts with a one-byte table when the card has no
# gender marker, 38 when it has one; scripts of two or three UTF-8 bytes a letter get
# fewer (docs/card-format.md has the budget). A shorter prefix of a name never takes
# more bytes (its shortest encoding is at most that of the whole), so checking the
# limit and a few lengths below it covers every length.
DENSITY = {
    "latin accents": ("Zoë Ångström-Øverås Ñúñez Fernández Çelik", 38, 40),
    "polish": ("Łukasz Żółkiewski-Wiśniewski Grzegorzewsk", 38, 40),
    "turkish": ("Gülşen Çağlayan Öztürk Şahin Yılmazoğluİnce", 38, 40),
    "romanian": ("Ștefănița Țăranu-Bălănescu Mănăstireanuș", 38, 40),
    "cyrillic": ("Александра Владимировна Константинопольск", 38, 40),
    "greek": ("Αικατερίνη Παπαδοπούλου-Χατζηγεωργίου Ελέ", 38, 40),
    "arabic": ("عبد الرحمن بن محمد بن عبد الله الهاشمي الق", 38, 40),
    "hebrew": ("אברהם יצחק בן יעקב הכהן רוזנברג-שטיינברגר", 38, 40),
    "thai": ("สมศักดิ์ ศรีสุวรรณวงศ์ ณ อยุธยา ประเสริฐสุข", 38, 40),
    "vietnamese": ("Nguyễn Thị Phương Thảo Trần Hoàng Ngọc Ánh Lê", 34, 36),
    "persian": ("محمدرضا حسینی‌نژاد فراهانی اصفهانی کرمانی", 19, 20),
    "chinese": ("王小明李大龍張偉劉洋陳靜楊帆黃磊趙敏周傑吳昊徐麗孫濤", 19, 20),
    "amharic": ("ገብረመድህን ወልደማርያም ተስፋዬ ኃይለሥላሴ አበበ ከበደ", 19, 20),
}


@pytest.mark.parametrize(("name", "with_gender", "without"), DENSITY.values(), ids=DENSITY.keys())
def test_qr_fits_version_11_at_level_q(lisboa, name, with_gender, without):
    for gender, limit in (("X", with_gender), (None, without)):
        for length in (1, limit // 2, limit - 1, limit):
            text = name[:length].strip()
            qr = issue(lisboa, claims(name=text, gender=gender))
            assert qr_version(qr) <= 11, (text, gender, len(qr))


def test_prefixes_of_a_name_never_take_more_bytes():
    for name, _g, _w in DENSITY.values():
        forms = [c._encode_name(name[:n].strip()) for n in range(1, len(name) + 1)]
        sizes = [len(f.encode() if isinstance(f, str) else f) for f in forms]
        assert sizes == sorted(sizes), name


def test_forty_character_names_fit_without_a_gender_marker(lisboa):
    for name, _g, without in DENSITY.values():
        if without == 40:
            text = name[:40]
            assert len(text.strip()) == 40
            assert qr_version(issue(lisboa, claims(name=text, gender=None))) <= 11


def test_qr_text_is_alphanumeric_mode(good):
    assert set(good) <= set(c._B45_ALPHABET)
    assert segno.make_qr(good, error="q", boost_error=False).mode == "alphanumeric"
