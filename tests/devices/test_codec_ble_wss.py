"""Weight Measurement against the public byte fixtures (bluetooth-sig-python tests)."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from devices.codecs.ble_wss import (
    WeightMeasurement,
    WeightScaleFeature,
    decode_feature,
    decode_weight_measurement,
    encode_feature,
    encode_weight_measurement,
    to_measurements,
)
from devices.codecs.ieee11073 import DateTime
from devices.errors import DecodeError
from devices.measurement import Kind, Measurement, Quality

NOW = datetime(2025, 2, 3, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(("hex_bytes", "decoded"), [
    ("00B036", WeightMeasurement(14000)),
    ("01543D", WeightMeasurement(15700, imperial=True)),
    ("0CB03605F500D606", WeightMeasurement(14000, user_id=5, raw_bmi=245, raw_height=1750)),
])
def test_fixtures(hex_bytes: str, decoded: WeightMeasurement) -> None:
    raw = bytes.fromhex(hex_bytes)
    assert decode_weight_measurement(raw) == decoded
    assert encode_weight_measurement(decoded) == raw


def test_scaled_values_are_exact() -> None:
    assert WeightMeasurement(14000).weight == Decimal("70.000")
    assert WeightMeasurement(15700, imperial=True).weight == Decimal("157.00")
    full = WeightMeasurement(14000, user_id=5, raw_bmi=245, raw_height=1750)
    assert (full.bmi, full.height) == (Decimal("24.5"), Decimal("1.750"))
    assert WeightMeasurement(700, imperial=True, raw_bmi=1, raw_height=690).height \
        == Decimal("69.0")


def test_si_measurements() -> None:
    full = WeightMeasurement(14000, user_id=5, raw_bmi=245, raw_height=1750)
    assert to_measurements(full, "scale", NOW) == [
        Measurement(Kind.BODY_WEIGHT, 70.0, "kg", NOW, "scale", frozenset(), 3),
        Measurement(Kind.BMI, 24.5, "kg/m2", NOW, "scale", frozenset(), 1),
        Measurement(Kind.HEIGHT, 1.75, "m", NOW, "scale", frozenset(), 3),
    ]


def test_imperial_measurement() -> None:
    assert to_measurements(WeightMeasurement(15700, imperial=True), "scale", NOW) == [
        Measurement(Kind.BODY_WEIGHT, 157.0, "[lb_av]", NOW, "scale", frozenset(), 2)]


def test_feature_resolution_sets_decimals() -> None:
    # Feature: BMI supported, weight resolution 3 (0.1 kg), height resolution 1 (0.01 m).
    feature = WeightScaleFeature(0b1_0011_100)
    assert decode_feature(encode_feature(feature)) == feature
    assert (feature.weight_resolution, feature.height_resolution) == (3, 1)
    full = WeightMeasurement(14000, raw_bmi=245, raw_height=1750)
    weight, _, height = to_measurements(full, "scale", NOW, feature=feature)
    assert (weight.display_value(), height.display_value()) == ("70.0", "1.75")
    pounds = to_measurements(WeightMeasurement(15700, imperial=True), "scale", NOW,
                             feature=WeightScaleFeature(1 << 3))  # 1 lb: no decimals
    assert pounds[0].display_value() == "157"


def test_unsuccessful_measurement_is_kept_as_nan() -> None:
    decoded = decode_weight_measurement(bytes.fromhex("02FFFFE9070203081E00"))
    assert decoded == WeightMeasurement(0xFFFF, timestamp=DateTime(2025, 2, 3, 8, 30, 0))
    assert decoded.unsuccessful and decoded.weight is None
    [weight] = to_measurements(decoded, "scale", NOW)
    assert math.isnan(weight.value)
    assert weight.quality == {Quality.NOT_A_NUMBER}
    assert weight.time == datetime(2025, 2, 3, 8, 30, tzinfo=UTC)


def test_implausible_weight_is_flagged() -> None:
    [weight] = to_measurements(WeightMeasurement(2000), "scale", NOW)  # 10 kg
    assert weight.value == 10.0 and weight.quality == {Quality.IMPLAUSIBLE}


@pytest.mark.parametrize(("hex_bytes", "message"), [
    ("", "ble-wss: byte 0: truncated: flags needs 1 byte, 0 left"),
    ("00B0", "ble-wss: byte 1: truncated: weight needs 2 bytes, 1 left"),
    ("0CB03605F500D6", "ble-wss: byte 6: truncated: height needs 2 bytes, 1 left"),
    ("00B03600", "ble-wss: byte 3: 1 unexpected trailing byte"),
    ("02B036E907020308 1E3C".replace(" ", ""), "ble-wss: byte 9: seconds 60 is out of range "
                                              "(0-59)"),
])
def test_malformed(hex_bytes: str, message: str) -> None:
    with pytest.raises(DecodeError) as caught:
        decode_weight_measurement(bytes.fromhex(hex_bytes))
    assert str(caught.value) == message


def test_feature_must_be_four_bytes() -> None:
    with pytest.raises(DecodeError) as caught:
        decode_feature(b"\x00\x00")
    assert str(caught.value) == "ble-wss-feature: byte 0: truncated: features needs 4 bytes, 2 left"


def test_encoder_refuses_bmi_without_height() -> None:
    with pytest.raises(ValueError, match="BMI and height"):
        encode_weight_measurement(WeightMeasurement(1, raw_bmi=1))
