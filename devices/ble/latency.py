"""How long a BLE reading takes from the simulated device to a measurement event.

:func:`measure_ble_latency` runs the real chain on the virtual link: a
simulated oximeter notifies PLX Continuous values; bumble carries the ATT
PDUs through two controllers; :class:`~devices.ble.health.BleHealthDevice`
decodes them and emits the events. Each latency is from just before the
simulator hands a notification to its radio to the moment the driver emits
the SpO2 measurement of it. For benchmarks (``bench/``), never for tests'
assertions: the numbers depend on the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from devices.ble.health import BleHealthDevice
from devices.ble.simulators import start_ble_simulator
from devices.ble.virtual_link import VirtualBleLink
from devices.codecs.ble_plx import CONTINUOUS_PROTOCOL
from devices.device import DeviceEvent, EventKind
from devices.errors import DeviceError
from devices.measurement import Kind

_ADDRESS = "F0:00:00:00:1A:7E"


async def measure_ble_latency(count: int = 2000, *, interval: float = 0.002) -> list[float]:
    """Latencies in seconds of ``count`` notifications sent every ``interval`` seconds.

    ``interval`` keeps one notification in flight at a time (bumble queues a
    burst without limit, which would measure the queue, not the link); the
    default 2 ms is 500 values/s, far above any real oximeter. Spot-checks
    are switched off so every sample is one notification. Raises DeviceError
    if the stream fails before ``count`` values arrived.
    """
    if count <= 0:
        raise ValueError(f"count must be positive, not {count}")
    emitted: list[float] = []
    enough = asyncio.Event()

    def on_event(event: DeviceEvent) -> None:
        measurement = event.measurement
        if event.kind is EventKind.MEASUREMENT and measurement is not None \
                and measurement.kind is Kind.SPO2 and event.detail == CONTINUOUS_PROTOCOL:
            emitted.append(time.perf_counter())
            if len(emitted) >= count:
                enough.set()

    async with VirtualBleLink() as link:
        simulator = await start_ble_simulator(
            link, "oximeter", _ADDRESS, periods={"continuous": interval, "spot-check": None},
            # Room for what is sent while the last values settle (devices.ble.screen):
            # an overflowing log would drop the first entries and pair values wrongly.
            advertising_interval_ms=1, log_size=2 * count + 64)
        device = BleHealthDevice(simulator.url, link.client(_ADDRESS), simulator.profile)
        streaming = asyncio.ensure_future(device.stream(on_event))
        waiting = asyncio.ensure_future(enough.wait())
        try:
            await asyncio.wait({streaming, waiting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
            streaming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await streaming  # a DeviceError from the stream surfaces here
            await simulator.stop()
    if len(emitted) < count:
        raise DeviceError(f"the BLE stream ended after {len(emitted)} of {count} values")
    # One task sends the channel in order and the link keeps order: the n-th value
    # sent is the n-th SpO2 emitted.
    sent = [entry.at for entry in simulator.sent if entry.channel == "continuous"]
    return [received - sent_at for sent_at, received in zip(sent, emitted[:count], strict=False)]
