"""Use cases of the register: register, read, correct, find and forget residents."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date
from typing import Any

from cardservice import vault
from cardservice.application.unit import UnitOfWork
from cardservice.application.uploads import Uploads
from cardservice.clock import utcnow
from cardservice.config import Settings
from cardservice.errors import N_, ConflictError
from cardservice.privacy import refuse_not_collected
from cardservice.services import audit, cards, residents
from cardservice.services.citykeys import CityKeys
from cardservice.services.residents import PurgePlan, ResidentView


class ResidentUseCases:
    """What clerks do with residents' records, and what retention does with them."""

    def __init__(self, settings: Settings, keys: CityKeys, uow: UnitOfWork,
                 uploads: Uploads) -> None:
        self._settings = settings
        self._keys = keys
        self._uow = uow
        self._uploads = uploads

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
        """Exact search through the blind index; every search is audited."""
        with self._uow() as s:
            return residents.find_by_name(s, self._keys, given_names=given_names,
                                          family_names=family_names,
                                          date_of_birth=date_of_birth, actor=actor,
                                          now=utcnow())

    # ---- retention ---------------------------------------------------------------------

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
        vault.destroy_master_key(path)
        self._keys.forget_vault()
