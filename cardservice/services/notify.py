"""Optional e-mail notices about a resident's request (SMTP from configuration, off by default).

A notice says only that the request was decided and links to its status page: no
name, no card number, nothing that would hurt if the mailbox were read by someone else.
Sending happens after the decision is committed; a mail failure is logged (without
the address) and never undoes the decision.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from cardservice.config import MailSettings
from cardservice.labels import translations

log = logging.getLogger("cardservice.notify")


def build_notice(*, sender: str, to: str, city_name: str, status_url: str, approved: bool,
                 locale: str) -> EmailMessage:
    """The notice e-mail in the resident's language."""
    _ = translations(locale).gettext
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = _("Your card request in %(city)s") % {"city": city_name}
    body = (_("Your request has been approved. Your new card is ready.") if approved
            else _("Your request could not be approved. The status page says why."))
    msg.set_content(f"{body}\n\n{status_url}\n")
    return msg


def send_notice(mail: MailSettings, msg: EmailMessage) -> bool:
    """Send if mail is enabled; True when sent."""
    if not mail.enabled:
        return False
    try:
        with smtplib.SMTP(mail.host, mail.port, timeout=10) as smtp:
            if mail.starttls:
                smtp.starttls()
            if mail.username:
                smtp.login(mail.username, mail.password)
            smtp.send_message(msg)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("request notice not sent: %s", type(exc).__name__)
        return False
    return True
