"""Heart and lung synthesis: where the energy is, beats at the set rate, murmur, breathing."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from devices.audio import BLOCK_FRAMES, SAMPLE_RATE, HeartLungSynth, Scene
from devices.audio.synth import systole_seconds
from devices.errors import DeviceConfigurationError

FS = SAMPLE_RATE
Signal = npt.NDArray[np.float64]


def render(scene: Scene, seconds: float) -> Signal:
    """``seconds`` of sound, rendered block by block as the simulator does."""
    synth = HeartLungSynth(scene)
    blocks = round(seconds * FS / BLOCK_FRAMES)
    return np.concatenate([synth.render(BLOCK_FRAMES) for _ in range(blocks)])


def band(signal: Signal, low: float, high: float) -> Signal:
    """``signal`` with only the low..high Hz band kept (brick wall, test-side analysis)."""
    spectrum = np.fft.rfft(signal)
    freqs = np.fft.rfftfreq(len(signal), 1 / FS)
    spectrum[(freqs < low) | (freqs > high)] = 0
    return np.fft.irfft(spectrum, len(signal))


def envelope(signal: Signal, window_s: float = 0.01) -> Signal:
    """Mean absolute amplitude over ``window_s`` windows, one value per millisecond."""
    width = round(window_s * FS)
    sums = np.cumsum(np.abs(signal))
    smooth = (sums[width:] - sums[:-width]) / width
    return smooth[:: FS // 1000]


def sound_onsets(signal: Signal) -> list[float]:
    """Times (s) where the envelope rises through 20 % of its maximum, 120 ms apart at least."""
    env = envelope(signal)
    above = env > 0.2 * env.max()
    rises = np.flatnonzero(above[1:] & ~above[:-1]) + 1
    onsets: list[float] = []
    for index in rises:
        if not onsets or index / 1000 - onsets[-1] > 0.12:  # S1's and S2's two components
            onsets.append(index / 1000)
    return onsets


def first_sounds(onsets: list[float], bpm: float) -> tuple[list[float], list[float]]:
    """Split onsets into S1 and S2: systole (S1 to S2) is the shorter half of the cycle."""
    half = 30.0 / bpm
    s1, s2 = [], []
    for i, onset in enumerate(onsets):
        if i + 1 < len(onsets):
            is_s1 = onsets[i + 1] - onset < half
        else:
            is_s1 = onset - onsets[i - 1] > half
        (s1 if is_s1 else s2).append(onset)
    return s1, s2


def test_heart_sounds_keep_their_energy_below_250_hz() -> None:
    signal = render(Scene(lung_level=0.0), 10)
    power = np.abs(np.fft.rfft(signal)) ** 2
    freqs = np.fft.rfftfreq(len(signal), 1 / FS)
    assert power[freqs < 250].sum() / power.sum() > 0.8
    assert power[freqs < 20].sum() / power.sum() < 0.05  # a burst, not a DC drift


def test_s1_is_lower_and_longer_than_s2() -> None:
    synth = HeartLungSynth(Scene(lung_level=0.0))
    signal = synth.render(10 * FS)

    def centroid(part: Signal) -> float:
        power = np.abs(np.fft.rfft(part, 1 << 16)) ** 2
        return float((power * np.fft.rfftfreq(1 << 16, 1 / FS)).sum() / power.sum())

    def length(part: Signal) -> float:
        env = envelope(part)
        loud = np.flatnonzero(env > 0.1 * env.max())
        return (loud[-1] - loud[0]) / 1000

    s1 = [signal[b.s1:b.s1 + FS // 5] for b in synth.beats[:10]]
    s2 = [signal[b.s2:b.s2 + FS // 5] for b in synth.beats[:10]]
    assert 30 < np.median([centroid(p) for p in s1]) < 80
    assert np.median([centroid(p) for p in s1]) < np.median([centroid(p) for p in s2]) < 150
    assert 0.07 < np.median([length(p) for p in s1]) < 0.15
    assert np.median([length(p) for p in s2]) < np.median([length(p) for p in s1])


@pytest.mark.parametrize(("bpm", "expected"), [(70, {11, 12}), (120, {19, 20}), (45, {7, 8})])
def test_beats_come_at_the_set_rate(bpm: float, expected: set[int]) -> None:
    signal = render(Scene(heart_rate_bpm=bpm, lung_level=0.1, seed=3), 10)
    s1, s2 = first_sounds(sound_onsets(signal), bpm)
    assert len(s1) in expected
    assert abs(len(s2) - len(s1)) <= 1
    beat = float(np.median(np.diff(s1)))
    assert beat == pytest.approx(60 / bpm, rel=0.05)


def test_systole_is_about_0_3_s_at_70_bpm_and_shortens_when_faster() -> None:
    measured = {}
    for bpm in (70, 120):
        onsets = sound_onsets(render(Scene(heart_rate_bpm=bpm, lung_level=0.0), 10))
        s1, _ = first_sounds(onsets, bpm)
        measured[bpm] = np.median([onsets[onsets.index(t) + 1] - t for t in s1[:-1]])
    assert 0.26 < measured[70] < 0.33
    assert measured[120] < measured[70] - 0.05
    assert systole_seconds(70) == pytest.approx(0.294, abs=0.001)


def test_the_murmur_fills_systole_and_only_systole() -> None:
    quiet = HeartLungSynth(Scene(lung_level=0.0, seed=5))
    murmur = HeartLungSynth(Scene(lung_level=0.0, seed=5, murmur_level=0.15))
    plain, noisy = quiet.render(10 * FS), murmur.render(10 * FS)
    beats = quiet.beats[:-1]
    assert beats == murmur.beats[:-1]

    def energy(signal: Signal, start: int, stop: int) -> float:
        return float(np.sum(signal[start:stop] ** 2))

    mid = [(b.s1 + FS * 3 // 20, b.s2 - FS * 3 // 100) for b in beats]  # S1 end .. S2 start
    with_murmur = sum(energy(noisy, a, z) for a, z in mid)
    assert with_murmur > 1.0
    assert with_murmur > 100 * sum(energy(plain, a, z) for a, z in mid)
    for here, after in zip(beats, murmur.beats[1:], strict=False):
        start, stop = here.s2 + FS // 8, after.s1  # diastole: untouched by a systolic murmur
        assert np.array_equal(plain[start:stop], noisy[start:stop])
    added = noisy - plain  # the murmur alone: synthesis is additive and seeded
    for b in beats:
        heard = np.flatnonzero(added[b.s1:b.s2]) + b.s1
        start, third = heard[0], (heard[-1] - heard[0]) // 3
        assert start - b.s1 > 0.08 * FS  # it starts once S1 is over
        early, middle, late = (energy(added, start + k * third, start + (k + 1) * third)
                               for k in range(3))
        assert middle > 2 * early and middle > 2 * late  # crescendo-decrescendo


@pytest.mark.parametrize("breaths_per_min", [12, 15, 24])
def test_lung_sounds_follow_the_respiratory_rate(breaths_per_min: float) -> None:
    signal = render(Scene(respiratory_rate_bpm=breaths_per_min, lung_level=0.2, seed=7), 40)
    breath = band(signal, 400, 1000)  # above the heart sounds
    frames = breath[: len(breath) // 4800 * 4800].reshape(-1, 4800)  # 100 ms frames
    loudness = np.convolve(np.sqrt((frames ** 2).mean(axis=1)), np.ones(5) / 5, "same")
    loud = loudness > 0.6 * loudness.max()  # inspirations; expirations are fainter
    inspirations = int(np.count_nonzero(loud[1:] & ~loud[:-1])) + int(loud[0])
    assert abs(inspirations - breaths_per_min * 40 / 60) <= 1
    quiet_rises = np.count_nonzero((loudness[1:] > 0.15 * loudness.max())
                                   & (loudness[:-1] <= 0.15 * loudness.max()))
    assert quiet_rises >= 2 * inspirations - 2  # expirations are heard too, between them


def test_lungs_off_means_no_breath_noise() -> None:
    off = band(render(Scene(lung_level=0.0), 4), 400, 1000)
    on = band(render(Scene(lung_level=0.1), 4), 400, 1000)
    assert np.sqrt(np.mean(off ** 2)) < 0.1 * np.sqrt(np.mean(on ** 2))


def test_same_seed_same_sound_whatever_the_block_size() -> None:
    scene = Scene(murmur_level=0.1, seed=42)
    in_blocks = render(scene, 3)
    at_once = HeartLungSynth(scene).render(3 * FS)
    assert np.array_equal(in_blocks, at_once)
    assert not np.array_equal(in_blocks, render(Scene(murmur_level=0.1, seed=43), 3))


def test_a_new_rate_applies_from_the_next_beat() -> None:
    synth = HeartLungSynth(Scene(heart_rate_bpm=60, lung_level=0.0))
    synth.render(5 * FS)
    synth.set_rates(120, 20)
    synth.render(5 * FS)
    gaps = np.diff([b.s1 for b in synth.beats]) / FS
    assert gaps[1] == pytest.approx(1.0, rel=0.08)
    assert gaps[-1] == pytest.approx(0.5, rel=0.08)


def test_unrenderable_scenes_are_refused() -> None:
    with pytest.raises(DeviceConfigurationError, match="heart 300 bpm"):
        Scene(heart_rate_bpm=300)
    with pytest.raises(DeviceConfigurationError, match=r"within 0\.\.1"):
        Scene(lung_level=2.0)
    with pytest.raises(DeviceConfigurationError, match="breathing 2 /min"):
        HeartLungSynth(Scene()).set_rates(70, 2)
