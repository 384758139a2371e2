"""The call over a real link that fails: station and doctor in two network namespaces.

The station (``station demo --wait-for-doctor``) runs in one namespace,
headless Chromium in the other, joined by a veth pair the test cuts
(nftables drops everything) or makes lossy (nftables drops at random). The
tests run in file order on one call: it connects across the link, survives
a cut (noticed, recorded, resumed by itself), then a lossy link makes the
station stop video by itself while sound and vitals go on, and video comes
back when the link heals.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
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
from tests.netlab import NetLab, unavailable

WHY_NOT = unavailable()
pytestmark = [needs_chromium, pytest.mark.skipif(WHY_NOT is not None, reason=str(WHY_NOT))]

DETECTION_LIMIT = 5.0  # the contract: a dropped network is noticed within 5 s
CUT_SECONDS = 8.0
LOSS_PERCENT = 25  # well above the 10 % at which video stops


@pytest.fixture(scope="module")
def lab() -> Iterator[NetLab]:
    with NetLab() as running:
        yield running


@pytest.fixture(scope="module")
def station(lab: NetLab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    running = Station(tmp_path_factory.mktemp("station-home"), prefix=lab.prefix("station"),
                      options=["--host", lab.station_ip])
    yield running
    running.stop()


@pytest.fixture(scope="module")
def page(lab: NetLab, station: Station, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Any]:
    chromium = lab.wrapper("doctor", CHROMIUM, tmp_path_factory.mktemp("bin"))
    with sync_api.sync_playwright() as playwright:
        # A browser hides host addresses behind mDNS names nobody resolves here.
        browser = playwright.chromium.launch(executable_path=str(chromium), args=[
            *CHROMIUM_ARGS, "--disable-features=WebRtcHideLocalIpsWithMdns"])
        context = browser.new_context(viewport={"width": 1440, "height": 900},
                                      locale="fr-FR", timezone_id="Europe/Paris")
        yield join(context.new_page(), station.link)
        browser.close()


def call_state(page: Any) -> str:
    return str(page.get_by_test_id("call-state").get_attribute("data-state"))


def test_the_call_connects_across_the_link(page: Any, station: Station, lab: NetLab) -> None:
    sync_api.expect(page.get_by_test_id("call-state")).to_contain_text(
        "En communication", timeout=TIMEOUT * 1000)
    assert station.link.startswith(f"https://{lab.station_ip}:")  # TLS only
    assert_rising(page, "video-room", "video")
    assert_rising(page, "audio-stethoscope", "audio")


def test_a_cut_is_noticed_recorded_and_the_call_resumes_by_itself(
        page: Any, station: Station, lab: NetLab) -> None:
    lab.cut()
    cut_at = time.monotonic()
    try:
        wait_for(lambda: station.incidents("call_dropped"), "call_dropped incident")
        noticed = time.monotonic() - cut_at
        wait_for(lambda: call_state(page) == "reconnecting", "the doctor sees the reconnection")
        time.sleep(max(0.0, CUT_SECONDS - (time.monotonic() - cut_at)))
    finally:
        lab.heal()
    assert noticed <= DETECTION_LIMIT + 1.0, f"noticed after {noticed:.1f} s:\n" + "\n".join(
        station.lines[-30:])
    restored = wait_for(lambda: station.incidents("call_restored"), "call_restored incident")
    assert "coupure de" in restored[0]["detail"]
    sync_api.expect(page.get_by_test_id("call-state")).to_contain_text(
        "En communication", timeout=TIMEOUT * 1000)
    assert_rising(page, "video-room", "video")
    assert_rising(page, "audio-stethoscope", "audio")
    # no measurement lost: everything stored until just now reached the console
    stored = {row[0] for row in station.query(
        "SELECT id FROM measurements WHERE session_id = ?", station.session_id)}
    wait_for(lambda: stored <= set(page.evaluate(
        "Array.from(window.__console.state.seenVitals)")), "every stored measurement shown")


def test_a_lossy_link_stops_video_and_sound_and_vitals_go_on(
        page: Any, station: Station, lab: NetLab) -> None:
    lab.lose(LOSS_PERCENT)
    try:
        stopped = wait_for(lambda: station.incidents("video_stopped"), "video_stopped incident",
                           timeout=60)
        assert "réseau trop faible" in stopped[0]["detail"]
        sync_api.expect(page.locator("#audio-only-cover")).to_be_visible()
        sync_api.expect(page.locator("#audio-only-detail")).to_contain_text("Réseau trop faible")
        assert_rising(page, "audio-stethoscope", "audio")
        spo2 = page.get_by_test_id("vital-spo2")
        shown = spo2.get_attribute("data-time")
        wait_for(lambda: spo2.get_attribute("data-time") != shown,
                 "a new SpO2 reading arrives")
    finally:
        lab.heal()


def test_video_comes_back_by_itself_when_the_link_heals(
        page: Any, station: Station) -> None:
    resumed = wait_for(lambda: station.incidents("video_resumed"), "video_resumed incident",
                       timeout=90)
    assert "coupée de" in resumed[0]["detail"]
    sync_api.expect(page.locator("#audio-only-cover")).to_be_hidden(timeout=TIMEOUT * 1000)
    frames = counter(page, "video-room", "video")
    wait_for(lambda: counter(page, "video-room", "video") > frames + 10, "video decodes again")


def test_the_station_stops_cleanly(station: Station) -> None:
    assert station.stop() == 0, "\n".join(station.lines[-30:])
