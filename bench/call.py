"""Live call figures: setup time, vital latency, glass-to-glass video latency, station CPU.

    python bench/call.py [--json] [--quick] [--runs N] [--minutes M] [--video-size WxH]

Everything runs on this machine: ``station demo --wait-for-doctor`` as a
subprocess (simulated devices) and headless Chromium as the doctor, driven
by Playwright as in tests/e2e/test_doctor_call.py. One station per setup run
(a doctor link works once); the last run's call goes on for the long
measurement.

- setup: page navigation start -> first decoded frame of the room video
  (inbound-rtp ``framesDecoded`` > 0, polled in the page every 10 ms),
  including the join form filled by the bench.
- vital latency: the station holding the SpO2 measurement (its ``stored``
  time: decoded and durably stored, the instant it is sent) -> the SpO2 tile
  changing in the page (a MutationObserver stamping ``performance.timeOrigin
  + performance.now()``). The device's own time is not used: a BLE spot-check
  carries whole seconds. The simulator -> decoded part is bench/devices.py's
  device latency (p99 0.5 ms over the virtual BLE link, 17.6 ms for a CMS50D+
  whose driver waits for a confirming frame), to add for the whole path.
- glass-to-glass: each room video frame the page presents is drawn to a
  canvas and the simulator's machine-readable clock
  (devices.camera.simulator.read_machine_clock, ported to JS below) is read
  back and compared with ``Date.now()``. Drift is the p95 of the last minute
  minus the p95 of the first minute (--quick: 20 s windows).
- station CPU: utime + stime of the station process over the call window,
  in percent of one core.

``--video-size`` overrides the size the station sends (its
``station.runtime.VIDEO_SIZE``, patched in the subprocess only); by default
the station runs as shipped. With --json the last line is one JSON object.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and
# bench/devices.py would shadow the ``devices`` package: take the folder off.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import json
import os
import statistics
import tempfile
import time
from datetime import datetime
from typing import Any

from devices.camera.frame import VIDEO_WIDTH
from devices.camera.simulator import (
    MACHINE_CLOCK_BLOCK,
    MACHINE_CLOCK_LINES,
    MACHINE_CLOCK_MARGIN,
    MACHINE_CLOCK_PER_LINE,
)
from station.demo_doctor import CHROMIUM, CHROMIUM_ARGS, DEMO_RPPS
from station.headless import HeadlessStation

RPPS = DEMO_RPPS
TIMEOUT = 60.0
STATION = Path(sys.executable).parent / "station"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Resolves window.__bench_first_frame (ms since navigation start) at the first decoded
# video frame of any inbound video stream.
FIRST_FRAME_JS = """() => {
  window.__bench_first_frame = null;
  const poll = async () => {
    const c = window.__console;
    if (c && c.pc) {
      try {
        const stats = await c.pc.getStats();
        let decoded = 0;
        stats.forEach((r) => {
          if (r.type === "inbound-rtp" && r.kind === "video") decoded += r.framesDecoded || 0;
        });
        if (decoded > 0) { window.__bench_first_frame = performance.now(); return; }
      } catch (e) { /* pc replaced or closed: try again */ }
    }
    setTimeout(poll, 10);
  };
  poll();
}"""

VITALS_JS = """() => {
  window.__bench_vitals = [];
  const tile = document.querySelector('[data-testid="vital-spo2"]');
  let last = null;
  new MutationObserver(() => {
    const at = performance.timeOrigin + performance.now();
    const m = window.__console.state.vitals && window.__console.state.vitals.spo2;
    const stamp = m && (m.stored || m.time);
    if (!m || stamp === last) return;
    last = stamp;
    window.__bench_vitals.push([at, stamp, m.value, m.device || ""]);
  }).observe(tile, { attributes: true, childList: true, subtree: true, characterData: true });
}"""

# JS port of devices.camera.simulator.read_machine_clock, on the bottom-left corner of
# the room video, once per presented frame (requestVideoFrameCallback).
GLASS_JS = """([BLOCK, PER_LINE, LINES, MARGIN, REF_WIDTH]) => {
  const GUARD_START = [1, 0, 1, 0], GUARD_END = [0, 1, 1, 0];
  const crc8 = (bytes) => {
    let crc = 0;
    for (const b of bytes) {
      crc ^= b;
      for (let i = 0; i < 8; i++) crc = crc & 0x80 ? ((crc << 1) ^ 0x07) & 0xff : (crc << 1) & 0xff;
    }
    return crc;
  };
  const video = document.querySelector('[data-testid="video-room"]');
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d", { willReadFrequently: true });
  const out = window.__bench_glass = { samples: [], failed: 0, frames: 0, size: null, mode: "" };
  const decode = () => {
    const W = video.videoWidth, H = video.videoHeight;
    if (!W || !H) return null;
    const scale = W / REF_WIDTH, block = BLOCK * scale;
    const top = H - (MARGIN + LINES * BLOCK) * scale, left = MARGIN * scale;
    const sx = Math.max(0, Math.floor(left - 2)), sy = Math.max(0, Math.floor(top - 2));
    const sw = Math.min(W - sx, Math.ceil(PER_LINE * block + 4));
    const sh = Math.min(H - sy, Math.ceil(LINES * block + 4));
    if (canvas.width !== sw || canvas.height !== sh) { canvas.width = sw; canvas.height = sh; }
    ctx.drawImage(video, sx, sy, sw, sh, 0, 0, sw, sh);
    const px = ctx.getImageData(0, 0, sw, sh).data;
    out.size = [W, H];
    const levels = [];
    const half = Math.max(block / 4, 0.5);
    for (let i = 0; i < LINES * PER_LINE; i++) {
      const line = Math.floor(i / PER_LINE), col = i % PER_LINE;
      const cy = top + (line + 0.5) * block - sy, cx = left + (col + 0.5) * block - sx;
      const y0 = Math.round(cy - half), x0 = Math.round(cx - half);
      const y1 = Math.max(Math.round(cy + half), y0 + 1);
      const x1 = Math.max(Math.round(cx + half), x0 + 1);
      if (y0 < 0 || x0 < 0 || y1 > sh || x1 > sw) return null;
      let sum = 0, n = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) {
        const k = (y * sw + x) * 4;
        sum += (px[k] + px[k + 1] + px[k + 2]) / 3; n++;
      }
      levels.push(sum / n);
    }
    const guards = [...GUARD_START, ...GUARD_END];
    const gl = [...levels.slice(0, 4), ...levels.slice(-4)];
    const white = gl.filter((_, i) => guards[i]), black = gl.filter((_, i) => !guards[i]);
    if (Math.min(...white) - Math.max(...black) < 40) return null;
    const threshold = (Math.min(...white) + Math.max(...black)) / 2;
    const bits = levels.map((v) => (v > threshold ? 1 : 0));
    if (bits.slice(0, 4).join("") !== GUARD_START.join("")) return null;
    if (bits.slice(-4).join("") !== GUARD_END.join("")) return null;
    let value = 0, crc = 0;
    for (const b of bits.slice(4, 36)) value = value * 2 + b;
    for (const b of bits.slice(36, 44)) crc = crc * 2 + b;
    const bytes = [(value >>> 24) & 0xff, (value >>> 16) & 0xff, (value >>> 8) & 0xff,
                   value & 0xff];
    return crc8(bytes) === crc ? value : null;
  };
  let lastStamp = null;
  const onFrame = () => {
    const now = Date.now();
    out.frames++;
    const stamp = decode();
    if (stamp === null) { out.failed++; return; }
    if (stamp === lastStamp) return;  // the same picture again (timer mode)
    lastStamp = stamp;
    let d = (now % 4294967296) - stamp;
    if (d < -2147483648) d += 4294967296;
    if (d > 2147483648) d -= 4294967296;
    out.samples.push([now, d]);
  };
  if ("requestVideoFrameCallback" in HTMLVideoElement.prototype) {
    out.mode = "requestVideoFrameCallback";
    const loop = () => { onFrame(); video.requestVideoFrameCallback(loop); };
    video.requestVideoFrameCallback(loop);
  } else {
    out.mode = "timer 60 Hz";
    setInterval(onFrame, 1000 / 60);
  }
}"""

DRAIN_JS = """() => {
  const g = window.__bench_glass, v = window.__bench_vitals;
  const result = { glass: g.samples, failed: g.failed, frames: g.frames, size: g.size,
                   mode: g.mode, vitals: v };
  g.samples = []; window.__bench_vitals = [];
  return result;
}"""

STATS_JS = """async () => {
  const video = document.querySelector('[data-testid="video-room"]');
  const track = video && video.srcObject && video.srcObject.getVideoTracks()[0];
  const stats = await window.__console.pc.getStats();
  let found = null;
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === "video" && track && r.trackIdentifier === track.id)
      found = { decoded: r.framesDecoded || 0, dropped: r.framesDropped || 0,
                fps: r.framesPerSecond || 0, width: r.frameWidth || 0, height: r.frameHeight || 0,
                jitterBufferDelay: r.jitterBufferDelay || 0,
                jitterBufferEmitted: r.jitterBufferEmittedCount || 0,
                decodeTime: r.totalDecodeTime || 0 };
  });
  return found;
}"""


class Station(HeadlessStation):
    """The headless station, optionally patched to send another video size."""

    def __init__(self, home: Path, video_size: tuple[int, int] | None) -> None:
        argv = ["demo", "--wait-for-doctor", "--port", "0"]
        command = [str(STATION), *argv]
        if video_size is not None:
            command = [sys.executable, "-c",
                       "import sys, station.runtime as r; "
                       f"r.VIDEO_SIZE = {tuple(video_size)!r}; "
                       "from station.cli.main import entry; "
                       f"sys.argv = ['station', *{argv!r}]; sys.exit(entry())"]
        super().__init__(home, command, timeout=TIMEOUT)

    def cpu_seconds(self) -> float:
        """utime + stime of the station process so far (all its threads)."""
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLK_TCK



def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie (nan when empty)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def open_call(browser: Any, station: Station) -> tuple[Any, Any, float]:
    """Open the link, join; (context, page, seconds from navigation start to a decoded frame)."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="fr-FR",
                                  timezone_id="Europe/Paris")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT * 1000)
    page.goto(station.link)
    page.wait_for_function("() => window.__console !== undefined")
    page.evaluate(FIRST_FRAME_JS)
    page.get_by_test_id("join-name").fill("Dr Jeanne Lefèvre")
    page.get_by_test_id("join-rpps").fill(RPPS)
    page.get_by_test_id("join-submit").click()
    page.wait_for_function("() => window.__bench_first_frame !== null", polling=50)
    return context, page, float(page.evaluate("window.__bench_first_frame")) / 1000


def measure_call(page: Any, station: Station, seconds: float) -> dict[str, Any]:
    """Glass-to-glass and vital samples and station CPU over ``seconds`` of the call."""
    page.wait_for_function(
        "(() => { const v = document.querySelector('[data-testid=\"video-room\"]');"
        " return v && v.videoWidth > 0; })()")
    page.evaluate(VITALS_JS)
    page.evaluate(GLASS_JS, [MACHINE_CLOCK_BLOCK, MACHINE_CLOCK_PER_LINE, MACHINE_CLOCK_LINES,
                             MACHINE_CLOCK_MARGIN, VIDEO_WIDTH])
    stats_before = page.evaluate(STATS_JS)
    cpu_before, wall_before = station.cpu_seconds(), time.monotonic()
    glass: list[list[float]] = []
    vitals: list[list[Any]] = []
    failed = frames = 0
    drained: dict[str, Any] = {}
    end = wall_before + seconds
    while (now := time.monotonic()) < end:
        time.sleep(min(5.0, end - now))
        drained = page.evaluate(DRAIN_JS)
        glass += drained["glass"]
        vitals += drained["vitals"]
        failed, frames = drained["failed"], drained["frames"]
    cpu = (station.cpu_seconds() - cpu_before) / (time.monotonic() - wall_before) * 100
    stats_after = page.evaluate(STATS_JS)
    return {"glass": glass, "vitals": vitals, "failed": failed, "frames": frames,
            "size": drained.get("size"), "mode": drained.get("mode"), "cpu_pct": cpu,
            "stats": (stats_before, stats_after)}


def vital_latencies(samples: list[list[Any]]) -> dict[str, list[float]]:
    """Per device: DOM update time minus the measurement's own time, in ms."""
    by_device: dict[str, list[float]] = {}
    for at, when, _value, device in samples:
        measured = datetime.fromisoformat(str(when)).timestamp() * 1000
        by_device.setdefault(device or "?", []).append(at - measured)
    return by_device


def main() -> None:
    """Print the table, and the JSON line with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true",
                        help="3 setup runs and a 1-minute call (20 s windows for drift)")
    parser.add_argument("--runs", type=int, help="setup runs (default 5, --quick 3)")
    parser.add_argument("--minutes", type=float, help="call length (default 10, --quick 1)")
    parser.add_argument("--video-size", default="",
                        help="WxH the station sends, e.g. 1280x720 (default: as shipped)")
    args = parser.parse_args()
    runs = args.runs or (3 if args.quick else 5)
    minutes = args.minutes or (1.0 if args.quick else 10.0)
    seconds = minutes * 60
    window = min(60.0, seconds / 3)
    size = tuple(int(x) for x in args.video_size.lower().split("x")) if args.video_size else None
    video_size = (size[0], size[1]) if size else None

    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional dependency

    setups: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-call-") as tmp, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for run in range(runs):
                station = Station(Path(tmp) / f"run{run}", video_size)
                context = None
                try:
                    context, page, setup = open_call(browser, station)
                    setups.append(setup)
                    print(f"  setup run {run + 1}/{runs}: {setup:.3f} s", file=sys.stderr)
                    if run == runs - 1:
                        print(f"  measuring the call for {minutes:g} min...", file=sys.stderr)
                        call = measure_call(page, station, seconds)
                finally:
                    if context is not None:
                        context.close()
                    code = station.stop()
                    if code != 0:
                        print(f"  station exited with {code}:\n" + "\n".join(station.lines[-20:]),
                              file=sys.stderr)
        finally:
            browser.close()

    glass = call["glass"]
    latencies = [d for _, d in glass]
    start = glass[0][0] if glass else 0.0
    stop = glass[-1][0] if glass else 0.0
    first = [d for t, d in glass if t - start <= window * 1000]
    last = [d for t, d in glass if stop - t <= window * 1000]
    drift = percentile(last, .95) - percentile(first, .95)
    vitals = vital_latencies(call["vitals"])
    all_vitals = [v for values in vitals.values() for v in values]
    before, after = call["stats"]
    decoded = dropped = 0
    if before and after:
        decoded = after["decoded"] - before["decoded"]
        dropped = after["dropped"] - before["dropped"]
    buffered = (1000 * after["jitterBufferDelay"] / after["jitterBufferEmitted"]
                if after and after["jitterBufferEmitted"] else float("nan"))
    sent = f"{size[0]}x{size[1]} (patched)" if size else "as shipped"

    print(f"live call, station + headless Chromium on this machine ({os.cpu_count()} cores),"
          f" station video size {sent}")
    print(f"  {'':<40}{'p50':>10}{'p95':>10}{'max':>10}{'samples':>9}")
    print(f"  {'setup: navigation -> 1st frame, s':<40}{statistics.median(setups):>10.3f}"
          f"{percentile(setups, .95):>10.3f}{max(setups):>10.3f}{len(setups):>9}")
    for device, values in sorted(vitals.items()):
        label = f"SpO2 time -> tile, ms ({device.removeprefix('sim://').split('?')[0]})"
        print(f"  {label:<40}{statistics.median(values):>10.1f}"
              f"{percentile(values, .95):>10.1f}{max(values):>10.1f}{len(values):>9}")
    if latencies:
        print(f"  {'glass-to-glass, ms':<40}{statistics.median(latencies):>10.1f}"
              f"{percentile(latencies, .95):>10.1f}{max(latencies):>10.1f}{len(latencies):>9}")
        print(f"  {f'  first {window:g} s':<40}{statistics.median(first):>10.1f}"
              f"{percentile(first, .95):>10.1f}{max(first):>10.1f}{len(first):>9}")
        print(f"  {f'  last {window:g} s':<40}{statistics.median(last):>10.1f}"
              f"{percentile(last, .95):>10.1f}{max(last):>10.1f}{len(last):>9}")
    print(f"  glass-to-glass drift (p95 last - first): {drift:+.1f} ms")
    width_height = "x".join(str(x) for x in call["size"] or ())
    print(f"  room video received {width_height or '?'}, {decoded} frames decoded"
          f" ({decoded / seconds:.1f} fps), {dropped} dropped; jitter buffer {buffered:.1f} ms"
          f" mean; clock read on {len(latencies)} frames, unreadable {call['failed']}"
          f" of {call['frames']} ({call['mode']})")
    print(f"  station CPU over the {minutes:g} min call: {call['cpu_pct']:.1f} % of one core")
    if args.json:
        print(json.dumps({
            "setup_p95_s": round(percentile(setups, .95), 3),
            "vital_p95_ms": round(percentile(all_vitals, .95), 1),
            "glass_p95_ms": round(percentile(latencies, .95), 1),
            "glass_drift_ms": round(drift, 1),
            "cpu_pct": round(call["cpu_pct"], 1),
        }))


if __name__ == "__main__":
    main()
