"""Session records: the session row, its append-only event log, its consents."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from station.clock import from_text, to_text
from station.consent import Act, ConsentCapacity, ConsentDecision, ConsentRecord
from station.errors import NotFoundError
from station.store import audit
from station.store.database import Store


@dataclass(frozen=True, slots=True)
class SessionEvent:
    """Something that happened in a session: a transition, a consent, an incident..."""

    session_id: str
    type: str
    time: datetime
    actor: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True)
class SessionRow:
    """The stored summary of a session."""

    id: str
    resident_id: int | None
    act: Act
    nurse_login: str
    state: str
    stop_reason: str | None
    created_at: datetime
    updated_at: datetime


def _dump(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


class SessionRecords:
    """Persistence of sessions; each method is one durable transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def create(self, session_id: str, act: Act, nurse_login: str, state: str,
               time: datetime) -> SessionEvent:
        """Create the session row and its first event."""
        now = to_text(time)
        with self._store.write() as conn:
            conn.execute(
                "INSERT INTO sessions (id, resident_id, act, nurse_login, state, stop_reason,"
                " created_at, updated_at) VALUES (?, NULL, ?, ?, ?, NULL, ?, ?)",
                (session_id, act.value, nurse_login, state, now, now),
            )
            audit.append(conn, actor=nurse_login, action="session.created", entity="sessions",
                         first_id=session_id, time=now, details={"act": act.value})
            return self._event(conn, session_id, "created", time, nurse_login,
                               {"act": act.value, "state": state})

    def transition(
        self, session_id: str, new_state: str, time: datetime, actor: str,
        data: dict[str, Any], *, resident_id: int | None = None, stop_reason: str | None = None,
        consent: ConsentRecord | None = None,
    ) -> SessionEvent:
        """Change state (and optionally attach a resident or a consent) atomically."""
        now = to_text(time)
        with self._store.write() as conn:
            if consent is not None:
                data = {**data, "consent_id": self._insert_consent(conn, session_id, consent)}
            conn.execute(
                "UPDATE sessions SET state = ?, updated_at = ?,"
                " resident_id = coalesce(?, resident_id), stop_reason = coalesce(?, stop_reason)"
                " WHERE id = ?",
                (new_state, now, resident_id, stop_reason, session_id),
            )
            audit.append(conn, actor=actor, action=f"session.{new_state}", entity="sessions",
                         first_id=session_id, time=now, details=data)
            return self._event(conn, session_id, "transition", time, actor,
                               {**data, "state": new_state})

    def record_event(self, session_id: str, event_type: str, time: datetime, actor: str,
                     data: dict[str, Any], consent: ConsentRecord | None = None) -> SessionEvent:
        """Record an event that changes no state (an incident, a consent renewal...)."""
        with self._store.write() as conn:
            if consent is not None:
                data = {**data, "consent_id": self._insert_consent(conn, session_id, consent)}
            return self._event(conn, session_id, event_type, time, actor, data)

    def record_event_in(self, conn: sqlite3.Connection, session_id: str, event_type: str,
                        time: datetime, actor: str, data: dict[str, Any]) -> SessionEvent:
        """Record an event inside a write transaction the caller already holds,
        so it commits (or not) together with the caller's other writes."""
        return self._event(conn, session_id, event_type, time, actor, data)

    def _event(self, conn: sqlite3.Connection, session_id: str, event_type: str,
               time: datetime, actor: str, data: dict[str, Any]) -> SessionEvent:
        now = to_text(time)
        cursor = conn.execute(
            "INSERT INTO session_events (session_id, time, type, actor, data)"
            " VALUES (?, ?, ?, ?, ?)",
            (session_id, now, event_type, actor, _dump(data)),
        )
        audit.append(conn, actor=actor, action=f"event.{event_type}", entity="session_events",
                     first_id=int(cursor.lastrowid or 0), time=now,
                     details={"session": session_id})
        return SessionEvent(session_id, event_type, time, actor, data)

    def _insert_consent(self, conn: sqlite3.Connection, session_id: str,
                        consent: ConsentRecord) -> int:
        now = to_text(consent.recorded_at)
        cursor = conn.execute(
            "INSERT INTO consents (resident_id, session_id, act, decision, capacity,"
            " consenting_person, recorded_by, recorded_at, note)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (consent.resident_id, session_id, consent.act.value, consent.decision.value,
             consent.capacity.value, consent.consenting_person, consent.recorded_by, now,
             consent.note),
        )
        consent_id = int(cursor.lastrowid or 0)
        audit.append(conn, actor=consent.recorded_by, action=f"consent.{consent.decision.value}",
                     entity="consents", first_id=consent_id, time=now,
                     details={"session": session_id, "capacity": consent.capacity.value})
        return consent_id

    def get(self, session_id: str) -> SessionRow:
        """The session's stored summary, or :class:`NotFoundError`."""
        row = self._store.conn.execute(
            "SELECT id, resident_id, act, nurse_login, state, stop_reason, created_at,"
            " updated_at FROM sessions WHERE id = ?", (session_id,),
        ).fetchone()
        if row is None:
            raise NotFoundError("session.not_found", id=session_id)
        return SessionRow(row[0], row[1], Act(row[2]), row[3], row[4], row[5],
                          from_text(row[6]), from_text(row[7]))

    def events(self, session_id: str) -> list[SessionEvent]:
        """Every recorded event of the session, oldest first."""
        rows = self._store.conn.execute(
            "SELECT time, type, actor, data FROM session_events WHERE session_id = ?"
            " ORDER BY id", (session_id,),
        )
        return [SessionEvent(session_id, t, from_text(time), actor, json.loads(data))
                for time, t, actor, data in rows]

    def consents(self, session_id: str) -> list[ConsentRecord]:
        """The consents recorded in the session, oldest first."""
        rows = self._store.conn.execute(
            "SELECT resident_id, act, decision, capacity, consenting_person, recorded_by,"
            " recorded_at, note FROM consents WHERE session_id = ? ORDER BY id", (session_id,),
        )
        return [
            ConsentRecord(
                resident_id=r[0], act=Act(r[1]), decision=ConsentDecision(r[2]),
                capacity=ConsentCapacity(r[3]), consenting_person=r[4], recorded_by=r[5],
                recorded_at=from_text(r[6]), note=r[7],
            )
            for r in rows
        ]
