"""Find residents the way a clerk needs to — through blind indexes and card serials only.

No name is searchable in the database: a search computes the keyed hash of what the
clerk typed (``vault``) and compares it with the stored ones. Three ways:

* a card's serial (typed, or read from the card's QR by the application layer): the
  card's holder;
* all the names and the date of birth (``Resident.blind_index``, the index that also
  flags duplicates at registration);
* the family names and the birth year (``Resident.family_year_index``), coarse on
  purpose: it returns everyone in that bucket, a page at a time.

Purged residents are never found (their indexes are NULL and ``purged_at`` is set).
Results come in a stable order — registration time, then id — since names are
ciphertext the database cannot sort. Only the page shown is decrypted.

Every search is audited with its kind and the number of results, never its terms.
These functions flush, never commit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from cardservice import serials, vault
from cardservice.errors import N_, InvalidInputError
from cardservice.models import Card, CardStatus, Resident
from cardservice.services import audit, residents
from cardservice.services.citykeys import CityKeys
from cardservice.services.residents import CardSummary

PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
REINDEX_BATCH = 200

#: The kinds of search, as the audit log records them.
KIND_CARD = "card"
KIND_SCAN = "scan"
KIND_NAME_DOB = "name_dob"
KIND_FAMILY_YEAR = "family_year"
KINDS = (KIND_CARD, KIND_SCAN, KIND_NAME_DOB, KIND_FAMILY_YEAR)


@dataclass(frozen=True)
class ResidentMatch:
    """One resident in a result list: what the clerk needs to recognise them."""

    id: str
    full_name: str
    date_of_birth: date
    has_photo: bool
    registered_at: datetime
    #: The card searched for (a card search), else the card in force, else the latest.
    card: CardSummary | None


@dataclass(frozen=True)
class ResidentSearchPage:
    """One page of a search's results, with the counts a pager needs."""

    kind: str
    matches: tuple[ResidentMatch, ...]
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        """How many pages the results fill (at least one, even when empty)."""
        return max(1, math.ceil(self.total / self.page_size))

    @property
    def has_previous(self) -> bool:
        """Whether a page comes before this one."""
        return self.page > 1

    @property
    def has_next(self) -> bool:
        """Whether a page comes after this one."""
        return self.page < self.pages


def _check_paging(page: int, page_size: int) -> None:
    if isinstance(page, bool) or not isinstance(page, int) or page < 1:
        raise InvalidInputError(N_("'page' must be a whole number from 1."), field="page")
    if isinstance(page_size, bool) or not isinstance(page_size, int) \
            or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise InvalidInputError(N_("'page_size' must be from 1 to %(max)d."),
                                params={"max": MAX_PAGE_SIZE}, field="page_size")


def _summary(card: Card) -> CardSummary:
    return CardSummary(card.serial, card.issued_at, card.expires_at, card.status,
                       card.revocation_reason)


def _current_card(resident: Resident) -> Card | None:
    # ``Resident.cards`` is ordered newest first.
    for card in resident.cards:
        if card.status == CardStatus.ACTIVE:
            return card
    return resident.cards[0] if resident.cards else None


def _match(keys: CityKeys, resident: Resident, card: Card | None) -> ResidentMatch:
    data = residents.open_data(keys, resident)
    shown = card if card is not None else _current_card(resident)
    return ResidentMatch(
        id=resident.id, full_name=data.full_name, date_of_birth=data.date_of_birth,
        has_photo=resident.photo is not None, registered_at=resident.created_at,
        card=_summary(shown) if shown is not None else None)


def _search(
    session: Session, keys: CityKeys, *, kind: str, condition: Any, page: int, page_size: int,
    actor: str, now: datetime, card: Card | None = None,
) -> ResidentSearchPage:
    _check_paging(page, page_size)
    live = select(Resident.id).where(condition, Resident.purged_at.is_(None),
                                     Resident.wrapped_key.is_not(None))
    total = int(session.scalar(select(func.count()).select_from(live.subquery())) or 0)
    page = min(page, max(1, math.ceil(total / page_size)))
    ids = list(session.scalars(live.order_by(Resident.created_at, Resident.id)
                               .limit(page_size).offset((page - 1) * page_size)))
    matches = []
    for rid in ids:
        resident = session.get(Resident, rid)
        assert resident is not None
        matches.append(_match(keys, resident, card))
    # What was searched for stays out of the log: only that a search of this kind ran.
    audit.record(session, actor=actor, action="resident.search", target_type="resident",
                 target_id="-", now=now, details={"kind": kind, "results": total})
    return ResidentSearchPage(kind=kind, matches=tuple(matches), total=total, page=page,
                              page_size=page_size)


def by_serial(
    session: Session, keys: CityKeys, serial: str, *, kind: str = KIND_CARD, actor: str,
    now: datetime, page: int = 1, page_size: int = PAGE_SIZE,
) -> ResidentSearchPage:
    """The holder of the card with ``serial`` (typed: case, spaces, dashes and O/I/L folded).

    A serial that cannot be one (wrong length, a typing mistake caught by its check
    character) is an ``InvalidInputError`` on the field ``serial``; an unknown serial
    is an empty result.
    """
    try:
        canonical = serials.normalise_serial(serial)
    except serials.SerialFormatError as exc:
        # The serial module's sentences, marked for translation in services.cards.
        raise InvalidInputError(str(exc), field="serial") from None
    card = session.get(Card, canonical)
    # No such card: a condition nobody meets, so the search is still audited like any other.
    condition = Resident.id == card.resident_id if card is not None else Resident.id.is_(None)
    return _search(session, keys, kind=kind, condition=condition, page=page,
                   page_size=page_size, actor=actor, now=now, card=card)


def by_name_and_birth_date(
    session: Session, keys: CityKeys, *, given_names: str, family_names: str,
    date_of_birth: date, actor: str, now: datetime, page: int = 1, page_size: int = PAGE_SIZE,
) -> ResidentSearchPage:
    """Everyone registered with these names (any order, case or accents) and birth date."""
    blind = residents.blind_index(keys.vault(), given_names, family_names, date_of_birth)
    return _search(session, keys, kind=KIND_NAME_DOB, condition=Resident.blind_index == blind,
                   page=page, page_size=page_size, actor=actor, now=now)


def by_family_and_birth_year(
    session: Session, keys: CityKeys, *, family_names: str, birth_year: int, actor: str,
    now: datetime, page: int = 1, page_size: int = PAGE_SIZE,
) -> ResidentSearchPage:
    """Everyone with these family names (any order, case or accents) born in ``birth_year``."""
    if isinstance(birth_year, bool) or not isinstance(birth_year, int) \
            or not 1 <= birth_year <= now.year:
        raise InvalidInputError(N_("'birth_year' is not a possible year of birth."),
                                field="birth_year")
    try:
        index = keys.vault().family_year_index(family_names, birth_year)
    except vault.VaultError:
        raise InvalidInputError(N_("Give the family name (at least one letter)."),
                                field="family_names") from None
    return _search(session, keys, kind=KIND_FAMILY_YEAR,
                   condition=Resident.family_year_index == index, page=page,
                   page_size=page_size, actor=actor, now=now)


# ---- filling the indexes of rows registered before they existed ----------------------------

def _needs_index(everything: bool) -> Any:
    live = Resident.purged_at.is_(None) & Resident.wrapped_key.is_not(None) \
        & Resident.record.is_not(None)
    if everything:
        return live
    return live & or_(Resident.blind_index.is_(None), Resident.family_year_index.is_(None))


def count_to_reindex(session: Session, *, everything: bool = False) -> int:
    """How many live residents lack an index (``everything``: how many live residents)."""
    return int(session.scalar(select(func.count(Resident.id))
                              .where(_needs_index(everything))) or 0)


def reindex_batch(
    session: Session, keys: CityKeys, *, after: str, everything: bool = False,
    size: int = REINDEX_BATCH,
) -> list[str]:
    """Decrypt up to ``size`` live records with ids above ``after`` and (re)compute their
    blind indexes; returns the ids done, in order (empty: nothing was left).

    Walking the ids in order lets a run cut short resume where it stopped (rows already
    done no longer lack an index) and ``everything`` go through each row once.
    """
    v = keys.vault()
    ids = list(session.scalars(select(Resident.id).where(_needs_index(everything),
                                                         Resident.id > after)
                               .order_by(Resident.id).limit(size)))
    for rid in ids:
        resident = session.get(Resident, rid)
        assert resident is not None
        data = residents.open_data(keys, resident)
        resident.blind_index, resident.family_year_index = residents.search_indexes(v, data)
    session.flush()
    return ids
