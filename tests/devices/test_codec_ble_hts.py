"""Temperature Measurement against the public byte fixture (Nordic BLE library tests)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from devices.codecs.ble_hts import (
    TemperatureMeasurement,
    TemperatureType,
    TemperatureUnit,
    decode_temperature_measurement,
    encode_temperature_measurement,
    to_measurements,
)
from devices.codecs.ieee11073 import DateTime, MderFloat, Special
from devices.errors import DecodeError
from devices.measurement import Kind, Measurement, Quality

FIXTURE = bytes.fromhex("06B00E00FEDC070C050B321B04")
DECODED = TemperatureMeasurement(MderFloat(3760, -2), TemperatureUnit.CELSIUS,
                                 DateTime(2012, 12, 5, 11, 50, 27), TemperatureType.FINGER)
PARIS = ZoneInfo("Europe/Paris")


def test_fixture() -> None:
    assert decode_temperature_measurement(FIXTURE) == DECODED
    assert encode_temperature_measurement(DECODED) == FIXTURE


def test_fixture_measurement_keeps_two_decimals() -> None:
    received = datetime(2012, 12, 5, 12, 0, tzinfo=PARIS)
    [measured] = to_measurements(DECODED, "thermo", received)
    assert measured == Measurement(Kind.BODY_TEMPERATURE, 37.6, "Cel",
                                   datetime(2012, 12, 5, 11, 50, 27, tzinfo=PARIS), "thermo",
                                   frozenset(), 2)
    assert measured.display_value() == "37.60"


def test_fixture_without_its_last_byte_is_invalid() -> None:
    with pytest.raises(DecodeError) as caught:
        decode_temperature_measurement(FIXTURE[:-1])
    assert str(caught.value) == "ble-hts: byte 12: truncated: temperature type needs 1 byte, 0 left"
    assert (caught.value.protocol, caught.value.offset) == ("ble-hts", 12)


def test_fahrenheit_minimal() -> None:
    raw = bytes.fromhex("01 A6 03 00 FF".replace(" ", ""))  # 93.4 °F, nothing else
    decoded = decode_temperature_measurement(raw)
    assert decoded == TemperatureMeasurement(MderFloat(934, -1), TemperatureUnit.FAHRENHEIT)
    assert encode_temperature_measurement(decoded) == raw
    [measured] = to_measurements(decoded, "t", datetime(2025, 1, 1, tzinfo=UTC))
    assert (measured.value, measured.unit, measured.decimals, measured.quality) == (
        93.4, "[degF]", 1, frozenset())


def test_fahrenheit_below_30_celsius_is_flagged() -> None:
    decoded = TemperatureMeasurement(MderFloat(800, -1), TemperatureUnit.FAHRENHEIT)
    [measured] = to_measurements(decoded, "t", datetime(2025, 1, 1, tzinfo=UTC))
    assert measured.value == 80.0 and measured.quality == {Quality.IMPLAUSIBLE}


def test_nan_temperature_is_kept() -> None:
    decoded = decode_temperature_measurement(bytes.fromhex("00FFFF7F00"))
    assert decoded.temperature == MderFloat.of_special(Special.NAN)
    [measured] = to_measurements(decoded, "t", datetime(2025, 1, 1, tzinfo=UTC))
    assert math.isnan(measured.value) and measured.quality == {Quality.NOT_A_NUMBER}
    assert measured.display_value() == "—"


@pytest.mark.parametrize(("hex_bytes", "message"), [
    ("", "ble-hts: byte 0: truncated: flags needs 1 byte, 0 left"),
    ("00B00E00", "ble-hts: byte 1: truncated: temperature needs 4 bytes, 3 left"),
    ("02B00E00FEDC070C05", "ble-hts: byte 5: truncated: timestamp needs 7 bytes, 4 left"),
    ("00B00E00FE00", "ble-hts: byte 5: 1 unexpected trailing byte"),
    ("04B00E00FE00", "ble-hts: byte 5: temperature type 0 is reserved (1-9 are defined)"),
    ("04B00E00FE0A", "ble-hts: byte 5: temperature type 10 is reserved (1-9 are defined)"),
    ("02B00E00FEDC07000518321B", "ble-hts: byte 9: hours 24 is out of range (0-23)"),
])
def test_malformed(hex_bytes: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_temperature_measurement(bytes.fromhex(hex_bytes))
    assert str(caught.value) == message


def test_every_temperature_type_round_trips() -> None:
    for site in TemperatureType:
        value = TemperatureMeasurement(MderFloat(370, -1), TemperatureUnit.CELSIUS,
                                       temperature_type=site)
        assert decode_temperature_measurement(encode_temperature_measurement(value)) == value


def test_encoder_refuses_bad_reserved_flags() -> None:
    with pytest.raises(ValueError, match="reserved flags"):
        encode_temperature_measurement(TemperatureMeasurement(
            MderFloat(370, -1), TemperatureUnit.CELSIUS, reserved_flags=0x01))
