"""Bluetooth Blood Pressure (0x1810): Blood Pressure Measurement (0x2A35).

Flags: bit 0 unit (0 mmHg, 1 kPa), bit 1 timestamp, bit 2 pulse rate, bit 3
user id, bit 4 measurement status; bits 5-7 reserved (kept in
``reserved_flags``). Systolic, diastolic and mean arterial pressure are
SFLOATs. The Intermediate Cuff Pressure characteristic (0x2A36) has the same
format (diastolic and MAP then NaN) and decodes with the same function.

The status word is kept as an int (reserved bits 6-15 included, so encoding
is exact); :class:`BpStatus` and :func:`pulse_range` read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum, IntEnum, IntFlag

from devices.codecs._measure import device_time, from_mder
from devices.codecs._wire import U16, U16X3, Layout, layout_error
from devices.codecs.ieee11073 import (
    DateTime,
    MderFloat,
    decode_sfloat,
    encode_date_time,
    encode_sfloat,
    read_date_time,
)
from devices.measurement import Kind, Measurement, Quality

BLOOD_PRESSURE_MEASUREMENT_UUID = 0x2A35
INTERMEDIATE_CUFF_PRESSURE_UUID = 0x2A36
PROTOCOL = "ble-bps"
UNKNOWN_USER = 0xFF


class PressureUnit(Enum):
    """The unit of the three pressures; values are UCUM codes."""

    MMHG = "mm[Hg]"
    KPA = "kPa"


class BpStatus(IntFlag):
    """Measurement Status bits. Bits 3-4 together are the pulse range (see :func:`pulse_range`)."""

    BODY_MOVEMENT = 1 << 0
    CUFF_LOOSE = 1 << 1
    IRREGULAR_PULSE = 1 << 2
    PULSE_ABOVE_UPPER_LIMIT = 1 << 3  # pulse range value 1
    PULSE_BELOW_LOWER_LIMIT = 1 << 4  # pulse range value 2 (both bits: 3, reserved)
    IMPROPER_POSITION = 1 << 5


class PulseRange(IntEnum):
    """Pulse Rate Range Detection (status bits 3-4)."""

    WITHIN_RANGE = 0
    ABOVE_UPPER_LIMIT = 1
    BELOW_LOWER_LIMIT = 2
    RESERVED = 3


def pulse_range(status: int) -> PulseRange:
    """The pulse range encoded in bits 3-4 of ``status``."""
    return PulseRange(status >> 3 & 0b11)


@dataclass(frozen=True, slots=True)
class BloodPressureMeasurement:
    """A decoded Blood Pressure Measurement."""

    systolic: MderFloat
    diastolic: MderFloat
    mean_arterial_pressure: MderFloat
    unit: PressureUnit
    timestamp: DateTime | None = None
    pulse_rate: MderFloat | None = None
    user_id: int | None = None  # 0xFF: unknown user
    status: int | None = None
    reserved_flags: int = 0


def _layout(flags: int) -> Layout:
    return [("flags", 1), ("systolic", 2), ("diastolic", 2), ("mean arterial pressure", 2)] \
        + [("timestamp", 7)] * (flags >> 1 & 1) + [("pulse rate", 2)] * (flags >> 2 & 1) \
        + [("user id", 1)] * (flags >> 3 & 1) + [("measurement status", 2)] * (flags >> 4 & 1)


_LENGTHS = tuple(sum(size for _, size in _layout(f)) for f in range(256))


def decode_blood_pressure(data: bytes) -> BloodPressureMeasurement:
    """Decode a Blood Pressure Measurement; DecodeError if malformed."""
    if not data or len(data) != _LENGTHS[data[0]]:
        raise layout_error(PROTOCOL, data, _layout(data[0] if data else 0))
    flags = data[0]
    systolic, diastolic, mean = U16X3.unpack_from(data, 1)
    offset = 7
    timestamp = pulse = user = status = None
    if flags & 0x02:
        timestamp = read_date_time(data, offset, PROTOCOL)
        offset += 7
    if flags & 0x04:
        pulse = decode_sfloat(U16.unpack_from(data, offset)[0])
        offset += 2
    if flags & 0x08:
        user = data[offset]
        offset += 1
    if flags & 0x10:
        status = U16.unpack_from(data, offset)[0]
    unit = PressureUnit.KPA if flags & 0x01 else PressureUnit.MMHG
    return BloodPressureMeasurement(decode_sfloat(systolic), decode_sfloat(diastolic),
                                    decode_sfloat(mean), unit, timestamp, pulse, user, status,
                                    flags & 0xE0)


def encode_blood_pressure(m: BloodPressureMeasurement) -> bytes:
    """The bytes a blood pressure monitor indicates for ``m``."""
    if m.reserved_flags & ~0xE0:
        raise ValueError(f"reserved flags {m.reserved_flags:#04x} outside mask 0xe0")
    flags = (m.unit is PressureUnit.KPA) | (m.timestamp is not None) << 1 \
        | (m.pulse_rate is not None) << 2 | (m.user_id is not None) << 3 \
        | (m.status is not None) << 4 | m.reserved_flags
    out = bytearray((flags,))
    out += U16X3.pack(encode_sfloat(m.systolic), encode_sfloat(m.diastolic),
                      encode_sfloat(m.mean_arterial_pressure))
    if m.timestamp is not None:
        out += encode_date_time(m.timestamp)
    if m.pulse_rate is not None:
        out += U16.pack(encode_sfloat(m.pulse_rate))
    if m.user_id is not None:
        out.append(m.user_id)
    if m.status is not None:
        out += U16.pack(m.status)
    return bytes(out)


def quality_of(status: int | None) -> frozenset[Quality]:
    """Flags for the whole reading: a loose cuff or a moving arm taints every value of it."""
    if not status:
        return frozenset()
    flags: set[Quality] = set()
    if status & BpStatus.BODY_MOVEMENT:
        flags.add(Quality.MOTION)
    if status & BpStatus.CUFF_LOOSE:
        flags.add(Quality.CUFF_LOOSE)
    if status & BpStatus.IRREGULAR_PULSE:
        flags.add(Quality.IRREGULAR_PULSE)
    if status & BpStatus.IMPROPER_POSITION:
        flags.add(Quality.IMPROPER_POSITION)
    return frozenset(flags)


def to_measurements(m: BloodPressureMeasurement, device: str,
                    received_at: datetime) -> list[Measurement]:
    """Systolic, diastolic, mean arterial pressure and (when present) pulse rate.

    A pulse outside the monitor's detection range (status bits 3-4) adds
    ``OUT_OF_RANGE`` to the pulse only.
    """
    time, quality = device_time(m.timestamp, received_at)
    quality |= quality_of(m.status)
    unit = m.unit.value
    out = [from_mder(Kind.SYSTOLIC, m.systolic, unit, time, device, quality),
           from_mder(Kind.DIASTOLIC, m.diastolic, unit, time, device, quality),
           from_mder(Kind.MEAN_ARTERIAL_PRESSURE, m.mean_arterial_pressure, unit, time, device,
                     quality)]
    if m.pulse_rate is not None:
        pulse_quality = quality
        if m.status is not None and pulse_range(m.status) in (PulseRange.ABOVE_UPPER_LIMIT,
                                                              PulseRange.BELOW_LOWER_LIMIT):
            pulse_quality = quality | {Quality.OUT_OF_RANGE}
        out.append(from_mder(Kind.PULSE_RATE, m.pulse_rate, "/min", time, device, pulse_quality))
    return out
