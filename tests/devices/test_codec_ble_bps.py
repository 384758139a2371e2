"""Blood Pressure Measurement against the public byte fixtures (Nordic BLE library tests)."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from devices.codecs.ble_bps import (
    BloodPressureMeasurement,
    BpStatus,
    PressureUnit,
    PulseRange,
    decode_blood_pressure,
    encode_blood_pressure,
    pulse_range,
    to_measurements,
)
from devices.codecs.ieee11073 import DateTime, MderFloat, Special
from devices.errors import DecodeError
from devices.measurement import Kind, Measurement, Quality

MMHG = bytes.fromhex("1E8A00580078000000041114293B3C00012700")
KPA = bytes.fromhex("15BDF00B009FF03C001200")
RECEIVED = datetime(2025, 4, 17, 21, 0, tzinfo=UTC)

MMHG_DECODED = BloodPressureMeasurement(
    MderFloat(138, 0), MderFloat(88, 0), MderFloat(120, 0), PressureUnit.MMHG,
    timestamp=DateTime(0, 4, 17, 20, 41, 59), pulse_rate=MderFloat(60, 0), user_id=1,
    status=BpStatus.BODY_MOVEMENT | BpStatus.CUFF_LOOSE | BpStatus.IRREGULAR_PULSE
    | BpStatus.IMPROPER_POSITION)
KPA_DECODED = BloodPressureMeasurement(
    MderFloat(189, -1), MderFloat(11, 0), MderFloat(159, -1), PressureUnit.KPA,
    pulse_rate=MderFloat(60, 0), status=BpStatus.CUFF_LOOSE | BpStatus.PULSE_BELOW_LOWER_LIMIT)


def test_fixtures() -> None:
    assert decode_blood_pressure(MMHG) == MMHG_DECODED
    assert decode_blood_pressure(KPA) == KPA_DECODED
    assert encode_blood_pressure(MMHG_DECODED) == MMHG
    assert encode_blood_pressure(KPA_DECODED) == KPA
    assert MMHG_DECODED.status == 0x27 and KPA_DECODED.status == 0x12
    assert pulse_range(0x12) is PulseRange.BELOW_LOWER_LIMIT
    assert pulse_range(0x27) is PulseRange.WITHIN_RANGE
    assert pulse_range(0x18) is PulseRange.RESERVED


def test_mmhg_measurements_unknown_year_uses_reception_time() -> None:
    flags = frozenset({Quality.CLOCK_NOT_SET, Quality.MOTION, Quality.CUFF_LOOSE,
                       Quality.IRREGULAR_PULSE, Quality.IMPROPER_POSITION})
    assert to_measurements(MMHG_DECODED, "bp", RECEIVED) == [
        Measurement(Kind.SYSTOLIC, 138.0, "mm[Hg]", RECEIVED, "bp", flags, 0),
        Measurement(Kind.DIASTOLIC, 88.0, "mm[Hg]", RECEIVED, "bp", flags, 0),
        Measurement(Kind.MEAN_ARTERIAL_PRESSURE, 120.0, "mm[Hg]", RECEIVED, "bp", flags, 0),
        Measurement(Kind.PULSE_RATE, 60.0, "/min", RECEIVED, "bp", flags, 0),
    ]


def test_kpa_measurements() -> None:
    cuff = frozenset({Quality.CUFF_LOOSE})
    assert to_measurements(KPA_DECODED, "bp", RECEIVED) == [
        Measurement(Kind.SYSTOLIC, 18.9, "kPa", RECEIVED, "bp", cuff, 1),
        Measurement(Kind.DIASTOLIC, 11.0, "kPa", RECEIVED, "bp", cuff, 0),
        Measurement(Kind.MEAN_ARTERIAL_PRESSURE, 15.9, "kPa", RECEIVED, "bp", cuff, 1),
        Measurement(Kind.PULSE_RATE, 60.0, "/min", RECEIVED, "bp",
                    cuff | {Quality.OUT_OF_RANGE}, 0),
    ]


def test_intermediate_cuff_pressure_with_nan_values() -> None:
    nan = MderFloat.of_special(Special.NAN)
    value = BloodPressureMeasurement(MderFloat(95, 0), nan, nan, PressureUnit.MMHG)
    raw = encode_blood_pressure(value)
    assert raw == bytes.fromhex("005F00FF07FF07")
    assert decode_blood_pressure(raw) == value
    systolic, diastolic, mean = to_measurements(value, "bp", RECEIVED)
    assert systolic.value == 95.0 and systolic.quality == frozenset()
    assert math.isnan(diastolic.value) and diastolic.quality == {Quality.NOT_A_NUMBER}
    assert math.isnan(mean.value)


def test_implausible_pressure_is_flagged() -> None:
    value = BloodPressureMeasurement(MderFloat(300, 0), MderFloat(80, 0), MderFloat(150, 0),
                                     PressureUnit.MMHG)
    systolic, diastolic, _ = to_measurements(value, "bp", RECEIVED)
    assert systolic.quality == {Quality.IMPLAUSIBLE} and diastolic.quality == frozenset()


def test_known_timestamp_is_used() -> None:
    value = BloodPressureMeasurement(MderFloat(120, 0), MderFloat(80, 0), MderFloat(93, 0),
                                     PressureUnit.MMHG, timestamp=DateTime(2025, 4, 17, 20, 41, 59))
    assert to_measurements(value, "bp", RECEIVED)[0].time == datetime(2025, 4, 17, 20, 41, 59,
                                                                      tzinfo=UTC)


@pytest.mark.parametrize(("hex_bytes", "message"), [
    ("", "ble-bps: byte 0: truncated: flags needs 1 byte, 0 left"),
    (MMHG.hex()[:-2], "ble-bps: byte 17: truncated: measurement status needs 2 bytes, 1 left"),
    (KPA.hex() + "0000", "ble-bps: byte 11: 2 unexpected trailing bytes"),
    ("088A0058007800", "ble-bps: byte 7: truncated: user id needs 1 byte, 0 left"),
    ("028A0058007800000004111429", "ble-bps: byte 7: truncated: timestamp needs 7 bytes, "
                                     "6 left"),
])
def test_malformed(hex_bytes: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_blood_pressure(bytes.fromhex(hex_bytes))
    assert str(caught.value) == message
