"""The simulated BLE instruments: their GATT face, their bytes, their drift and misbehaviour.

Over the real virtual link with a plain GATT client (no driver), so what is
checked is what any central would see. Overall asyncio timeouts turn hangs
into failures; nothing asserts on speed.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any, TypeVar

import pytest

from devices.ble import uuids
from devices.ble.latency import measure_ble_latency
from devices.ble.sim_instruments import (
    INSTRUMENTS,
    Oximeter,
    Reading,
    Scale,
    encode_reading,
    garble,
)
from devices.ble.simulators import KINDS, MISBEHAVIOURS, BleSimulator, start_ble_simulator
from devices.ble.virtual_link import VirtualBleLink
from devices.codecs import ble_basic, ble_bps, ble_hts, ble_plx, ble_wss
from devices.errors import ConnectionLostError, DecodeError, DeviceConfigurationError
from devices.measurement import Measurement, Quality

T = TypeVar("T")
SCALE = 0.004
ADDRESS = "F0:00:00:00:51:01"
NOW = datetime(2026, 11, 23, 9, 30, 15)

DECODE: dict[str, Callable[[bytes], Any]] = {
    uuids.PLX_CONTINUOUS_MEASUREMENT: ble_plx.decode_continuous,
    uuids.PLX_SPOT_CHECK_MEASUREMENT: ble_plx.decode_spot_check,
    uuids.TEMPERATURE_MEASUREMENT: ble_hts.decode_temperature_measurement,
    uuids.BLOOD_PRESSURE_MEASUREMENT: ble_bps.decode_blood_pressure,
    uuids.WEIGHT_MEASUREMENT: ble_wss.decode_weight_measurement,
    uuids.BATTERY_LEVEL: ble_basic.decode_battery_level,
}
TO_MEASUREMENTS: dict[str, Callable[[Any, str, datetime], list[Measurement]]] = {
    "oximeter": ble_plx.to_measurements, "thermometer": ble_hts.to_measurements,
    "blood-pressure": ble_bps.to_measurements,
    "scale": lambda m, device, at: ble_wss.to_measurements(m, device, at, feature=Scale.FEATURE)}
SERVICE = {"oximeter": uuids.PULSE_OXIMETER_SERVICE,
           "thermometer": uuids.HEALTH_THERMOMETER_SERVICE,
           "blood-pressure": uuids.BLOOD_PRESSURE_SERVICE,
           "scale": uuids.WEIGHT_SCALE_SERVICE}


def run(scenario: Coroutine[Any, Any, T], timeout: float = 15.0) -> T:
    """Run one scenario on a fresh loop; a hang becomes a TimeoutError, not a stuck suite."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await scenario

    return asyncio.run(bounded())


async def simulator(kind: str, **options: Any) -> tuple[VirtualBleLink, BleSimulator]:
    link = VirtualBleLink()
    options.setdefault("period_scale", SCALE)
    options.setdefault("advertising_interval_ms", 1)
    return link, await start_ble_simulator(link, kind, ADDRESS, **options)


async def until(condition: Callable[[], bool]) -> None:
    """Poll a condition every loop-millisecond (the scenario timeout bounds the wait)."""
    while not condition():
        await asyncio.sleep(0.001)


@pytest.mark.parametrize("kind", KINDS)
def test_each_simulator_advertises_its_service_battery_and_device_information(kind: str) -> None:
    async def scenario() -> None:
        link, sim = await simulator(kind)
        [seen] = await link.scan(0.05)
        assert seen.address == sim.address == ADDRESS
        assert seen.name == sim.instrument.name
        assert seen.service_uuids == (SERVICE[kind], uuids.BATTERY_SERVICE,
                                      uuids.DEVICE_INFORMATION_SERVICE)
        assert sim.kind == kind
        assert sim.profile == {"oximeter": "plx", "thermometer": "hts",
                               "blood-pressure": "bps", "scale": "wss"}[kind]
        assert sim.url == f"ble://{ADDRESS}?profile={sim.profile}"
        async with link.client(sim.address) as client:
            assert await client.read(uuids.MANUFACTURER_NAME) == b"Station Simulators"
            assert await client.read(uuids.MODEL_NUMBER) == sim.instrument.model.encode()
            assert await client.read(uuids.SERIAL_NUMBER) == b"SIM-005101"
            assert await client.read(uuids.FIRMWARE_REVISION) == b"1.4.2"
            level = ble_basic.decode_battery_level(await client.read(uuids.BATTERY_LEVEL))
            assert level.percent == sim.battery_level
            assert 60 <= level.percent <= 100
        await sim.stop()
        await link.close()

    run(scenario())


def test_oximeter_and_scale_features_are_readable() -> None:
    async def scenario() -> None:
        link, oximeter = await simulator("oximeter")
        async with link.client(oximeter.address) as client:
            features = ble_plx.decode_features(await client.read(uuids.PLX_FEATURES))
        assert features == Oximeter.FEATURES
        await oximeter.stop()
        scale = await start_ble_simulator(link, "scale", ADDRESS, advertising_interval_ms=1)
        async with link.client(scale.address) as client:
            feature = ble_wss.decode_feature(await client.read(0x2A9E))
        assert feature == Scale.FEATURE
        assert (feature.weight_decimals(imperial=False), feature.height_decimals(imperial=False)) \
            == (2, 2)
        await scale.stop()
        await link.close()

    run(scenario())


@pytest.mark.parametrize("kind", KINDS)
def test_the_bytes_on_the_air_are_the_codec_encoding_of_the_logged_readings(kind: str) -> None:
    async def scenario() -> None:
        link, sim = await simulator(kind)
        received: dict[str, list[bytes]] = {c.uuid: [] for c in sim.instrument.channels}
        async with link.client(sim.address) as client:
            for uuid, values in received.items():
                await client.subscribe(uuid, values.append)
            await until(lambda: all(len(values) >= 3 for values in received.values()))
        await sim.stop()
        await link.close()
        for uuid, values in received.items():
            sent = [s for s in sim.sent if s.characteristic == uuid]
            assert [s.data for s in sent[:len(values)]] == values
            for entry in sent:
                assert entry.reading is not None
                assert entry.misbehaviour is None
                assert encode_reading(entry.reading) == entry.data
                assert DECODE[uuid](entry.data) == entry.reading

    run(scenario())


def check_bands(kind: str, reading: Reading) -> None:
    if kind == "oximeter":
        assert isinstance(reading, ble_plx.Continuous | ble_plx.SpotCheck)
        assert 92 <= reading.spo2.value <= 99
        assert 55 <= reading.pulse_rate.value <= 100
    elif kind == "thermometer":
        assert isinstance(reading, ble_hts.TemperatureMeasurement)
        assert 36.5 <= reading.temperature.value <= 37.8
        assert reading.timestamp is not None
        assert reading.temperature_type is ble_hts.TemperatureType.TYMPANUM
    elif kind == "blood-pressure":
        assert isinstance(reading, ble_bps.BloodPressureMeasurement)
        assert reading.unit is ble_bps.PressureUnit.MMHG
        assert reading.diastolic.value + 25 <= reading.systolic.value <= 160
        assert reading.diastolic.value < reading.mean_arterial_pressure.value \
            < reading.systolic.value
        assert reading.pulse_rate is not None
        assert reading.status == 0
        assert reading.timestamp is not None
    else:
        assert isinstance(reading, ble_wss.WeightMeasurement)
        assert reading.weight is not None
        assert reading.height is not None
        assert reading.bmi is not None
        assert 45 <= reading.weight <= 95
        assert 1.5 <= reading.height <= 1.8
        assert reading.raw_weight % 10 == 0  # the scale's 0.05 kg resolution
        assert (reading.raw_height or 1) % 10 == 0  # and 0.01 m
        assert abs(float(reading.bmi) - float(reading.weight) / float(reading.height) ** 2) <= 0.06
        assert reading.timestamp is not None


@pytest.mark.parametrize("kind", KINDS)
def test_readings_drift_within_plausible_bands(kind: str) -> None:
    instrument = INSTRUMENTS[kind](random.Random(3))
    to_measurements = TO_MEASUREMENTS[kind]
    seen: set[bytes] = set()
    for _ in range(500):
        for channel in instrument.channels:
            reading = instrument.reading(channel.name, NOW)
            check_bands(kind, reading)
            seen.add(encode_reading(reading))
            tz_now = NOW.astimezone()
            for measurement in to_measurements(reading, "sim", tz_now):
                assert Quality.IMPLAUSIBLE not in measurement.quality
    assert len(seen) > 20  # it drifts, it does not repeat one value


@pytest.mark.parametrize("kind", KINDS)
def test_the_seed_makes_readings_reproducible(kind: str) -> None:
    def series(seed: int) -> list[Reading]:
        instrument = INSTRUMENTS[kind](random.Random(seed))
        return [instrument.reading(instrument.channels[0].name, NOW) for _ in range(50)]

    assert series(11) == series(11)
    assert series(11) != series(12)


@pytest.mark.parametrize(("kind", "check"), [
    ("oximeter", lambda r: r.spo2.value == 104),
    ("thermometer", lambda r: r.temperature.value == 50.0),
    ("blood-pressure", lambda r: r.systolic.value == 310),
    ("scale", lambda r: r.weight == 12.5),
])
def test_implausible_readings_are_impossible_values(kind: str,
                                                    check: Callable[[Any], bool]) -> None:
    instrument = INSTRUMENTS[kind](random.Random(0))
    reading = instrument.reading(instrument.channels[0].name, NOW, implausible=True)
    assert check(reading)
    encode_reading(reading)  # still valid protocol bytes: only the value is wrong


@pytest.mark.parametrize("kind", KINDS)
def test_garbled_values_never_decode(kind: str) -> None:
    rng = random.Random(5)
    instrument = INSTRUMENTS[kind](random.Random(5))
    for _ in range(200):
        for channel in instrument.channels:
            data = garble(encode_reading(instrument.reading(channel.name, NOW)), rng)
            assert data
            with pytest.raises(DecodeError):
                DECODE[channel.uuid](data)


def test_misbehaviour_every_third_value_and_switchable_at_runtime() -> None:
    async def scenario() -> None:
        link, sim = await simulator("thermometer", misbehave=("malformed", "implausible"))
        assert sim.misbehaviour == {"malformed", "implausible"}
        async with link.client(sim.address) as client:
            await client.subscribe(uuids.TEMPERATURE_MEASUREMENT, lambda _: None)
            await until(lambda: len(sim.sent) >= 6)
            assert [s.misbehaviour for s in sim.sent[:6]] == [
                None, "implausible", "malformed"] * 2
            assert [s.reading is None for s in sim.sent[:3]] == [False, False, True]
            await sim.set_misbehaviour("malformed", on=False)
            await sim.set_misbehaviour("implausible", on=False)
            assert sim.misbehaviour == frozenset()
            count = len(sim.sent)
            await until(lambda: len(sim.sent) >= count + 4)
            assert all(s.misbehaviour is None for s in sim.sent[count:])
        await sim.stop()
        await link.close()

    run(scenario())


def test_battery_low_is_read_and_notified() -> None:
    async def scenario() -> None:
        link, sim = await simulator("thermometer")
        normal = sim.battery_level
        levels: list[bytes] = []
        async with link.client(sim.address) as client:
            await client.subscribe(uuids.BATTERY_LEVEL, levels.append)
            await sim.set_misbehaviour("battery-low")
            assert sim.battery_level == 5
            assert await client.read(uuids.BATTERY_LEVEL) == b"\x05"
            await until(lambda: levels == [b"\x05"])
            await sim.set_misbehaviour("battery-low", on=False)
            await until(lambda: levels == [b"\x05", bytes([normal])])
        assert [s.reading for s in sim.sent if s.channel == "battery"] == [
            ble_basic.BatteryLevel(5), ble_basic.BatteryLevel(normal)]
        await sim.stop()
        await link.close()

    run(scenario())


def test_drop_vanishes_then_advertises_again() -> None:
    async def scenario() -> None:
        link, sim = await simulator("scale", misbehave=("drop",))
        client = link.client(sim.address)
        await client.connect(timeout=5)
        await client.subscribe(uuids.WEIGHT_MEASUREMENT, lambda _: None)
        lost = await client.wait_connection_lost()
        assert isinstance(lost, ConnectionLostError)
        await client.connect(timeout=5)  # waits for the device to come back
        assert client.connection_lost is None
        await client.disconnect()
        await sim.stop()
        await link.close()

    run(scenario())


def test_nothing_is_sent_until_a_central_subscribes() -> None:
    async def scenario() -> None:
        link, sim = await simulator("oximeter")
        async with link.client(sim.address):
            await asyncio.sleep(0.05)  # many periods at this scale
            assert sim.sent == []
        await sim.stop()
        await link.close()

    run(scenario())


def test_periods_follow_the_real_device_scaled_or_overridden() -> None:
    async def scenario() -> None:
        link = VirtualBleLink()
        real = await start_ble_simulator(link, "oximeter", ADDRESS)
        assert real.period("continuous") == 1.0
        assert real.period("spot-check") == 10.0
        assert real.period("drop-after") == 20.0
        assert real.peripheral.advertising_interval_ms == 100.0
        await real.stop()
        link2, fast = await simulator("oximeter", periods={"spot-check": None})
        assert fast.period("continuous") == pytest.approx(0.004)
        assert fast.period("spot-check") is None
        async with link2.client(fast.address) as client:
            await client.subscribe(uuids.PLX_CONTINUOUS_MEASUREMENT, lambda _: None)
            await client.subscribe(uuids.PLX_SPOT_CHECK_MEASUREMENT, lambda _: None)
            await until(lambda: len(fast.sent) >= 15)
        assert {s.channel for s in fast.sent} == {"continuous"}
        await fast.stop()
        await link.close()
        await link2.close()

    run(scenario())


def test_stop_takes_the_simulator_off_the_link() -> None:
    async def scenario() -> None:
        link, sim = await simulator("blood-pressure")
        assert link.peripherals == [sim.peripheral]
        await sim.stop()
        assert link.peripherals == []
        assert await link.scan(0.03) == []
        await link.close()

    run(scenario())


def test_the_log_is_bounded() -> None:
    async def scenario() -> None:
        link, sim = await simulator("oximeter", log_size=5)
        async with link.client(sim.address) as client:
            await client.subscribe(uuids.PLX_CONTINUOUS_MEASUREMENT, lambda _: None)
            await until(lambda: len(sim.sent) == 5)
            await asyncio.sleep(0.03)
            assert len(sim.sent) == 5
        await sim.stop()
        await link.close()

    run(scenario())


@pytest.mark.parametrize(("arguments", "message"), [
    ({"kind": "ecg"}, "Unknown BLE simulator 'ecg'; use one of oximeter, thermometer"),
    ({"misbehave": ("explode",)}, "Unknown misbehaviour 'explode'; use one of drop"),
    ({"periods": {"pleth": 0.02}}, "no period 'pleth'; it has continuous, spot-check"),
    ({"periods": {"continuous": 0}}, "must be positive"),
    ({"periods": {"drop-after": None}}, "cannot be switched off"),
    ({"period_scale": 0}, "period_scale must be positive"),
])
def test_bad_options_are_refused(arguments: dict[str, Any], message: str) -> None:
    async def scenario() -> None:
        link = VirtualBleLink()
        options = {"kind": "oximeter", **arguments}
        with pytest.raises(DeviceConfigurationError, match=message):
            await start_ble_simulator(link, options.pop("kind"), ADDRESS, **options)
        assert link.peripherals == []
        await link.close()

    run(scenario())
    assert set(MISBEHAVIOURS) == {"drop", "malformed", "implausible", "battery-low"}


def test_latency_measurement_returns_one_sample_per_notification() -> None:
    latencies = run(measure_ble_latency(20, interval=0.004))
    assert len(latencies) == 20
    assert all(latency > 0 for latency in latencies)  # emitted after sent: pairing is right
