"""Bluetooth SIG UUIDs used by the station, in one canonical spelling.

Every UUID crossing the BLE layer is a lowercase 128-bit string
(``"00002a1c-0000-1000-8000-00805f9b34fb"``), the form bleak reports, so
a driver can compare UUIDs from any backend with ``==``. 16-bit SIG numbers
live on the Bluetooth base UUID; :func:`sig_uuid` expands them and
:func:`normalize_uuid` accepts whatever a person or a backend wrote.
"""

from __future__ import annotations

import re

from devices.errors import DeviceConfigurationError

# The Bluetooth base UUID: a 16-bit SIG number replaces the xxxx.
_BASE_PREFIX = "0000"
_BASE_SUFFIX = "-0000-1000-8000-00805f9b34fb"
_FULL_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_SHORT_UUID = re.compile(r"^(?:0x)?([0-9a-f]{4}|[0-9a-f]{8})$")


def sig_uuid(number: int) -> str:
    """The 128-bit UUID of a 16-bit (or 32-bit) SIG number: ``0x2A1C`` → ``"00002a1c-…"``."""
    if not 0 <= number <= 0xFFFFFFFF:
        raise DeviceConfigurationError(f"{number:#x} is not a 16- or 32-bit Bluetooth UUID")
    return f"{number:08x}{_BASE_SUFFIX}"


def normalize_uuid(uuid: str | int) -> str:
    """Any spelling of a UUID (``0x2A1C``, ``"2a1c"``, ``"0x2A1C"``, 128-bit) in canonical form.

    Raises :class:`DeviceConfigurationError` for text that is not a UUID, so a
    typo in a device profile is caught where it is written.
    """
    if isinstance(uuid, int):
        return sig_uuid(uuid)
    text = uuid.strip().lower()
    if _FULL_UUID.match(text):
        return text
    short = _SHORT_UUID.match(text)
    if short:
        return sig_uuid(int(short.group(1), 16))
    raise DeviceConfigurationError(f"{uuid!r} is not a Bluetooth UUID")


def short_form(uuid: str) -> int | None:
    """The 16-bit SIG number of a canonical UUID, or None if it is not on the base UUID."""
    text = normalize_uuid(uuid)
    if text.startswith(_BASE_PREFIX) and text.endswith(_BASE_SUFFIX):
        return int(text[4:8], 16)
    return None


def describe(uuid: str) -> str:
    """A UUID as a technician reads it: ``"2a1c (Temperature Measurement)"``."""
    text = normalize_uuid(uuid)
    number = short_form(text)
    if number is None:
        return text
    name = NAMES.get(text)
    return f"{number:04x} ({name})" if name else f"{number:04x}"


# Services.
PULSE_OXIMETER_SERVICE = sig_uuid(0x1822)
HEALTH_THERMOMETER_SERVICE = sig_uuid(0x1809)
BLOOD_PRESSURE_SERVICE = sig_uuid(0x1810)
WEIGHT_SCALE_SERVICE = sig_uuid(0x181D)
BATTERY_SERVICE = sig_uuid(0x180F)
DEVICE_INFORMATION_SERVICE = sig_uuid(0x180A)
GENERIC_ACCESS_SERVICE = sig_uuid(0x1800)
GENERIC_ATTRIBUTE_SERVICE = sig_uuid(0x1801)

# Characteristics of the health services.
PLX_SPOT_CHECK_MEASUREMENT = sig_uuid(0x2A5E)
PLX_CONTINUOUS_MEASUREMENT = sig_uuid(0x2A5F)
PLX_FEATURES = sig_uuid(0x2A60)
TEMPERATURE_MEASUREMENT = sig_uuid(0x2A1C)
BLOOD_PRESSURE_MEASUREMENT = sig_uuid(0x2A35)
WEIGHT_MEASUREMENT = sig_uuid(0x2A9D)
BATTERY_LEVEL = sig_uuid(0x2A19)

# Device Information Service strings.
MANUFACTURER_NAME = sig_uuid(0x2A29)
MODEL_NUMBER = sig_uuid(0x2A24)
SERIAL_NUMBER = sig_uuid(0x2A25)
FIRMWARE_REVISION = sig_uuid(0x2A26)

NAMES: dict[str, str] = {
    PULSE_OXIMETER_SERVICE: "Pulse Oximeter",
    HEALTH_THERMOMETER_SERVICE: "Health Thermometer",
    BLOOD_PRESSURE_SERVICE: "Blood Pressure",
    WEIGHT_SCALE_SERVICE: "Weight Scale",
    BATTERY_SERVICE: "Battery",
    DEVICE_INFORMATION_SERVICE: "Device Information",
    GENERIC_ACCESS_SERVICE: "Generic Access",
    GENERIC_ATTRIBUTE_SERVICE: "Generic Attribute",
    PLX_SPOT_CHECK_MEASUREMENT: "PLX Spot-Check Measurement",
    PLX_CONTINUOUS_MEASUREMENT: "PLX Continuous Measurement",
    PLX_FEATURES: "PLX Features",
    TEMPERATURE_MEASUREMENT: "Temperature Measurement",
    BLOOD_PRESSURE_MEASUREMENT: "Blood Pressure Measurement",
    WEIGHT_MEASUREMENT: "Weight Measurement",
    BATTERY_LEVEL: "Battery Level",
    MANUFACTURER_NAME: "Manufacturer Name String",
    MODEL_NUMBER: "Model Number String",
    SERIAL_NUMBER: "Serial Number String",
    FIRMWARE_REVISION: "Firmware Revision String",
}
"""Names of the UUIDs above, for messages and the device scan listing."""

HEALTH_SERVICES = frozenset({
    PULSE_OXIMETER_SERVICE, HEALTH_THERMOMETER_SERVICE, BLOOD_PRESSURE_SERVICE,
    WEIGHT_SCALE_SERVICE,
})
"""Services that mark an advertiser as a measuring device worth listing."""
