"""Clerks at the service desk: register residents, issue, print, reprint and revoke cards.

The renewal code is never printed on the card: it goes on a renewal slip, shown and
printable only from the page that follows issuing a card (or a new slip). That page
keeps ``{"serial", "code"}`` in the clerk's session just long enough to print the slip;
the next page the clerk opens forgets it (see ``_forget_slip``).

Each view parses the form, asks a service and renders. What a resident must never be
asked (SPEC §2) has no field here, and a request that carries such a field anyway is
refused with 400 before anything is read. Pages that show personal data are never
cached (``web.security`` sends ``no-store``; the photo, previews and PDFs say so too).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask import session as browser_session
from flask.typing import ResponseReturnValue
from flask_babel import force_locale, get_locale, lazy_pgettext, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from cardservice import serials, spokenlang
from cardservice.application import (
    SEARCH_KIND_SCAN,
    SEARCH_PAGE_SIZE,
    CardQuery,
    CardStatus,
    FamilyQuery,
    IssuedCard,
    LikelyDuplicateError,
    NameQuery,
    PrintRow,
    ResidentQuery,
    ResidentSearchPage,
    ResidentView,
    SlipLabels,
)
from cardservice.clock import utcnow
from cardservice.errors import N_, DomainError, InvalidInputError, NotCollectedError, NotFoundError
from cardservice.locales import own_name
from cardservice.privacy import refuse_not_collected
from cardservice.web import state
from cardservice.web.access import actor, page
from cardservice.web.clerk_forms import (
    DOCUMENT_LABELS,
    FEE_WAIVER_LABELS,
    GENDER_LABELS,
    REVOCATION_LABELS,
    CardSearchForm,
    FamilySearchForm,
    NameSearchForm,
    PrintSelectionForm,
    PrintSheetForm,
    ResidentForm,
    RevokeForm,
    label_of,
)
from cardservice.web.forms import ConfirmForm
from cardservice.web.i18n import ui_locales
from cardservice.web.main import add_home_link

bp = Blueprint("clerk", __name__, url_prefix="/clerk")

SEARCH_PAGE = SEARCH_PAGE_SIZE
PRINT_LIST_PAGE = 50
# A batch is rendered inside one web request; bigger runs are split (or done offline).
MAX_BATCH = 200
# A conservative rate for the estimate shown before printing (decrypt + QR + layout).
SHEET_CARDS_PER_SECOND = 15
# From this many cards on, the clerk confirms before the PDF is made (and marked printed).
LARGE_SHEET = 30
# Set by a POST that made a renewal code (issuing a card, a new slip; the queue's approval
# too): {"serial", "code"[, "new_slip"]}. The issued page takes it out of the session once.
_ISSUED_KEY = "clerk_issued_card"
# What the issued page keeps, {"serial", "code"}, so its "Print the renewal slip" works
# while it is open; any other page forgets it.
_SLIP_KEY = "clerk_renewal_slip"
# Reached from the issued page without leaving it (none of them shows the code).
_KEEPS_SLIP = frozenset({"clerk.slip_pdf", "clerk.card_pdf", "clerk.preview_page",
                         "clerk.preview_png"})

STATUS_LABELS: dict[str, Any] = {
    CardStatus.ACTIVE: lazy_pgettext("card status", "Active"),
    CardStatus.SUPERSEDED: _l("Replaced by a newer card"),
    CardStatus.REVOKED: _l("Revoked"),
}
REASON_LABELS: dict[str, Any] = {**REVOCATION_LABELS, "superseded": _l("Replaced")}

add_home_link(("clerk",), "clerk.desk", _l("Service desk"),
              _l("Find a resident or a card; issue, print and revoke cards."))
add_home_link(("clerk",), "clerk.register_page", _l("Register a resident"),
              _l("Record a new resident and the categories of documents they showed."))
add_home_link(("clerk",), "clerk.print_page", _l("Print cards"),
              _l("Print the cards issued on a day on A4 sheets with crop marks."))


# ---- helpers -------------------------------------------------------------------------------

@dataclass(frozen=True)
class CardRow:
    """A card as the clerk's pages list it (worked out here, not in the template)."""

    serial: str
    shown: str
    status: str
    status_label: str
    reason_label: str | None
    issued_at: datetime
    expires_at: datetime
    active: bool
    expired: bool


def _card_row(serial: str, status: str, reason: str | None, issued_at: datetime,
              expires_at: datetime, now: datetime) -> CardRow:
    return CardRow(
        serial=serial, shown=serials.format_serial(serial), status=status,
        status_label=label_of(STATUS_LABELS, status),
        # A replaced card's status already says why ("Replaced by a newer card").
        reason_label=(label_of(REASON_LABELS, reason)
                      if reason and status != CardStatus.SUPERSEDED else None),
        issued_at=issued_at, expires_at=expires_at, active=status == CardStatus.ACTIVE,
        expired=expires_at <= now)


def _rows(view: ResidentView, now: datetime) -> list[CardRow]:
    rows = [_card_row(c.serial, c.status, c.revocation_reason, c.issued_at, c.expires_at, now)
            for c in view.cards]
    return sorted(rows, key=lambda r: r.issued_at, reverse=True)


def _refuse_not_collected() -> None:
    """SPEC §2: a posted field the service never collects is a 400 naming it, before parsing."""
    refuse_not_collected({**request.form.to_dict(), **request.files.to_dict()})


def _canonical(serial: str) -> str:
    try:
        return serials.normalise_serial(serial)
    except serials.SerialFormatError:
        raise NotFoundError(N_("No card with this serial.")) from None


def _no_store(body: bytes, mimetype: str, **headers: str) -> Response:
    return Response(body, mimetype=mimetype, headers={"Cache-Control": "no-store", **headers})


def _page_of(items: list[Any], number: int, size: int) -> tuple[list[Any], int, bool]:
    pages = max(1, math.ceil(len(items) / size))
    number = min(max(1, number), pages)
    return items[(number - 1) * size:number * size], number, number < pages


def _display_labels() -> dict[str, Any]:
    return {"document_label": lambda c: label_of(DOCUMENT_LABELS, c),
            "waiver_label": lambda w: label_of(FEE_WAIVER_LABELS, w),
            "gender_label": lambda g: label_of(GENDER_LABELS, g or ""),
            "spoken_names": lambda codes: spokenlang.language_names(codes, str(get_locale()))}


# ---- the desk: search ----------------------------------------------------------------------

# Fields a search refusal names (``InvalidInputError.field``) → the form field to mark.
_SEARCH_ERROR_FIELDS = {"serial": "card", "card": "card", "given_names": "given_names",
                        "family_names": "family_names", "date_of_birth": "date_of_birth",
                        "birth_year": "birth_year", "page": "page"}


@dataclass(frozen=True)
class MatchRow:
    """A found resident as the desk lists it."""

    id: str
    full_name: str
    date_of_birth: date
    has_photo: bool
    card: CardRow | None


def _search_forms(kind: str) -> dict[str, Any]:
    """The desk's three search forms; only the one submitted reads the posted data."""
    posted = request.method == "POST"
    card = CardSearchForm(formdata=request.form if posted and kind == "card" else None)
    if not posted and kind == "card":
        card.card.data = request.args.get("serial", "")
    return {
        "card": card,
        "name": NameSearchForm(formdata=request.form if posted and kind == "name" else None),
        "family": FamilySearchForm(formdata=request.form if posted and kind == "family"
                                   else None),
    }


def _query(kind: str, form: Any) -> ResidentQuery:
    if kind == "card":
        return CardQuery(form.card.data or "")
    if kind == "name":
        assert form.date_of_birth.data is not None
        return NameQuery(given_names=form.given_names.data or "",
                         family_names=form.family_names.data or "",
                         date_of_birth=form.date_of_birth.data)
    return FamilyQuery(family_names=form.family_names.data or "", birth_year=form.year)


def _attach_search_error(form: Any, exc: DomainError) -> None:
    name = _SEARCH_ERROR_FIELDS.get(exc.field or "")
    target = form._fields.get(name) if name else None
    if target is None or name == "page":
        form.form_errors.append(exc.translated(_))
    else:
        target.errors = [*target.errors, exc.translated(_)]


@bp.route("/", methods=["GET", "POST"])
@page("clerk")
def desk() -> ResponseReturnValue:
    """Find a resident by card number or scan, by names and date of birth, or by family
    name and year of birth (blind indexes only; every search audited, never its terms)."""
    if request.method == "POST":
        # The family form's fields carry its prefix; a post without any marker is the
        # name search (as the desk posted it before there were three).
        kind = request.form.get("search") or request.form.get("family-search") or "name"
    else:
        kind = "card" if "serial" in request.args else ""
    forms = _search_forms(kind)
    form = forms.get(kind)
    result: ResidentSearchPage | None = None
    rows: list[MatchRow] = []
    status = 200
    if form is not None:
        # A GET (?serial=, a link from elsewhere) changes nothing and needs no CSRF token.
        ok = form.validate() if request.method == "POST" else bool(form.card.data)
        if not ok:
            if request.method == "GET":
                form.card.errors = [_("Type the card number or scan the card.")]
            status = 400
        else:
            page_no = (form.page.data or 1) if "page" in form._fields else 1
            try:
                result = state.application().residents.find(
                    _query(kind, form), actor=actor(), page=page_no, page_size=SEARCH_PAGE)
            except InvalidInputError as exc:
                _attach_search_error(form, exc)
                status = 400
            else:
                now = utcnow()
                rows = [MatchRow(
                    id=m.id, full_name=m.full_name, date_of_birth=m.date_of_birth,
                    has_photo=m.has_photo,
                    card=_card_row(m.card.serial, m.card.status, m.card.revocation_reason,
                                   m.card.issued_at, m.card.expires_at, now)
                    if m.card is not None else None) for m in result.matches]
                if kind == "card" and (rows or result.kind == SEARCH_KIND_SCAN):
                    # Empty again for the next card: a hand scanner types into the focused
                    # field, and text left there would run into the next scan. A typed
                    # number that found nobody stays, for the clerk to check.
                    form.card.data = ""
    return render_template(
        "clerk/desk.html", card_form=forms["card"], name_form=forms["name"],
        family_form=forms["family"], kind=kind, result=result, rows=rows,
        pager_form=form if result is not None and kind in ("name", "family") else None), status


# ---- registering and correcting ------------------------------------------------------------

def _save_resident_form(form: ResidentForm, save: Callable[[bytes | None], str]) -> str | None:
    """Run ``save`` with the form's photo; a refusal is shown on the form (None is returned).

    A refused photo is dropped; any other photo is kept for the re-shown form, so the clerk
    does not take it again. Never-collected fields and duplicates go to the caller.
    """
    photo: bytes | None = None
    try:
        photo = form.photo_bytes()
        return save(photo)
    except NotCollectedError:
        raise
    except LikelyDuplicateError:
        form.keep_photo(photo)
        raise
    except InvalidInputError as exc:
        form.attach_error(exc)
        if exc.field == "photo":
            photo = None
    form.keep_photo(photo)
    return None


@bp.route("/residents/new", methods=["GET", "POST"])
@page("clerk")
def register_page() -> ResponseReturnValue:
    """The registration form; a likely duplicate asks for confirmation first."""
    settings = state.settings()
    form = ResidentForm().setup(settings)
    candidates: list[tuple[ResidentView, list[CardRow]]] = []
    status = 200
    if form.is_submitted():
        _refuse_not_collected()
        status = 400
        if form.validate():
            def save(photo: bytes | None) -> str:
                return state.application().residents.register(
                    form.to_mapping(), photo=photo, confirm_new=bool(form.confirm_new.data),
                    actor=actor())

            try:
                rid = _save_resident_form(form, save)
            except LikelyDuplicateError as exc:
                now = utcnow()
                candidates = [(v, _rows(v, now)) for v in
                              state.application().residents.candidates(exc.matches)]
                status = 409
            else:
                if rid is not None:
                    flash(_("Registered. Check the record, then issue the card."), "success")
                    return redirect(url_for("clerk.resident_page", resident_id=rid))
    return render_template("clerk/register.html", form=form, candidates=candidates,
                           resident=None, **_form_context(settings, form)), status


@bp.route("/residents/<resident_id>/edit", methods=["GET", "POST"])
@page("clerk")
def edit_page(resident_id: str) -> ResponseReturnValue:
    """Correct a resident's record: the registration form, prefilled."""
    settings = state.settings()
    view = state.application().residents.get(resident_id)
    form = ResidentForm().setup(settings)
    status = 200
    if not form.is_submitted():
        form.fill(view.data)
    else:
        _refuse_not_collected()
        status = 400
        if form.validate():
            def save(photo: bytes | None) -> str:
                state.application().residents.correct(resident_id, form.to_mapping(),
                                                      photo=photo, actor=actor())
                return resident_id

            if _save_resident_form(form, save) is not None:
                flash(_("The record is corrected."), "success")
                return redirect(url_for("clerk.resident_page", resident_id=resident_id))
    return render_template("clerk/register.html", form=form, candidates=[], resident=view,
                           **_form_context(settings, form)), status


def _form_context(settings: Any, form: ResidentForm) -> dict[str, Any]:
    reg = settings.registration
    return {"points_needed": reg.points_needed, "print_gender": settings.cards.print_gender,
            "language_list": spokenlang.all_languages(str(get_locale())),
            **_display_labels(), **points_tally(reg.documents, reg.points_needed,
                                               form.documents.data or [])}


def points_tally(catalogue: dict[str, int], needed: int, ticked: list[str]) -> dict[str, Any]:
    """The running total of document points: the sentence for what is ticked now, and one
    per possible total for ``points.js`` to show as boxes are ticked (plurals done here)."""
    def say(n: int) -> str:
        if n >= needed:
            return ngettext("Documents ticked: %(num)d point. Enough.",
                            "Documents ticked: %(num)d points. Enough.", n)
        return ngettext("Documents ticked: %(num)d point of the %(needed)d needed.",
                        "Documents ticked: %(num)d points of the %(needed)d needed.", n,
                        needed=needed)

    now = sum(catalogue.get(str(d), 0) for d in set(ticked))
    return {"document_points": catalogue, "points_now": say(now),
            "points_messages": {n: say(n) for n in range(sum(catalogue.values()) + 1)}}


# ---- a resident's record -------------------------------------------------------------------

@bp.get("/residents/<resident_id>")
@page("clerk")
def resident_page(resident_id: str) -> ResponseReturnValue:
    """The resident's record, photo and cards, with the card actions."""
    view = state.application().residents.get(resident_id)
    rows = _rows(view, utcnow())
    return render_template(
        "clerk/resident.html", r=view, d=view.data, cards=rows,
        active=[c for c in rows if c.active], issue_form=ConfirmForm(),
        revoke_form=RevokeForm().setup(), print_gender=state.settings().cards.print_gender,
        **_display_labels())


@bp.get("/residents/<resident_id>/photo")
@page("clerk")
def resident_photo(resident_id: str) -> ResponseReturnValue:
    """The resident's photo (decrypted for this response only, never cached)."""
    jpeg = state.application().residents.photo(resident_id)
    if jpeg is None:
        raise NotFoundError(N_("This resident has no photo."))
    return _no_store(jpeg, "image/jpeg")


# ---- cards ---------------------------------------------------------------------------------

@bp.post("/residents/<resident_id>/cards")
@page("clerk")
def issue(resident_id: str) -> ResponseReturnValue:
    """Issue a card (superseding any earlier one, confirmed on the page)."""
    back = url_for("clerk.resident_page", resident_id=resident_id)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(back)
    try:
        issued = state.application().cards.issue(resident_id, actor=actor())
    except NotFoundError:
        raise
    except DomainError as exc:
        flash(exc.translated(_), "error")
        return redirect(back)
    flash(_("Card %(serial)s issued.", serial=serials.format_serial(issued.serial)), "success")
    return show_issued(issued)


def show_issued(issued: IssuedCard) -> ResponseReturnValue:
    """Go to the new card's page, where the card and its renewal slip are printed.

    The code is shown once, on that page (kept in the signed session until then, never
    flashed); only its hash is stored.
    """
    browser_session[_ISSUED_KEY] = {"serial": issued.serial, "code": issued.renewal_code}
    return redirect(url_for("clerk.issued_page", serial=issued.serial))


@bp.before_app_request
def _forget_slip() -> None:
    """Leaving the issued page forgets its renewal code: the slip cannot be printed again."""
    endpoint = request.endpoint or "static"  # None: no route matched (a 404)
    if endpoint == "static" or endpoint in _KEEPS_SLIP:  # the page's own styles and scripts
        return
    if _SLIP_KEY in browser_session:
        browser_session.pop(_SLIP_KEY, None)


def _stashed_code(key: str, serial: str, *, pop: bool) -> str | None:
    """The renewal code kept in the session under ``key`` for this card, if any."""
    stash = browser_session.pop(key, None) if pop else browser_session.get(key)
    if isinstance(stash, dict) and stash.get("serial") == serial and stash.get("code"):
        return str(stash["code"])
    return None


@bp.get("/cards/<serial>/issued")
@page("clerk")
def issued_page(serial: str) -> ResponseReturnValue:
    """The card's number and, this once, its renewal code; print the card and the slip here."""
    info = state.application().cards.get(_canonical(serial))
    stash = browser_session.get(_ISSUED_KEY)
    code = _stashed_code(_ISSUED_KEY, info.serial, pop=True)
    new_slip = code is not None and isinstance(stash, dict) and bool(stash.get("new_slip"))
    if code is not None:
        browser_session[_SLIP_KEY] = {"serial": info.serial, "code": code}
    row = _card_row(info.serial, info.status, info.revocation_reason, info.issued_at,
                    info.expires_at, utcnow())
    languages = ([] if code is None else
                 list(state.application().residents.get(info.resident_id).data.languages))
    return render_template(
        "clerk/issued.html", card=row, resident_id=info.resident_id, new_slip=new_slip,
        code=serials.format_renewal_code(code) if code else None,
        slip_languages=_slip_language_choices(),
        slip_language=_default_slip_locale(languages))


def _slip_language_choices() -> list[tuple[str, str]]:
    """(code, name in that language) for each language the slip can be printed in."""
    return [(code, own_name(code)) for code in ui_locales()]


def _default_slip_locale(spoken: list[str]) -> str:
    """The resident's language when one they speak has a catalog; else the city's card
    language; else the clerk's own."""
    available = ui_locales()
    for language in spoken:
        # Records hold codes ("pt-BR": its language is "pt"); older ones the name as typed.
        code = spokenlang.code_for(language, locales=available) or ""
        if code.partition("-")[0] in available:
            return code.partition("-")[0]
    city = state.settings().city.languages[0]
    return city if city in available else str(get_locale())


def slip_labels(locale: str) -> SlipLabels:
    """Every sentence of the renewal slip, in ``locale``."""
    with force_locale(locale):
        return SlipLabels(
            title=_("Renewal slip"),
            serial=_("Card number"),
            renewal_code=_("Renewal code"),
            renew_heading=_("Renew or replace your card"),
            renew_online=_("Online: go to this address and enter your card number, your date "
                           "of birth and the renewal code above."),
            renew_desk=_("Or come to the service desk with your card or this slip."),
            lost_heading=_("If your card is lost or stolen"),
            lost_text=_("Report it at once, online at the same address with this slip and "
                        "your date of birth, or at the service desk. The card is cancelled "
                        "at once, so nobody else can use it; a clerk then prepares your new "
                        "card."),
            desk_heading=_("Service desk"),
            desk_address=_("Address"),
            desk_hours=_("Opening hours"),
            warning=_("Keep this slip at home, apart from your card. With the card number, "
                      "your date of birth and this code, anyone can ask to cancel or replace "
                      "your card."),
            only_here=_("The renewal code is shown only on this slip. If you lose it, the "
                        "service desk can give you a new slip; the old code then stops "
                        "working."),
        )


@bp.get("/cards/<serial>/slip.pdf")
@page("clerk")
def slip_pdf(serial: str) -> ResponseReturnValue:
    """The renewal slip, while the issued page that showed its code is open (``?lang=``)."""
    serial = _canonical(serial)
    code = _stashed_code(_SLIP_KEY, serial, pop=False)
    if code is None:
        raise NotFoundError(N_("The renewal slip can be printed only from the page shown "
                               "right after issuing. To give the resident a new one, issue a "
                               "new renewal slip from their record."))
    locale = request.args.get("lang", "")
    if locale not in ui_locales():
        locale = str(get_locale())
    settings = state.settings()
    pdf = state.application().cards.renewal_slip_pdf(
        serial, code=code, labels=slip_labels(locale),
        resident_url=settings.city.base_url + url_for("resident.start"))
    return _no_store(pdf, "application/pdf",
                     **{"Content-Disposition": f'inline; filename="renewal-slip-{serial}.pdf"'})


@bp.post("/cards/<serial>/new-slip")
@page("clerk")
def new_slip(serial: str) -> ResponseReturnValue:
    """Draw a new renewal code (the old one stops working) and show it on the issued page."""
    info = state.application().cards.get(_canonical(serial))
    back = url_for("clerk.resident_page", resident_id=info.resident_id)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(back)
    try:
        code = state.application().cards.new_renewal_code(info.serial, actor=actor())
    except NotFoundError:
        raise
    except DomainError as exc:
        flash(exc.translated(_), "error")
        return redirect(back)
    browser_session[_ISSUED_KEY] = {"serial": info.serial, "code": code, "new_slip": True}
    flash(_("Card %(serial)s has a new renewal code; the old one no longer works.",
            serial=serials.format_serial(info.serial)), "success")
    return redirect(url_for("clerk.issued_page", serial=info.serial))


@bp.get("/cards/<serial>.pdf")
@page("clerk")
def card_pdf(serial: str) -> ResponseReturnValue:
    """The printable card, 2 pages; opening it changes nothing (see ``mark_printed``)."""
    serial = _canonical(serial)
    pdf = state.application().cards.pdf(serial)
    return _no_store(pdf, "application/pdf",
                     **{"Content-Disposition": f'inline; filename="card-{serial}.pdf"'})


@bp.post("/cards/<serial>/printed")
@page("clerk")
def mark_printed(serial: str) -> ResponseReturnValue:
    """The clerk confirms the card came out of the printer right: recorded as printed."""
    info = state.application().cards.get(_canonical(serial))
    back = url_for("clerk.resident_page", resident_id=info.resident_id)
    if not ConfirmForm().validate_on_submit():
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("clerk.preview_page", serial=info.serial))
    try:
        state.application().cards.mark_printed(info.serial, actor=actor())
    except DomainError as exc:
        flash(exc.translated(_), "error")
    else:
        flash(_("Card %(serial)s is recorded as printed.",
                serial=serials.format_serial(info.serial)), "success")
    return redirect(back)


@bp.get("/cards/<serial>/preview")
@page("clerk")
def preview_page(serial: str) -> ResponseReturnValue:
    """Front and back as they will print."""
    info = state.application().cards.get(_canonical(serial))
    row = _card_row(info.serial, info.status, info.revocation_reason, info.issued_at,
                    info.expires_at, utcnow())
    return render_template("clerk/preview.html", card=row, resident_id=info.resident_id)


@bp.get("/cards/<serial>/preview.png")
@page("clerk")
def preview_png(serial: str) -> ResponseReturnValue:
    """One side of the card as an image: ``?side=front`` (default) or ``?side=back``."""
    side = {"front": 0, "back": 1}.get(request.args.get("side", "front"))
    if side is None:
        raise NotFoundError(N_("A card has a front and a back."))
    png = state.application().cards.preview_png(_canonical(serial), side=side)
    return _no_store(png, "image/png")


@bp.post("/cards/<serial>/revoke")
@page("clerk")
def revoke(serial: str) -> ResponseReturnValue:
    """Revoke a card for a reason (after the confirmation step on the resident's page)."""
    info = state.application().cards.get(_canonical(serial))
    back = url_for("clerk.resident_page", resident_id=info.resident_id)
    form = RevokeForm().setup()
    if not form.validate_on_submit():
        flash(" ".join(str(e) for e in form.reason.errors)
              or _("The form expired. Please try again."), "error")
        return redirect(back)
    try:
        state.application().cards.revoke(info.serial, reason=form.reason.data or "",
                                         actor=actor())
    except DomainError as exc:
        flash(exc.translated(_), "error")
    else:
        flash(_("Card %(serial)s is revoked (%(reason)s). Checks of it now show it as revoked.",
                serial=serials.format_serial(info.serial),
                reason=label_of(REVOCATION_LABELS, form.reason.data or "").lower()), "success")
    return redirect(back)


# ---- batch printing ------------------------------------------------------------------------

def _period(start: date, end: date) -> tuple[datetime, datetime]:
    # Whole days in UTC, the end day included.
    return (datetime.combine(start, time.min, tzinfo=UTC),
            datetime.combine(end + timedelta(days=1), time.min, tzinfo=UTC))


@bp.route("/print", methods=["GET", "POST"])
@page("clerk")
def print_page() -> ResponseReturnValue:
    """Choose the cards issued in a period; then print them on A4 sheets (one PDF)."""
    if request.method == "POST":
        return _print_sheet()
    today = utcnow().date()
    form = PrintSelectionForm(request.args if request.args else None, start=today, end=today,
                              only_unprinted=True)
    total: int | None = None
    listing: list[PrintRow] = []
    page_no, has_next = 1, False
    status = 200
    if "start" in request.args:
        if not form.validate():
            status = 400
        elif form.end.data < form.start.data:  # type: ignore[operator]
            form.end.errors = [_("The last day comes before the first.")]
            status = 400
        else:
            assert form.start.data is not None and form.end.data is not None
            start, end = _period(form.start.data, form.end.data)
            page_no = form.page.data or 1
            for _attempt in range(2):  # a page past the end shows the last page
                chosen = state.application().cards.print_selection(
                    start=start, end=end, only_unprinted=bool(form.only_unprinted.data),
                    offset=(page_no - 1) * PRINT_LIST_PAGE, limit=PRINT_LIST_PAGE)
                pages = max(1, math.ceil(chosen.total / PRINT_LIST_PAGE))
                if page_no <= pages:
                    break
                page_no = pages
            total, listing = chosen.total, chosen.rows
            has_next = page_no < pages
    batch = min(total or 0, MAX_BATCH)
    sheet = PrintSheetForm(formdata=None, start=form.start.data, end=form.end.data,
                           only_unprinted="1" if form.only_unprinted.data else "")
    page_args = {"start": form.start._value(), "end": form.end._value(),
                 **({"only_unprinted": "y"} if form.only_unprinted.data else {})}
    return render_template(
        "clerk/print.html", form=form, sheet=sheet, total=total, listing=listing,
        fmt=serials.format_serial, page_no=page_no,
        list_start=(page_no - 1) * PRINT_LIST_PAGE + 1, page_args=page_args,
        has_next=has_next, batch=batch, max_batch=MAX_BATCH,
        confirm_large=batch >= LARGE_SHEET,
        seconds=max(5, math.ceil(batch / SHEET_CARDS_PER_SECOND))), status


def _print_sheet() -> ResponseReturnValue:
    form = PrintSheetForm()
    if not form.validate_on_submit() or form.start.data is None or form.end.data is None:
        flash(_("The form expired. Please try again."), "error")
        return redirect(url_for("clerk.print_page"))
    only = form.only_unprinted.data == "1"
    args = {"start": form.start.data.isoformat(), "end": form.end.data.isoformat(),
            **({"only_unprinted": "y"} if only else {})}
    again = url_for("clerk.print_page", **args)
    start, end = _period(form.start.data, form.end.data)
    sheet = state.application().cards.sheet(start=start, end=end, only_unprinted=only,
                                            actor=actor(), limit=MAX_BATCH)
    if not sheet.serials:
        flash(_("No cards to print for these days."), "error")
        return redirect(again)
    pdf = sheet.pdf
    name = f"cards-{form.start.data.isoformat()}-{form.end.data.isoformat()}.pdf"
    return _no_store(pdf, "application/pdf",
                     **{"Content-Disposition": f'attachment; filename="{name}"'})
