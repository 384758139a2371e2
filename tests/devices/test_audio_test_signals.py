"""Known test signals of the simulated stethoscope (sim://stethoscope?signal=…)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from devices.audio import SAMPLE_RATE, SimulatedStethoscope
from devices.audio.test_signals import (
    CLICK_LEVEL,
    THIRD_OCTAVES_HZ,
    TONE_LEVEL,
    LogSweep,
    SteadyBeats,
    SteppedTones,
    Tone,
    WallClockClicks,
    signal_renderer,
)
from devices.errors import DeviceConfigurationError
from devices.factory import Simulators, open_device
from devices.media import StethoscopeDevice


def _blocks(signal: object, count: int) -> np.ndarray:
    render = signal.render  # type: ignore[attr-defined]
    return np.concatenate([render(960) for _ in range(count)])


def _amplitude(x: np.ndarray, freq: float) -> float:
    t = np.arange(len(x)) / SAMPLE_RATE
    basis = np.column_stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t)])
    coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
    return float(np.hypot(*coef))


def test_a_tone_is_continuous_across_blocks() -> None:
    x = _blocks(Tone(100.0), 50)
    t = np.arange(len(x)) / SAMPLE_RATE
    assert np.allclose(x, TONE_LEVEL * np.sin(2 * np.pi * 100.0 * t))


def test_stepped_tones_hold_each_third_octave_for_one_step() -> None:
    tones = SteppedTones(step_s=0.5)
    x = _blocks(tones, round(tones.cycle_s * SAMPLE_RATE / 960))
    step = SAMPLE_RATE // 2
    for i, freq in enumerate(THIRD_OCTAVES_HZ):
        middle = x[i * step + step // 4:i * step + 3 * step // 4]
        assert _amplitude(middle, freq) == pytest.approx(TONE_LEVEL, rel=1e-3)
    assert tones.cycle_s == pytest.approx(0.5 * 21)


def test_the_sweep_repeats_and_steady_beats_do_not_vary() -> None:
    sweep = LogSweep(sweep_s=1.0, gap_s=0.2)
    x = _blocks(sweep, 150)
    period = sweep.period
    assert np.allclose(x[:period], x[period:2 * period])
    assert np.abs(x[sweep.length:period]).max() == 0.0
    beats = _blocks(SteadyBeats(), 150)
    first, second = beats[:SAMPLE_RATE], beats[SAMPLE_RATE:2 * SAMPLE_RATE]
    assert np.array_equal(first, second) and np.abs(first).max() > 0.2


def test_clicks_sit_on_multiples_of_500_ms_of_the_clock() -> None:
    now = [1_000_000.123]  # wall time when the first block is rendered
    clicks = WallClockClicks(clock=lambda: now[0])
    out = []
    for _ in range(100):  # 2 s, each block rendered 20 ms after the previous one
        out.append(clicks.render(960))
        now[0] += 0.02
    x = np.concatenate(out)
    origin = 1_000_000.123 - 0.02  # the first block ended when it was rendered
    loud = np.flatnonzero(np.abs(x) > CLICK_LEVEL / 2)
    groups = np.split(loud, np.flatnonzero(np.diff(loud) > 100) + 1)
    centres = [(g[0] + g[-1]) / 2 for g in groups]  # each click is symmetric about its centre
    instants = [origin + c / SAMPLE_RATE for c in centres]
    assert len(instants) == 4
    for instant in instants:
        assert abs(instant * 2 - round(instant * 2)) < 1.5 / SAMPLE_RATE


def test_a_late_render_does_not_move_the_clicks() -> None:
    now = [2_000_000.0]
    clicks = WallClockClicks(clock=lambda: now[0])
    clicks.render(960)
    origin = clicks.origin
    now[0] += 0.3  # the loop stalled: this block is rendered late
    clicks.render(960)
    assert clicks.origin == origin


def test_unknown_signals_are_refused() -> None:
    with pytest.raises(DeviceConfigurationError):
        signal_renderer("pink-noise")
    assert signal_renderer("heart") is None


def test_the_url_option_selects_the_signal() -> None:
    async def scenario() -> np.ndarray:
        simulators = Simulators()
        try:
            device = await open_device("sim://stethoscope?signal=tone&freq=250&level=0.5",
                                       simulators)
            assert isinstance(device, StethoscopeDevice)
            source = await device._open_source()
            assert isinstance(source, SimulatedStethoscope)
            source.paced = False
            blocks = [await source.read() for _ in range(10)]
            await source.close()
            return np.concatenate([b.samples for b in blocks if b is not None]) / 32767.0
        finally:
            await simulators.close()

    x = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert _amplitude(x, 250.0) == pytest.approx(0.5, rel=1e-3)


def test_bad_url_options_fail_when_the_device_is_opened() -> None:
    async def scenario() -> None:
        simulators = Simulators()
        try:
            with pytest.raises(DeviceConfigurationError):
                await open_device("sim://stethoscope?signal=tone&freq=loud", simulators)
            with pytest.raises(DeviceConfigurationError):
                await open_device("sim://stethoscope?signal=noise", simulators)
        finally:
            await simulators.close()

    asyncio.run(asyncio.wait_for(scenario(), 20))
