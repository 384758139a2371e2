"""The station's device list: configuration a technician edits once.

``<home>/devices.toml`` lists the cart's instruments by URL::

    [[device]]
    name = "Oxymètre de pouls"
    url = "ble://AA:BB:CC:DD:EE:FF?profile=plx"

    [[device]]
    name = "Stéthoscope"
    url = "audio://default"

With no file, the station uses the demo list: a simulator for every family.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from devices.errors import DeviceConfigurationError
from devices.urls import parse_device_url
from station.errors import ValidationError
from station.paths import station_home

CONFIG_FILENAME = "devices.toml"


@dataclass(frozen=True, slots=True)
class DeviceEntry:
    """One configured instrument."""

    name: str
    url: str


DEMO_DEVICES: tuple[DeviceEntry, ...] = (
    DeviceEntry("Oxymètre (BLE, simulé)", "sim://oximeter-ble"),
    DeviceEntry("Oxymètre CMS50D+ (série, simulé)", "sim://oximeter-serial?protocol=cms50d"),
    DeviceEntry("Thermomètre (BLE, simulé)", "sim://thermometer-ble"),
    DeviceEntry("Tensiomètre (BLE, simulé)", "sim://blood-pressure-ble"),
    DeviceEntry("Balance (BLE, simulée)", "sim://scale-ble"),
    DeviceEntry("Stéthoscope (simulé)", "sim://stethoscope"),
    DeviceEntry("Otoscope (simulé)", "sim://otoscope"),
    DeviceEntry("Dermatoscope (simulé)", "sim://dermatoscope"),
    DeviceEntry("Caméra de la chambre (simulée)", "sim://room-camera"),
)


def config_path() -> Path:
    """Where the device list lives."""
    return station_home() / CONFIG_FILENAME


def load_devices(path: Path | None = None) -> tuple[list[DeviceEntry], bool]:
    """The configured devices, and whether they came from a file (else the demo list).

    A malformed file or URL is refused with a message naming the entry.
    """
    path = path or config_path()
    if not path.exists():
        return list(DEMO_DEVICES), False
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise ValidationError("devices_file", "devices.file_malformed", path=str(path),
                              reason=str(error)) from error
    entries = []
    for index, raw in enumerate(data.get("device", []), start=1):
        name, url = str(raw.get("name", "")).strip(), str(raw.get("url", "")).strip()
        try:
            parse_device_url(url)
        except DeviceConfigurationError as error:
            raise ValidationError("devices_file", "devices.entry_invalid", index=index,
                                  reason=str(error)) from error
        entries.append(DeviceEntry(name or url, url))
    return entries, True
