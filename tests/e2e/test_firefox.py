"""The doctor console in Firefox: join, both videos and the stethoscope, live vitals.

Debian's firefox-esr, headless, driven over Marionette (tests/e2e/marionette.py)
against a real ``station demo --wait-for-doctor``. The console must work in
both browsers a doctor may have, with no install; Chromium is covered in
detail by test_doctor_call.py, this checks the same essentials in Firefox.

Firefox gathers no loopback ICE candidate (its loopback preferences did not
help), so the station listens on this machine's own address instead of
127.0.0.1; the packets still never leave the machine.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.doctor_browser import ROOT, RPPS, TIMEOUT, Station
from tests.e2e.marionette import FIREFOX, Firefox


def own_address() -> str | None:
    """This machine's first global IPv4 address, if it has one."""
    found = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                           capture_output=True, text=True, check=False).stdout.split()
    addresses = [found[i + 1].split("/")[0] for i, word in enumerate(found) if word == "inet"]
    for address in addresses:
        try:
            socket.inet_aton(address)
            return address
        except OSError:
            continue
    return None


HOST = own_address()
pytestmark = [
    pytest.mark.skipif(not os.path.exists(FIREFOX), reason="Debian firefox-esr not installed"),
    pytest.mark.skipif(HOST is None, reason="no non-loopback IPv4 address for Firefox's ICE"),
]
SCREENSHOT = ROOT / "docs" / "screenshots" / "console-firefox.png"

# One receiver's inbound counter: frames decoded (video) or audio energy (sound).
RECEIVED = """
const [testid, kind] = arguments;
return (async () => {
  const pc = window.__console && window.__console.pc;
  const media = document.querySelector(`[data-testid="${testid}"]`);
  if (!pc || !media || !media.srcObject) return null;
  const tracks = kind === "video" ? media.srcObject.getVideoTracks()
                                  : media.srcObject.getAudioTracks();
  const receiver = tracks.length && pc.getReceivers().find((r) => r.track === tracks[0]);
  if (!receiver) return null;
  let value = null;
  (await receiver.getStats()).forEach((r) => {
    if (r.type === "inbound-rtp")
      value = kind === "video" ? (r.framesDecoded || 0)
                               : (r.totalAudioEnergy ?? r.bytesReceived ?? 0);
  });
  return value;
})();
"""

JOIN = """
const [name, rpps] = arguments;
const set = (id, value) => {
  const input = document.querySelector(`[data-testid="${id}"]`);
  input.value = value;
  input.dispatchEvent(new Event("input", { bubbles: true }));
  input.dispatchEvent(new Event("change", { bubbles: true }));
};
set("join-name", name);
set("join-rpps", rpps);
document.querySelector('[data-testid="join-submit"]').click();
return true;
"""


def wait_value(firefox: Firefox, script: str, *args: Any, above: float = 0.0) -> float:
    """Poll a script until it returns a number above ``above``; fail after TIMEOUT."""
    deadline = time.monotonic() + TIMEOUT
    value = None
    while time.monotonic() < deadline:
        value = firefox.run(script, *args)
        if isinstance(value, int | float) and value > above:
            return float(value)
        time.sleep(0.3)
    raise AssertionError(f"{args}: still {value!r} after {TIMEOUT} s")


def assert_rising(firefox: Firefox, testid: str, kind: str) -> None:
    first = wait_value(firefox, RECEIVED, testid, kind)
    wait_value(firefox, RECEIVED, testid, kind, above=first)


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    running = Station(tmp_path_factory.mktemp("station-home"), options=["--host", str(HOST)])
    yield running
    running.stop()


@pytest.fixture(scope="module")
def firefox(station: Station) -> Iterator[Firefox]:
    with Firefox(timeout=TIMEOUT) as browser:
        browser.navigate(station.link)
        wait_value(browser, "return window.__console ? 1 : 0;")
        browser.run(JOIN, "Dr Jeanne Lefèvre", RPPS)
        yield browser


def test_the_doctor_joins_from_firefox(firefox: Firefox, station: Station) -> None:
    wait_value(firefox, 'return document.querySelector(\'[data-testid="call-state"]\')'
                        '.dataset.state === "connected" ? 1 : 0;')
    assert station.events("doctor_joined")[0]["rpps"] == RPPS


def test_firefox_decodes_both_videos_and_plays_the_stethoscope(firefox: Firefox) -> None:
    assert_rising(firefox, "video-room", "video")
    assert_rising(firefox, "video-exam", "video")
    assert_rising(firefox, "audio-stethoscope", "audio")


def test_firefox_shows_live_vitals(firefox: Firefox) -> None:
    wait_value(firefox, 'const t = document.querySelector(\'[data-testid="vital-spo2"]\');'
                        'return t.dataset.empty === "false" ? Number(t.dataset.value) : 0;')
    time.sleep(1.0)  # let the layout settle for the picture
    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    firefox.screenshot(SCREENSHOT)
    assert SCREENSHOT.stat().st_size > 10_000
