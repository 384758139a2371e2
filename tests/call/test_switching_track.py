"""The video senders' switching track: a source change never leaves the sender stuck."""

from __future__ import annotations

import asyncio
import fractions

import pytest
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import VideoFrame

from station.call.tracks import SwitchingVideoTrack


class Camera(MediaStreamTrack):
    """A video source handing out frames only when told (``give``), or ending."""

    kind = "video"

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name
        self._frames: asyncio.Queue[VideoFrame | None] = asyncio.Queue()

    def give(self, pts: int) -> None:
        frame = VideoFrame(width=16, height=16)
        frame.pts, frame.time_base = pts, fractions.Fraction(1, 90000)
        self._frames.put_nowait(frame)

    def end(self) -> None:
        self._frames.put_nowait(None)

    async def recv(self) -> VideoFrame:
        frame = await self._frames.get()
        if frame is None:
            self.stop()
            raise MediaStreamError
        return frame


def run(body):  # type: ignore[no-untyped-def]
    asyncio.run(asyncio.wait_for(body(), 5))


def test_a_pending_read_moves_to_the_new_source() -> None:
    async def body() -> None:
        otoscope, dermatoscope = Camera("otoscope"), Camera("dermatoscope")
        track = SwitchingVideoTrack(otoscope)
        pending = asyncio.ensure_future(track.recv())
        await asyncio.sleep(0.01)  # the sender awaits the otoscope, which gives nothing
        track.switch(dermatoscope)
        dermatoscope.give(42)
        frame = await pending
        assert frame.pts == 42
        assert otoscope.readyState == "ended"  # the old source is let go
    run(body)


def test_a_source_that_ends_makes_the_sender_wait_not_stop() -> None:
    async def body() -> None:
        room = Camera("room")
        track = SwitchingVideoTrack(room)
        pending = asyncio.ensure_future(track.recv())
        room.end()
        await asyncio.sleep(0.01)
        assert not pending.done()  # no MediaStreamError: aiortc's sender would stop for good
        again = Camera("room again")
        track.switch(again)
        again.give(7)
        assert (await pending).pts == 7
    run(body)


def test_no_source_waits_and_a_stop_ends_the_read() -> None:
    async def body() -> None:
        track = SwitchingVideoTrack(None)
        pending = asyncio.ensure_future(track.recv())
        await asyncio.sleep(0.01)
        assert not pending.done()  # video stopped: nothing to send
        camera = Camera("room")
        track.switch(camera)
        camera.give(1)
        assert (await pending).pts == 1
        later = asyncio.ensure_future(track.recv())
        await asyncio.sleep(0.01)
        track.stop()
        with pytest.raises(MediaStreamError):
            await later
        assert camera.readyState == "ended"
    run(body)
