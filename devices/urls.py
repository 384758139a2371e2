"""Device addresses as URLs, the way pyserial's ``serial_for_url`` names ports.

Examples::

    ble://AA:BB:CC:DD:EE:FF?profile=plx       a BLE oximeter (profile: plx, hts, bps, wss)
    serial:///dev/ttyUSB0?protocol=cms50d      a serial oximeter (cms50d, cms50d-v46, nonin-2)
    camera://0?role=otoscope                  a UVC camera by index (or camera:///dev/video2)
    audio://default                           an audio input (stethoscope), by name or index
    sim://oximeter-ble?misbehave=drop         a simulator, selectable in demo mode

Query parameters are device options. Parsing is strict: an unknown scheme,
a malformed BLE address or an unknown profile is refused with a message that
names what is wrong, before anything tries to connect.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

from devices.errors import DeviceConfigurationError

SCHEMES = ("ble", "serial", "camera", "audio", "sim")
BLE_PROFILES = ("plx", "hts", "bps", "wss")
SERIAL_PROTOCOLS = ("cms50d", "cms50d-v46", "nonin-2")
_BLE_ADDRESS = re.compile(r"^[0-9A-F]{2}(?::[0-9A-F]{2}){5}$")


@dataclass(frozen=True, slots=True)
class DeviceUrl:
    """A parsed device URL: scheme, target (address, path, index or name), options."""

    scheme: str
    target: str
    options: dict[str, str] = field(default_factory=dict)

    def option(self, name: str, default: str = "") -> str:
        """An option from the query string, or ``default``."""
        return self.options.get(name, default)

    def __str__(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"{self.scheme}://{self.target}" + (f"?{query}" if query else "")


def parse_device_url(text: str) -> DeviceUrl:
    """Parse and check a device URL; raises :class:`DeviceConfigurationError`."""
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise DeviceConfigurationError(
            f"{text!r}: unknown device scheme {scheme or '(none)'!r}; use one of "
            + ", ".join(f"{s}://" for s in SCHEMES)
        )
    options = dict(parse_qsl(parts.query, keep_blank_values=True))
    target = parts.netloc + parts.path if scheme in ("serial", "camera") else parts.netloc
    if not target:
        raise DeviceConfigurationError(f"{text!r}: the URL names no device")
    if scheme == "ble":
        target = target.upper()
        if not _BLE_ADDRESS.match(target):
            raise DeviceConfigurationError(
                f"{text!r}: {target!r} is not a Bluetooth address (AA:BB:CC:DD:EE:FF)")
        _check_choice(text, "profile", options.get("profile", ""), BLE_PROFILES)
    elif scheme == "serial":
        _check_choice(text, "protocol", options.get("protocol", ""), SERIAL_PROTOCOLS)
    return DeviceUrl(scheme, target, options)


def _check_choice(text: str, name: str, value: str, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise DeviceConfigurationError(
            f"{text!r}: {name}={value or '(missing)'} is not supported; use one of "
            + ", ".join(choices)
        )
