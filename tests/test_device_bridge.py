"""Device events reach the session: stored during the exam, losses traced."""

from __future__ import annotations

import asyncio

from devices.device import DeviceEvent, EventKind
from devices.factory import Simulators, open_device
from devices.manager import Backoff, DeviceManager
from devices.measurement import Kind
from station.consent import ConsentCapacity, ConsentDecision
from station.device_bridge import DeviceSessionBridge
from station.people import NurseAccount
from station.session import SessionEngine
from station.store.database import Store
from station.store.residents import Resident


def test_simulated_oximeter_feeds_the_session(store: Store, nurse: NurseAccount,
                                              resident: Resident) -> None:
    session = SessionEngine.start(store, nurse)
    bridge = DeviceSessionBridge(session)

    async def scenario() -> None:
        simulators = Simulators(advertising_interval_ms=5.0)
        seen: list[DeviceEvent] = []
        try:
            manager = DeviceManager([await open_device("sim://oximeter-ble", simulators)],
                                    Backoff(initial=5.0, longest=5.0))
            bridge.attach(manager.subscribe)
            manager.subscribe(seen.append)
            manager.start()
            async with asyncio.timeout(30):
                while not any(e.kind is EventKind.MEASUREMENT for e in seen):
                    await asyncio.sleep(0.02)
                session.identify(resident)
                session.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)
                while len(session.measurements()) < 3:
                    await asyncio.sleep(0.02)
                await simulators.ble[0].peripheral.drop_link()
                while not any(e.type == "incident" for e in session.events()):
                    await asyncio.sleep(0.02)
            await manager.stop()
        finally:
            await simulators.close()

    asyncio.run(scenario())
    assert bridge.ignored_before_exam >= 1  # readings before consent are not part of the act
    kinds = {m.kind for m in session.measurements()}
    assert {Kind.SPO2, Kind.PULSE_RATE} <= kinds
    incident = next(e for e in session.events() if e.type == "incident")
    assert incident.data["kind"] == "device_lost"
    assert incident.data["detail"].startswith("sim://oximeter-ble: ")
