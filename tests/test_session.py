"""The session engine: its states, consent rules, events and durability."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.measurement import Kind, Measurement
from station.consent import ConsentCapacity, ConsentDecision
from station.errors import SessionStateError, ValidationError
from station.people import NurseAccount
from station.session import SessionEngine, SessionState
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.residents import Resident, ResidentRegistry
from station.store.sessions import SessionEvent, SessionRecords
from tests.conftest import FakeClock, marie


def spo2(value: float = 97.0) -> Measurement:
    return Measurement(Kind.SPO2, value, "%", datetime.now(UTC), "sim://oximeter")


@pytest.fixture
def engine(store: Store, nurse: NurseAccount, clock: FakeClock) -> SessionEngine:
    return SessionEngine.start(store, nurse, clock=clock)


@pytest.fixture
def heard(engine: SessionEngine) -> list[SessionEvent]:
    events: list[SessionEvent] = []
    engine.subscribe(events.append)
    return events


def test_the_whole_act(engine: SessionEngine, resident: Resident, heard: list[SessionEvent],
                       store: Store) -> None:
    assert engine.state is SessionState.IDENTIFY
    engine.identify(resident)
    consent = engine.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT,
                                    note="oral")
    engine.add_measurement(spo2())
    engine.record_incident("device_lost", "oxymètre hors de portée")
    engine.finish_examination("RAS")
    engine.mark_sent("mssante", "msg-1")
    assert engine.state is SessionState.SENT
    assert [(e.type, e.data.get("state")) for e in heard] == [
        ("transition", "consent"), ("transition", "examine"), ("measurement", None),
        ("incident", "examine"), ("transition", "report"), ("transition", "sent")]
    assert [e.type for e in engine.events()] == [
        "created", "transition", "transition", "incident", "transition", "transition"]
    assert engine.consents() == [consent]
    row = SessionRecords(store).get(engine.id)
    assert (row.state, row.resident_id, row.stop_reason) == ("sent", resident.id, None)


def test_refusal_stops_the_act(engine: SessionEngine, resident: Resident) -> None:
    engine.identify(resident)
    engine.record_consent(ConsentDecision.REFUSED, ConsentCapacity.TRUSTED_PERSON,
                          consenting_person="Jean Dupont (fils)")
    assert engine.state is SessionState.STOPPED
    with pytest.raises(SessionStateError, match="action « measure » impossible dans l'état"
                                                " « stopped »"):
        engine.add_measurement(spo2())
    assert engine.measurements() == []


def test_withdrawal_during_the_exam_stops_and_keeps_the_data(
    engine: SessionEngine, resident: Resident, store: Store
) -> None:
    engine.identify(resident)
    engine.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)
    engine.add_measurement(spo2(96.0))
    engine.withdraw_consent(ConsentCapacity.RESIDENT, note="souhaite arrêter")
    assert engine.state is SessionState.STOPPED
    assert [c.decision for c in engine.consents()] == [ConsentDecision.GIVEN,
                                                       ConsentDecision.WITHDRAWN]
    assert [m.value for m in engine.measurements()] == [96.0]
    assert SessionRecords(store).get(engine.id).stop_reason == "consent_withdrawn"
    with pytest.raises(SessionStateError):
        engine.finish_examination()


def test_nothing_happens_out_of_order(engine: SessionEngine, resident: Resident) -> None:
    with pytest.raises(SessionStateError):
        engine.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)
    with pytest.raises(SessionStateError):
        engine.add_measurement(spo2())
    with pytest.raises(SessionStateError, match="retiré qu'en cours d'acte"):
        engine.withdraw_consent(ConsentCapacity.RESIDENT)
    engine.identify(resident)
    with pytest.raises(SessionStateError):
        engine.identify(resident)
    with pytest.raises(SessionStateError):
        engine.mark_sent("mssante")


def test_consent_by_a_third_person_must_name_them(engine: SessionEngine,
                                                  resident: Resident) -> None:
    engine.identify(resident)
    with pytest.raises(ValidationError) as caught:
        engine.record_consent(ConsentDecision.GIVEN, ConsentCapacity.LEGAL_REPRESENTATIVE)
    assert caught.value.field == "consenting_person"
    assert engine.state is SessionState.CONSENT
    assert engine.consents() == []


def test_a_broken_listener_does_not_stop_the_session(engine: SessionEngine,
                                                     resident: Resident) -> None:
    def broken(event: SessionEvent) -> None:
        raise RuntimeError("view crashed")

    heard: list[str] = []
    engine.subscribe(broken)
    unsubscribe = engine.subscribe(lambda e: heard.append(e.type))
    engine.identify(resident)
    unsubscribe()
    engine.abandon("résident absent")
    assert heard == ["transition"]
    assert engine.state is SessionState.STOPPED


def test_a_session_resumes_after_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.sqlite3"
    with Store.open(path) as store:
        nurse = AccountDirectory(store).create("claire.m", "Claire", "long enough", "t")
        resident = ResidentRegistry(store).create(marie(), "claire.m")
        engine = SessionEngine.start(store, nurse, clock=clock)
        engine.identify(resident)
        engine.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)
        engine.add_measurement(spo2(95.0))
        session_id = engine.id
    with Store.open(path) as store:
        resumed = SessionEngine.resume(store, session_id, nurse, clock)
        assert resumed.state is SessionState.EXAMINE
        assert resumed.resident == resident
        resumed.add_measurement(spo2(96.0))
        assert [m.value for m in resumed.measurements()] == [95.0, 96.0]
        assert resumed.events()[-1].data["kind"] == "session_resumed"
