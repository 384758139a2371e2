"""A generic BLE peripheral on the virtual link: the radio half of every BLE simulator.

:class:`SimulatedPeripheral` knows nothing of oximeters or thermometers: a
simulator hands it an address, a name and its GATT table, then pushes the
bytes its protocol module encodes with :meth:`~SimulatedPeripheral.notify`
or :meth:`~SimulatedPeripheral.indicate`.

Pacing is the simulator's job. bumble's ``notify_subscribers`` returns at
once with no backpressure: an unthrottled burst piles up in the event loop
and latency grows without bound. A simulator must send at the device's real
rate (e.g. one PLX Continuous notification per second, a pleth packet every
20 ms). ``indicate`` is naturally paced: it waits for the central's
confirmation, as the ATT protocol requires.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Collection, Sequence
from typing import Any

from bumble import att, hci
from bumble import gatt as bumble_gatt
from bumble.core import UUID, AdvertisingData
from bumble.device import Connection, Device

from devices.ble import uuids
from devices.ble.gatt import Property
from devices.ble.uuids import describe, normalize_uuid, short_form

logger = logging.getLogger(__name__)

CharSpec = tuple[str | int, Property, bytes]
"""One characteristic: UUID, properties (READ / NOTIFY / INDICATE ...), initial value."""

ServiceSpec = tuple[str | int, Sequence[CharSpec]]
"""One service: UUID and its characteristics."""

_MAX_ADVERTISING_DATA = 31  # legacy advertising PDU payload, as real health devices use


def battery_and_device_information(
    *, battery_level: int = 100, manufacturer: str = "Simulated", model: str = "SIM-1",
    serial: str = "0001", firmware: str = "1.0",
) -> list[ServiceSpec]:
    """Battery Service (level readable and notified) and Device Information strings."""
    if not 0 <= battery_level <= 100:
        raise ValueError(f"battery level {battery_level} is not a percentage")
    return [
        (uuids.BATTERY_SERVICE, [
            (uuids.BATTERY_LEVEL, Property.READ | Property.NOTIFY, bytes([battery_level])),
        ]),
        (uuids.DEVICE_INFORMATION_SERVICE, [
            (uuids.MANUFACTURER_NAME, Property.READ, manufacturer.encode()),
            (uuids.MODEL_NUMBER, Property.READ, model.encode()),
            (uuids.SERIAL_NUMBER, Property.READ, serial.encode()),
            (uuids.FIRMWARE_REVISION, Property.READ, firmware.encode()),
        ]),
    ]


def _bumble_uuid(uuid: str) -> UUID:
    """16-bit form when possible, so advertising data and declarations stay short."""
    number = short_form(uuid)
    return UUID.from_16_bits(number) if number is not None and number <= 0xFFFF else UUID(uuid)


def advertising_data(name: str, service_uuids: Sequence[str]) -> bytes:
    """Flags, service UUID lists and complete local name, checked against the 31-byte limit."""
    converted = [_bumble_uuid(uuid) for uuid in service_uuids]
    short = [uuid for uuid in converted if len(uuid.uuid_bytes) == 2]
    long = [uuid for uuid in converted if len(uuid.uuid_bytes) != 2]
    structures: list[tuple[int, bytes]] = [
        # LE General Discoverable, BR/EDR not supported: what a health sensor sends.
        (AdvertisingData.Type.FLAGS, bytes([0x06])),
    ]
    if short:
        structures.append((AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                           b"".join(bytes(uuid) for uuid in short)))
    if long:
        structures.append((AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                           b"".join(bytes(uuid) for uuid in long)))
    structures.append((AdvertisingData.Type.COMPLETE_LOCAL_NAME, name.encode()))
    data = bytes(AdvertisingData(structures))
    if len(data) > _MAX_ADVERTISING_DATA:
        raise ValueError(f"advertising data for {name!r} is {len(data)} bytes, over the"
                         f" {_MAX_ADVERTISING_DATA} a legacy advertisement carries:"
                         " shorten the name or advertise fewer services")
    return data


class SimulatedPeripheral:
    """A BLE peripheral with a fixed GATT table, living on a :class:`VirtualBleLink`.

    ``advertising_interval_ms`` is how often it advertises; a connection
    waits for the next advertisement, so tests use 1 ms. (bumble's
    controller clamps extended advertising to >= 10 ms, so 1 ms means 10.)
    ``advertised_services`` defaults to every service of the table.
    """

    def __init__(self, address: str, name: str, services: Sequence[ServiceSpec], *,
                 advertising_interval_ms: float = 100.0,
                 advertised_services: Collection[str | int] | None = None) -> None:
        self._address = address.upper()
        self._name = name
        self._interval_ms = advertising_interval_ms
        self._characteristics: dict[str, bumble_gatt.Characteristic[Any]] = {}
        self._services = [self._service(uuid, chars) for uuid, chars in services]
        advertised = (advertised_services if advertised_services is not None
                      else [uuid for uuid, _ in services])
        self._advertising_data = advertising_data(name, [normalize_uuid(u) for u in advertised])
        self._device: Device | None = None
        self._vanished = False
        self._tasks: set[asyncio.Task[None]] = set()
        # Advertising changes are HCI command sequences; interleaving two (say a
        # re-advertise after a disconnect and a detach) corrupts bumble's state,
        # and so does cancelling one midway. Hence one lock, and no cancel.
        self._advertising = asyncio.Lock()

    def _service(self, uuid: str | int, chars: Sequence[CharSpec]) -> bumble_gatt.Service:
        built = []
        for char_uuid, properties, value in chars:
            canonical = normalize_uuid(char_uuid)
            if canonical in self._characteristics:
                raise ValueError(f"characteristic {describe(canonical)} is declared twice")
            characteristic: bumble_gatt.Characteristic[Any] = bumble_gatt.Characteristic(
                _bumble_uuid(canonical), bumble_gatt.Characteristic.Properties(properties.value),
                # Readable only if declared so: a central reading a notify-only
                # characteristic gets the ATT error a real device would send.
                att.Attribute.READABLE if Property.READ in properties
                else att.Attribute.Permissions(0),
                bytes(value))
            self._characteristics[canonical] = characteristic
            built.append(characteristic)
        return bumble_gatt.Service(_bumble_uuid(normalize_uuid(uuid)), built)

    @property
    def address(self) -> str:
        """Bluetooth address, upper case with colons."""
        return self._address

    @property
    def name(self) -> str:
        """The complete local name it advertises."""
        return self._name

    @property
    def advertising_interval_ms(self) -> float:
        """The advertising interval asked for (see the class note on bumble's 10 ms floor)."""
        return self._interval_ms

    @property
    def is_connected(self) -> bool:
        """True while a central is connected."""
        return self._device is not None and bool(self._device.connections)

    async def attach(self, device: Device) -> None:
        """Install the GATT table on ``device`` and advertise (called by ``VirtualBleLink.add``)."""
        self._device = device
        device.add_services(self._services)
        device.on(Device.EVENT_CONNECTION, self._on_connection)
        await device.power_on()
        await self.start_advertising()

    async def detach(self) -> None:
        """Stop advertising, drop any link and leave the radio (called by ``remove``)."""
        device = self._device
        if device is None:
            return
        self._vanished = True
        async with self._advertising:
            await device.stop_advertising()
        for connection in list(device.connections.values()):
            await connection.disconnect()
        self._device = None
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def start_advertising(self) -> None:
        """Advertise (again): after :meth:`drop_link`, this is the device coming back."""
        device = self._attached()
        self._vanished = False
        async with self._advertising:
            await self._advertise(device)

    async def _advertise(self, device: Device) -> None:
        await device.start_advertising(
            advertising_data=self._advertising_data,
            advertising_interval_min=self._interval_ms,
            advertising_interval_max=self._interval_ms)

    async def set_advertising_interval(self, interval_ms: float) -> None:
        """Change the advertising interval, restarting advertising if it is running."""
        self._interval_ms = interval_ms
        if self._device is not None and not self._vanished and not self.is_connected:
            await self.start_advertising()

    def value(self, char_uuid: str | int) -> bytes:
        """The current value of a characteristic."""
        value = self._find(char_uuid).value
        return bytes(value) if isinstance(value, bytes | bytearray) else b""

    def set_value(self, char_uuid: str | int, data: bytes) -> None:
        """Set the value a central reads next (nothing is sent)."""
        self._find(char_uuid).value = bytes(data)

    def is_subscribed(self, char_uuid: str | int) -> bool:
        """True when a central enabled notifications or indications of this characteristic."""
        if self._device is None:
            return False
        handle = self._find(char_uuid).handle
        return any(cccd.get(handle, b"\0\0")[0] & 0x03
                   for cccd in self._device.gatt_server.subscribers.values())

    async def wait_subscribed(self, char_uuid: str | int) -> None:
        """Wait until a central subscribes: a simulator starts measuring then."""
        characteristic = self._find(char_uuid)
        changed = asyncio.Event()

        def on_subscription(*_: object) -> None:
            changed.set()

        characteristic.on(bumble_gatt.Characteristic.EVENT_SUBSCRIPTION, on_subscription)
        try:
            while not self.is_subscribed(char_uuid):
                changed.clear()
                await changed.wait()
        finally:
            characteristic.remove_listener(bumble_gatt.Characteristic.EVENT_SUBSCRIPTION,
                                           on_subscription)

    async def notify(self, char_uuid: str | int, data: bytes) -> None:
        """Notify subscribed centrals (and set the value). Returns at once: pace the calls."""
        characteristic = self._sendable(char_uuid, data, Property.NOTIFY)
        await self._attached().notify_subscribers(characteristic, bytes(data))

    async def indicate(self, char_uuid: str | int, data: bytes) -> None:
        """Indicate to subscribed centrals (and set the value); waits for their confirmation.

        If the link drops meanwhile, returns without confirmation, as the
        indication then went nowhere (bumble would otherwise wait 30 s).
        """
        characteristic = self._sendable(char_uuid, data, Property.INDICATE)
        device = self._attached()
        dropped = asyncio.Event()

        def on_disconnection(*_: object) -> None:
            dropped.set()

        connections = list(device.connections.values())
        for connection in connections:
            connection.on(Connection.EVENT_DISCONNECTION, on_disconnection)
        sending = asyncio.ensure_future(device.indicate_subscribers(characteristic, bytes(data)))
        waiting = asyncio.ensure_future(dropped.wait())
        try:
            await asyncio.wait({sending, waiting}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiting.cancel()
            if not sending.done():
                sending.cancel()
            for connection in connections:
                connection.remove_listener(Connection.EVENT_DISCONNECTION, on_disconnection)
        if sending.done() and not sending.cancelled():
            sending.result()

    async def drop_link(self) -> None:
        """Vanish: end every link as a supervision timeout would, and stop advertising.

        The central sees reason 0x08 (connection timeout), what it gets when a
        device walks out of range. Call :meth:`start_advertising` to come back.
        """
        device = self._attached()
        self._vanished = True
        async with self._advertising:
            await device.stop_advertising()
        for connection in list(device.connections.values()):
            await connection.disconnect(hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR)

    # --- internals ---------------------------------------------------------------

    def _attached(self) -> Device:
        if self._device is None:
            raise RuntimeError(f"simulated peripheral {self._address} is not on a link")
        return self._device

    def _find(self, char_uuid: str | int) -> bumble_gatt.Characteristic[Any]:
        uuid = normalize_uuid(char_uuid)
        try:
            return self._characteristics[uuid]
        except KeyError:
            raise ValueError(f"{self._name} has no characteristic {describe(uuid)}") from None

    def _sendable(self, char_uuid: str | int, data: bytes,
                  needed: Property) -> bumble_gatt.Characteristic[Any]:
        characteristic = self._find(char_uuid)
        if not characteristic.properties & needed.value:
            raise ValueError(f"{describe(normalize_uuid(char_uuid))} of {self._name}"
                             f" is not declared {needed.name}")
        for connection in self._attached().connections.values():
            # bumble silently truncates to ATT_MTU - 3; a simulator bug must not pass unseen.
            if len(data) > connection.att_mtu - 3:
                raise ValueError(f"{len(data)} bytes exceed the ATT MTU of"
                                 f" {connection.att_mtu} on {self._address}")
        characteristic.value = bytes(data)
        return characteristic

    def _on_connection(self, connection: Connection) -> None:
        connection.on(Connection.EVENT_DISCONNECTION, lambda _reason: self._on_disconnection())

    def _on_disconnection(self) -> None:
        # Real sensors advertise again once the central lets go, unless they vanished.
        task = asyncio.get_running_loop().create_task(self._advertise_again())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _advertise_again(self) -> None:
        async with self._advertising:
            # Checked under the lock, not when scheduled: drop_link() or detach()
            # may have happened in between.
            device = self._device
            if device is None or self._vanished or self.is_connected:
                return
            try:
                await self._advertise(device)
            except Exception:
                logger.exception("simulated peripheral %s could not advertise again",
                                 self._address)
