"""The clerks' queue of residents' requests: oldest first, approve or reject."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import TextAreaField
from wtforms.validators import DataRequired, Length

from cardservice import serials
from cardservice.errors import DomainError
from cardservice.web import state
from cardservice.web.access import actor, page
from cardservice.web.main import add_home_link

bp = Blueprint("queue", __name__, url_prefix="/clerk/requests")
PAGE = 25

add_home_link(("clerk",), "queue.index", _l("Residents' requests"),
              _l("Renewals and replacements waiting for a clerk, oldest first."))


class ApproveForm(FlaskForm):
    """Approve (CSRF only)."""


class RejectForm(FlaskForm):
    """Reject with a reason the resident reads."""

    reason = TextAreaField(_l("Reason the resident will read"),
                           validators=[DataRequired(), Length(max=500)])


@bp.get("/")
@page("clerk")
def index() -> ResponseReturnValue:
    """Pending requests, oldest first, a page at a time."""
    page_no = max(1, request.args.get("page", 1, type=int))
    rows, total = state.application().renewals.pending(limit=PAGE,
                                                       offset=(page_no - 1) * PAGE)
    pages = max(1, (total + PAGE - 1) // PAGE)
    return render_template("queue/index.html", rows=rows, total=total, page=page_no,
                           pages=pages, fmt=serials.format_serial)


@bp.get("/<request_id>")
@page("clerk")
def detail(request_id: str) -> ResponseReturnValue:
    """One request, with what it asks to change."""
    view = state.application().renewals.for_clerk(request_id)
    return render_template("queue/detail.html", req=view, approve=ApproveForm(),
                           reject=RejectForm(), fmt=serials.format_serial)


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
    flash(_("Approved. New card %(serial)s is issued; its renewal code is %(code)s (printed on "
            "the back, not kept in clear).", serial=serials.format_serial(issued.serial),
            code=issued.renewal_code), "secret")
    return redirect(url_for("queue.detail", request_id=request_id))


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
