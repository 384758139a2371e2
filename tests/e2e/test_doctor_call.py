"""A live teleconsultation, end to end: ``station demo --wait-for-doctor`` and a real browser.

The station runs as a real subprocess (simulated instruments, embedded
signaling server on an ephemeral port); headless Chromium opens the
DOCTOR-LINK it prints, joins, and the tests check what the doctor gets
against what the station stored. The tests share one station and one page
and run in file order (join, media, data, link reuse, network cut, stop).

An expired link is not tested here: making one needs the station's clock
or a short TTL from outside; tests/signaling/ covers expiry.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from station.headless import HeadlessStation

sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
STATION = Path(sys.executable).parent / "station"
SCREENSHOT = ROOT / "docs" / "screenshots" / "console-live.png"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--allow-loopback-in-peer-connection",
]
RPPS = "10001234565"
TIMEOUT = 45.0  # only turns a hang into a failure

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
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
    """The headless station of these tests, with a read-only view of its store."""

    def __init__(self, home: Path) -> None:
        super().__init__(home, timeout=TIMEOUT)
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


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    running = Station(tmp_path_factory.mktemp("station-home"))
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def context(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1440, "height": 900}, locale="fr-FR",
                              timezone_id="Europe/Paris")
    yield ctx
    ctx.close()


@pytest.fixture(scope="module")
def page(context: Any, station: Station) -> Any:
    doctor = context.new_page()
    doctor.set_default_timeout(TIMEOUT * 1000)
    doctor.goto(station.link)
    doctor.wait_for_function("window.__console !== undefined")
    doctor.get_by_test_id("join-name").fill("Dr Jeanne Lefèvre")
    doctor.get_by_test_id("join-rpps").fill(RPPS)
    doctor.get_by_test_id("join-submit").click()
    return doctor


def test_the_doctor_joins_and_the_call_connects(page: Any, station: Station) -> None:
    sync_api.expect(page.get_by_test_id("call-state")).to_contain_text(
        "En communication", timeout=TIMEOUT * 1000)
    joined = station.events("doctor_joined")
    assert joined and joined[0]["rpps"] == RPPS


def test_both_videos_are_decoded(page: Any) -> None:
    assert_rising(page, "video-room", "video")
    assert_rising(page, "video-exam", "video")


def test_the_stethoscope_plays(page: Any) -> None:
    assert_rising(page, "audio-stethoscope", "audio")


def test_the_spo2_shown_is_a_stored_value(page: Any, station: Station) -> None:
    tile = page.get_by_test_id("vital-spo2")
    sync_api.expect(tile).to_have_attribute("data-empty", "false", timeout=TIMEOUT * 1000)
    shown = float(tile.get_attribute("data-value"))
    stored = station.query("SELECT value FROM measurements WHERE session_id = ?"
                           " AND kind = 'spo2'", station.session_id)
    assert shown in {row[0] for row in stored}


def test_the_snapshot_arrives_intact(page: Any, station: Station) -> None:
    gallery = page.get_by_test_id("snapshot-gallery")
    sync_api.expect(gallery.locator("[data-integrity='ok']")).to_have_count(
        1, timeout=TIMEOUT * 1000)
    received = page.evaluate("window.__console.state.snapshots.map((s) => s.actual)")
    rows = station.query("SELECT exam, file_sha256, path FROM snapshots WHERE session_id = ?",
                         station.session_id)
    assert [row[0] for row in rows] == ["dermatoscope"]
    assert received == [rows[0][1]]
    media = station.store_path.parent / "media" / rows[0][2]
    assert hashlib.sha256(media.read_bytes()).hexdigest() == rows[0][1]


def test_the_report_draft_is_stored(page: Any, station: Station) -> None:
    text = "Otite moyenne aiguë droite, pas de signe de gravité."
    page.get_by_test_id("report-conclusion").fill(text)
    drafts = wait_for(lambda: [d for d in station.events("report_draft")
                               if d["fields"].get("conclusion") == text], "report_draft event")
    assert drafts[-1]["author"] == "doctor"
    assert drafts[-1]["revision"] >= 1


def test_the_link_works_only_once(context: Any, station: Station) -> None:
    again = context.new_page()
    try:
        response = again.goto(station.link)
        assert response is not None and response.status == 410
        sync_api.expect(again.locator("body")).to_contain_text("Lien déjà utilisé")
    finally:
        again.close()


def test_screenshot_of_the_live_console(page: Any) -> None:
    sync_api.expect(page.locator("#exam-caption")).to_contain_text("Otoscope")
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.bring_to_front()
    page.screenshot(path=str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


def test_a_network_cut_is_recorded_and_the_call_recovers(page: Any, station: Station) -> None:
    page.evaluate("window.__old_pc = window.__console.pc; window.__old_pc.close()")
    dropped = wait_for(lambda: station.incidents("call_dropped"), "call_dropped incident")
    assert dropped[0]["detail"]
    # The station offers again on a new peer connection; media flows on it.
    wait_for(lambda: page.evaluate("window.__console.pc && window.__console.pc !== window.__old_pc"
                                   " && window.__console.pc.connectionState === 'connected'"),
             "a new connected peer connection")
    assert_rising(page, "video-room", "video")
    assert_rising(page, "video-exam", "video")
    restored = wait_for(lambda: station.incidents("call_restored"), "call_restored incident")
    assert restored[0]["detail"]
    sync_api.expect(page.get_by_test_id("call-state")).to_contain_text(
        "En communication", timeout=TIMEOUT * 1000)


def test_sigterm_stops_cleanly_and_the_audit_holds(station: Station) -> None:
    assert station.stop() == 0, "\n".join(station.lines[-30:])
    assert station.incidents("station_stopped")
    verify = subprocess.run([str(STATION), "--home", str(station.store_path.parent), "audit",
                             "verify"], check=False, capture_output=True, text=True,
                            timeout=60)
    assert verify.returncode == 0, verify.stdout + verify.stderr
