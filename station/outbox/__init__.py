"""The outbox: every report reaches each of its recipients, exactly once each.

Qt-free. :class:`Outbox` queues an :class:`OutgoingMessage` for a list of
:class:`Recipient` s (one *delivery* each) in the store; :class:`OutboxWorker`
sends due deliveries by e-mail (SMTP with STARTTLS to the relay), to a FHIR
endpoint or to a drop folder, with exponential backoff, until delivered or
refused for good. See ``worker.py`` for the crash-safety argument.
"""

from station.outbox.config import OutboxConfig, SmtpSettings, load_outbox_config
from station.outbox.errors import DeliveryError, OutboxConfigError, OutboxError
from station.outbox.model import (
    Attachment,
    Channel,
    Delivery,
    DeliveryId,
    DeliveryState,
    HistoryEntry,
    MessageId,
    OutgoingMessage,
    Recipient,
    StoredMessage,
)
from station.outbox.outbox import Outbox
from station.outbox.worker import AttemptResult, OutboxWorker

__all__ = [
    "Attachment", "AttemptResult", "Channel", "Delivery", "DeliveryError", "DeliveryId",
    "DeliveryState", "HistoryEntry", "MessageId", "Outbox", "OutboxConfig",
    "OutboxConfigError", "OutboxError", "OutboxWorker", "OutgoingMessage", "Recipient",
    "SmtpSettings", "StoredMessage", "load_outbox_config",
]
