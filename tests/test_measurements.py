"""Measurements and waveforms go in and come back exactly."""

from __future__ import annotations

import math
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from devices.measurement import Kind, Measurement, Quality, WaveformChunk, display_unit
from station.store.database import Store
from station.store.measurements import MeasurementLog, from_microseconds, to_microseconds

SESSION = "s-1"


@pytest.fixture
def log(store: Store) -> MeasurementLog:
    store.conn.execute(
        "INSERT INTO sessions (id, act, nurse_login, state, created_at, updated_at)"
        " VALUES (?, 'teleconsultation', 'n', 'examine', 't', 't')", (SESSION,)
    )
    return MeasurementLog(store)


def test_a_measurement_round_trips(log: MeasurementLog) -> None:
    taken = datetime(2026, 11, 23, 9, 30, 15, 123456, tzinfo=UTC)
    original = Measurement(Kind.BODY_TEMPERATURE, 37.6, "Cel", taken, "ble://AA:BB",
                           frozenset({Quality.CLOCK_NOT_SET}), decimals=2)
    row_id = log.add(SESSION, original)
    assert row_id == 1
    assert log.for_session(SESSION) == [original]
    assert original.display_value() == "37.60"


def test_no_value_and_flags_survive(log: MeasurementLog) -> None:
    now = datetime.now(UTC)
    nothing = Measurement(Kind.SPO2, math.nan, "%", now, "serial:///dev/ttyUSB0",
                          frozenset({Quality.FINGER_OUT, Quality.SEARCHING}))
    implausible = Measurement(Kind.SPO2, 104.0, "%", now, "x",
                              frozenset({Quality.IMPLAUSIBLE}))
    log.add_many(SESSION, [nothing, implausible])
    back = log.for_session(SESSION)
    assert math.isnan(back[0].value) and not back[0].has_value
    assert back[0].quality == {Quality.FINGER_OUT, Quality.SEARCHING}
    assert back[0].display_value() == "—"
    assert back[1] == implausible


def test_a_burst_gets_contiguous_ids(log: MeasurementLog) -> None:
    now = datetime.now(UTC)
    burst = [Measurement(Kind.PULSE_RATE, float(60 + i), "/min", now + timedelta(seconds=i), "d")
             for i in range(100)]
    assert log.add(SESSION, burst[0]) == 1
    ids = log.add_many(SESSION, burst)
    assert ids == range(2, 102)
    assert log.count(SESSION) == 101 == log.count()
    assert [m.value for m in log.for_session(SESSION)[1:]] == [m.value for m in burst]
    assert log.add_many(SESSION, []) == range(0)


def test_waveforms_are_stored_in_chunks(log: MeasurementLog, store: Store) -> None:
    start = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    chunks = [WaveformChunk(Kind.PLETH, start + timedelta(seconds=i), 75.0,
                            tuple(float(x) for x in range(75)), "1", "d") for i in range(3)]
    for chunk in chunks:
        log.add_waveform(SESSION, chunk)
    assert store.conn.execute("SELECT count(*) FROM waveform_chunks").fetchone()[0] == 3
    assert log.waveforms(SESSION, Kind.PLETH) == chunks


def test_times_are_exact_microseconds() -> None:
    moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone(timedelta(hours=1)))
    assert from_microseconds(to_microseconds(moment)) == moment


def test_a_measurement_needs_an_aware_time() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        Measurement(Kind.SPO2, 97.0, "%", datetime(2026, 1, 1), "d")


def test_units_read_as_nurses_write_them() -> None:
    assert display_unit("Cel") == "°C"
    assert display_unit("mm[Hg]") == "mmHg"
    assert display_unit("%") == "%"


def test_a_measurement_for_an_unknown_session_is_refused(log: MeasurementLog) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        log.add("no-such-session", Measurement(Kind.SPO2, 97.0, "%", datetime.now(UTC), "d"))
    assert log.count() == 0


def test_measurements_after_an_id_come_in_order_with_their_ids(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "s.sqlite3")
    store.conn.execute("PRAGMA foreign_keys = OFF")  # measurements without a session row
    log = MeasurementLog(store)
    now = datetime.now(UTC)
    ids = log.add_many("s1", [Measurement(Kind.SPO2, v, "%", now, "d") for v in (90, 91, 92)])
    assert [(i, m.value) for i, m in log.after("s1", ids.start)] == [
        (ids.start + 1, 91), (ids.start + 2, 92)]
    assert log.after("s1", ids.stop) == []
    assert log.after("other", 0) == []
    store.close()
