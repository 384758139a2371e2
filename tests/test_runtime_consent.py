"""Consent withdrawn during the call ends the media at once, and is recorded."""

from __future__ import annotations

import asyncio

import aiohttp

from station.call.events import CallState
from station.call.loopback import allow_loopback_candidates
from station.consent import ConsentCapacity, ConsentDecision
from station.people import NurseAccount
from station.runtime import StationRuntime
from station.session import SessionEngine, SessionState
from station.store.database import Store
from station.store.residents import Resident
from tests.call.doctor import Doctor, join_over_signaling, until

DEVICES = ("sim://oximeter-ble", "sim://stethoscope", "sim://room-camera", "sim://otoscope")


def test_withdrawal_during_the_call_ends_the_media(store: Store, nurse: NurseAccount,
                                                   resident: Resident) -> None:
    allow_loopback_candidates()
    session = SessionEngine.start(store, nurse)
    session.identify(resident)
    session.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)

    async def scenario() -> None:
        runtime = StationRuntime(store, device_urls=DEVICES, owns_store=False)
        doctor = Doctor()
        async with aiohttp.ClientSession() as http:
            try:
                await runtime.start(session)
                assert runtime.server is not None
                ws, answering = await join_over_signaling(runtime.invite(), http, doctor,
                                                            "Dr Anne Leroy", "gériatrie",
                                                            tls=runtime.server.client_tls)
                assert runtime.call is not None
                call = runtime.call
                await until(lambda: call.state == CallState.CONNECTED, "connected", 30)
                await until(lambda: sum(doctor.video_frames.values()) > 0, "video", 30)
                session.withdraw_consent(ConsentCapacity.RESIDENT, note="ne souhaite plus")
                await until(lambda: call.state == CallState.ENDED, "media ended", 10)
                await until(lambda: any(m.get("type") == "bye"
                                        for m in doctor.messages["ws"]), "bye", 10)
                answering.cancel()
                await ws.close()
            finally:
                await doctor.close()
                await runtime.stop()

    asyncio.run(asyncio.wait_for(scenario(), 120))
    assert session.state is SessionState.STOPPED
    assert session.consents()[-1].decision is ConsentDecision.WITHDRAWN
    transition = [e for e in session.events() if e.type == "transition"][-1]
    assert transition.data["state"] == "stopped" and transition.data["decision"] == "retire"
