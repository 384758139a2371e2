"""A serial oximeter flooding random bytes at full speed: the station holds and flags it.

A writer thread pushes random bytes into a real pseudo-terminal as fast as the
kernel takes them; the product's real driver (pyserial reader thread, framer,
decoder) reads it inside a device manager, next to a well-behaved simulated
oximeter, with the session bridge recording into a real store. Measured
during the flood: the asyncio loop's lag (a 10 ms ticker), the good device's
readings, the process's resident memory, the log lines, and what the session
records (one ``device_unreadable`` incident, no garbage value).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import statistics
import threading

import pytest

from devices.device import DeviceEvent, EventKind
from devices.factory import Simulators, open_device
from devices.manager import Backoff, DeviceManager
from devices.serial.oximeter import SerialOximeter, settings_for
from devices.serial.pty import PseudoTerminal
from station.device_bridge import DeviceSessionBridge

FLOOD_S = 6.0
FLOOD_URL = "serial://flooding-oximeter"
GOOD_URL = "sim://oximeter-serial?protocol=nonin-2"


class Flooder:
    """Writes random bytes into a pty as fast as it takes them, in a thread."""

    def __init__(self, pty: PseudoTerminal, seed: int) -> None:
        self.pty = pty
        self.sent = 0
        self._noise = random_bytes(seed, 1 << 20)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="flooder", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        offset, writes = 0, 0
        while not self._stop.is_set():
            piece = self._noise[offset:offset + 4096]
            offset = (offset + 4096) % len(self._noise)
            try:
                self.pty.write(piece, timeout=0.2)
            except TimeoutError:  # the product is reconnecting: the line is full meanwhile
                continue
            except ValueError:  # closed
                return
            self.sent += len(piece)
            writes += 1
            if writes % 64 == 0:
                self.pty.forget_line_settings()  # so the driver can reopen it in 8O1


def random_bytes(seed: int, size: int) -> bytes:
    return random.Random(seed).randbytes(size)


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.parametrize("protocol", ["cms50d", "nonin-2"])
def test_flooding_oximeter_is_flagged_and_the_station_holds(
        recording_bridge: DeviceSessionBridge, protocol: str,
        caplog: pytest.LogCaptureFixture) -> None:
    bridge = recording_bridge
    session = bridge.session
    caplog.set_level(logging.INFO)
    events: list[tuple[float, DeviceEvent]] = []
    lags: list[float] = []
    rss: list[int] = []

    async def scenario() -> tuple[float, float, int]:
        loop = asyncio.get_running_loop()
        simulators = Simulators()
        with PseudoTerminal() as pty:
            flooded = SerialOximeter(FLOOD_URL, settings_for(protocol, pty.slave_path), protocol)
            manager = DeviceManager([flooded, await open_device(GOOD_URL, simulators)],
                                    Backoff(initial=0.5, longest=1.0))
            manager.subscribe(lambda e: events.append((loop.time(), e)))
            bridge.attach(manager.subscribe)
            flooder = Flooder(pty, seed=len(protocol))
            try:
                manager.start()
                async with asyncio.timeout(20):  # both devices up before the flood
                    while {e.url for _, e in events if e.kind is EventKind.CONNECTED} != {
                            FLOOD_URL, GOOD_URL} or not any(
                            e.url == GOOD_URL and e.kind is EventKind.MEASUREMENT
                            for _, e in events):
                        await asyncio.sleep(0.02)
                caplog.clear()
                start = loop.time()
                rss.append(rss_bytes())
                flooder.start()
                while (now := loop.time()) - start < FLOOD_S:
                    await asyncio.sleep(0.010)
                    lags.append(loop.time() - now - 0.010)
                    if len(lags) % 50 == 0:
                        rss.append(rss_bytes())
                end = loop.time()
            finally:
                flooder.stop()
                await manager.stop()
                await simulators.close()
            return start, end, flooder.sent

    start, end, sent = asyncio.run(scenario())
    during = [e for t, e in events if start <= t <= end]
    lags_ms = sorted(lag * 1000 for lag in lags)
    p99 = lags_ms[int(len(lags_ms) * 0.99) - 1]
    growth_mb = (max(rss) - rss[0]) / 1e6
    log_lines = len(caplog.records)
    print(f"\n{protocol} flood: {sent / (end - start) / 1e6:.1f} MB/s written for "
          f"{end - start:.1f} s; loop lag p50 {statistics.median(lags_ms):.1f} ms, p99 "
          f"{p99:.1f} ms, max {lags_ms[-1]:.1f} ms; RSS growth {growth_mb:.1f} MB; "
          f"{log_lines} log lines")

    assert sent > 1_000_000, "the flood must really be a flood"
    assert p99 < 50, f"loop lag p99 {p99:.1f} ms under flood"
    # The other device kept streaming: readings and one pleth chunk a second.
    good = [e for e in during if e.url == GOOD_URL]
    assert sum(e.kind is EventKind.MEASUREMENT for e in good) >= FLOOD_S
    assert sum(e.kind is EventKind.WAVEFORM for e in good) >= FLOOD_S - 2
    assert growth_mb < 40, f"memory grew by {growth_mb:.1f} MB"
    # Flagged once, quickly; nothing from the garbage reached the session.
    flags = [(t, e) for t, e in events if e.url == FLOOD_URL and e.kind is EventKind.UNREADABLE]
    assert len(flags) == 1 and flags[0][0] - start < 1.0
    assert "unreadable data stream" in flags[0][1].detail
    assert not [e for e in during if e.url == FLOOD_URL and e.kind in (
        EventKind.MEASUREMENT, EventKind.WAVEFORM)]
    assert all(m.device != FLOOD_URL for m in session.measurements())
    incidents = [e.data for e in session.events() if e.type == "incident"]
    unreadable = [i for i in incidents if i["kind"] == "device_unreadable"]
    assert len(unreadable) == 1, incidents
    assert unreadable[0]["detail"].startswith(f"flux de données illisible : {FLOOD_URL}")
    assert not [i for i in incidents
                if FLOOD_URL in i["detail"] and i["kind"] != "device_unreadable"]
    # Logs are summaries, not one line per corrupted byte or frame.
    assert log_lines <= 4 * FLOOD_S, [r.getMessage() for r in caplog.records][:40]
