"""The e-mail of one delivery, byte for byte the same at every attempt.

Date, Message-ID and MIME boundary come from what was stored when the
message was queued (never from the time of sending), so a retry after a
crash sends exactly the same bytes: the receiving side can recognise it by
its Message-ID, and even by its content.
"""

from __future__ import annotations

import email.policy
from email.message import EmailMessage
from email.utils import format_datetime, formataddr

from station.outbox.model import Delivery, StoredMessage


def build_email(delivery: Delivery, message: StoredMessage, sender: str) -> bytes:
    """The MIME message (CRLF line ends) for one recipient, attachments included."""
    mail = EmailMessage(policy=email.policy.SMTP)
    mail["From"] = sender
    mail["To"] = formataddr((delivery.name, delivery.address))
    mail["Subject"] = message.subject
    mail["Date"] = format_datetime(message.created_at)
    mail["Message-ID"] = delivery.mime_message_id
    mail["Auto-Submitted"] = "auto-generated"
    mail.set_content(message.body, cte="quoted-printable")
    for attachment in message.attachments:
        maintype, _, subtype = attachment.mime_type.partition("/")
        mail.add_attachment(attachment.content, maintype=maintype, subtype=subtype,
                            filename=attachment.filename)
    if mail.is_multipart():
        mail.set_boundary(f"=_station-{delivery.id}")
    return mail.as_bytes(policy=email.policy.SMTP)
