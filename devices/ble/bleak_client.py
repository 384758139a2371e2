"""The GATT client over bleak: real BLE hardware (BlueZ on Linux).

Native errors are translated in :func:`translate_error`, the one place that
knows what bleak, BlueZ and D-Bus failures mean, into :mod:`devices.errors`
with a sentence a technician can act on. Everything else in this module
goes through :func:`native_errors`.
"""

from __future__ import annotations

import errno
from collections.abc import Awaitable, Collection, Iterator
from contextlib import contextmanager
from typing import TypeVar

from bleak import BleakClient, BleakScanner
from bleak.args.bluez import BlueZClientArgs, BlueZScannerArgs
from bleak.backends.characteristic import BleakGATTCharacteristic
from bleak.backends.client import BaseBleakClient
from bleak.backends.service import BleakGATTServiceCollection
from bleak.exc import (
    BleakBluetoothNotAvailableError,
    BleakBluetoothNotAvailableReason,
    BleakCharacteristicNotFoundError,
    BleakDBusError,
    BleakDeviceNotFoundError,
    BleakError,
)

from devices.ble.gatt import (
    Advertisement,
    GattClient,
    NotificationCallback,
    Property,
    ServiceMap,
    matches,
)
from devices.ble.uuids import normalize_uuid
from devices.errors import (
    ConnectionLostError,
    DeviceConfigurationError,
    DeviceError,
    DeviceNotFoundError,
    DeviceUnavailableError,
)

_T = TypeVar("_T")

NO_DBUS = ("No Bluetooth here: the D-Bus system bus is missing"
           " (is this a container? install and start dbus and bluez)")
DBUS_REFUSED = ("No Bluetooth here: the D-Bus system bus refused the connection"
                " (start dbus, or check that this user may use it)")
NO_BLUEZ = ("No Bluetooth here: BlueZ is not running"
            " (install bluez and start it: systemctl start bluetooth)")
BLUEZ_DENIED = ("Bluetooth refused: this user may not talk to BlueZ"
                " (add it to the bluetooth group, or check the D-Bus policy)")
NO_ADAPTER = ("No Bluetooth adapter found: plug one in, or unblock it"
              " (rfkill unblock bluetooth)")
ADAPTER_OFF = "The Bluetooth adapter is switched off: turn it on (bluetoothctl power on)"
NO_CENTRAL = "The Bluetooth adapter cannot do Bluetooth Low Energy: use a BLE (4.0+) adapter"

_UNAVAILABLE_REASONS = {
    BleakBluetoothNotAvailableReason.NO_BLUETOOTH: NO_ADAPTER,
    BleakBluetoothNotAvailableReason.NO_BLE_CENTRAL_ROLE: NO_CENTRAL,
    BleakBluetoothNotAvailableReason.POWERED_OFF: ADAPTER_OFF,
    BleakBluetoothNotAvailableReason.DENIED_BY_SYSTEM: BLUEZ_DENIED,
    BleakBluetoothNotAvailableReason.DENIED_BY_USER: BLUEZ_DENIED,
    BleakBluetoothNotAvailableReason.DENIED_BY_UNKNOWN: BLUEZ_DENIED,
}
_DBUS_UNAVAILABLE = {
    # D-Bus answers for the bus name org.bluez, but nobody owns it.
    "org.freedesktop.DBus.Error.ServiceUnknown": NO_BLUEZ,
    "org.freedesktop.DBus.Error.NameHasNoOwner": NO_BLUEZ,
    "org.freedesktop.DBus.Error.AccessDenied": BLUEZ_DENIED,
    "org.bluez.Error.NotReady": ADAPTER_OFF,
}


def translate_error(error: BaseException, address: str | None = None, *,
                    connect_timeout: float | None = None) -> DeviceError:
    """The :mod:`devices.errors` equivalent of a bleak, BlueZ, D-Bus or socket error.

    ``connect_timeout`` is given while connecting: a timeout then means the
    device never answered (not found) rather than a slow request.
    """
    device = f"Bluetooth device {address}" if address else "Bluetooth"
    if isinstance(error, DeviceError):
        return error
    if isinstance(error, TimeoutError):  # before OSError: TimeoutError is one
        if connect_timeout is not None:
            return DeviceNotFoundError(f"{device} did not answer within {connect_timeout:g} s:"
                                       " is it switched on, in range and advertising?")
        return DeviceError(f"{device} did not answer in time")
    if isinstance(error, OSError):
        return _translate_socket_error(error)
    if isinstance(error, BleakError):
        return _translate_bleak_error(error, device, address)
    return DeviceError(f"{device} error: {error!r}")


def _translate_socket_error(error: OSError) -> DeviceError:
    # bleak reaches BlueZ over the D-Bus system socket; these errnos mean it is not there.
    if isinstance(error, FileNotFoundError) or error.errno == errno.ENOENT:
        return DeviceUnavailableError(NO_DBUS)
    if isinstance(error, ConnectionRefusedError | PermissionError):
        return DeviceUnavailableError(DBUS_REFUSED)
    return DeviceUnavailableError(f"No Bluetooth here: D-Bus socket error ({error})")


def _translate_bleak_error(error: BleakError, device: str, address: str | None) -> DeviceError:
    lost = ConnectionLostError(f"Lost the Bluetooth link to {address}")
    if isinstance(error, BleakBluetoothNotAvailableError):
        return DeviceUnavailableError(
            _UNAVAILABLE_REASONS.get(error.reason, f"Bluetooth is not available: {error.args[0]}"))
    if isinstance(error, BleakDBusError):
        if error.dbus_error in _DBUS_UNAVAILABLE:
            return DeviceUnavailableError(_DBUS_UNAVAILABLE[error.dbus_error])
        return lost if error.dbus_error == "org.bluez.Error.NotConnected" else \
            DeviceError(f"{device} error: {error}")
    if isinstance(error, BleakDeviceNotFoundError):
        return DeviceNotFoundError(f"{device} was not found:"
                                   " is it switched on, in range and advertising?")
    if isinstance(error, BleakCharacteristicNotFoundError):
        return DeviceConfigurationError(
            f"{device} has no characteristic {error.char_specifier}:"
            " is it the expected kind of device?")
    # bleak's own wording when an operation finds the link already down.
    return lost if str(error) == "Not connected" else DeviceError(f"{device} error: {error}")


@contextmanager
def native_errors(address: str | None = None, *,
                  connect_timeout: float | None = None) -> Iterator[None]:
    """Re-raise any native error from the block as its :func:`translate_error` equivalent."""
    try:
        yield
    except DeviceError:
        raise
    except (BleakError, OSError) as exc:
        raise translate_error(exc, address, connect_timeout=connect_timeout) from exc


def _properties(characteristic: BleakGATTCharacteristic) -> Property:
    """bleak's property names ("read", "write-without-response"...) as a :class:`Property`."""
    found = Property(0)
    for name in characteristic.properties:
        member = Property.__members__.get(name.upper().replace("-", "_"))
        if member is not None:
            found |= member
    return found


def service_map(collection: BleakGATTServiceCollection) -> dict[str, dict[str, Property]]:
    """bleak's discovered services in the shape of :data:`~devices.ble.gatt.ServiceMap`."""
    services: dict[str, dict[str, Property]] = {}
    for service in collection:
        characteristics = services.setdefault(normalize_uuid(service.uuid), {})
        for characteristic in service.characteristics:
            characteristics.setdefault(normalize_uuid(characteristic.uuid),
                                       _properties(characteristic))
    return services


async def scan(timeout: float = 5.0, *, service_uuids: Collection[str] = (),
               adapter: str | None = None) -> list[Advertisement]:
    """Scan with the real adapter; matches :class:`~devices.ble.gatt.ScanFunction`."""
    wanted = [normalize_uuid(uuid) for uuid in service_uuids]
    bluez: BlueZScannerArgs = {"adapter": adapter} if adapter else {}
    with native_errors():
        if wanted:  # BlueZ filters on its side; an empty filter is simply not passed
            found = await BleakScanner.discover(timeout, return_adv=True,
                                                service_uuids=wanted, bluez=bluez)
        else:
            found = await BleakScanner.discover(timeout, return_adv=True, bluez=bluez)
    advertisements = [
        Advertisement(address=device.address.upper(), name=data.local_name or device.name,
                      service_uuids=tuple(normalize_uuid(uuid) for uuid in data.service_uuids),
                      rssi=data.rssi)
        for device, data in found.values()
    ]
    return [ad for ad in advertisements if matches(ad, wanted)]


class BleakGattClient(GattClient):
    """:class:`GattClient` for a real peripheral, through bleak.

    ``backend`` is bleak's own plug-in point (a ``BaseBleakClient`` subclass);
    leave it None on hardware, tests pass a fake one.
    """

    def __init__(self, address: str, *, adapter: str | None = None,
                 backend: type[BaseBleakClient] | None = None) -> None:
        super().__init__(address)
        self._bluez: BlueZClientArgs = {"adapter": adapter} if adapter else {}
        self._backend = backend
        self._client: BleakClient | None = None
        self._closing = False
        self._services: dict[str, dict[str, Property]] = {}
        self._callbacks: dict[str, NotificationCallback] = {}

    @property
    def is_connected(self) -> bool:
        """True while the link is up."""
        return self._client is not None and self._lost is None and self._client.is_connected

    async def connect(self, timeout: float = 10.0) -> None:
        """Find the device, connect and discover its services (bleak does all three)."""
        if self.is_connected:
            return
        # A fresh BleakClient per connection: bleak takes the timeout at construction.
        client = BleakClient(self._address, disconnected_callback=self._on_disconnected,
                             timeout=timeout, bluez=self._bluez, backend=self._backend)
        self._closing = False
        with native_errors(self._address, connect_timeout=timeout):
            await client.connect()
            services = service_map(client.services)
        self._client, self._services = client, services
        self._callbacks.clear()
        self._link_up()

    async def disconnect(self) -> None:
        """Close the link on purpose (not announced as a loss)."""
        client, self._client = self._client, None
        self._callbacks.clear()
        if client is None:
            return
        self._closing = True
        try:
            with native_errors(self._address):
                await client.disconnect()
        except ConnectionLostError:
            pass  # already gone: the goal (no link) is reached

    def _on_disconnected(self, client: BleakClient) -> None:
        # bleak calls this after a requested disconnect too; only the unasked one is a loss.
        if client is self._client and not self._closing:
            self._announce_lost("the device stopped answering or closed the connection")

    def services(self) -> ServiceMap:
        """The services discovered at the last connection."""
        return self._services

    async def read(self, char_uuid: str | int) -> bytes:
        """Read a characteristic's value."""
        self._require_link()
        uuid = self._characteristic(char_uuid, Property.READ)
        return bytes(await self._io(self._connected().read_gatt_char(uuid)))

    async def subscribe(self, char_uuid: str | int, callback: NotificationCallback) -> None:
        """Start notifications or indications (BlueZ picks the one offered)."""
        self._require_link()
        uuid = self._characteristic(char_uuid, Property.NOTIFY | Property.INDICATE)
        already = uuid in self._callbacks
        self._callbacks[uuid] = callback  # a second subscribe just swaps the callback
        if already:
            return

        def relay(_: BleakGATTCharacteristic, data: bytearray) -> None:
            current = self._callbacks.get(uuid)
            if current is not None:
                self._deliver(current, bytes(data))

        try:
            await self._io(self._connected().start_notify(uuid, relay))
        except BaseException:
            self._callbacks.pop(uuid, None)
            raise

    async def unsubscribe(self, char_uuid: str | int) -> None:
        """Stop notifications or indications; nothing happens if not subscribed."""
        uuid = normalize_uuid(char_uuid)
        if self._callbacks.pop(uuid, None) is None or not self.is_connected:
            return
        await self._io(self._connected().stop_notify(uuid))

    def _connected(self) -> BleakClient:
        self._require_link()
        assert self._client is not None  # _require_link checked is_connected
        return self._client

    async def _io(self, operation: Awaitable[_T]) -> _T:
        """Await a bleak call; if the link died meanwhile, the loss is the error to report."""
        try:
            with native_errors(self._address):
                return await operation
        except DeviceError:
            if self._lost is not None:
                raise self._lost from None
            raise
