"""Register residents, read and correct their record, find duplicates, purge.

These functions flush, never commit: each use case in ``cardservice.application``
runs them in one unit of work.

Personal data is sealed with the resident's own data key (see ``cardservice.vault``);
the database row holds ciphertext, blind indexes for duplicates and searches (see
``services.resident_search``) and dates needed for retention. Nothing here stores what
SPEC §2 forbids: the raw request is checked by ``privacy.refuse_not_collected`` before
it is parsed.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, union_all, update
from sqlalchemy.orm import Session

from cardservice import photo as photo_mod
from cardservice import spokenlang, values, vault
from cardservice.config import Settings
from cardservice.errors import N_, ConflictError, InvalidInputError, Label, NotFoundError
from cardservice.models import Resident
from cardservice.privacy import refuse_not_collected
from cardservice.services import audit
from cardservice.services.citykeys import CityKeys

GENDERS = values.GENDERS
MAX_NAME = values.MAX_NAME_PART_LENGTH
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9 ()./-]{4,24}$")

# How messages name a field: the words of the clerk's form, not the wire names (which
# API clients read from the error's ``field``).
FIELD_NAMES = {
    "given_names": N_("Given names"),
    "family_names": N_("Family names"),
    "preferred_name": N_("Preferred name"),
    "name_latin": N_("Name in Latin letters"),
    "name_order": N_("Name order"),
    "address": N_("Address"),
    "address.line1": N_("Street and number"),
    "address.line2": N_("More address details"),
    "address.postcode": N_("Postcode"),
    "address.care_of": N_("Care of"),
    "address.no_fixed_address": N_("No fixed address"),
    "address.confidential": N_("Confidential address"),
    "contact": N_("Contact"),
    "contact.name": N_("Contact name"),
    "contact.email": N_("E-mail"),
    "contact.phone": N_("Phone"),
    "emergency_contact": N_("Emergency contact"),
    "emergency_contact.name": N_("Name of the emergency contact"),
    "emergency_contact.email": N_("E-mail of the emergency contact"),
    "emergency_contact.phone": N_("Phone of the emergency contact"),
}


def field_name(path: str) -> str:
    """A field's name for a message: its words (translated when shown), else the path."""
    words = FIELD_NAMES.get(path)
    return Label(words) if words is not None else path


class LikelyDuplicateError(ConflictError):
    """A resident with the same normalised name and birth date is already registered."""

    code = "likely_duplicate"

    def __init__(self, message: str, *, matches: list[str]) -> None:
        super().__init__(message)
        self.matches = matches


@dataclass(frozen=True)
class Address:
    """Where the resident can be reached; any part may be confidential or absent."""

    line1: str = ""
    line2: str = ""
    postcode: str = ""
    care_of: str = ""
    no_fixed_address: bool = False
    confidential: bool = False


@dataclass(frozen=True)
class Contact:
    """An optional way to reach someone."""

    name: str = ""
    email: str = ""
    phone: str = ""


@dataclass(frozen=True)
class DocumentSeen:
    """A category of document the clerk saw and handed back, and its points."""

    category: str
    points: int


@dataclass(frozen=True)
class ResidentData:
    """Everything the city keeps about a resident — all of it sealed at rest."""

    given_names: str
    family_names: str
    date_of_birth: date
    preferred_name: str = ""
    name_latin: str = ""
    # Records sealed before the name order existed hold none: given names first.
    name_order: values.NameOrder = values.NameOrder.GIVEN_FIRST
    gender: str | None = None
    address: Address = Address()
    languages: tuple[str, ...] = ()
    contact: Contact = Contact()
    emergency_contact: Contact = Contact()
    documents: tuple[DocumentSeen, ...] = ()
    fee_waiver: str | None = None

    @property
    def full_name(self) -> str:
        """The name in the resident's own script and order, as printed on the card."""
        return values.ordered_name(self.given_names, self.family_names, self.name_order)

    def to_json(self) -> bytes:
        """Serialise for sealing."""
        d = asdict(self)
        d["date_of_birth"] = self.date_of_birth.isoformat()
        d["name_order"] = self.name_order.value
        return json.dumps(d, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> ResidentData:
        """Read back what ``to_json`` wrote."""
        d = json.loads(raw)
        return cls(
            given_names=d["given_names"], family_names=d["family_names"],
            date_of_birth=date.fromisoformat(d["date_of_birth"]),
            preferred_name=d.get("preferred_name", ""), name_latin=d.get("name_latin", ""),
            name_order=values.NameOrder(d.get("name_order", values.NameOrder.GIVEN_FIRST)),
            gender=d.get("gender"), address=Address(**d.get("address", {})),
            languages=tuple(d.get("languages", ())), contact=Contact(**d.get("contact", {})),
            emergency_contact=Contact(**d.get("emergency_contact", {})),
            documents=tuple(DocumentSeen(**x) for x in d.get("documents", ())),
            fee_waiver=d.get("fee_waiver"),
        )

    def public_dict(self) -> dict[str, Any]:
        """A JSON-ready view for the API."""
        d = asdict(self)
        d["date_of_birth"] = self.date_of_birth.isoformat()
        d["name_order"] = self.name_order.value
        d["languages"] = list(self.languages)
        d["documents"] = [asdict(x) for x in self.documents]
        return d


@dataclass(frozen=True)
class CardSummary:
    """A card as the resident's page lists it."""

    serial: str
    issued_at: datetime
    expires_at: datetime
    status: str
    revocation_reason: str | None


@dataclass(frozen=True)
class ResidentView:
    """A resident's decrypted record, for clerks."""

    id: str
    data: ResidentData
    has_photo: bool
    created_at: datetime
    cards: tuple[CardSummary, ...] = field(default_factory=tuple)


# ---- parsing -------------------------------------------------------------------------------

_TOP_FIELDS = {"given_names", "family_names", "date_of_birth", "preferred_name", "name_latin",
               "name_order", "gender", "address", "languages", "contact", "emergency_contact",
               "documents", "fee_waiver", "photo", "confirm_new"}


def _text(data: Mapping[str, Any], key: str, *, max_len: int = MAX_NAME, path: str = "") -> str:
    value = data.get(key, "")
    name = f"{path}{key}"
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidInputError(N_("%(field)s: this must be text."),
                                params={"field": field_name(name)}, field=name)
    value = unicodedata.normalize("NFC", " ".join(value.split()))
    if len(value) > max_len:
        raise InvalidInputError(N_("%(field)s: too long. Maximum length: %(max)d."),
                                params={"field": field_name(name), "max": max_len}, field=name)
    if any(unicodedata.category(c) in ("Cc", "Cs", "Co") for c in value):
        raise InvalidInputError(N_("%(field)s: holds characters that cannot be printed."),
                                params={"field": field_name(name)}, field=name)
    return value


def _name(data: Mapping[str, Any], key: str) -> str:
    """A name that is printed on the card: text, and printable (``values.check_printed_name``)."""
    value = _text(data, key, max_len=values.MAX_NAME_PART_LENGTH)
    if value:
        try:
            values.check_printed_name(value, what=key, max_length=values.MAX_NAME_PART_LENGTH)
        except values.ValueRuleError:
            # _text has already settled length, spacing and NFC: what is left is a
            # character no card prints (a bidi override, an invisible or unassigned one).
            raise InvalidInputError(N_("%(field)s: holds characters that cannot be printed."),
                                    params={"field": field_name(key)}, field=key) from None
    return value


def _bool(data: Mapping[str, Any], key: str, path: str = "") -> bool:
    value = data.get(key, False)
    if not isinstance(value, bool):
        raise InvalidInputError(N_("%(field)s: this must be true or false."),
                                params={"field": field_name(f"{path}{key}")},
                                field=f"{path}{key}")
    return value


def _contact(raw: Any, name: str) -> Contact:
    if raw is None:
        return Contact()
    if not isinstance(raw, Mapping):
        raise InvalidInputError(N_("%(field)s: this must be an object."),
                                params={"field": field_name(name)}, field=name)
    unknown = set(raw) - {"name", "email", "phone"}
    if unknown:
        field = f"{name}.{sorted(unknown)[0]}"
        raise InvalidInputError(N_("'%(field)s' is not a known field."),
                                params={"field": field}, field=field)
    c = Contact(name=_text(raw, "name", path=f"{name}."),
                email=_text(raw, "email", max_len=254, path=f"{name}."),
                phone=_text(raw, "phone", max_len=24, path=f"{name}."))
    if c.email and not _EMAIL.match(c.email):
        raise InvalidInputError(N_("%(field)s: this is not an e-mail address."),
                                params={"field": field_name(f"{name}.email")},
                                field=f"{name}.email")
    if c.phone and not _PHONE.match(c.phone):
        raise InvalidInputError(N_("%(field)s: this is not a phone number."),
                                params={"field": field_name(f"{name}.phone")},
                                field=f"{name}.phone")
    return c


def _languages(raw: Any, *, given: bool) -> list[str]:
    """Spoken languages as BCP 47 codes (``spokenlang``): at most two, as the card prints.

    A code, or a language's name in one of the service's languages, is taken and stored as
    its code. A value that is neither is refused when ``given`` (sent now); when it comes
    from the stored record (free text typed before codes), it is kept as it was, so that
    correcting an address does not fail on it: it is mapped to a code here whenever it is
    recognisable, and shown as typed otherwise.
    """
    langs = raw or []
    if not isinstance(langs, list) or len(langs) > 2:
        raise InvalidInputError(N_("Languages: give two at most."), field="languages")
    languages: list[str] = []
    for lang in langs:
        if not isinstance(lang, str):
            raise InvalidInputError(N_("Languages: “%(value)s” is not the name of a language."),
                                    params={"value": str(lang)[:40]}, field="languages")
        code = spokenlang.code_for(lang)
        if code is None and given:
            raise InvalidInputError(
                N_("Languages: “%(value)s” is not a language we know. Choose it from the "
                   "list, or give its code (BCP 47, e.g. “vi” or “pt-BR”)."),
                params={"value": lang.strip()[:40]}, field="languages")
        value = code or lang.strip()
        if value and value not in languages:
            languages.append(value)
    return languages


def parse_resident(
    raw: Mapping[str, Any], *, settings: Settings, today: date,
    base: ResidentData | None = None,
) -> ResidentData:
    """Validate a registration (or, with ``base``, a correction) into ``ResidentData``.

    Refuses never-collected fields first (SPEC §2), then unknown fields, then bad values;
    every error names the field.
    """
    refuse_not_collected(raw)
    if not isinstance(raw, Mapping):
        raise InvalidInputError(N_("The body must be a JSON object."))
    unknown = set(raw) - _TOP_FIELDS
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInputError(N_("'%(field)s' is not a field of a resident."),
                                params={"field": name}, field=name)
    merged: dict[str, Any] = base.public_dict() if base is not None else {}
    merged.update({k: v for k, v in raw.items() if k not in ("photo", "confirm_new")})

    given = _name(merged, "given_names")
    family = _name(merged, "family_names")
    if not given and not family:
        raise InvalidInputError(N_("Give a given name or a family name (a single name is "
                                   "fine)."), field="given_names")
    if len(values.join_name(given, family)) > values.MAX_NAME_LENGTH:
        # The card (and its QR) holds both parts as one name of limited length.
        last = "family_names" if family else "given_names"
        raise InvalidInputError(
            N_("The name printed on the card (given names and family names together) is too "
               "long. Maximum length: %(max)d."),
            params={"max": values.MAX_NAME_LENGTH}, field=last)
    order_raw = merged.get("name_order") or values.NameOrder.GIVEN_FIRST
    if not isinstance(order_raw, str) or order_raw not in values.NAME_ORDERS:
        raise InvalidInputError(
            N_("Name order: “%(first)s” (given names first) or “%(second)s” (family names "
               "first)."), params={"first": values.NameOrder.GIVEN_FIRST.value,
                                  "second": values.NameOrder.FAMILY_FIRST.value},
            field="name_order")
    dob_raw = merged.get("date_of_birth")
    try:
        dob = dob_raw if isinstance(dob_raw, date) else date.fromisoformat(str(dob_raw))
    except ValueError:
        raise InvalidInputError(N_("Date of birth: give the year, month and day "
                                   "(YYYY-MM-DD)."), field="date_of_birth") from None
    try:
        values.check_birth_date(dob, today=today)
    except values.ValueRuleError:
        raise InvalidInputError(N_("Date of birth: this date is not possible (it is in the "
                                   "future, or too long ago)."),
                                field="date_of_birth") from None
    gender = merged.get("gender") or None
    if gender is not None and gender not in GENDERS:
        raise InvalidInputError(N_("Gender marker: F, M, X or none."), field="gender")

    addr_raw = merged.get("address") or {}
    if not isinstance(addr_raw, Mapping):
        raise InvalidInputError(N_("%(field)s: this must be an object."),
                                params={"field": field_name("address")}, field="address")
    unknown = set(addr_raw) - set(Address.__dataclass_fields__)
    if unknown:
        name = f"address.{sorted(unknown)[0]}"
        raise InvalidInputError(N_("'%(field)s' is not a known field."),
                                params={"field": name}, field=name)
    address = Address(
        line1=_text(addr_raw, "line1", max_len=120, path="address."),
        line2=_text(addr_raw, "line2", max_len=120, path="address."),
        postcode=_text(addr_raw, "postcode", max_len=16, path="address."),
        care_of=_text(addr_raw, "care_of", max_len=120, path="address."),
        no_fixed_address=_bool(addr_raw, "no_fixed_address", "address."),
        confidential=_bool(addr_raw, "confidential", "address."),
    )
    if not address.no_fixed_address and not address.line1 and not address.care_of:
        raise InvalidInputError(
            N_("Give a street and number, a care-of address, or tick “No fixed address”."),
            field="address.line1")

    languages = _languages(merged.get("languages"), given="languages" in raw)

    docs_raw = merged.get("documents") or []
    if not isinstance(docs_raw, list):
        raise InvalidInputError(N_("Documents seen: list the categories of the documents."),
                                field="documents")
    catalogue = settings.registration.documents
    documents = []
    seen = set()
    for i, item in enumerate(docs_raw):
        if isinstance(item, Mapping):
            # Only the category is recorded; "points" (as read back) is the city's, not ours
            # to take. Anything else would be dropped silently: refuse it by name instead.
            unknown = set(item) - {"category", "points"}
            if unknown:
                name = f"documents[{i}].{sorted(map(str, unknown))[0]}"
                raise InvalidInputError(N_("'%(field)s' is not a known field."),
                                        params={"field": name}, field=name)
        category = item.get("category") if isinstance(item, Mapping) else item
        if not isinstance(category, str) or category not in catalogue:
            raise InvalidInputError(
                N_("Documents seen: “%(value)s” is not a document category of this city "
                   "(%(choices)s)."),
                params={"value": str(category)[:40], "choices": ", ".join(sorted(catalogue))},
                field="documents")
        if category in seen:
            continue
        seen.add(category)
        documents.append(DocumentSeen(category=category, points=catalogue[category]))
    if base is None or "documents" in raw:
        points = sum(d.points for d in documents)
        needed = settings.registration.points_needed
        if points < needed:
            raise InvalidInputError(
                N_("Documents seen: not enough points (%(points)d of %(needed)d). Tick a "
                   "document of another category."),
                params={"points": points, "needed": needed},
                field="documents")

    waiver = merged.get("fee_waiver") or None
    if waiver is not None and waiver not in settings.registration.fee_waivers:
        raise InvalidInputError(
            N_("Fee waiver: one of %(choices)s."),
            params={"choices": ", ".join(settings.registration.fee_waivers)},
            field="fee_waiver")

    return ResidentData(
        given_names=given, family_names=family, date_of_birth=dob,
        preferred_name=_name(merged, "preferred_name"),
        name_latin=_name(merged, "name_latin"), name_order=values.NameOrder(order_raw),
        gender=gender, address=address, languages=tuple(languages),
        contact=_contact(merged.get("contact"), "contact"),
        emergency_contact=_contact(merged.get("emergency_contact"), "emergency_contact"),
        documents=tuple(documents), fee_waiver=waiver,
    )


# ---- register, read, correct ---------------------------------------------------------------

def _new_id() -> str:
    # Random, not sequential: ids in URLs and logs must not reveal how many people registered.
    return secrets.token_hex(12)


def register(
    session: Session, keys: CityKeys, *, data: ResidentData, photo: bytes | None,
    confirm_new: bool, actor: str, now: datetime, settings: Settings,
) -> str:
    """Register a resident; returns the new id. ``LikelyDuplicateError`` unless confirmed.

    ``photo`` is the JPEG made by :func:`process_photo`, never the upload itself.
    """
    v = keys.vault()
    blind, family_year = search_indexes(v, data)
    if not confirm_new:
        matches = list(session.scalars(
            select(Resident.id).where(Resident.blind_index == blind,
                                      Resident.purged_at.is_(None))))
        if matches:
            raise LikelyDuplicateError(
                N_("A resident with the same name and date of birth is already registered. "
                "Check their record; to register a different person, confirm."),
                matches=matches)
    rid = _new_id()
    fields = {"record": data.to_json()}
    if photo is not None:
        fields["photo"] = photo
    sealed = v.seal_record(rid, fields)
    session.add(Resident(
        id=rid, created_at=now, updated_at=now, wrapped_key=sealed.wrapped_key,
        record=sealed.fields["record"], photo=sealed.fields.get("photo"), blind_index=blind,
        family_year_index=family_year,
    ))
    audit.record(session, actor=actor, action="resident.register", target_type="resident",
                 target_id=rid, now=now,
                 details={"confirmed_duplicate": confirm_new, "photo": photo is not None})
    session.flush()
    return rid


def blind_index(v: vault.Vault, given: str, family: str, born: date) -> str:
    """The name + birth date index (duplicates, and the clerk's name search)."""
    try:
        return v.blind_index(given, family, born)
    except vault.VaultError:
        raise InvalidInputError(N_("A name needs at least one letter."), field="given_names") \
            from None


def family_year_index(v: vault.Vault, given: str, family: str, year: int) -> str:
    """The family name + birth year index of a record (see ``Vault.family_year_index``).

    A single name may be entered in either box (``parse_resident``): when the family
    names hold no letter, the given names stand for them, so a clerk who types that one
    name as the family name still finds the resident.
    """
    part = family if vault.normalise_name(family) else given
    try:
        return v.family_year_index(part, year)
    except vault.VaultError:
        raise InvalidInputError(N_("A name needs at least one letter."), field="family_names") \
            from None


def search_indexes(v: vault.Vault, data: ResidentData) -> tuple[str, str]:
    """``(blind_index, family_year_index)`` of a record: what register, correct and
    reindex store."""
    return (blind_index(v, data.given_names, data.family_names, data.date_of_birth),
            family_year_index(v, data.given_names, data.family_names, data.date_of_birth.year))


def process_photo(raw: bytes, settings: Settings, *,
                  decode: Callable[..., bytes] = photo_mod.process_photo) -> bytes:
    """An uploaded photo made into the card's JPEG by ``decode``, or a refusal naming why.

    ``decode`` is :func:`photo.process_photo` or the same run in the sandbox
    (``Uploads.process_photo``); its ``PhotoError`` becomes an ``InvalidInputError``.
    """
    try:
        return decode(raw, max_bytes=settings.registration.photo_max_bytes)
    # One translatable sentence per reason: the photo module's own wording is English only.
    except photo_mod.PhotoTooLargeError:
        raise InvalidInputError(
            N_("Photo refused: it is too large. The largest accepted file is %(max_bytes)d "
               "bytes, the largest picture %(max_pixels)d pixels."),
            params={"max_bytes": settings.registration.photo_max_bytes,
                    "max_pixels": photo_mod.MAX_PIXELS}, field="photo") from None
    except photo_mod.NotAnImageError:
        raise InvalidInputError(
            N_("Photo refused: the file is empty, damaged, or not a JPEG, PNG or WebP image."),
            field="photo") from None
    except photo_mod.PhotoTooSmallError:
        raise InvalidInputError(
            N_("Photo refused: it has too few pixels to print well (at least %(width)d x "
               "%(height)d are needed)."),
            params={"width": photo_mod.MIN_PHOTO_SIZE[0], "height": photo_mod.MIN_PHOTO_SIZE[1]},
            field="photo") from None
    except photo_mod.PhotoError as exc:
        raise InvalidInputError(N_("Photo refused: %(reason)s."), params={"reason": str(exc)},
                                field="photo") from None


def _load(session: Session, resident_id: str) -> Resident:
    resident = session.get(Resident, resident_id)
    if resident is None or resident.purged_at is not None or resident.wrapped_key is None:
        raise NotFoundError(N_("No such resident (or their record has been deleted)."))
    return resident


def data_key(keys: CityKeys, resident: Resident) -> bytes:
    """Unwrap a resident's data key."""
    assert resident.wrapped_key is not None
    return keys.vault().unwrap_data_key(resident.wrapped_key, record_id=resident.id)


def open_data(keys: CityKeys, resident: Resident) -> ResidentData:
    """Decrypt a resident's record."""
    assert resident.record is not None
    raw = keys.vault().decrypt(data_key(keys, resident), resident.record,
                               record_id=resident.id, field="record")
    return ResidentData.from_json(raw)


def get_resident(session: Session, keys: CityKeys, resident_id: str) -> ResidentView:
    """A resident's decrypted record and cards."""
    resident = _load(session, resident_id)
    return ResidentView(
        id=resident.id, data=open_data(keys, resident), has_photo=resident.photo is not None,
        created_at=resident.created_at,
        cards=tuple(CardSummary(c.serial, c.issued_at, c.expires_at, c.status,
                                c.revocation_reason) for c in resident.cards),
    )


def get_residents(session: Session, keys: CityKeys, resident_ids: list[str]
                  ) -> list[ResidentView]:
    """Several residents' records, in the order asked; missing or purged ones are skipped."""
    found = []
    for rid in resident_ids:
        try:
            found.append(get_resident(session, keys, rid))
        except NotFoundError:
            continue
    return found


def get_photo(session: Session, keys: CityKeys, resident_id: str) -> bytes | None:
    """A resident's photo (JPEG), decrypted."""
    resident = _load(session, resident_id)
    if resident.photo is None:
        return None
    return keys.vault().decrypt(data_key(keys, resident), resident.photo,
                                record_id=resident.id, field="photo")


def correct_resident(
    session: Session, keys: CityKeys, resident_id: str, *, changes: Mapping[str, Any],
    photo: bytes | None, actor: str, now: datetime, settings: Settings,
) -> ResidentView:
    """Correct a resident's record (PATCH); unchanged fields stay as they were.

    ``photo`` is the JPEG made by :func:`process_photo`, never the upload itself.
    """
    refuse_not_collected(changes)
    resident = _load(session, resident_id)
    current = open_data(keys, resident)
    data = parse_resident(changes, settings=settings, today=now.date(), base=current)
    key = data_key(keys, resident)
    v = keys.vault()
    resident.record = v.encrypt(key, data.to_json(), record_id=resident.id, field="record")
    if photo is not None:
        resident.photo = v.encrypt(key, photo, record_id=resident.id, field="photo")
    resident.blind_index, resident.family_year_index = search_indexes(v, data)
    resident.updated_at = now
    changed = sorted(k for k in changes if k not in ("confirm_new",))
    audit.record(session, actor=actor, action="resident.correct", target_type="resident",
                 target_id=resident.id, now=now, details={"fields": changed})
    session.flush()
    return get_resident(session, keys, resident_id)


def find_by_name(
    session: Session, keys: CityKeys, *, given_names: str, family_names: str,
    date_of_birth: date, actor: str, now: datetime,
) -> list[ResidentView]:
    """Exact search by name and birth date, through the blind index (no name is searchable)."""
    blind = blind_index(keys.vault(), given_names, family_names, date_of_birth)
    ids = list(session.scalars(select(Resident.id).where(
        Resident.blind_index == blind, Resident.purged_at.is_(None))))
    audit.record(session, actor=actor, action="resident.search", target_type="resident",
                 target_id="-", now=now, details={"results": len(ids)})
    return [get_resident(session, keys, rid) for rid in ids]


def lock_resident(session: Session, resident_id: str, *, now: datetime) -> Resident:
    """Load a resident for an update that must not race (issuing a card).

    The UPDATE comes first so it takes the row lock (PostgreSQL) or the write lock
    (SQLite) before anything is read.
    """
    result = session.execute(update(Resident).where(
        Resident.id == resident_id, Resident.purged_at.is_(None)).values(updated_at=now))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise NotFoundError(N_("No such resident (or their record has been deleted)."))
    return _load(session, resident_id)


# ---- retention -----------------------------------------------------------------------------

@dataclass(frozen=True)
class PurgePlan:
    """Residents a purge would forget."""

    resident_ids: tuple[str, ...]
    cutoff: datetime


def plan_purge(session: Session, *, now: datetime, days_after_expiry: int) -> PurgePlan:
    """Residents whose last card expired more than ``days_after_expiry`` days ago.

    Residents registered that long ago who never got a card are included too.
    """
    cutoff = now - timedelta(days=days_after_expiry)
    # Two walks, each down its own partial index (migration 0010): the query reads the
    # residents past retention, not the whole register.
    expired = select(Resident.id).where(Resident.purged_at.is_(None),
                                        Resident.last_card_expires_at < cutoff)
    cardless = select(Resident.id).where(Resident.purged_at.is_(None),
                                         Resident.last_card_expires_at.is_(None),
                                         Resident.created_at < cutoff)
    # Sorted here, not by the database: an ORDER BY over the union lets SQLite walk the
    # whole table in id order instead of the index (the list is the few past retention).
    ids = sorted(session.scalars(union_all(expired, cardless)))
    return PurgePlan(resident_ids=tuple(ids), cutoff=cutoff)


def purge_resident(session: Session, resident_id: str, *, actor: str, now: datetime,
                   reason: str) -> None:
    """Forget a resident by destroying their data key; their cards keep verifying.

    The row stays as a tombstone (id, dates) so cards and the audit log still refer to
    something; every ciphertext and the wrapped key are deleted, and card print data
    (sealed with the same key) goes too.
    """
    resident = session.get(Resident, resident_id)
    if resident is None:
        raise NotFoundError(N_("No such resident."))
    if resident.purged_at is not None:
        return
    resident.wrapped_key = None
    resident.record = None
    resident.photo = None
    resident.blind_index = None
    resident.family_year_index = None
    resident.purged_at = now
    for card in resident.cards:
        card.print_data = None
        card.renewal_code_hash = None
    audit.record(session, actor=actor, action="resident.purge", target_type="resident",
                 target_id=resident_id, now=now, details={"reason": reason})
    session.flush()


def forget_search_indexes(session: Session) -> int:
    """Set every resident's blind indexes to NULL (before the master key is destroyed).

    Without the key nobody could test a guess against them any more, but the values
    would still tell which residents share a name and birth date: they go too.
    """
    result = session.execute(update(Resident).values(blind_index=None, family_year_index=None))
    session.flush()
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def set_last_card_expiry(session: Session, resident: Resident) -> None:
    """Recompute the date retention counts from (the latest expiry of any card)."""
    resident.last_card_expires_at = max((c.expires_at for c in resident.cards), default=None)



def count_live(session: Session) -> int:
    """How many residents the register holds (purged ones are not counted)."""
    return int(session.scalar(select(func.count()).select_from(Resident)
                              .where(Resident.purged_at.is_(None))) or 0)
