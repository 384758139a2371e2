"""A live teleconsultation, end to end: ``station demo --wait-for-doctor`` and a real browser.

The station runs as a real subprocess (simulated instruments, embedded
signaling server on an ephemeral port); headless Chromium opens the
DOCTOR-LINK it prints, joins, and the tests check what the doctor gets
against what the station stored. The tests share one station and one page
and run in file order (join, media, data, link reuse, network cut, stop).

A network cut through a real link, the automatic switch to sound only and an
expired link are in test_network.py and test_expired_link.py.
"""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.doctor_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    RPPS,
    SCREENSHOT,
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
    return join(context.new_page(), station.link)


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


def test_the_station_hears_the_doctor(page: Any, station: Station) -> None:
    """Chromium's fake microphone beeps: the station decodes the doctor's voice track."""
    wait_for(lambda: any("La voix du médecin est reçue" in line for line in station.lines),
             "the doctor's voice at the station")


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


def test_the_doctor_validates_and_the_report_is_stored_and_sent(page: Any,
                                                               station: Station) -> None:
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("report-validate").click()
    sync_api.expect(page.get_by_test_id("report-validated")).to_contain_text(
        "Compte rendu validé (version 1)", timeout=TIMEOUT * 1000)
    rows = station.query("SELECT state, version, content, pdf_sha256, validated_rpps"
                         " FROM reports WHERE session_id = ?", station.session_id)
    assert len(rows) == 1
    state, version, content, pdf_sha256, rpps = rows[0]
    assert (state, version, rpps) == ("validated", 1, RPPS)
    assert "Otite moyenne aiguë droite" in content
    assert page.get_by_test_id("report-conclusion").is_disabled()
    page.locator("#report-form").screenshot(
        path=str(SCREENSHOT.with_name("console-report-validated.png")))
    # the demo's record system is a drop folder: the same PDF arrives there
    dropped = wait_for(lambda: list((station.store_path.parent / "envois").glob(
        "*compte-rendu-v1.pdf")), "the PDF in the drop folder")
    assert hashlib.sha256(dropped[0].read_bytes()).hexdigest() == pdf_sha256
    wait_for(lambda: any(e.get("state") == "sent" for e in station.events("transition")),
             "the session marked sent")


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
    page.evaluate("window.scrollTo(0, 0)")
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
