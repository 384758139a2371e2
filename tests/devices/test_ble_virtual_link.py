"""The GATT client over the in-process bumble link, against simulated peripherals.

Every scenario runs under an overall asyncio timeout so a hang fails the
test instead of blocking the suite. Nothing here asserts on speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from devices.ble import uuids
from devices.ble.gatt import GattClient, Property, ScanFunction
from devices.ble.simulated_peripheral import (
    SimulatedPeripheral,
    advertising_data,
    battery_and_device_information,
)
from devices.ble.virtual_link import VirtualBleLink
from devices.errors import (
    ConnectionLostError,
    DeviceConfigurationError,
    DeviceError,
    DeviceNotFoundError,
)

T = TypeVar("T")

# Byte fixtures from docs/protocols.md (Nordic and SpeziBluetooth test vectors).
HTS_37_60_FINGER = bytes.fromhex("06 B0 0E 00 FE DC 07 0C 05 0B 32 1B 04")
PLX_CONTINUOUS_100_90 = bytes.fromhex("00 E8 F3 84 F3")
PLX_CONTINUOUS_PAI = bytes.fromhex("1C 5F 00 5A 00 20 00 00 00 00 57 F0")
PLX_SPOT_CHECK = bytes.fromhex("0F AC F3 BE F5 E8 07 0B 1D 17 08 39 20 40 22 00 00 66 E3")
BP_138_88 = bytes.fromhex("1E 8A 00 58 00 78 00 00 00 04 11 14 29 3B 3C 00 01 27 00")
WEIGHT_70_KG = bytes.fromhex("00 B0 36")

THERMOMETER = "F0:00:00:00:18:09"
OXIMETER = "F0:00:00:00:18:22"
BLOOD_PRESSURE = "F0:00:00:00:18:10"
SCALE = "F0:00:00:00:18:1D"


def run(scenario: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    """Run one scenario on a fresh loop; a hang becomes a TimeoutError, not a stuck suite."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await scenario

    return asyncio.run(bounded())


def thermometer() -> SimulatedPeripheral:
    return SimulatedPeripheral(
        THERMOMETER, "Thermo", [
            (uuids.HEALTH_THERMOMETER_SERVICE, [
                (uuids.TEMPERATURE_MEASUREMENT, Property.INDICATE, b""),
            ]),
            *battery_and_device_information(battery_level=87, manufacturer="ACME Medical",
                                            model="TH-1", serial="SN-0042", firmware="2.1.0"),
        ], advertising_interval_ms=1)


def oximeter() -> SimulatedPeripheral:
    return SimulatedPeripheral(
        OXIMETER, "Oxi", [
            (uuids.PULSE_OXIMETER_SERVICE, [
                (uuids.PLX_SPOT_CHECK_MEASUREMENT, Property.INDICATE, b""),
                (uuids.PLX_CONTINUOUS_MEASUREMENT, Property.NOTIFY, b""),
                (uuids.PLX_FEATURES, Property.READ, b"\x00\x00"),
            ]),
            *battery_and_device_information(battery_level=55),
        ], advertising_interval_ms=1)


def blood_pressure() -> SimulatedPeripheral:
    return SimulatedPeripheral(BLOOD_PRESSURE, "BP", [
        (uuids.BLOOD_PRESSURE_SERVICE, [
            (uuids.BLOOD_PRESSURE_MEASUREMENT, Property.INDICATE, b""),
        ]),
    ], advertising_interval_ms=1)


def scale() -> SimulatedPeripheral:
    return SimulatedPeripheral(SCALE, "Scale", [
        (uuids.WEIGHT_SCALE_SERVICE, [(uuids.WEIGHT_MEASUREMENT, Property.INDICATE, b"")]),
    ], advertising_interval_ms=1)


async def connected(*peripherals: SimulatedPeripheral) -> tuple[VirtualBleLink, list[GattClient]]:
    """A started link with ``peripherals`` on it and one connected client for each."""
    link = VirtualBleLink()
    await link.start()
    clients: list[GattClient] = []
    for peripheral in peripherals:
        await link.add(peripheral)
        client = link.client(peripheral.address)
        await client.connect(timeout=5)
        clients.append(client)
    return link, clients


def test_central_discovers_services_and_characteristics() -> None:
    async def scenario() -> None:
        link, [client] = await connected(thermometer())
        services = client.services()
        assert services[uuids.HEALTH_THERMOMETER_SERVICE] == {
            uuids.TEMPERATURE_MEASUREMENT: Property.INDICATE}
        assert services[uuids.BATTERY_SERVICE] == {
            uuids.BATTERY_LEVEL: Property.READ | Property.NOTIFY}
        assert services[uuids.DEVICE_INFORMATION_SERVICE] == {
            uuid: Property.READ for uuid in (uuids.MANUFACTURER_NAME, uuids.MODEL_NUMBER,
                                             uuids.SERIAL_NUMBER, uuids.FIRMWARE_REVISION)}
        # bumble adds GAP and GATT services, as every real stack does.
        assert uuids.GENERIC_ACCESS_SERVICE in services
        assert client.is_connected
        await link.close()

    run(scenario())


def test_reads_battery_level_and_device_information() -> None:
    async def scenario() -> None:
        link, [client] = await connected(thermometer())
        assert await client.read(uuids.BATTERY_LEVEL) == bytes([87])
        assert await client.read(0x2A29) == b"ACME Medical"
        assert await client.read("2a24") == b"TH-1"
        assert await client.read(uuids.SERIAL_NUMBER) == b"SN-0042"
        assert await client.read(uuids.FIRMWARE_REVISION) == b"2.1.0"
        await link.close()

    run(scenario())


def test_a_read_sees_the_value_the_simulator_set() -> None:
    async def scenario() -> None:
        sim = thermometer()
        link, [client] = await connected(sim)
        sim.set_value(uuids.BATTERY_LEVEL, bytes([12]))
        assert await client.read(uuids.BATTERY_LEVEL) == bytes([12])
        assert sim.value(uuids.BATTERY_LEVEL) == bytes([12])
        await link.close()

    run(scenario())


def test_indication_arrives_byte_exact_and_is_confirmed() -> None:
    async def scenario() -> None:
        sim = thermometer()
        link, [client] = await connected(sim)
        received: asyncio.Queue[bytes] = asyncio.Queue()
        await client.subscribe(uuids.TEMPERATURE_MEASUREMENT, received.put_nowait)
        assert sim.is_subscribed(uuids.TEMPERATURE_MEASUREMENT)
        # indicate() returns once the central confirmed, so the value is already in.
        await sim.indicate(uuids.TEMPERATURE_MEASUREMENT, HTS_37_60_FINGER)
        assert received.get_nowait() == HTS_37_60_FINGER
        assert received.empty()
        await link.close()

    run(scenario())


def test_notifications_arrive_byte_exact_and_in_order() -> None:
    async def scenario() -> None:
        sim = oximeter()
        link, [client] = await connected(sim)
        received: asyncio.Queue[bytes] = asyncio.Queue()
        await client.subscribe(uuids.PLX_CONTINUOUS_MEASUREMENT, received.put_nowait)
        await sim.notify(uuids.PLX_CONTINUOUS_MEASUREMENT, PLX_CONTINUOUS_100_90)
        await sim.notify(uuids.PLX_CONTINUOUS_MEASUREMENT, PLX_CONTINUOUS_PAI)
        assert await received.get() == PLX_CONTINUOUS_100_90
        assert await received.get() == PLX_CONTINUOUS_PAI
        await link.close()

    run(scenario())


def test_notify_and_indicate_on_one_peripheral() -> None:
    async def scenario() -> None:
        sim = oximeter()
        link, [client] = await connected(sim)
        spot: asyncio.Queue[bytes] = asyncio.Queue()
        continuous: asyncio.Queue[bytes] = asyncio.Queue()
        await client.subscribe(uuids.PLX_SPOT_CHECK_MEASUREMENT, spot.put_nowait)
        await client.subscribe(uuids.PLX_CONTINUOUS_MEASUREMENT, continuous.put_nowait)
        await sim.notify(uuids.PLX_CONTINUOUS_MEASUREMENT, PLX_CONTINUOUS_100_90)
        await sim.indicate(uuids.PLX_SPOT_CHECK_MEASUREMENT, PLX_SPOT_CHECK)
        assert await continuous.get() == PLX_CONTINUOUS_100_90
        assert await spot.get() == PLX_SPOT_CHECK  # 19 bytes: fits the default MTU too
        assert continuous.empty()
        assert spot.empty()
        await link.close()

    run(scenario())


def test_several_peripherals_at_once_on_one_link() -> None:
    async def scenario() -> None:
        sims = [thermometer(), oximeter(), blood_pressure(), scale()]
        link, clients = await connected(*sims)
        queues: list[asyncio.Queue[bytes]] = [asyncio.Queue() for _ in sims]
        characteristic = [uuids.TEMPERATURE_MEASUREMENT, uuids.PLX_CONTINUOUS_MEASUREMENT,
                          uuids.BLOOD_PRESSURE_MEASUREMENT, uuids.WEIGHT_MEASUREMENT]
        for client, char, queue in zip(clients, characteristic, queues, strict=True):
            await client.subscribe(char, queue.put_nowait)
        await asyncio.gather(
            sims[0].indicate(uuids.TEMPERATURE_MEASUREMENT, HTS_37_60_FINGER),
            sims[1].notify(uuids.PLX_CONTINUOUS_MEASUREMENT, PLX_CONTINUOUS_100_90),
            sims[2].indicate(uuids.BLOOD_PRESSURE_MEASUREMENT, BP_138_88),
            sims[3].indicate(uuids.WEIGHT_MEASUREMENT, WEIGHT_70_KG),
        )
        expected = [HTS_37_60_FINGER, PLX_CONTINUOUS_100_90, BP_138_88, WEIGHT_70_KG]
        assert [await queue.get() for queue in queues] == expected
        assert all(queue.empty() for queue in queues)  # nothing crossed over
        assert [await c.read(uuids.BATTERY_LEVEL) for c in clients[:2]] == [b"\x57", b"\x37"]
        await link.close()

    run(scenario())


def test_scan_sees_every_advertiser() -> None:
    async def scenario() -> None:
        link = VirtualBleLink()
        for sim in (thermometer(), oximeter(), blood_pressure()):
            await link.add(sim)
        scan: ScanFunction = link.scan  # the same signature as the bleak scan
        seen = {ad.address: ad for ad in await scan(0.05)}
        assert set(seen) == {THERMOMETER, OXIMETER, BLOOD_PRESSURE}
        assert seen[THERMOMETER].name == "Thermo"
        assert seen[THERMOMETER].service_uuids == (
            uuids.HEALTH_THERMOMETER_SERVICE, uuids.BATTERY_SERVICE,
            uuids.DEVICE_INFORMATION_SERVICE)
        assert seen[OXIMETER].rssi is not None
        only_oximeters = await scan(0.05, service_uuids=[uuids.PULSE_OXIMETER_SERVICE])
        assert [ad.name for ad in only_oximeters] == ["Oxi"]
        await link.close()

    run(scenario())


def test_a_connected_peripheral_stops_advertising_and_resumes_after_disconnect() -> None:
    async def scenario() -> None:
        link, [client] = await connected(thermometer())
        assert await link.scan(0.05) == []
        await client.disconnect()
        assert not client.is_connected
        # Advertising resumes a few loop turns later; scan until seen (the timeout bounds it).
        seen: list[str] = []
        while not seen:
            seen = [ad.address for ad in await link.scan(0.02)]
        assert seen == [THERMOMETER]
        await link.close()

    run(scenario())


def test_dropped_link_is_announced_and_later_reads_raise_connection_lost() -> None:
    async def scenario() -> None:
        sim = thermometer()
        link, [client] = await connected(sim)
        heard: list[ConnectionLostError] = []
        client.on_connection_lost(heard.append)
        waiter = asyncio.ensure_future(client.wait_connection_lost())
        await sim.drop_link()
        lost = await waiter
        assert heard == [lost]
        assert client.connection_lost is lost
        assert str(lost) == (f"Lost the Bluetooth link to {THERMOMETER}: the device stopped"
                             " answering (out of range, switched off or battery flat)")
        assert not client.is_connected
        with pytest.raises(ConnectionLostError) as raised:
            await client.read(uuids.BATTERY_LEVEL)
        assert raised.value is lost
        with pytest.raises(ConnectionLostError):
            await client.subscribe(uuids.TEMPERATURE_MEASUREMENT, print)
        await link.close()

    run(scenario())


def test_a_requested_disconnect_is_not_a_loss() -> None:
    async def scenario() -> None:
        link, [client] = await connected(thermometer())
        heard: list[ConnectionLostError] = []
        client.on_connection_lost(heard.append)
        await client.disconnect()
        await asyncio.sleep(0.01)  # let the disconnection event travel the link
        assert heard == []
        assert client.connection_lost is None
        with pytest.raises(DeviceError, match="is not connected"):
            await client.read(uuids.BATTERY_LEVEL)
        await client.disconnect()  # idempotent
        await link.close()

    run(scenario())


def test_connecting_to_an_address_nobody_advertises_raises_not_found() -> None:
    async def scenario() -> None:
        link = VirtualBleLink()
        await link.add(thermometer())
        with pytest.raises(DeviceNotFoundError, match=r"did not answer within 0\.2 s"):
            await link.client("F0:00:00:00:99:99").connect(timeout=0.2)
        # The cancelled attempt left the controller usable: the next connect works.
        async with link.client(THERMOMETER) as client:
            assert await client.read(uuids.BATTERY_LEVEL) == bytes([87])
        await link.close()

    run(scenario())


def test_a_vanished_device_is_not_found_until_it_comes_back() -> None:
    async def scenario() -> None:
        sim = thermometer()
        link, [client] = await connected(sim)
        await sim.drop_link()
        await client.wait_connection_lost()
        with pytest.raises(DeviceNotFoundError):
            await client.connect(timeout=0.1)
        await sim.start_advertising()
        await client.connect(timeout=5)
        assert client.connection_lost is None  # a new connection forgets the old loss
        assert await client.read(uuids.BATTERY_LEVEL) == bytes([87])
        received: asyncio.Queue[bytes] = asyncio.Queue()
        await client.subscribe(uuids.TEMPERATURE_MEASUREMENT, received.put_nowait)
        await sim.indicate(uuids.TEMPERATURE_MEASUREMENT, HTS_37_60_FINGER)
        assert received.get_nowait() == HTS_37_60_FINGER
        await link.close()

    run(scenario())


def test_unsubscribe_stops_delivery() -> None:
    async def scenario() -> None:
        sim = oximeter()
        link, [client] = await connected(sim)
        received: list[bytes] = []
        await client.subscribe(uuids.PLX_CONTINUOUS_MEASUREMENT, received.append)
        await client.unsubscribe(uuids.PLX_CONTINUOUS_MEASUREMENT)
        assert not sim.is_subscribed(uuids.PLX_CONTINUOUS_MEASUREMENT)
        await sim.notify(uuids.PLX_CONTINUOUS_MEASUREMENT, PLX_CONTINUOUS_100_90)
        await client.read(uuids.PLX_FEATURES)  # a round trip: any notification would be in
        assert received == []
        await client.unsubscribe(uuids.PLX_CONTINUOUS_MEASUREMENT)  # harmless twice
        await link.close()

    run(scenario())


def test_simulator_can_wait_for_the_subscription() -> None:
    async def scenario() -> None:
        sim = thermometer()
        link, [client] = await connected(sim)
        waiting = asyncio.ensure_future(sim.wait_subscribed(uuids.TEMPERATURE_MEASUREMENT))
        await asyncio.sleep(0)
        assert not waiting.done()
        await client.subscribe(uuids.TEMPERATURE_MEASUREMENT, print)
        await waiting
        await link.close()

    run(scenario())


def test_a_failing_callback_does_not_stall_indications() -> None:
    async def scenario() -> None:
        sim = thermometer()
        link, [client] = await connected(sim)
        calls: list[bytes] = []

        def broken(data: bytes) -> None:
            calls.append(data)
            raise RuntimeError("driver bug")

        await client.subscribe(uuids.TEMPERATURE_MEASUREMENT, broken)
        await sim.indicate(uuids.TEMPERATURE_MEASUREMENT, HTS_37_60_FINGER)
        await sim.indicate(uuids.TEMPERATURE_MEASUREMENT, HTS_37_60_FINGER)  # still confirmed
        assert calls == [HTS_37_60_FINGER, HTS_37_60_FINGER]
        await link.close()

    run(scenario())


def test_asking_for_what_the_device_lacks_is_a_configuration_error() -> None:
    async def scenario() -> None:
        link, [client] = await connected(thermometer())
        with pytest.raises(DeviceConfigurationError,
                           match=r"has no characteristic 2a5f \(PLX Continuous Measurement\)"):
            await client.read(uuids.PLX_CONTINUOUS_MEASUREMENT)
        with pytest.raises(DeviceConfigurationError, match="does not allow read"):
            await client.read(uuids.TEMPERATURE_MEASUREMENT)
        with pytest.raises(DeviceConfigurationError, match="does not allow notify or indicate"):
            await client.subscribe(uuids.MODEL_NUMBER, print)
        await link.close()

    run(scenario())


def test_simulator_rejects_what_a_real_device_could_not_send() -> None:
    with pytest.raises(ValueError, match="over the 31 a legacy advertisement carries"):
        advertising_data("A name far too long for an advertisement", [uuids.BATTERY_SERVICE])

    async def scenario() -> None:
        sim = thermometer()
        link, _ = await connected(sim)
        with pytest.raises(ValueError, match="is not declared NOTIFY"):
            await sim.notify(uuids.TEMPERATURE_MEASUREMENT, HTS_37_60_FINGER)
        with pytest.raises(ValueError, match="exceed the ATT MTU"):
            await sim.indicate(uuids.TEMPERATURE_MEASUREMENT, bytes(600))
        await link.close()

    run(scenario())


def test_a_bad_address_is_a_configuration_error() -> None:
    async def scenario() -> None:
        link = VirtualBleLink()
        await link.start()
        with pytest.raises(DeviceConfigurationError, match="is not a Bluetooth address"):
            await link.client("not-an-address").connect(timeout=0.1)
        await link.close()

    run(scenario())
