"""The audit log in plain words: each action code, actor and subject in the admin's language.

An action code without a label here (a new one not yet described) is shown as its raw
code, so nothing is ever hidden from the log page.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_babel import lazy_pgettext

from cardservice import serials, values
from cardservice.application import AuditEntryView

ACTIONS = {
    "user.create": _l("Created a staff account"),
    "user.login": _l("Signed in"),
    "user.locked": _l("Locked out repeated failed sign-ins"),
    "user.password": _l("Changed their own password"),
    "user.disable": _l("Disabled a staff account"),
    "user.enable": _l("Enabled a staff account"),
    "user.reset_password": _l("Reset a staff account's password"),
    "token.create": _l("Created an API token"),
    "token.revoke": _l("Revoked an API token"),
    "resident.register": _l("Registered a resident"),
    "resident.correct": _l("Corrected a resident's record"),
    "resident.search": _l("Searched the register"),
    "resident.purge": _l("Forgot a resident (retention period over)"),
    "register.destroy": _l("Destroyed the whole register"),
    "card.issue": _l("Issued a card"),
    "card.revoke": _l("Revoked a card"),
    "card.print": _l("Printed a card"),
    "card.print_batch": _l("Printed a sheet of cards"),
    "request.create": _l("Asked for a renewal or replacement"),
    "request.approve": _l("Approved a resident's request"),
    "request.reject": _l("Rejected a resident's request"),
    "partner.add": _l("Recognised a partner city"),
    "partner.sync": _l("Synchronised a partner city"),
    "partner.sync_refused": _l("Refused a partner city's trust data"),
    "partner.suspend": _l("Suspended a partner city"),
    "partner.resume": _l("Recognised a partner city again"),
    "partner.remove": _l("Removed a partner city"),
    "recognition.reject": _l("Rejected a recognition request"),
    "alliance.draft_create": _l("Drafted a new alliance"),
    "alliance.draft_propose": _l("Drafted a new version of an alliance's member list"),
    "alliance.draft_import": _l("Received a draft of an alliance's member list"),
    "alliance.cosign": _l("Co-signed a draft of an alliance's member list"),
    "alliance.join": _l("Joined an alliance"),
    "alliance.update": _l("Accepted a new version of an alliance's member list"),
    "alliance.refused": _l("Refused an alliance's member list"),
    "alliance.member_pin": _l("Recognised an alliance member by the listed fingerprint"),
    "alliance.member_sync": _l("Synchronised an alliance member"),
    "alliance.member_refused": _l("Refused an alliance member's trust data"),
    "alliance.member_suspend": _l("Suspended an alliance member here"),
    "alliance.member_resume": _l("Recognised an alliance member again"),
    "keys.rotate": _l("Rotated the signing key"),
    "keys.rotate_root": _l("Rotated the city root"),
}

SUBJECTS = {
    "user": lazy_pgettext("audit log subject", "Staff account"),
    "resident": lazy_pgettext("audit log subject", "Resident"),
    "card": lazy_pgettext("audit log subject", "Card"),
    "request": lazy_pgettext("audit log subject", "Request"),
    "partner": lazy_pgettext("audit log subject", "Partner city"),
    "signing_key": lazy_pgettext("audit log subject", "Signing key"),
    "root": lazy_pgettext("audit log subject", "City root"),
    "register": lazy_pgettext("audit log subject", "Register"),
}

#: Actors that are not staff accounts.
RESIDENT = "resident"
SYSTEM = "system"
CLI_PREFIX = "cli:"


@dataclass(frozen=True)
class AuditRow:
    """One entry as the page shows it. ``code`` is set only when no label describes it."""

    seq: int
    at: object  # datetime, formatted by the template in the admin's language
    action: str
    code: str | None
    actor: str
    subject: str
    reference: str


def actor_label(actor: str) -> str:
    """Who acted: a staff username, "Resident", "System" or the command line's account."""
    if actor == RESIDENT:
        return _("Resident (no account)")
    if actor == SYSTEM:
        return _("System")
    if actor.startswith(CLI_PREFIX):
        return _("Command line (%(account)s)", account=actor[len(CLI_PREFIX):])
    return actor


def row(entry: AuditEntryView) -> AuditRow:
    """The readable form of an entry. The log holds record ids only, never personal data."""
    label = ACTIONS.get(entry.action)
    subject = SUBJECTS.get(entry.target_type)
    reference = "" if entry.target_id in ("", "-") else entry.target_id
    if entry.target_type == "user" and reference.isdigit():
        reference = f"#{reference}"
    elif entry.target_type == "card" and values.SERIAL_PATTERN.fullmatch(reference):
        reference = serials.format_serial(reference)  # as printed on the card
    return AuditRow(entry.seq, entry.at, str(label) if label is not None else entry.action,
                    None if label is not None else entry.action, actor_label(entry.actor),
                    str(subject) if subject is not None else entry.target_type, reference)


def action_choices() -> list[tuple[str, str]]:
    """The action filter's options, by label in the admin's language."""
    return sorted(((code, str(label)) for code, label in ACTIONS.items()),
                  key=lambda item: item[1].casefold())
