"""A whole call over loopback: the station offers, an aiortc peer plays the doctor.

Timeouts only turn hangs into failures; nothing here asserts speed, except
the contract's 5 s for noticing a dropped connection.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import pytest

from devices.measurement import Kind, Measurement, Quality
from station.call.events import CallState, ControlReceived, ReportDraftReceived
from station.call.opus import StethoscopeOpusEncoder, sender_encoder
from station.call.peer import STREAMS
from tests.call.doctor import Doctor, LoopbackCall, loopback_call, until

CONTEXT = {"resident": {"name": "Mme Jeanne D.", "age": 94, "sex": "F"}, "nurse": "Paul",
           "station": "EHPAD Les Tilleuls", "history": [], "reports": []}
DETECTION_LIMIT = 5.0  # the contract: a dropped connection is noticed within 5 s


def run(scenario: Callable[[], Awaitable[None]], timeout: float = 90.0) -> None:
    """Run one async scenario with an overall timeout."""
    asyncio.run(asyncio.wait_for(scenario(), timeout))


async def media_rises(loop_call: LoopbackCall, doctor: Doctor | None = None) -> None:
    """Both videos decode more frames and the stethoscope carries energy."""
    doctor = doctor or loop_call.doctor
    before = [doctor.video_frames[0], doctor.video_frames[1]]
    energy = doctor.audio_energy[3]
    await until(lambda: doctor.video_frames[0] > before[0] + 5
                and doctor.video_frames[1] > before[1] + 5, "video frames rise on both tracks")
    await until(lambda: doctor.audio_energy[3] > energy, "stethoscope sound arrives")


def test_media_tracks_in_contract_order_with_1280x720_video() -> None:
    async def scenario() -> None:
        async with loopback_call() as loop_call:
            doctor = loop_call.doctor
            await media_rises(loop_call)
            # The call opens small and goes straight to 1280x720 once the first receiver
            # reports show a fast, clean link (station/call/adapt.py).
            await until(lambda: doctor.video_sizes == {0: (1280, 720), 1: (1280, 720)},
                        "both videos at 1280x720")
            kinds = [t.kind for t in doctor.pc.getTransceivers()]
            assert kinds == ["video", "video", "audio", "audio"]
            offer = doctor.pc.remoteDescription.sdp
            msids = [line.split()[0].split(":")[1] for line in offer.splitlines()
                     if line.startswith("a=msid:")]
            assert msids == list(STREAMS)
            sender = loop_call.call.sender("stethoscope")
            assert sender is not None
            assert isinstance(sender_encoder(sender), StethoscopeOpusEncoder)  # still ours, in use

    run(scenario)


def test_vitals_snapshot_and_report_channels() -> None:
    async def scenario() -> None:
        async with loopback_call(context=CONTEXT) as loop_call:
            call, doctor = loop_call.call, loop_call.doctor
            await until(lambda: {"vitals", "snapshots", "report", "control"} <= set(
                doctor.channels), "channels open at the doctor")
            await until(lambda: any(m["type"] == "context" for m in doctor.messages["vitals"]),
                        "context sent on open")
            measured = Measurement(Kind.SPO2, 96.0, "%", datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
                                   "ble://oximeter", frozenset({Quality.LOW_PERFUSION}), 0)
            call.send_measurement(measured)
            await until(lambda: any(m["type"] == "measurement" for m in doctor.messages["vitals"]),
                        "measurement arrives")
            received = next(m for m in doctor.messages["vitals"] if m["type"] == "measurement")
            assert received == {"type": "measurement", "kind": "spo2", "value": 96.0, "unit": "%",
                                "decimals": 0, "time": "2026-11-23T09:30:00+00:00",
                                "device": "ble://oximeter", "quality": ["low_perfusion"]}
            assert {"type": "call-state", "state": "connected", "audio_only": False} in \
                doctor.messages["vitals"]

            png = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 300  # 76 KiB: several chunks
            await call.send_snapshot(png, {"name": "tympan.png", "exam": "otoscope",
                                           "width": 1920, "height": 1080})
            await until(lambda: bool(doctor.received_snapshots), "snapshot arrives")
            snapshot = doctor.received_snapshots[0]
            assert snapshot.intact and snapshot.data == png
            assert snapshot.header["sha256"] == hashlib.sha256(png).hexdigest()

            call.send_report_draft({"conclusion": "Otite séreuse droite"})
            await until(lambda: bool(doctor.messages["report"]), "nurse draft arrives")
            assert doctor.messages["report"][0]["fields"]["conclusion"] == "Otite séreuse droite"
            doctor.send("report", {"type": "report-draft", "revision": 2, "author": "doctor",
                                   "fields": {"conclusion": "Otite séreuse droite, contrôle J10"}})
            await until(lambda: any(isinstance(e, ReportDraftReceived) for e in loop_call.events),
                        "doctor draft announced")
            assert [r["revision"] for r in call.report_revisions] == [1, 2]

    run(scenario)


def test_a_still_is_paced_on_acknowledgements_and_survives_a_silent_receiver(
        caplog: pytest.LogCaptureFixture) -> None:
    """The doctor acknowledges each piece (as the console does): the transfer is paced
    and its round trips learnt. A receiver that never acknowledges still gets the whole
    file, unpaced after the station gives up waiting."""
    caplog.set_level(logging.INFO, logger="station.call.peer")

    async def scenario() -> None:
        async with loopback_call() as loop_call:
            call, doctor = loop_call.call, loop_call.doctor
            await until(lambda: "snapshots" in doctor.channels, "snapshots channel open")
            png = bytes(random.Random(3).randbytes(600_000))
            await call.send_snapshot(png, {"name": "peau.png", "exam": "dermatoscope"})
            await until(lambda: len(doctor.received_snapshots) == 1, "paced still arrives")
            assert doctor.received_snapshots[0].data == png
            assert call._bulk_base_rtt is not None  # acknowledgements gave round trips
            sent = [r.getMessage() for r in caplog.records if "snapshot sent" in r.getMessage()]
            assert sent and "unpaced" not in sent[-1]

            doctor.ack_snapshots = False
            await call.send_snapshot(png[::-1], {"name": "peau2.png", "exam": "dermatoscope"})
            await until(lambda: len(doctor.received_snapshots) == 2, "unpaced still arrives")
            assert doctor.received_snapshots[1].data == png[::-1]
            assert doctor.received_snapshots[1].intact
            assert any("does not acknowledge" in r.getMessage() for r in caplog.records)

    run(scenario)


def test_audio_only_from_the_doctor_stops_video_keeps_sound() -> None:
    async def scenario() -> None:
        async with loopback_call() as loop_call:
            call, doctor = loop_call.call, loop_call.doctor
            await media_rises(loop_call)
            await until(lambda: "control" in doctor.channels, "control open")
            doctor.send("control", {"type": "audio-only", "on": True})
            await until(lambda: call.audio_only, "audio-only applied")
            assert any(isinstance(e, ControlReceived) for e in loop_call.events)
            assert call.sender("room") is not None and call.sender("room").track is None
            await asyncio.sleep(0.5)  # frames already in flight
            frozen = doctor.video_frames[0]
            energy = doctor.audio_energy[3]
            await until(lambda: doctor.audio_energy[3] > energy + 1e-6, "sound goes on")
            await asyncio.sleep(1.0)
            assert doctor.video_frames[0] <= frozen + 1
            await until(lambda: {"type": "call-state", "state": "connected", "audio_only": True}
                        in doctor.messages["vitals"], "audio-only announced")
            doctor.send("control", {"type": "audio-only", "on": False})
            await media_rises(loop_call)

    run(scenario)


def test_closed_doctor_detected_then_reconnect_resumes_media() -> None:
    async def scenario() -> None:
        async with loopback_call() as loop_call:
            call = loop_call.call
            await media_rises(loop_call)
            await loop_call.doctor.close()
            await loop_call.wait_state(CallState.RECONNECTING, DETECTION_LIMIT)
            second = Doctor()
            try:
                await call.accept_answer(await second.answer(await call.reconnect()))
                connected = loop_call.states[-1]
                if connected.state != CallState.CONNECTED:
                    loop_call.states.clear()
                    await loop_call.wait_state(CallState.CONNECTED, 15)
                await media_rises(loop_call, second)
            finally:
                await second.close()

    run(scenario)


def test_silent_doctor_detected_by_missing_heartbeats() -> None:
    async def scenario() -> None:
        async with loopback_call() as loop_call:
            doctor = loop_call.doctor
            await until(lambda: any(m["type"] == "heartbeat" for m in doctor.messages["control"]),
                        "heartbeats flow")
            await asyncio.sleep(1.5)  # the station has heard the doctor's replies
            doctor.heartbeat = False  # the console freezes: transport up, nobody answering
            await loop_call.wait_state(CallState.RECONNECTING, DETECTION_LIMIT)
            assert "heartbeat" in loop_call.states[-1].reason

    run(scenario)


def test_measurements_taken_during_a_cut_arrive_after_it_in_order() -> None:
    """The doctor acknowledges measurements in his heartbeats; a new connection
    replays, from the store, what he never acknowledged."""
    stored: list[tuple[int, Measurement]] = []

    def measure(value: float) -> tuple[int, Measurement]:
        m = Measurement(Kind.SPO2, value, "%", datetime.now(UTC), "sim://oximeter-ble")
        stored.append((len(stored) + 1, m))
        return stored[-1]

    async def scenario() -> None:
        async with loopback_call() as loop_call:
            call, doctor = loop_call.call, loop_call.doctor
            call.missed_measurements = lambda after: [(i, m) for i, m in stored if i > after]
            await until(lambda: "vitals" in doctor.channels, "vitals open")
            for value in (95, 96, 97):
                measurement_id, m = measure(value)
                call.send_measurement(m, None, measurement_id)
            await asyncio.sleep(2.5)  # two heartbeats acknowledge them
            await doctor.close()
            await loop_call.wait_state(CallState.RECONNECTING, DETECTION_LIMIT)
            for value in (91, 92, 93, 94):  # taken while nobody listens
                measurement_id, m = measure(value)
                call.send_measurement(m, None, measurement_id)
            second = Doctor()
            try:
                await call.accept_answer(await second.answer(await call.reconnect()))
                await until(lambda: len([m for m in second.messages["vitals"]
                                         if m["type"] == "measurement"]) >= 4,
                            "the missed measurements arrive")
                ids = [m["id"] for m in second.messages["vitals"] if m["type"] == "measurement"]
                assert ids == [4, 5, 6, 7]  # in order, none of the acknowledged ones again
                values = [m["value"] for m in second.messages["vitals"]
                          if m["type"] == "measurement"]
                assert values == [91, 92, 93, 94]
            finally:
                await second.close()

    run(scenario)
