"""Helpers turning decoded fields into :class:`Measurement` values (private).

Every codec's ``to_measurements`` goes through :func:`measurement`, so the
plausibility check is applied in exactly one place.
"""

from __future__ import annotations

import math
from datetime import datetime

from devices.codecs.ieee11073 import DateTime, MderFloat, Special
from devices.measurement import Kind, Measurement, Quality
from devices.plausibility import flag_implausible

NO_FLAGS: frozenset[Quality] = frozenset()
_NOT_A_NUMBER = frozenset({Quality.NOT_A_NUMBER})
_OUT_OF_RANGE = frozenset({Quality.OUT_OF_RANGE})
_CLOCK_NOT_SET = frozenset({Quality.CLOCK_NOT_SET})


def measurement(kind: Kind, value: float, unit: str, time: datetime, device: str,
                quality: frozenset[Quality], decimals: int | None) -> Measurement:
    """A Measurement, flagged implausible when its value is outside physiological range."""
    return flag_implausible(Measurement(kind, value, unit, time, device, quality, decimals))


def from_mder(kind: Kind, number: MderFloat, unit: str, time: datetime, device: str,
              quality: frozenset[Quality]) -> Measurement:
    """A Measurement of an SFLOAT/FLOAT: specials become NaN with a flag, never dropped."""
    special = number.special
    if special is None:
        return measurement(kind, number.value, unit, time, device, quality, number.decimals)
    flag = _OUT_OF_RANGE if special in (Special.POSITIVE_INFINITY,
                                        Special.NEGATIVE_INFINITY) else _NOT_A_NUMBER
    return Measurement(kind, math.nan, unit, time, device, quality | flag, None)


def from_count(kind: Kind, raw: int, missing: int | None, unit: str, time: datetime,
               device: str, quality: frozenset[Quality]) -> Measurement:
    """A Measurement of an integer field whose ``missing`` value means "no reading"."""
    if raw == missing:
        return Measurement(kind, math.nan, unit, time, device, quality | _NOT_A_NUMBER, None)
    return measurement(kind, float(raw), unit, time, device, quality, 0)


def device_time(timestamp: DateTime | None,
                received_at: datetime) -> tuple[datetime, frozenset[Quality]]:
    """When a measurement was taken, and the flags that time needs.

    Device timestamps are wall-clock times without zone: they are read in the
    zone of ``received_at``. Without a timestamp the reception time is used;
    with an unknown or impossible one too, flagged ``CLOCK_NOT_SET``.
    """
    if timestamp is None:
        return received_at, NO_FLAGS
    moment = timestamp.to_datetime(received_at.tzinfo)
    if moment is None:
        return received_at, _CLOCK_NOT_SET
    return moment, NO_FLAGS
