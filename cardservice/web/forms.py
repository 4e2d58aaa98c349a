"""Web forms (Flask-WTF): validation and a CSRF token on every one."""

from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, PasswordField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length

from cardservice.web.i18n import LANGUAGE_NAMES


class LoginForm(FlaskForm):
    """Staff sign-in."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(max=64)],
                           render_kw={"autocomplete": "username", "autofocus": True})
    password = PasswordField(_l("Password"), validators=[DataRequired(), Length(max=256)],
                             render_kw={"autocomplete": "current-password"})
    next = HiddenField()


class PasswordForm(FlaskForm):
    """Change one's own password."""

    current_password = PasswordField(_l("Current password"), validators=[DataRequired()],
                                     render_kw={"autocomplete": "current-password"})
    new_password = PasswordField(_l("New password (at least 12 characters)"),
                                 validators=[DataRequired(), Length(min=12, max=256)],
                                 render_kw={"autocomplete": "new-password"})
    confirm = PasswordField(
        _l("New password again"),
        validators=[DataRequired(), EqualTo("new_password", message=_l("The passwords differ."))],
        render_kw={"autocomplete": "new-password"})


class NewUserForm(FlaskForm):
    """An administrator creates a staff account."""

    username = StringField(_l("Username"), validators=[DataRequired(), Length(min=2, max=63)])
    role = SelectField(_l("Role"), choices=[SelectChoice("clerk", _l("Clerk")),
                                            SelectChoice("agent", _l("Agent")),
                                            SelectChoice("admin", _l("Administrator"))])


class ConfirmForm(FlaskForm):
    """A bare form for confirmed actions (disable, reset, revoke): it carries the CSRF token."""


class LocaleForm(FlaskForm):
    """Choose the interface language."""

    locale = SelectField(_l("Language"), choices=[SelectChoice(code, name)
                                                  for code, name in LANGUAGE_NAMES.items()])
    next = HiddenField()
