"""The GATT client over bumble: the station's side of the virtual BLE link.

:class:`BumbleCentral` is the station's adapter (one bumble ``Device`` that
scans and connects); each :class:`BumbleGattClient` is one connection made
through it, exactly as one BlueZ adapter serves several bleak clients.
bumble errors are translated here, in :meth:`BumbleGattClient._guarded` and
:meth:`BumbleCentral.connect`, and nowhere else.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable, Collection
from typing import TypeVar

from bumble import core, hci
from bumble.core import AdvertisingData
from bumble.device import Advertisement as BumbleAdvertisement
from bumble.device import Connection, Device, Peer
from bumble.gatt_client import CharacteristicProxy

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
)

logger = logging.getLogger(__name__)
_T = TypeVar("_T")

# What a nurse or technician can make of the HCI disconnection reasons seen in practice.
_REASONS: dict[int, str] = {
    hci.HCI_ErrorCode.CONNECTION_TIMEOUT_ERROR:
        "the device stopped answering (out of range, switched off or battery flat)",
    hci.HCI_ErrorCode.REMOTE_USER_TERMINATED_CONNECTION_ERROR: "the device closed the connection",
    hci.HCI_ErrorCode.REMOTE_DEVICE_TERMINATED_CONNECTION_DUE_TO_POWER_OFF_ERROR:
        "the device switched itself off",
    hci.HCI_ErrorCode.CONNECTION_FAILED_TO_BE_ESTABLISHED_ERROR:
        "the connection could not be established",
}
_NO_RSSI = 127  # HCI "RSSI not available"
# BlueZ asks for the largest ATT MTU at once; do the same so values longer than
# 20 bytes are not silently truncated by the peripheral.
_PREFERRED_MTU = 517


def reason_text(reason: int) -> str:
    """Plain words for an HCI disconnection reason code."""
    if reason in _REASONS:
        return _REASONS[reason]
    try:
        name = hci.HCI_ErrorCode(reason).name
    except ValueError:
        name = "unknown"
    return f"link closed with HCI reason 0x{reason:02X} ({name})"


def canonical(uuid: core.UUID) -> str:
    """A bumble UUID in the canonical 128-bit lowercase form."""
    return normalize_uuid(uuid.to_hex_str("-") if len(uuid.uuid_bytes) == 16 else uuid.to_hex_str())


def to_advertisement(report: BumbleAdvertisement) -> Advertisement:
    """Our :class:`Advertisement` from one bumble advertising report."""
    data = report.data
    name = data.get(AdvertisingData.Type.COMPLETE_LOCAL_NAME) or data.get(
        AdvertisingData.Type.SHORTENED_LOCAL_NAME)
    uuids: list[str] = []
    for kind in (AdvertisingData.Type.COMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                 AdvertisingData.Type.INCOMPLETE_LIST_OF_16_BIT_SERVICE_CLASS_UUIDS,
                 AdvertisingData.Type.COMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS,
                 AdvertisingData.Type.INCOMPLETE_LIST_OF_128_BIT_SERVICE_CLASS_UUIDS):
        uuids.extend(canonical(uuid) for uuid in data.get(kind) or ())
    return Advertisement(
        address=report.address.to_string(with_type_qualifier=False),
        name=name if isinstance(name, str) else None,
        service_uuids=tuple(dict.fromkeys(uuids)),
        rssi=None if report.rssi == _NO_RSSI else report.rssi,
    )


class BumbleCentral:
    """The station's adapter on a virtual link: connects and scans for its clients.

    Connections are made one at a time, as BlueZ does, because a controller
    holds a single pending LE connection.
    """

    def __init__(self, device: Device) -> None:
        self._device = device
        self._connect_lock = asyncio.Lock()
        self._scan_lock = asyncio.Lock()

    @property
    def device(self) -> Device:
        """The underlying bumble device."""
        return self._device

    async def connect(self, address: str, timeout: float) -> Connection:
        """Open an LE connection; DeviceNotFoundError if nobody advertises there in time."""
        try:
            peer = hci.Address(address)
        except (core.InvalidArgumentError, ValueError) as exc:
            raise DeviceConfigurationError(f"{address!r} is not a Bluetooth address") from exc
        async with self._connect_lock:
            try:
                return await self._device.connect(peer, timeout=timeout)
            except (core.TimeoutError, core.ConnectionError, TimeoutError) as exc:
                raise DeviceNotFoundError(
                    f"Bluetooth device {address} did not answer within {timeout:g} s:"
                    " is it switched on, in range and advertising?") from exc

    async def scan(self, timeout: float = 1.0, *,
                   service_uuids: Collection[str] = ()) -> list[Advertisement]:
        """Listen ``timeout`` seconds; one :class:`Advertisement` per advertiser, latest wins."""
        seen: dict[str, Advertisement] = {}

        def on_advertisement(report: BumbleAdvertisement) -> None:
            advertisement = to_advertisement(report)
            seen[advertisement.address] = advertisement

        async with self._scan_lock:
            self._device.on(Device.EVENT_ADVERTISEMENT, on_advertisement)
            try:
                await self._device.start_scanning(filter_duplicates=False)
                await asyncio.sleep(timeout)
            finally:
                await self._device.stop_scanning()
                self._device.remove_listener(Device.EVENT_ADVERTISEMENT, on_advertisement)
        return [ad for ad in seen.values() if matches(ad, service_uuids)]


class BumbleGattClient(GattClient):
    """:class:`GattClient` for one peripheral on a :class:`VirtualBleLink`."""

    def __init__(self, central: BumbleCentral, address: str) -> None:
        super().__init__(address)
        self._central = central
        self._connection: Connection | None = None
        self._services: dict[str, dict[str, Property]] = {}
        self._proxies: dict[str, CharacteristicProxy[bytes]] = {}
        self._callbacks: dict[str, NotificationCallback] = {}
        self._relays: dict[str, NotificationCallback] = {}

    @property
    def is_connected(self) -> bool:
        """True while the link is up."""
        return self._connection is not None

    async def connect(self, timeout: float = 10.0) -> None:
        """Connect, exchange the MTU and discover every service and characteristic."""
        if self._connection is not None:
            return
        deadline = asyncio.get_running_loop().time() + timeout
        connection = await self._central.connect(self._address, timeout)
        self._connection = connection
        # Subscriptions die with the link (the peripheral forgets the CCCDs).
        self._callbacks.clear()
        self._relays.clear()
        connection.on(Connection.EVENT_DISCONNECTION,
                      functools.partial(self._on_disconnection, connection))
        self._link_up()
        try:
            async with asyncio.timeout_at(deadline):
                await self._discover(Peer(connection))
        except TimeoutError as exc:
            await self.disconnect()
            raise DeviceError(f"Bluetooth device {self._address} connected but did not"
                              f" list its services within {timeout:g} s") from exc
        except BaseException:
            await self.disconnect()
            raise

    async def _discover(self, peer: Peer) -> None:
        await self._guarded(peer.request_mtu(_PREFERRED_MTU))
        services: dict[str, dict[str, Property]] = {}
        proxies: dict[str, CharacteristicProxy[bytes]] = {}
        for service in await self._guarded(peer.discover_services()):
            characteristics = services.setdefault(canonical(service.uuid), {})
            for proxy in await self._guarded(service.discover_characteristics()):
                uuid = canonical(proxy.uuid)
                characteristics[uuid] = Property(int(proxy.properties))
                proxies.setdefault(uuid, proxy)  # the first one wins, as in bleak
        self._services, self._proxies = services, proxies

    async def disconnect(self) -> None:
        """Close the link on purpose (not announced as a loss)."""
        connection, self._connection = self._connection, None
        self._callbacks.clear()
        self._relays.clear()
        if connection is None:
            return
        try:
            await connection.disconnect()
        except core.BaseBumbleError as exc:
            # Already gone on the other side: the goal (no link) is reached anyway.
            logger.debug("disconnect from %s: %s", self._address, exc)

    def _on_disconnection(self, connection: Connection, reason: int) -> None:
        # A requested disconnect already forgot its connection: nothing to announce.
        if connection is not self._connection:
            return
        self._connection = None
        self._announce_lost(reason_text(reason))

    def services(self) -> ServiceMap:
        """The services discovered at the last connection."""
        return self._services

    async def read(self, char_uuid: str | int) -> bytes:
        """Read a characteristic's value."""
        self._require_link()
        uuid = self._characteristic(char_uuid, Property.READ)
        return bytes(await self._guarded(self._proxies[uuid].read_value()))

    async def subscribe(self, char_uuid: str | int, callback: NotificationCallback) -> None:
        """Enable notifications or indications (bumble picks the one offered)."""
        self._require_link()
        uuid = self._characteristic(char_uuid, Property.NOTIFY | Property.INDICATE)
        self._callbacks[uuid] = callback  # a second subscribe just swaps the callback
        if uuid in self._relays:
            return

        def relay(value: bytes) -> None:
            current = self._callbacks.get(uuid)
            if current is not None:
                self._deliver(current, value)

        self._relays[uuid] = relay
        try:
            await self._guarded(self._proxies[uuid].subscribe(relay, prefer_notify=True))
        except BaseException:
            self._relays.pop(uuid, None)
            self._callbacks.pop(uuid, None)
            raise

    async def unsubscribe(self, char_uuid: str | int) -> None:
        """Disable notifications or indications; nothing happens if not subscribed."""
        uuid = normalize_uuid(char_uuid)
        relay = self._relays.pop(uuid, None)
        self._callbacks.pop(uuid, None)
        if relay is None or self._connection is None:
            return
        await self._guarded(self._proxies[uuid].unsubscribe(relay))

    async def _guarded(self, operation: Awaitable[_T]) -> _T:
        """Run a bumble GATT operation, failing fast and in our terms if the link drops.

        Without the race, a request sent just as the link drops waits for
        bumble's 30 s GATT timeout; and bumble *cancels* a pending request on
        disconnection, which would surface as a CancelledError nobody asked for.
        """
        task = asyncio.ensure_future(operation)
        lost = asyncio.ensure_future(self._lost_event.wait())
        try:
            await asyncio.wait({task, lost}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            lost.cancel()
            if not task.done():
                task.cancel()
        if self._lost is not None:
            if task.done() and not task.cancelled():
                task.exception()  # mark retrieved; the loss explains it
            raise self._lost
        if task.cancelled():
            raise ConnectionLostError(f"The Bluetooth link to {self._address} was closed"
                                      " while a request was pending")
        try:
            return task.result()
        except core.BaseBumbleError as exc:
            raise DeviceError(f"Bluetooth device {self._address} refused the request: {exc}") \
                from exc
