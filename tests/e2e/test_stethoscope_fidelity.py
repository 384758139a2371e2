"""The stethoscope as the doctor hears it: known signals through the whole chain.

``station demo --wait-for-doctor`` runs with its simulated stethoscope on a
test signal (``STATION_STETHOSCOPE_URL``), headless Chromium joins, and a
capture injected into the console (an AudioContext at 48 kHz on the
stethoscope element's stream, an AudioWorklet copying every sample, no
processing) records what reaches the doctor's output. The measurement code
is bench/fidelity.py's, which runs the same with longer recordings (60 s of
drift) and prints the figures; docs/stethoscope-fidelity.md explains them.
Two stations, one per signal: third-octave tones (response, SNR/THD on the
100 Hz step), then a steady heartbeat plus wall-clock clicks (level drift,
mouth-to-ear latency).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench.fidelity import (
    CHROMIUM_ARGS,
    RATE,
    REFERENCE_HZ,
    Capture,
    beat_levels,
    capture_call,
    click_latencies,
    flatness_db,
    percentile,
    sine_amplitude,
    snr_thd,
    source_heart_level,
    stepped_response,
)
from devices.audio.test_signals import THIRD_OCTAVES_HZ
from tests.e2e.doctor_browser import CHROMIUM, needs_chromium, sync_api

pytestmark = needs_chromium
STEP_S = 0.5  # tone steps: one pass of the 21 bands takes 10.5 s
DRIFT_S = 15.0  # voice processing (AGC) would already have pulled the level down by then


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def tones(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Capture:
    seconds = 2 * STEP_S * len(THIRD_OCTAVES_HZ) + 2 * STEP_S  # two passes: see best=True
    return capture_call(browser, Path(tmp_path_factory.mktemp("tones")),
                        f"sim://stethoscope?signal=tones&step={STEP_S}", seconds, warmup=1.0)


@pytest.fixture(scope="module")
def beats(browser: Any, tmp_path_factory: pytest.TempPathFactory) -> Capture:
    return capture_call(browser, Path(tmp_path_factory.mktemp("beats")),
                        "sim://stethoscope?signal=beats&clicks=1", DRIFT_S, warmup=1.0)


def test_the_response_is_flat_from_20_hz_to_2_khz_at_unity_gain(tones: Capture) -> None:
    gains = stepped_response(tones.samples, STEP_S, best=True)  # dropouts only lower a step
    assert set(gains) == set(THIRD_OCTAVES_HZ), f"bands not found: {gains}"
    assert flatness_db(gains) <= 3.0, gains
    assert abs(gains[REFERENCE_HZ]) <= 1.0, gains  # no -3 dB stereo upmix, no volume change
    assert min(gains[f] for f in (20.0, 25.0, 31.5, 40.0)) >= gains[REFERENCE_HZ] - 3.0  # no HPF


def test_a_100_hz_tone_is_clean(tones: Capture) -> None:
    gains = stepped_response(tones.samples, STEP_S)
    assert 100.0 in gains
    # 0.4 s blocks (40 periods) lying wholly inside a 100 Hz step: those where the tone is at
    # full amplitude; SNR and THD are their medians.
    block = round(0.4 * RATE)
    starts = range(0, len(tones.samples) - block, round(0.02 * RATE))
    amplitudes = [sine_amplitude(tones.samples[s:s + block], 100.0) for s in starts]
    inside = [s for s, a in zip(starts, amplitudes, strict=True) if a >= 0.97 * max(amplitudes)]
    figures = [snr_thd(tones.samples[s:s + block], 100.0, block_s=0.4) for s in inside]
    snr = float(np.median([f[0] for f in figures]))
    thd = float(np.median([f[1] for f in figures]))
    assert snr >= 40.0, f"SNR {snr:.1f} dB"
    assert thd <= 1.0, f"THD {thd:.3f} %"


def test_a_steady_heart_keeps_its_level(beats: Capture) -> None:
    # AGC or noise suppression shows as a trend: the median beat of each half of the
    # recording (a beat hit by a dropout is an outlier of its half, not a trend).
    levels = beat_levels(beats.samples)
    assert len(levels) >= DRIFT_S - 3
    half = len(levels) // 2
    first, last = float(np.median(levels[:half])), float(np.median(levels[half:]))
    assert abs(last - first) <= 1.0, levels
    assert abs(first - source_heart_level()) <= 1.0, (first, source_heart_level())


@pytest.mark.xfail(reason="issue 8 open: mouth-to-ear latency p95 measured 131-239 ms here "
                   "(378 before the stale-burst drop), goal 150 ms: met at moderate load, not "
                   "while the shared machine is at load 5-8; see docs/stethoscope-fidelity.md",
                   strict=False)
def test_mouth_to_ear_latency(beats: Capture) -> None:
    latencies = click_latencies(beats)
    assert len(latencies) >= 1.6 * DRIFT_S  # a click every 500 ms, each one heard
    assert percentile(latencies, 0.95) <= 150.0, sorted(latencies)
