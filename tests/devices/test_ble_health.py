"""The BLE health driver against the simulated instruments, over the real virtual link.

Nothing is mocked: the simulators encode with the codecs, bumble carries
real ATT PDUs between two controllers, the driver decodes. Each scenario
runs under an overall asyncio timeout so a hang fails instead of blocking;
nothing asserts on speed. Simulators run at ``period_scale=0.004`` (a
reading every 4-40 ms) and advertise every 1 ms.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import pytest
from bleak.backends.bluezdbus import manager as bluez_manager

from devices.ble import uuids
from devices.ble.bleak_client import BleakGattClient
from devices.ble.gatt import Property
from devices.ble.health import PROFILES, BleHealthDevice
from devices.ble.sim_instruments import Scale
from devices.ble.simulated_peripheral import SimulatedPeripheral, battery_and_device_information
from devices.ble.simulators import BleSimulator, Sent, start_ble_simulator
from devices.ble.virtual_link import VirtualBleLink
from devices.codecs import ble_bps, ble_hts, ble_plx, ble_wss
from devices.device import DeviceEvent, EventKind
from devices.errors import (
    ConnectionLostError,
    DecodeError,
    DeviceConfigurationError,
    DeviceUnavailableError,
)
from devices.manager import Backoff, DeviceManager
from devices.measurement import Kind, Measurement, Quality

T = TypeVar("T")
SCALE = 0.004
ADDRESS = "F0:00:00:00:18:22"
HAS_SYSTEM_BUS = (Path("/run/dbus/system_bus_socket").exists()
                  or Path("/var/run/dbus/system_bus_socket").exists()
                  or "DBUS_SYSTEM_BUS_ADDRESS" in os.environ)

# Per kind: the codec's to_measurements for each channel, and the kinds with their UCUM units.
PROTOCOL_OF = {
    ("oximeter", "continuous"): ble_plx.CONTINUOUS_PROTOCOL,
    ("oximeter", "spot-check"): ble_plx.SPOT_PROTOCOL,
    ("thermometer", "measurement"): ble_hts.PROTOCOL,
    ("blood-pressure", "measurement"): ble_bps.PROTOCOL,
    ("scale", "measurement"): ble_wss.PROTOCOL,
}
TO_MEASUREMENTS: dict[str, Callable[[Any, str, datetime], list[Measurement]]] = {
    "oximeter": ble_plx.to_measurements,
    "thermometer": ble_hts.to_measurements,
    "blood-pressure": ble_bps.to_measurements,
    # The simulated scale declares 0.05 kg and 0.01 m resolutions (Weight Scale Feature),
    # which the driver reads and displays with.
    "scale": lambda m, device, at: ble_wss.to_measurements(m, device, at,
                                                           feature=Scale.FEATURE),
}
UNITS = {
    "oximeter": {Kind.SPO2: "%", Kind.PULSE_RATE: "/min", Kind.PERFUSION_INDEX: "%"},
    "thermometer": {Kind.BODY_TEMPERATURE: "Cel"},
    "blood-pressure": {Kind.SYSTOLIC: "mm[Hg]", Kind.DIASTOLIC: "mm[Hg]",
                       Kind.MEAN_ARTERIAL_PRESSURE: "mm[Hg]", Kind.PULSE_RATE: "/min"},
    "scale": {Kind.BODY_WEIGHT: "kg", Kind.BMI: "kg/m2", Kind.HEIGHT: "m"},
}
KINDS = list(UNITS)


def run(scenario: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
    """Run one scenario on a fresh loop; a hang becomes a TimeoutError, not a stuck suite."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await scenario

    return asyncio.run(bounded())


@dataclass
class Recorder:
    """Collects events and lets a scenario wait until they satisfy a condition."""

    events: list[DeviceEvent] = field(default_factory=list)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    def __call__(self, event: DeviceEvent) -> None:
        self.events.append(event)
        self._changed.set()

    async def until(self, condition: Callable[[list[DeviceEvent]], bool]) -> None:
        while not condition(self.events):
            self._changed.clear()
            await self._changed.wait()

    def measurements(self, protocol: str | None = None) -> list[DeviceEvent]:
        return [e for e in self.events if e.kind is EventKind.MEASUREMENT
                and (protocol is None or e.detail == protocol)]


@dataclass
class Bench:
    """A link, one simulator, a driver for it and its running stream."""

    link: VirtualBleLink
    sim: BleSimulator
    device: BleHealthDevice
    recorder: Recorder
    task: asyncio.Task[None]

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, ConnectionLostError):
            await self.task
        await self.sim.stop()
        await self.link.close()


async def bench(kind: str, *, misbehave: tuple[str, ...] = (), seed: int = 7,
                periods: dict[str, float | None] | None = None) -> Bench:
    link = VirtualBleLink()
    sim = await start_ble_simulator(link, kind, ADDRESS, misbehave=misbehave, seed=seed,
                                    period_scale=SCALE, periods=periods,
                                    advertising_interval_ms=1)
    device = BleHealthDevice(sim.url, link.client(sim.address), sim.profile)
    recorder = Recorder()
    task = asyncio.ensure_future(device.stream(recorder))
    return Bench(link, sim, device, recorder, task)


def readings_of(sim: BleSimulator, channel: str) -> list[Sent]:
    """What a channel sent that a driver should decode (garbled values left out)."""
    return [s for s in sim.sent if s.channel == channel and s.reading is not None]


def groups(events: list[DeviceEvent]) -> list[list[DeviceEvent]]:
    """Events cut into one group per notification (one reception time each)."""
    out: list[list[DeviceEvent]] = []
    for event in events:
        if out and out[-1][0].time is event.time:
            out[-1].append(event)
        else:
            out.append([event])
    return out


def check_channel(b: Bench, channel: str) -> int:
    """Every measurement event of ``channel`` is exactly what the simulator encoded."""
    protocol = PROTOCOL_OF[b.sim.kind, channel]
    received = groups(b.recorder.measurements(protocol))
    sent = readings_of(b.sim, channel)
    assert len(received) <= len(sent)
    to_measurements = TO_MEASUREMENTS[b.sim.kind]
    for group, entry in zip(received, sent, strict=False):
        expected = to_measurements(entry.reading, b.sim.url, group[0].time)
        assert [event.measurement for event in group] == expected
        for event in group:
            measurement = event.measurement
            assert measurement is not None
            assert measurement.unit == UNITS[b.sim.kind][measurement.kind]
            assert measurement.device == b.sim.url
            assert measurement.time.tzinfo is not None
    return len(received)


@pytest.mark.parametrize("kind", KINDS)
def test_driver_emits_connected_battery_then_exactly_what_was_sent(kind: str) -> None:
    async def scenario() -> None:
        b = await bench(kind)
        channels = [c.name for c in b.sim.instrument.channels]
        await b.recorder.until(lambda _: all(
            len(b.recorder.measurements(PROTOCOL_OF[kind, c])) >= 3 for c in channels))
        await b.close()
        connected, battery = b.recorder.events[:2]
        assert connected.kind is EventKind.CONNECTED
        assert connected.url == b.sim.url
        assert connected.detail == (f"Station Simulators {b.sim.instrument.model},"
                                    f" serial SIM-001822, firmware 1.4.2")
        assert battery.kind is EventKind.BATTERY
        assert battery.battery_percent == b.sim.battery_level == b.device.battery_percent
        assert {e.kind for e in b.recorder.events[2:]} == {EventKind.MEASUREMENT}
        assert all(check_channel(b, channel) >= 1 for channel in channels)
        kinds = {e.measurement.kind for e in b.recorder.measurements() if e.measurement}
        assert kinds == set(UNITS[kind])
        flagged = [e for e in b.recorder.measurements()
                   if e.measurement and Quality.IMPLAUSIBLE in e.measurement.quality]
        assert flagged == []
        assert b.device.malformed_count == 0
        assert b.device.information is not None
        assert b.device.information.manufacturer_name == "Station Simulators"
        if kind == "scale":
            decimals = {e.measurement.kind: e.measurement.decimals
                        for e in b.recorder.measurements() if e.measurement}
            assert decimals == {Kind.BODY_WEIGHT: 2, Kind.BMI: 1, Kind.HEIGHT: 2}

    run(scenario())


def test_thermometer_readings_are_timestamped_body_temperatures_in_range() -> None:
    async def scenario() -> None:
        b = await bench("thermometer")
        await b.recorder.until(lambda _: len(b.recorder.measurements()) >= 5)
        await b.close()
        for event in b.recorder.measurements():
            assert event.measurement is not None
            assert 36.5 <= event.measurement.value <= 37.8
            assert event.measurement.decimals == 2
            # The device's clock (whole seconds), not the reception time.
            assert event.measurement.time.microsecond == 0

    run(scenario())


@pytest.mark.parametrize(("kind", "channel", "measured", "value"), [
    ("oximeter", "continuous", Kind.SPO2, 104.0),
    ("thermometer", "measurement", Kind.BODY_TEMPERATURE, 50.0),
    ("blood-pressure", "measurement", Kind.SYSTOLIC, 310.0),
    ("scale", "measurement", Kind.BODY_WEIGHT, 12.5),
])
def test_implausible_values_arrive_flagged_not_dropped(kind: str, channel: str, measured: Kind,
                                                      value: float) -> None:
    async def scenario() -> None:
        b = await bench(kind, misbehave=("implausible",))
        protocol = PROTOCOL_OF[kind, channel]

        def flagged(events: list[DeviceEvent]) -> list[Measurement]:
            return [e.measurement for e in events if e.kind is EventKind.MEASUREMENT
                    and e.detail == protocol and e.measurement is not None
                    and Quality.IMPLAUSIBLE in e.measurement.quality]

        await b.recorder.until(lambda events: len(flagged(events)) >= 2)
        await b.close()
        assert any(m.kind is measured and m.value == value for m in flagged(b.recorder.events))
        check_channel(b, channel)  # the flagged values are exactly the ones sent
        sent = [s for s in readings_of(b.sim, channel) if s.misbehaviour == "implausible"]
        assert sent  # and the simulator logged them as such
        assert b.device.malformed_count == 0

    run(scenario())


def test_malformed_notifications_are_counted_and_the_stream_goes_on() -> None:
    async def scenario() -> None:
        b = await bench("thermometer", misbehave=("malformed",))
        await b.recorder.until(lambda _: b.device.malformed_count >= 3)
        valid_so_far = len(b.recorder.measurements())
        await b.recorder.until(lambda _: len(b.recorder.measurements()) >= valid_so_far + 2)
        assert not b.task.done()
        await b.close()
        error = b.device.last_malformed
        assert isinstance(error, DecodeError)
        assert error.protocol == "ble-hts"
        assert "truncated" in error.reason
        garbled = [s for s in b.sim.sent if s.misbehaviour == "malformed"]
        assert len(garbled) >= b.device.malformed_count
        for entry in garbled:
            with pytest.raises(DecodeError):
                ble_hts.decode_temperature_measurement(entry.data)
        check_channel(b, "measurement")  # the valid ones around them all arrived intact

    run(scenario())


def test_malformed_values_on_both_oximeter_channels() -> None:
    async def scenario() -> None:
        b = await bench("oximeter", misbehave=("malformed",))
        await b.recorder.until(lambda _: any(
            s.channel == "spot-check" and s.misbehaviour == "malformed" for s in b.sim.sent)
            and len(b.recorder.measurements(ble_plx.SPOT_PROTOCOL)) >= 4)
        await b.close()
        assert b.device.malformed_count >= 2
        check_channel(b, "continuous")
        check_channel(b, "spot-check")

    run(scenario())


def test_low_battery_at_connection_reads_five_percent() -> None:
    async def scenario() -> None:
        b = await bench("scale", misbehave=("battery-low",))
        await b.recorder.until(lambda events: len(events) >= 2)
        await b.close()
        assert [e.kind for e in b.recorder.events[:2]] == [EventKind.CONNECTED, EventKind.BATTERY]
        assert b.recorder.events[1].battery_percent == 5

    run(scenario())


def test_battery_going_low_while_connected_is_notified() -> None:
    async def scenario() -> None:
        b = await bench("oximeter")
        await b.recorder.until(lambda _: len(b.recorder.measurements()) >= 1)
        await b.sim.set_misbehaviour("battery-low")
        await b.recorder.until(lambda events: any(e.battery_percent == 5 for e in events))
        levels = [e.battery_percent for e in b.recorder.events if e.kind is EventKind.BATTERY]
        assert levels[0] == b.recorder.events[1].battery_percent != 5
        assert levels[-1] == 5
        await b.sim.set_misbehaviour("battery-low", on=False)
        await b.recorder.until(lambda events: [
            e.battery_percent for e in events if e.kind is EventKind.BATTERY][-1] != 5)
        await b.close()
        assert b.device.battery_percent == levels[0]

    run(scenario())


def test_a_dropped_link_raises_connection_lost_and_the_device_comes_back() -> None:
    async def scenario() -> None:
        # Dropped after 0.3 s: ~15 readings first, even on a loaded machine.
        b = await bench("thermometer", misbehave=("drop",), periods={"drop-after": 0.3})
        with pytest.raises(ConnectionLostError,
                           match=f"Lost the Bluetooth link to {ADDRESS}: the device stopped"):
            await b.task
        assert len(b.recorder.measurements()) >= 1  # it measured before vanishing
        # The simulator advertises again: the next stream() (what the manager does) reconnects.
        await b.sim.set_misbehaviour("drop", on=False)
        again = Recorder()
        b.task = asyncio.ensure_future(b.device.stream(again))
        await again.until(lambda _: len(again.measurements()) >= 2)
        assert again.events[0].kind is EventKind.CONNECTED
        await b.close()
        check_channel(b, "measurement")

    run(scenario())


def test_the_device_manager_turns_a_drop_into_lost_then_reconnects() -> None:
    async def scenario() -> None:
        link = VirtualBleLink()
        sim = await start_ble_simulator(link, "blood-pressure", ADDRESS, misbehave=("drop",),
                                        period_scale=SCALE, advertising_interval_ms=1)
        device = BleHealthDevice(sim.url, link.client(sim.address), sim.profile)
        manager = DeviceManager([device], Backoff(initial=0.01, longest=0.05))
        recorder = Recorder()
        manager.subscribe(recorder)
        manager.start()
        await recorder.until(lambda events: [e.kind for e in events].count(
            EventKind.CONNECTED) >= 2)
        await manager.stop()
        await sim.stop()
        await link.close()
        kinds = [e.kind for e in recorder.events]
        lost = recorder.events[kinds.index(EventKind.LOST)]
        assert "Lost the Bluetooth link" in lost.detail
        assert kinds.index(EventKind.CONNECTED) < kinds.index(EventKind.LOST)

    run(scenario())


def test_cancellation_disconnects_cleanly() -> None:
    async def scenario() -> None:
        b = await bench("oximeter")
        await b.recorder.until(lambda _: len(b.recorder.measurements()) >= 6)
        b.task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await b.task
        client = b.device.client
        assert not client.is_connected
        assert client.connection_lost is None  # a requested disconnect, not a loss
        # The simulator sees the central go and advertises again (the timeout bounds this).
        while b.sim.peripheral.is_connected or not await b.link.scan(0.02):
            await asyncio.sleep(0.005)
        count = len(b.recorder.events)
        await asyncio.sleep(0.05)
        assert len(b.recorder.events) == count  # nothing emitted after the stream ended
        await b.close()

    run(scenario())


def test_a_profile_whose_service_is_absent_is_a_configuration_error() -> None:
    async def scenario() -> None:
        link = VirtualBleLink()
        sim = await start_ble_simulator(link, "thermometer", ADDRESS, period_scale=SCALE,
                                        advertising_interval_ms=1)
        device = BleHealthDevice(f"ble://{ADDRESS}?profile=plx", link.client(ADDRESS), "plx")
        recorder = Recorder()
        with pytest.raises(DeviceConfigurationError,
                           match=r"has no 1822 \(Pulse Oximeter\) service, which profile=plx"):
            await device.stream(recorder)
        assert recorder.events == []
        assert not device.client.is_connected
        await sim.stop()
        await link.close()

    run(scenario())


def test_a_service_without_its_measurement_characteristic_is_a_configuration_error() -> None:
    async def scenario() -> None:
        link = VirtualBleLink()
        odd = SimulatedPeripheral(ADDRESS, "Odd", [
            (uuids.PULSE_OXIMETER_SERVICE, [(uuids.PLX_FEATURES, Property.READ, b"\0\0")]),
            *battery_and_device_information(),
        ], advertising_interval_ms=1)
        await link.add(odd)
        device = BleHealthDevice(f"ble://{ADDRESS}?profile=plx", link.client(ADDRESS), "plx")
        with pytest.raises(DeviceConfigurationError,
                           match=r"no 2a5f \(PLX Continuous Measurement\) or 2a5e"):
            await device.stream(Recorder())
        await link.close()

    run(scenario())


def test_an_oximeter_with_only_spot_checks_is_followed_on_what_it_has() -> None:
    async def scenario() -> None:
        link = VirtualBleLink()
        spot_only = SimulatedPeripheral(ADDRESS, "Spot", [
            (uuids.PULSE_OXIMETER_SERVICE, [
                (uuids.PLX_SPOT_CHECK_MEASUREMENT, Property.INDICATE, b"")]),
        ], advertising_interval_ms=1)  # no battery, no device information either
        await link.add(spot_only)
        device = BleHealthDevice(f"ble://{ADDRESS}?profile=plx", link.client(ADDRESS), "plx")
        recorder = Recorder()
        task = asyncio.ensure_future(device.stream(recorder))
        await spot_only.wait_subscribed(uuids.PLX_SPOT_CHECK_MEASUREMENT)
        await spot_only.indicate(uuids.PLX_SPOT_CHECK_MEASUREMENT, bytes.fromhex(
            "0F AC F3 BE F5 E8 07 0B 1D 17 08 39 20 40 22 00 00 66 E3"))
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        assert [e.kind for e in recorder.events] == [EventKind.CONNECTED] + \
            [EventKind.MEASUREMENT] * 3
        assert recorder.events[0].detail == ""
        values = [(e.measurement.kind, e.measurement.value) for e in recorder.events[1:]
                  if e.measurement]
        assert values == [(Kind.SPO2, 94.0), (Kind.PULSE_RATE, 147.0),
                          (Kind.PERFUSION_INDEX, 8.7)]
        await link.close()

    run(scenario())


def test_an_unknown_profile_is_refused_before_connecting() -> None:
    with pytest.raises(DeviceConfigurationError, match="profile 'ecg' is not supported"):
        BleHealthDevice(f"ble://{ADDRESS}?profile=ecg", BleakGattClient(ADDRESS), "ecg")
    assert set(PROFILES) == {"plx", "hts", "bps", "wss"}


@pytest.fixture
def fresh_bleak(monkeypatch: pytest.MonkeyPatch) -> None:
    """bleak as in a fresh process: no BlueZ manager left over from an earlier event loop.

    bleak keeps one manager per loop in a module global and finalizes the bus of
    closed loops on next use; a stand-in bus another test left there (one without
    ``_finalize``) would make that cleanup raise instead of reaching D-Bus.
    """
    monkeypatch.setattr(bluez_manager, "_global_instances", {})


@pytest.mark.skipif(HAS_SYSTEM_BUS, reason="this machine has a D-Bus system bus")
@pytest.mark.usefixtures("fresh_bleak")
def test_the_same_driver_on_bleak_without_dbus_is_unavailable() -> None:
    recorder = Recorder()
    device = BleHealthDevice(f"ble://{ADDRESS}?profile=plx", BleakGattClient(ADDRESS), "plx",
                             connect_timeout=2)
    with pytest.raises(DeviceUnavailableError, match="D-Bus system bus is missing"):
        run(device.stream(recorder))
    assert recorder.events == []
