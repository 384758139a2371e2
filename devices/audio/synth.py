"""Heart and lung sound synthesis for the stethoscope simulator (pure numpy, no I/O).

:class:`HeartLungSynth` renders a continuous 48 kHz signal (full scale =
1.0) sample range by sample range, so the sound does not depend on how it is
cut into blocks:

* S1 and S2 are short damped low-frequency bursts, each made of two
  components (mitral then tricuspid for S1, aortic then pulmonary for S2).
  S1 lasts ~130 ms with content ~30-150 Hz; S2 is shorter (~80-110 ms) and
  higher (~50-200 Hz), and its split widens on inspiration as it does in
  healthy people.
* Systole (S1 to S2) follows Weissler's regression of left-ventricular
  ejection time on heart rate, ~0.29 s at 70 bpm, shorter when faster;
  beat-to-beat intervals vary by ~2 % as real ones do.
* An optional systolic murmur is band-limited noise (~120-500 Hz) shaped
  crescendo-decrescendo between the end of S1 and S2.
* Lung sounds are band-limited noise (~100-1000 Hz, falling above 300 Hz)
  under an inspiration/expiration envelope at the respiratory rate.

Everything is deterministic for a given seed: each beat draws from its own
generator seeded by ``(seed, beat number)``, and the noises are fixed
seeded loops indexed by absolute sample position.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from devices.audio.block import SAMPLE_RATE
from devices.errors import DeviceConfigurationError

Signal = npt.NDArray[np.float64]
_LOOP = 1 << 19  # ~10.9 s of noise: long enough that repetition is not heard
_FIRST_BEAT_S = 0.15


@dataclass(frozen=True, slots=True)
class Scene:
    """What the simulated stethoscope hears. Levels are fractions of full scale.

    ``heart_level`` is the S1 peak; ``murmur_level`` 0 means no murmur;
    ``lung_level`` 0 means no breath sounds.
    """

    heart_rate_bpm: float = 70.0
    respiratory_rate_bpm: float = 15.0
    heart_level: float = 0.35
    murmur_level: float = 0.0
    lung_level: float = 0.1
    seed: int = 0

    def __post_init__(self) -> None:
        check_rates(self.heart_rate_bpm, self.respiratory_rate_bpm)
        levels = (self.heart_level, self.murmur_level, self.lung_level)
        if not all(0.0 <= level <= 1.0 for level in levels):
            raise DeviceConfigurationError(f"sound levels must be within 0..1, not {levels}")


def check_rates(heart_rate_bpm: float, respiratory_rate_bpm: float) -> None:
    """Reject rates the synthesis cannot render (outside 20-250 bpm, 4-60 breaths/min)."""
    if not 20 <= heart_rate_bpm <= 250 or not 4 <= respiratory_rate_bpm <= 60:
        raise DeviceConfigurationError(
            f"simulated rates out of range: heart {heart_rate_bpm} bpm (20-250), "
            f"breathing {respiratory_rate_bpm} /min (4-60)")


@dataclass(frozen=True, slots=True)
class Beat:
    """Where one heartbeat's sounds start, in samples since the stream began."""

    s1: int
    s2: int


def systole_seconds(heart_rate_bpm: float) -> float:
    """S1-to-S2 interval: Weissler's 413 - 1.7 x HR ms, kept within 0.12 s..45 % of the period."""
    return max(0.12, min(0.413 - 0.0017 * heart_rate_bpm, 0.45 * 60.0 / heart_rate_bpm))


def _band_noise(rng: np.random.Generator, size: int, low: float, high: float,
                corner: float) -> Signal:
    """A seamless loop of Gaussian noise band-limited to low..high Hz, RMS 0.3.

    Shaped in the frequency domain, so the loop is circular (no click where
    it wraps) and no filter state has to be carried from block to block.
    """
    spectrum = np.fft.rfft(rng.standard_normal(size))
    freqs = np.fft.rfftfreq(size, 1.0 / SAMPLE_RATE)
    rise = np.clip((freqs - 0.8 * low) / (0.4 * low), 0.0, 1.0)
    fall = np.clip((1.2 * high - freqs) / (0.4 * high), 0.0, 1.0)
    tilt = 1.0 / np.sqrt(1.0 + (freqs / corner) ** 2)  # breath sounds fade above the corner
    noise = np.fft.irfft(spectrum * np.sin(0.5 * np.pi * rise * fall) ** 2 * tilt, size)
    return noise * (0.3 / float(np.sqrt(np.mean(noise**2))))


def _burst(rng: np.random.Generator, freqs: tuple[float, ...], amps: tuple[float, ...],
           decay_s: float, length_s: float) -> Signal:
    """A damped burst: a few sinusoids (jittered) under a 3 ms attack and exponential decay."""
    t = np.arange(round(length_s * SAMPLE_RATE)) / SAMPLE_RATE
    wave = np.zeros_like(t)
    for freq, amp in zip(freqs, amps, strict=True):
        jittered = freq * (1.0 + 0.04 * rng.standard_normal())
        wave += amp * np.sin(2 * np.pi * jittered * t + rng.uniform(0, 2 * np.pi))
    envelope = (1.0 - np.exp(-t / 0.003)) * np.exp(-t / decay_s)
    fade = min(len(t), round(0.005 * SAMPLE_RATE))  # ends at exactly zero: no click
    envelope[-fade:] *= np.cos(np.linspace(0.0, 0.5 * np.pi, fade)) ** 2
    return wave * envelope


def _pair(first: Signal, second: Signal, delay_s: float, second_gain: float) -> Signal:
    """Two components, the second ``delay_s`` later, normalised to a peak of 1."""
    offset = round(delay_s * SAMPLE_RATE)
    out = np.zeros(max(len(first), offset + len(second)))
    out[:len(first)] += first
    out[offset:offset + len(second)] += second_gain * second
    return out / float(np.max(np.abs(out)))


def _s1(rng: np.random.Generator) -> Signal:
    mitral = _burst(rng, (35, 50, 70, 100, 140), (1.0, 0.9, 0.7, 0.45, 0.25), 0.040, 0.120)
    tricuspid = _burst(rng, (40, 55, 80, 110, 150), (1.0, 0.9, 0.7, 0.4, 0.2), 0.035, 0.100)
    return _pair(mitral, tricuspid, 0.030, 0.6)


def _s2(rng: np.random.Generator, split_s: float) -> Signal:
    aortic = _burst(rng, (60, 85, 120, 160, 200), (0.8, 1.0, 0.8, 0.5, 0.3), 0.022, 0.080)
    pulmonary = _burst(rng, (55, 80, 110, 150, 190), (0.8, 1.0, 0.7, 0.4, 0.2), 0.020, 0.070)
    return _pair(aortic, pulmonary, split_s, 0.5)


def breath_envelope(phase: Signal) -> Signal:
    """Loudness over one breath cycle (phase 0..1): inspiration 0-0.4, expiration to 0.85.

    Expiration is heard fainter than inspiration, then a pause before the next breath.
    """
    inspiration = np.sin(np.pi * np.clip(phase / 0.4, 0.0, 1.0)) ** 2
    expiration = 0.4 * np.sin(np.pi * np.clip((phase - 0.4) / 0.45, 0.0, 1.0)) ** 2
    return np.where(phase < 0.4, inspiration, expiration)


class HeartLungSynth:
    """Renders a scene continuously; rates can change while it runs (from the next beat)."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.heart_rate_bpm = scene.heart_rate_bpm
        self.respiratory_rate_bpm = scene.respiratory_rate_bpm
        self.position = 0  # next sample to render
        self.beats: list[Beat] = []  # every beat scheduled so far: ground truth for tests
        self._events: list[tuple[int, Signal]] = []
        self._next_beat = round(_FIRST_BEAT_S * SAMPLE_RATE)
        # Breathing phase (in cycles) is computed from the absolute sample index,
        # counted from the last rate change, so block sizes cannot change a sample.
        self._breath_origin = (0, 0.0)
        self._lung_noise = _band_noise(np.random.default_rng([scene.seed, 1]), _LOOP,
                                       100.0, 1000.0, 300.0)
        self._murmur_noise = _band_noise(np.random.default_rng([scene.seed, 2]), _LOOP,
                                         120.0, 500.0, 1000.0)

    def set_rates(self, heart_rate_bpm: float, respiratory_rate_bpm: float) -> None:
        """Change the rates; the heart follows from the next beat not yet scheduled."""
        check_rates(heart_rate_bpm, respiratory_rate_bpm)
        self._breath_origin = (self.position, float(self._breath_phase(self.position)))
        self.heart_rate_bpm = heart_rate_bpm
        self.respiratory_rate_bpm = respiratory_rate_bpm

    def _breath_phase(self, sample: int | npt.NDArray[np.int64]) -> Signal:
        """Breathing phase in cycles (0..1) at absolute ``sample`` index(es)."""
        origin, phase = self._breath_origin
        step = self.respiratory_rate_bpm / 60.0 / SAMPLE_RATE
        return np.mod(phase + (np.asarray(sample, dtype=np.float64) - origin) * step, 1.0)

    def render(self, frames: int) -> Signal:
        """The next ``frames`` samples (float, full scale 1.0)."""
        start, end = self.position, self.position + frames
        while self._next_beat < end:
            self._schedule_beat()
        out = np.zeros(frames)
        pending = []
        for at, wave in self._events:
            lo, hi = max(at, start), min(at + len(wave), end)
            if lo < hi:
                out[lo - start:hi - start] += wave[lo - at:hi - at]
            if at + len(wave) > end:
                pending.append((at, wave))
        self._events = pending
        if self.scene.lung_level > 0:
            samples = np.arange(start, end)
            noise: Signal = self._lung_noise[samples % _LOOP]
            out += self.scene.lung_level * breath_envelope(self._breath_phase(samples)) * noise
        self.position = end
        return out

    def _schedule_beat(self) -> None:
        scene = self.scene
        rng = np.random.default_rng([scene.seed, 0, len(self.beats)])
        s1_at = self._next_beat
        systole = systole_seconds(self.heart_rate_bpm) * (1.0 + 0.02 * rng.standard_normal())
        s2_at = s1_at + round(systole * SAMPLE_RATE)
        # Inspiration delays the pulmonary valve: S2 splits wider (15 -> 45 ms).
        breath = float(self._breath_phase(s2_at))
        inspiring = float(np.sin(np.pi * min(breath / 0.4, 1.0)) ** 2)
        loudness = scene.heart_level * (1.0 + 0.05 * rng.standard_normal())
        self._events.append((s1_at, loudness * _s1(rng)))
        self._events.append((s2_at, 0.7 * loudness * _s2(rng, 0.015 + 0.03 * inspiring)))
        if scene.murmur_level > 0:
            self._add_murmur(s1_at + round(0.10 * SAMPLE_RATE), s2_at - round(0.02 * SAMPLE_RATE))
        self.beats.append(Beat(s1_at, s2_at))
        period = 60.0 / self.heart_rate_bpm * (1.0 + 0.02 * rng.standard_normal())
        self._next_beat = s1_at + round(period * SAMPLE_RATE)

    def _add_murmur(self, start: int, stop: int) -> None:
        """Crescendo-decrescendo noise filling systole between S1 and S2."""
        if stop - start < round(0.03 * SAMPLE_RATE):
            return  # a systole too short to hold a murmur at this rate
        shape = np.sin(np.pi * np.linspace(0.0, 1.0, stop - start)) ** 1.5
        noise = self._murmur_noise[np.arange(start, stop) % _LOOP]
        self._events.append((start, self.scene.murmur_level * noise * shape))
