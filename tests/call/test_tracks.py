"""Tracks alone: newest frame only, scaled video, bounded audio queue, paced timestamps."""

from __future__ import annotations

import asyncio

import numpy as np

from devices.audio.block import AudioBlock
from devices.camera import open_camera
from station.call.tracks import VIDEO_TIME_BASE, CameraTrack, StethoscopeTrack


def test_camera_track_scales_and_never_goes_back_in_time() -> None:
    async def scenario() -> None:
        camera = open_camera("sim://otoscope")
        async with camera:
            track = CameraTrack(camera)
            frames = [await track.recv() for _ in range(5)]
            await asyncio.sleep(0.5)  # the camera runs on while nobody reads
            late = await track.recv()
            assert all((f.width, f.height) == (1280, 720) for f in [*frames, late])
            assert all(f.time_base == VIDEO_TIME_BASE for f in frames)
            pts = [f.pts for f in [*frames, late]]
            assert pts == sorted(set(pts))
            # The frame after a pause is the newest one, not the next in a backlog.
            assert late.pts - frames[-1].pts > 0.3 * 90_000
            track.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))


def test_stethoscope_queue_is_bounded_drops_oldest_and_fills_gaps_with_silence() -> None:
    async def scenario() -> None:
        track = StethoscopeTrack(capacity=3)
        for index in range(10):
            track.push(AudioBlock(np.full(960, index, dtype=np.int16), index))
        assert track.dropped == 7
        frames = [await track.recv() for _ in range(5)]
        firsts = [int(frame.to_ndarray()[0, 0]) for frame in frames]
        assert firsts == [7, 8, 9, 0, 0]  # the newest three, then silence, never a backlog
        assert [frame.pts for frame in frames] == [0, 960, 1920, 2880, 3840]
        assert all(frame.sample_rate == 48_000 and frame.samples == 960 for frame in frames)
        assert track.silent_frames == 2
        track.stop()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_float_blocks_become_int16() -> None:
    async def scenario() -> None:
        track = StethoscopeTrack()
        track.push(AudioBlock(np.full(960, 0.5, dtype=np.float32), 0))
        frame = await track.recv()
        assert frame.format.name == "s16"
        assert int(frame.to_ndarray()[0, 0]) == 16384
        track.stop()

    asyncio.run(asyncio.wait_for(scenario(), 10))
