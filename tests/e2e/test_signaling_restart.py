"""The signaling server restarted mid-call: the call reconnects (issue 9).

Real parts throughout: ``station serve`` as a subprocess on a fixed free port
with its own store, the headless ``station demo`` calling through it, Debian
Chromium as the doctor. Mid-call the server is killed with SIGKILL and started
again on the same port over the same store. Both sides come back by
themselves: the station's client reopens its socket, the console comes back
with the rejoin ticket the dead server gave it (kept hashed in the store, so
the new process honours it). The media, peer to peer, never stopped; the
station records no dropped call; a message sent through the new server
reaches the station.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import run_station
from tests.e2e.doctor_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    STATION,
    TIMEOUT,
    Station,
    assert_rising,
    counter,
    join,
    needs_chromium,
    sync_api,
    wait_for,
)
from tests.signaling.redis_server import free_port

pytestmark = needs_chromium
STATION_ID = "ehpad-tilleuls"


class Server:
    """``station serve`` on one port, which the test can kill and start again."""

    def __init__(self, home: Path) -> None:
        self.home = home
        self.port = free_port()
        self.url = f"https://127.0.0.1:{self.port}"
        # --self-signed: the certificate made at the first start, kept in the home and
        # presented again after the restart (the station trusts exactly that file).
        self.certificate = home / "tls" / "localhost.crt"
        self.process: subprocess.Popen[str] | None = None

    def start(self) -> None:
        # The port was free when picked; after a SIGKILL it is free again at once
        # (aiohttp binds with SO_REUSEADDR), but a busy machine may be slow to say so.
        deadline = time.monotonic() + TIMEOUT
        while True:
            process = subprocess.Popen(
                [str(STATION), "serve", "--port", str(self.port), "--self-signed"],
                env={**os.environ, "STATION_HOME": str(self.home)},
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            assert process.stdout is not None
            line = process.stdout.readline()
            if f":{self.port}" in line:
                self.process = process
                return
            process.wait(timeout=TIMEOUT)
            if time.monotonic() > deadline:
                raise AssertionError(f"station serve did not start: {line}")
            time.sleep(0.5)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()  # SIGKILL: no goodbye to any socket
        self.process.wait(timeout=TIMEOUT)

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[Server, str]]:
    """A started ``station serve`` and the key of its one station."""
    home = tmp_path / "server"
    added = run_station("serve", "stations", "add", STATION_ID, home=home)
    assert added.returncode == 0, added.stderr
    key = next(line.split(" ", 1)[1] for line in added.stdout.splitlines()
               if line.startswith("STATION-KEY "))
    served = Server(home)
    served.start()
    try:
        yield served, key
    finally:
        served.stop()


# Every message the console's signaling sockets receive, kept for the test (the
# console's own log keeps the last 300 messages of all channels: vitals push the
# signaling ones out within seconds).
RECORD_SIGNALING = """
const Native = window.WebSocket;
window.__signaling = [];
window.WebSocket = class extends Native {
  constructor(...args) {
    super(...args);
    this.addEventListener("message", (e) => {
      try { window.__signaling.push(JSON.parse(e.data)); } catch (err) { /* not JSON */ }
    });
  }
};
"""


def ws_messages(page: Any, kind: str) -> list[dict[str, Any]]:
    """Messages of ``kind`` the console received on its signaling sockets."""
    return list(page.evaluate(
        "(kind) => window.__signaling.filter((m) => m && m.type === kind)", kind))


def test_the_call_survives_a_killed_and_restarted_signaling_server(
        server: tuple[Server, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served, key = server
    monkeypatch.setenv("STATION_SIGNALING_KEY", key)
    home = tmp_path / "station"
    home.mkdir()
    (home / "station.toml").write_text(f'[signaling]\nca_file = "{served.certificate}"\n')
    station = Station(home, options=["--signaling-url", served.url, "--station-id", STATION_ID])
    try:
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(ignore_https_errors=True)
                page.add_init_script(RECORD_SIGNALING)
                page = join(page, station.link)
                sync_api.expect(page.get_by_test_id("call-state")).to_contain_text(
                    "En communication", timeout=TIMEOUT * 1000)
                assert_rising(page, "video-room", "video")
                wait_for(lambda: ws_messages(page, "peer-joined"), "station seen by console")
                tickets_before = len(ws_messages(page, "ticket"))
                peers_before = len(ws_messages(page, "peer-joined"))

                served.kill()
                frames_at_kill = counter(page, "video-room", "video")
                served.start()  # same port, same store

                # The console came back with its rejoin ticket (a new one handed out by
                # the new process) and sees the station, which came back too.
                wait_for(lambda: len(ws_messages(page, "ticket")) > tickets_before,
                         "console rejoined the restarted server")
                wait_for(lambda: len(ws_messages(page, "peer-joined")) > peers_before,
                         "station and console in the same room again")
                # The media flowed all along: more frames than at the kill, still rising.
                wait_for(lambda: counter(page, "video-room", "video") > frames_at_kill,
                         "video frames after the restart")
                assert_rising(page, "video-room", "video")
                sync_api.expect(page.get_by_test_id("call-state")).to_contain_text(
                    "En communication")
                # A signaling message through the new process reaches the station.
                page.evaluate("() => window.__console.ws.send(JSON.stringify("
                              "{type: 'bye', reason: 'apres-redemarrage'}))")
                wait_for(lambda: any("apres-redemarrage" in line for line in station.lines),
                         "bye relayed by the restarted server")
            finally:
                browser.close()
        assert station.incidents("call_dropped") == []  # the call never dropped
        assert station.stop() == 0
    finally:
        if station.process.poll() is None:
            station.process.kill()
            station.process.wait()
    # The restarted server redeemed the rejoin ticket from the store: it is spent,
    # and only the console's newest one (unused) remains, as a digest.
    with sqlite3.connect(f"file:{served.home / 'station.sqlite3'}?mode=ro", uri=True) as conn:
        assert conn.execute("SELECT count(*) FROM signaling_tickets").fetchone()[0] == 1
