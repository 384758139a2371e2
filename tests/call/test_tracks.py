"""Tracks alone: newest frame only, scaled video, bounded audio queue, paced timestamps."""

from __future__ import annotations

import asyncio
import time

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


def test_stale_blocks_are_dropped_and_the_timeline_jumps_over_them() -> None:
    async def scenario() -> None:
        track = StethoscopeTrack(max_age=0.05, idle=0.1)
        for index in range(10):  # a burst after a stall: blocks 0-9 all arrive now
            track.push(AudioBlock(np.full(960, index, dtype=np.int16), index))
        frames = [await track.recv() for _ in range(3)]
        # Block 9 was captured now, 8 20 ms ago, 7 40 ms ago: the older ones are stale.
        assert [int(frame.to_ndarray()[0, 0]) for frame in frames] == [7, 8, 9]
        assert track.dropped == 7
        assert [frame.pts for frame in frames] == [0, 960, 1920]
        silence = await track.recv()  # nothing more for 0.1 s: silence, after the gap
        assert int(np.abs(silence.to_ndarray()).max()) == 0
        assert (silence.pts or 0) >= 1920 + 4 * 960  # the timeline went on through the gap
        assert track.silent_frames == 1
        track.push(AudioBlock(np.full(960, 15, dtype=np.int16), 15))  # the input is back
        back = await track.recv()
        assert int(back.to_ndarray()[0, 0]) == 15 and (back.pts or 0) > (silence.pts or 0)
        assert all(f.sample_rate == 48_000 and f.samples == 960 for f in [*frames, back])
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


def test_a_track_with_no_input_sends_silence_every_20_ms() -> None:
    async def scenario() -> None:
        track = StethoscopeTrack()
        frames = [await asyncio.wait_for(track.recv(), 1.0) for _ in range(3)]
        assert [frame.pts for frame in frames] == [0, 960, 1920]
        assert track.silent_frames == 3
        track.stop()

    asyncio.run(asyncio.wait_for(scenario(), 10))


def test_silence_keeps_its_timeline_through_late_wake_ups() -> None:
    """A loop that other work blocks for 16 ms at a time (a busy machine) wakes the
    track up to 16 ms late: that must not open gaps in the silence, which the receiver
    would count as concealed. Pacing from the previous frame rounded 31-36 ms to two
    frames; the silence run's own 20 ms grid absorbs any lateness under a frame."""
    async def scenario() -> list[int]:
        track = StethoscopeTrack()
        running = True

        async def busy_neighbour() -> None:
            while running:
                await asyncio.sleep(0.013)
                time.sleep(0.016)  # blocks the loop, as a slow callback does

        neighbour = asyncio.create_task(busy_neighbour())
        steps, previous = [], None
        for _ in range(60):
            frame = await asyncio.wait_for(track.recv(), 1.0)
            if previous is not None:
                steps.append(frame.pts - previous)
            previous = frame.pts
        running = False
        await neighbour
        track.stop()
        return steps

    steps = asyncio.run(asyncio.wait_for(scenario(), 10))
    gaps = sum(step // 960 - 1 for step in steps)
    assert gaps <= 2, steps  # only a stall of a whole frame (the machine's own) may show
