"""Use cases of cards: issue, read, revoke, print one, print a batch, preview; the renewal
slip and a new renewal code."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cardservice.application.unit import UnitOfWork
from cardservice.clock import utcnow
from cardservice.config import Settings
from cardservice.services import cards
from cardservice.services.cards import CardInfo, IssuedCard, PrintRow
from cardservice.services.citykeys import CityKeys
from cardservice.slippdf import SlipLabels


@dataclass(frozen=True)
class CardSheet:
    """A batch of cards on A4 sheets."""

    serials: tuple[str, ...]
    pdf: bytes


@dataclass(frozen=True)
class PrintSelection:
    """The cards issued in a period that a sheet would hold: how many, and one page of
    them with their holders."""

    total: int
    rows: list[PrintRow]


class CardUseCases:
    """What clerks do with cards."""

    def __init__(self, settings: Settings, keys: CityKeys, uow: UnitOfWork) -> None:
        self._settings = settings
        self._keys = keys
        self._uow = uow

    def issue(self, resident_id: str, *, actor: str) -> IssuedCard:
        """Issue a card; the resident's earlier cards are superseded (and so revoked)."""
        with self._uow() as s:
            return cards.issue_card(s, self._keys, resident_id, actor=actor, now=utcnow(),
                                    settings=self._settings)

    def get(self, serial: str) -> CardInfo:
        """A card's status (no personal data)."""
        with self._uow.read() as s:
            return cards.get_card(s, serial)

    def revoke(self, serial: str, *, reason: str, actor: str) -> CardInfo:
        """Revoke a card; checks of it read ``revoked`` from the moment this returns."""
        with self._uow() as s:
            return cards.revoke_card(s, serial, reason=reason, actor=actor, now=utcnow())

    def pdf(self, serial: str) -> bytes:
        """The printable card; reading it changes nothing (see ``mark_printed``)."""
        with self._uow.read() as s:
            return cards.card_pdf(s, self._keys, serial, settings=self._settings)

    def mark_printed(self, serial: str, *, actor: str) -> CardInfo:
        """A clerk confirms the card printed correctly: ``printed_at`` and a ``card.print``
        audit entry."""
        with self._uow() as s:
            return cards.mark_printed(s, serial, actor=actor, now=utcnow())

    def preview_png(self, serial: str, *, side: int) -> bytes:
        """One side of the card as it will print (not recorded as a print)."""
        with self._uow.read() as s:
            return cards.card_preview_png(s, self._keys, serial, page=side,
                                          settings=self._settings)

    def renewal_slip_pdf(self, serial: str, *, code: str, labels: SlipLabels,
                         resident_url: str) -> bytes:
        """The renewal slip of a card in force, for the code handed in (refused unless it is
        the card's code: ``RenewalCodeMismatchError``). Reading it changes nothing."""
        with self._uow.read() as s:
            return cards.renewal_slip_pdf(s, serial, code=code, labels=labels,
                                          resident_url=resident_url, settings=self._settings)

    def new_renewal_code(self, serial: str, *, actor: str) -> str:
        """A new renewal code for a card in force (the old one stops working), to be shown
        once and printed on a new slip; audited as ``card.new_renewal_code``."""
        with self._uow() as s:
            return cards.new_renewal_code(s, serial, actor=actor, now=utcnow())

    def issued_between(self, *, start: datetime, end: datetime, only_unprinted: bool
                       ) -> list[str]:
        """Serials of active cards issued in ``[start, end)``, oldest first."""
        with self._uow.read() as s:
            return cards.cards_issued_between(s, start=start, end=end,
                                              only_unprinted=only_unprinted)

    def print_selection(self, *, start: datetime, end: datetime, only_unprinted: bool,
                        offset: int, limit: int) -> PrintSelection:
        """How many active cards were issued in ``[start, end)`` (oldest first), and the
        holders' names and photo availability for ``limit`` of them from ``offset``: only
        the page shown is decrypted. Reading it marks nothing printed."""
        with self._uow.read() as s:
            total = cards.count_issued_between(s, start=start, end=end,
                                               only_unprinted=only_unprinted)
            page = cards.cards_issued_between(s, start=start, end=end,
                                              only_unprinted=only_unprinted, limit=limit,
                                              offset=offset)
            return PrintSelection(total, cards.print_rows(s, self._keys, page))

    def sheet(self, *, start: datetime, end: datetime, only_unprinted: bool, actor: str,
              limit: int | None = None, progress: Callable[[int, int], None] | None = None,
              ) -> CardSheet:
        """The cards issued in a period on A4 sheets (fronts, then backs, for duplex).

        The selection and the "printed" marks are one unit of work; an empty selection
        is an empty sheet, which callers report.
        """
        with self._uow() as s:
            chosen = cards.cards_issued_between(s, start=start, end=end,
                                                only_unprinted=only_unprinted, limit=limit)
            if not chosen:
                return CardSheet((), b"")
            pdf = cards.cards_sheet_pdf(s, self._keys, chosen, settings=self._settings,
                                        actor=actor, now=utcnow(), progress=progress)
            return CardSheet(tuple(chosen), pdf)
