"""Use cases of residents' requests (no account) and of the clerks' queue."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from cardservice.application.unit import UnitOfWork
from cardservice.clock import utcnow
from cardservice.config import Settings
from cardservice.errors import N_, InvalidInputError
from cardservice.services import notify, renewals
from cardservice.services.cards import IssuedCard
from cardservice.services.citykeys import CityKeys
from cardservice.services.renewals import CardHolderSession, QueueItem, QueuePage, RequestView


class RenewalUseCases:
    """Residents prove they hold a card and file requests; clerks decide them."""

    def __init__(self, settings: Settings, keys: CityKeys, uow: UnitOfWork) -> None:
        self._settings = settings
        self._keys = keys
        self._uow = uow

    def authenticate_holder(self, *, serial: str, date_of_birth: str, renewal_code: str
                            ) -> str:
        """The serial these three facts prove, or ``CardNotMatchedError`` for any miss."""
        with self._uow.read() as s:
            return renewals.authenticate_holder(s, self._keys, serial=serial,
                                                date_of_birth=date_of_birth,
                                                renewal_code=renewal_code).serial

    def holder_view(self, serial: str) -> CardHolderSession | None:
        """What the resident's page shows about a card they proved they hold."""
        with self._uow.read() as s:
            card = renewals.held_card(s, serial)
            if card is None:
                return None
            return renewals.holder_view(s, card, settings=self._settings, now=utcnow())

    def file(self, serial: str, *, kind: str, changes: Mapping[str, Any] | None,
             locale: str | None) -> RequestView:
        """File a request for a card the resident proved they hold (lost/stolen: revoked)."""
        with self._uow() as s:
            card = renewals.held_card(s, serial)
            if card is None:
                raise renewals.CardNotMatchedError(renewals.NOT_MATCHED)
            return renewals.create_request(s, self._keys, card=card, kind=kind, now=utcnow(),
                                           settings=self._settings, changes=changes,
                                           locale=locale)

    def request(self, *, serial: str, date_of_birth: str, renewal_code: str, kind: str,
                changes: object, locale: str | None) -> RequestView:
        """Prove holding the card and file a request, together (the JSON API)."""
        with self._uow() as s:
            card = renewals.authenticate_holder(s, self._keys, serial=serial,
                                                date_of_birth=date_of_birth,
                                                renewal_code=renewal_code)
            if changes is not None and not isinstance(changes, Mapping):
                raise InvalidInputError(N_("'changes' must be an object."), field="changes")
            return renewals.create_request(s, self._keys, card=card, kind=kind, now=utcnow(),
                                           settings=self._settings, changes=changes,
                                           locale=locale)

    def status(self, request_id: str) -> RequestView:
        """A request by its unguessable id."""
        with self._uow.read() as s:
            return renewals.get_request(s, request_id)

    # ---- the clerks' queue -------------------------------------------------------------

    def pending(self, *, limit: int, after: str | None = None, before: str | None = None
                ) -> QueuePage:
        """A page of the queue, oldest first, with each holder's name, photo availability
        and card, and how many are pending in all; keyset-paged: the page ``after`` or
        ``before`` a request id (neither: the first page)."""
        with self._uow.read() as s:
            return renewals.pending_requests(s, self._keys, limit=limit, after=after,
                                             before=before)

    def for_clerk(self, request_id: str) -> QueueItem:
        """A request with its holder and what it asks to change, decrypted."""
        with self._uow.read() as s:
            return renewals.request_for_clerk(s, self._keys, request_id)

    def approve(self, request_id: str, *, actor: str, status_url: str | None = None
                ) -> IssuedCard:
        """Approve: apply the changes and issue the new card in one unit of work.

        Then, if mail is on and the resident left an address, tell them at ``status_url``;
        a mail failure never undoes the decision.
        """
        with self._uow() as s:
            issued = renewals.approve(s, self._keys, request_id, actor=actor, now=utcnow(),
                                      settings=self._settings)
        self._notify(request_id, approved=True, status_url=status_url)
        return issued

    def reject(self, request_id: str, *, reason: str, actor: str,
               status_url: str | None = None) -> RequestView:
        """Reject with a reason the resident reads on their status page."""
        with self._uow() as s:
            view = renewals.reject(s, request_id, reason=reason, actor=actor, now=utcnow())
        self._notify(request_id, approved=False, status_url=status_url)
        return view

    def _notify(self, request_id: str, *, approved: bool, status_url: str | None) -> None:
        mail = self._settings.mail
        if not mail.enabled or status_url is None:
            return
        with self._uow.read() as s:
            email = renewals.contact_email(s, self._keys, request_id)
            view = renewals.get_request(s, request_id)
        if not email:
            return
        msg = notify.build_notice(sender=mail.sender, to=email,
                                  city_name=self._settings.city.name, status_url=status_url,
                                  approved=approved,
                                  locale=view.locale or self._settings.default_locale)
        notify.send_notice(mail, msg)
