"""PLX Spot-Check, Continuous and Features against the public byte fixtures."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone

import pytest

from devices.codecs.ble_plx import (
    Continuous,
    Features,
    PlxDeviceStatus,
    PlxMeasurementStatus,
    PlxSupportedFeatures,
    SpotCheck,
    decode_continuous,
    decode_features,
    decode_spot_check,
    encode_continuous,
    encode_features,
    encode_spot_check,
    to_measurements,
)
from devices.codecs.ieee11073 import DateTime, MderFloat, Special
from devices.errors import DecodeError
from devices.measurement import Kind, Measurement, Quality

# StanfordSpezi/SpeziBluetooth PLX tests, via protocols.md.
SPOT = bytes.fromhex("0FACF3BEF5E8070B1D1708392040220000 66E3".replace(" ", ""))
CONTINUOUS_PLAIN = bytes.fromhex("00E8F384F3")
CONTINUOUS_FULL = bytes.fromhex("1C5F005A00200000000057F0")
CET = timezone(timedelta(hours=1))
RECEIVED = datetime(2024, 11, 30, 8, 0, tzinfo=CET)

SPOT_DECODED = SpotCheck(
    spo2=MderFloat(940, -1),
    pulse_rate=MderFloat(1470, -1),
    timestamp=DateTime(2024, 11, 29, 23, 8, 57),
    measurement_status=PlxMeasurementStatus.MEASUREMENT_ONGOING
    | PlxMeasurementStatus.QUESTIONABLE_MEASUREMENT,
    device_status=PlxDeviceStatus.EQUIPMENT_MALFUNCTION | PlxDeviceStatus.LOW_PERFUSION,
    pulse_amplitude_index=MderFloat(870, -2),
)


def test_spot_check_fixture() -> None:
    assert decode_spot_check(SPOT) == SPOT_DECODED
    assert encode_spot_check(SPOT_DECODED) == SPOT


def test_spot_check_measurements() -> None:
    taken = datetime(2024, 11, 29, 23, 8, 57, tzinfo=CET)  # device wall clock, receiver's zone
    flags = frozenset({Quality.ARTIFACT, Quality.SENSOR_FAULT, Quality.LOW_PERFUSION})
    assert to_measurements(SPOT_DECODED, "oximeter", RECEIVED) == [
        Measurement(Kind.SPO2, 94.0, "%", taken, "oximeter", flags, 1),
        Measurement(Kind.PULSE_RATE, 147.0, "/min", taken, "oximeter", flags, 1),
        Measurement(Kind.PERFUSION_INDEX, 8.7, "%", taken, "oximeter", flags, 2),
    ]


def test_continuous_fixtures() -> None:
    plain = Continuous(MderFloat(1000, -1), MderFloat(900, -1))
    full = Continuous(MderFloat(95, 0), MderFloat(90, 0),
                      measurement_status=PlxMeasurementStatus.MEASUREMENT_ONGOING,
                      device_status=0, pulse_amplitude_index=MderFloat(87, -1))
    assert decode_continuous(CONTINUOUS_PLAIN) == plain
    assert decode_continuous(CONTINUOUS_FULL) == full
    assert encode_continuous(plain) == CONTINUOUS_PLAIN
    assert encode_continuous(full) == CONTINUOUS_FULL
    assert to_measurements(full, "ox", RECEIVED) == [
        Measurement(Kind.SPO2, 95.0, "%", RECEIVED, "ox", frozenset(), 0),
        Measurement(Kind.PULSE_RATE, 90.0, "/min", RECEIVED, "ox", frozenset(), 0),
        Measurement(Kind.PERFUSION_INDEX, 8.7, "%", RECEIVED, "ox", frozenset(), 1),
    ]
    assert [x.display_value() for x in to_measurements(plain, "ox", RECEIVED)] == ["100.0", "90.0"]


def test_continuous_fast_and_slow_pairs() -> None:
    value = Continuous(MderFloat(97, 0), MderFloat(61, 0), MderFloat(96, 0), MderFloat(63, 0),
                       MderFloat(98, 0), MderFloat(60, 0), 0x0080, 0x000200,
                       MderFloat(21, -1), reserved_flags=0x20)
    raw = bytes.fromhex("3F 6100 3D00 6000 3F00 6200 3C00 8000 000200 15F0".replace(" ", ""))
    assert encode_continuous(value) == raw
    assert decode_continuous(raw) == value
    measured = to_measurements(value, "ox", RECEIVED)
    assert [x.kind for x in measured] == [Kind.SPO2, Kind.PULSE_RATE, Kind.PERFUSION_INDEX]
    assert measured[0].quality == {Quality.VALIDATED, Quality.SEARCHING}


def test_spot_check_clock_not_set_and_specials() -> None:
    value = SpotCheck(MderFloat.of_special(Special.NAN),
                      MderFloat.of_special(Special.POSITIVE_INFINITY), clock_not_set=True)
    raw = encode_spot_check(value)
    assert raw == bytes.fromhex("10FF07FE07")
    assert decode_spot_check(raw) == value
    spo2, pulse = to_measurements(value, "ox", RECEIVED)
    assert math.isnan(spo2.value) and spo2.quality == {Quality.NOT_A_NUMBER,
                                                      Quality.CLOCK_NOT_SET}
    assert math.isnan(pulse.value) and pulse.quality == {Quality.OUT_OF_RANGE,
                                                        Quality.CLOCK_NOT_SET}
    assert spo2.decimals is None


def test_implausible_values_are_kept_and_flagged() -> None:
    value = decode_continuous(bytes.fromhex("007F00FE00"))  # SpO2 127, PR 254
    spo2, pulse = to_measurements(value, "ox", RECEIVED)
    assert spo2.value == 127 and spo2.quality == {Quality.IMPLAUSIBLE}
    assert pulse.value == 254 and pulse.quality == {Quality.IMPLAUSIBLE}


def test_clock_not_set_ignores_the_made_up_timestamp() -> None:
    value = SpotCheck(MderFloat(97, 0), MderFloat(70, 0), timestamp=DateTime(2000, 1, 1, 0, 0, 7),
                      clock_not_set=True)
    assert decode_spot_check(encode_spot_check(value)) == value
    spo2, _ = to_measurements(value, "ox", RECEIVED)
    assert spo2.time == RECEIVED and spo2.quality == {Quality.CLOCK_NOT_SET}


def test_unknown_timestamp_falls_back_to_reception() -> None:
    value = SpotCheck(MderFloat(97, 0), MderFloat(70, 0), timestamp=DateTime(0, 0, 0, 1, 2, 3))
    spo2, _ = to_measurements(value, "ox", RECEIVED)
    assert spo2.time == RECEIVED and spo2.quality == {Quality.CLOCK_NOT_SET}


def test_reception_zone_is_used_for_device_time() -> None:
    spo2, _, _ = to_measurements(SPOT_DECODED, "ox", datetime(2024, 12, 1, tzinfo=UTC))
    assert spo2.time == datetime(2024, 11, 29, 23, 8, 57, tzinfo=UTC)


def test_features() -> None:
    raw = bytes.fromhex("0300E0FF0F0000")
    decoded = Features(PlxSupportedFeatures.MEASUREMENT_STATUS
                       | PlxSupportedFeatures.DEVICE_AND_SENSOR_STATUS, 0xFFE0, 0x00000F)
    assert decode_features(raw) == decoded
    assert encode_features(decoded) == raw
    assert decode_features(bytes.fromhex("7C00")) == Features(0x7C)
    assert decode_features(bytes.fromhex("02000F0000")) == Features(2, None, 0x0F)
    with pytest.raises(ValueError, match="supports must be given"):
        encode_features(Features(1))


@pytest.mark.parametrize(("decode", "hex_bytes", "message"), [
    (decode_spot_check, "", "ble-plx-spot: byte 0: truncated: flags needs 1 byte, 0 left"),
    (decode_spot_check, "00ACF3BE", "ble-plx-spot: byte 3: truncated: pulse rate needs 2 bytes, "
                                    "1 left"),
    (decode_spot_check, SPOT.hex()[:-2], "ble-plx-spot: byte 17: truncated: pulse amplitude "
                                         "index needs 2 bytes, 1 left"),
    (decode_spot_check, SPOT.hex() + "00", "ble-plx-spot: byte 19: 1 unexpected trailing byte"),
    (decode_spot_check, "01ACF3BEF5E8070D1D170839", "ble-plx-spot: byte 7: month 13 is out of "
                                                    "range (0-12)"),
    (decode_continuous, "01E8F384F3", "ble-plx-continuous: byte 5: truncated: SpO2PR-Fast needs "
                                      "4 bytes, 0 left"),
    (decode_continuous, "00E8F384F30000", "ble-plx-continuous: byte 5: 2 unexpected trailing "
                                          "bytes"),
    (decode_features, "01", "ble-plx-features: byte 0: truncated: supported features needs "
                            "2 bytes, 1 left"),
    (decode_features, "0300E0FF0F00", "ble-plx-features: byte 4: truncated: device and sensor "
                                      "status support needs 3 bytes, 2 left"),
])
def test_malformed(decode: object, hex_bytes: str, message: str) -> None:
    assert callable(decode)
    with pytest.raises(DecodeError) as caught:
        decode(bytes.fromhex(hex_bytes))
    assert str(caught.value) == message


def test_encoder_refuses_half_pairs_and_bad_reserved_flags() -> None:
    with pytest.raises(ValueError, match="SpO2PR-fast needs both"):
        encode_continuous(Continuous(MderFloat(1, 0), MderFloat(1, 0), spo2_fast=MderFloat(1, 0)))
    with pytest.raises(ValueError, match="reserved flags"):
        encode_spot_check(SpotCheck(MderFloat(1, 0), MderFloat(1, 0), reserved_flags=0x01))


def test_reserved_flag_bits_survive_a_round_trip() -> None:
    raw = bytes.fromhex("E0E8F384F3")
    decoded = decode_spot_check(raw)
    assert decoded.reserved_flags == 0xE0
    assert encode_spot_check(decoded) == raw
