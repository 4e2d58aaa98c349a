"""Issue, read, print, reprint and revoke cards; print a card's renewal slip.

Issuing locks the resident first, so two clerks pressing "issue" at once make one
card after the other, each superseding the earlier ones; the superseded cards join
the revocation list so that a lost old card reads ``revoked``. These functions flush;
the application layer commits.

The card is not its own key: the renewal code is printed on a separate renewal slip,
never on the card, and only its argon2 hash is kept. A slip is printed only for a code
that matches that hash, and a clerk can draw a new code (a new slip) for a card in force.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from argon2 import PasswordHasher
from sqlalchemy import Connection, Select, bindparam, func, select, update
from sqlalchemy.orm import Session

from cardservice import cardpdf, cardtext, credential, serials, slippdf, spokenlang, translit
from cardservice import qr as qr_mod
from cardservice.config import Settings, city_branding
from cardservice.errors import (
    N_,
    ConflictError,
    FontMissingError,
    InvalidInputError,
    Label,
    LatinLineNeededError,
    NotFoundError,
    PermissionDeniedError,
)
from cardservice.labels import card_labels
from cardservice.models import Card, CardStatus, Resident
from cardservice.services import audit, residents
from cardservice.services.citykeys import CityKeys

REVOCATION_REASONS = ("lost", "stolen", "damaged", "withdrawn")
_hasher = PasswordHasher()


@dataclass(frozen=True)
class IssuedCard:
    """What issuing returns (SPEC §6): the renewal code is shown here and printed on the
    renewal slip, never kept in clear and never printed on the card."""

    serial: str
    qr: str
    issued_at: datetime
    expires_at: datetime
    renewal_code: str


@dataclass(frozen=True)
class CardInfo:
    """A card's status for clerks: no personal data."""

    serial: str
    resident_id: str
    issued_at: datetime
    expires_at: datetime
    status: str
    revoked_at: datetime | None
    revocation_reason: str | None
    superseded_by: str | None
    printed_at: datetime | None = None

    def as_json(self) -> dict[str, object]:
        """JSON-ready."""
        return {
            "serial": self.serial, "resident_id": self.resident_id,
            "issued_at": iso(self.issued_at), "expires_at": iso(self.expires_at),
            "status": self.status, "revoked_at": iso(self.revoked_at) if self.revoked_at else None,
            "revocation_reason": self.revocation_reason, "superseded_by": self.superseded_by,
            "printed_at": iso(self.printed_at) if self.printed_at else None,
        }


def iso(value: datetime) -> str:
    """UTC time as RFC 3339 to the second."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def _add_years(day: datetime, years: int) -> datetime:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def age_on(born: date, day: date) -> int:
    """Whole years of age on ``day``."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def validity_end(settings: Settings, *, born: date, issued_at: datetime) -> datetime:
    """When a card issued now expires, by the city's age rules."""
    minor = age_on(born, issued_at.date()) < settings.cards.minor_age
    years = settings.cards.minor_validity_years if minor else settings.cards.validity_years
    return _add_years(issued_at, years)


def printed_name(data: residents.ResidentData) -> str:
    """The name the QR carries and the card shows first."""
    return data.full_name


def issue_card(
    session: Session, keys: CityKeys, resident_id: str, *, actor: str, now: datetime,
    settings: Settings, supersede_reason: str = "superseded",
) -> IssuedCard:
    """Issue a new card to a resident; earlier cards of theirs are superseded."""
    issued_at = now.replace(microsecond=0)
    resident = residents.lock_resident(session, resident_id, now=now)
    data = residents.open_data(keys, resident)
    expires_at = validity_end(settings, born=data.date_of_birth, issued_at=issued_at)
    serial = _unused_serial(session)
    code = serials.new_renewal_code()
    holder = credential.Holder(
        name=printed_name(data), date_of_birth=data.date_of_birth,
        gender=data.gender if settings.cards.print_gender else None)
    claims = credential.CardClaims(issuer=settings.city.id, serial=serial, issued_at=issued_at,
                                   expires_at=expires_at, holder=holder)
    signer = keys.signer(now=issued_at)
    try:
        qr = credential.encode_card(claims, signer_key=signer.key,
                                    signer_cert=signer.certificate)
    except credential.InvalidClaimsError as exc:
        # Registration refuses what a card cannot carry; this guards records made before.
        raise InvalidInputError(
            N_("This record cannot be put on a card (%(reason)s). Correct the name, then issue "
               "the card."), params={"reason": str(exc)}, field="given_names") from None
    # Check the card prints before anything is stored: a name no font covers is refused now.
    _face(settings, data, serial=serial, issued_at=issued_at, expires_at=expires_at, qr=qr,
          photo=None, check_only=True)

    for old in resident.cards:
        if old.status == CardStatus.ACTIVE:
            old.status = CardStatus.SUPERSEDED
            old.revoked_at = now
            old.revocation_reason = supersede_reason
            old.superseded_by = serial
    key = residents.data_key(keys, resident)
    # What a reprint needs: the QR. The renewal code is not sealed with it (it is not printed
    # on the card; only its hash is kept).
    sealed = keys.vault().encrypt(
        key, json.dumps({"qr": qr}).encode(), record_id=resident.id, field=f"card:{serial}")
    card = Card(serial=serial, resident_id=resident.id, issued_at=issued_at,
                expires_at=expires_at, status=CardStatus.ACTIVE, kid=signer.kid.hex(),
                renewal_code_hash=hash_renewal_code(code), print_data=sealed)
    session.add(card)
    session.flush()
    session.refresh(resident)
    residents.set_last_card_expiry(session, resident)
    audit.record(session, actor=actor, action="card.issue", target_type="card",
                 target_id=serial, now=now, details={"resident": resident.id})
    return IssuedCard(serial=serial, qr=qr, issued_at=issued_at, expires_at=expires_at,
                      renewal_code=code)


def _unused_serial(session: Session) -> str:
    for _ in range(10):
        serial = serials.new_serial()
        if session.get(Card, serial) is None:
            return serial
    raise ConflictError(N_("Could not draw an unused serial; try again."))  # pragma: no cover


# The serial module's messages, word for word, marked here so the catalog holds them: the
# web layer translates ``str(exc)`` of a ``SerialFormatError`` with these entries.
SERIAL_FORMAT_MESSAGES = (
    N_("A card serial has 11 letters and digits."),
    N_("This serial has a typing mistake (its check character does not match)."),
)


def _get(session: Session, serial: str) -> Card:
    try:
        serial = serials.normalise_serial(serial)
    except serials.SerialFormatError as exc:
        raise NotFoundError(str(exc)) from None
    card = session.get(Card, serial)
    if card is None:
        raise NotFoundError(N_("No card with this serial."))
    return card


def get_card(session: Session, serial: str) -> CardInfo:
    """A card's status."""
    c = _get(session, serial)
    return CardInfo(c.serial, c.resident_id, c.issued_at, c.expires_at, c.status, c.revoked_at,
                    c.revocation_reason, c.superseded_by, c.printed_at)


def revoke_card(
    session: Session, serial: str, *, reason: str, actor: str, now: datetime,
) -> CardInfo:
    """Revoke a card (lost, stolen, damaged, withdrawn); it joins the revocation list."""
    if reason not in REVOCATION_REASONS:
        raise InvalidInputError(N_("'reason' is one of: %(choices)s."),
                                params={"choices": ", ".join(REVOCATION_REASONS)},
                                field="reason")
    card = _get(session, serial)
    session.execute(update(Card).where(Card.serial == card.serial).values(status=card.status))
    session.refresh(card)
    if card.status == CardStatus.REVOKED:
        raise ConflictError(N_("This card is already revoked."))
    card.status = CardStatus.REVOKED
    card.revoked_at = card.revoked_at or now
    card.revocation_reason = reason if card.revocation_reason is None else card.revocation_reason
    if card.revocation_reason == "superseded":
        card.revocation_reason = reason
    audit.record(session, actor=actor, action="card.revoke", target_type="card",
                 target_id=card.serial, now=now, details={"reason": reason})
    session.flush()
    return get_card(session, card.serial)


def revoked_cards(session: Session, *, now: datetime) -> list[Card]:
    """Revoked or superseded cards that have not expired yet (the revocation list)."""
    return list(session.scalars(
        select(Card).where(Card.status != CardStatus.ACTIVE, Card.expires_at > now)
        .order_by(Card.serial)))


_STATUS_OF = select(Card.status).where(Card.serial == bindparam("serial"))


def is_revoked(conn: Session | Connection, serial: str) -> bool:
    """Whether this city has revoked or superseded the card.

    Takes a plain connection too: the verify hot path asks this without an ORM session.
    """
    status = conn.execute(_STATUS_OF, {"serial": serial}).scalar()
    return status is not None and status != CardStatus.ACTIVE


# ---- printing ------------------------------------------------------------------------------

def _font_error(exc: cardpdf.MissingFontError, field: str | None) -> FontMissingError:
    return FontMissingError(
        N_("Names in %(script)s need the font package %(package)s, which this server lacks. "
           "Ask the administrator to install it, then try again."),
        script=Label(exc.script), package=exc.package, field=field)


def _name_field(data: residents.ResidentData, exc: cardpdf.MissingFontError) -> str | None:
    """The form field holding a letter of the script whose font is missing."""
    for field in ("given_names", "family_names", "preferred_name", "name_latin"):
        text = getattr(data, field)
        if any((font := cardtext.script_of(ch)) is not None and font.script == exc.script
               for ch in text):
            return field
    return "languages" if data.languages else None


def _face(
    settings: Settings, data: residents.ResidentData, *, serial: str, issued_at: datetime,
    expires_at: datetime, qr: str, photo: bytes | None, check_only: bool = False,
) -> cardpdf.CardFace:
    # The process-wide search path follows the settings of whoever prints.
    cardtext.set_font_dirs(settings.cards.font_dirs)
    labels = tuple(card_labels(lang, settings.city.name) for lang in settings.city.languages)
    name = printed_name(data)
    latin = data.name_latin or None
    try:
        unprintable = cardpdf.missing_glyphs(name)
    except cardpdf.MissingFontError as exc:
        raise _font_error(exc, _name_field(data, exc)) from None
    if unprintable:
        # A script no font on the card has: only the Latin line can be printed.
        if not latin or cardpdf.missing_glyphs(latin):
            raise InvalidInputError(
                N_("The card's fonts cannot print some characters of this name: "
                   "%(characters)s. Give a name in Latin letters to print instead."),
                params={"characters": "".join(sorted(unprintable))},
                field="name_latin")
        name, latin = latin, None
    elif check_only and latin is None and translit.needs_latin_line(name):
        # An agent abroad must be able to read the name: propose a Latin line, which the
        # clerk checks with the resident and sends back (corrected or not).
        raise LatinLineNeededError(
            N_("Check the name in Latin letters with the resident: %(proposal)s. Correct it "
               "if they write it otherwise (as in a passport), then save again."),
            proposal=translit.propose_latin(name),
            params={"proposal": translit.propose_latin(name)})
    # Spoken languages named in the card's label languages (a French card says "vietnamien").
    spoken = [tuple(spokenlang.language_names(data.languages, lang))
              for lang in settings.city.languages]
    face = cardpdf.CardFace(
        city_id=settings.city.id, city_name=settings.city.name,
        serial=serials.format_serial(serial), issued_at=issued_at.date(),
        expires_at=expires_at.date(), name=name, date_of_birth=data.date_of_birth,
        qr_text=qr, labels=labels, name_latin=latin,
        preferred_name=data.preferred_name or None,
        gender=data.gender if settings.cards.print_gender else None,
        languages=spoken[0], languages_second=spoken[1] if len(spoken) > 1 else (),
        photo_jpeg=photo,
        branding=city_branding(settings.branding), check_url=f"{settings.city.base_url}/verify",
    )
    if check_only:
        try:
            for text, field in ((face.preferred_name, "preferred_name"),
                                (face.name_latin, "name_latin"),
                                *((lang, "languages")
                                  for lang in (*face.languages, *face.languages_second))):
                missing = cardpdf.missing_glyphs(text) if text else None
                if missing:
                    raise InvalidInputError(
                        N_("The card's fonts cannot print: %(characters)s."),
                        params={"characters": "".join(sorted(missing))}, field=field)
        except cardpdf.MissingFontError as exc:
            raise _font_error(exc, _name_field(data, exc)) from None
        try:
            cardpdf.check_front(face)
        except cardpdf.CardLayoutError:
            raise InvalidInputError(
                N_("This name does not fit on the card, even in the smallest type. Check it "
                   "for a typing mistake; a very long word may need the spaces the resident "
                   "writes in it."), field="family_names") from None
        except cardpdf.MissingFontError as exc:  # a label or the city's name
            raise _font_error(exc, None) from None
    return face


def _render(render: Callable[[], bytes]) -> bytes:
    """Run a card renderer; a font the server lacks becomes the clerk's error, not a 500."""
    try:
        return render()
    except cardpdf.MissingFontError as exc:
        raise _font_error(exc, None) from None


def check_printable(settings: Settings, data: residents.ResidentData, *, now: datetime) -> None:
    """Refuse, naming the field, a record whose card could not be printed.

    Registration and corrections call this, so that what they accept is exactly what a card
    can carry: the same fonts and the same layout as printing, on a placeholder serial.
    """
    issued_at = now.replace(microsecond=0)
    _face(settings, data, serial=serials.new_serial(), issued_at=issued_at,
          expires_at=validity_end(settings, born=data.date_of_birth, issued_at=issued_at),
          qr="LC1:", photo=None, check_only=True)


def card_face(session: Session, keys: CityKeys, serial: str, *, settings: Settings
              ) -> cardpdf.CardFace:
    """Everything the printed card shows, decrypted for printing."""
    card = _get(session, serial)
    if card.print_data is None:
        raise NotFoundError(N_("This card can no longer be printed (its holder's record was "
                            "deleted)."))
    resident = session.get(Resident, card.resident_id)
    if resident is None or resident.wrapped_key is None:
        raise NotFoundError(N_("This card's holder record has been deleted."))
    key = residents.data_key(keys, resident)
    v = keys.vault()
    # Cards issued before the renewal slip also sealed their renewal code here; it is
    # ignored: a reprint never prints it.
    sealed = json.loads(v.decrypt(key, card.print_data, record_id=resident.id,
                                  field=f"card:{card.serial}"))
    data = residents.open_data(keys, resident)
    photo = None
    if resident.photo is not None:
        photo = v.decrypt(key, resident.photo, record_id=resident.id, field="photo")
    return _face(settings, data, serial=card.serial, issued_at=card.issued_at,
                 expires_at=card.expires_at, qr=sealed["qr"], photo=photo)


def card_pdf(session: Session, keys: CityKeys, serial: str, *, settings: Settings) -> bytes:
    """The printable card (2 pages, ID-1 size). Reading it changes nothing: a card counts as
    printed when a clerk confirms the print came out right (``mark_printed``)."""
    face = card_face(session, keys, serial, settings=settings)
    return _render(lambda: cardpdf.render_card_pdf(face))


def mark_printed(session: Session, serial: str, *, actor: str, now: datetime) -> CardInfo:
    """Record that a clerk printed the card and checked it came out right."""
    card = _get(session, serial)
    if card.status != CardStatus.ACTIVE:
        raise ConflictError(N_("Only an active card can be marked as printed."))
    card.printed_at = now
    audit.record(session, actor=actor, action="card.print", target_type="card",
                 target_id=card.serial, now=now)
    session.flush()
    return get_card(session, card.serial)


def cards_sheet_pdf(
    session: Session, keys: CityKeys, serials_: Sequence[str], *, settings: Settings, actor: str,
    now: datetime, progress: Callable[[int, int], None] | None = None,
) -> bytes:
    """Many cards on A4 sheets with crop marks, fronts then backs for duplex printing."""
    faces = [card_face(session, keys, s, settings=settings) for s in serials_]
    pdf = _render(lambda: cardpdf.render_sheet_pdf(faces, progress=progress))
    for s in serials_:
        card = _get(session, s)
        card.printed_at = now
    audit.record(session, actor=actor, action="card.print_batch", target_type="card",
                 target_id=f"{len(serials_)} cards", now=now,
                 details={"serials": [serials.normalise_serial(s) for s in serials_][:500]})
    return pdf


@dataclass(frozen=True)
class PrintRow:
    """A card in a batch to print, with whose it is (``name`` is ``None`` once forgotten)."""

    serial: str
    resident_id: str
    name: str | None
    has_photo: bool
    issued_at: datetime
    printed_at: datetime | None


def print_rows(session: Session, keys: CityKeys, serials_: Sequence[str]) -> list[PrintRow]:
    """The holders of ``serials_``, decrypted, in the order given (for the batch list)."""
    rows = []
    for s in serials_:
        card = _get(session, s)
        resident = session.get(Resident, card.resident_id)
        name, has_photo = None, False
        if resident is not None and resident.wrapped_key is not None:
            name = residents.open_data(keys, resident).full_name
            has_photo = resident.photo is not None
        rows.append(PrintRow(serial=card.serial, resident_id=card.resident_id, name=name,
                             has_photo=has_photo, issued_at=card.issued_at,
                             printed_at=card.printed_at))
    return rows


def _issued_between(start: datetime, end: datetime, only_unprinted: bool) -> Select[Any]:
    # Served by ix_cards_unprinted (only_unprinted) or ix_cards_issued_at (migration 0010).
    stmt = select(Card.serial).where(Card.issued_at >= start, Card.issued_at < end,
                                     Card.status == CardStatus.ACTIVE,
                                     Card.print_data.is_not(None))
    if only_unprinted:
        stmt = stmt.where(Card.printed_at.is_(None))
    return stmt


def cards_issued_between(session: Session, *, start: datetime, end: datetime,
                         only_unprinted: bool = False, limit: int | None = None,
                         offset: int = 0) -> list[str]:
    """Serials of active cards issued in ``[start, end)``, oldest first; ``limit`` of them
    from ``offset`` when given (only those rows are read)."""
    stmt = _issued_between(start, end, only_unprinted).order_by(Card.issued_at, Card.serial)
    if limit is not None:
        stmt = stmt.limit(limit)
    if offset:
        stmt = stmt.offset(offset)
    return list(session.scalars(stmt))


def count_issued_between(session: Session, *, start: datetime, end: datetime,
                         only_unprinted: bool = False) -> int:
    """How many serials ``cards_issued_between`` would list, without listing them."""
    stmt = select(func.count()).select_from(
        _issued_between(start, end, only_unprinted).subquery())
    return int(session.scalar(stmt) or 0)


def hash_renewal_code(code: str) -> str:
    """The argon2id hash kept instead of the renewal code."""
    return _hasher.hash(code)


def check_renewal_code(card: Card, code: str) -> bool:
    """Whether ``code`` is this card's renewal code (constant-time via argon2)."""
    if card.renewal_code_hash is None:
        return False
    try:
        return _hasher.verify(card.renewal_code_hash, serials.normalise_renewal_code(code))
    except Exception:  # noqa: BLE001 - any verification failure is simply "no"
        return False


# ---- the renewal slip ----------------------------------------------------------------------

class RenewalCodeMismatchError(PermissionDeniedError):
    """A slip was asked for with a code that is not the card's renewal code."""

    code = "renewal_code_mismatch"


def _card_in_force(session: Session, serial: str) -> Card:
    """The card, row-locked, if it is in force and its holder's record still exists."""
    card = _get(session, serial)
    # Lock the row (a no-op write): a revocation or a new slip at the same time waits.
    session.execute(update(Card).where(Card.serial == card.serial).values(status=Card.status))
    session.refresh(card)
    if card.status != CardStatus.ACTIVE:
        raise ConflictError(N_("Only a card in force has a renewal slip."))
    if card.renewal_code_hash is None:
        raise NotFoundError(N_("This card's holder record has been deleted."))
    return card


def renewal_slip_pdf(
    session: Session, serial: str, *, code: str, labels: slippdf.SlipLabels,
    resident_url: str, settings: Settings,
) -> bytes:
    """The renewal slip of a card in force, for the ``code`` handed in.

    The code is checked against the card's stored hash first, so a crafted request cannot
    print a slip with an arbitrary code. Nothing is stored or recorded: the code was issued
    (and audited) a moment before, and is forgotten by the caller once shown.
    """
    card = _get(session, serial)
    if not check_renewal_code(card, code):
        raise RenewalCodeMismatchError(N_("This is not the card's renewal code. Issue a new "
                                          "renewal slip from the resident's record."))
    if card.status != CardStatus.ACTIVE:
        raise ConflictError(N_("Only a card in force has a renewal slip."))
    city = settings.city
    slip = slippdf.RenewalSlip(
        city_name=city.name, serial=serials.format_serial(card.serial),
        renewal_code=serials.format_renewal_code(serials.normalise_renewal_code(code)),
        resident_url=resident_url, labels=labels, desk_address=city.desk_address,
        desk_hours=city.desk_hours)
    cardtext.set_font_dirs(settings.cards.font_dirs)
    try:
        return _render(lambda: slippdf.render_slip_pdf(slip))
    except slippdf.SlipTextError as exc:
        # The city's desk lines or a translation hold what the fonts cannot print.
        raise InvalidInputError(N_("The renewal slip cannot be printed: %(detail)s"),
                                params={"detail": str(exc)}) from None


def new_renewal_code(session: Session, serial: str, *, actor: str, now: datetime) -> str:
    """Draw a new renewal code for a card in force; the old code stops working at once.

    Only the new code's hash is kept; the code is returned to be shown once and printed on
    a new slip. The audit entry names the card and nothing personal.
    """
    card = _card_in_force(session, serial)
    code = serials.new_renewal_code()
    card.renewal_code_hash = hash_renewal_code(code)
    audit.record(session, actor=actor, action="card.new_renewal_code", target_type="card",
                 target_id=card.serial, now=now)
    session.flush()
    return code


PREVIEW_DPI = 200


def card_preview_png(
    session: Session, keys: CityKeys, serial: str, *, page: int, settings: Settings,
    dpi: int = PREVIEW_DPI,
) -> bytes:
    """One side of the printable card as a PNG (page 0 the front, 1 the back).

    The clerk's print preview: it renders exactly the PDF that ``card_pdf`` prints, but is
    not recorded as a print.
    """
    import pypdfium2  # imported here: only the preview needs it

    if page not in (0, 1):
        raise NotFoundError(N_("A card has two sides: 0 (front) and 1 (back)."))
    face = card_face(session, keys, serial, settings=settings)
    pdf = _render(lambda: cardpdf.render_card_pdf(face))
    with qr_mod.PDFIUM_LOCK:
        doc = pypdfium2.PdfDocument(pdf)
        try:
            image = doc[page].render(scale=dpi / 72).to_pil()
        finally:
            doc.close()
    buf = io.BytesIO()
    image.save(buf, "PNG", optimize=False)
    return buf.getvalue()
