"""What the end-to-end tests share: the headless station subprocess, Debian Chromium
playing the doctor, and the console's WebRTC counters read through getStats."""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from station.demo_doctor import CHROMIUM, CHROMIUM_ARGS, DEMO_RPPS, join  # noqa: F401 - for the e2e tests
from station.headless import HeadlessStation

sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
STATION = Path(sys.executable).parent / "station"
SCREENSHOT = ROOT / "docs" / "screenshots" / "console-live.png"
RPPS = DEMO_RPPS
TIMEOUT = 45.0  # only turns a hang into a failure

needs_chromium = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                    reason="Debian chromium not installed")

# inbound-rtp counter of the track shown in an element: framesDecoded or totalAudioEnergy
STATS_JS = """async ([testid, kind]) => {
  const pc = window.__console.pc;
  const media = document.querySelector(`[data-testid="${testid}"]`);
  if (!pc || !media || !media.srcObject) return null;
  const stream = media.srcObject;
  const tracks = kind === "video" ? stream.getVideoTracks() : stream.getAudioTracks();
  if (!tracks.length) return null;
  const stats = await pc.getStats();
  let value = null;
  stats.forEach((r) => {
    if (r.type === "inbound-rtp" && r.kind === kind && r.trackIdentifier === tracks[0].id)
      value = kind === "video" ? (r.framesDecoded || 0) : (r.totalAudioEnergy || 0);
  });
  return value;
}"""


class Station(HeadlessStation):
    """The headless station of these tests, with a read-only view of its store.

    ``prefix`` runs it through another program (a network namespace), ``options``
    are more ``station demo`` options."""

    def __init__(self, home: Path, prefix: Sequence[str] = (),
                 options: Sequence[str] = ()) -> None:
        command = [*prefix, str(STATION), "demo", "--wait-for-doctor", "--port", "0", *options]
        super().__init__(home, command=command, timeout=TIMEOUT)
        self.store_path = home / "demo" / "station.sqlite3"
        self.session_id = self.query("SELECT id FROM sessions ORDER BY created_at DESC")[0][0]

    def query(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        conn = sqlite3.connect(f"file:{self.store_path}?mode=ro", uri=True, timeout=10)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()

    def events(self, event_type: str) -> list[dict[str, Any]]:
        rows = self.query("SELECT data FROM session_events WHERE session_id = ? AND type = ?"
                          " ORDER BY id", self.session_id, event_type)
        return [json.loads(row[0]) for row in rows]

    def incidents(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events("incident") if e.get("kind") == kind]



def wait_for(check: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def counter(page: Any, testid: str, kind: str) -> float:
    value = page.evaluate(STATS_JS, [testid, kind])
    return float(value) if value is not None else -1.0


def assert_rising(page: Any, testid: str, kind: str) -> None:
    first = wait_for(lambda: counter(page, testid, kind) > 0 and counter(page, testid, kind),
                     f"{testid} {kind} stats")
    wait_for(lambda: counter(page, testid, kind) > first, f"{testid} {kind} rising")
