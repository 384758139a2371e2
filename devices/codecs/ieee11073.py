"""IEEE 11073-20601 numbers (SFLOAT, FLOAT) and the Bluetooth Date Time field.

The Bluetooth SIG health services (pulse oximeter, thermometer, blood
pressure) carry values as MDER SFLOAT (16 bits) or FLOAT (32 bits): a signed
base-10 exponent and a signed mantissa. The exponent carries the precision the
device meant (``0xF014`` is 2.0, ``0xE0C8`` is 2.00), so :class:`MderFloat`
keeps mantissa and exponent rather than collapsing them into a float.

Special values (NaN, NRes, ±INF, reserved) are whole 16/32-bit codes with a
zero exponent (as Wireshark's ``ftype-ieee-11073-float.c`` reads them); they
decode to a :class:`Special` and never raise.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from enum import Enum

from devices.codecs._wire import layout_error
from devices.errors import DecodeError

__all__ = [
    "DateTime", "MderFloat", "Special", "decode_date_time", "decode_float", "decode_sfloat",
    "encode_date_time", "encode_float", "encode_sfloat", "read_date_time",
]


class Special(Enum):
    """The non-numeric values an SFLOAT or FLOAT can carry."""

    NAN = "NaN"
    NRES = "NRes"  # "not at this resolution": the value exists but cannot be represented
    POSITIVE_INFINITY = "+INF"
    NEGATIVE_INFINITY = "-INF"
    RESERVED = "reserved"


@dataclass(frozen=True, slots=True)
class MderFloat:
    """An SFLOAT or FLOAT value: ``mantissa × 10**exponent``, or a :class:`Special`.

    Specials are stored with mantissa and exponent 0, so an SFLOAT NaN equals
    a FLOAT NaN.
    """

    mantissa: int
    exponent: int
    special: Special | None = None

    @property
    def value(self) -> float:
        """The number as a float (NaN or ±inf for specials)."""
        special = self.special
        if special is not None:
            if special is Special.POSITIVE_INFINITY:
                return math.inf
            if special is Special.NEGATIVE_INFINITY:
                return -math.inf
            return math.nan
        scale: int = 10 ** abs(self.exponent)
        if self.exponent >= 0:
            return float(self.mantissa * scale)
        # int / int is correctly rounded, so 3760 / 100 is the float nearest 37.6.
        return self.mantissa / scale

    @property
    def decimals(self) -> int | None:
        """Digits after the decimal point the device meant, None for specials."""
        if self.special is not None:
            return None
        return -self.exponent if self.exponent < 0 else 0

    @property
    def is_finite(self) -> bool:
        """True for an actual number."""
        return self.special is None

    def to_decimal(self) -> Decimal:
        """The exact value as a Decimal (NaN, ±Infinity for specials)."""
        if self.special is None:
            return Decimal(self.mantissa).scaleb(self.exponent)
        return Decimal(str(self.value))

    @classmethod
    def from_decimal(cls, value: Decimal | str | int) -> MderFloat:
        """The number written in decimal, keeping its precision (``"37.60"`` keeps 2 decimals)."""
        number = Decimal(value)
        if not number.is_finite():
            raise ValueError(f"{value!r} is not a finite number; use MderFloat.of_special")
        sign, digits, exponent = number.as_tuple()
        assert isinstance(exponent, int)  # finite numbers have an int exponent
        mantissa = int("".join(map(str, digits)) or "0")
        return cls(-mantissa if sign else mantissa, exponent)

    @classmethod
    def of_special(cls, special: Special) -> MderFloat:
        """The special value ``special``."""
        return cls(0, 0, special)


# --- SFLOAT (uint16: 4-bit exponent, 12-bit mantissa) -------------------------------------------

_SFLOAT_SPECIALS = {
    0x07FF: Special.NAN, 0x0800: Special.NRES, 0x07FE: Special.POSITIVE_INFINITY,
    0x0802: Special.NEGATIVE_INFINITY, 0x0801: Special.RESERVED,
}
_SFLOAT_CODES = {special: code for code, special in _SFLOAT_SPECIALS.items()}
# Decoded SFLOATs are immutable and there are only 65,536 of them: caching
# makes the hot path of every BLE codec a dict lookup.
_SFLOAT_CACHE: dict[int, MderFloat] = {}


def decode_sfloat(raw: int) -> MderFloat:
    """Decode an SFLOAT given as its uint16 value (already read little-endian)."""
    cached = _SFLOAT_CACHE.get(raw)
    if cached is not None:
        return cached
    if not 0 <= raw <= 0xFFFF:
        raise ValueError(f"SFLOAT raw value {raw} is not a uint16")
    special = _SFLOAT_SPECIALS.get(raw)
    if special is not None:
        decoded = MderFloat(0, 0, special)
    else:
        mantissa = raw & 0x0FFF
        exponent = raw >> 12
        decoded = MderFloat(mantissa - 0x1000 if mantissa >= 0x0800 else mantissa,
                            exponent - 16 if exponent >= 8 else exponent)
    _SFLOAT_CACHE[raw] = decoded
    return decoded


def encode_sfloat(value: MderFloat) -> int:
    """The uint16 of ``value``; ValueError if it does not fit an SFLOAT."""
    if value.special is not None:
        return _SFLOAT_CODES[value.special]
    mantissa, exponent = value.mantissa, value.exponent
    if not (-2048 <= mantissa <= 2047 and -8 <= exponent <= 7):
        raise ValueError(f"{value} does not fit an SFLOAT (12-bit mantissa, 4-bit exponent)")
    raw = ((exponent & 0x0F) << 12) | (mantissa & 0x0FFF)
    if raw in _SFLOAT_SPECIALS:
        raise ValueError(f"{value} would be read back as {_SFLOAT_SPECIALS[raw].value}")
    return raw


# --- FLOAT (uint32: 8-bit exponent, 24-bit mantissa) --------------------------------------------

_FLOAT_SPECIALS = {
    0x007FFFFF: Special.NAN, 0x00800000: Special.NRES, 0x007FFFFE: Special.POSITIVE_INFINITY,
    0x00800002: Special.NEGATIVE_INFINITY, 0x00800001: Special.RESERVED,
}
_FLOAT_CODES = {special: code for code, special in _FLOAT_SPECIALS.items()}


def decode_float(raw: int) -> MderFloat:
    """Decode a FLOAT given as its uint32 value (already read little-endian)."""
    if not 0 <= raw <= 0xFFFFFFFF:
        raise ValueError(f"FLOAT raw value {raw} is not a uint32")
    special = _FLOAT_SPECIALS.get(raw)
    if special is not None:
        return MderFloat(0, 0, special)
    mantissa = raw & 0x00FFFFFF
    exponent = raw >> 24
    return MderFloat(mantissa - 0x01000000 if mantissa >= 0x00800000 else mantissa,
                     exponent - 256 if exponent >= 128 else exponent)


def encode_float(value: MderFloat) -> int:
    """The uint32 of ``value``; ValueError if it does not fit a FLOAT."""
    if value.special is not None:
        return _FLOAT_CODES[value.special]
    mantissa, exponent = value.mantissa, value.exponent
    if not (-0x800000 <= mantissa <= 0x7FFFFF and -128 <= exponent <= 127):
        raise ValueError(f"{value} does not fit a FLOAT (24-bit mantissa, 8-bit exponent)")
    raw = ((exponent & 0xFF) << 24) | (mantissa & 0x00FFFFFF)
    if raw in _FLOAT_SPECIALS:
        raise ValueError(f"{value} would be read back as {_FLOAT_SPECIALS[raw].value}")
    return raw


# --- Date Time (7 bytes) ------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class DateTime:
    """The Bluetooth Date Time field: a wall-clock time without time zone.

    ``year``, ``month`` and ``day`` are 0 when the device does not know them.
    """

    year: int
    month: int
    day: int
    hours: int
    minutes: int
    seconds: int

    @property
    def is_known(self) -> bool:
        """True when year, month and day are all given."""
        return bool(self.year and self.month and self.day)

    def to_datetime(self, tz: tzinfo | None) -> datetime | None:
        """This wall-clock time in ``tz``, or None if unknown or not a real date (31 April)."""
        if not (self.year and self.month and self.day):
            return None
        try:
            return datetime(self.year, self.month, self.day, self.hours, self.minutes,
                            self.seconds, tzinfo=tz)
        except ValueError:
            return None

    @classmethod
    def from_datetime(cls, moment: datetime) -> DateTime:
        """The Date Time a device would send for ``moment`` (its wall-clock fields)."""
        return cls(moment.year, moment.month, moment.day, moment.hour, moment.minute,
                   moment.second)


_DATE_TIME = struct.Struct("<HBBBBB")
DATE_TIME_SIZE = _DATE_TIME.size
_DATE_TIME_PROTOCOL = "ble-date-time"


def read_date_time(data: bytes, offset: int, protocol: str) -> DateTime:
    """The Date Time at ``offset`` in ``data`` (the caller checked 7 bytes are there).

    Values the specification reserves (month 13, hour 24, year 1000, ...)
    raise DecodeError naming the byte; 0 for year, month or day means unknown.
    """
    year, month, day, hours, minutes, seconds = _DATE_TIME.unpack_from(data, offset)
    if (year and not 1582 <= year <= 9999) or month > 12 or day > 31 or hours > 23 \
            or minutes > 59 or seconds > 59:
        raise _date_time_error(protocol, offset, (year, month, day, hours, minutes, seconds))
    return DateTime(year, month, day, hours, minutes, seconds)


def _date_time_error(protocol: str, offset: int, fields: tuple[int, ...]) -> DecodeError:
    year, month, day, hours, minutes, seconds = fields
    if year and not 1582 <= year <= 9999:
        return DecodeError(protocol, offset, f"year {year} is reserved (0 = unknown, or 1582-9999)")
    checks = ((2, "month", month, 12), (3, "day", day, 31), (4, "hours", hours, 23),
              (5, "minutes", minutes, 59), (6, "seconds", seconds, 59))
    for position, name, field_value, highest in checks:
        if field_value > highest:
            return DecodeError(protocol, offset + position,
                               f"{name} {field_value} is out of range (0-{highest})")
    raise AssertionError("no invalid Date Time field")  # pragma: no cover


def decode_date_time(data: bytes) -> DateTime:
    """Decode a standalone 7-byte Date Time."""
    if len(data) != DATE_TIME_SIZE:
        raise layout_error(_DATE_TIME_PROTOCOL, data, (("date time", DATE_TIME_SIZE),))
    return read_date_time(data, 0, _DATE_TIME_PROTOCOL)


def encode_date_time(value: DateTime) -> bytes:
    """The 7 bytes of ``value``."""
    return _DATE_TIME.pack(value.year, value.month, value.day, value.hours, value.minutes,
                           value.seconds)
