"""A stalled event loop must not turn stethoscope sound into silence.

When the loop stalls (a busy machine), the input and the track are late
alike and the input delivers its held blocks in one burst: the track must
send every one of them as it catches up, not silence then a 3-block remnant
(measured at the doctor's ear before the fix: 30-60 % silence under load).
"""

from __future__ import annotations

import asyncio
import time

import numpy as np

from devices.audio import AudioBlock
from devices.audio.block import BLOCK_SECONDS
from station.call.tracks import StethoscopeTrack


def test_a_stall_delays_the_sound_but_loses_none_of_it() -> None:
    async def scenario() -> tuple[list[int], StethoscopeTrack]:
        track = StethoscopeTrack()
        loop = asyncio.get_running_loop()

        async def produce() -> None:  # a paced input, as the simulator and sound card are
            origin = loop.time()
            for index in range(1, 80):
                delay = origin + index * BLOCK_SECONDS - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                track.push(AudioBlock(np.full(960, index, dtype=np.int16), index))

        async def stall() -> None:
            await asyncio.sleep(0.4)
            time.sleep(0.3)  # the whole loop is blocked, producer and track alike

        tasks = [asyncio.create_task(produce()), asyncio.create_task(stall())]
        firsts = [int((await track.recv()).to_ndarray()[0, 0]) for _ in range(75)]
        await asyncio.gather(*tasks)
        track.stop()
        return firsts, track

    firsts, track = asyncio.run(asyncio.wait_for(scenario(), 30))
    sound = firsts[firsts.index(1):] if 1 in firsts else []
    assert sound == list(range(1, len(sound) + 1))  # every block, in order, no silence between
    assert len(sound) >= 70
    assert track.dropped == 0
