"""Bluetooth Health Thermometer (0x1809): Temperature Measurement (0x2A1C).

Flags: bit 0 unit (0 °C, 1 °F), bit 1 timestamp present, bit 2 temperature
type present; bits 3-7 reserved (kept in ``reserved_flags``). The
temperature is a FLOAT whose exponent gives the precision (37.60 has two
decimals). The Intermediate Temperature characteristic (0x2A1E) has the same
format and can be decoded with the same function.

A temperature type outside 1-9 is reserved by the specification and rejected:
a reading whose site is garbage is not one to file silently.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum, IntEnum

from devices.codecs._measure import device_time, from_mder
from devices.codecs._wire import U32, Layout, layout_error
from devices.codecs.ieee11073 import (
    DateTime,
    MderFloat,
    decode_float,
    encode_date_time,
    encode_float,
    read_date_time,
)
from devices.errors import DecodeError
from devices.measurement import Kind, Measurement

TEMPERATURE_MEASUREMENT_UUID = 0x2A1C
INTERMEDIATE_TEMPERATURE_UUID = 0x2A1E
PROTOCOL = "ble-hts"


class TemperatureUnit(Enum):
    """The unit of the temperature field; values are UCUM codes."""

    CELSIUS = "Cel"
    FAHRENHEIT = "[degF]"


class TemperatureType(IntEnum):
    """Where the temperature was taken (Temperature Type characteristic 0x2A1D values)."""

    ARMPIT = 1
    BODY = 2
    EAR = 3
    FINGER = 4
    GASTROINTESTINAL_TRACT = 5
    MOUTH = 6
    RECTUM = 7
    TOE = 8
    TYMPANUM = 9


_TYPES = {t.value: t for t in TemperatureType}


@dataclass(frozen=True, slots=True)
class TemperatureMeasurement:
    """A decoded Temperature Measurement."""

    temperature: MderFloat
    unit: TemperatureUnit
    timestamp: DateTime | None = None
    temperature_type: TemperatureType | None = None
    reserved_flags: int = 0


def _layout(flags: int) -> Layout:
    return [("flags", 1), ("temperature", 4)] + [("timestamp", 7)] * (flags >> 1 & 1) \
        + [("temperature type", 1)] * (flags >> 2 & 1)


_LENGTHS = tuple(sum(size for _, size in _layout(f)) for f in range(256))


def decode_temperature_measurement(data: bytes) -> TemperatureMeasurement:
    """Decode a Temperature Measurement; DecodeError if malformed."""
    if not data or len(data) != _LENGTHS[data[0]]:
        raise layout_error(PROTOCOL, data, _layout(data[0] if data else 0))
    flags = data[0]
    temperature = decode_float(U32.unpack_from(data, 1)[0])
    timestamp = None
    if flags & 0x02:
        timestamp = read_date_time(data, 5, PROTOCOL)
    site = None
    if flags & 0x04:
        raw = data[-1]
        site = _TYPES.get(raw)
        if site is None:
            raise DecodeError(PROTOCOL, len(data) - 1,
                              f"temperature type {raw} is reserved (1-9 are defined)")
    unit = TemperatureUnit.FAHRENHEIT if flags & 0x01 else TemperatureUnit.CELSIUS
    return TemperatureMeasurement(temperature, unit, timestamp, site, flags & 0xF8)


def encode_temperature_measurement(m: TemperatureMeasurement) -> bytes:
    """The bytes a thermometer indicates for ``m``."""
    if m.reserved_flags & ~0xF8:
        raise ValueError(f"reserved flags {m.reserved_flags:#04x} outside mask 0xf8")
    flags = (m.unit is TemperatureUnit.FAHRENHEIT) | (m.timestamp is not None) << 1 \
        | (m.temperature_type is not None) << 2 | m.reserved_flags
    out = bytearray((flags,))
    out += U32.pack(encode_float(m.temperature))
    if m.timestamp is not None:
        out += encode_date_time(m.timestamp)
    if m.temperature_type is not None:
        out.append(int(m.temperature_type))
    return bytes(out)


def to_measurements(m: TemperatureMeasurement, device: str,
                    received_at: datetime) -> list[Measurement]:
    """The body temperature of ``m``, in the unit the thermometer used."""
    time, quality = device_time(m.timestamp, received_at)
    return [from_mder(Kind.BODY_TEMPERATURE, m.temperature, m.unit.value, time, device, quality)]
