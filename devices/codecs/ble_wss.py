"""Bluetooth Weight Scale (0x181D): Weight Measurement (0x2A9D) and Weight Scale Feature (0x2A9E).

Weight is a **uint16**, not an SFLOAT: 0.005 kg (SI) or 0.01 lb (imperial),
a different multiplier per unit, not a conversion. BMI is uint16 × 0.1 kg/m²;
height uint16 × 0.001 m or × 0.1 in. Flags: bit 0 imperial, bit 1 timestamp,
bit 2 user id, bit 3 BMI and height; bits 4-7 reserved (kept).

A weight of 0xFFFF means "measurement unsuccessful" (from the Weight Scale
Service specification; not checked against a public capture): it becomes a
NaN weight flagged ``NOT_A_NUMBER``, kept rather than dropped.

Raw integers are stored, so decoding and encoding are exact; the ``weight``,
``bmi`` and ``height`` properties give the scaled values.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from devices.codecs._measure import device_time, from_count, measurement
from devices.codecs._wire import U16, U16X2, U32, Layout, layout_error
from devices.codecs.ieee11073 import DateTime, encode_date_time, read_date_time
from devices.measurement import Kind, Measurement

WEIGHT_MEASUREMENT_UUID = 0x2A9D
WEIGHT_SCALE_FEATURE_UUID = 0x2A9E
PROTOCOL = "ble-wss"
FEATURE_PROTOCOL = "ble-wss-feature"
WEIGHT_UNSUCCESSFUL = 0xFFFF
UNKNOWN_USER = 0xFF

_KG, _LB, _M, _IN = Decimal("0.005"), Decimal("0.01"), Decimal("0.001"), Decimal("0.1")
_BMI = Decimal("0.1")


@dataclass(frozen=True, slots=True)
class WeightMeasurement:
    """A decoded Weight Measurement (raw fields; see the properties for values)."""

    raw_weight: int
    imperial: bool = False
    timestamp: DateTime | None = None
    user_id: int | None = None  # 0xFF: unknown user
    raw_bmi: int | None = None  # present together with raw_height
    raw_height: int | None = None
    reserved_flags: int = 0

    @property
    def unsuccessful(self) -> bool:
        """True when the scale reported 0xFFFF (no weight)."""
        return self.raw_weight == WEIGHT_UNSUCCESSFUL

    @property
    def weight(self) -> Decimal | None:
        """Weight in kg (SI) or lb (imperial), None when unsuccessful."""
        if self.unsuccessful:
            return None
        return self.raw_weight * (_LB if self.imperial else _KG)

    @property
    def bmi(self) -> Decimal | None:
        """Body mass index in kg/m², when sent."""
        return None if self.raw_bmi is None else self.raw_bmi * _BMI

    @property
    def height(self) -> Decimal | None:
        """Height in m (SI) or in (imperial), when sent."""
        return None if self.raw_height is None else self.raw_height * (_IN if self.imperial else _M)


@dataclass(frozen=True, slots=True)
class WeightScaleFeature:
    """The Weight Scale Feature characteristic: what the scale supports and its resolutions."""

    raw: int

    @property
    def weight_resolution(self) -> int:
        """Bits 3-6: 0 unspecified, 1 (0.5 kg / 1 lb) ... 7 (0.005 kg / 0.01 lb)."""
        return self.raw >> 3 & 0x0F

    @property
    def height_resolution(self) -> int:
        """Bits 7-9: 0 unspecified, 1 (0.01 m / 1 in), 2 (0.005 m / 0.5 in), 3 (0.001 m)."""
        return self.raw >> 7 & 0x07

    def weight_decimals(self, imperial: bool) -> int | None:
        """Decimals the scale's weight resolution means, None if unspecified or reserved."""
        table = (None, 0, 1, 1, 1, 2, 2, 2) if imperial else (None, 1, 1, 1, 2, 2, 2, 3)
        resolution = self.weight_resolution
        return table[resolution] if resolution < 8 else None

    def height_decimals(self, imperial: bool) -> int | None:
        """Decimals the scale's height resolution means, None if unspecified or reserved."""
        table = (None, 0, 1, 1) if imperial else (None, 2, 3, 3)
        resolution = self.height_resolution
        return table[resolution] if resolution < 4 else None


def _layout(flags: int) -> Layout:
    return [("flags", 1), ("weight", 2)] + [("timestamp", 7)] * (flags >> 1 & 1) \
        + [("user id", 1)] * (flags >> 2 & 1) + [("BMI", 2), ("height", 2)] * (flags >> 3 & 1)


_LENGTHS = tuple(sum(size for _, size in _layout(f)) for f in range(256))


def decode_weight_measurement(data: bytes) -> WeightMeasurement:
    """Decode a Weight Measurement; DecodeError if malformed."""
    if not data or len(data) != _LENGTHS[data[0]]:
        raise layout_error(PROTOCOL, data, _layout(data[0] if data else 0))
    flags = data[0]
    weight = U16.unpack_from(data, 1)[0]
    offset = 3
    timestamp = user = bmi = height = None
    if flags & 0x02:
        timestamp = read_date_time(data, offset, PROTOCOL)
        offset += 7
    if flags & 0x04:
        user = data[offset]
        offset += 1
    if flags & 0x08:
        bmi, height = U16X2.unpack_from(data, offset)
    return WeightMeasurement(weight, bool(flags & 0x01), timestamp, user, bmi, height,
                             flags & 0xF0)


def encode_weight_measurement(m: WeightMeasurement) -> bytes:
    """The bytes a scale indicates for ``m``."""
    if (m.raw_bmi is None) != (m.raw_height is None):
        raise ValueError("BMI and height are sent together or not at all")
    if m.reserved_flags & ~0xF0:
        raise ValueError(f"reserved flags {m.reserved_flags:#04x} outside mask 0xf0")
    flags = m.imperial | (m.timestamp is not None) << 1 | (m.user_id is not None) << 2 \
        | (m.raw_bmi is not None) << 3 | m.reserved_flags
    out = bytearray((flags,))
    out += U16.pack(m.raw_weight)
    if m.timestamp is not None:
        out += encode_date_time(m.timestamp)
    if m.user_id is not None:
        out.append(m.user_id)
    if m.raw_bmi is not None and m.raw_height is not None:
        out += U16X2.pack(m.raw_bmi, m.raw_height)
    return bytes(out)


def decode_feature(data: bytes) -> WeightScaleFeature:
    """Decode the Weight Scale Feature (uint32); DecodeError if not 4 bytes."""
    if len(data) != 4:
        raise layout_error(FEATURE_PROTOCOL, data, (("features", 4),))
    return WeightScaleFeature(U32.unpack(data)[0])


def encode_feature(feature: WeightScaleFeature) -> bytes:
    """The 4 bytes of ``feature``."""
    return U32.pack(feature.raw)


def to_measurements(m: WeightMeasurement, device: str, received_at: datetime, *,
                    feature: WeightScaleFeature | None = None) -> list[Measurement]:
    """Body weight, and BMI and height when sent.

    Decimals follow the field resolution (0.005 kg → 3) unless ``feature``
    says the scale is coarser (0.1 kg → 1).
    """
    time, quality = device_time(m.timestamp, received_at)
    imperial = m.imperial
    weight_decimals = _first(feature.weight_decimals(imperial) if feature else None,
                             2 if imperial else 3)
    weight_unit = "[lb_av]" if imperial else "kg"
    if m.unsuccessful:
        out = [from_count(Kind.BODY_WEIGHT, m.raw_weight, WEIGHT_UNSUCCESSFUL, weight_unit, time,
                          device, quality)]
    else:
        out = [measurement(Kind.BODY_WEIGHT, float(m.raw_weight * (_LB if imperial else _KG)),
                           weight_unit, time, device, quality, weight_decimals)]
    if m.raw_bmi is not None and m.raw_height is not None:
        height_decimals = _first(feature.height_decimals(imperial) if feature else None,
                                 1 if imperial else 3)
        out.append(measurement(Kind.BMI, float(m.raw_bmi * _BMI), "kg/m2", time, device,
                               quality, 1))
        out.append(measurement(Kind.HEIGHT, float(m.raw_height * (_IN if imperial else _M)),
                               "[in_i]" if imperial else "m", time, device, quality,
                               height_decimals))
    return out


def _first(value: int | None, default: int) -> int:
    return default if value is None else value
