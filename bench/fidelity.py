"""Stethoscope fidelity at the doctor's ear: response, SNR/THD, level drift, mouth-to-ear latency.

    python bench/fidelity.py [--json] [--quick] [--drift-seconds S] [--opus APP:KBPS]
                             [--stages] [--plot docs/stethoscope-response.png]

The whole chain, on this machine: ``station demo --wait-for-doctor`` as a
subprocess whose simulated stethoscope streams a known test signal
(``STATION_STETHOSCOPE_URL=sim://stethoscope?signal=…``, see
devices/audio/test_signals.py) → the station's StethoscopeTrack → its Opus
encoder → RTP over loopback → headless Chromium → the doctor console, which
plays the track in its <audio data-testid="audio-stethoscope">. The bench
injects a capture into the page: an AudioContext at 48 kHz whose
MediaStreamSource on that element's stream feeds an AudioWorklet copying
every sample, no processing (the console's own element is left alone).

One station per signal (a doctor link works once), one browser:

- ``signal=tones``: third-octave tones 20 Hz–2 kHz, 1 s each: gain of each
  band (least-squares sine fit on the middle 60 % of each step, the loudest
  of its sub-windows so a dropout is not read as a dip), flatness =
  largest |gain − gain at 1 kHz|; the absolute gain at 1 kHz is printed too.
- ``signal=tone&freq=100``: SNR (fundamental against everything but its
  harmonics, 20 Hz–20 kHz) and THD (harmonics 2–10) on 1 s Blackman-Harris
  blocks; median of the blocks.
- ``signal=beats&clicks=1``: a fixed heartbeat every second (constant level)
  plus 5 ms 2 kHz clicks centred on each multiple of 500 ms of Unix time.
  Level drift = max − min of the heart's level (below 400 Hz; each 5 s
  window's median beat); latency = the click's arrival at the output (the capture
  context's getOutputTimestamp maps its frames to performance time, hence
  Unix time) minus the multiple of 500 ms it was emitted at.

``--opus APP:KBPS[:mono|stereo]`` patches the station's stethoscope encoder (in the
subprocess only) to compare settings; ``--stages`` also measures the
source and the station's encoder decoded locally (no network, no browser),
to tell which stage loses what. With --json the last line is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and
# bench/devices.py would shadow the ``devices`` package: take the folder off.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import base64
import fractions
import json
import math
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from devices.audio.test_signals import (
    BEAT_PERIOD_S,
    THIRD_OCTAVES_HZ,
    TONE_LEVEL,
    SignalRenderer,
    signal_renderer,
    steady_beat,
)
from station.headless import HeadlessStation

Samples = npt.NDArray[np.float64]
RATE = 48_000
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--allow-loopback-in-peer-connection", "--autoplay-policy=no-user-gesture-required",
]
RPPS = "10001234565"
TIMEOUT = 60.0
STATION = Path(sys.executable).parent / "station"
REFERENCE_HZ = 1000.0
HEART_BAND_HZ = 400.0  # the beats' level is read below this; the clicks live at 2 kHz
CLICK_PERIOD_MS = 500.0
GOALS = {"flatness": 3.0, "snr": 40.0, "thd": 1.0, "drift": 1.0, "latency": 150.0}

# ------------------------------------------------------------------ browser side

# The capture is a probe, not part of the doctor's chain (his <audio> element plays
# the track through its own sink): its context asks for the smallest output buffer
# the device allows, so that the probe's own buffering adds as little as possible to
# the latency it reports ("interactive" meant 10 ms base + 30 ms output here).
CAPTURE_LATENCY_HINT: float | str = 0.0

CAPTURE_JS = """async (latencyHint) => {
  const audio = document.querySelector('[data-testid="audio-stethoscope"]');
  const stream = audio.srcObject;
  const ctx = new AudioContext({ sampleRate: 48000, latencyHint });
  const code = `
    class FidelityCapture extends AudioWorkletProcessor {
      constructor() { super(); this.buf = new Float32Array(128 * 64); this.n = 0; this.at = 0;
                      this.channels = 0; }
      process(inputs) {
        const input = inputs[0];
        if (this.n === 0) this.at = currentFrame;
        if (input && input.length) {
          this.channels = input.length;
          this.buf.set(input[0], this.n);
        } else {
          this.buf.fill(0, this.n, this.n + 128);
        }
        this.n += 128;
        if (this.n === this.buf.length) {
          this.port.postMessage({ at: this.at, data: this.buf, channels: this.channels });
          this.buf = new Float32Array(128 * 64);
          this.n = 0;
        }
        return true;
      }
    }
    registerProcessor("fidelity-capture", FidelityCapture);`;
  const url = URL.createObjectURL(new Blob([code], { type: "application/javascript" }));
  await ctx.audioWorklet.addModule(url);
  const node = new AudioWorkletNode(ctx, "fidelity-capture",
                                    { numberOfInputs: 1, numberOfOutputs: 1,
                                      outputChannelCount: [1] });
  const source = ctx.createMediaStreamSource(stream);
  source.connect(node);
  node.connect(ctx.destination);  // pulls the node; it outputs silence
  const cap = window.__fidelity = { ctx, node, source, chunks: [], next: null, gaps: 0,
                                    channels: 0, firstWall: null };
  node.port.onmessage = (e) => {
    const { at, data, channels } = e.data;
    if (cap.next !== null && at !== cap.next) cap.gaps++;
    cap.next = at + data.length;
    cap.channels = channels;
    cap.chunks.push({ at, data });
  };
  if (ctx.state !== "running") await ctx.resume();
  return { rate: ctx.sampleRate, state: ctx.state, base: ctx.baseLatency,
           tracks: stream.getAudioTracks().length };
}"""

DRAIN_JS = """() => {
  const cap = window.__fidelity;
  const chunks = cap.chunks.splice(0);
  let n = 0;
  for (const c of chunks) n += c.data.length;
  const all = new Float32Array(n);
  let o = 0;
  for (const c of chunks) { all.set(c.data, o); o += c.data.length; }
  const bytes = new Uint8Array(all.buffer);
  let s = "";
  for (let i = 0; i < bytes.length; i += 0x8000)
    s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  const ts = cap.ctx.getOutputTimestamp();
  return { at: chunks.length ? chunks[0].at : null, b64: btoa(s), gaps: cap.gaps,
           channels: cap.channels, ctxTime: ts.contextTime, perfTime: ts.performanceTime,
           origin: performance.timeOrigin, outputLatency: cap.ctx.outputLatency || 0,
           baseLatency: cap.ctx.baseLatency || 0 };
}"""

STOP_JS = """() => { const c = window.__fidelity; if (c) { c.source.disconnect();
  c.node.disconnect(); return c.ctx.close(); } }"""

PLAYING_JS = """() => { const a = document.querySelector('[data-testid="audio-stethoscope"]');
  return !!(a && a.srcObject && a.srcObject.getAudioTracks().length && !a.paused); }"""

# inbound-rtp of the stethoscope track: concealment, jitter buffer, codec
STATS_JS = """async () => {
  const a = document.querySelector('[data-testid="audio-stethoscope"]');
  const track = a.srcObject.getAudioTracks()[0];
  const stats = await window.__console.pc.getStats();
  let found = null, codecs = {};
  stats.forEach((r) => { if (r.type === "codec") codecs[r.id] = r; });
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "audio" && r.trackIdentifier === track.id) {
      const c = codecs[r.codecId] || {};
      found = { samples: r.totalSamplesReceived || 0, concealed: r.concealedSamples || 0,
                inserted: r.insertedSamplesForDeceleration || 0,
                removed: r.removedSamplesForAcceleration || 0,
                jbDelay: r.jitterBufferDelay || 0, jbEmitted: r.jitterBufferEmittedCount || 0,
                jbTarget: r.jitterBufferTargetDelay || 0, lost: r.packetsLost || 0,
                received: r.packetsReceived || 0, codec: (c.mimeType || "") + " " +
                (c.sdpFmtpLine || "") + " ch=" + (c.channels || "?") };
    }
  });
  return found;
}"""


@dataclass
class Capture:
    """What the page recorded: samples at 48 kHz and how its frames map to Unix time."""

    samples: Samples
    first_frame: int
    gaps: int
    channels: int
    wall_offset_ms: float  # Unix ms of context frame 0 at the output (the ear)
    stats: tuple[dict[str, Any] | None, dict[str, Any] | None] = (None, None)
    mapping: list[float] = field(default_factory=list)

    def wall_ms(self, index: int | float) -> float:
        """Unix time (ms) at which sample ``index`` of :attr:`samples` reaches the output."""
        return self.wall_offset_ms + (self.first_frame + index) / RATE * 1000.0


def station_command(stethoscope_url: str, opus: str | None = None) -> list[str]:
    """``station demo --wait-for-doctor`` with that stethoscope (and a patched encoder)."""
    argv = ["demo", "--wait-for-doctor", "--port", "0"]
    env = ["env", f"STATION_STETHOSCOPE_URL={stethoscope_url}"]
    if opus is None:
        return [*env, str(STATION), *argv]
    application, kbps, *layout = opus.split(":")
    return [*env, sys.executable, "-c",
            "import sys, station.call.opus as o; "
            f"o.StethoscopeOpusEncoder.__init__.__defaults__ = ({application!r}, "
            f"{int(float(kbps) * 1000)}, {(layout or ['mono'])[0]!r}); "
            "from station.cli.main import entry; "
            f"sys.argv = ['station', *{argv!r}]; sys.exit(entry())"]


def capture_call(browser: Any, home: Path, stethoscope_url: str, seconds: float,
                 opus: str | None = None, warmup: float = 2.0,
                 say: Callable[[str], None] = lambda _: None) -> Capture:
    """Run a station streaming ``stethoscope_url``, join as the doctor, record ``seconds``."""
    station = HeadlessStation(home, station_command(stethoscope_url, opus), timeout=TIMEOUT)
    context = None
    try:
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="fr-FR",
                                      timezone_id="Europe/Paris", bypass_csp=True,
                                      ignore_https_errors=True)  # the station's own certificate
        page = context.new_page()
        page.set_default_timeout(TIMEOUT * 1000)
        page.goto(station.link)
        page.wait_for_function("() => window.__console !== undefined")
        page.get_by_test_id("join-name").fill("Dr Jeanne Lefèvre")
        page.get_by_test_id("join-rpps").fill(RPPS)
        page.get_by_test_id("join-submit").click()
        page.wait_for_function(PLAYING_JS, polling=100)
        info = page.evaluate(CAPTURE_JS, CAPTURE_LATENCY_HINT)
        if info["rate"] != RATE:
            raise RuntimeError(f"capture context runs at {info['rate']} Hz, not {RATE}")
        time.sleep(warmup)
        page.evaluate(DRAIN_JS)  # drop the warm-up
        before = page.evaluate(STATS_JS)
        say(f"    recording {seconds:g} s of {stethoscope_url}"
            + (f" (opus {opus})" if opus else ""))
        parts: list[npt.NDArray[np.float32]] = []
        first: int | None = None
        drained: dict[str, Any] = {}
        offsets: list[float] = []
        end = time.monotonic() + seconds
        while (now := time.monotonic()) < end:
            time.sleep(min(2.0, end - now))
            drained = page.evaluate(DRAIN_JS)
            if drained["at"] is None:
                continue
            if first is None:
                first = int(drained["at"])
            parts.append(np.frombuffer(base64.b64decode(drained["b64"]), dtype=np.float32))
            if drained["perfTime"] > 0:
                offsets.append(drained["origin"] + drained["perfTime"]
                               - drained["ctxTime"] * 1000.0)
        after = page.evaluate(STATS_JS)
        page.evaluate(STOP_JS)
    finally:
        if context is not None:
            context.close()
        station.stop()
    if first is None or not offsets:
        raise RuntimeError("nothing captured (or no output timestamp) from the console")
    samples = np.concatenate(parts).astype(np.float64)
    return Capture(samples, first, int(drained["gaps"]), int(drained["channels"]),
                   float(np.median(offsets)), (before, after), offsets)


# ------------------------------------------------------------------ analysis

def sine_amplitude(x: Samples, freq: float) -> float:
    """Peak amplitude of the ``freq`` component of ``x`` (least squares with a DC term)."""
    t = np.arange(len(x)) / RATE
    basis = np.column_stack([np.sin(2 * np.pi * freq * t), np.cos(2 * np.pi * freq * t),
                             np.ones(len(x))])
    coef, *_ = np.linalg.lstsq(basis, x, rcond=None)
    return float(math.hypot(coef[0], coef[1]))


def stepped_response(x: Samples, step_s: float, freqs: Sequence[float] = THIRD_OCTAVES_HZ,
                     level: float = TONE_LEVEL, best: bool = False) -> dict[float, float]:
    """Gain (dB against ``level``) of each tone of a :class:`SteppedTones` recording.

    Windows of 0.4 s every 0.05 s are labelled with their strongest candidate
    tone; each run of one label is a step, measured on its middle 60 %, as
    the loudest of its sub-windows (a third of it, at least two periods), so
    that a dropout does not pass for a dip of the response (the median over
    the steps found for a tone, or with ``best`` the highest: a dropout only
    ever lowers a step).
    """
    win, hop = round(0.4 * RATE), round(0.05 * RATE)
    window = np.hanning(win)
    t = np.arange(win) / RATE
    kernels = np.exp(-2j * np.pi * np.outer(freqs, t)) * window
    starts = range(0, len(x) - win, hop)
    labels = [int(np.argmax(np.abs(kernels @ x[s:s + win]))) for s in starts]
    energy = [float(np.sqrt(np.mean(x[s:s + win] ** 2))) for s in starts]
    floor = 0.05 * level
    runs: list[tuple[int, int, int]] = []  # label, first window, last window
    for i, label in enumerate(labels):
        if energy[i] < floor:
            continue
        if runs and runs[-1][0] == label and runs[-1][2] == i - 1:
            runs[-1] = (label, runs[-1][1], i)
        else:
            runs.append((label, i, i))
    step = step_s * RATE
    gains: dict[float, list[float]] = {}
    for label, first, last in runs:
        lo, hi = first * hop, last * hop + win
        if hi - lo < 0.8 * step:  # a partial step (the recording's edges) or a straddle
            continue
        centre, half = (lo + hi) // 2, round(0.3 * step)
        segment = x[max(0, centre - half):centre + half]
        # The loudest of a few sub-windows: a dropout (concealment) lowers the one it
        # hits; it is an impairment counted apart, not the chain's response.
        sub = min(len(segment), max(len(segment) // 3, round(2 * RATE / freqs[label])))
        amplitude = max(sine_amplitude(segment[s:s + sub], freqs[label])
                        for s in range(0, len(segment) - sub + 1, max(1, sub // 2)))
        gains.setdefault(freqs[label], []).append(
            20 * math.log10(max(amplitude, 1e-9) / level))
    combine = max if best else np.median
    return {f: float(combine(gains[f])) for f in freqs if f in gains}


def flatness_db(gains: dict[float, float], freqs: Sequence[float] = THIRD_OCTAVES_HZ) -> float:
    """Largest |gain − gain at 1 kHz| over ``freqs`` (inf if a band is missing)."""
    if any(f not in gains for f in freqs) or REFERENCE_HZ not in gains:
        return math.inf
    return max(abs(gains[f] - gains[REFERENCE_HZ]) for f in freqs)


def _blackman_harris(n: int) -> Samples:
    k = 2 * np.pi * np.arange(n) / n
    return 0.35875 - 0.48829 * np.cos(k) + 0.14128 * np.cos(2 * k) - 0.01168 * np.cos(3 * k)


def snr_thd(x: Samples, freq: float, block_s: float = 1.0,
            high_hz: float = 20_000.0) -> tuple[float, float]:
    """(SNR dB, THD %) of a ``freq`` tone: medians over ``block_s`` blocks (see
    :func:`snr_thd_blocks`)."""
    snrs, thds = snr_thd_blocks(x, freq, block_s, high_hz)
    return float(np.median(snrs)), float(np.median(thds))


def snr_thd_blocks(x: Samples, freq: float, block_s: float = 1.0,
                   high_hz: float = 20_000.0) -> tuple[list[float], list[float]]:
    """SNR (dB) and THD (%) of a ``freq`` tone in each ``block_s`` block.

    Power is summed over ±4 bins (the Blackman-Harris main lobe) around the
    fundamental and harmonics 2–10; noise is every other bin 20 Hz..``high_hz``.
    """
    n = round(block_s * RATE)
    window = _blackman_harris(n)
    freqs = np.fft.rfftfreq(n, 1 / RATE)
    bin_hz = RATE / n
    snrs, thds = [], []
    for start in range(0, len(x) - n + 1, n):
        power = np.abs(np.fft.rfft(x[start:start + n] * window)) ** 2
        near = np.zeros(len(power), dtype=bool)
        harmonics = 0.0
        fundamental = 0.0
        for k in range(1, 11):
            zone = np.abs(freqs - k * freq) <= 4 * bin_hz
            near |= zone
            if k == 1:
                fundamental = float(power[zone].sum())
            elif k * freq < high_hz:
                harmonics += float(power[zone].sum())
        noise_bins = (freqs >= 20) & (freqs <= high_hz) & ~near
        noise = float(power[noise_bins].sum())
        if fundamental <= 0:  # a block of silence: a dropout longer than the block
            snrs.append(-math.inf)
            thds.append(math.inf)
            continue
        snrs.append(10 * math.log10(fundamental / max(noise, 1e-30)))
        thds.append(100 * math.sqrt(harmonics / fundamental))
    return snrs, thds


def lowpass(x: Samples, corner_hz: float) -> Samples:
    """Zero-phase low-pass by FFT (a cosine roll-off over one octave above ``corner_hz``)."""
    spectrum = np.fft.rfft(x)
    freqs = np.fft.rfftfreq(len(x), 1 / RATE)
    ramp = np.clip((2 * corner_hz - freqs) / corner_hz, 0.0, 1.0)
    return np.fft.irfft(spectrum * np.sin(0.5 * np.pi * ramp) ** 2, len(x))


def beat_levels(x: Samples) -> list[float]:
    """Level (dB re full scale RMS, below 400 Hz) of each heartbeat: S1 to the end of S2.

    Beats are found at the heart band's loudest point (S1), at least 0.6 s apart.
    """
    heart = lowpass(x, HEART_BAND_HZ)
    power = np.convolve(heart**2, np.ones(480) / 480, mode="same")  # 10 ms energy
    levels: list[float] = []
    at = 0
    span = round(BEAT_PERIOD_S * RATE)
    while at + span <= len(heart):
        peak = at + int(np.argmax(power[at:at + span]))
        lo, hi = peak - round(0.05 * RATE), peak + round(0.5 * RATE)
        if lo >= 0 and hi <= len(heart):
            levels.append(10 * math.log10(max(float(np.mean(heart[lo:hi] ** 2)), 1e-20)))
        at = max(peak + round(0.6 * RATE), at + 1)
    return levels


def heart_levels(x: Samples, window_s: float = 5.0) -> list[float]:
    """The heart's level per ``window_s`` window: the median of its beats' levels (a beat
    hit by a dropout is an outlier, not a drift; dropouts are counted apart)."""
    levels = beat_levels(x)
    per = max(1, round(window_s / BEAT_PERIOD_S))
    return [float(np.median(levels[i:i + per])) for i in range(0, len(levels) - per + 1, per)]


def source_heart_level() -> float:
    """The level :func:`beat_levels` reads on the beats as sent."""
    return float(np.median(beat_levels(np.tile(steady_beat(), 5))))


def click_peaks(x: Samples) -> list[int]:
    """Sample index of each click: envelope peak of the 1.2–3 kHz band, one per 250 ms."""
    spectrum = np.fft.fft(x)
    freqs = np.fft.fftfreq(len(x), 1 / RATE)
    band = (freqs > 1200) & (freqs < 3000)  # positive side only: the analytic signal
    envelope = np.abs(np.fft.ifft(np.where(band, 2 * spectrum, 0)))
    threshold = 0.3 * float(np.percentile(envelope, 99.9))
    peaks: list[int] = []
    above = np.flatnonzero(envelope > threshold)
    if not len(above):
        return peaks
    splits = np.flatnonzero(np.diff(above) > round(0.25 * RATE)) + 1
    for group in np.split(above, splits):
        lo, hi = int(group[0]), int(group[-1]) + 1
        peaks.append(lo + int(np.argmax(envelope[lo:hi])))
    return peaks


def click_latencies(capture: Capture) -> list[float]:
    """Mouth-to-ear latency (ms) of every click: output time − the 500 ms multiple it marks."""
    return [capture.wall_ms(p) % CLICK_PERIOD_MS for p in click_peaks(capture.samples)]


def percentile(values: Sequence[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nan when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


# ------------------------------------------------------------------ local stages

def render(signal: SignalRenderer, seconds: float) -> Samples:
    """``seconds`` of ``signal`` as the simulator delivers it (int16, back to float)."""
    blocks = [signal.render(960) for _ in range(round(seconds * RATE / 960))]
    return np.clip(np.rint(np.concatenate(blocks) * 32767), -32768, 32767) / 32767.0


def encoder_options(opus: str | None) -> dict[str, Any]:
    """``APP:KBPS[:LAYOUT]`` as StethoscopeOpusEncoder arguments (None: as shipped)."""
    if opus is None:
        return {}
    application, kbps, *layout = opus.split(":")
    options: dict[str, Any] = {"application": application, "bit_rate": int(float(kbps) * 1000)}
    if layout:
        options["layout"] = layout[0]
    return options


def local_opus(x: Samples, opus: str | None = None) -> Samples:
    """``x`` through the station's stethoscope encoder and aiortc's decoder (left channel)."""
    from aiortc.codecs.opus import OpusDecoder  # noqa: PLC0415 - aiortc is heavy
    from aiortc.jitterbuffer import JitterFrame  # noqa: PLC0415
    from av import AudioFrame  # noqa: PLC0415

    from station.call.opus import StethoscopeOpusEncoder  # noqa: PLC0415

    encoder = StethoscopeOpusEncoder(**encoder_options(opus))
    decoder = OpusDecoder()
    pcm = np.rint(x * 32767).astype(np.int16)
    out: list[npt.NDArray[np.int16]] = []
    for start in range(0, len(pcm) - 959, 960):
        frame = AudioFrame.from_ndarray(pcm[start:start + 960].reshape(1, -1), format="s16",
                                        layout="mono")
        frame.sample_rate, frame.pts = RATE, start
        frame.time_base = fractions.Fraction(1, RATE)
        payloads, timestamp = encoder.encode(frame)
        for payload in payloads:
            for decoded in decoder.decode(JitterFrame(data=payload, timestamp=timestamp)):
                out.append(decoded.to_ndarray().reshape(-1, 2)[:, 0])  # type: ignore[attr-defined]
    return np.concatenate(out).astype(np.float64) / 32768.0


def local_stage(opus: str | None, encode: bool = True, step_s: float = 1.0) -> dict[str, Any]:
    """Response and 100 Hz SNR/THD of the source (``encode`` False), or of the station's
    encoder (``opus`` settings, None as shipped) decoded locally."""
    tones = render(signal_renderer("tones", step_s=step_s) or _missing(), 23 * step_s)
    tone = render(signal_renderer("tone", freq_hz=100.0) or _missing(), 6.0)
    if encode:
        tones, tone = local_opus(tones, opus), local_opus(tone, opus)
    gains = stepped_response(tones[RATE:], step_s)
    snr, thd = snr_thd(tone[RATE:], 100.0)
    return {"gains": gains, "flatness": flatness_db(gains), "snr": snr, "thd": thd}


def _missing() -> SignalRenderer:
    raise RuntimeError("no such test signal")


# ------------------------------------------------------------------ report

def plot_response(path: Path, curves: dict[str, dict[float, float]]) -> None:
    """The response per third-octave band, one curve per stage, ±3 dB goal shaded."""
    import matplotlib  # noqa: PLC0415 - only for the plot

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    fig, ax = plt.subplots(figsize=(8, 4.2), dpi=110)
    ax.axhspan(-3, 3, color="#d8eed8", label="goal ±3 dB (re 1 kHz)")
    markers = iter("os^dv")
    for label, gains in curves.items():
        freqs = sorted(gains)
        ref = gains.get(REFERENCE_HZ, 0.0)
        ax.semilogx(freqs, [gains[f] - ref for f in freqs], marker=next(markers, "o"),
                    label=label)
    ax.set_xlim(16, 2500)
    ax.set_ylim(-12, 6)
    ax.set_xticks([20, 31.5, 50, 80, 125, 200, 315, 500, 800, 1250, 2000])
    ax.set_xticklabels(["20", "31.5", "50", "80", "125", "200", "315", "500", "800", "1.25k",
                        "2k"])
    ax.set_xlabel("Hz (third-octave centres)")
    ax.set_ylabel("gain re 1 kHz, dB")
    ax.set_title("Stethoscope → station → Opus → loopback → Chromium console")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def verdict(ok: bool) -> str:
    """How a figure reads next to its goal."""
    return "ok" if ok else "NOT MET"


def main() -> None:
    """Print the table, and the JSON line with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="0.5 s tone steps, 5 s of 100 Hz, 20 s of beats")
    parser.add_argument("--drift-seconds", type=float, default=None,
                        help="beats + clicks recording (default 60, --quick 20)")
    parser.add_argument("--opus", default=None, metavar="APP:KBPS[:LAYOUT]",
                        help="patch the station's stethoscope encoder, e.g. voip:96:stereo")
    parser.add_argument("--stages", action="store_true",
                        help="also measure the source and the encoder decoded locally")
    parser.add_argument("--plot", type=Path, default=None, help="write the response PNG here")
    args = parser.parse_args()
    step = 0.5 if args.quick else 1.0
    tone_s = 5.0 if args.quick else 10.0
    drift_s = args.drift_seconds or (20.0 if args.quick else 60.0)
    cycle = step * len(THIRD_OCTAVES_HZ)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional dependency

    with tempfile.TemporaryDirectory(prefix="bench-fidelity-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            tones = capture_call(browser, Path(tmp) / "tones",
                                 f"sim://stethoscope?signal=tones&step={step:g}",
                                 cycle + 2 * step + 1, args.opus, say=say)
            tone = capture_call(browser, Path(tmp) / "tone",
                                "sim://stethoscope?signal=tone&freq=100", tone_s, args.opus,
                                say=say)
            beats = capture_call(browser, Path(tmp) / "beats",
                                 "sim://stethoscope?signal=beats&clicks=1", drift_s, args.opus,
                                 say=say)
        finally:
            browser.close()

    gains = stepped_response(tones.samples, step)
    flat = flatness_db(gains)
    snr, thd = snr_thd(tone.samples, 100.0)
    block_snrs, block_thds = snr_thd_blocks(tone.samples, 100.0)
    snr_2k, _ = snr_thd(tone.samples, 100.0, high_hz=2000.0)
    levels = heart_levels(beats.samples)
    drift = max(levels) - min(levels) if levels else math.inf
    latencies = click_latencies(beats)
    p95 = percentile(latencies, 0.95)

    opus = args.opus or "as shipped"
    print(f"stethoscope at the doctor's ear: station + headless Chromium on this machine "
          f"({os.cpu_count()} cores), Opus {opus}")
    print(f"  frequency response (tones {step:g} s each), gain dB: absolute / re 1 kHz")
    ref = gains.get(REFERENCE_HZ, math.nan)
    for f in THIRD_OCTAVES_HZ:
        g = gains.get(f, math.nan)
        print(f"    {f:>7g} Hz {g:>+8.2f} {g - ref:>+8.2f}")
    print(f"  {'':<44}{'measured':>10}{'goal':>10}")
    print(f"  {'flatness 20 Hz-2 kHz, max |dB re 1 kHz|':<44}{flat:>10.2f}{'<= 3':>10}"
          f"  {verdict(flat <= GOALS['flatness'])}")
    print(f"  {'SNR at 100 Hz (20 Hz-20 kHz), dB':<44}{snr:>10.1f}{'>= 40':>10}"
          f"  {verdict(snr >= GOALS['snr'])}")
    print(f"  {'  (noise counted 20 Hz-2 kHz only), dB':<44}{snr_2k:>10.1f}")
    print(f"  {'  per 1 s block: worst / best, dB':<44}{min(block_snrs):>10.1f}"
          f"{max(block_snrs):>10.1f}")
    print(f"  {'THD at 100 Hz (harmonics 2-10), %':<44}{thd:>10.3f}{'<= 1':>10}"
          f"  {verdict(thd <= GOALS['thd'])}")
    print(f"  {'  per 1 s block: worst / best, %':<44}{max(block_thds):>10.3f}"
          f"{min(block_thds):>10.3f}")
    print(f"  {f'heart level drift over {drift_s:g} s (5 s windows), dB':<44}{drift:>10.2f}"
          f"{'<= 1':>10}  {verdict(drift <= GOALS['drift'])}")
    print(f"  {'mouth-to-ear latency p95, ms':<44}{p95:>10.1f}{'<= 150':>10}"
          f"  {verdict(p95 <= GOALS['latency'])}")
    if latencies:
        print(f"    latency p50 {percentile(latencies, 0.5):.1f} ms, max {max(latencies):.1f} ms,"
              f" {len(latencies)} clicks")
    print(f"    heart level {np.mean(levels):.2f} dBFS at the ear, {source_heart_level():.2f}"
          f" dBFS sent; windows: " + " ".join(f"{v:.2f}" for v in levels))
    for name, cap in (("tones", tones), ("tone", tone), ("beats", beats)):
        before, after = cap.stats
        jb = conceal = ""
        if before and after:
            emitted = after["jbEmitted"] - before["jbEmitted"]
            delay = after["jbDelay"] - before["jbDelay"]
            samples = max(after["samples"] - before["samples"], 1)
            jb = f"jitter buffer {1000 * delay / max(emitted, 1):.1f} ms"
            conceal = (f"concealed {100 * (after['concealed'] - before['concealed']) / samples:.2f}"
                       f" %, accel/decel {after['removed'] - before['removed']}/"
                       f"{after['inserted'] - before['inserted']} samples, lost "
                       f"{after['lost'] - before['lost']} packets, {after['codec']}")
        print(f"    {name}: {len(cap.samples) / RATE:.1f} s captured, {cap.gaps} gaps, "
              f"{cap.channels} channel(s) into WebAudio; {jb}; {conceal}")
    curves = {"end to end (browser)": gains}
    stages: dict[str, dict[str, Any]] = {}
    if args.stages:
        stages["source"] = local_stage(None, encode=False)
        stages["station encoder, local decode"] = local_stage(args.opus)
        for label, stage in stages.items():
            print(f"  stage {label}: flatness {stage['flatness']:.2f} dB, SNR {stage['snr']:.1f}"
                  f" dB, THD {stage['thd']:.3f} %, 20 Hz {stage['gains'].get(20.0, math.nan):+.2f}"
                  f" dB, 2 kHz {stage['gains'].get(2000.0, math.nan):+.2f} dB")
            curves = {f"{label}": stage["gains"], **curves}
    if args.plot:
        plot_response(args.plot, curves)
        print(f"  plot: {args.plot}")
    if args.json:
        print(json.dumps({
            "steth_flatness_db": round(flat, 2),
            "steth_snr_db": round(snr, 1),
            "steth_thd_pct": round(thd, 3),
            "steth_level_drift_db": round(drift, 2),
            "steth_latency_p95_ms": round(p95, 1),
        }))


if __name__ == "__main__":
    main()
