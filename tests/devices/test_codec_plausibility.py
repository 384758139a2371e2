"""Plausibility flags: implausible values are kept and flagged, never dropped."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest

from devices.measurement import Kind, Measurement, Quality
from devices.plausibility import flag_implausible, is_plausible

NOW = datetime(2025, 1, 1, tzinfo=UTC)


def m(kind: Kind, value: float, unit: str) -> Measurement:
    return Measurement(kind, value, unit, NOW, "dev")


@pytest.mark.parametrize(("kind", "value", "unit", "plausible"), [
    (Kind.SPO2, 100, "%", True), (Kind.SPO2, 101, "%", False), (Kind.SPO2, 49, "%", False),
    (Kind.SPO2, 50, "%", True),
    (Kind.PULSE_RATE, 19, "/min", False), (Kind.PULSE_RATE, 250, "/min", True),
    (Kind.PULSE_RATE, 251, "/min", False),
    (Kind.BODY_TEMPERATURE, 37.6, "Cel", True), (Kind.BODY_TEMPERATURE, 45.1, "Cel", False),
    (Kind.BODY_TEMPERATURE, 29.9, "Cel", False),
    (Kind.BODY_TEMPERATURE, 98.6, "[degF]", True), (Kind.BODY_TEMPERATURE, 113.0, "[degF]", True),
    (Kind.BODY_TEMPERATURE, 37.6, "[degF]", False),  # a Celsius value sent as Fahrenheit
    (Kind.SYSTOLIC, 120, "mm[Hg]", True), (Kind.SYSTOLIC, 281, "mm[Hg]", False),
    (Kind.SYSTOLIC, 49, "mm[Hg]", False), (Kind.SYSTOLIC, 18.9, "kPa", True),
    (Kind.SYSTOLIC, 50, "kPa", False),
    (Kind.DIASTOLIC, 11, "kPa", True), (Kind.DIASTOLIC, 19, "mm[Hg]", False),
    (Kind.MEAN_ARTERIAL_PRESSURE, 120, "mm[Hg]", True),
    (Kind.BODY_WEIGHT, 70, "kg", True), (Kind.BODY_WEIGHT, 157, "[lb_av]", True),
    (Kind.BODY_WEIGHT, 400, "kg", False),
    (Kind.BMI, 24.5, "kg/m2", True), (Kind.BMI, 90, "kg/m2", False),
    (Kind.HEIGHT, 1.75, "m", True), (Kind.HEIGHT, 175, "m", False),
    (Kind.HEIGHT, 69, "[in_i]", True),
    (Kind.PERFUSION_INDEX, 8.7, "%", True), (Kind.PERFUSION_INDEX, 655.35, "%", False),
])
def test_ranges(kind: Kind, value: float, unit: str, plausible: bool) -> None:
    measured = m(kind, value, unit)
    assert is_plausible(measured) is plausible
    flagged = flag_implausible(measured)
    assert (Quality.IMPLAUSIBLE in flagged.quality) is not plausible
    assert flagged.value == value  # kept, never altered


def test_values_that_cannot_be_judged_are_left_alone() -> None:
    for measured in (m(Kind.SPO2, math.nan, "%"), m(Kind.PLETH, 1e6, "1"),
                     m(Kind.BODY_TEMPERATURE, 500, "K")):
        assert is_plausible(measured) is None
        assert flag_implausible(measured) is measured


def test_other_flags_are_kept() -> None:
    measured = Measurement(Kind.SPO2, 127, "%", NOW, "dev", frozenset({Quality.FINGER_OUT}))
    assert flag_implausible(measured).quality == {Quality.FINGER_OUT, Quality.IMPLAUSIBLE}
