"""Writes a stream of sessions, consents and measurements until it is killed.

Prints one acknowledgement line after each durable write returns:
``C <session>`` for a consent, ``M <id> <value>`` for a measurement. The
crash test kills this process with SIGKILL and checks every acknowledged
fact is in the store.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime

from devices.measurement import Kind, Measurement
from station.consent import ConsentCapacity, ConsentDecision
from station.identity import identity_from_input
from station.session import SessionEngine
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.residents import ResidentRegistry


def main(path: str) -> None:
    store = Store.open(path)
    nurse = AccountDirectory(store).create("crash.test", "Crash Test", "long enough", "test")
    resident = ResidentRegistry(store).create(identity_from_input(
        birth_name="Durand", birth_first_names="Paul", sex="M", birth_date="1940-01-03",
        birth_place_code="69123"), nurse.login)
    print("READY", flush=True)
    value = 0
    while True:
        session = SessionEngine.start(store, nurse)
        session.identify(resident)
        session.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)
        print(f"C {session.id}", flush=True)
        for _ in range(10):
            value += 1
            row_id = session.add_measurement(
                Measurement(Kind.PULSE_RATE, float(value), "/min", datetime.now(UTC), "crash"))
            print(f"M {row_id} {value}", flush=True)
        burst = []
        for _ in range(25):
            value += 1
            burst.append(Measurement(Kind.SPO2, float(value), "%", datetime.now(UTC), "crash"))
        ids = session.add_measurements(burst)
        for row_id, measurement in zip(ids, burst, strict=True):
            print(f"M {row_id} {measurement.value:g}", flush=True)
        session.finish_examination()


if __name__ == "__main__":
    main(sys.argv[1])
