"""How long a new oximeter value takes from the wire to a device event, over a real pty.

:func:`measure_pty_latency` runs a :class:`SerialOximeterSimulator` and a
:class:`SerialOximeter` in this process (one monotonic clock for both), pins
the simulated pulse to a new value again and again, and times each change
from the write of the frame that completes the new value (the frame itself
on a CMS50D+, the last frame of its 25-frame packet on a Nonin) to the
driver emitting the pulse-rate Measurement. On a CMS50D+ this includes the
one frame (1/60 s) the reader waits for to confirm a value (see
:mod:`devices.serial.oximeter_reader`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time

from devices.codecs import nonin
from devices.device import DeviceEvent
from devices.errors import DeviceError
from devices.measurement import Kind
from devices.serial.oximeter import SerialOximeter, settings_for
from devices.serial.sim_vitals import SentFrame
from devices.serial.simulator import SerialOximeterSimulator

__all__ = ["measure_pty_latency"]

_VALUES = (70, 82)  # alternated, so every change is a new value


async def measure_pty_latency(count: int, protocol: str = "cms50d", *,
                              timeout: float = 5.0) -> list[float]:
    """Seconds from writing a new pulse value into the pty to its event, ``count`` times.

    Raises TimeoutError if a value does not arrive within ``timeout`` seconds.
    """
    sim = SerialOximeterSimulator(protocol, probe_off_every=0, corrupt_probability=0).start()
    arrivals: asyncio.Queue[tuple[float, float]] = asyncio.Queue()

    def emit(event: DeviceEvent) -> None:
        m = event.measurement
        if m is not None and m.kind is Kind.PULSE_RATE and m.has_value:
            arrivals.put_nowait((time.monotonic(), m.value))

    device = SerialOximeter("sim://latency", settings_for(protocol, sim.path), protocol)
    task = asyncio.create_task(device.stream(emit))
    try:
        await asyncio.wait_for(arrivals.get(), timeout)  # the stream is up
        latencies = []
        for i in range(count):
            target = _VALUES[i % 2]
            sim.set_vitals(pulse_rate=target)
            emitted = await asyncio.wait_for(_arrival_of(arrivals, target), timeout)
            latencies.append(emitted - _completing(sim.sent, target, protocol).time)
            # Wait 0-10 ms, no multiple of the frame period, so changes fall at every
            # phase of the writer's schedule rather than always at the same one.
            await asyncio.sleep((i * 7 % 11) / 1000)
        return latencies
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, DeviceError):
            await task
        sim.stop()


async def _arrival_of(arrivals: asyncio.Queue[tuple[float, float]], value: float) -> float:
    while True:
        at, got = await arrivals.get()
        if got == value:
            return at


def _completing(sent: list[SentFrame], value: int, protocol: str) -> SentFrame:
    """The frame that made ``value`` decodable, after the last change to it."""
    first = None
    for previous, frame in itertools.pairwise(sent):
        if frame.pulse_rate == value and previous.pulse_rate != value:
            first = frame
    if first is None:
        raise LookupError(f"the simulator never sent pulse {value}")
    if protocol != "nonin-2":
        return first
    last = first.index + nonin.PACKET_FRAMES - 1
    return next(frame for frame in sent if frame.index == last)
