"""A real call through a three-node signaling cluster survives its node's death (issue 10).

Redis, three ``station serve --redis`` nodes and a TCP balancer on loopback
(:mod:`tests.signaling.cluster_lab`); the headless station and Debian
Chromium as the doctor both reach the cluster through the balancer only. Mid
call, the node holding the station's socket is killed with SIGKILL. The
station's client and the console reopen their sockets through the balancer,
which skips the dead node; the media, peer to peer, keeps flowing; the
station records no dropped call; an invitation made before the kill still
lets a doctor in (the station hears of it through the cluster), and the
doctor's bye reaches the station through the surviving nodes.
"""

from __future__ import annotations

import json
import ssl
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.doctor_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    TIMEOUT,
    Station,
    assert_rising,
    counter,
    join,
    needs_chromium,
    sync_api,
    wait_for,
)
from tests.e2e.test_signaling_restart import RECORD_SIGNALING, ws_messages
from tests.signaling.cluster_lab import STATION_ID, ClusterLab
from tests.signaling.helpers import DOCTOR
from tests.signaling.redis_server import needs_redis

pytestmark = [needs_chromium, needs_redis]


def post(lab: ClusterLab, path: str, body: dict[str, Any],
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, Any]]:
    """A JSON POST through the balancer, verifying the cluster's certificate."""
    request = urllib.request.Request(f"{lab.url}{path}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json",
                                              **(headers or {})})
    context = ssl.create_default_context(cafile=str(lab.cert))
    try:
        with urllib.request.urlopen(request, context=context, timeout=TIMEOUT) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_a_call_survives_the_death_of_its_node(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    with ClusterLab(tmp_path / "cluster", 3) as lab:
        monkeypatch.setenv("STATION_SIGNALING_KEY", lab.key)
        home = tmp_path / "station"
        home.mkdir()
        (home / "station.toml").write_text(f'[signaling]\nca_file = "{lab.cert}"\n')
        station = Station(home, options=["--signaling-url", lab.url,
                                         "--station-id", STATION_ID])
        try:
            status, spare = post(lab, "/api/invitations",
                                 {"session_id": station.session_id, "ttl_s": 900},
                                 {"Authorization": f"Bearer {STATION_ID}.{lab.key}"})
            assert status == 201, spare
            with sync_api.sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                     args=CHROMIUM_ARGS)
                try:
                    page = browser.new_page(ignore_https_errors=True)
                    page.add_init_script(RECORD_SIGNALING)
                    page = join(page, station.link)
                    sync_api.expect(page.get_by_test_id("call-state")).to_contain_text(
                        "En communication", timeout=TIMEOUT * 1000)
                    assert_rising(page, "video-room", "video")
                    wait_for(lambda: ws_messages(page, "peer-joined"), "station seen")
                    holder = wait_for(lambda: lab.holder(station.session_id, "station"),
                                      "the station's node")
                    peers_before = len(ws_messages(page, "peer-joined"))

                    lab.kill(holder)
                    killed = time.monotonic()
                    frames_at_kill = counter(page, "video-room", "video")
                    # The station is back, through another node, in the doctor's room.
                    wait_for(lambda: len(ws_messages(page, "peer-joined")) > peers_before,
                             "station back in the room")
                    recovered = time.monotonic() - killed
                    now_on = lab.holder(station.session_id, "station")
                    assert now_on is not None and now_on is not holder and now_on.alive()
                    wait_for(lambda: counter(page, "video-room", "video") > frames_at_kill,
                             "video after the kill")
                    assert_rising(page, "video-room", "video")
                    sync_api.expect(page.get_by_test_id("call-state")).to_contain_text(
                        "En communication")
                    # The invitation made before the kill lets a doctor in; the station
                    # hears of it through the surviving nodes.
                    token = str(spare["url"]).rsplit("/", 1)[1]
                    second = {**DOCTOR, "name": "Dr Paul Girard"}
                    status, body = post(lab, f"/api/join/{token}", second)
                    assert status == 200, body
                    wait_for(lambda: any(e["name"] == "Dr Paul Girard"
                                         for e in station.events("doctor_joined")),
                             "second doctor recorded by the station")
                    # The doctor's socket may have moved too; a bye through it arrives.
                    wait_for(lambda: page.evaluate(
                        "() => window.__console.ws && window.__console.ws.readyState === 1"),
                        "console socket open")
                    page.evaluate("() => window.__console.ws.send(JSON.stringify("
                                  "{type: 'bye', reason: 'apres-la-panne'}))")
                    wait_for(lambda: any("apres-la-panne" in line for line in station.lines),
                             "bye relayed by the cluster")
                finally:
                    browser.close()
            assert station.incidents("call_dropped") == []
            assert recovered < TIMEOUT
            assert station.stop() == 0
        finally:
            if station.process.poll() is None:
                station.process.kill()
                station.process.wait()
