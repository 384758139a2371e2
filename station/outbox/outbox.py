"""The outbox in the store: queue a message for its recipients, follow each delivery.

Every method is one durable transaction (see :meth:`Store.write`). Ids are
derived, not random: a message's id from its idempotency key, a delivery's id
from its message, channel and address. Enqueuing the same message for the
same recipient again (a caller retrying after a crash) finds the same rows.
A delivery's Message-ID (``<delivery-<id>@<domain>>``) is fixed when it is
queued and never changes, so every attempt carries the same one.
"""

from __future__ import annotations

import json
import re
import sqlite3
import uuid
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from station.clock import Clock, from_text, to_text, utc_now
from station.outbox.config import OutboxConfig
from station.outbox.errors import DeliveryError, OutboxError
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
from station.store import audit
from station.store.database import Store

# Fixed namespace for the station's derived ids (uuid5): never change it.
_NAMESPACE = uuid.UUID("5b0f3c1e-6d6b-4c38-9d0e-7a1f2e0c9b41")
_EMAIL = re.compile(r"^[^@\s<>,;\"]+@[^@\s<>,;\"]+\.[^@\s<>,;\"]+$")
_ACTIVE = (DeliveryState.QUEUED.value, DeliveryState.SENDING.value)

_DELIVERY_COLUMNS = (
    "d.id, d.message_id, m.session_id, m.subject, d.channel, d.address, d.display_name,"
    " d.role, d.mime_message_id, d.state, d.attempts, d.next_attempt_at, d.last_error_code,"
    " d.last_error_params, d.reply_code, d.reply_text, d.created_at, d.updated_at,"
    " d.delivered_at FROM outbox_deliveries d JOIN outbox_messages m ON m.id = d.message_id"
)


def _dump(params: dict[str, object]) -> str:
    return json.dumps(params, ensure_ascii=False, sort_keys=True, default=str)


def _load(text: str | None) -> dict[str, object]:
    if not text:
        return {}
    loaded: dict[str, object] = json.loads(text)
    return loaded


def _no_newline(value: str, what: str) -> None:
    if "\r" in value or "\n" in value:
        raise OutboxError("outbox.invalid_text", what=what)


class Outbox:
    """The queue of outgoing documents and the state of every delivery.

    ``config`` is only consulted for the Message-ID's domain (the sender's)
    when queuing; sending is :class:`~station.outbox.worker.OutboxWorker`'s job.
    """

    def __init__(self, store: Store, config: OutboxConfig | None = None, *,
                 clock: Clock = utc_now) -> None:
        self._store = store
        self.config = config
        self._clock = clock

    # -- queuing ---------------------------------------------------------

    def enqueue(self, message: OutgoingMessage, recipients: Sequence[Recipient], *,
                actor: str = "station") -> list[DeliveryId]:
        """Queue ``message`` for each recipient in one transaction.

        Returns one delivery id per distinct recipient, in order. Idempotent
        per (message, recipient): an existing delivery is returned as is.
        Raises :class:`OutboxError` for an invalid recipient or text, or when
        the message's key is already used by a different content.
        """
        with self._store.write() as conn:
            return self.enqueue_in(conn, message, recipients, actor=actor)

    def enqueue_in(self, conn: sqlite3.Connection, message: OutgoingMessage,
                   recipients: Sequence[Recipient], *, actor: str = "station"
                   ) -> list[DeliveryId]:
        """:meth:`enqueue` inside a write transaction the caller already holds, so
        that, say, a report's validation and its sending commit (or not) together."""
        cleaned = self._check(message, recipients)
        key = message.idempotency_key
        message_id = MessageId(str(uuid.uuid5(_NAMESPACE, f"message|{key}")))
        now = to_text(self._clock())
        digest = message.content_sha256
        existing = conn.execute(
            "SELECT content_sha256 FROM outbox_messages WHERE id = ?", (message_id,)
        ).fetchone()
        if existing is not None and existing[0] != digest:
            raise OutboxError("outbox.key_conflict", key=key)
        if existing is None:
            self._insert_message(conn, message_id, message, key, now, actor)
        ids: list[DeliveryId] = []
        created: list[str] = []
        for recipient in cleaned:
            delivery_id = DeliveryId(str(uuid.uuid5(
                _NAMESPACE, f"delivery|{message_id}|{recipient.channel}|{recipient.address}")))
            ids.append(delivery_id)
            cursor = conn.execute(
                "INSERT OR IGNORE INTO outbox_deliveries (id, message_id, channel, address,"
                " display_name, role, mime_message_id, state, attempts, next_attempt_at,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', 0, ?, ?, ?)",
                (delivery_id, message_id, recipient.channel.value, recipient.address,
                 recipient.name, recipient.role, self._mime_id(delivery_id), now, now, now),
            )
            if cursor.rowcount:
                created.append(delivery_id)
                self._history(conn, delivery_id, 0, now, "queued", actor)
        if created or existing is None:
            audit.append(conn, actor=actor, action="outbox.enqueued", time=now, details={
                "message": message_id, "session": message.session_id,
                "content_sha256": digest, "deliveries": created})
        return ids

    def _check(self, message: OutgoingMessage,
               recipients: Sequence[Recipient]) -> list[Recipient]:
        _no_newline(message.subject, "subject")
        if not recipients:
            raise OutboxError("outbox.no_recipient")
        cleaned: list[Recipient] = []
        seen: set[tuple[Channel, str]] = set()
        for recipient in recipients:
            channel = Channel(recipient.channel)
            address = recipient.address.strip()
            if channel is Channel.SMTP:
                address = address.lower()
                if not _EMAIL.match(address):
                    raise OutboxError("outbox.invalid_address", address=recipient.address)
            address = address or channel.value
            _no_newline(recipient.name, "name")
            _no_newline(address, "address")
            if (channel, address) in seen:
                continue
            seen.add((channel, address))
            cleaned.append(Recipient(channel, address, recipient.name.strip(), recipient.role))
        for attachment in message.attachments:
            _no_newline(attachment.filename, "filename")
            if "/" not in attachment.mime_type:
                raise OutboxError("outbox.invalid_text", what="mime_type")
        return cleaned

    def _mime_id(self, delivery_id: str) -> str:
        domain = "station"
        if self.config is not None and self.config.smtp is not None:
            domain = self.config.smtp.sender.rpartition("@")[2] or domain
        return f"<delivery-{delivery_id}@{domain}>"

    def _insert_message(self, conn: sqlite3.Connection, message_id: str,
                        message: OutgoingMessage, key: str, now: str, actor: str) -> None:
        conn.execute(
            "INSERT INTO outbox_messages (id, message_key, session_id, report_ref, subject, body,"
            " content_sha256, created_at, created_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (message_id, key, message.session_id, message.report_ref, message.subject,
             message.body, message.content_sha256, now, actor),
        )
        for position, attachment in enumerate(message.attachments):
            conn.execute(
                "INSERT INTO outbox_attachments (message_id, position, filename, mime_type,"
                " size, sha256, content) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (message_id, position, attachment.filename, attachment.mime_type,
                 len(attachment.content), attachment.sha256, attachment.content),
            )

    @staticmethod
    def _history(conn: sqlite3.Connection, delivery_id: str, attempt: int, time: str,
                 event: str, actor: str, failure: DeliveryError | None = None,
                 reply_code: int | None = None, reply_text: str | None = None) -> None:
        if failure is not None:
            reply_code, reply_text = failure.reply_code, failure.reply_text
        conn.execute(
            "INSERT INTO outbox_history (delivery_id, attempt, time, event, actor, error_code,"
            " error_params, reply_code, reply_text) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (delivery_id, attempt, time, event, actor,
             failure.code if failure else None,
             _dump(failure.params) if failure else None, reply_code, reply_text),
        )

    # -- reading ---------------------------------------------------------

    def message(self, message_id: str) -> StoredMessage:
        """A queued message with its attachments (their digests checked)."""
        row = self._store.conn.execute(
            "SELECT id, session_id, report_ref, subject, body, content_sha256, created_at"
            " FROM outbox_messages WHERE id = ?", (message_id,)).fetchone()
        if row is None:
            raise OutboxError("outbox.message_not_found", id=message_id)
        attachments = []
        for filename, mime_type, sha256, content in self._store.conn.execute(
            "SELECT filename, mime_type, sha256, content FROM outbox_attachments"
            " WHERE message_id = ? ORDER BY position", (message_id,)):
            attachment = Attachment(filename, mime_type, bytes(content))
            if attachment.sha256 != sha256:
                raise OutboxError("outbox.attachment_altered", id=message_id, filename=filename)
            attachments.append(attachment)
        return StoredMessage(MessageId(row[0]), row[1], row[2], row[3], row[4],
                             tuple(attachments), row[5], from_text(row[6]))

    def delivery(self, delivery_id: str) -> Delivery:
        """One delivery with its whole history. Accepts a unique id prefix (8+ chars)."""
        rows = self._store.conn.execute(
            f"SELECT {_DELIVERY_COLUMNS} WHERE d.id = ?", (delivery_id,)).fetchall()
        if not rows and len(delivery_id) >= 8:
            rows = self._store.conn.execute(
                f"SELECT {_DELIVERY_COLUMNS} WHERE d.id LIKE ? ESCAPE '\\' LIMIT 2",
                (delivery_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                 + "%",)).fetchall()
        if len(rows) != 1:
            raise OutboxError("outbox.delivery_not_found", id=delivery_id)
        delivery = self._delivery(rows[0])
        history = tuple(
            HistoryEntry(r[0], from_text(r[1]), r[2], r[3], r[4], _load(r[5]), r[6], r[7])
            for r in self._store.conn.execute(
                "SELECT attempt, time, event, actor, error_code, error_params, reply_code,"
                " reply_text FROM outbox_history WHERE delivery_id = ? ORDER BY id",
                (delivery.id,)))
        return _with_history(delivery, history)

    def deliveries(self, message_id: str | None = None, *, session_id: str | None = None,
                   report_ref: str | None = None) -> list[Delivery]:
        """Deliveries of one message, of one session's messages, of the messages carrying
        one report version, or all; oldest first."""
        where: str = "1"
        params: tuple[str, ...] = ()
        if message_id is not None:
            where, params = "d.message_id = ?", (message_id,)
        elif report_ref is not None:
            where, params = "m.report_ref = ?", (report_ref,)
        elif session_id is not None:
            where, params = "m.session_id = ?", (session_id,)
        rows = self._store.conn.execute(
            f"SELECT {_DELIVERY_COLUMNS} WHERE {where} ORDER BY d.created_at, d.rowid", params)
        return [self._delivery(r) for r in rows]

    def pending(self) -> list[Delivery]:
        """Deliveries not yet delivered nor refused (queued or being sent)."""
        rows = self._store.conn.execute(
            f"SELECT {_DELIVERY_COLUMNS} WHERE d.state IN (?, ?)"
            " ORDER BY d.next_attempt_at, d.rowid", _ACTIVE)
        return [self._delivery(r) for r in rows]

    def due(self, now: datetime | None = None) -> list[Delivery]:
        """Pending deliveries whose next attempt time has come."""
        rows = self._store.conn.execute(
            f"SELECT {_DELIVERY_COLUMNS} WHERE d.state IN (?, ?) AND d.next_attempt_at <= ?"
            " ORDER BY d.next_attempt_at, d.rowid", (*_ACTIVE, to_text(now or self._clock())))
        return [self._delivery(r) for r in rows]

    def next_attempt_at(self, channels: Sequence[Channel] | None = None) -> datetime | None:
        """When the earliest pending delivery (of these channels) is due, if any."""
        chosen = [c.value for c in (Channel if channels is None else channels)]
        if not chosen:
            return None
        marks = ", ".join("?" * len(chosen))
        row = self._store.conn.execute(
            "SELECT min(next_attempt_at) FROM outbox_deliveries WHERE state IN (?, ?)"
            f" AND channel IN ({marks})", (*_ACTIVE, *chosen)).fetchone()
        return from_text(row[0]) if row and row[0] else None

    @staticmethod
    def _delivery(r: Sequence[Any]) -> Delivery:
        return Delivery(
            id=DeliveryId(r[0]), message_id=MessageId(r[1]), session_id=r[2], subject=r[3],
            channel=Channel(r[4]), address=r[5], name=r[6], role=r[7], mime_message_id=r[8],
            state=DeliveryState(r[9]), attempts=r[10], next_attempt_at=from_text(r[11]),
            last_error_code=r[12], last_error_params=_load(r[13]), reply_code=r[14],
            reply_text=r[15], created_at=from_text(r[16]), updated_at=from_text(r[17]),
            delivered_at=from_text(r[18]) if r[18] else None,
        )

    # -- state changes (the worker's, and the nurse's retry) --------------

    def retry_now(self, delivery_id: str, *, actor: str = "station") -> Delivery:
        """Make a queued or refused delivery due at once (a refused one is queued again).

        A delivered one is refused: it is never sent twice.
        """
        delivery = self.delivery(delivery_id)
        if delivery.state is DeliveryState.DELIVERED:
            raise OutboxError("outbox.already_delivered", id=delivery.id)
        now = to_text(self._clock())
        state = (DeliveryState.QUEUED if delivery.state is DeliveryState.FAILED
                 else delivery.state)
        with self._store.write() as conn:
            conn.execute(
                "UPDATE outbox_deliveries SET state = ?, next_attempt_at = ?, updated_at = ?"
                " WHERE id = ?", (state.value, now, now, delivery.id))
            self._history(conn, delivery.id, delivery.attempts, now, "retry_requested", actor)
            audit.append(conn, actor=actor, action="outbox.retry_requested", time=now,
                         details={"delivery": delivery.id, "previous": delivery.state.value})
        return self.delivery(delivery.id)

    def claim(self, delivery_id: str, backoff_s: float, *,
              actor: str = "outbox") -> Delivery | None:
        """Commit ``sending`` (attempt + 1) before any connection is made.

        ``next_attempt_at`` moves ``backoff_s`` ahead at once: if the process
        dies during the attempt, the delivery is picked up again then, still
        ``sending``, and the interrupted attempt is written in its history.
        Returns ``None`` if the delivery is not (or no longer) due.
        """
        now_dt = self._clock()
        now = to_text(now_dt)
        with self._store.write() as conn:
            row = conn.execute(
                "SELECT state, attempts, next_attempt_at FROM outbox_deliveries WHERE id = ?",
                (delivery_id,)).fetchone()
            if row is None or row[0] not in _ACTIVE or row[2] > now:
                return None
            state, attempts = row[0], int(row[1])
            if state == DeliveryState.SENDING.value:
                self._history(conn, delivery_id, attempts, now, "interrupted", actor)
            attempt = attempts + 1
            conn.execute(
                "UPDATE outbox_deliveries SET state = 'sending', attempts = ?,"
                " next_attempt_at = ?, updated_at = ? WHERE id = ?",
                (attempt, to_text(now_dt + timedelta(seconds=backoff_s)), now, delivery_id))
            self._history(conn, delivery_id, attempt, now, "sending", actor)
        return self.delivery(delivery_id)

    def record_delivered(self, delivery_id: str, attempt: int, reply_code: int | None,
                         reply_text: str | None, *, actor: str = "outbox") -> None:
        """Commit the receiving side's acceptance at once (final)."""
        now = to_text(self._clock())
        with self._store.write() as conn:
            self._history(conn, delivery_id, attempt, now, "delivered", actor,
                          reply_code=reply_code, reply_text=reply_text)
            state = conn.execute("SELECT state FROM outbox_deliveries WHERE id = ?",
                                 (delivery_id,)).fetchone()[0]
            if state == DeliveryState.DELIVERED.value:
                return
            conn.execute(
                "UPDATE outbox_deliveries SET state = 'delivered', delivered_at = ?,"
                " updated_at = ?, reply_code = ?, reply_text = ?, last_error_code = NULL,"
                " last_error_params = NULL WHERE id = ?",
                (now, now, reply_code, reply_text, delivery_id))
            audit.append(conn, actor=actor, action="outbox.delivered", time=now, details={
                "delivery": delivery_id, "attempt": attempt, "reply_code": reply_code})

    def record_failure(self, delivery_id: str, attempt: int, failure: DeliveryError,
                       retry_after_s: float, *, actor: str = "outbox") -> None:
        """Record a failed attempt: queued again after ``retry_after_s``, or refused for good."""
        now_dt = self._clock()
        now = to_text(now_dt)
        event = "permanent_failure" if failure.permanent else "temporary_failure"
        with self._store.write() as conn:
            self._history(conn, delivery_id, attempt, now, event, actor, failure)
            row = conn.execute("SELECT state, attempts FROM outbox_deliveries WHERE id = ?",
                               (delivery_id,)).fetchone()
            if row[0] != DeliveryState.SENDING.value or row[1] != attempt:
                return  # another attempt took over (or succeeded); its outcome decides
            state = "failed" if failure.permanent else "queued"
            next_at = now if failure.permanent else to_text(
                now_dt + timedelta(seconds=retry_after_s))
            conn.execute(
                "UPDATE outbox_deliveries SET state = ?, next_attempt_at = ?, updated_at = ?,"
                " last_error_code = ?, last_error_params = ?, reply_code = ?, reply_text = ?"
                " WHERE id = ?",
                (state, next_at, now, failure.code, _dump(failure.params), failure.reply_code,
                 failure.reply_text, delivery_id))
            if failure.permanent:
                audit.append(conn, actor=actor, action="outbox.refused", time=now, details={
                    "delivery": delivery_id, "attempt": attempt,
                    "reply_code": failure.reply_code, "reply_text": failure.reply_text})

    def note_blocked(self, delivery: Delivery, code: str, **params: object) -> None:
        """Say why a due delivery is not attempted (no configuration): no attempt counted."""
        if delivery.last_error_code == code and delivery.last_error_params == params:
            return
        now = to_text(self._clock())
        with self._store.write() as conn:
            conn.execute(
                "UPDATE outbox_deliveries SET last_error_code = ?, last_error_params = ?,"
                " updated_at = ? WHERE id = ? AND state IN (?, ?)",
                (code, _dump(dict(params)), now, delivery.id, *_ACTIVE))


def _with_history(delivery: Delivery, history: tuple[HistoryEntry, ...]) -> Delivery:
    return replace(delivery, history=history)
