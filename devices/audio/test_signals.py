"""Known signals for measuring the stethoscope chain end to end (``sim://stethoscope?signal=…``).

Each generator renders a continuous 48 kHz signal (full scale = 1.0) block
after block, like :class:`~devices.audio.synth.HeartLungSynth`, so the
simulated stethoscope can stream it instead of heart and lung sounds, and a
measurement at the far end (the doctor's browser) knows exactly what was sent:

* :class:`Tone`: one pure tone (e.g. 100 Hz for SNR and THD);
* :class:`SteppedTones`: the third-octave centres 20 Hz–2 kHz one after the
  other, each held ``step_s`` seconds (frequency response);
* :class:`LogSweep`: an exponential sweep 20 Hz–2 kHz followed by silence;
* :class:`SteadyBeats`: one fixed S1/S2 heartbeat repeated exactly every
  second, at a constant level (level drift: any AGC or noise suppression);
* :class:`WallClockClicks`: short 2 kHz bursts centred on every multiple of
  ``period_s`` of Unix time (mouth-to-ear latency with no coordination
  between processes: the receiver knows when each click was "heard" by
  the stethoscope from its own clock);
* :class:`Mix`: several of them added (beats + clicks: drift and latency
  in one run, separated by frequency at the far end).

The sample ↔ wall-clock mapping of the clicks is the capture schedule of
the paced simulator: block *n* is delivered when its last sample would have
been captured, never earlier, so ``time.time() - samples_so_far / rate``
taken at each render is an upper bound of the wall time of sample 0, and
its running minimum converges to it (a late render only overestimates).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np

from devices.audio.block import SAMPLE_RATE
from devices.audio.synth import Signal, _s1, _s2
from devices.errors import DeviceConfigurationError

THIRD_OCTAVES_HZ = (20.0, 25.0, 31.5, 40.0, 50.0, 63.0, 80.0, 100.0, 125.0, 160.0, 200.0,
                    250.0, 315.0, 400.0, 500.0, 630.0, 800.0, 1000.0, 1250.0, 1600.0, 2000.0)
SIGNALS = ("heart", "tone", "tones", "sweep", "beats", "clicks", "silence")
TONE_LEVEL = 0.25  # -12 dBFS peak: room for the codec, far above its noise floor
CLICK_HZ = 2000.0
CLICK_SECONDS = 0.005  # 10 cycles of 2 kHz under a Hann window
CLICK_LEVEL = 0.5
BEAT_PERIOD_S = 1.0  # 60 bpm, exactly
BEAT_S1_AT_S = 0.08  # within each beat period, clear of clicks at multiples of 0.5 s
BEAT_S2_AT_S = 0.30
BEAT_LEVEL = 0.35


class SignalRenderer(Protocol):
    """Anything that renders the next ``frames`` samples of a continuous signal."""

    def render(self, frames: int) -> Signal:
        """The next ``frames`` samples (float, full scale 1.0)."""
        ...


class Tone:
    """A continuous sine of ``freq_hz`` at peak ``level``."""

    def __init__(self, freq_hz: float, level: float = TONE_LEVEL) -> None:
        if not 1.0 <= freq_hz <= SAMPLE_RATE / 2 or not 0.0 < level <= 1.0:
            raise DeviceConfigurationError(f"tone {freq_hz} Hz at level {level}: "
                                           "frequency 1 Hz..24 kHz, level 0..1")
        self.freq_hz = freq_hz
        self.level = level
        self.position = 0

    def render(self, frames: int) -> Signal:
        """The next ``frames`` samples."""
        n = np.arange(self.position, self.position + frames)
        self.position += frames
        return self.level * np.sin(2 * np.pi * self.freq_hz * n / SAMPLE_RATE)


class SteppedTones:
    """The third-octave tones 20 Hz–2 kHz in turn, ``step_s`` each, 10 ms fades, cycling.

    Each step starts at phase zero; the fades keep the steps click-free so
    a step's middle holds one pure frequency.
    """

    def __init__(self, step_s: float = 1.0, level: float = TONE_LEVEL,
                 freqs: Sequence[float] = THIRD_OCTAVES_HZ) -> None:
        if step_s < 0.1:
            raise DeviceConfigurationError(f"tone steps of {step_s} s: at least 0.1 s")
        self.step = round(step_s * SAMPLE_RATE)
        self.level = level
        self.freqs = tuple(freqs)
        self.position = 0
        fade = round(0.01 * SAMPLE_RATE)
        self._envelope = np.ones(self.step)
        ramp = np.sin(0.5 * np.pi * np.arange(fade) / fade) ** 2
        self._envelope[:fade] = ramp
        self._envelope[-fade:] = ramp[::-1]

    @property
    def cycle_s(self) -> float:
        """Length of one pass through every tone."""
        return self.step * len(self.freqs) / SAMPLE_RATE

    def render(self, frames: int) -> Signal:
        """The next ``frames`` samples."""
        n = np.arange(self.position, self.position + frames)
        self.position += frames
        step, within = np.divmod(n, self.step)
        freqs = np.asarray(self.freqs)[step % len(self.freqs)]
        out: Signal = self.level * self._envelope[within] * np.sin(
            2 * np.pi * freqs * within / SAMPLE_RATE)
        return out


class LogSweep:
    """An exponential sweep ``low``→``high`` Hz over ``sweep_s``, then ``gap_s`` of silence."""

    def __init__(self, low_hz: float = 20.0, high_hz: float = 2000.0, sweep_s: float = 5.0,
                 gap_s: float = 1.0, level: float = TONE_LEVEL) -> None:
        self.low, self.high, self.level = low_hz, high_hz, level
        self.length = round(sweep_s * SAMPLE_RATE)
        self.period = self.length + round(gap_s * SAMPLE_RATE)
        self.position = 0
        t = np.arange(self.length) / SAMPLE_RATE
        rate = math.log(high_hz / low_hz)
        phase = 2 * np.pi * low_hz * sweep_s / rate * (np.exp(t / sweep_s * rate) - 1.0)
        fade = round(0.01 * SAMPLE_RATE)
        envelope = np.ones(self.length)
        ramp = np.sin(0.5 * np.pi * np.arange(fade) / fade) ** 2
        envelope[:fade], envelope[-fade:] = ramp, ramp[::-1]
        self.sweep: Signal = np.concatenate(
            [level * envelope * np.sin(phase), np.zeros(self.period - self.length)])

    def render(self, frames: int) -> Signal:
        """The next ``frames`` samples."""
        n = np.arange(self.position, self.position + frames)
        self.position += frames
        return self.sweep[n % self.period]


def steady_beat(level: float = BEAT_LEVEL) -> Signal:
    """One heartbeat (S1 at 80 ms, S2 at 300 ms) lasting exactly :data:`BEAT_PERIOD_S`."""
    rng = np.random.default_rng([7, 7])
    beat = np.zeros(round(BEAT_PERIOD_S * SAMPLE_RATE))
    s1 = level * _s1(rng)
    s2 = 0.7 * level * _s2(rng, 0.03)
    at1, at2 = round(BEAT_S1_AT_S * SAMPLE_RATE), round(BEAT_S2_AT_S * SAMPLE_RATE)
    beat[at1:at1 + len(s1)] += s1
    beat[at2:at2 + len(s2)] += s2
    return beat


class SteadyBeats:
    """The same heartbeat every second, at a constant level: no jitter, no breathing."""

    def __init__(self, level: float = BEAT_LEVEL) -> None:
        self.beat = steady_beat(level)
        self.position = 0

    def render(self, frames: int) -> Signal:
        """The next ``frames`` samples."""
        n = np.arange(self.position, self.position + frames)
        self.position += frames
        return self.beat[n % len(self.beat)]


def click_wave() -> Signal:
    """One click: :data:`CLICK_HZ` under a Hann window, peak at its centre."""
    n = round(CLICK_SECONDS * SAMPLE_RATE)
    t = (np.arange(n) - (n - 1) / 2) / SAMPLE_RATE
    return CLICK_LEVEL * np.hanning(n) * np.cos(2 * np.pi * CLICK_HZ * t)


class WallClockClicks:
    """Clicks centred on every multiple of ``period_s`` of Unix time (see the module doc).

    ``clock`` returns Unix time in seconds (``time.time``; tests give a fake one).
    ``origin`` is the wall time of sample 0 as estimated so far.
    """

    def __init__(self, period_s: float = 0.5,
                 clock: Callable[[], float] = time.time) -> None:
        if period_s < 0.05:
            raise DeviceConfigurationError(f"clicks every {period_s} s: at least 0.05 s")
        self.period_s = period_s
        self.clock = clock
        self.position = 0
        self.origin: float | None = None
        self.wave = click_wave()

    def render(self, frames: int) -> Signal:
        """The next ``frames`` samples: the clicks whose wall time falls in them."""
        start, end = self.position, self.position + frames
        estimate = self.clock() - end / SAMPLE_RATE
        self.origin = estimate if self.origin is None else min(self.origin, estimate)
        self.position = end
        out = np.zeros(frames)
        half = len(self.wave) // 2
        first = math.ceil((self.origin + (start - half) / SAMPLE_RATE) / self.period_s)
        last = math.floor((self.origin + (end + half) / SAMPLE_RATE) / self.period_s)
        for k in range(first, last + 1):
            centre = round((k * self.period_s - self.origin) * SAMPLE_RATE)
            at = centre - half
            lo, hi = max(at, start), min(at + len(self.wave), end)
            if lo < hi:
                out[lo - start:hi - start] += self.wave[lo - at:hi - at]
        return out


class Mix:
    """The sum of several signals."""

    def __init__(self, parts: Sequence[SignalRenderer]) -> None:
        self.parts = list(parts)

    def render(self, frames: int) -> Signal:
        """The next ``frames`` samples of every part, added."""
        out = np.zeros(frames)
        for part in self.parts:
            out += part.render(frames)
        return out


class Silence:
    """Digital silence (the chain's own noise floor)."""

    def render(self, frames: int) -> Signal:
        """``frames`` zeros."""
        return np.zeros(frames)


def signal_renderer(name: str, *, freq_hz: float = 100.0, step_s: float = 1.0,
                level: float | None = None, clicks: bool = False) -> SignalRenderer | None:
    """The renderer for ``signal=name`` (None for ``heart``: the heart/lung synth).

    ``clicks`` adds :class:`WallClockClicks` to it (``signal=clicks`` is clicks alone).
    """
    if name not in SIGNALS:
        raise DeviceConfigurationError(f"stethoscope test signal {name!r}: choose one of "
                                       + ", ".join(SIGNALS))
    tone_level = TONE_LEVEL if level is None else level
    base: SignalRenderer | None
    if name == "tone":
        base = Tone(freq_hz, tone_level)
    elif name == "tones":
        base = SteppedTones(step_s, tone_level)
    elif name == "sweep":
        base = LogSweep(level=tone_level)
    elif name == "beats":
        base = SteadyBeats(BEAT_LEVEL if level is None else level)
    elif name in ("clicks", "silence"):
        base = Silence()
        clicks = clicks or name == "clicks"
    else:
        base = None
    if not clicks:
        return base
    if base is None:
        raise DeviceConfigurationError("clicks cannot be added to the heart synth: "
                                       "use signal=beats&clicks=1")
    return Mix([base, WallClockClicks()])
