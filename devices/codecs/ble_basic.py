"""Bluetooth Battery Level (0x2A19) and Device Information strings (service 0x180A).

Battery Level is one uint8, 0-100 %; 101-255 are reserved and rejected.

Device Information strings are UTF-8 without terminator. Devices pad them
with NULs or send Latin-1 now and then: decoding is tolerant (trailing NULs
stripped, invalid sequences replaced by U+FFFD) because a model name is
for display and logs, and refusing it would only hide which device is
talking. So these never raise, and round-trip only for clean UTF-8.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from devices.codecs._wire import layout_error
from devices.errors import DecodeError

BATTERY_LEVEL_UUID = 0x2A19
BATTERY_PROTOCOL = "ble-battery"

# Device Information characteristics holding UTF-8 strings, by field name.
DIS_UUIDS: dict[str, int] = {
    "manufacturer_name": 0x2A29,
    "model_number": 0x2A24,
    "serial_number": 0x2A25,
    "hardware_revision": 0x2A27,
    "firmware_revision": 0x2A26,
    "software_revision": 0x2A28,
}


@dataclass(frozen=True, slots=True)
class BatteryLevel:
    """Remaining battery charge in percent (0-100)."""

    percent: int


def decode_battery_level(data: bytes) -> BatteryLevel:
    """Decode the one-byte Battery Level; DecodeError if not one byte or above 100."""
    if len(data) != 1:
        raise layout_error(BATTERY_PROTOCOL, data, (("battery level", 1),))
    if data[0] > 100:
        raise DecodeError(BATTERY_PROTOCOL, 0, f"battery level {data[0]} is reserved (0-100)")
    return BatteryLevel(data[0])


def encode_battery_level(level: BatteryLevel) -> bytes:
    """The one byte of ``level``; ValueError outside 0-100."""
    if not 0 <= level.percent <= 100:
        raise ValueError(f"battery level {level.percent} is outside 0-100")
    return bytes((level.percent,))


def decode_string(data: bytes) -> str:
    """A Device Information string, tolerantly decoded (never raises)."""
    return data.rstrip(b"\x00").decode("utf-8", errors="replace")


def encode_string(text: str) -> bytes:
    """The UTF-8 bytes of a Device Information string."""
    return text.encode("utf-8")


@dataclass(frozen=True, slots=True)
class DeviceInformation:
    """The Device Information strings a device exposed (None: characteristic absent)."""

    manufacturer_name: str | None = None
    model_number: str | None = None
    serial_number: str | None = None
    hardware_revision: str | None = None
    firmware_revision: str | None = None
    software_revision: str | None = None


def decode_device_information(values: Mapping[int, bytes]) -> DeviceInformation:
    """Device Information from characteristic values keyed by 16-bit UUID; others are ignored."""
    return DeviceInformation(**{name: decode_string(values[uuid])
                                for name, uuid in DIS_UUIDS.items() if uuid in values})


def encode_device_information(info: DeviceInformation) -> dict[int, bytes]:
    """Characteristic values (by 16-bit UUID) a simulated device exposes for ``info``."""
    out: dict[int, bytes] = {}
    for item in fields(info):
        value = getattr(info, item.name)
        if value is not None:
            out[DIS_UUIDS[item.name]] = encode_string(value)
    return out
