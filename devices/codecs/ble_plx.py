"""Bluetooth Pulse Oximeter Service (0x1822): PLX Spot-Check, Continuous and Features.

Every optional field the flags announce is decoded (timestamp, measurement
status, device and sensor status, pulse amplitude index, fast and slow
SpO2/PR pairs). Reserved flag bits are kept in ``reserved_flags`` so that
``encode(decode(b)) == b`` for any accepted input; reserved status bits stay
in the raw status integers for the same reason. The status words are plain
ints (fast, and comparable with the :class:`enum.IntFlag` members below).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import IntFlag

from devices.codecs._measure import device_time, from_mder
from devices.codecs._wire import U16, U16X2, Layout, layout_error, pack_u24, u24
from devices.codecs.ieee11073 import (
    DateTime,
    MderFloat,
    decode_sfloat,
    encode_date_time,
    encode_sfloat,
    read_date_time,
)
from devices.measurement import Kind, Measurement, Quality

SPOT_CHECK_UUID = 0x2A5E
CONTINUOUS_UUID = 0x2A5F
FEATURES_UUID = 0x2A60
SPOT_PROTOCOL = "ble-plx-spot"
CONTINUOUS_PROTOCOL = "ble-plx-continuous"
FEATURES_PROTOCOL = "ble-plx-features"


class PlxMeasurementStatus(IntFlag):
    """Measurement Status bits (uint16; bits 0-4 reserved)."""

    MEASUREMENT_ONGOING = 1 << 5
    EARLY_ESTIMATED_DATA = 1 << 6
    VALIDATED_DATA = 1 << 7
    FULLY_QUALIFIED_DATA = 1 << 8
    DATA_FROM_STORAGE = 1 << 9
    DATA_FOR_DEMONSTRATION = 1 << 10
    DATA_FOR_TESTING = 1 << 11
    CALIBRATION_ONGOING = 1 << 12
    MEASUREMENT_UNAVAILABLE = 1 << 13
    QUESTIONABLE_MEASUREMENT = 1 << 14
    INVALID_MEASUREMENT = 1 << 15


class PlxDeviceStatus(IntFlag):
    """Device and Sensor Status bits (uint24; bits 16-23 reserved)."""

    EXTENDED_DISPLAY_UPDATE_ONGOING = 1 << 0
    EQUIPMENT_MALFUNCTION = 1 << 1
    SIGNAL_PROCESSING_IRREGULARITY = 1 << 2
    INADEQUATE_SIGNAL = 1 << 3
    POOR_SIGNAL = 1 << 4
    LOW_PERFUSION = 1 << 5
    ERRATIC_SIGNAL = 1 << 6
    NONPULSATILE_SIGNAL = 1 << 7
    QUESTIONABLE_PULSE = 1 << 8
    SIGNAL_ANALYSIS_ONGOING = 1 << 9
    SENSOR_INTERFERENCE = 1 << 10
    SENSOR_UNCONNECTED_TO_USER = 1 << 11
    UNKNOWN_SENSOR_CONNECTED = 1 << 12
    SENSOR_DISPLACED = 1 << 13
    SENSOR_MALFUNCTIONING = 1 << 14
    SENSOR_DISCONNECTED = 1 << 15


class PlxSupportedFeatures(IntFlag):
    """PLX Features bits (uint16; bits 8-15 reserved)."""

    MEASUREMENT_STATUS = 1 << 0
    DEVICE_AND_SENSOR_STATUS = 1 << 1
    SPOT_CHECK_STORAGE = 1 << 2
    SPOT_CHECK_TIMESTAMP = 1 << 3
    SPO2PR_FAST = 1 << 4
    SPO2PR_SLOW = 1 << 5
    PULSE_AMPLITUDE_INDEX = 1 << 6
    MULTIPLE_BONDS = 1 << 7


@dataclass(frozen=True, slots=True)
class SpotCheck:
    """A PLX Spot-Check Measurement (0x2A5E)."""

    spo2: MderFloat
    pulse_rate: MderFloat
    timestamp: DateTime | None = None
    measurement_status: int | None = None
    device_status: int | None = None
    pulse_amplitude_index: MderFloat | None = None
    clock_not_set: bool = False
    reserved_flags: int = 0


@dataclass(frozen=True, slots=True)
class Continuous:
    """A PLX Continuous Measurement (0x2A5F). Fast and slow pairs are both set or both None."""

    spo2: MderFloat
    pulse_rate: MderFloat
    spo2_fast: MderFloat | None = None
    pulse_rate_fast: MderFloat | None = None
    spo2_slow: MderFloat | None = None
    pulse_rate_slow: MderFloat | None = None
    measurement_status: int | None = None
    device_status: int | None = None
    pulse_amplitude_index: MderFloat | None = None
    reserved_flags: int = 0


@dataclass(frozen=True, slots=True)
class Features:
    """The PLX Features characteristic (0x2A60)."""

    supported: int
    measurement_status_support: int | None = None
    device_status_support: int | None = None


def _spot_layout(flags: int) -> Layout:
    return [("flags", 1), ("SpO2", 2), ("pulse rate", 2)] \
        + [("timestamp", 7)] * (flags & 1) + [("measurement status", 2)] * (flags >> 1 & 1) \
        + [("device and sensor status", 3)] * (flags >> 2 & 1) \
        + [("pulse amplitude index", 2)] * (flags >> 3 & 1)


def _continuous_layout(flags: int) -> Layout:
    return [("flags", 1), ("SpO2", 2), ("pulse rate", 2)] \
        + [("SpO2PR-Fast", 4)] * (flags & 1) + [("SpO2PR-Slow", 4)] * (flags >> 1 & 1) \
        + [("measurement status", 2)] * (flags >> 2 & 1) \
        + [("device and sensor status", 3)] * (flags >> 3 & 1) \
        + [("pulse amplitude index", 2)] * (flags >> 4 & 1)


# Expected length for each flags byte, so the hot path checks length once.
_SPOT_LENGTHS = tuple(sum(size for _, size in _spot_layout(f)) for f in range(256))
_CONTINUOUS_LENGTHS = tuple(sum(size for _, size in _continuous_layout(f)) for f in range(256))


def decode_spot_check(data: bytes) -> SpotCheck:
    """Decode a Spot-Check Measurement; DecodeError if malformed."""
    if not data or len(data) != _SPOT_LENGTHS[data[0]]:
        raise layout_error(SPOT_PROTOCOL, data, _spot_layout(data[0] if data else 0))
    flags = data[0]
    spo2, pulse = U16X2.unpack_from(data, 1)
    offset = 5
    timestamp = status = device = pai = None
    if flags & 0x01:
        timestamp = read_date_time(data, offset, SPOT_PROTOCOL)
        offset += 7
    if flags & 0x02:
        status = U16.unpack_from(data, offset)[0]
        offset += 2
    if flags & 0x04:
        device = u24(data, offset)
        offset += 3
    if flags & 0x08:
        pai = decode_sfloat(U16.unpack_from(data, offset)[0])
    return SpotCheck(decode_sfloat(spo2), decode_sfloat(pulse), timestamp, status, device, pai,
                     bool(flags & 0x10), flags & 0xE0)


def encode_spot_check(m: SpotCheck) -> bytes:
    """The bytes a pulse oximeter indicates for ``m``."""
    flags = (m.timestamp is not None) | (m.measurement_status is not None) << 1 \
        | (m.device_status is not None) << 2 | (m.pulse_amplitude_index is not None) << 3 \
        | m.clock_not_set << 4 | _reserved(m.reserved_flags, 0xE0)
    out = bytearray((flags,))
    out += U16X2.pack(encode_sfloat(m.spo2), encode_sfloat(m.pulse_rate))
    if m.timestamp is not None:
        out += encode_date_time(m.timestamp)
    if m.measurement_status is not None:
        out += U16.pack(m.measurement_status)
    if m.device_status is not None:
        out += pack_u24(m.device_status)
    if m.pulse_amplitude_index is not None:
        out += U16.pack(encode_sfloat(m.pulse_amplitude_index))
    return bytes(out)


def decode_continuous(data: bytes) -> Continuous:
    """Decode a Continuous Measurement; DecodeError if malformed."""
    if not data or len(data) != _CONTINUOUS_LENGTHS[data[0]]:
        raise layout_error(CONTINUOUS_PROTOCOL, data, _continuous_layout(data[0] if data else 0))
    flags = data[0]
    spo2, pulse = U16X2.unpack_from(data, 1)
    offset = 5
    fast_spo2 = fast_pulse = slow_spo2 = slow_pulse = pai = None
    status = device = None
    if flags & 0x01:
        a, b = U16X2.unpack_from(data, offset)
        fast_spo2, fast_pulse = decode_sfloat(a), decode_sfloat(b)
        offset += 4
    if flags & 0x02:
        a, b = U16X2.unpack_from(data, offset)
        slow_spo2, slow_pulse = decode_sfloat(a), decode_sfloat(b)
        offset += 4
    if flags & 0x04:
        status = U16.unpack_from(data, offset)[0]
        offset += 2
    if flags & 0x08:
        device = u24(data, offset)
        offset += 3
    if flags & 0x10:
        pai = decode_sfloat(U16.unpack_from(data, offset)[0])
    return Continuous(decode_sfloat(spo2), decode_sfloat(pulse), fast_spo2, fast_pulse,
                      slow_spo2, slow_pulse, status, device, pai, flags & 0xE0)


def encode_continuous(m: Continuous) -> bytes:
    """The bytes a pulse oximeter notifies for ``m``."""
    fast = _pair(m.spo2_fast, m.pulse_rate_fast, "fast")
    slow = _pair(m.spo2_slow, m.pulse_rate_slow, "slow")
    flags = (fast is not None) | (slow is not None) << 1 | (m.measurement_status is not None) << 2 \
        | (m.device_status is not None) << 3 | (m.pulse_amplitude_index is not None) << 4 \
        | _reserved(m.reserved_flags, 0xE0)
    out = bytearray((flags,))
    out += U16X2.pack(encode_sfloat(m.spo2), encode_sfloat(m.pulse_rate))
    for pair in (fast, slow):
        if pair is not None:
            out += U16X2.pack(encode_sfloat(pair[0]), encode_sfloat(pair[1]))
    if m.measurement_status is not None:
        out += U16.pack(m.measurement_status)
    if m.device_status is not None:
        out += pack_u24(m.device_status)
    if m.pulse_amplitude_index is not None:
        out += U16.pack(encode_sfloat(m.pulse_amplitude_index))
    return bytes(out)


def decode_features(data: bytes) -> Features:
    """Decode the PLX Features characteristic; DecodeError if malformed."""
    layout: list[tuple[str, int]] = [("supported features", 2)]
    if len(data) >= 2:
        supported = U16.unpack_from(data)[0]
        layout += [("measurement status support", 2)] * (supported & 1)
        layout += [("device and sensor status support", 3)] * (supported >> 1 & 1)
    if len(data) != sum(size for _, size in layout):
        raise layout_error(FEATURES_PROTOCOL, data, layout)
    status_support = U16.unpack_from(data, 2)[0] if supported & 1 else None
    device_support = u24(data, len(data) - 3) if supported & 2 else None
    return Features(supported, status_support, device_support)


def encode_features(f: Features) -> bytes:
    """The bytes of the PLX Features characteristic; the two supports follow bits 0 and 1."""
    if (f.measurement_status_support is not None) != bool(f.supported & 1) or \
            (f.device_status_support is not None) != bool(f.supported & 2):
        raise ValueError("supports must be given exactly when bits 0 and 1 of supported are set")
    out = bytearray(U16.pack(f.supported))
    if f.measurement_status_support is not None:
        out += U16.pack(f.measurement_status_support)
    if f.device_status_support is not None:
        out += pack_u24(f.device_status_support)
    return bytes(out)


def _pair(spo2: MderFloat | None, pulse: MderFloat | None,
          name: str) -> tuple[MderFloat, MderFloat] | None:
    if spo2 is None and pulse is None:
        return None
    if spo2 is None or pulse is None:
        raise ValueError(f"SpO2PR-{name} needs both SpO2 and pulse rate")
    return spo2, pulse


def _reserved(value: int, mask: int) -> int:
    if value & ~mask:
        raise ValueError(f"reserved flags {value:#04x} outside mask {mask:#04x}")
    return value


# How status bits become quality flags: the value is kept either way, the flag
# tells the reader why to doubt it.
_STATUS_FLAGS = (
    (PlxMeasurementStatus.EARLY_ESTIMATED_DATA, Quality.EARLY_ESTIMATE),
    (PlxMeasurementStatus.VALIDATED_DATA | PlxMeasurementStatus.FULLY_QUALIFIED_DATA,
     Quality.VALIDATED),
    (PlxMeasurementStatus.CALIBRATION_ONGOING | PlxMeasurementStatus.MEASUREMENT_UNAVAILABLE,
     Quality.SEARCHING),
    (PlxMeasurementStatus.QUESTIONABLE_MEASUREMENT | PlxMeasurementStatus.INVALID_MEASUREMENT,
     Quality.ARTIFACT),
)
_DEVICE_FLAGS = (
    (PlxDeviceStatus.EQUIPMENT_MALFUNCTION | PlxDeviceStatus.UNKNOWN_SENSOR_CONNECTED
     | PlxDeviceStatus.SENSOR_MALFUNCTIONING | PlxDeviceStatus.SENSOR_DISCONNECTED,
     Quality.SENSOR_FAULT),
    (PlxDeviceStatus.SIGNAL_PROCESSING_IRREGULARITY | PlxDeviceStatus.ERRATIC_SIGNAL
     | PlxDeviceStatus.QUESTIONABLE_PULSE | PlxDeviceStatus.SENSOR_INTERFERENCE,
     Quality.ARTIFACT),
    (PlxDeviceStatus.INADEQUATE_SIGNAL | PlxDeviceStatus.POOR_SIGNAL
     | PlxDeviceStatus.LOW_PERFUSION | PlxDeviceStatus.NONPULSATILE_SIGNAL,
     Quality.LOW_PERFUSION),
    (PlxDeviceStatus.SIGNAL_ANALYSIS_ONGOING, Quality.SEARCHING),
    (PlxDeviceStatus.SENSOR_UNCONNECTED_TO_USER | PlxDeviceStatus.SENSOR_DISPLACED,
     Quality.FINGER_OUT),
)


def quality_of(measurement_status: int | None, device_status: int | None) -> frozenset[Quality]:
    """The quality flags the two status words imply."""
    flags: set[Quality] = set()
    if measurement_status:
        flags.update(q for bits, q in _STATUS_FLAGS if measurement_status & bits)
    if device_status:
        flags.update(q for bits, q in _DEVICE_FLAGS if device_status & bits)
    return frozenset(flags)


def to_measurements(m: SpotCheck | Continuous, device: str,
                    received_at: datetime) -> list[Measurement]:
    """SpO2, pulse rate and (when present) perfusion index of ``m``.

    Continuous fast/slow pairs are decoded but not emitted: they are other
    averagings of the same SpO2 and pulse, and would double the record. A
    spot-check whose device clock is not set is dated at reception (its
    timestamp would be a made-up date) and flagged ``CLOCK_NOT_SET``.
    """
    clock_not_set = isinstance(m, SpotCheck) and m.clock_not_set
    timestamp = m.timestamp if isinstance(m, SpotCheck) and not clock_not_set else None
    time, quality = device_time(timestamp, received_at)
    quality |= quality_of(m.measurement_status, m.device_status)
    if clock_not_set:
        quality |= {Quality.CLOCK_NOT_SET}
    out = [from_mder(Kind.SPO2, m.spo2, "%", time, device, quality),
           from_mder(Kind.PULSE_RATE, m.pulse_rate, "/min", time, device, quality)]
    if m.pulse_amplitude_index is not None:
        out.append(from_mder(Kind.PERFUSION_INDEX, m.pulse_amplitude_index, "%", time, device,
                             quality))
    return out
