"""Bluetooth Low Energy transport: one GATT-client face, two backends.

- :mod:`.gatt`: the interface drivers use (:class:`GattClient`,
  :class:`Advertisement`, :class:`ScanFunction`, :class:`Property`).
- :mod:`.uuids`: SIG UUIDs in canonical form.
- :mod:`.bleak_client`: real hardware through bleak/BlueZ.
- :mod:`.virtual_link`, :mod:`.bumble_client`, :mod:`.simulated_peripheral`:
  an in-process bumble radio for simulators, demos and tests.

Only the light modules are re-exported here; import a backend explicitly so
that using one never loads the other.
"""

from devices.ble.gatt import (
    Advertisement,
    GattClient,
    LostCallback,
    NotificationCallback,
    Property,
    ScanFunction,
    ServiceMap,
)
from devices.ble.uuids import describe, normalize_uuid, sig_uuid

__all__ = [
    "Advertisement",
    "GattClient",
    "LostCallback",
    "NotificationCallback",
    "Property",
    "ScanFunction",
    "ServiceMap",
    "describe",
    "normalize_uuid",
    "sig_uuid",
]
