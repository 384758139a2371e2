"""The one measurement type every device produces.

A :class:`Measurement` is a single clinical value (SpO2, temperature, ...)
with its UCUM unit, the time it was taken, the device that took it and
quality flags. Waveforms (pleth, ECG) travel as :class:`WaveformChunk` so a
second of signal is one object, not hundreds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum


class Kind(StrEnum):
    """What a measurement measures. Values are the stable names used in storage."""

    SPO2 = "spo2"
    PULSE_RATE = "pulse_rate"
    BODY_TEMPERATURE = "body_temperature"
    SYSTOLIC = "systolic"
    DIASTOLIC = "diastolic"
    MEAN_ARTERIAL_PRESSURE = "mean_arterial_pressure"
    BODY_WEIGHT = "body_weight"
    BMI = "bmi"
    HEIGHT = "height"
    PLETH = "pleth"
    PERFUSION_INDEX = "perfusion_index"


# How UCUM codes read on screen and paper.
_DISPLAY_UNITS = {"Cel": "°C", "[degF]": "°F", "mm[Hg]": "mmHg", "kg/m2": "kg/m²", "[lb_av]": "lb",
                  "[in_i]": "in", "1": ""}


def display_unit(ucum: str) -> str:
    """The unit as a nurse reads it (``Cel`` → ``°C``, ``mm[Hg]`` → ``mmHg``)."""
    return _DISPLAY_UNITS.get(ucum, ucum)


class Quality(StrEnum):
    """Flags qualifying a value. A flagged value is kept, never dropped."""

    IMPLAUSIBLE = "implausible"
    FINGER_OUT = "finger_out"
    SEARCHING = "searching"
    LOW_PERFUSION = "low_perfusion"
    ARTIFACT = "artifact"
    SENSOR_FAULT = "sensor_fault"
    MOTION = "motion"
    CUFF_LOOSE = "cuff_loose"
    IRREGULAR_PULSE = "irregular_pulse"
    IMPROPER_POSITION = "improper_position"
    NOT_A_NUMBER = "not_a_number"
    OUT_OF_RANGE = "out_of_range"
    CLOCK_NOT_SET = "clock_not_set"
    EARLY_ESTIMATE = "early_estimate"
    VALIDATED = "validated"


@dataclass(frozen=True, slots=True)
class Measurement:
    """One clinical value as a device reported it.

    ``value`` may be NaN (the device said "no value"); ``decimals`` keeps the
    precision the device meant (an SFLOAT of 37.60 has two) for display.
    ``time`` must be timezone-aware.
    """

    kind: Kind
    value: float
    unit: str
    time: datetime
    device: str
    quality: frozenset[Quality] = field(default_factory=frozenset)
    decimals: int | None = None

    def __post_init__(self) -> None:
        if self.time.tzinfo is None:
            raise ValueError("Measurement.time must be timezone-aware")

    @property
    def has_value(self) -> bool:
        """True when the device gave an actual number (not NaN or infinite)."""
        return math.isfinite(self.value)

    def display_value(self) -> str:
        """The value with the precision the device reported."""
        if not self.has_value:
            return "—"
        if self.decimals is None:
            return f"{self.value:g}"
        return f"{self.value:.{self.decimals}f}"

    def with_quality(self, *flags: Quality) -> Measurement:
        """A copy with more quality flags."""
        return Measurement(
            self.kind, self.value, self.unit, self.time, self.device,
            self.quality | frozenset(flags), self.decimals,
        )


@dataclass(frozen=True, slots=True)
class WaveformChunk:
    """A run of evenly spaced samples of one signal (pleth, heart sound envelope)."""

    kind: Kind
    start: datetime
    sample_rate_hz: float
    samples: tuple[float, ...]
    unit: str
    device: str

    def __post_init__(self) -> None:
        if self.start.tzinfo is None:
            raise ValueError("WaveformChunk.start must be timezone-aware")
        if self.sample_rate_hz <= 0:
            raise ValueError("WaveformChunk.sample_rate_hz must be positive")
