"""A virtual Bluetooth LE radio in this process, for simulators, demos and tests.

Every device on a :class:`VirtualBleLink` (the station's central and each
:class:`~devices.ble.simulated_peripheral.SimulatedPeripheral`) gets its own
bumble ``Controller`` on one shared ``bumble.link.LocalLink``, with a
``Host`` talking HCI to it over an ``AsyncPipeSink``: the pattern of
bumble's own ``testing/test_utils.py`` (``Devices``/``TwoDevices``). The
bytes between central and peripheral are real ATT PDUs; only the radio is
simulated, so a driver tested here talks GATT exactly as on hardware.

Usage::

    async with VirtualBleLink() as link:
        await link.add(thermometer)                # a SimulatedPeripheral
        print(await link.scan(0.05))              # what `station devices scan` shows
        async with link.client(thermometer.address) as client:
            await client.subscribe(TEMPERATURE_MEASUREMENT, on_value)

Timing on this link (bumble 0.0.236, 2-core dev machine, one process):
connect + MTU exchange + discovery of five services ~17-19 ms with a 1 ms
advertising interval (the connect waits for the next advertisement, and the
controller floors the interval at 10 ms), ~90 ms at 100 ms; one notification
in flight p50 ~0.13 ms; an indication or a read round trip ~0.27 ms.
Measure in benchmarks, never assert on it in tests.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Collection
from types import TracebackType
from typing import TYPE_CHECKING, Self

from bumble import hci
from bumble.controller import Controller
from bumble.device import Device
from bumble.host import Host
from bumble.link import LocalLink
from bumble.transport.common import AsyncPipeSink

from devices.ble.bumble_client import BumbleCentral, BumbleGattClient
from devices.ble.gatt import Advertisement
from devices.errors import DeviceConfigurationError

if TYPE_CHECKING:
    from devices.ble.simulated_peripheral import SimulatedPeripheral

STATION_ADDRESS = "C0:5A:7A:00:00:01"
"""The virtual station adapter's address (random static: top bits 11)."""


class _SpecController(Controller):
    """bumble's in-process controller, with LE Create Connection Cancel done per the spec.

    bumble 0.0.236 acknowledges the cancel but neither forgets the pending
    connection nor sends the failed LE Connection Complete the host waits
    for, so ``Device.connect(timeout=...)`` to an absent address hangs for
    ever, and the next connect is refused. Here the cancel is completed
    (Core spec Vol 4, Part E, 7.8.13).
    """

    def on_hci_le_create_connection_cancel_command(
        self, _command: hci.HCI_LE_Create_Connection_Cancel_Command,
    ) -> hci.HCI_StatusReturnParameters:
        """Forget the pending connection and report it failed, as a real controller does."""
        pending = self.pending_le_connection
        if pending is None:
            return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.COMMAND_DISALLOWED_ERROR)
        self.pending_le_connection = None
        failed = hci.HCI_LE_Connection_Complete_Event(
            status=hci.HCI_ErrorCode.UNKNOWN_CONNECTION_IDENTIFIER_ERROR,
            connection_handle=0, role=hci.Role.CENTRAL,
            peer_address_type=pending.peer_address.address_type,
            peer_address=pending.peer_address, connection_interval=0,
            peripheral_latency=0, supervision_timeout=0, central_clock_accuracy=0,
        )
        # The spec orders Command Complete (our return value) before this event.
        asyncio.get_running_loop().call_soon(self.send_hci_packet, failed)
        return hci.HCI_StatusReturnParameters(hci.HCI_ErrorCode.SUCCESS)


class VirtualBleLink:
    """One in-process radio space: the station's central plus any simulated peripherals.

    Must be used from one event loop; :meth:`start` (or ``async with``) powers
    the central on, :meth:`close` stops everything.
    """

    def __init__(self, central_address: str = STATION_ADDRESS) -> None:
        self._link = LocalLink()  # type: ignore[no-untyped-call]
        self._controllers: dict[str, Controller] = {}
        self._central = BumbleCentral(self.new_device(central_address, "station"))
        self._peripherals: dict[str, SimulatedPeripheral] = {}
        self._clients: weakref.WeakSet[BumbleGattClient] = weakref.WeakSet()
        self._started = False

    def new_device(self, address: str, name: str) -> Device:
        """A bumble Device with its own controller on this link (powered off)."""
        try:
            bd_address = hci.Address(address)
        except ValueError as exc:
            raise DeviceConfigurationError(f"{address!r} is not a Bluetooth address") from exc
        controller = _SpecController(name, link=self._link, public_address=bd_address)
        self._controllers[bd_address.to_string(with_type_qualifier=False)] = controller
        return Device(name=name, address=bd_address,
                      host=Host(controller, AsyncPipeSink(controller)))

    @property
    def central(self) -> BumbleCentral:
        """The station's adapter on this link."""
        return self._central

    @property
    def peripherals(self) -> list[SimulatedPeripheral]:
        """The peripherals currently on the link."""
        return list(self._peripherals.values())

    async def start(self) -> None:
        """Power the station's central on (idempotent)."""
        if not self._started:
            await self._central.device.power_on()
            self._started = True

    async def add(self, peripheral: SimulatedPeripheral) -> None:
        """Put a simulated peripheral on the link and make it advertise."""
        await self.start()
        if peripheral.address in self._peripherals:
            raise DeviceConfigurationError(
                f"Address {peripheral.address} is already used on this virtual link")
        await peripheral.attach(self.new_device(peripheral.address, peripheral.name))
        self._peripherals[peripheral.address] = peripheral

    async def remove(self, peripheral: SimulatedPeripheral) -> None:
        """Take a peripheral off the link for good (as if carried away)."""
        if self._peripherals.pop(peripheral.address, None) is not None:
            await peripheral.detach()
            controller = self._controllers.pop(peripheral.address, None)
            if controller is not None:
                self._link.remove_controller(controller)

    def client(self, address: str) -> BumbleGattClient:
        """A GATT client (not yet connected) for the peripheral at ``address``."""
        client = BumbleGattClient(self._central, address)
        self._clients.add(client)
        return client

    async def scan(self, timeout: float = 1.0, *,
                   service_uuids: Collection[str] = ()) -> list[Advertisement]:
        """Scan the virtual link; matches :class:`~devices.ble.gatt.ScanFunction`."""
        await self.start()
        return await self._central.scan(timeout, service_uuids=service_uuids)

    async def close(self) -> None:
        """Disconnect every client (on purpose, so no loss is announced), then the peripherals."""
        for client in list(self._clients):
            await client.disconnect()
        for peripheral in list(self._peripherals.values()):
            await self.remove(peripheral)

    async def __aenter__(self) -> Self:
        """Start the link."""
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        """Close the link."""
        await self.close()
