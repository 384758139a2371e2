"""Switching exam camera continues the stream's timeline: the track swapped in on the
``exam`` sender gives a pts after the one it replaces (libvpx refuses a pts that goes
back, and aiortc's sender then stops, freezing the exam video for good)."""

from __future__ import annotations

import asyncio

from aiortc.codecs.vpx import Vp8Encoder
from av import VideoFrame

from devices.camera import open_camera
from station.call.tracks import CameraTrack


def test_a_camera_switched_in_later_continues_the_timeline_and_encodes() -> None:
    async def scenario() -> None:
        otoscope, dermatoscope = open_camera("sim://otoscope"), open_camera("sim://dermatoscope")
        async with otoscope, dermatoscope:
            first = CameraTrack(otoscope, 320, 180)
            frames: list[VideoFrame] = [await first.recv() for _ in range(10)]
            await asyncio.sleep(0.5)  # the nurse looks, then switches camera
            second = CameraTrack(dermatoscope, 320, 180)  # its first frame is now
            frames += [await second.recv() for _ in range(3)]
            pts = [frame.pts for frame in frames]
            assert pts == sorted(set(pts)), pts
            assert pts[10] - pts[9] > 0.3 * 90_000
            encoder = Vp8Encoder()  # one encoder, as the exam sender has
            for frame in frames:
                payloads, _timestamp = encoder.encode(frame)
                assert payloads
            first.stop()
            second.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))
