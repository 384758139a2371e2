"""Frame-rate measurement for benchmarks and diagnostics (what a consumer really gets).

Counts the distinct frames an asyncio consumer receives through
:meth:`Camera.next_frame`, i.e. the whole path: capture or rendering in the
worker thread, hand-over through the event loop, latest-frame dropping.
"""

from __future__ import annotations

import asyncio
import time

from devices.camera.source import Camera


async def measure_fps_async(camera: Camera, seconds: float) -> float:
    """Frames per second received by an asyncio consumer of a *running* ``camera``.

    Measured from the first frame received to the last one, over ``seconds``.
    """
    first = await camera.next_frame()
    started = last_at = time.perf_counter()
    deadline = started + seconds
    count, sequence = 0, first.sequence
    while last_at < deadline:
        async with asyncio.timeout(max(5.0, seconds)):
            frame = await camera.next_frame(after=sequence)
        sequence = frame.sequence
        count += 1
        last_at = time.perf_counter()
    return count / (last_at - started)


def measure_fps(camera: Camera, seconds: float) -> float:
    """:func:`measure_fps_async` for plain code: starts and stops ``camera`` if needed.

    Runs its own event loop, so call it where no loop is running (a benchmark
    script); inside asyncio, await :func:`measure_fps_async` instead.
    """
    started_here = not camera.running
    if started_here:
        camera.start()
    try:
        return asyncio.run(measure_fps_async(camera, seconds))
    finally:
        if started_here:
            camera.stop()
