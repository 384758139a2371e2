"""The stethoscope's Opus encoding keeps the sound's level: mono packets, unity gain.

aiortc's stereo encoding of a mono source upmixes it at -3 dB; the station
encodes the stethoscope in mono (docs/stethoscope-fidelity.md has the
measurements behind the choice), which every Opus decoder plays on both
channels at unity gain.
"""

from __future__ import annotations

import numpy as np

from station.call.opus import STETHOSCOPE_BITRATE, StethoscopeOpusEncoder
from tests.call.test_opus_mode import _round_trip, _station_encoder

RATE = 48_000


def _tone(hz: float, seconds: float = 2.0, level: float = 0.25) -> np.ndarray:
    return level * np.sin(2 * np.pi * hz * np.arange(int(RATE * seconds)) / RATE)


def _amplitude(x: np.ndarray, hz: float) -> float:
    t = np.arange(len(x)) / RATE
    basis = np.column_stack([np.sin(2 * np.pi * hz * t), np.cos(2 * np.pi * hz * t)])
    coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
    return float(np.hypot(*coef))


def _gain_db(encoder: StethoscopeOpusEncoder, hz: float) -> float:
    decoded = _round_trip(encoder, _tone(hz))[RATE // 2:]  # past the encoder's warm-up
    return 20 * np.log10(_amplitude(decoded, hz) / 0.25)


def test_the_station_encodes_the_stethoscope_in_mono_at_64_kbps() -> None:
    encoder = _station_encoder()
    assert isinstance(encoder, StethoscopeOpusEncoder)
    assert encoder.codec.layout.name == "mono"
    assert encoder.codec.bit_rate == STETHOSCOPE_BITRATE == 64_000


def test_mono_keeps_unity_gain_where_stereo_loses_3_db() -> None:
    for hz in (20.0, 100.0, 1000.0):
        assert abs(_gain_db(StethoscopeOpusEncoder(), hz)) < 0.5
    stereo = _gain_db(StethoscopeOpusEncoder(layout="stereo", bit_rate=96_000), 100.0)
    assert -3.5 < stereo < -2.5  # what the station sent before: this is what the test guards
