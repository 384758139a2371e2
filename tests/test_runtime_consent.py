"""Consent withdrawn during the call ends the media at once, and is recorded."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from station.call.events import CallState
from station.call.loopback import allow_loopback_candidates
from station.consent import ConsentCapacity, ConsentDecision
from station.people import NurseAccount
from station.runtime import StationRuntime
from station.session import SessionEngine, SessionState
from station.store.database import Store
from station.store.residents import Resident
from tests.call.doctor import Doctor, until

DEVICES = ("sim://oximeter-ble", "sim://stethoscope", "sim://room-camera", "sim://otoscope")


async def _doctor_joins(url: str, http: aiohttp.ClientSession, doctor: Doctor) -> Any:
    base, token = url.rsplit("/join/", 1)
    async with http.post(f"{base}/api/join/{token}", headers={"Origin": base},
                         json={"name": "Dr Anne Leroy", "rpps": "10001234565",
                               "specialty": "gériatrie"}) as response:
        assert response.status == 200, await response.text()
        ticket = (await response.json())["ticket"]
    ws = await http.ws_connect(f"{base}/ws/doctor?ticket={ticket}", origin=base)

    async def answer_offers() -> None:
        async for message in ws:
            data = message.json()
            if data["type"] == "offer":
                await ws.send_json({"type": "answer", "sdp": await doctor.answer(data["sdp"])})
            doctor.messages["ws"].append(data)

    return ws, asyncio.create_task(answer_offers())


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
                ws, answering = await _doctor_joins(runtime.invite(), http, doctor)
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
