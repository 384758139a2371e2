"""The one GATT-client face that every BLE device driver talks to.

A driver holds a :class:`GattClient` and never knows whether bleak (a real
adapter through BlueZ) or bumble (the in-process virtual link) sits behind
it. Everything here speaks canonical UUID strings (see :mod:`.uuids`) and
raises only :mod:`devices.errors`.

Lifecycle: ``connect()`` also discovers the services, so :meth:`services`
is synchronous. A link that drops without :meth:`disconnect` being called is
announced once through :meth:`on_connection_lost` callbacks and
:meth:`wait_connection_lost`; afterwards every operation raises that same
:class:`~devices.errors.ConnectionLostError` until the next ``connect()``.
"""

from __future__ import annotations

import asyncio
import enum
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol, Self

from devices.ble.uuids import describe, normalize_uuid
from devices.errors import ConnectionLostError, DeviceConfigurationError, DeviceError

logger = logging.getLogger(__name__)

NotificationCallback = Callable[[bytes], None]
"""Receives the value of each notification or indication, on the event loop; must not block."""

LostCallback = Callable[[ConnectionLostError], None]
"""Told once when a connected device vanishes (not on a requested disconnect)."""


class Property(enum.Flag):
    """Characteristic properties; the values are the bits of the GATT declaration."""

    BROADCAST = 0x01
    READ = 0x02
    WRITE_WITHOUT_RESPONSE = 0x04
    WRITE = 0x08
    NOTIFY = 0x10
    INDICATE = 0x20
    AUTHENTICATED_SIGNED_WRITES = 0x40
    EXTENDED_PROPERTIES = 0x80


ServiceMap = Mapping[str, Mapping[str, Property]]
"""Discovered services: service UUID → characteristic UUID → its properties."""


@dataclass(frozen=True, slots=True)
class Advertisement:
    """What one device said while we scanned. ``rssi`` is in dBm, None if unknown."""

    address: str
    name: str | None
    service_uuids: tuple[str, ...]
    rssi: int | None


class ScanFunction(Protocol):
    """Signature of a scan: listen ``timeout`` seconds, one :class:`Advertisement` per device.

    With ``service_uuids``, only devices advertising at least one of them are
    returned. Both backends provide one (``bleak_client.scan`` and
    ``VirtualBleLink.scan``).
    """

    async def __call__(
        self, timeout: float = ..., *, service_uuids: Collection[str] = ...,
    ) -> list[Advertisement]:
        """Scan and return the advertisers seen."""
        ...


def matches(advertisement: Advertisement, service_uuids: Collection[str]) -> bool:
    """True when ``advertisement`` passes a service filter (an empty filter passes all)."""
    if not service_uuids:
        return True
    wanted = {normalize_uuid(uuid) for uuid in service_uuids}
    return not wanted.isdisjoint(advertisement.service_uuids)


def _spell(properties: Property) -> str:
    """``Property.NOTIFY | Property.INDICATE`` → ``"notify or indicate"``."""
    names = [flag.name.lower() for flag in Property if flag in properties and flag.name]
    return " or ".join(names) or "nothing"


class GattClient(ABC):
    """A connection to one BLE peripheral, addressed by its Bluetooth address.

    Subclasses implement the abstract I/O; this base owns the "link lost"
    bookkeeping so both backends report a vanished device the same way.
    """

    def __init__(self, address: str) -> None:
        self._address = address.upper()
        self._lost: ConnectionLostError | None = None
        self._lost_callbacks: list[LostCallback] = []
        self._lost_event = asyncio.Event()

    @property
    def address(self) -> str:
        """The peripheral's Bluetooth address, upper case with colons."""
        return self._address

    @property
    @abstractmethod
    def is_connected(self) -> bool:
        """True while the link is up."""

    @abstractmethod
    async def connect(self, timeout: float = 10.0) -> None:
        """Connect and discover services within ``timeout`` seconds.

        Raises DeviceNotFoundError if nobody answers at this address in time,
        DeviceUnavailableError if there is no Bluetooth stack at all.
        """

    @abstractmethod
    async def disconnect(self) -> None:
        """Close the link on purpose; never announced as a loss. Safe when not connected."""

    @abstractmethod
    def services(self) -> ServiceMap:
        """The services and characteristics discovered at connection."""

    @abstractmethod
    async def read(self, char_uuid: str | int) -> bytes:
        """Read a characteristic's value."""

    @abstractmethod
    async def subscribe(self, char_uuid: str | int, callback: NotificationCallback) -> None:
        """Receive every notification or indication of a characteristic.

        Whichever of the two the characteristic offers is enabled (notify if
        both); indications are confirmed by the stack after ``callback`` ran.
        One callback per characteristic: subscribing again replaces it.
        """

    @abstractmethod
    async def unsubscribe(self, char_uuid: str | int) -> None:
        """Stop notifications or indications of a characteristic."""

    # --- link loss -----------------------------------------------------------------

    @property
    def connection_lost(self) -> ConnectionLostError | None:
        """The error that ended the current connection unexpectedly, if it did."""
        return self._lost

    def on_connection_lost(self, callback: LostCallback) -> Callable[[], None]:
        """Call ``callback`` when the device vanishes; returns a function that unregisters it."""
        self._lost_callbacks.append(callback)

        def remove() -> None:
            if callback in self._lost_callbacks:
                self._lost_callbacks.remove(callback)

        return remove

    async def wait_connection_lost(self) -> ConnectionLostError:
        """Wait until the device vanishes; returns the error (for a supervisor task)."""
        await self._lost_event.wait()
        assert self._lost is not None  # the event is only set together with _lost
        return self._lost

    def _link_up(self) -> None:
        """Subclasses call this once connected: a new connection forgets the old loss."""
        self._lost = None
        self._lost_event.clear()

    def _announce_lost(self, reason: str) -> None:
        """Subclasses call this when the link dropped without being asked to."""
        if self._lost is not None:
            return
        self._lost = ConnectionLostError(f"Lost the Bluetooth link to {self._address}: {reason}")
        logger.warning("%s", self._lost)
        self._lost_event.set()
        for callback in list(self._lost_callbacks):
            try:
                callback(self._lost)
            except Exception:
                # One listener's bug must not stop the others from hearing of the loss.
                logger.exception("connection-lost callback failed for %s", self._address)

    def _require_link(self) -> None:
        """Raise the loss error, or a plain DeviceError when never connected."""
        if self._lost is not None:
            raise self._lost
        if not self.is_connected:
            raise DeviceError(f"Bluetooth device {self._address} is not connected")

    def _characteristic(self, char_uuid: str | int, needed: Property) -> str:
        """The canonical UUID of a discovered characteristic having one of ``needed``."""
        uuid = normalize_uuid(char_uuid)
        for characteristics in self.services().values():
            properties = characteristics.get(uuid)
            if properties is None:
                continue
            if not properties & needed:
                raise DeviceConfigurationError(
                    f"Characteristic {describe(uuid)} of {self._address} does not allow "
                    f"{_spell(needed)} (it offers {_spell(properties)})")
            return uuid
        raise DeviceConfigurationError(
            f"Bluetooth device {self._address} has no characteristic {describe(uuid)}:"
            " is it the expected kind of device?")

    def _deliver(self, callback: NotificationCallback, data: bytes) -> None:
        """Hand a value to a driver callback, logging (not propagating) its failures.

        A raising callback inside the stack's receive path would, in bumble,
        also skip the indication confirmation and stall the device.
        """
        try:
            callback(bytes(data))
        except Exception:
            logger.exception("notification callback failed for %s", self._address)

    # --- context manager -----------------------------------------------------------

    async def __aenter__(self) -> Self:
        """``async with client:`` connects with the default timeout and disconnects after."""
        await self.connect()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        """Disconnect on the way out."""
        await self.disconnect()
