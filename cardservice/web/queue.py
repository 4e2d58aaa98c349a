"""The clerks' queue of residents' requests: oldest first, approve or reject.

Each request shows who asks (name and photo, decrypted for the page), the card it is
about, what it asks to change in words and how long it has waited. Approving issues
the new card and goes straight to that card's page, where it is printed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import format_timedelta
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from cardservice import serials
from cardservice.application import QueueItem
from cardservice.clock import utcnow
from cardservice.errors import DomainError
from cardservice.web import state
from cardservice.web.access import actor, page
from cardservice.web.clerk import STATUS_LABELS, show_issued
from cardservice.web.clerk_forms import GENDER_LABELS, label_of
from cardservice.web.main import add_home_link

bp = Blueprint("queue", __name__, url_prefix="/clerk/requests")
PAGE = 25

add_home_link(("clerk",), "queue.index", _l("Residents' requests"),
              _l("Renewals and replacements waiting for a clerk, oldest first."))


KIND_LABELS: dict[str, Any] = {
    "renew": _l("Renewal"),
    "lost": _l("Replacement of a lost card"),
    "stolen": _l("Replacement of a stolen card"),
    "damaged": _l("Replacement of a damaged card"),
    "change": _l("Change of details"),
}


@dataclass(frozen=True)
class QueueRow:
    """A request as the queue pages show it (worked out here, not in the template)."""

    item: QueueItem
    kind: str
    serial: str
    card_status: str
    changes: list[str]
    waited: str
    sent: datetime


def describe_changes(changes: Mapping[str, Any] | None) -> list[str]:
    """The requested changes as sentences a clerk reads (never the raw field names)."""
    if not changes:
        return []
    said = []
    address = changes.get("address")
    if isinstance(address, Mapping):
        if address.get("no_fixed_address"):
            where = _("no fixed address")
        else:
            where = ", ".join(str(address[k]) for k in ("line1", "line2", "postcode")
                              if address.get(k))
        if address.get("care_of"):
            where = _("%(address)s (care of %(care_of)s)", address=where,
                      care_of=address["care_of"])
        said.append(_("New address: %(address)s", address=where))
    if "gender" in changes:
        said.append(_("New gender marker: %(marker)s",
                      marker=label_of(GENDER_LABELS, changes.get("gender") or "")))
    if "preferred_name" in changes:
        said.append(_("New preferred name: %(name)s", name=changes["preferred_name"])
                    if changes["preferred_name"] else _("No preferred name any more"))
    return said


def _row(item: QueueItem, now: datetime) -> QueueRow:
    req = item.request
    return QueueRow(item=item, kind=label_of(KIND_LABELS, req.kind),
                    serial=serials.format_serial(req.serial),
                    card_status=label_of(STATUS_LABELS, item.card_status),
                    changes=describe_changes(req.changes),
                    waited=format_timedelta(now - req.created_at, threshold=1),
                    sent=req.created_at)


class ApproveForm(FlaskForm):
    """Approve (CSRF only)."""


class RejectForm(FlaskForm):
    """Reject with a reason the resident reads."""

    reason = TextAreaField(_l("Reason the resident will read"),
                           validators=[DataRequired(), Length(max=500)])


@bp.get("/")
@page("clerk")
def index() -> ResponseReturnValue:
    """Pending requests, oldest first, a page at a time (keyset: after or before a request)."""
    queue = state.application().renewals.pending(
        limit=PAGE, after=request.args.get("after", type=str) or None,
        before=request.args.get("before", type=str) or None)
    pages = max(1, (queue.total + PAGE - 1) // PAGE)
    now = utcnow()
    return render_template("queue/index.html", rows=[_row(i, now) for i in queue.items],
                           total=queue.total, page=min(pages, queue.start // PAGE + 1),
                           pages=pages, older=queue.older, newer=queue.newer)


@bp.get("/<request_id>")
@page("clerk")
def detail(request_id: str) -> ResponseReturnValue:
    """One request, with what it asks to change."""
    item = state.application().renewals.for_clerk(request_id)
    return render_template("queue/detail.html", row=_row(item, utcnow()), req=item.request,
                           approve=ApproveForm(), reject=RejectForm(),
                           fmt=serials.format_serial)


def _status_url(request_id: str) -> str:
    """Where the resident follows their request (named in the optional e-mail notice)."""
    return state.settings().city.base_url + url_for("resident.request_status",
                                                    request_id=request_id)


@bp.post("/<request_id>/approve")
@page("clerk")
def approve(request_id: str) -> ResponseReturnValue:
    """Approve: a new card is issued and supersedes the old one."""
    if not ApproveForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("queue.detail", request_id=request_id))
    try:
        issued = state.application().renewals.approve(request_id, actor=actor(),
                                                      status_url=_status_url(request_id))
    except DomainError as exc:
        flash(exc.translated(_), "error")
        return redirect(url_for("queue.detail", request_id=request_id))
    flash(_("Approved. New card %(serial)s is issued: print it now.",
            serial=serials.format_serial(issued.serial)), "success")
    return show_issued(issued)


@bp.post("/<request_id>/reject")
@page("clerk")
def reject(request_id: str) -> ResponseReturnValue:
    """Reject with a reason."""
    form = RejectForm()
    if not form.validate_on_submit():
        flash(_("Give the resident a reason."), "error")
        return redirect(url_for("queue.detail", request_id=request_id))
    try:
        state.application().renewals.reject(request_id, reason=form.reason.data or "",
                                            actor=actor(), status_url=_status_url(request_id))
    except DomainError as exc:
        flash(exc.translated(_), "error")
        return redirect(url_for("queue.detail", request_id=request_id))
    flash(_("Rejected. The resident sees your reason on their status page."), "success")
    return redirect(url_for("queue.index"))
