"""Forms of the clerk's pages, and the translation between form fields and service fields.

The registration form only asks what SPEC §2 allows: status,
nationality, place of birth, ID numbers or document copies are never asked. Validation of values is
the service's job (``residents.parse_resident``), so its messages are the ones shown;
the forms here carry the CSRF token and turn posted fields into the service's mapping.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from flask_babel import get_locale, ngettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    Form,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
)
from wtforms.fields import DateField, IntegerField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError
from wtforms.widgets import CheckboxInput, DateInput, EmailInput, HiddenInput, ListWidget, TelInput

from cardservice import spokenlang, values
from cardservice.application import REVOCATION_REASONS, ResidentData
from cardservice.config import Settings
from cardservice.errors import N_, DomainError, InvalidInputError, LatinLineNeededError
from cardservice.vault import normalise_name

# Labels for the document categories and fee waivers a city is likely to configure; a
# category a city adds itself is shown by its name, with underscores as spaces.
DOCUMENT_LABELS: dict[str, Any] = {
    "passport": _l("Passport"),
    "identity_card": _l("Identity card"),
    "consular_card": _l("Consular card"),
    "driving_licence": _l("Driving licence"),
    "birth_certificate": _l("Birth certificate"),
    "utility_bill": _l("Utility bill"),
    "tenancy_agreement": _l("Tenancy agreement"),
    "bank_statement": _l("Bank statement"),
    "school_record": _l("School record"),
    "employer_letter": _l("Letter from an employer"),
    "ngo_attestation": _l("Letter from a community organisation"),
    "shelter_attestation": _l("Letter from a shelter"),
}
FEE_WAIVER_LABELS: dict[str, Any] = {
    "low_income": _l("Low income"),
    "senior": _l("Senior"),
    "youth": _l("Young person"),
    "no_fixed_address": _l("No fixed address"),
}
REVOCATION_LABELS: dict[str, Any] = {
    "lost": _l("Lost"),
    "stolen": _l("Stolen"),
    "damaged": _l("Damaged"),
    "withdrawn": _l("Withdrawn (by the holder or the city)"),
}
GENDER_LABELS: dict[str, Any] = {
    "": _l("Not stated"),
    "F": _l("F — female"),
    "M": _l("M — male"),
    "X": _l("X — another gender, or not specified"),
}

# Service field names (as in ``InvalidInputError.field``) → form field names.
_ERROR_FIELDS = {
    "address": "address_line1", "address.line1": "address_line1",
    "address.line2": "address_line2", "address.postcode": "address_postcode",
    "address.care_of": "address_care_of", "address.no_fixed_address": "no_fixed_address",
    "address.confidential": "confidential_address",
    "contact": "contact_email", "contact.email": "contact_email",
    "contact.phone": "contact_phone", "contact.name": "contact_email",
    "emergency_contact": "emergency_name", "emergency_contact.name": "emergency_name",
    "emergency_contact.email": "emergency_email", "emergency_contact.phone": "emergency_phone",
    "languages": "languages",
}


def label_of(labels: Mapping[str, Any], key: str) -> str:
    """The translated label of ``key``, or the key made readable."""
    label = labels.get(key)
    return str(label) if label is not None else key.replace("_", " ").capitalize()


def _points(n: int) -> str:
    return ngettext("%(num)d point", "%(num)d points", n)


def _text(value: str | None) -> str:
    return (value or "").strip()


class ResidentForm(FlaskForm):
    """Register a resident, or correct their record (the same fields, prefilled)."""

    given_names = StringField(_l("Given names"), validators=[Optional(), Length(max=200)],
                              render_kw={"autocomplete": "off", "spellcheck": "false"})
    family_names = StringField(_l("Family names"), validators=[Optional(), Length(max=200)],
                               render_kw={"autocomplete": "off", "spellcheck": "false"})
    name_order = RadioField(
        _l("Name order"), default=values.NameOrder.GIVEN_FIRST.value, validate_choice=False,
        # Examples, not "given names first": a label holding another field's label would
        # make "the field labelled Given names" ambiguous for assistive technology and tests.
        choices=[SelectChoice(values.NameOrder.GIVEN_FIRST.value,
                              _l("Family name last (Ana Maria Silva)")),
                 SelectChoice(values.NameOrder.FAMILY_FIRST.value,
                              _l("Family name first (Nguyễn Thị Minh Khai)"))])
    preferred_name = StringField(_l("Preferred name (optional)"),
                                 validators=[Optional(), Length(max=200)],
                                 render_kw={"autocomplete": "off"})
    name_latin = StringField(_l("Name in Latin letters for the card (optional)"),
                             validators=[Optional(), Length(max=200)],
                             render_kw={"autocomplete": "off", "spellcheck": "false"})
    date_of_birth = StringField(_l("Date of birth"), widget=DateInput(),
                                validators=[Optional(), Length(max=10)])
    gender = SelectField(_l("Gender marker on the card (self-designated, optional)"),
                         validate_choice=False)
    no_fixed_address = BooleanField(_l("No fixed address"))
    address_line1 = StringField(_l("Street and number"), validators=[Optional(), Length(max=300)],
                                render_kw={"autocomplete": "off"})
    address_line2 = StringField(_l("More address details (optional)"),
                                validators=[Optional(), Length(max=300)],
                                render_kw={"autocomplete": "off"})
    address_postcode = StringField(_l("Postcode (optional)"),
                                   validators=[Optional(), Length(max=40)],
                                   render_kw={"autocomplete": "off"})
    address_care_of = StringField(_l("Care of (optional)"),
                                  validators=[Optional(), Length(max=300)],
                                  render_kw={"autocomplete": "off"})
    confidential_address = BooleanField(_l("Confidential address"))
    # Codes (BCP 47) of common languages; any other language is typed in language_other,
    # by its name in the page's language (the datalist offers every name CLDR has) or its code.
    languages = SelectMultipleField(_l("Languages"), validate_choice=False,
                                    render_kw={"size": 8})
    language_other = StringField(_l("Another language (optional)"),
                                 validators=[Optional(), Length(max=64)],
                                 render_kw={"autocomplete": "off", "list": "language-names"})
    contact_email = StringField(_l("E-mail (optional)"), widget=EmailInput(),
                                validators=[Optional(), Length(max=300)],
                                render_kw={"autocomplete": "off"})
    contact_phone = StringField(_l("Phone (optional)"), widget=TelInput(),
                                validators=[Optional(), Length(max=40)],
                                render_kw={"autocomplete": "off"})
    emergency_name = StringField(_l("Name"), validators=[Optional(), Length(max=200)],
                                 render_kw={"autocomplete": "off"})
    emergency_email = StringField(_l("E-mail"), widget=EmailInput(),
                                  validators=[Optional(), Length(max=300)],
                                  render_kw={"autocomplete": "off"})
    emergency_phone = StringField(_l("Phone"), widget=TelInput(),
                                  validators=[Optional(), Length(max=40)],
                                  render_kw={"autocomplete": "off"})
    documents = SelectMultipleField(_l("Documents seen"), validate_choice=False,
                                    widget=ListWidget(prefix_label=False),
                                    option_widget=CheckboxInput())
    fee_waiver = SelectField(_l("Fee waiver (optional)"), validate_choice=False)
    photo = FileField(_l("Photo"), render_kw={"accept": "image/*", "capture": "user"})
    # A webcam capture (photo.js) or the photo of an earlier attempt, as a data: URL.
    photo_data = HiddenField()
    confirm_new = BooleanField(_l("This is a different person — register anyway"))
    _offered: list[str]  # language codes the select offers (set up by ``setup``)

    def setup(self, settings: Settings) -> ResidentForm:
        """Fill in the choices this city configured (document points, fee waivers)."""
        reg = settings.registration
        self.documents.choices = [
            SelectChoice(name, f"{label_of(DOCUMENT_LABELS, name)} — {_points(points)}")
            for name, points in reg.documents.items()]
        self.fee_waiver.choices = [SelectChoice("", _("None"))] + [
            SelectChoice(name, label_of(FEE_WAIVER_LABELS, name)) for name in reg.fee_waivers]
        self.gender.choices = [SelectChoice(k, str(v)) for k, v in GENDER_LABELS.items()]
        self._offered = [*spokenlang.COMMON, *settings.city.languages]
        self._offer_languages([str(x) for x in (self.languages.data or [])])
        return self

    def _offer_languages(self, chosen: list[str]) -> None:
        """Offer the common languages, the city's and those chosen, named in the page's
        language (a language chosen from the other box stays chosen when the form is shown
        again)."""
        self._offered = [*self._offered, *(c for c in chosen if spokenlang.is_code(c))]
        self.languages.choices = [
            SelectChoice(code, name) for code, name in
            spokenlang.all_languages(str(get_locale()), dict.fromkeys(self._offered))]

    def to_mapping(self) -> dict[str, Any]:
        """The posted fields as ``parse_resident`` takes them (photo apart)."""
        languages = [str(x) for x in (self.languages.data or []) if str(x).strip()]
        other = _text(self.language_other.data)
        if other:
            # A name in the page's language first ("allemand" is German here); what is not
            # recognised goes as typed, for the service to refuse by name.
            languages.append(spokenlang.code_for(other, locales=(str(get_locale()),)) or other)
        return {
            "given_names": _text(self.given_names.data),
            "family_names": _text(self.family_names.data),
            "name_order": _text(self.name_order.data) or None,
            "preferred_name": _text(self.preferred_name.data),
            "name_latin": _text(self.name_latin.data),
            "date_of_birth": _text(self.date_of_birth.data),
            "gender": _text(self.gender.data) or None,
            "address": {
                "line1": _text(self.address_line1.data), "line2": _text(self.address_line2.data),
                "postcode": _text(self.address_postcode.data),
                "care_of": _text(self.address_care_of.data),
                "no_fixed_address": bool(self.no_fixed_address.data),
                "confidential": bool(self.confidential_address.data),
            },
            "languages": languages,
            "contact": {"email": _text(self.contact_email.data),
                        "phone": _text(self.contact_phone.data)},
            "emergency_contact": {"name": _text(self.emergency_name.data),
                                  "email": _text(self.emergency_email.data),
                                  "phone": _text(self.emergency_phone.data)},
            "documents": [str(d) for d in (self.documents.data or [])],
            "fee_waiver": _text(self.fee_waiver.data) or None,
        }

    def photo_bytes(self) -> bytes | None:
        """The uploaded photo, else the webcam capture; ``None`` when there is neither."""
        upload = self.photo.data
        if upload is not None and getattr(upload, "filename", None):
            raw: bytes = upload.read()
            if raw:
                return raw
        data_url = _text(self.photo_data.data)
        if not data_url:
            return None
        head, sep, body = data_url.partition(",")
        if not sep or not head.startswith("data:image/") or not head.endswith(";base64"):
            raise InvalidInputError(N_("The webcam photo was not received as an image."),
                                    field="photo")
        try:
            return base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInputError(N_("The webcam photo was damaged in transit; take it again."),
                                    field="photo") from None

    def keep_photo(self, raw: bytes | None) -> None:
        """Carry a posted photo into the re-shown form, so the clerk need not take it again."""
        if raw:
            self.photo_data.data = "data:image/jpeg;base64," + base64.b64encode(raw).decode()

    def fill(self, data: ResidentData) -> None:
        """Prefill from a resident's record (for corrections)."""
        self.given_names.data = data.given_names
        self.family_names.data = data.family_names
        self.name_order.data = data.name_order.value
        self.preferred_name.data = data.preferred_name
        self.name_latin.data = data.name_latin
        self.date_of_birth.data = data.date_of_birth.isoformat()
        self.gender.data = data.gender or ""
        a = data.address
        self.no_fixed_address.data = a.no_fixed_address
        self.address_line1.data = a.line1
        self.address_line2.data = a.line2
        self.address_postcode.data = a.postcode
        self.address_care_of.data = a.care_of
        self.confidential_address.data = a.confidential
        # Free text from before codes is mapped where it can be; the rest is shown in the
        # "another language" box, to be chosen again.
        known: list[str] = []
        unknown: list[str] = []
        for value in data.languages:
            code = spokenlang.code_for(value)
            (known if code else unknown).append(code or value)
        self.languages.data = known
        self._offer_languages(known)
        self.language_other.data = ", ".join(unknown)
        self.contact_email.data = data.contact.email
        self.contact_phone.data = data.contact.phone
        self.emergency_name.data = data.emergency_contact.name
        self.emergency_email.data = data.emergency_contact.email
        self.emergency_phone.data = data.emergency_contact.phone
        self.documents.data = [d.category for d in data.documents]
        self.fee_waiver.data = data.fee_waiver or ""

    def attach_error(self, exc: DomainError) -> None:
        """Show a service refusal next to the field it names (or above the form)."""
        message = exc.translated(_)
        if isinstance(exc, LatinLineNeededError) and not _text(self.name_latin.data):
            # The proposal comes back in the field: the clerk checks it with the resident,
            # corrects it if need be, and saves again.
            self.name_latin.data = exc.proposal
            self.name_latin.raw_data = [exc.proposal]  # what the re-shown input holds
        name = _ERROR_FIELDS.get(exc.field or "", exc.field or "")
        target = self._fields.get(name) if name and name != "csrf_token" else None
        if target is None:
            self.form_errors.append(message)
        else:
            target.errors = [*target.errors, message]


class CardSearchForm(FlaskForm):
    """Find a card's holder by the card number, or by what a hand scanner types from the QR.

    Posted, not a GET form: the QR text carries the holder's name and birth date, which
    must stay out of URLs, browser history and access logs.
    """

    search = HiddenField(default="card")
    card = StringField(_l("Card number or scan"),
                       validators=[DataRequired(message=_l("Type the card number or scan the "
                                                           "card.")),
                                   Length(max=4096)],
                       render_kw={"autocomplete": "off", "spellcheck": "false",
                                  "autocapitalize": "characters",
                                  "placeholder": "XXXX-XXXX-XXX"})


class NameSearchForm(FlaskForm):
    """Find a resident by all their names and date of birth (posted: names stay out of URLs)."""

    search = HiddenField(default="name")

    given_names = StringField(_l("Given names"), validators=[Length(max=200)],
                              render_kw={"autocomplete": "off", "spellcheck": "false"})
    family_names = StringField(_l("Family names"), validators=[Length(max=200)],
                               render_kw={"autocomplete": "off", "spellcheck": "false"})
    date_of_birth = DateField(_l("Date of birth"),
                              validators=[DataRequired(message=_l("Give the date of birth."))])
    page = IntegerField(default=1, validators=[Optional(), NumberRange(min=1)],
                        widget=HiddenInput())

    def validate_given_names(self, field: StringField) -> None:
        """At least one of the two names."""
        # The search pools and folds the names (see vault.normalise_name): a name of
        # punctuation only is no name.
        if not normalise_name(f"{field.data or ''} {self.family_names.data or ''}"):
            raise ValidationError(_("Give at least one name (a single name is fine)."))


class FamilySearchForm(FlaskForm):
    """Find residents by family names and year of birth (a coarse search, paged)."""

    search = HiddenField(default="family")
    family_names = StringField(_l("Family names"), validators=[Length(max=200)],
                               render_kw={"autocomplete": "off", "spellcheck": "false"})
    birth_year = StringField(
        _l("Year of birth"), validators=[Length(max=10)],
        render_kw={"inputmode": "numeric", "autocomplete": "off", "maxlength": 4,
                   "pattern": "[0-9]{4}"})
    page = IntegerField(default=1, validators=[Optional(), NumberRange(min=1)],
                        widget=HiddenInput())

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # Its own prefix: the name form on the same page has a "family_names" field too.
        super().__init__(*args, prefix="family", **kwargs)

    def validate_family_names(self, field: StringField) -> None:
        """A family name with at least one letter or digit."""
        if not normalise_name(field.data or ""):
            raise ValidationError(_("Give the family name."))

    def validate_birth_year(self, field: StringField) -> None:
        """Four digits (whether the year is possible is the search's to say)."""
        text = (field.data or "").strip()
        if len(text) != 4 or not text.isascii() or not text.isdigit():
            raise ValidationError(_("Give the year of birth as four digits, e.g. 1985."))

    @property
    def year(self) -> int:
        """The year, once the form has validated."""
        return int((self.birth_year.data or "").strip())


class RevokeForm(FlaskForm):
    """Revoke a card: the reason (the confirmation step is on the page)."""

    reason = SelectField(_l("Reason"), validate_choice=False, render_kw={"required": True},
                         validators=[DataRequired(message=_l("Choose why the card is revoked."))])

    def setup(self) -> RevokeForm:
        """The reasons, translated, after an empty choice: the clerk must pick one."""
        self.reason.choices = [SelectChoice("", _("Choose a reason"))] + [
            SelectChoice(r, label_of(REVOCATION_LABELS, r)) for r in REVOCATION_REASONS]
        return self


class PrintSelectionForm(Form):
    """Which cards to print together: a date range (a GET form, nothing changes)."""

    start = DateField(_l("Issued from"), validators=[DataRequired()])
    end = DateField(_l("Issued up to and including"), validators=[DataRequired()])
    only_unprinted = BooleanField(_l("Only cards not printed yet"))
    page = IntegerField(default=1, validators=[Optional(), NumberRange(min=1)])


class PrintSheetForm(FlaskForm):
    """Produce the sheet PDF for a selection (posted: it records the cards as printed)."""

    start = DateField(validators=[DataRequired()], widget=HiddenInput())
    end = DateField(validators=[DataRequired()], widget=HiddenInput())
    # "1" or "": a hidden input, since a hidden checkbox would always be "on".
    only_unprinted = HiddenField()
