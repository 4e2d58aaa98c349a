"""Residents renew or replace their card without an account; clerks work the queue.

A resident proves they hold the card with three things: the serial, their date of
birth and the renewal code from their renewal slip. The code is never printed on the
card, so the card alone (or a photo of it) proves nothing: whoever finds or takes a card
cannot cancel it or ask to change its holder's details. A wrong combination gets one
answer that never says which part was wrong; attempts are limited per serial and per
client by the web layer. A lost or stolen card is revoked at once, to protect its
holder, and a replacement waits for a clerk. A change of details (kind ``change``) is
only sealed with the request here; it is applied when a clerk approves it, never before.

Approving issues the new card in the same unit of work that marks the request
approved, and the conditional UPDATE that claims the request lets exactly one of
two concurrent approvals win.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cardservice import serials
from cardservice.config import Settings
from cardservice.errors import N_, ConflictError, DomainError, InvalidInputError, NotFoundError
from cardservice.models import Card, CardStatus, RenewalRequest, Resident
from cardservice.privacy import refuse_not_collected
from cardservice.services import audit, cards, residents
from cardservice.services.citykeys import CityKeys

KINDS = ("renew", "lost", "stolen", "damaged", "change")
CHANGE_FIELDS = ("address", "gender", "preferred_name")
REVOKE_AT_ONCE = ("lost", "stolen")


NOT_MATCHED = N_("We could not find a card with these details. Check the card number, your "
                 "date of birth and the renewal code on your renewal slip.")


class CardNotMatchedError(DomainError):
    """Serial, date of birth and renewal code do not match one card (deliberately vague)."""

    code = "not_matched"
    http_status = 403


class OutsideRenewalWindowError(ConflictError):
    """Renewal is open only from some days before expiry to some time after."""

    code = "outside_window"


@dataclass(frozen=True)
class CardHolderSession:
    """What a resident who proved they hold a card may see: no personal data beyond dates."""

    serial: str
    status: str
    expires_at: datetime
    renewal_opens: datetime
    renewal_closes: datetime
    can_renew: bool
    pending_request: str | None


@dataclass(frozen=True)
class RequestView:
    """A request as the resident's status page and the clerk queue show it."""

    id: str
    serial: str
    resident_id: str
    kind: str
    status: str
    created_at: datetime
    decided_at: datetime | None
    reject_reason: str | None
    new_serial: str | None
    changes: Mapping[str, Any] | None = None
    locale: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The resident-facing JSON."""
        return {"id": self.id, "status": self.status, "kind": self.kind,
                "created_at": cards.iso(self.created_at),
                "decided_at": cards.iso(self.decided_at) if self.decided_at else None,
                "reject_reason": self.reject_reason}


@dataclass(frozen=True)
class QueueItem:
    """A request as a clerk decides it: who asks, about which card, and what changes.

    ``holder_name`` is ``None`` when the resident's record has been forgotten (purged).
    """

    request: RequestView
    holder_name: str | None
    has_photo: bool
    card_status: str
    card_expires_at: datetime


def renewal_window(settings: Settings, expires_at: datetime) -> tuple[datetime, datetime]:
    """When renewal of a card expiring at ``expires_at`` opens and closes."""
    return (expires_at - timedelta(days=settings.cards.renewal_days_before),
            expires_at + timedelta(days=settings.cards.renewal_days_after))


def authenticate_holder(
    session: Session, keys: CityKeys, *, serial: str, date_of_birth: str, renewal_code: str,
) -> Card:
    """The card these three facts prove, or ``CardNotMatchedError`` — the same for any miss."""
    miss = CardNotMatchedError(NOT_MATCHED)
    try:
        normalised = serials.normalise_serial(serial)
        born = date.fromisoformat(str(date_of_birth).strip())
    except (serials.SerialFormatError, ValueError):
        raise miss from None
    card = session.get(Card, normalised)
    # Check the code even when the card is missing, so timing says nothing either.
    code_ok = cards.check_renewal_code(card if card is not None else _dummy_card(),
                                       renewal_code)
    if card is None or not code_ok:
        raise miss
    resident = session.get(Resident, card.resident_id)
    if resident is None or resident.wrapped_key is None:
        raise miss
    if residents.open_data(keys, resident).date_of_birth != born:
        raise miss
    return card


@cache
def _dummy_card() -> Card:
    return Card(serial="0", renewal_code_hash=cards.hash_renewal_code(secrets.token_hex(8)))


def held_card(session: Session, serial: str) -> Card | None:
    """The card a resident proved they hold earlier in their browser session."""
    return session.get(Card, serial)


def holder_view(session: Session, card: Card, *, settings: Settings, now: datetime
                ) -> CardHolderSession:
    """What the resident's page shows about their card."""
    opens, closes = renewal_window(settings, card.expires_at)
    pending = session.scalar(select(RenewalRequest.id).where(
        RenewalRequest.serial == card.serial, RenewalRequest.status == "pending"))
    return CardHolderSession(
        serial=card.serial, status=card.status, expires_at=card.expires_at,
        renewal_opens=opens, renewal_closes=closes,
        can_renew=card.status == CardStatus.ACTIVE and opens <= now <= closes,
        pending_request=pending)


def create_request(
    session: Session, keys: CityKeys, *, card: Card, kind: str, now: datetime,
    settings: Settings, changes: Mapping[str, Any] | None = None, locale: str | None = None,
) -> RequestView:
    """File a request for a card the resident proved they hold."""
    if kind not in KINDS:
        raise InvalidInputError(N_("'kind' is one of: %(choices)s."),
                                params={"choices": ", ".join(KINDS)}, field="kind")
    refuse_not_collected(changes or {})
    # Lock the card row first: two identical requests at once make one pending request.
    session.execute(update(Card).where(Card.serial == card.serial).values(status=Card.status))
    session.refresh(card)
    pending = session.scalar(select(RenewalRequest.id).where(
        RenewalRequest.serial == card.serial, RenewalRequest.status == "pending"))
    if pending is not None:
        raise ConflictError(N_("A request for this card is already waiting for a clerk."))
    if card.status == CardStatus.SUPERSEDED:
        raise ConflictError(N_("This card has been replaced by a newer card."))
    if card.status == CardStatus.REVOKED and card.revocation_reason not in REVOKE_AT_ONCE:
        raise ConflictError(N_("This card has been cancelled; please come to the desk."))
    if kind == "renew":
        opens, closes = renewal_window(settings, card.expires_at)
        if not opens <= now <= closes:
            raise OutsideRenewalWindowError(
                N_("Renewal is open from %(opens)s to %(closes)s."),
                params={"opens": f"{opens:%Y-%m-%d}", "closes": f"{closes:%Y-%m-%d}"})
    sealed = None
    resident = session.get(Resident, card.resident_id)
    assert resident is not None
    if kind == "change":
        clean = _check_changes(changes or {}, keys=keys, resident=resident, settings=settings,
                               now=now)
        sealed = keys.vault().encrypt(
            residents.data_key(keys, resident), json.dumps(clean).encode(),
            record_id=resident.id, field="request")
    if kind in REVOKE_AT_ONCE and card.status == CardStatus.ACTIVE:
        card.status = CardStatus.REVOKED
        card.revoked_at = now
        card.revocation_reason = kind
        audit.record(session, actor="resident", action="card.revoke", target_type="card",
                     target_id=card.serial, now=now, details={"reason": kind, "by": "holder"})
    req = RenewalRequest(
        id=secrets.token_urlsafe(18)[:24], serial=card.serial, resident_id=card.resident_id,
        kind=kind, changes=sealed, status="pending", created_at=now, locale=locale)
    session.add(req)
    audit.record(session, actor="resident", action="request.create", target_type="request",
                 target_id=req.id, now=now, details={"kind": kind, "card": card.serial})
    session.flush()
    return _view(req)


def _check_changes(changes: Mapping[str, Any], *, keys: CityKeys, resident: Resident,
                   settings: Settings, now: datetime) -> dict[str, Any]:
    unknown = set(changes) - set(CHANGE_FIELDS)
    if unknown:
        name = sorted(unknown)[0]
        raise InvalidInputError(
            N_("'%(field)s' cannot be changed here; a legal name change is done at the desk."),
            params={"field": name}, field=name)
    if not changes:
        raise InvalidInputError(N_("Say what should change: address, gender marker or preferred "
                                "name."), field="address")
    # Validate by applying to the current record (nothing is stored yet).
    changed = residents.parse_resident(dict(changes), settings=settings, today=now.date(),
                                       base=residents.open_data(keys, resident))
    cards.check_printable(settings, changed, now=now)
    return dict(changes)


def _view(req: RenewalRequest, changes: Mapping[str, Any] | None = None) -> RequestView:
    return RequestView(id=req.id, serial=req.serial, resident_id=req.resident_id, kind=req.kind,
                       status=req.status, created_at=req.created_at, decided_at=req.decided_at,
                       reject_reason=req.reject_reason, new_serial=req.new_serial,
                       changes=changes, locale=req.locale)


def get_request(session: Session, request_id: str) -> RequestView:
    """A request by its (unguessable) id."""
    req = session.get(RenewalRequest, request_id)
    if req is None:
        raise NotFoundError(N_("No such request."))
    return _view(req)


def request_for_clerk(session: Session, keys: CityKeys, request_id: str) -> QueueItem:
    """A request with its holder and the requested changes decrypted."""
    req = session.get(RenewalRequest, request_id)
    if req is None:
        raise NotFoundError(N_("No such request."))
    return _queue_item(session, keys, req)


def _queue_item(session: Session, keys: CityKeys, req: RenewalRequest) -> QueueItem:
    card = session.get(Card, req.serial)
    assert card is not None  # a request always names a card (foreign key)
    resident = session.get(Resident, req.resident_id)
    name, has_photo = None, False
    if resident is not None and resident.wrapped_key is not None:
        name = residents.open_data(keys, resident).full_name
        has_photo = resident.photo is not None
    return QueueItem(request=_view(req, _open_changes(keys, session, req)), holder_name=name,
                     has_photo=has_photo, card_status=card.status,
                     card_expires_at=card.expires_at)


def _open_changes(keys: CityKeys, session: Session, req: RenewalRequest
                  ) -> dict[str, Any] | None:
    if req.changes is None:
        return None
    resident = session.get(Resident, req.resident_id)
    if resident is None or resident.wrapped_key is None:
        return None
    raw = keys.vault().decrypt(residents.data_key(keys, resident), req.changes,
                               record_id=resident.id, field="request")
    result: dict[str, Any] = json.loads(raw)
    return result


@dataclass(frozen=True)
class QueuePage:
    """One page of the clerks' queue, oldest first, keyset-paged by (time, id).

    ``start`` is how many pending requests come before this page (for "page n of m");
    ``older``/``newer`` name the requests to page from (``before``/``after``), or are
    ``None`` at either end.
    """

    items: list[QueueItem]
    total: int
    start: int
    older: str | None
    newer: str | None


def _pending_before(created_at: datetime, request_id: str) -> Any:
    # (created_at, id) < (c, i), written so that created_at bounds the index walk.
    return (RenewalRequest.created_at <= created_at) & (
        (RenewalRequest.created_at < created_at) | (RenewalRequest.id < request_id))


def _pending_after(created_at: datetime, request_id: str) -> Any:
    return (RenewalRequest.created_at >= created_at) & (
        (RenewalRequest.created_at > created_at) | (RenewalRequest.id > request_id))


def pending_requests(session: Session, keys: CityKeys, *, limit: int = 50,
                     after: str | None = None, before: str | None = None) -> QueuePage:
    """A page of the queue, oldest first, holders decrypted (only the page shown).

    Keyset paging: ``after`` a request id, the page of requests that follow it; ``before``
    one, the page that precedes it; neither, the first page. Each page is a walk down the
    (status, created_at, id) index of migration 0010 from where the last one stopped, so
    a long queue costs no more a page than a short one. A cursor that is no longer a
    request (or not given) starts from the oldest.
    """
    pending = RenewalRequest.status == "pending"
    order = (RenewalRequest.created_at, RenewalRequest.id)
    cursor = session.get(RenewalRequest, after or before) if (after or before) else None
    stmt = select(RenewalRequest).where(pending)
    if cursor is not None and before:
        rows = list(session.scalars(
            stmt.where(_pending_before(cursor.created_at, cursor.id))
            .order_by(*(c.desc() for c in order)).limit(limit)))[::-1]
        if len(rows) < limit:  # fewer than a page before it: the first page
            rows = list(session.scalars(stmt.order_by(*order).limit(limit)))
    elif cursor is not None:
        rows = list(session.scalars(stmt.where(_pending_after(cursor.created_at, cursor.id))
                                    .order_by(*order).limit(limit)))
    else:
        rows = list(session.scalars(stmt.order_by(*order).limit(limit)))
    total = int(session.scalar(select(func.count()).select_from(RenewalRequest)
                               .where(pending)) or 0)
    start = 0
    if rows:
        start = int(session.scalar(select(func.count()).select_from(RenewalRequest).where(
            pending, _pending_before(rows[0].created_at, rows[0].id))) or 0)
    return QueuePage(items=[_queue_item(session, keys, r) for r in rows], total=total,
                     start=start, older=rows[0].id if rows and start > 0 else None,
                     newer=rows[-1].id if rows and start + len(rows) < total else None)


def _claim(session: Session, request_id: str, *, status: str, actor: str, now: datetime,
           reason: str | None = None) -> RenewalRequest:
    # The WHERE status='pending' makes this the single point where one decision wins.
    result = session.execute(
        update(RenewalRequest)
        .where(RenewalRequest.id == request_id, RenewalRequest.status == "pending")
        .values(status=status, decided_at=now, decided_by=actor, reject_reason=reason))
    if result.rowcount != 1:  # type: ignore[attr-defined]
        if session.get(RenewalRequest, request_id) is None:
            raise NotFoundError(N_("No such request."))
        raise ConflictError(N_("This request has already been decided by another clerk."))
    req = session.get(RenewalRequest, request_id)
    assert req is not None
    session.refresh(req)
    return req


def approve(session: Session, keys: CityKeys, request_id: str, *, actor: str, now: datetime,
            settings: Settings) -> cards.IssuedCard:
    """Approve: apply any changes and issue the new card (superseding the old) together."""
    req = _claim(session, request_id, status="approved", actor=actor, now=now)
    changes = _open_changes(keys, session, req)
    if changes:
        resident = session.get(Resident, req.resident_id)
        assert resident is not None
        data = residents.parse_resident(changes, settings=settings, today=now.date(),
                                        base=residents.open_data(keys, resident))
        resident.record = keys.vault().encrypt(
            residents.data_key(keys, resident), data.to_json(), record_id=resident.id,
            field="record")
    reason = req.kind if req.kind in ("lost", "stolen", "damaged") else "superseded"
    issued = cards.issue_card(session, keys, req.resident_id, actor=actor, now=now,
                              settings=settings, supersede_reason=reason)
    req.new_serial = issued.serial
    audit.record(session, actor=actor, action="request.approve", target_type="request",
                 target_id=req.id, now=now, details={"new_card": issued.serial})
    session.flush()
    return issued


def reject(session: Session, request_id: str, *, reason: str, actor: str, now: datetime
           ) -> RequestView:
    """Reject with a reason the resident will read."""
    reason = " ".join(reason.split())
    if not reason:
        raise InvalidInputError(N_("Give the resident a reason."), field="reason")
    if len(reason) > 500:
        raise InvalidInputError(N_("Keep the reason under 500 characters."), field="reason")
    req = _claim(session, request_id, status="rejected", actor=actor, now=now, reason=reason)
    audit.record(session, actor=actor, action="request.reject", target_type="request",
                 target_id=req.id, now=now)
    return _view(req)


def contact_email(session: Session, keys: CityKeys, request_id: str) -> str | None:
    """The resident's e-mail address, if they gave one (for the optional notice)."""
    req = session.get(RenewalRequest, request_id)
    if req is None:
        return None
    resident = session.get(Resident, req.resident_id)
    if resident is None or resident.wrapped_key is None:
        return None
    return residents.open_data(keys, resident).contact.email or None
