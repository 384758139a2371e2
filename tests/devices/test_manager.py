"""The device manager over real simulators: connect, measure, lose, reconnect."""

from __future__ import annotations

import asyncio

import pytest

from devices.device import DeviceEvent, EventKind
from devices.errors import DeviceConfigurationError
from devices.factory import Simulators, open_device
from devices.manager import Backoff, DeviceManager, DeviceState


def test_backoff_doubles_up_to_a_ceiling() -> None:
    backoff = Backoff(initial=1.0, longest=8.0)
    assert [backoff.delay(n) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


async def _until(events: list[DeviceEvent], predicate: object, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while not any(predicate(e) for e in events):  # type: ignore[operator]
            await asyncio.sleep(0.02)


def test_a_dropped_ble_device_is_lost_then_reconnected() -> None:
    async def scenario() -> list[DeviceEvent]:
        simulators = Simulators(advertising_interval_ms=5.0)
        events: list[DeviceEvent] = []
        try:
            device = await open_device("sim://oximeter-ble", simulators)
            simulator = simulators.ble[0]
            manager = DeviceManager([device], Backoff(initial=0.05, longest=0.2))
            manager.subscribe(events.append)
            manager.start()
            await _until(events, lambda e: e.kind is EventKind.MEASUREMENT)
            assert manager.states[device.url] is DeviceState.CONNECTED
            await simulator.peripheral.drop_link()
            await _until(events, lambda e: e.kind is EventKind.LOST)
            await simulator.peripheral.start_advertising()
            lost_at = max(i for i, e in enumerate(events) if e.kind is EventKind.LOST)
            await _until(events, lambda e: e.kind is EventKind.CONNECTED
                         and events.index(e) > lost_at)
            await manager.stop()
            assert manager.states[device.url] is DeviceState.STOPPED
        finally:
            await simulators.close()
        return events

    events = asyncio.run(scenario())
    kinds = [e.kind for e in events]
    assert kinds.count(EventKind.CONNECTED) >= 2
    lost = next(e for e in events if e.kind is EventKind.LOST)
    assert lost.url == "sim://oximeter-ble" and lost.detail


def test_a_listener_that_raises_does_not_stop_the_others() -> None:
    async def scenario() -> list[DeviceEvent]:
        simulators = Simulators(advertising_interval_ms=5.0)
        events: list[DeviceEvent] = []
        try:
            manager = DeviceManager([await open_device("sim://stethoscope", simulators)])

            def broken(event: DeviceEvent) -> None:
                raise RuntimeError("view crashed")

            manager.subscribe(broken)
            manager.subscribe(events.append)
            manager.start()
            await _until(events, lambda e: e.kind is EventKind.CONNECTED)
            await manager.stop()
        finally:
            await simulators.close()
        return events

    assert asyncio.run(scenario())[0].kind is EventKind.CONNECTED


@pytest.mark.parametrize("url", ["sim://nothing", "sim://oximeter-serial?protocol=xyz"])
def test_unknown_simulators_are_refused_clearly(url: str) -> None:
    async def scenario() -> None:
        simulators = Simulators()
        try:
            await open_device(url, simulators)
        finally:
            await simulators.close()

    with pytest.raises(DeviceConfigurationError, match=r"simulator|protocol"):
        asyncio.run(scenario())


def test_a_silent_serial_oximeter_is_lost_then_reopened() -> None:
    """A CMS50D+ (8O1) that falls silent is lost; when it talks again the
    manager reopens the port with its real settings and carries on."""

    async def scenario() -> list[DeviceEvent]:
        simulators = Simulators()
        events: list[DeviceEvent] = []
        try:
            device = await open_device("sim://oximeter-serial?protocol=cms50d", simulators)
            simulator = simulators.serial[0]
            manager = DeviceManager([device], Backoff(initial=0.1, longest=0.5))
            manager.subscribe(events.append)
            manager.start()
            await _until(events, lambda e: e.kind is EventKind.MEASUREMENT)
            simulator.set_misbehaviour("silent")
            await _until(events, lambda e: e.kind is EventKind.LOST)
            simulator.set_misbehaviour("silent", enabled=False)
            lost_at = max(i for i, e in enumerate(events) if e.kind is EventKind.LOST)
            await _until(events, lambda e: e.kind is EventKind.MEASUREMENT
                         and events.index(e) > lost_at)
            await manager.stop()
        finally:
            await simulators.close()
        return events

    events = asyncio.run(scenario())
    assert [e.kind for e in events].count(EventKind.CONNECTED) >= 2
    assert not any(e.kind is EventKind.UNAVAILABLE for e in events)
