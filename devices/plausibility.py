"""Physiological plausibility: flag values no living resident can have.

A flagged value is kept, stored and shown with its flag, never dropped: a
SpO2 of 127 % says something about the device or the probe, and the trail of
what a device reported matters as much as the value (architecture habit 7).

Ranges are deliberately wide (they catch sensor and decoding faults, not
clinical alarms) and inclusive. Values in another unit are converted before
the comparison. A value without a number (NaN) is not judged: it already
carries ``NOT_A_NUMBER`` or ``OUT_OF_RANGE``. A unit this module does not know
is not judged either: guessing would be worse than saying nothing.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from devices.measurement import Kind, Measurement, Quality

__all__ = ["RANGES", "PlausibleRange", "flag_implausible", "is_plausible"]

log = logging.getLogger(__name__)

_LOG_EVERY_S = 10.0  # per device and kind: a device sending only garbage is not a log flood
_last_logged: dict[tuple[str, Kind], tuple[float, int]] = {}  # -> (when, values not logged since)


@dataclass(frozen=True, slots=True)
class PlausibleRange:
    """Inclusive bounds for one kind, in ``unit`` (UCUM)."""

    low: float
    high: float
    unit: str


RANGES: dict[Kind, PlausibleRange] = {
    Kind.SPO2: PlausibleRange(50, 100, "%"),
    Kind.PULSE_RATE: PlausibleRange(20, 250, "/min"),
    Kind.BODY_TEMPERATURE: PlausibleRange(30, 45, "Cel"),
    Kind.SYSTOLIC: PlausibleRange(50, 280, "mm[Hg]"),
    Kind.DIASTOLIC: PlausibleRange(20, 200, "mm[Hg]"),
    Kind.MEAN_ARTERIAL_PRESSURE: PlausibleRange(30, 230, "mm[Hg]"),
    Kind.BODY_WEIGHT: PlausibleRange(20, 350, "kg"),
    Kind.BMI: PlausibleRange(8, 80, "kg/m2"),
    Kind.HEIGHT: PlausibleRange(0.9, 2.5, "m"),
    Kind.PERFUSION_INDEX: PlausibleRange(0, 30, "%"),
}

_KPA_TO_MMHG = 760 / 101.325  # 1 kPa = 7.50062 mmHg

# Converters from a unit a device may send to the unit of RANGES.
_CONVERTERS: dict[tuple[str, str], Callable[[float], float]] = {
    ("[degF]", "Cel"): lambda f: (f - 32) * 5 / 9,
    ("kPa", "mm[Hg]"): lambda kpa: kpa * _KPA_TO_MMHG,
    ("[lb_av]", "kg"): lambda lb: lb * 0.45359237,
    ("g", "kg"): lambda g: g / 1000,
    ("[in_i]", "m"): lambda inch: inch * 0.0254,
    ("cm", "m"): lambda cm: cm / 100,
}


def is_plausible(m: Measurement) -> bool | None:
    """True or False when ``m`` can be judged, None when it cannot (no range, unit or number)."""
    bounds = RANGES.get(m.kind)
    if bounds is None or not math.isfinite(m.value):
        return None
    value = m.value
    if m.unit != bounds.unit:
        convert = _CONVERTERS.get((m.unit, bounds.unit))
        if convert is None:
            return None
        value = convert(value)
    # A small tolerance so that 45.0 °C sent as 113.0 °F is not flagged by rounding.
    return bounds.low - 1e-9 <= value <= bounds.high + 1e-9


def flag_implausible(m: Measurement) -> Measurement:
    """``m``, with ``Quality.IMPLAUSIBLE`` added when its value is outside the range of its kind."""
    if is_plausible(m) is False and Quality.IMPLAUSIBLE not in m.quality:
        # Kept and flagged, never dropped; logged so the trail shows it at once.
        _log_implausible(m)
        return m.with_quality(Quality.IMPLAUSIBLE)
    return m


def _log_implausible(m: Measurement) -> None:
    """One line per device and kind every 10 s at most, with the count of those not logged."""
    now = time.monotonic()
    key = (m.device, m.kind)
    last = _last_logged.get(key)
    if last is not None and now - last[0] < _LOG_EVERY_S:
        _last_logged[key] = (last[0], last[1] + 1)
        return
    skipped = last[1] if last is not None else 0
    log.warning("implausible %s %s %s from %s%s", m.kind.value, m.display_value(), m.unit,
                m.device, f" ({skipped} more since the last report)" if skipped else "")
    _last_logged[key] = (now, 0)
