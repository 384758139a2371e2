"""A station process that validates a session's report and sends it, until killed.

``python -m tests.faults.report_child STORE PORT``: prints ``READY <session>``
once the examination is finished, ``VALIDATED <report> <seconds>`` once the
version is rendered and stored, ``QUEUED`` once the first sending pass is
done, then idles (the test kills it somewhere along the way).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from datetime import UTC, datetime

from devices.measurement import Kind, Measurement
from station.consent import ConsentCapacity, ConsentDecision
from station.demo import DEMO_DOCTOR
from station.outbox import Outbox
from station.report.sending import send_report
from station.report.service import ReportService
from station.session import SessionEngine
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.residents import ResidentRegistry
from tests.conftest import marie
from tests.outbox.conftest import RECIPIENTS, smtp_config


def main(path: str, port: int, stop_after_validation: bool = False) -> None:
    store = Store.open(path)
    nurse = AccountDirectory(store).create("claire.m", "Claire Martin", "correct horse", "test")
    session = SessionEngine.start(store, nurse)
    session.identify(ResidentRegistry(store).create(marie(), nurse.login))
    session.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)
    for value in (97, 96, 98):
        session.add_measurement(Measurement(Kind.SPO2, value, "%", datetime.now(UTC), "sim"))
    session.finish_examination("constantes normales")
    print("READY", session.id, flush=True)
    started = time.monotonic()
    version = ReportService(store, station_name="EHPAD Les Tilleuls").validate(
        session.id, DEMO_DOCTOR, "Pas d'anomalie.", "Aucune.", actor="rpps:10001234565")
    print("VALIDATED", version.id, f"{time.monotonic() - started:.3f}", flush=True)
    if stop_after_validation:  # dies exactly between validating and queuing
        os._exit(0)
    config = smtp_config(port)
    asyncio.run(send_report(Outbox(store, config), config, version, session.act.value,
                            "03/12/2026", list(RECIPIENTS), actor=nurse.login))
    print("QUEUED", flush=True)
    time.sleep(60)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), sys.argv[3:] == ["stop-after-validation"])
