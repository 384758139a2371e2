"""What the simulated BLE instruments measure: seeded, plausibly drifting readings.

Each :class:`Instrument` describes one kind of device (its GATT service, the
measurement characteristics it sends and at what real rate) and produces
readings as the codec dataclasses (:class:`~devices.codecs.ble_plx.Continuous`,
:class:`~devices.codecs.ble_hts.TemperatureMeasurement`...). They are turned
into bytes by the codecs' own ``encode_*`` functions (:func:`encode_reading`),
so what goes over the virtual link is the real protocol.

No I/O and no clock here: the caller passes ``now``, which keeps the walks
testable without a radio. :mod:`devices.ble.simulators` does the sending.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime

from devices.ble import uuids
from devices.ble.gatt import Property
from devices.ble.simulated_peripheral import CharSpec
from devices.ble.uuids import sig_uuid
from devices.codecs import ble_basic, ble_bps, ble_hts, ble_plx, ble_wss
from devices.codecs.ieee11073 import DateTime, MderFloat

Reading = (ble_plx.Continuous | ble_plx.SpotCheck | ble_hts.TemperatureMeasurement
           | ble_bps.BloodPressureMeasurement | ble_wss.WeightMeasurement
           | ble_basic.BatteryLevel)
"""Anything a simulator sends, as the codec dataclass it encodes."""


@dataclass(frozen=True, slots=True)
class SimChannel:
    """One measurement characteristic a simulator sends on, at a real device's pace.

    ``name`` is how periods are overridden (``"continuous"``, ``"spot-check"``,
    ``"measurement"``); ``period`` is in seconds at real speed.
    """

    name: str
    uuid: str
    sends: Property  # NOTIFY or INDICATE
    period: float


class Walk:
    """A seeded random walk of an integer (an SFLOAT mantissa, a raw weight) within bounds."""

    def __init__(self, rng: random.Random, start: int, low: int, high: int, step: int) -> None:
        self._rng, self.value, self.low, self.high, self.step = rng, start, low, high, step

    def next(self) -> int:
        """Move by at most ``step``, leaning back to the middle so it never sticks to a bound."""
        middle = (self.low + self.high) / 2
        lean = -1 if self.value > middle else 1
        move = self._rng.randint(-self.step, self.step)
        if self._rng.random() < 0.2:
            move = lean * abs(move)
        self.value = min(self.high, max(self.low, self.value + move))
        return self.value


class Instrument(ABC):
    """One kind of simulated instrument: GATT identity, channels and readings."""

    kind: str
    profile: str
    service: str
    name: str  # advertised local name (short: a legacy advertisement carries 31 bytes)
    model: str
    channels: tuple[SimChannel, ...]

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng

    def extra_characteristics(self) -> list[CharSpec]:
        """Readable characteristics of the service besides the measurements."""
        return []

    @abstractmethod
    def reading(self, channel: str, now: datetime, *, implausible: bool = False) -> Reading:
        """The next reading for ``channel``; ``implausible`` asks for a value no body has."""


def _stamp(now: datetime) -> DateTime:
    return DateTime.from_datetime(now)


class Oximeter(Instrument):
    """Pulse oximeter: PLX Continuous every second, a validated Spot-Check every 10 s."""

    kind, profile, service = "oximeter", "plx", uuids.PULSE_OXIMETER_SERVICE
    name, model = "Sim Oximeter", "SIM-PO100"
    channels = (
        SimChannel("continuous", uuids.PLX_CONTINUOUS_MEASUREMENT, Property.NOTIFY, 1.0),
        SimChannel("spot-check", uuids.PLX_SPOT_CHECK_MEASUREMENT, Property.INDICATE, 10.0),
    )
    FEATURES = ble_plx.Features(
        ble_plx.PlxSupportedFeatures.MEASUREMENT_STATUS
        | ble_plx.PlxSupportedFeatures.SPOT_CHECK_TIMESTAMP
        | ble_plx.PlxSupportedFeatures.PULSE_AMPLITUDE_INDEX,
        measurement_status_support=ble_plx.PlxMeasurementStatus.VALIDATED_DATA)

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.spo2 = Walk(rng, rng.randint(94, 98), 92, 99, 1)
        self.pulse = Walk(rng, rng.randint(62, 84), 55, 100, 2)
        self.perfusion = Walk(rng, rng.randint(30, 60), 10, 90, 3)  # tenths of %

    def extra_characteristics(self) -> list[CharSpec]:
        """PLX Features, readable: what this oximeter reports."""
        return [(uuids.PLX_FEATURES, Property.READ, ble_plx.encode_features(self.FEATURES))]

    def reading(self, channel: str, now: datetime, *,
                implausible: bool = False) -> ble_plx.Continuous | ble_plx.SpotCheck:
        """A Continuous (SpO2, pulse, perfusion) or a timestamped, validated Spot-Check."""
        spo2 = MderFloat(104 if implausible else self.spo2.next(), 0)
        pulse = MderFloat(self.pulse.next(), 0)
        if channel == "spot-check":
            return ble_plx.SpotCheck(spo2, pulse, _stamp(now), measurement_status=int(
                ble_plx.PlxMeasurementStatus.VALIDATED_DATA))
        return ble_plx.Continuous(spo2, pulse,
                                  pulse_amplitude_index=MderFloat(self.perfusion.next(), -1))


class Thermometer(Instrument):
    """Ear thermometer: a timestamped Temperature Measurement every 5 s, 36.50-37.80 °C."""

    kind, profile, service = "thermometer", "hts", uuids.HEALTH_THERMOMETER_SERVICE
    name, model = "Sim Thermometer", "SIM-TH200"
    channels = (SimChannel("measurement", uuids.TEMPERATURE_MEASUREMENT, Property.INDICATE,
                           5.0),)

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.centi_celsius = Walk(rng, rng.randint(3660, 3740), 3650, 3780, 6)

    def reading(self, channel: str, now: datetime, *,
                implausible: bool = False) -> ble_hts.TemperatureMeasurement:
        """A reading with two decimals, as ear thermometers display."""
        value = 5000 if implausible else self.centi_celsius.next()
        return ble_hts.TemperatureMeasurement(
            MderFloat(value, -2), ble_hts.TemperatureUnit.CELSIUS, _stamp(now),
            ble_hts.TemperatureType.TYMPANUM)


class BloodPressureMonitor(Instrument):
    """Cuff monitor: one timestamped measurement (with MAP, pulse, status) every 8 s."""

    kind, profile, service = "blood-pressure", "bps", uuids.BLOOD_PRESSURE_SERVICE
    name, model = "Sim BP Monitor", "SIM-BP300"
    channels = (SimChannel("measurement", uuids.BLOOD_PRESSURE_MEASUREMENT, Property.INDICATE,
                           8.0),)

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.systolic = Walk(rng, rng.randint(118, 142), 105, 160, 4)
        self.diastolic = Walk(rng, rng.randint(70, 86), 60, 95, 3)
        self.pulse = Walk(rng, rng.randint(62, 80), 55, 95, 3)

    def reading(self, channel: str, now: datetime, *,
                implausible: bool = False) -> ble_bps.BloodPressureMeasurement:
        """mmHg values with MAP = diastolic + a third of the pulse pressure; status all clear."""
        systolic = 310 if implausible else self.systolic.next()
        diastolic = min(self.diastolic.next(), systolic - 25)  # a pulse pressure a body has
        mean = round(diastolic + (systolic - diastolic) / 3)
        return ble_bps.BloodPressureMeasurement(
            MderFloat(systolic, 0), MderFloat(diastolic, 0), MderFloat(mean, 0),
            ble_bps.PressureUnit.MMHG, _stamp(now), MderFloat(self.pulse.next(), 0),
            status=0)


class Scale(Instrument):
    """Weight scale (0.05 kg, 0.01 m): a timestamped weight with BMI and height every 6 s."""

    kind, profile, service = "scale", "wss", uuids.WEIGHT_SCALE_SERVICE
    name, model = "Sim Scale", "SIM-WS400"
    channels = (SimChannel("measurement", uuids.WEIGHT_MEASUREMENT, Property.INDICATE, 6.0),)
    # Time stamp and BMI supported, weight resolution 4 (0.05 kg), height resolution 1 (0.01 m).
    FEATURE = ble_wss.WeightScaleFeature(0b1 | 0b100 | 4 << 3 | 1 << 7)

    def __init__(self, rng: random.Random) -> None:
        super().__init__(rng)
        self.twentieths = Walk(rng, rng.randint(1100, 1600), 900, 1900, 2)  # of a kg
        self.raw_height = rng.randint(150, 180) * 10  # mm at 0.01 m; the resident does not grow

    def extra_characteristics(self) -> list[CharSpec]:
        """Weight Scale Feature, readable: the resolutions the driver displays with."""
        return [(sig_uuid(ble_wss.WEIGHT_SCALE_FEATURE_UUID), Property.READ,
                 ble_wss.encode_feature(self.FEATURE))]

    def reading(self, channel: str, now: datetime, *,
                implausible: bool = False) -> ble_wss.WeightMeasurement:
        """SI units; the BMI is the scale's own arithmetic on the height it was given."""
        twentieths = 250 if implausible else self.twentieths.next()  # 12.5 kg, under any adult
        kilograms = twentieths / 20
        metres = self.raw_height / 1000
        raw_bmi = round(kilograms / metres**2 * 10)
        return ble_wss.WeightMeasurement(twentieths * 10, timestamp=_stamp(now),
                                         raw_bmi=raw_bmi, raw_height=self.raw_height)


INSTRUMENTS: dict[str, type[Instrument]] = {
    cls.kind: cls for cls in (Oximeter, Thermometer, BloodPressureMonitor, Scale)}
"""Simulator kinds, by the name ``start_ble_simulator`` takes."""


def encode_reading(reading: Reading) -> bytes:
    """The exact bytes a device sends for ``reading``, from the codec's encoder."""
    if isinstance(reading, ble_plx.Continuous):
        return ble_plx.encode_continuous(reading)
    if isinstance(reading, ble_plx.SpotCheck):
        return ble_plx.encode_spot_check(reading)
    if isinstance(reading, ble_hts.TemperatureMeasurement):
        return ble_hts.encode_temperature_measurement(reading)
    if isinstance(reading, ble_bps.BloodPressureMeasurement):
        return ble_bps.encode_blood_pressure(reading)
    if isinstance(reading, ble_wss.WeightMeasurement):
        return ble_wss.encode_weight_measurement(reading)
    return ble_basic.encode_battery_level(reading)


def garble(data: bytes, rng: random.Random) -> bytes:
    """A malformed copy of a valid value: cut short, as a notification lost in mid-air.

    Every health codec checks the length the flags announce, so any cut is
    rejected; at least the flags byte is kept so the codec has to read them.
    """
    return data[:rng.randint(1, len(data) - 1)]
