"""Weak networks: the live call over an emulated 4G link, figures next to their goals.

    python bench/network.py [--json] [--quick] [--only good,4g-weak,poor,cut]

Needs root (network namespaces, TAP devices) and Debian's Chromium. The
station (``station demo --wait-for-doctor --host <station ip>``) runs in one
namespace, headless Chromium (Playwright) in another, joined by the
userspace link emulator of tests/linkemu.py (rate, delay, jitter, loss,
cut; docs/network-profiles.md). Each profile is a fresh call: a station
and a doctor joining over that link, as a doctor on 4G would.

Measured in the page, every 250 ms from ``RTCPeerConnection.getStats()``
(inbound-rtp of the track each element shows), plus the time of every
room/exam frame presented (``requestVideoFrameCallback``) and of every
``measurement`` message on the vitals channel (a wrapper around
``RTCPeerConnection`` installed before the console's script):

- good: room video frames decoded per second and size; concealment
  (``concealedSamples / totalSamplesReceived``) of stethoscope and voice;
- 4g-weak: after the adaptation has settled, the longest gap between two
  presented frames of either video (``weak_max_freeze_s``; Chromium's own
  ``freezeCount``/``totalFreezesDuration`` are printed too), the sizes and
  frame rates received, stethoscope concealment;
- poor: whether the station stopped video by itself (its ``video_stopped``
  incident and the console's audio-only cover), concealment after that,
  and the vitals' delay (``stored`` on the station -> message in the page);
- cut (30 s on the good link): the station's ``call_dropped`` incident,
  ``cut_resume_s`` from the link's return to the console in
  ``connected`` with room video and stethoscope counters rising again, and
  ``cut_lost_measurements``: measurements the station stored from 5 s before
  the cut to the resumption that never reached the page (matched on kind and
  measurement time).

With --json the last line is one JSON object with the issue's keys.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and
# bench/devices.py would shadow the ``devices`` package: take the folder off.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import argparse
import itertools
import json
import math
import sqlite3
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from station.demo_doctor import CHROMIUM
from station.demo_doctor import CHROMIUM_ARGS as BASE_CHROMIUM_ARGS
from station.headless import STATION_BIN, HeadlessStation
from tests.linkemu import GOOD, POOR, WEAK_4G, EmulatedLab, emulator_unavailable

# Across namespaces, not loopback: no loopback flag, and host addresses in the clear
# (a browser hides them behind mDNS names nobody resolves here).
CHROMIUM_ARGS = [*(arg for arg in BASE_CHROMIUM_ARGS
                   if arg != "--allow-loopback-in-peer-connection"),
                 "--autoplay-policy=no-user-gesture-required",
                 "--disable-features=WebRtcHideLocalIpsWithMdns"]
RPPS = "10001234565"
TIMEOUT = 60.0
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

GOALS = {
    "good_fps": ">= 25 fps at 1280x720",
    "weak_max_freeze_s": "<= 1.0 s, video adapted",
    "weak_concealment_pct": "< 2 %",
    "poor_audio_only": "true",
    "poor_concealment_pct": "< 5 %",
    "poor_vital_p95_s": "<= 1 s",
    "cut_resume_s": "<= 10 s",
    "cut_lost_measurements": "0",
}

# Before the console's script: note every measurement message on any vitals channel.
INIT_JS = """(() => {
  const Native = window.RTCPeerConnection;
  const rec = window.__net = { vitals: [], samples: [], frames: { room: [], exam: [] } };
  function Wrapped(...args) {
    const pc = new Native(...args);
    pc.addEventListener("datachannel", (ev) => {
      if (ev.channel.label !== "vitals") return;
      ev.channel.addEventListener("message", (m) => {
        let msg;
        try { msg = JSON.parse(m.data); } catch { return; }
        if (msg && msg.type === "measurement")
          rec.vitals.push([Date.now(), msg.kind, msg.time, msg.id ?? null, msg.stored ?? null]);
      });
    });
    return pc;
  }
  Wrapped.prototype = Native.prototype;
  Object.setPrototypeOf(Wrapped, Native);
  window.RTCPeerConnection = Wrapped;
})();"""

# After joining: getStats every 250 ms, and presented frames of both videos.
MONITOR_JS = """() => {
  const rec = window.__net;
  const names = { room: "video-room", exam: "video-exam", voice: "audio-voice",
                  stethoscope: "audio-stethoscope" };
  const track = (id) => {
    const el = document.getElementById(id);
    const s = el && el.srcObject;
    const t = s && (id.startsWith("video") ? s.getVideoTracks() : s.getAudioTracks());
    return t && t.length ? t[0].id : null;
  };
  setInterval(async () => {
    const pc = window.__console.pc;
    if (!pc) return;
    let stats;
    try { stats = await pc.getStats(); } catch { return; }
    const ids = {};
    for (const [name, id] of Object.entries(names)) ids[track(id)] = name;
    const row = { t: Date.now(), state: window.__console.state.callState,
                  audioOnly: !!window.__console.state.audioOnly };
    stats.forEach((r) => {
      if (r.type !== "inbound-rtp" || !(r.trackIdentifier in ids)) return;
      row[ids[r.trackIdentifier]] = {
        track: r.trackIdentifier, decoded: r.framesDecoded || 0, w: r.frameWidth || 0,
        h: r.frameHeight || 0, fps: r.framesPerSecond || 0, freezes: r.freezeCount || 0,
        frozen: r.totalFreezesDuration || 0, concealed: r.concealedSamples || 0,
        samples: r.totalSamplesReceived || 0, lost: r.packetsLost || 0,
        received: r.packetsReceived || 0, energy: r.totalAudioEnergy || 0 };
    });
    rec.samples.push(row);
  }, 250);
  for (const name of ["room", "exam"]) {
    const video = document.getElementById(`video-${name}`);
    const loop = () => {
      rec.frames[name].push(Date.now());
      video.requestVideoFrameCallback(loop);
    };
    video.requestVideoFrameCallback(loop);
  }
}"""

DRAIN_JS = """() => {
  const rec = window.__net;
  const out = { vitals: rec.vitals, samples: rec.samples, frames: rec.frames };
  rec.vitals = []; rec.samples = []; rec.frames = { room: [], exam: [] };
  return out;
}"""


class Station(HeadlessStation):
    """``station demo --wait-for-doctor`` in the station's namespace, its store read-only."""

    def __init__(self, home: Path, lab: EmulatedLab) -> None:
        command = [*lab.prefix("station"), str(STATION_BIN), "--verbose", "demo",
                   "--wait-for-doctor",
                   "--port", "0", "--host", lab.station_ip]
        super().__init__(home, command=command, timeout=TIMEOUT)
        self.store_path = home / "demo" / "station.sqlite3"
        self.session_id = self.query("SELECT id FROM sessions ORDER BY created_at DESC")[0][0]

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.store_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def incidents(self, kind: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT data FROM session_events WHERE session_id = ?"
                          " AND type = 'incident' ORDER BY id", self.session_id)
        return [d for d in (json.loads(row[0]) for row in rows) if d.get("kind") == kind]

    def measurements(self) -> list[tuple[int, str, int]]:
        """(id, kind, time_us) of every measurement of the session, in store order."""
        return [(int(a), str(b), int(c)) for a, b, c in self.query(
            "SELECT id, kind, time_us FROM measurements WHERE session_id = ? ORDER BY id",
            self.session_id)]


def wait_for(check: Callable[[], Any], what: str, timeout: float = TIMEOUT,
             poll: float = 0.1) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(poll)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class Record:
    """What the page noted, accumulated (times in ms since the epoch)."""

    vitals: list[list[Any]] = field(default_factory=list)
    samples: list[dict[str, Any]] = field(default_factory=list)
    frames: dict[str, list[float]] = field(default_factory=lambda: {"room": [], "exam": []})


class Call:
    """One station and one doctor page across the lab; :meth:`drain` gathers the page's notes."""

    def __init__(self, station: Station, page: Any) -> None:
        self.station = station
        self.page = page
        self.record = Record()

    def drain(self) -> Record:
        got = self.page.evaluate(DRAIN_JS)
        self.record.vitals += got["vitals"]
        self.record.samples += got["samples"]
        for name, times in got["frames"].items():
            self.record.frames[name] += times
        return self.record

    def hold(self, seconds: float) -> None:
        """Let the call run, draining the page now and then."""
        end = time.monotonic() + seconds
        while (now := time.monotonic()) < end:
            time.sleep(min(2.0, end - now))
            self.drain()

    def latest(self) -> dict[str, Any]:
        self.drain()
        return self.record.samples[-1] if self.record.samples else {}

    def call_state(self) -> str:
        return str(self.page.get_by_test_id("call-state").get_attribute("data-state"))

    def audio_only_shown(self) -> bool:
        return bool(self.page.locator("#audio-only-cover").is_visible())


@contextmanager
def browser_in(lab: EmulatedLab, folder: Path) -> Iterator[Any]:
    """Headless Chromium in the doctor's namespace."""
    from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional dependency

    chromium = lab.wrapper("doctor", CHROMIUM, folder)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_call(lab: EmulatedLab, browser: Any, home: Path) -> Iterator[Call]:
    """A fresh station, the doctor joining it; yields once room video is decoded."""
    station = Station(home, lab)
    context = None
    try:
        # bypass_csp: the measuring script (INIT_JS, wait_for_function) is ours, not the
        # page's; the console's Content-Security-Policy forbids the eval it needs.
        context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="fr-FR",
                                      timezone_id="Europe/Paris", bypass_csp=True,
                                      ignore_https_errors=True)
        context.add_init_script(INIT_JS)
        page = context.new_page()
        page.set_default_timeout(TIMEOUT * 1000)
        page.goto(station.link)
        page.wait_for_function("() => window.__console !== undefined")
        page.get_by_test_id("join-name").fill("Dr Jeanne Lefèvre")
        page.get_by_test_id("join-rpps").fill(RPPS)
        page.get_by_test_id("join-submit").click()
        page.wait_for_function("() => window.__console.pc && window.__console.state.callState"
                               " === 'connected'", timeout=TIMEOUT * 1000)
        page.evaluate(MONITOR_JS)
        yield Call(station, page)
    finally:
        if context is not None:
            context.close()
        for line in station.lines:
            if any(word in line for word in ("station.call", "WARNING", "ERROR")):
                print("    " + line, file=sys.stderr)
        code = station.stop()
        if code != 0:
            print(f"  station exited with {code}:\n" + "\n".join(station.lines[-20:]),
                  file=sys.stderr)


# --- figures from the page's notes ------------------------------------------------------


def window(samples: list[dict[str, Any]], start: float, end: float) -> list[dict[str, Any]]:
    return [s for s in samples if start <= s["t"] <= end]


def delta(samples: list[dict[str, Any]], name: str, key: str) -> tuple[float, float]:
    """(increase of ``key`` of stream ``name``, seconds covered), summed over the
    stretches where the stream kept the same track (a reconnection starts anew)."""
    total = seconds = 0.0
    previous: dict[str, Any] | None = None
    previous_t = 0.0
    for sample in samples:
        stats = sample.get(name)
        if stats is None:
            previous = None
            continue
        if previous is not None and previous["track"] == stats["track"]:
            total += stats[key] - previous[key]
            seconds += (sample["t"] - previous_t) / 1000
        previous, previous_t = stats, sample["t"]
    return total, seconds


def concealment_pct(samples: list[dict[str, Any]], name: str) -> float:
    concealed, _ = delta(samples, name, "concealed")
    received, _ = delta(samples, name, "samples")
    return 100 * concealed / received if received > 0 else math.nan


def fps(samples: list[dict[str, Any]], name: str) -> float:
    frames, seconds = delta(samples, name, "decoded")
    return frames / seconds if seconds > 0 else 0.0


def sizes(samples: list[dict[str, Any]], name: str) -> dict[str, float]:
    """Share of the samples at each received size, e.g. {"640x360": 0.8, ...}."""
    seen = [f"{s[name]['w']}x{s[name]['h']}" for s in samples if s.get(name)]
    return {size: seen.count(size) / len(seen) for size in sorted(set(seen))}


def max_gap(frames: list[float], start: float, end: float) -> float:
    """Longest time in [start, end] (ms) without a presented frame, in seconds."""
    inside = [t for t in frames if start <= t <= end]
    edges = [start, *inside, end]
    return max(b - a for a, b in itertools.pairwise(edges)) / 1000


def to_us(text: str) -> int:
    return (datetime.fromisoformat(text) - _EPOCH) // timedelta(microseconds=1)


def vital_delays(vitals: list[list[Any]], start: float, end: float) -> list[float]:
    """Seconds from ``stored`` on the station to the message in the page."""
    return [(at - to_us(stored) / 1000) / 1000 for at, _kind, _time, _id, stored in vitals
            if stored and start <= at <= end]


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def now_ms() -> float:
    return time.time() * 1000


# --- the profiles ------------------------------------------------------------------------


@dataclass
class Windows:
    """How long each phase lasts (s): the bench's, or the tests' shorter ones."""

    good_settle: float = 15.0
    good: float = 30.0
    weak_settle: float = 20.0
    weak: float = 60.0
    poor: float = 45.0
    cut: float = 30.0
    cut_before: float = 10.0
    cut_after: float = 10.0


QUICK = Windows(good_settle=12.0, good=16.0, weak_settle=10.0, weak=15.0, poor=12.0,
                cut=30.0, cut_before=5.0, cut_after=4.0)


def run_good(lab: EmulatedLab, browser: Any, home: Path, w: Windows) -> dict[str, Any]:
    lab.emulate(GOOD)
    with open_call(lab, browser, home) as call:
        joined = now_ms()
        call.hold(w.good_settle)  # a call starts at 640x360 and climbs
        start = now_ms()
        call.hold(w.good)
        record = call.drain()
        samples = window(record.samples, start, now_ms())
        full = [s["t"] for s in record.samples
                if s.get("room") and s["room"]["w"] == 1280]
        return {"fps": fps(samples, "room"), "exam_fps": fps(samples, "exam"),
                "to_720p_s": (full[0] - joined) / 1000 if full else math.nan,
                "sizes": sizes(samples, "room"),
                "steth_concealment_pct": concealment_pct(samples, "stethoscope"),
                "voice_concealment_pct": concealment_pct(samples, "voice"),
                "link": lab.stats()}


def run_weak(lab: EmulatedLab, browser: Any, home: Path, w: Windows) -> dict[str, Any]:
    lab.emulate(WEAK_4G)
    with open_call(lab, browser, home) as call:
        joined = now_ms()
        call.hold(w.weak_settle)
        start = now_ms()
        call.hold(w.weak)
        end = now_ms()
        record = call.drain()
        samples = window(record.samples, start, end)
        settle = window(record.samples, joined, start)
        freezes = {name: delta(samples, name, "freezes")[0] for name in ("room", "exam")}
        frozen = {name: delta(samples, name, "frozen")[0] for name in ("room", "exam")}
        return {
            "max_freeze_s": max(max_gap(record.frames[name], start, end)
                                for name in ("room", "exam")),
            "settle_max_freeze_s": max(max_gap(record.frames[name], joined + 2000, start)
                                       for name in ("room", "exam")),
            "settle_sizes": sizes(settle, "room"),
            "chromium_freezes": freezes, "chromium_frozen_s": frozen,
            "room_fps": fps(samples, "room"), "exam_fps": fps(samples, "exam"),
            "room_sizes": sizes(samples, "room"), "exam_sizes": sizes(samples, "exam"),
            "steth_concealment_pct": concealment_pct(samples, "stethoscope"),
            "voice_concealment_pct": concealment_pct(samples, "voice"),
            "video_stopped": len(call.station.incidents("video_stopped")),
            "link": lab.stats()["up"],
        }


def run_poor(lab: EmulatedLab, browser: Any, home: Path, w: Windows) -> dict[str, Any]:
    lab.emulate(POOR)
    with open_call(lab, browser, home) as call:
        joined = time.monotonic()
        stopped_after = shown_after = math.nan
        try:
            wait_for(lambda: call.station.incidents("video_stopped"), "video_stopped", 60)
            stopped_after = time.monotonic() - joined
            wait_for(call.audio_only_shown, "the audio-only cover", 60)
            shown_after = time.monotonic() - joined
        except AssertionError:
            pass
        call.hold(2.0)
        start = now_ms()
        call.hold(w.poor)
        end = now_ms()
        record = call.drain()
        samples = window(record.samples, start, end)
        delays = vital_delays(record.vitals, start, end)
        arrived = [v for v in record.vitals if start <= v[0] <= end]
        return {
            "audio_only": bool(call.station.incidents("video_stopped"))
            and call.audio_only_shown() and not call.station.incidents("video_resumed"),
            "stopped_after_s": stopped_after, "cover_after_s": shown_after,
            "steth_concealment_pct": concealment_pct(samples, "stethoscope"),
            "voice_concealment_pct": concealment_pct(samples, "voice"),
            "vitals": len(arrived), "replayed": sum(1 for v in arrived if not v[4]),
            "vital_p50_s": percentile(delays, .5),
            "vital_p95_s": percentile(delays, .95),
            "vitals_within_1s_pct": 100 * sum(d <= 1.0 for d in delays) / len(delays)
            if delays else math.nan,
            "vital_max_s": max(delays) if delays else math.nan,
        }


def run_cut(lab: EmulatedLab, browser: Any, home: Path, w: Windows) -> dict[str, Any]:
    lab.emulate(GOOD)
    with open_call(lab, browser, home) as call:
        call.hold(w.cut_before)
        before = call.station.measurements()
        cut_at = now_ms()
        lab.cut()
        try:
            call.hold(w.cut)
        finally:
            lab.heal()
        healed = time.monotonic()
        healed_ms = now_ms()
        dropped = bool(call.station.incidents("call_dropped"))
        baseline = call.latest()

        def resumed() -> bool:
            latest = call.latest()
            if latest.get("state") != "connected":
                return False
            room, steth = latest.get("room"), latest.get("stethoscope")
            old_room, old_steth = baseline.get("room"), baseline.get("stethoscope")
            return bool(room and steth and room["decoded"] > 0 and steth["energy"] > 0
                        and (old_room is None or room["track"] != old_room["track"]
                             or room["decoded"] > old_room["decoded"])
                        and (old_steth is None or steth["track"] != old_steth["track"]
                             or steth["energy"] > old_steth["energy"]))

        try:
            wait_for(resumed, "the call resumed", 90, poll=0.2)
            resume_s = time.monotonic() - healed
        except AssertionError:
            resume_s = math.nan
        call.hold(w.cut_after)
        record = call.drain()
        stored = call.station.measurements()
        # Measurements stored from 5 s before the cut until the call resumed.
        horizon = healed_ms + (0 if math.isnan(resume_s) else resume_s * 1000)
        first = max((row[0] for row in before if row[2] <= (cut_at - 5000) * 1000), default=0)
        window_rows = [row for row in stored
                       if row[0] > first and row[2] <= horizon * 1000]
        arrived = {(kind, to_us(when)) for _at, kind, when, _id, _stored in record.vitals}
        lost = [row for row in window_rows if (row[1], row[2]) not in arrived]
        order = [number for _at, _kind, _when, number, _stored in record.vitals
                 if number is not None]
        return {
            "incident": dropped, "restored": bool(call.station.incidents("call_restored")),
            "resume_s": resume_s, "stored_around_cut": len(window_rows),
            "lost_measurements": len(lost),
            "out_of_order": sum(1 for a, b in itertools.pairwise(order) if b < a),
        }


RUNS: dict[str, Callable[[EmulatedLab, Any, Path, Windows], dict[str, Any]]] = {
    "good": run_good, "4g-weak": run_weak, "poor": run_poor, "cut": run_cut}


def figures(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """The issue's keys from the per-profile results."""
    out: dict[str, Any] = {}
    if "good" in results:
        out["good_fps"] = round(results["good"]["fps"], 1)
    if "4g-weak" in results:
        out["weak_max_freeze_s"] = round(results["4g-weak"]["max_freeze_s"], 2)
        out["weak_concealment_pct"] = round(results["4g-weak"]["steth_concealment_pct"], 2)
    if "poor" in results:
        out["poor_audio_only"] = bool(results["poor"]["audio_only"])
        out["poor_concealment_pct"] = round(results["poor"]["steth_concealment_pct"], 2)
        out["poor_vital_p95_s"] = round(results["poor"]["vital_p95_s"], 2)
    if "cut" in results:
        resume = results["cut"]["resume_s"]
        out["cut_resume_s"] = None if math.isnan(resume) else round(resume, 1)
        out["cut_lost_measurements"] = results["cut"]["lost_measurements"]
    return out


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.2f}"
    if isinstance(value, dict):
        return ", ".join(f"{k} {_fmt(v)}" for k, v in value.items())
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="the tests' shorter windows")
    parser.add_argument("--only", default=",".join(RUNS), help="profiles, comma-separated")
    args = parser.parse_args()
    why = emulator_unavailable()
    if why is not None:
        raise SystemExit(f"cannot run: {why}")
    windows = QUICK if args.quick else Windows()
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="bench-network-") as tmp, EmulatedLab() as lab, \
            browser_in(lab, Path(tmp)) as browser:
        for name in chosen:
            print(f"  {name}...", file=sys.stderr)
            results[name] = RUNS[name](lab, browser, Path(tmp) / name, windows)
            print(f"  {name}: {json.dumps(results[name], default=str)}", file=sys.stderr)
    values = figures(results)
    print("live call over the emulated link (tests/linkemu.py), station + headless Chromium"
          " in two namespaces")
    print(f"  {'figure':<26}{'value':>12}   goal")
    for key, value in values.items():
        print(f"  {key:<26}{_fmt(value):>12}   {GOALS[key]}")
    for name, result in results.items():
        print(f"  {name}: " + "; ".join(f"{k} {_fmt(v)}" for k, v in result.items()))
    if args.json:
        print(json.dumps(values))


if __name__ == "__main__":
    main()

