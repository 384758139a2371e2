"""The session engine: identify → consent → examine → report → sent.

An explicit state machine. Refusal or withdrawal of consent stops the act;
every transition and incident is stored as an event before it is announced
to subscribers, so what a view shows is always already on disk.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from devices.measurement import Measurement, WaveformChunk
from station.clock import Clock, utc_now
from station.consent import Act, ConsentCapacity, ConsentDecision, ConsentRecord
from station.errors import SessionStateError
from station.events import Observable
from station.people import NurseAccount
from station.store.database import Store
from station.store.measurements import MeasurementLog
from station.store.residents import Resident, ResidentRegistry
from station.store.sessions import SessionEvent, SessionRecords


class SessionState(StrEnum):
    """Where a session stands."""

    IDENTIFY = "identify"
    CONSENT = "consent"
    EXAMINE = "examine"
    REPORT = "report"
    SENT = "sent"
    STOPPED = "stopped"


class StopReason(StrEnum):
    """Why a session ended before its report was sent."""

    CONSENT_REFUSED = "consent_refused"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    ABANDONED = "abandoned"


ALLOWED: dict[SessionState, frozenset[SessionState]] = {
    SessionState.IDENTIFY: frozenset({SessionState.CONSENT, SessionState.STOPPED}),
    SessionState.CONSENT: frozenset({SessionState.EXAMINE, SessionState.STOPPED}),
    SessionState.EXAMINE: frozenset({SessionState.REPORT, SessionState.STOPPED}),
    SessionState.REPORT: frozenset({SessionState.SENT, SessionState.STOPPED}),
    SessionState.SENT: frozenset(),
    SessionState.STOPPED: frozenset(),
}
# Consent can be withdrawn while the act is under way, until the report leaves.
_WITHDRAWABLE = frozenset({SessionState.EXAMINE, SessionState.REPORT})


class SessionEngine:
    """One telemedicine act with one resident, driven by the nurse's actions.

    Subscribe with :meth:`subscribe` to receive every :class:`SessionEvent`
    (transitions, consents, incidents, measurements) after it is stored.
    """

    def __init__(self, store: Store, session_id: str, nurse: NurseAccount, act: Act,
                 state: SessionState, resident: Resident | None = None,
                 clock: Clock = utc_now) -> None:
        self.id = session_id
        self.nurse = nurse
        self.act = act
        self._state = state
        self._resident = resident
        self._clock = clock
        self._records = SessionRecords(store)
        self._measurements = MeasurementLog(store)
        self.changes: Observable[SessionEvent] = Observable()

    @classmethod
    def start(cls, store: Store, nurse: NurseAccount, act: Act = Act.TELECONSULTATION,
              clock: Clock = utc_now) -> SessionEngine:
        """Open a new session, waiting for the resident to be identified."""
        engine = cls(store, uuid.uuid4().hex, nurse, act, SessionState.IDENTIFY, clock=clock)
        engine._records.create(engine.id, act, nurse.login, engine._state, clock())
        return engine

    @classmethod
    def resume(cls, store: Store, session_id: str, nurse: NurseAccount,
               clock: Clock = utc_now) -> SessionEngine:
        """Pick a session up again after a crash or restart, in its stored state."""
        row = SessionRecords(store).get(session_id)
        resident = (ResidentRegistry(store).get(row.resident_id)
                    if row.resident_id is not None else None)
        engine = cls(store, session_id, nurse, row.act, SessionState(row.state), resident, clock)
        engine.record_incident("session_resumed", nurse.login)
        return engine

    # --- observing -----------------------------------------------------------------

    @property
    def state(self) -> SessionState:
        """The current state."""
        return self._state

    @property
    def resident(self) -> Resident | None:
        """The identified resident, once identified."""
        return self._resident

    def subscribe(self, listener: Callable[[SessionEvent], None]) -> Callable[[], None]:
        """Receive every event after it is stored; returns an unsubscribe function."""
        return self.changes.subscribe(listener)

    def events(self) -> list[SessionEvent]:
        """The stored event log of this session."""
        return self._records.events(self.id)

    def consents(self) -> list[ConsentRecord]:
        """The consents recorded in this session."""
        return self._records.consents(self.id)

    def measurements(self) -> list[Measurement]:
        """The measurements recorded in this session."""
        return self._measurements.for_session(self.id)

    # --- acting --------------------------------------------------------------------

    def identify(self, resident: Resident) -> None:
        """Attach the resident; the session then waits for consent."""
        self._require(SessionState.CONSENT, "identify")
        self._move(SessionState.CONSENT, {"resident_id": resident.id}, resident_id=resident.id)
        self._resident = resident

    def record_consent(self, decision: ConsentDecision, capacity: ConsentCapacity,
                       consenting_person: str = "", note: str = "") -> ConsentRecord:
        """Trace the answer. Given: the examination starts. Refused: the act stops."""
        if decision is ConsentDecision.WITHDRAWN:
            return self.withdraw_consent(capacity, consenting_person, note)
        self._require(SessionState.EXAMINE, "consent")
        consent = self._consent(decision, capacity, consenting_person, note)
        if consent.allows_act:
            self._move(SessionState.EXAMINE, {"decision": decision.value}, consent=consent)
        else:
            self._move(SessionState.STOPPED, {"decision": decision.value},
                       stop_reason=StopReason.CONSENT_REFUSED, consent=consent)
        return consent

    def withdraw_consent(self, capacity: ConsentCapacity, consenting_person: str = "",
                         note: str = "") -> ConsentRecord:
        """Consent withdrawn during the act: trace it and stop. Data already
        captured is kept (it is part of the record), nothing more is taken."""
        if self._state not in _WITHDRAWABLE:
            raise SessionStateError("session.cannot_withdraw", state=self._state.value)
        consent = self._consent(ConsentDecision.WITHDRAWN, capacity, consenting_person, note)
        self._move(SessionState.STOPPED, {"decision": consent.decision.value},
                   stop_reason=StopReason.CONSENT_WITHDRAWN, consent=consent)
        return consent

    def add_measurement(self, measurement: Measurement) -> int:
        """Store a measurement at once (examination only); returns its id."""
        return self.add_measurements([measurement]).start

    def add_measurements(self, measurements: Sequence[Measurement]) -> range:
        """Store a burst of measurements in one durable transaction."""
        self._require_state(SessionState.EXAMINE, "measure")
        ids = self._measurements.add_many(self.id, measurements)
        stored_at = datetime.now(UTC)  # the wall clock, not the session's: for latency figures
        for measurement_id, measurement in zip(ids, measurements, strict=True):
            self.changes.announce(SessionEvent(self.id, "measurement", measurement.time,
                                               measurement.device,
                                               {"measurement": measurement, "id": measurement_id,
                                                "stored_at": stored_at}))
        return ids

    def add_waveform(self, chunk: WaveformChunk) -> int:
        """Store a chunk of waveform samples (examination only)."""
        self._require_state(SessionState.EXAMINE, "measure")
        chunk_id = self._measurements.add_waveform(self.id, chunk)
        self.changes.announce(SessionEvent(self.id, "waveform", chunk.start, chunk.device,
                                           {"chunk": chunk}))
        return chunk_id

    def record_event(self, event_type: str, data: dict[str, Any],
                     actor: str | None = None) -> SessionEvent:
        """Store a fact that changes no state (a report draft, an audio-only choice...)
        and announce it. Any state."""
        event = self._records.record_event(self.id, event_type, self._clock(),
                                           actor or self.nurse.login, data)
        self.changes.announce(event)
        return event

    def announce_recorded(self, event: SessionEvent) -> None:
        """Announce an event another part of the station stored for this session
        (the signaling server records the doctor who joins in the same write as
        the use of his invitation), so views learn of it without reading the store."""
        if event.session_id != self.id:
            raise ValueError(f"event of session {event.session_id}, not {self.id}")
        self.changes.announce(event)

    def record_incident(self, kind: str, detail: str, actor: str | None = None) -> SessionEvent:
        """Trace a technical incident (call dropped, device lost...). Any state."""
        event = self._records.record_event(
            self.id, "incident", self._clock(), actor or self.nurse.login,
            {"kind": kind, "detail": detail, "state": self._state.value},
        )
        self.changes.announce(event)
        return event

    def finish_examination(self, summary: str = "") -> None:
        """The examination is over; the report is to be written."""
        self._require(SessionState.REPORT, "finish")
        self._move(SessionState.REPORT, {"summary": summary} if summary else {})

    def mark_sent(self, destination: str, reference: str = "") -> None:
        """The report was handed to its channel and acknowledged."""
        self._require(SessionState.SENT, "send")
        self._move(SessionState.SENT, {"destination": destination, "reference": reference})

    def abandon(self, reason: str) -> None:
        """Stop the session without an act (resident absent, cart fault...)."""
        self._require(SessionState.STOPPED, "abandon")
        self._move(SessionState.STOPPED, {"reason": reason}, stop_reason=StopReason.ABANDONED)

    # --- internals -----------------------------------------------------------------

    def _consent(self, decision: ConsentDecision, capacity: ConsentCapacity,
                 consenting_person: str, note: str) -> ConsentRecord:
        assert self._resident is not None  # guaranteed by the state checks
        return ConsentRecord(
            resident_id=self._resident.id, act=self.act, decision=decision, capacity=capacity,
            recorded_by=self.nurse.login, recorded_at=self._clock(),
            consenting_person=consenting_person.strip(), note=note.strip(),
        )

    def _require(self, target: SessionState, action: str) -> None:
        if target not in ALLOWED[self._state]:
            raise SessionStateError("session.bad_transition", action=action,
                                    state=self._state.value)

    def _require_state(self, state: SessionState, action: str) -> None:
        if self._state is not state:
            raise SessionStateError("session.bad_transition", action=action,
                                    state=self._state.value)

    def _move(self, target: SessionState, data: dict[str, Any], *,
              resident_id: int | None = None, stop_reason: StopReason | None = None,
              consent: ConsentRecord | None = None) -> None:
        event = self._records.transition(
            self.id, target.value, self._clock(), self.nurse.login,
            {**data, "from": self._state.value},
            resident_id=resident_id, consent=consent,
            stop_reason=stop_reason.value if stop_reason else None,
        )
        self._state = target
        self.changes.announce(event)
