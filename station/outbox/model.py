"""What the outbox carries: an outgoing document, its recipients, their deliveries.

A message is written once and never changed. Each recipient of a message is
a *delivery* with its own state, retry schedule, stable Message-ID and an
append-only history of attempts.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import NewType

from station.i18n import tr

DeliveryId = NewType("DeliveryId", str)
MessageId = NewType("MessageId", str)


class Channel(StrEnum):
    """How a delivery travels."""

    SMTP = "smtp"  # e-mail through the configured relay (MSSanté shape)
    FHIR = "fhir"  # POST of the FHIR bundle to the configured endpoint
    FOLDER = "folder"  # attachments written to the configured drop folder


class DeliveryState(StrEnum):
    """Where a delivery stands. ``delivered`` and ``failed`` are final
    (a failed one goes back to ``queued`` only when someone asks to retry)."""

    QUEUED = "queued"
    SENDING = "sending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file carried by a message (the report PDF, the FHIR bundle...)."""

    filename: str
    mime_type: str
    content: bytes

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the content."""
        return hashlib.sha256(self.content).hexdigest()


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    """A document to send: subject, plain-text body, attachments.

    ``session_id`` and ``report_ref`` link it to what it reports on.
    ``key`` names the message for idempotency: enqueuing the same key again
    returns the existing deliveries (by default the key is the content hash
    plus the links, so enqueuing the same document twice sends it once).
    """

    subject: str
    body: str
    attachments: tuple[Attachment, ...] = ()
    session_id: str | None = None
    report_ref: str | None = None
    key: str | None = None

    @property
    def content_sha256(self) -> str:
        """Digest of everything the recipient will read."""
        described = {
            "subject": self.subject, "body": self.body,
            "attachments": [[a.filename, a.mime_type, a.sha256] for a in self.attachments],
        }
        text = json.dumps(described, ensure_ascii=False, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()

    @property
    def idempotency_key(self) -> str:
        """The key given, else one derived from the content and the links."""
        if self.key:
            return self.key
        return f"{self.session_id or ''}|{self.report_ref or ''}|{self.content_sha256}"


@dataclass(frozen=True, slots=True)
class Recipient:
    """Who (or where) a message goes to.

    For ``smtp`` the address is an e-mail address; for ``fhir`` and ``folder``
    the configured endpoint or folder is used and the address is a label.
    ``role`` says why they receive it (médecin traitant, requesting doctor,
    EHPAD team...), shown to the nurse.
    """

    channel: Channel
    address: str
    name: str = ""
    role: str = ""

    @classmethod
    def email(cls, address: str, name: str = "", role: str = "") -> Recipient:
        """An e-mail recipient (secure messaging address)."""
        return cls(Channel.SMTP, address.strip(), name, role)

    @classmethod
    def fhir_endpoint(cls, label: str = "fhir", role: str = "") -> Recipient:
        """The configured FHIR endpoint."""
        return cls(Channel.FHIR, label, "", role)

    @classmethod
    def drop_folder(cls, label: str = "folder", role: str = "") -> Recipient:
        """The configured drop folder."""
        return cls(Channel.FOLDER, label, "", role)


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One row of a delivery's history: an attempt, its outcome, the server's reply."""

    attempt: int
    time: datetime
    event: str
    actor: str
    error_code: str | None
    error_params: dict[str, object]
    reply_code: int | None
    reply_text: str | None

    @property
    def message(self) -> str:
        """The event (and its reason) in the current language."""
        text = tr(f"outbox.event.{self.event}")
        if self.error_code:
            text += " — " + tr(self.error_code, **self.error_params)
        return text


@dataclass(frozen=True, slots=True)
class Delivery:
    """One recipient of one message, and where its sending stands."""

    id: DeliveryId
    message_id: MessageId
    session_id: str | None
    subject: str
    channel: Channel
    address: str
    name: str
    role: str
    mime_message_id: str
    state: DeliveryState
    attempts: int
    next_attempt_at: datetime
    last_error_code: str | None
    last_error_params: dict[str, object]
    reply_code: int | None
    reply_text: str | None
    created_at: datetime
    updated_at: datetime
    delivered_at: datetime | None
    history: tuple[HistoryEntry, ...] = field(default=())

    @property
    def error_message(self) -> str | None:
        """The last error, in the current language, with the server's reply."""
        if not self.last_error_code:
            return None
        return tr(self.last_error_code, **self.last_error_params)

    @property
    def state_label(self) -> str:
        """The state in the current language."""
        return tr(f"outbox.state.{self.state.value}")


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A queued message as stored, with its attachments."""

    id: MessageId
    session_id: str | None
    report_ref: str | None
    subject: str
    body: str
    attachments: tuple[Attachment, ...]
    content_sha256: str
    created_at: datetime
