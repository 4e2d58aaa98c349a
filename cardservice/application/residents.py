"""Use cases of the register: register, read, correct, find and forget residents."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from cardservice import vault
from cardservice.application.unit import UnitOfWork
from cardservice.application.uploads import Uploads
from cardservice.application.verifier import Verifier
from cardservice.clock import utcnow
from cardservice.config import Settings
from cardservice.errors import N_, ConflictError, InvalidInputError
from cardservice.privacy import refuse_not_collected
from cardservice.services import audit, cards, resident_search, residents, verification
from cardservice.services.citykeys import CityKeys
from cardservice.services.resident_search import ResidentSearchPage
from cardservice.services.residents import PurgePlan, ResidentView

# What a hand scanner types when it reads a card's QR: the format prefix (LC1:, and any
# later LCn:) before the Base45 text. A serial never holds a colon.
_SCAN_PREFIX = re.compile(r"LC[0-9]+:", re.IGNORECASE)
# Statuses reached only after the signature checked out: the serial is the issuer's own.
# An expired or revoked card still leads to its holder (they may have come to renew it).
_SIGNED_STATUSES = frozenset({"valid", "expired", "not_yet_valid", "revoked"})


@dataclass(frozen=True)
class CardQuery:
    """A card's serial as typed, or the text a hand scanner types from the card's QR."""

    text: str


@dataclass(frozen=True)
class NameQuery:
    """All the names (any order, case, accents) and the date of birth."""

    given_names: str
    family_names: str
    date_of_birth: date


@dataclass(frozen=True)
class FamilyQuery:
    """The family names and the year of birth (a coarse search: a page at a time)."""

    family_names: str
    birth_year: int


ResidentQuery = CardQuery | NameQuery | FamilyQuery


class CardOfAnotherCityError(InvalidInputError):
    """A genuine card scanned at the desk, but issued by a partner city: not in this register."""

    code = "card_of_another_city"


class ResidentUseCases:
    """What clerks do with residents' records, and what retention does with them."""

    def __init__(self, settings: Settings, keys: CityKeys, uow: UnitOfWork,
                 uploads: Uploads, verifier: Verifier) -> None:
        self._settings = settings
        self._keys = keys
        self._uow = uow
        self._uploads = uploads
        self._verifier = verifier

    def _photo(self, raw: bytes | None) -> bytes | None:
        # Decoded in the sandbox before the unit of work opens: no transaction waits on it.
        if raw is None:
            return None
        return residents.process_photo(raw, self._settings, decode=self._uploads.process_photo)

    def register(self, fields: Mapping[str, Any], *, photo: bytes | None, confirm_new: bool,
                 actor: str) -> str:
        """Register a resident from a form or JSON body; returns the new id.

        Never-collected fields are refused first (SPEC §2); a likely duplicate raises
        ``LikelyDuplicateError`` unless ``confirm_new``.
        """
        refuse_not_collected(fields)
        now = utcnow()
        data = residents.parse_resident(fields, settings=self._settings, today=now.date())
        cards.check_printable(self._settings, data, now=now)
        jpeg = self._photo(photo)
        with self._uow() as s:
            return residents.register(s, self._keys, data=data, photo=jpeg,
                                      confirm_new=confirm_new, actor=actor, now=now,
                                      settings=self._settings)

    def correct(self, resident_id: str, changes: Mapping[str, Any], *, photo: bytes | None,
                actor: str) -> ResidentView:
        """Correct a record: only the fields given change."""
        now = utcnow()
        jpeg = self._photo(photo)
        with self._uow() as s:
            view = residents.correct_resident(s, self._keys, resident_id, changes=changes,
                                              photo=jpeg, actor=actor, now=now,
                                              settings=self._settings)
            # A correction the card could not carry is refused, and rolled back with it.
            cards.check_printable(self._settings, view.data, now=now)
            return view

    def get(self, resident_id: str) -> ResidentView:
        """A resident's decrypted record and cards."""
        with self._uow.read() as s:
            return residents.get_resident(s, self._keys, resident_id)

    def candidates(self, resident_ids: list[str]) -> list[ResidentView]:
        """The records a duplicate check found (``LikelyDuplicateError.matches``), decrypted
        so the clerk can compare names, birth dates, photos and cards; a record forgotten
        since is left out."""
        with self._uow.read() as s:
            return residents.get_residents(s, self._keys, resident_ids)

    def photo(self, resident_id: str) -> bytes | None:
        """A resident's photo (JPEG), decrypted for one answer."""
        with self._uow.read() as s:
            return residents.get_photo(s, self._keys, resident_id)

    def find_by_name(self, *, given_names: str, family_names: str, date_of_birth: date,
                     actor: str) -> list[ResidentView]:
        """Every full record with these names and birth date (through the blind index);
        audited. The desk pages through :meth:`find` instead."""
        with self._uow() as s:
            return residents.find_by_name(s, self._keys, given_names=given_names,
                                          family_names=family_names,
                                          date_of_birth=date_of_birth, actor=actor,
                                          now=utcnow())

    def find(self, query: ResidentQuery, *, actor: str, page: int = 1,
             page_size: int = resident_search.PAGE_SIZE) -> ResidentSearchPage:
        """Find residents by card (typed or scanned), by names and date of birth, or by
        family names and birth year — through blind indexes only.

        Every search is audited with its kind and result count, never its terms.
        Purged residents are never found.
        """
        now = utcnow()
        if isinstance(query, CardQuery):
            text = query.text.strip()
            if _SCAN_PREFIX.match(text):
                serial = self._serial_of_scan(text, now=now)
                with self._uow() as s:
                    return resident_search.by_serial(
                        s, self._keys, serial, kind=resident_search.KIND_SCAN, actor=actor,
                        now=now, page=page, page_size=page_size)
            with self._uow() as s:
                return resident_search.by_serial(s, self._keys, text, actor=actor, now=now,
                                                 page=page, page_size=page_size)
        if isinstance(query, NameQuery):
            with self._uow() as s:
                return resident_search.by_name_and_birth_date(
                    s, self._keys, given_names=query.given_names,
                    family_names=query.family_names, date_of_birth=query.date_of_birth,
                    actor=actor, now=now, page=page, page_size=page_size)
        if isinstance(query, FamilyQuery):
            with self._uow() as s:
                return resident_search.by_family_and_birth_year(
                    s, self._keys, family_names=query.family_names,
                    birth_year=query.birth_year, actor=actor, now=now, page=page,
                    page_size=page_size)
        raise TypeError(f"not a resident query: {type(query).__name__}")

    def _serial_of_scan(self, text: str, *, now: datetime) -> str:
        """The serial in a scanned card, checked like any verification (signature first).

        Nothing of the scan is counted in the verification statistics: a clerk looking
        up a holder is not an agent checking a card.
        """
        result = verification.verify_qr(
            text, anchors=self._verifier.anchors(now=now), now=now,
            own_is_revoked=lambda _serial: False,
            revocations_max_age=timedelta(hours=self._settings.verify.revocations_max_age_hours))
        if result.issuer is not None and not result.issuer.own \
                and result.status in _SIGNED_STATUSES:
            raise CardOfAnotherCityError(
                N_("This card was issued by %(city)s, not by this city: its holder is not in "
                   "this register."), params={"city": result.issuer.name}, field="card")
        if result.status not in _SIGNED_STATUSES or result.serial is None \
                or result.issuer is None:
            raise InvalidInputError(
                N_("This scan is not a card of this city, or it was not read completely. "
                   "Scan it again, or type the card number."), field="card")
        return result.serial

    def count_to_reindex(self, *, everything: bool = False) -> int:
        """How many live residents lack a blind index (``everything``: all live residents)."""
        with self._uow.read() as s:
            return resident_search.count_to_reindex(s, everything=everything)

    def reindex(self, *, everything: bool = False,
                batch: int = resident_search.REINDEX_BATCH,
                progress: Callable[[str], None] | None = None) -> int:
        """Fill the blind indexes of residents registered before they existed (migration
        0008), one unit of work per batch: a run cut short keeps what it did.

        ``everything`` recomputes every live resident's indexes (after a change of the
        name normalisation). Returns how many residents were indexed.
        """
        after, done = "", 0
        while True:
            with self._uow() as s:
                ids = resident_search.reindex_batch(s, self._keys, after=after,
                                                    everything=everything, size=batch)
            if not ids:
                return done
            # Reported once the batch is committed: what the bar shows is really done.
            if progress is not None:
                for rid in ids:
                    progress(rid)
            done += len(ids)
            after = ids[-1]

    # ---- retention ---------------------------------------------------------------------

    def count(self) -> int:
        """How many residents the register holds."""
        with self._uow.read() as s:
            return residents.count_live(s)

    def plan_purge(self) -> PurgePlan:
        """Residents past the retention period."""
        with self._uow.read() as s:
            return residents.plan_purge(s, now=utcnow(),
                                        days_after_expiry=self._settings.retention
                                        .days_after_expiry)

    def purge(self, resident_id: str, *, actor: str, reason: str) -> None:
        """Forget one resident by destroying their data key (their cards keep verifying)."""
        with self._uow() as s:
            residents.purge_resident(s, resident_id, actor=actor, now=utcnow(), reason=reason)

    def purge_expired(self, plan: PurgePlan, *, actor: str,
                      progress: Callable[[str], None] | None = None) -> int:
        """Forget everyone in ``plan``, one unit of work each: a crash keeps what was done."""
        for rid in plan.resident_ids:
            self.purge(rid, actor=actor, reason="retention")
            if progress is not None:
                progress(rid)
        return len(plan.resident_ids)

    def destroy_register(self, *, confirm: str, actor: str) -> None:
        """Destroy the master key: no resident's personal data can be read again."""
        city = self._settings.city.id
        if confirm.strip() != city:
            raise ConflictError(N_("The confirmation does not match the city id: nothing was "
                                   "destroyed."))
        path = self._keys.master_key_path
        if not path.exists():
            raise ConflictError(N_("The master key is already gone: nothing is left to "
                                   "destroy."))
        # The audit entry is committed first: if destroying the key then failed, the log
        # would show an attempt, never a destruction it does not mention.
        with self._uow() as s:
            audit.record(s, actor=actor, action="register.destroy", target_type="register",
                         target_id=city, now=utcnow())
            # Keyless, the indexes could no longer be tested against a guess, but they
            # would still say who shares a name and birth date: they go first.
            residents.forget_search_indexes(s)
        vault.destroy_master_key(path)
        self._keys.forget_vault()
