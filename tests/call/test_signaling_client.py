"""SignalingClient against a stand-in signaling server that answers with a test doctor."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import WSMsgType, web

from devices.audio import SimulatedStethoscope
from devices.camera import open_camera
from station.call.events import CallState, StateChanged
from station.call.loopback import allow_loopback_candidates
from station.call.peer import StationCall
from station.call.signaling import SignalingClient
from station.call.tracks import CameraTrack, StethoscopeTrack
from tests.call.doctor import Doctor, until

KEY = "station-secret"
SESSION = "s-42"


class FakeServer:
    """Plays the server and the doctor's console: peer-joined, then answers every offer."""

    def __init__(self) -> None:
        self.doctors: list[Doctor] = []
        self.received: list[dict[str, Any]] = []
        self.refused = 0

    async def station(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        if request.headers.get("Authorization") != f"Bearer {KEY}" \
                or request.match_info["session"] != SESSION:
            self.refused += 1
            raise web.HTTPUnauthorized
        await ws.prepare(request)
        await ws.send_json({"type": "peer-joined", "role": "doctor"})
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            message = json.loads(frame.data)
            self.received.append(message)
            if message["type"] == "offer":
                doctor = Doctor()
                self.doctors.append(doctor)
                await ws.send_json({"type": "answer", "sdp": await doctor.answer(message["sdp"])})
        return ws


def test_offer_answer_and_automatic_reoffer_after_a_drop() -> None:
    async def scenario() -> None:
        allow_loopback_candidates()
        fake = FakeServer()
        app = web.Application()
        app.router.add_get("/ws/station/{session}", fake.station)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        room, exam = open_camera("sim://room"), open_camera("sim://dermatoscope")
        async with room, exam:
            stethoscope = await SimulatedStethoscope.open()
            call = StationCall({"room": CameraTrack(room), "exam": CameraTrack(exam),
                                "stethoscope": StethoscopeTrack(stethoscope)}, ice_servers=[])
            states: list[CallState] = []
            call.subscribe(lambda e: states.append(e.state) if isinstance(e, StateChanged)
                           else None)
            client = SignalingClient(f"http://127.0.0.1:{port}", SESSION, KEY, call)
            running = asyncio.create_task(client.run())
            try:
                await until(lambda: CallState.CONNECTED in states, "first connection")
                first = fake.doctors[0]
                await until(lambda: first.video_frames[1] > 5, "exam video at the doctor")
                await first.close()
                await until(lambda: CallState.RECONNECTING in states, "drop noticed")
                await until(lambda: len(fake.doctors) == 2, "a new offer was sent by itself")
                await until(lambda: states[-1] == CallState.CONNECTED, "connected again")
                second = fake.doctors[1]
                await until(lambda: second.video_frames[0] > 5 and second.audio_energy[3] > 0,
                            "media resumed")
                await client.close()
                await until(lambda: any(m["type"] == "bye" for m in fake.received), "bye sent")
            finally:
                await call.close()
                await client.close()
                running.cancel()
                for doctor in fake.doctors:
                    await doctor.close()
                await stethoscope.close()
                await runner.cleanup()

    asyncio.run(asyncio.wait_for(scenario(), 90))


def test_wrong_station_key_is_refused() -> None:
    async def scenario() -> None:
        fake = FakeServer()
        app = web.Application()
        app.router.add_get("/ws/station/{session}", fake.station)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        call = StationCall({}, ice_servers=[])
        client = SignalingClient(f"http://127.0.0.1:{port}", SESSION, "wrong", call)
        running = asyncio.create_task(client.run())
        try:
            await until(lambda: fake.refused >= 1, "server refused the key")
            assert call.state == CallState.NEW
        finally:
            await client.close()
            running.cancel()
            await call.close()
            await runner.cleanup()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_doctor_joined_is_handed_over_and_a_bad_handler_does_not_cut_signaling() -> None:
    """A standalone server tells the station who joined; the client passes it on."""
    async def scenario() -> None:
        async def station(request: web.Request) -> web.WebSocketResponse:
            ws = web.WebSocketResponse()
            await ws.prepare(request)
            for invitation in (1, 2):
                await ws.send_json({"type": "doctor-joined", "invitation": invitation,
                                    "name": "Dr A", "rpps": "10001234565",
                                    "specialty": "MG", "time": "2026-11-23T09:00:00+00:00"})
            await ws.send_json({"type": "error", "code": "x", "message": "after"})
            async for _ in ws:
                pass
            return ws

        app = web.Application()
        app.router.add_get("/ws/station/{session}", station)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        seen: list[dict[str, Any]] = []

        def on_joined(message: dict[str, Any]) -> None:
            seen.append(message)
            if message["invitation"] == 1:
                raise RuntimeError("store busy")

        call = StationCall({}, ice_servers=[])
        client = SignalingClient(f"http://127.0.0.1:{port}", SESSION, KEY, call,
                                 on_doctor_joined=on_joined)
        running = asyncio.create_task(client.run())
        try:
            await until(lambda: len(client.errors) == 1, "the message after")
            assert [m["invitation"] for m in seen] == [1, 2]
            assert seen[1]["rpps"] == "10001234565"
        finally:
            await client.close()
            running.cancel()
            await call.close()
            await runner.cleanup()

    asyncio.run(asyncio.wait_for(scenario(), 30))
