"""SFLOAT, FLOAT and Date Time: exact values, precision, specials, round trips."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from devices.codecs.ieee11073 import (
    DateTime,
    MderFloat,
    Special,
    decode_date_time,
    decode_float,
    decode_sfloat,
    encode_date_time,
    encode_float,
    encode_sfloat,
)
from devices.errors import DecodeError


def test_exponent_carries_precision() -> None:
    # protocols.md: 0xF014 is 2.0 (one decimal), 0xE0C8 is 2.00 (two decimals).
    one = decode_sfloat(0xF014)
    two = decode_sfloat(0xE0C8)
    assert one == MderFloat(20, -1)
    assert two == MderFloat(200, -2)
    assert one.value == two.value == 2.0
    assert (one.decimals, two.decimals) == (1, 2)
    assert one != two  # same number, different precision
    assert str(one.to_decimal()) == "2.0"
    assert str(two.to_decimal()) == "2.00"


@pytest.mark.parametrize(("raw", "expected", "value"), [
    (0x0072, MderFloat(114, 0), 114.0),
    (0xF3AC, MderFloat(940, -1), 94.0),
    (0xE366, MderFloat(870, -2), 8.7),
    (0x0FFF, MderFloat(-1, 0), -1.0),  # negative mantissa
    (0x1005, MderFloat(5, 1), 50.0),  # positive exponent
    (0x8001, MderFloat(1, -8), 1e-8),
    (0x7800, MderFloat(-2048, 7), -2048e7),  # 0x800 mantissa is finite when exponent != 0
])
def test_sfloat_values(raw: int, expected: MderFloat, value: float) -> None:
    decoded = decode_sfloat(raw)
    assert decoded == expected
    assert decoded.value == value
    assert encode_sfloat(decoded) == raw


@pytest.mark.parametrize(("raw", "special"), [
    (0x07FF, Special.NAN), (0x0800, Special.NRES), (0x07FE, Special.POSITIVE_INFINITY),
    (0x0802, Special.NEGATIVE_INFINITY), (0x0801, Special.RESERVED),
])
def test_sfloat_specials(raw: int, special: Special) -> None:
    decoded = decode_sfloat(raw)
    assert decoded == MderFloat.of_special(special)
    assert decoded.decimals is None
    assert not decoded.is_finite
    assert encode_sfloat(decoded) == raw


@pytest.mark.parametrize(("raw", "special"), [
    (0x007FFFFF, Special.NAN), (0x00800000, Special.NRES), (0x007FFFFE, Special.POSITIVE_INFINITY),
    (0x00800002, Special.NEGATIVE_INFINITY), (0x00800001, Special.RESERVED),
])
def test_float_specials(raw: int, special: Special) -> None:
    decoded = decode_float(raw)
    assert decoded == MderFloat.of_special(special)
    assert encode_float(decoded) == raw


def test_special_float_values() -> None:
    assert math.isnan(MderFloat.of_special(Special.NAN).value)
    assert math.isnan(MderFloat.of_special(Special.NRES).value)
    assert MderFloat.of_special(Special.POSITIVE_INFINITY).value == math.inf
    assert MderFloat.of_special(Special.NEGATIVE_INFINITY).value == -math.inf


def test_float_values() -> None:
    assert decode_float(0xFE000EB0) == MderFloat(3760, -2)  # 37.60 from the HTS fixture
    assert decode_float(0xFE000EB0).value == 37.6
    assert decode_float(0xFFFFFFFF) == MderFloat(-1, -1)
    assert decode_float(0x7F000001) == MderFloat(1, 127)


def test_every_sfloat_round_trips() -> None:
    for raw in range(0x10000):
        assert encode_sfloat(decode_sfloat(raw)) == raw


def test_from_decimal_keeps_precision() -> None:
    assert MderFloat.from_decimal("37.60") == MderFloat(3760, -2)
    assert MderFloat.from_decimal(Decimal("-0.5")) == MderFloat(-5, -1)
    assert MderFloat.from_decimal(120) == MderFloat(120, 0)
    assert encode_sfloat(MderFloat.from_decimal("2.00")) == 0xE0C8
    with pytest.raises(ValueError, match="not a finite number"):
        MderFloat.from_decimal("NaN")


@pytest.mark.parametrize(("value", "message"), [
    (MderFloat(2048, 0), "does not fit an SFLOAT"),
    (MderFloat(1, 8), "does not fit an SFLOAT"),
    (MderFloat(2047, 0), "would be read back as NaN"),
    (MderFloat(-2046, 0), "would be read back as -INF"),
])
def test_sfloat_encoder_refuses_what_it_cannot_write(value: MderFloat, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        encode_sfloat(value)


def test_float_encoder_refuses_collisions() -> None:
    with pytest.raises(ValueError, match="would be read back as NaN"):
        encode_float(MderFloat(0x7FFFFF, 0))
    with pytest.raises(ValueError, match="does not fit a FLOAT"):
        encode_float(MderFloat(0x800000, 0))


def test_raw_values_outside_their_width_are_programming_errors() -> None:
    with pytest.raises(ValueError):
        decode_sfloat(0x10000)
    with pytest.raises(ValueError):
        decode_float(-1)


# --- Date Time --------------------------------------------------------------------------------

def test_date_time_decodes_and_round_trips() -> None:
    raw = bytes.fromhex("E8070B1D170839")
    decoded = decode_date_time(raw)
    assert decoded == DateTime(2024, 11, 29, 23, 8, 57)
    assert encode_date_time(decoded) == raw
    assert decoded.is_known


def test_date_time_is_read_in_the_given_zone() -> None:
    paris = ZoneInfo("Europe/Paris")
    moment = DateTime(2024, 11, 29, 23, 8, 57).to_datetime(paris)
    assert moment == datetime(2024, 11, 29, 23, 8, 57, tzinfo=paris)
    assert moment is not None and moment.utcoffset() is not None


@pytest.mark.parametrize("fields", [(0, 4, 17, 20, 41, 59), (2024, 0, 1, 0, 0, 0),
                                    (2024, 1, 0, 0, 0, 0), (2023, 2, 30, 0, 0, 0)])
def test_unknown_or_impossible_dates_have_no_datetime(fields: tuple[int, ...]) -> None:
    assert DateTime(*fields).to_datetime(UTC) is None


def test_date_time_from_datetime() -> None:
    assert DateTime.from_datetime(datetime(2025, 3, 4, 5, 6, 7)) == DateTime(2025, 3, 4, 5, 6, 7)


@pytest.mark.parametrize(("hex_bytes", "message"), [
    ("E8070D1D170839", "ble-date-time: byte 2: month 13 is out of range (0-12)"),
    ("E8070B20170839", "ble-date-time: byte 3: day 32 is out of range (0-31)"),
    ("E8070B1D180839", "ble-date-time: byte 4: hours 24 is out of range (0-23)"),
    ("E8070B1D173C39", "ble-date-time: byte 5: minutes 60 is out of range (0-59)"),
    ("E8070B1D17083C", "ble-date-time: byte 6: seconds 60 is out of range (0-59)"),
    ("E8030B1D170839", "ble-date-time: byte 0: year 1000 is reserved (0 = unknown, or 1582-9999)"),
    ("E8070B1D1708", "ble-date-time: byte 0: truncated: date time needs 7 bytes, 6 left"),
    ("E8070B1D17083900", "ble-date-time: byte 7: 1 unexpected trailing byte"),
])
def test_malformed_date_time(hex_bytes: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_date_time(bytes.fromhex(hex_bytes))
    assert str(caught.value) == message
