"""What a simulated serial oximeter measures, and its frames as each protocol encodes them.

:class:`VitalsModel` produces one sample per device frame: a pleth wave at
the current pulse (systolic peak, dicrotic notch, diastolic wave), SpO2 and
pulse drifting by a seeded random walk once per second, and a periodic
probe-off (finger out, then searching once the finger is back). Everything
is counted in frames, so a simulator run faster than real time keeps the
same content. :func:`encode` turns samples into real frames with the codecs.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from devices.codecs import cms50d, cms50d_v46, nonin

__all__ = ["FRAME_RATES", "SentFrame", "VitalsModel", "encode", "pleth_shape"]

FRAME_RATES = {"cms50d": cms50d.SAMPLE_RATE_HZ, "cms50d-v46": cms50d_v46.SAMPLE_RATE_HZ,
               "nonin-2": nonin.SAMPLE_RATE_HZ}
IMPLAUSIBLE_SPO2, IMPLAUSIBLE_PULSE = 104, 300
_CMS_MAX_PULSE = 254  # one byte, 255 meaning "no reading"
_SPO2_RANGE, _PULSE_RANGE = (95, 99), (60, 90)
_DRAIN = 0.45  # diastolic run-off time constant, in beats
_DRAINED = math.exp(-0.88 / _DRAIN)  # what is left at the end of a beat


@dataclass(frozen=True, slots=True)
class SentFrame:
    """One frame as a simulator wrote it: the values it encodes, before any corruption.

    ``spo2`` / ``pulse_rate`` are None when the frame says "no reading";
    ``time`` is ``time.monotonic()`` just before the write.
    """

    index: int
    time: float
    spo2: int | None
    pulse_rate: int | None
    pleth: int
    finger_out: bool
    searching: bool
    corrupted: bool = False


@dataclass(frozen=True, slots=True)
class Sample:
    """One frame's worth of physiology, before encoding."""

    index: int
    spo2: int | None
    pulse_rate: int | None
    shape: float  # pleth, 0..1
    beat: bool
    finger_out: bool
    searching: bool
    perfusion_index: int  # x 100

    @property
    def probe_off(self) -> bool:
        """True while the oximeter has no usable signal."""
        return self.finger_out or self.searching


def _beat(phase: float) -> float:
    systolic = math.exp(-(((phase - 0.18) / 0.09) ** 2))
    diastolic = 0.35 * math.exp(-(((phase - 0.42) / 0.07) ** 2))
    # Blood volume rises with systole and drains slowly until the next beat, back to 0 at 1.
    rise = 1 / (1 + math.exp(-(phase - 0.12) / 0.02))
    drain = (math.exp(-max(0.0, phase - 0.12) / _DRAIN) - _DRAINED) / (1 - _DRAINED)
    return systolic + diastolic + 0.25 * rise * drain


_PEAK = max(_beat(i / 1000) for i in range(1000))


def pleth_shape(phase: float) -> float:
    """One heartbeat of a finger pleth at ``phase`` (0..1), scaled 0..1.

    A systolic upstroke and peak, then the dicrotic notch (aortic valve
    closing) and a smaller diastolic wave, as on a bedside monitor.
    """
    return _beat(phase % 1.0) / _PEAK


class VitalsModel:
    """Seeded physiology, one :class:`Sample` per device frame (see the module docstring).

    ``pin`` holds values (for tests and benchmarks), ``implausible`` makes
    every value physiologically impossible. Attributes are set from other
    threads by single assignments, which the writer thread reads atomically.
    """

    def __init__(self, seed: int, frame_rate: float, probe_off_every: float,
                 probe_off_for: float) -> None:
        self._rng = np.random.default_rng(seed)
        self._per_second = max(1, round(frame_rate))
        self._rate = frame_rate
        self._spo2 = float(self._rng.integers(_SPO2_RANGE[0], _SPO2_RANGE[1] + 1))
        self._pulse = float(self._rng.uniform(*_PULSE_RANGE))
        self._pi = 300.0
        self._phase = 0.0
        self._off_every = max(0, round(probe_off_every * frame_rate))
        self._off_for = min(self._off_every, max(0, round(probe_off_for * frame_rate)))
        self.pinned: tuple[int | None, int | None] = (None, None)
        self.implausible = False
        self.index = 0

    def pin(self, spo2: int | None, pulse_rate: int | None) -> None:
        """Hold the given values (None leaves that one drifting)."""
        self.pinned = (spo2, pulse_rate)

    def release(self) -> None:
        """Let both values drift again."""
        self.pinned = (None, None)

    def next(self) -> Sample:
        """The next frame's sample."""
        n = self.index
        self.index += 1
        if n and n % self._per_second == 0:
            self._walk()
        pinned_spo2, pinned_pulse = self.pinned
        spo2 = round(self._spo2) if pinned_spo2 is None else pinned_spo2
        pulse = round(self._pulse) if pinned_pulse is None else pinned_pulse
        self._phase += pulse / 60 / self._rate
        beat = self._phase >= 1.0
        self._phase %= 1.0
        if self.implausible:
            spo2, pulse = IMPLAUSIBLE_SPO2, IMPLAUSIBLE_PULSE
        into = n % self._off_every if self._off_every else -1
        start_off = self._off_every - self._off_for
        if self._off_for and into >= start_off:
            # Finger out for the first three quarters, then back in while the device searches.
            finger_out = into < start_off + self._off_for * 3 // 4
            return Sample(n, None, None, 0.5, False, finger_out, True, 0xFFFF)
        return Sample(n, spo2, pulse, pleth_shape(self._phase), beat, False, False,
                      round(self._pi))

    def _walk(self) -> None:
        step = self._rng.choice((-1.0, 0.0, 0.0, 0.0, 1.0))
        self._spo2 = float(np.clip(self._spo2 + step, *_SPO2_RANGE))
        self._pulse = float(np.clip(self._pulse + self._rng.normal(0.0, 1.2), *_PULSE_RANGE))
        self._pi = float(np.clip(self._pi + self._rng.normal(0.0, 8.0), 150, 600))


def _cms50d(s: Sample) -> tuple[bytes, SentFrame]:
    pleth = 0x40 if s.probe_off else round(8 + 88 * s.shape)  # flat mid-scale when off
    spo2 = cms50d.MISSING_SPO2 if s.spo2 is None else min(s.spo2, 126)
    pulse = cms50d.MISSING_PULSE_RATE if s.pulse_rate is None else min(s.pulse_rate,
                                                                          _CMS_MAX_PULSE)
    data = cms50d.encode_frame(cms50d.LiveFrame(
        signal_strength=0 if s.probe_off else 7, finger_out=s.finger_out, spo2_dropping=False,
        beep=s.beat, pleth=pleth, bar_graph=0 if s.probe_off else round(s.shape * 15),
        probe_error=False, searching=s.searching, pulse_rate=pulse, spo2=spo2))
    return data, _record(s, pleth, spo2, pulse, cms50d.MISSING_SPO2, cms50d.MISSING_PULSE_RATE)


def _cms50d_v46(s: Sample) -> tuple[bytes, SentFrame]:
    pleth = 0x40 if s.probe_off else round(8 + 88 * s.shape)  # vendor: 0x40 when finger out
    spo2 = cms50d_v46.MISSING_SPO2 if s.spo2 is None else min(s.spo2, 126)
    pulse = cms50d_v46.MISSING_PULSE_RATE if s.pulse_rate is None else min(s.pulse_rate,
                                                                              _CMS_MAX_PULSE)
    data = cms50d_v46.encode_frame(cms50d_v46.LiveFrame(
        signal_strength=0 if s.probe_off else 7, searching_too_long=False, low_spo2=False,
        pulse_beep=s.beat, finger_out=s.finger_out, pleth=pleth, searching_pulse=s.searching,
        bar_graph=0 if s.probe_off else round(s.shape * 15),
        perfusion_index_invalid=s.probe_off, pulse_rate=pulse, spo2=spo2,
        perfusion_index=s.perfusion_index))
    return data, _record(s, pleth, spo2, pulse, cms50d_v46.MISSING_SPO2,
                         cms50d_v46.MISSING_PULSE_RATE)


def _nonin(samples: list[Sample]) -> list[tuple[bytes, SentFrame]]:
    """A 25-frame packet: values and probe state are those of its first frame."""
    first = samples[0]
    spo2 = nonin.MISSING_SPO2 if first.spo2 is None else min(first.spo2, 126)
    pulse = nonin.MISSING_HEART_RATE if first.pulse_rate is None else min(first.pulse_rate, 510)
    pleth = [128 if first.probe_off else round(24 + 200 * s.shape) for s in samples]
    packet = nonin.make_packet(pulse, spo2, pleth, perfusion=nonin.Perfusion.NONE
                               if first.probe_off else nonin.Perfusion.GREEN)
    frames = packet.frames
    if first.probe_off:  # out of track, and a sensor alarm while the finger is out
        frames = tuple(nonin.NoninFrame(f.sync, False, False, True, first.finger_out,
                                        f.perfusion, f.pleth, f.data) for f in frames)
    return [(nonin.encode_frame(frame),
             _record(_at_index(first, s.index), frame.pleth, spo2, pulse, nonin.MISSING_SPO2,
                     nonin.MISSING_HEART_RATE))
            for s, frame in zip(samples, frames, strict=True)]


def _at_index(sample: Sample, index: int) -> Sample:
    """``sample`` (its values and probe state) at another frame index."""
    return Sample(index, sample.spo2, sample.pulse_rate, sample.shape, sample.beat,
                  sample.finger_out, sample.searching, sample.perfusion_index)


def _record(s: Sample, pleth: int, spo2: int, pulse: int, missing_spo2: int,
            missing_pulse: int) -> SentFrame:
    return SentFrame(s.index, 0.0, None if spo2 == missing_spo2 else spo2,
                     None if pulse == missing_pulse else pulse, pleth, s.finger_out, s.searching)


def encode(protocol: str, model: VitalsModel) -> Iterator[tuple[bytes, SentFrame]]:
    """The next frame(s) of ``protocol`` from ``model``: one, or a whole Nonin packet."""
    if protocol == "nonin-2":
        yield from _nonin([model.next() for _ in range(nonin.PACKET_FRAMES)])
    elif protocol == "cms50d-v46":
        yield _cms50d_v46(model.next())
    else:
        yield _cms50d(model.next())
