"""A station calling through a separate ``station serve``, end to end.

Two real subprocesses with two data directories: ``station serve`` (its own
store, a station key added through the CLI) and ``station demo
--wait-for-doctor --signaling-url … --station-id …`` (the key from
``STATION_SIGNALING_KEY``). The server has its local self-signed certificate
(``--self-signed``), which the station trusts through ``[signaling] ca_file``.
Headless Chromium opens the link the server made, joins, the call connects
and video decodes; the doctor who joined is in the station's store, not the
server's.
"""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import run_station
from tests.e2e.doctor_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RPPS,
    STATION,
    TIMEOUT,
    Station,
    assert_rising,
    join,
    needs_chromium,
    sync_api,
    wait_for,
)

pytestmark = needs_chromium
STATION_ID = "ehpad-tilleuls"


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[tuple[str, str, Path]]:
    """A running ``station serve --self-signed``: its URL, the station's key, its home."""
    home = tmp_path / "server"
    added = run_station("serve", "stations", "add", STATION_ID, "--name", "EHPAD Les Tilleuls",
                        home=home)
    assert added.returncode == 0, added.stderr
    key = next(line.split(" ", 1)[1] for line in added.stdout.splitlines()
               if line.startswith("STATION-KEY "))
    process = subprocess.Popen([str(STATION), "serve", "--port", "0", "--self-signed"],
                               env={**os.environ, "STATION_HOME": str(home)},
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        found = re.search(r"https://127\.0\.0\.1:\d+", line)
        assert found, line
        yield found.group(0), key, home
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            assert process.wait(timeout=15) == 0
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()


def test_a_station_calls_through_a_separate_server(
        serve: tuple[str, str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    url, key, server_home = serve
    server_store = server_home / "station.sqlite3"
    monkeypatch.setenv("STATION_SIGNALING_KEY", key)
    # The station verifies the server's certificate: this one is trusted by configuration.
    (tmp_path / "station").mkdir()
    (tmp_path / "station" / "station.toml").write_text(
        f'[signaling]\nca_file = "{server_home / "tls" / "localhost.crt"}"\n',
        encoding="utf-8")
    station = Station(tmp_path / "station",
                      options=["--signaling-url", url, "--station-id", STATION_ID])
    try:
        assert station.link.startswith(f"{url}/join/")
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = join(browser.new_page(), station.link)
                sync_api.expect(page.get_by_test_id("call-state")).to_contain_text(
                    "En communication", timeout=TIMEOUT * 1000)
                assert_rising(page, "video-room", "video")
            finally:
                browser.close()
        joined = wait_for(lambda: station.events("doctor_joined"), "doctor_joined recorded")
        assert joined[0]["rpps"] == RPPS
        assert joined[0]["name"] == "Dr Jeanne Lefèvre"
        assert station.stop() == 0
    finally:
        if station.process.poll() is None:
            station.process.kill()
            station.process.wait()
    with sqlite3.connect(f"file:{server_store}?mode=ro", uri=True) as conn:
        used = conn.execute("SELECT station_id, session_id, doctor_rpps FROM remote_invitations"
                            " WHERE used_at IS NOT NULL").fetchall()
        assert used == [(STATION_ID, station.session_id, RPPS)]
        assert conn.execute("SELECT count(*) FROM session_events").fetchone()[0] == 0
    # The station's own store holds no invitation: the link was the server's.
    assert station.query("SELECT count(*) FROM invitations") == [(0,)]
