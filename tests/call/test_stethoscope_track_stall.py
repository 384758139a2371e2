"""A stalled event loop must not turn into lasting stethoscope latency.

When the loop stalls (a busy machine), the input and the track are late
alike and the input delivers its held blocks in one burst. Sent late, that
burst is what the doctor's browser takes for network jitter: its jitter
buffer grows to the lateness it saw and keeps that delay for tens of seconds
(measured before this: 200-700 ms at the doctor's ear). So the track sends
the part of the burst still fresh, drops the stale part, and its timestamps
jump over the gap (the receiver conceals it); outside the stall every block
goes out, in order, as soon as it comes.
"""

from __future__ import annotations

import asyncio
import itertools
import time

import numpy as np

from devices.audio import AudioBlock
from devices.audio.block import BLOCK_SECONDS
from station.call.tracks import StethoscopeTrack


def test_a_stall_costs_a_gap_not_a_lasting_delay() -> None:
    async def scenario() -> tuple[list[tuple[int, int, float]], StethoscopeTrack]:
        track = StethoscopeTrack(max_age=0.04)
        loop = asyncio.get_running_loop()

        async def produce() -> None:  # a paced input, as the simulator and sound card are
            origin = loop.time()
            for index in range(1, 80):
                delay = origin + index * BLOCK_SECONDS - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                track.push(AudioBlock(np.full(960, index, dtype=np.int16), index - 1))

        async def stall() -> None:
            await asyncio.sleep(0.4)
            time.sleep(0.3)  # the whole loop is blocked, producer and track alike

        tasks = [asyncio.create_task(produce()), asyncio.create_task(stall())]
        sent: list[tuple[int, int, float]] = []  # first sample, pts, time sent
        while not sent or sent[-1][0] < 79:
            frame = await track.recv()
            sent.append((int(frame.to_ndarray()[0, 0]), int(frame.pts or 0), loop.time()))
        await asyncio.gather(*tasks)
        track.stop()
        return sent, track

    sent, track = asyncio.run(asyncio.wait_for(scenario(), 30))
    blocks = [first for first, _, _ in sent if first]
    assert blocks == sorted(blocks)  # in order
    missing = set(range(1, 80)) - set(blocks)
    assert 8 <= len(missing) <= 16, missing  # the stale part of 300 ms (15 blocks), no more
    assert track.dropped == len(missing)
    # The timeline keeps the input's: pts advance 960 per block, gaps included.
    frames = [(first, pts) for first, pts, _ in sent if first]
    assert all(b[1] - a[1] == (b[0] - a[0]) * 960 for a, b in itertools.pairwise(frames))
    # After the stall the track is back on time: the last block goes out as it comes.
    assert sent[-1][2] - sent[-2][2] >= 0.5 * BLOCK_SECONDS
