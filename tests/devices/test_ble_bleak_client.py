"""bleak errors become devices.errors with a sentence a technician can act on.

(a) runs the real bleak on this machine, which has no D-Bus; (b) runs bleak's
real BlueZ manager against a stand-in D-Bus bus, so bleak itself builds the
BleakDBusError from a D-Bus error reply; (c) drives the client through a
fake bleak backend (bleak's own ``backend=`` plug-in point).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from bleak import BleakScanner
from bleak.backends.bluezdbus import manager as bluez_manager
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.service import BleakGATTService, BleakGATTServiceCollection
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakCharacteristicNotFoundError,
    BleakDBusError,
    BleakError,
)
from dbus_fast import Message, MessageType

from devices.ble import bleak_client, uuids
from devices.ble.bleak_client import BleakGattClient, translate_error
from devices.ble.gatt import Property
from devices.errors import (
    ConnectionLostError,
    DeviceConfigurationError,
    DeviceError,
    DeviceNotFoundError,
    DeviceUnavailableError,
)

T = TypeVar("T")
ADDRESS = "AA:BB:CC:DD:EE:FF"
HTS_37_60_FINGER = bytes.fromhex("06 B0 0E 00 FE DC 07 0C 05 0B 32 1B 04")

NO_DBUS_MESSAGE = ("No Bluetooth here: the D-Bus system bus is missing"
                   " (is this a container? install and start dbus and bluez)")
NO_BLUEZ_MESSAGE = ("No Bluetooth here: BlueZ is not running"
                    " (install bluez and start it: systemctl start bluetooth)")

has_system_bus = (Path("/run/dbus/system_bus_socket").exists()
                  or Path("/var/run/dbus/system_bus_socket").exists()
                  or "DBUS_SYSTEM_BUS_ADDRESS" in os.environ)


def run(scenario: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    """Run one scenario on a fresh loop under an overall timeout."""

    async def bounded() -> T:
        async with asyncio.timeout(timeout):
            return await scenario

    return asyncio.run(bounded())


# --- (a) the real bleak on this machine --------------------------------------------

@pytest.mark.skipif(has_system_bus, reason="this machine has a D-Bus system bus")
def test_real_scan_without_dbus_says_so() -> None:
    with pytest.raises(DeviceUnavailableError) as raised:
        run(bleak_client.scan(timeout=0.2))
    assert str(raised.value) == NO_DBUS_MESSAGE
    assert isinstance(raised.value.__cause__, FileNotFoundError)


@pytest.mark.skipif(has_system_bus, reason="this machine has a D-Bus system bus")
def test_real_connect_without_dbus_says_so() -> None:
    with pytest.raises(DeviceUnavailableError, match="D-Bus system bus is missing"):
        run(BleakGattClient(ADDRESS).connect(timeout=0.2))


# --- (b) bleak's BlueZ manager against a stand-in D-Bus ---------------------------

class StandInBus:
    """Answers like a D-Bus daemon: AddMatch succeeds; org.bluez per ``bluez_reply``."""

    bluez_reply: Callable[[Message], Message]

    def __init__(self, **_: object) -> None:
        self.connected = False
        self.serial = 0

    async def connect(self) -> StandInBus:
        self.connected = True
        return self

    def add_message_handler(self, handler: object) -> None:
        pass

    async def call(self, message: Message) -> Message:
        self.serial += 1
        message.serial = self.serial  # as the real bus does on send; replies refer to it
        if message.destination == "org.bluez":
            return type(self).bluez_reply(message)
        return Message.new_method_return(message)

    def disconnect(self) -> None:
        self.connected = False

    async def wait_for_disconnect(self) -> None:
        await asyncio.Event().wait()


def bluez_not_running(message: Message) -> Message:
    """The reply dbus-daemon sends when nothing owns the org.bluez name."""
    return Message.new_error(message, "org.freedesktop.DBus.Error.ServiceUnknown",
                             "The name org.bluez was not provided by any .service files")


def bluez_without_adapter(message: Message) -> Message:
    """GetManagedObjects of a BlueZ that has no adapter: no objects at all."""
    return Message.new_method_return(message, "a{oa{sa{sv}}}", [{}])


@pytest.fixture
def stand_in_bus(monkeypatch: pytest.MonkeyPatch) -> type[StandInBus]:
    # bleak keeps one manager per event loop in a module table; give these
    # tests their own table so no stand-in bus outlives them (a later real
    # bleak call would try to finalise it).
    monkeypatch.setattr(bluez_manager, "MessageBus", StandInBus)
    monkeypatch.setattr(bluez_manager, "_global_instances", {})
    return StandInBus


def test_the_stand_in_reply_is_a_real_dbus_error(stand_in_bus: type[StandInBus]) -> None:
    reply = bluez_not_running(Message(destination="org.bluez", path="/",
                                      interface="org.freedesktop.DBus.ObjectManager",
                                      member="GetManagedObjects", serial=1))
    assert reply.message_type == MessageType.ERROR
    assert reply.body == ["The name org.bluez was not provided by any .service files"]


def test_scan_without_bluez_says_so(stand_in_bus: type[StandInBus]) -> None:
    stand_in_bus.bluez_reply = bluez_not_running
    with pytest.raises(DeviceUnavailableError) as raised:
        run(bleak_client.scan(timeout=0.2))
    assert str(raised.value) == NO_BLUEZ_MESSAGE
    cause = raised.value.__cause__
    assert isinstance(cause, BleakDBusError)  # built by bleak from the D-Bus reply
    assert cause.dbus_error == "org.freedesktop.DBus.Error.ServiceUnknown"


def test_connect_without_bluez_says_so(stand_in_bus: type[StandInBus]) -> None:
    stand_in_bus.bluez_reply = bluez_not_running
    with pytest.raises(DeviceUnavailableError, match="BlueZ is not running"):
        run(BleakGattClient(ADDRESS).connect(timeout=0.2))


def test_scan_without_adapter_says_so(stand_in_bus: type[StandInBus]) -> None:
    stand_in_bus.bluez_reply = bluez_without_adapter
    with pytest.raises(DeviceUnavailableError, match="No Bluetooth adapter found: plug one in"):
        run(bleak_client.scan(timeout=0.2))


# --- (c) the client through a fake bleak backend ----------------------------------

class FakeBackend(BaseBleakClient):
    """A peripheral with a thermometer and a battery, and knobs to make things go wrong."""

    last: FakeBackend
    connect_error: BaseException | None = None
    read_error: BaseException | None = None

    def __init__(self, address: str, **kwargs: Any) -> None:
        super().__init__(address, disconnected_callback=kwargs["disconnected_callback"],
                         timeout=kwargs["timeout"])
        self.connected = False
        self.notifying: dict[str, Callable[[bytearray], None]] = {}
        type(self).last = self

    @property
    def mtu_size(self) -> int:
        return 23

    @property
    def is_connected(self) -> bool:
        return self.connected

    async def connect(self, pair: bool, **kwargs: Any) -> None:
        if self.connect_error is not None:
            raise self.connect_error
        self.services = gatt_table()
        self.connected = True

    async def disconnect(self) -> None:
        self.connected = False
        self.vanish()  # BlueZ calls the callback on a requested disconnect too

    def vanish(self) -> None:
        self.connected = False
        if self._disconnected_callback is not None:
            self._disconnected_callback()

    async def read_gatt_char(self, characteristic: BleakGATTCharacteristic,
                             **kwargs: Any) -> bytearray:
        if self.read_error is not None:
            raise self.read_error
        return bytearray([87])

    async def start_notify(self, characteristic: BleakGATTCharacteristic,
                           callback: Callable[[bytearray], None], **kwargs: Any) -> None:
        self.notifying[characteristic.uuid] = callback

    async def stop_notify(self, characteristic: BleakGATTCharacteristic) -> None:
        del self.notifying[characteristic.uuid]

    async def pair(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    async def unpair(self) -> None:
        raise NotImplementedError

    async def read_gatt_descriptor(self, *args: Any, **kwargs: Any) -> bytearray:
        raise NotImplementedError

    async def write_gatt_char(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    async def write_gatt_descriptor(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError


def gatt_table() -> BleakGATTServiceCollection:
    collection = BleakGATTServiceCollection()
    handle = 1
    for service_uuid, chars in ((uuids.HEALTH_THERMOMETER_SERVICE,
                                 [(uuids.TEMPERATURE_MEASUREMENT, ["indicate"])]),
                                (uuids.BATTERY_SERVICE,
                                 [(uuids.BATTERY_LEVEL, ["read", "notify"])])):
        service = BleakGATTService(None, handle, service_uuid)
        collection.add_service(service)
        for char_uuid, properties in chars:
            handle += 2
            char = BleakGATTCharacteristic(None, handle, char_uuid, properties,  # type: ignore[arg-type]
                                           lambda: 20, service)
            collection.add_characteristic(char)  # also files it under its service
        handle += 1
    return collection


@pytest.fixture
def backend() -> type[FakeBackend]:
    FakeBackend.connect_error = None
    FakeBackend.read_error = None
    return FakeBackend


def test_fake_backend_connects_discovers_reads_and_subscribes(backend: type[FakeBackend]) -> None:
    async def scenario() -> None:
        async with BleakGattClient(ADDRESS, backend=backend) as client:
            assert client.services() == {
                uuids.HEALTH_THERMOMETER_SERVICE: {
                    uuids.TEMPERATURE_MEASUREMENT: Property.INDICATE},
                uuids.BATTERY_SERVICE: {uuids.BATTERY_LEVEL: Property.READ | Property.NOTIFY},
            }
            assert await client.read(uuids.BATTERY_LEVEL) == bytes([87])
            received: list[bytes] = []
            await client.subscribe(0x2A1C, received.append)
            backend.last.notifying[uuids.TEMPERATURE_MEASUREMENT](bytearray(HTS_37_60_FINGER))
            assert received == [HTS_37_60_FINGER]
            await client.unsubscribe(uuids.TEMPERATURE_MEASUREMENT)
            assert backend.last.notifying == {}

    run(scenario())


def test_device_not_found_is_translated(backend: type[FakeBackend],
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    async def nobody(*args: object, **kwargs: object) -> None:
        return None

    # bleak's BlueZ client raises BleakDeviceNotFoundError itself when the scan finds nothing.
    monkeypatch.setattr(BleakScanner, "find_device_by_address", nobody)
    monkeypatch.setattr("bleak.backends.bluezdbus.client.BlueZFeatures.checked_bluez_version",
                        True)
    with pytest.raises(DeviceNotFoundError) as raised:
        run(BleakGattClient(ADDRESS).connect(timeout=0.2))
    assert str(raised.value) == (f"Bluetooth device {ADDRESS} was not found:"
                                 " is it switched on, in range and advertising?")


def test_connect_timeout_means_not_found(backend: type[FakeBackend]) -> None:
    backend.connect_error = TimeoutError()
    with pytest.raises(DeviceNotFoundError, match=f"{ADDRESS} did not answer within 3 s"):
        run(BleakGattClient(ADDRESS, backend=backend).connect(timeout=3))


def test_disconnection_is_announced_as_connection_lost(backend: type[FakeBackend]) -> None:
    async def scenario() -> None:
        client = BleakGattClient(ADDRESS, backend=backend)
        await client.connect()
        heard: list[ConnectionLostError] = []
        client.on_connection_lost(heard.append)
        backend.last.vanish()
        lost = await client.wait_connection_lost()
        assert heard == [lost]
        assert not client.is_connected
        with pytest.raises(ConnectionLostError) as raised:
            await client.read(uuids.BATTERY_LEVEL)
        assert raised.value is lost

    run(scenario())


def test_requested_disconnect_is_not_a_loss(backend: type[FakeBackend]) -> None:
    async def scenario() -> None:
        client = BleakGattClient(ADDRESS, backend=backend)
        await client.connect()
        await client.disconnect()
        assert client.connection_lost is None

    run(scenario())


def test_not_connected_during_a_read_is_connection_lost(backend: type[FakeBackend]) -> None:
    backend.read_error = BleakError("Not connected")

    async def scenario() -> None:
        async with BleakGattClient(ADDRESS, backend=backend) as client:
            with pytest.raises(ConnectionLostError, match=f"Lost the Bluetooth link to {ADDRESS}"):
                await client.read(uuids.BATTERY_LEVEL)

    run(scenario())


def test_other_bleak_errors_keep_their_message(backend: type[FakeBackend]) -> None:
    backend.read_error = BleakDBusError("org.bluez.Error.Failed", ["Operation failed"])

    async def scenario() -> None:
        async with BleakGattClient(ADDRESS, backend=backend) as client:
            with pytest.raises(DeviceError) as raised:
                await client.read(uuids.BATTERY_LEVEL)
        assert type(raised.value) is DeviceError
        assert str(raised.value) == (f"Bluetooth device {ADDRESS} error:"
                                     " [org.bluez.Error.Failed] Operation failed")

    run(scenario())


@pytest.mark.parametrize(("native", "expected", "message"), [
    (FileNotFoundError(2, "No such file or directory"), DeviceUnavailableError, NO_DBUS_MESSAGE),
    (ConnectionRefusedError(111, "Connection refused"), DeviceUnavailableError,
     "D-Bus system bus refused the connection"),
    (BleakDBusError("org.freedesktop.DBus.Error.AccessDenied", []), DeviceUnavailableError,
     "may not talk to BlueZ"),
    (BleakDBusError("org.bluez.Error.NotReady", ["Resource Not Ready"]),
     DeviceUnavailableError, "adapter is switched off"),
    (BleakDBusError("org.bluez.Error.NotConnected", ["Not Connected"]), ConnectionLostError,
     f"Lost the Bluetooth link to {ADDRESS}"),
    (BleakBluetoothNotAvailableError("No powered Bluetooth adapters found.",
                                     BleakBluetoothNotAvailableReason.POWERED_OFF),
     DeviceUnavailableError, "bluetoothctl power on"),
    (BleakCharacteristicNotFoundError(uuids.PLX_FEATURES), DeviceConfigurationError,
     f"has no characteristic {uuids.PLX_FEATURES}"),
    (BleakError("Bleak requires BlueZ >= 5.55."), DeviceError, "requires BlueZ >= 5.55"),
    (TimeoutError(), DeviceError, "did not answer in time"),
])
def test_translation_table(native: BaseException, expected: type[DeviceError],
                           message: str) -> None:
    translated = translate_error(native, ADDRESS)
    assert type(translated) is expected
    assert message in str(translated)
