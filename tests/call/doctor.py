"""A test double of the doctor's console: a plain aiortc peer that answers the station."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCPeerConnection,
    RTCSessionDescription,
)
from aiortc.mediastreams import MediaStreamError

from devices.audio import SimulatedStethoscope
from devices.camera import open_camera
from station.call.events import CallState, StateChanged
from station.call.link import LinkPolicy
from station.call.loopback import allow_loopback_candidates
from station.call.messages import SnapshotAssembler, snapshot_ack_message
from station.call.peer import StationCall
from station.call.tracks import CameraTrack, StethoscopeTrack
from station.signaling.tls import ClientTls


class Doctor:
    """Answers offers, counts decoded media per stream, records data-channel traffic."""

    def __init__(self, *, heartbeat: bool = True, voice: MediaStreamTrack | None = None) -> None:
        # max-bundle, like a browser: aiortc's "balanced" breaks a second audio m-line.
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[],
                                                     bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self.heartbeat = heartbeat
        self.voice = voice  # what the doctor's microphone sends, if anything
        self.loss = 0.0  # share of the station's RTP packets this doctor's network loses
        self._rng = random.Random(7)
        self.video_frames: dict[int, int] = defaultdict(int)  # by transceiver index
        self.video_sizes: dict[int, tuple[int, int]] = {}
        self.audio_energy: dict[int, float] = defaultdict(float)
        self.messages: dict[str, list[Any]] = defaultdict(list)
        self.channels: dict[str, Any] = {}
        self.snapshots = SnapshotAssembler()
        self.received_snapshots: list[Any] = []
        self.ack_snapshots = True  # False plays a console that never acknowledges chunks
        self.tasks: list[asyncio.Task[None]] = []
        self.pc.on("track", self._on_track)
        self.pc.on("datachannel", self._on_channel)

    async def answer(self, offer_sdp: str) -> str:
        """Take the station's offer, return the answer SDP (candidates gathered)."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer_sdp, type="offer"))
        if self.voice is not None:  # the third m-line, ``voice``, is the only sendrecv one
            transceiver = self.pc.getTransceivers()[2]
            transceiver.direction = "sendrecv"  # as a browser's addTrack does
            transceiver.sender.replaceTrack(self.voice)
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        self._lose_packets(self.pc.getTransceivers()[0].receiver.transport)
        return str(self.pc.localDescription.sdp)

    def _lose_packets(self, transport: Any) -> None:
        """Drop ``loss`` of the incoming RTP before the receivers see it, like a poor link:
        the receivers' own RTCP reports then tell the station about it."""
        deliver = transport._handle_rtp_data

        async def lossy(data: bytes, arrival_time_ms: int) -> None:
            if self.loss and self._rng.random() < self.loss:
                return
            await deliver(data, arrival_time_ms)

        transport._handle_rtp_data = lossy

    def _index(self, track: MediaStreamTrack) -> int:
        for index, transceiver in enumerate(self.pc.getTransceivers()):
            if transceiver.receiver.track is track:
                return index
        return -1

    def _on_track(self, track: MediaStreamTrack) -> None:
        self.tasks.append(asyncio.ensure_future(self._consume(self._index(track), track)))

    async def _consume(self, index: int, track: MediaStreamTrack) -> None:
        try:
            while True:
                frame = await track.recv()
                if track.kind == "video":
                    self.video_frames[index] += 1
                    self.video_sizes[index] = (frame.width, frame.height)
                else:
                    samples = frame.to_ndarray().astype(np.float64) / 32768.0
                    self.audio_energy[index] += float(np.sum(samples * samples))
        except MediaStreamError:
            return

    def _on_channel(self, channel: Any) -> None:
        self.channels[channel.label] = channel

        @channel.on("message")
        def on_message(message: str | bytes) -> None:
            if channel.label == "snapshots":
                snapshot = self.snapshots.feed(message)
                if snapshot is not None:
                    self.received_snapshots.append(snapshot)
                elif isinstance(message, bytes) and self.ack_snapshots:
                    # As the console does: the station paces stills on these.
                    channel.send(json.dumps(snapshot_ack_message(
                        self.snapshots.current_id or "", self.snapshots.received)))
                return
            parsed = json.loads(message)
            self.messages[channel.label].append(parsed)
            if channel.label == "control" and parsed["type"] == "heartbeat" and self.heartbeat:
                seen = [m["id"] for m in self.messages["vitals"] if m.get("id") is not None]
                channel.send(json.dumps({"type": "heartbeat", "seq": parsed["seq"],
                                         "vitals": max(seen, default=0)}))

    def send(self, label: str, message: dict[str, Any]) -> None:
        """Send JSON on one of the station's channels."""
        self.channels[label].send(json.dumps(message))

    async def close(self) -> None:
        """Hang up abruptly (no bye, no end): the station must notice by itself."""
        for task in self.tasks:
            task.cancel()
        await self.pc.close()


async def until(predicate: Callable[[], bool], what: str, timeout: float = 15.0) -> None:
    """Wait for a condition on test counters; the timeout only turns a hang into a failure."""
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.05)
    assert predicate(), what


@dataclass
class LoopbackCall:
    """A station call with simulated cameras and stethoscope, answered by a :class:`Doctor`."""

    call: StationCall
    doctor: Doctor
    states: list[StateChanged] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)

    async def wait_state(self, state: CallState, timeout: float) -> StateChanged:
        """The first announcement of ``state`` (already seen or coming), observed, not polled."""
        for seen in self.states:
            if seen.state == state:
                return seen
        arrived: asyncio.Future[StateChanged] = asyncio.get_running_loop().create_future()

        def listener(event: object) -> None:
            if isinstance(event, StateChanged) and event.state == state and not arrived.done():
                arrived.set_result(event)

        unsubscribe = self.call.subscribe(listener)
        try:
            return await asyncio.wait_for(arrived, timeout)
        finally:
            unsubscribe()


@contextlib.asynccontextmanager
async def loopback_call(context: dict[str, Any] | None = None,
                        link_policy: LinkPolicy | None = None,
                        link_interval: float = 2.0,
                        adapt_video: bool = True) -> AsyncIterator[LoopbackCall]:
    """Room + otoscope simulators and a simulated stethoscope, connected to a doctor."""
    allow_loopback_candidates()
    room, exam = open_camera("sim://room"), open_camera("sim://otoscope")
    async with room, exam:
        stethoscope = await SimulatedStethoscope.open()
        sources = {"room": CameraTrack(room), "exam": CameraTrack(exam),
                   "stethoscope": StethoscopeTrack(stethoscope)}
        call = StationCall(sources, ice_servers=[], context=context, link_policy=link_policy,
                           link_interval=link_interval, adapt_video=adapt_video)
        loop_call = LoopbackCall(call, Doctor())
        call.subscribe(loop_call.events.append)
        call.subscribe(lambda e: loop_call.states.append(e) if isinstance(e, StateChanged)
                       else None)
        try:
            await call.accept_answer(await loop_call.doctor.answer(await call.create_offer()))
            await loop_call.wait_state(CallState.CONNECTED, 15)
            yield loop_call
        finally:
            await call.close()
            await loop_call.doctor.close()
            await stethoscope.close()
            for track in sources.values():
                track.stop()


async def join_over_signaling(link: str, http: Any, doctor: Doctor,
                              name: str = "Dr Élise Moreau",
                              specialty: str = "médecine générale",
                              tls: ClientTls | None = None) -> Any:
    """The doctor's join form and signaling socket (a real server, over TLS verified
    with ``tls``, or the session's own settings), answering the station's offers;
    returns the socket and the task answering."""
    base, token = link.rsplit("/join/", 1)
    options = tls.options() if tls is not None else {}
    async with http.post(f"{base}/api/join/{token}", headers={"Origin": base},
                         json={"name": name, "rpps": "10001234565",
                               "specialty": specialty}, **options) as response:
        assert response.status == 200, await response.text()
        ticket = (await response.json())["ticket"]
    ws = await http.ws_connect(f"{base}/ws/doctor?ticket={ticket}", origin=base, **options)

    async def answer_offers() -> None:
        async for message in ws:
            data = message.json()
            if data["type"] == "offer":
                await ws.send_json({"type": "answer", "sdp": await doctor.answer(data["sdp"])})
            doctor.messages["ws"].append(data)

    return ws, asyncio.create_task(answer_offers())
