"""The doctor's console (resources/web) in a real headless Chromium.

The signaling server is not needed: a tiny HTTP server serves the page at
/join/<token> and the assets at /web/, answers /api/config and a fake
/api/join, and the tests drive the UI through the console's own message
handlers (``window.__console``) with messages from docs/call-protocol.md.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from station.signaling.headers import CONTENT_SECURITY_POLICY

sync_api = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[2]
WEB = ROOT / "resources" / "web"
SCREENSHOTS = ROOT / "docs" / "screenshots"
JS = Path(__file__).with_name("js")  # page scripts run with page.evaluate
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--allow-loopback-in-peer-connection",
]
TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".png": "image/png",
    ".svg": "image/svg+xml",
}
BAD_RPPS = "00000000000"

pytestmark = pytest.mark.skipif(
    not os.path.exists(CHROMIUM), reason="Debian chromium not installed"
)


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # keep pytest output clean
        pass

    def _send(self, status: int, body: bytes, ctype: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        # The signaling server's policy: the console must run under it (no inline
        # script or style, no eval); a violation is a console error the tests see.
        self.send_header("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path.startswith("/join/"):
            return self._send(200, (WEB / "console.html").read_bytes(), TYPES[".html"])
        if path == "/api/config":
            return self._send(200, b'{"iceServers": []}', "application/json")
        if path.startswith("/web/"):
            f = (WEB / path[len("/web/") :]).resolve()
            if f.is_file() and WEB in f.parents:
                return self._send(
                    200, f.read_bytes(), TYPES.get(f.suffix, "application/octet-stream")
                )
        if path == "/favicon.ico":
            return self._send(204, b"", "image/x-icon")
        return self._send(404, b"not found", "text/plain")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        if body.get("rpps") == BAD_RPPS:
            err = {
                "error": "bad_rpps",
                "field": "rpps",
                "message": "Numéro RPPS invalide : clé de contrôle incorrecte.",
            }
            return self._send(400, json.dumps(err).encode(), "application/json")
        return self._send(200, b'{"ticket": "t", "session": "s"}', "application/json")


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


class Page:
    """A page plus the console errors it logged."""

    def __init__(self, page: object) -> None:
        self.page = page
        self.errors: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))


@pytest.fixture
def console(browser: object, base_url: str) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1440, "height": 900}, locale="fr-FR", timezone_id="Europe/Paris"
    )
    page = context.new_page()
    wrapped = Page(page)
    page.goto(f"{base_url}/join/AbCdEf123_test-token")
    page.wait_for_function("() => window.__console !== undefined")
    yield wrapped
    context.close()


def tid(page: object, name: str) -> object:
    return page.locator(f'[data-testid="{name}"]')


# ------------------------------------------------------------------ contract messages
NOW = datetime.now(UTC).replace(microsecond=0)


def iso(dt: datetime) -> str:
    return dt.isoformat().replace("+00:00", "Z")


def context_msg(with_ins: bool = True) -> dict:
    resident = {"name": "Jeanne MARTIN", "age": 94, "sex": "F"}
    if with_ins:
        resident["ins"] = "232047505601214"
    history = []
    series = {
        "spo2": ("%", [95, 96, 94, 95, 93, 96]),
        "pulse_rate": ("/min", [72, 78, 75, 81, 77, 74]),
        "body_temperature": ("Cel", [36.8, 37.1, 36.9, 37.6, 38.2, 37.4]),
        "systolic": ("mm[Hg]", [132, 128, 141, 137, 126, 130]),
        "diastolic": ("mm[Hg]", [74, 70, 82, 79, 71, 73]),
        "body_weight": ("kg", [58.2, 57.9, 57.6, 57.1, 56.8, 56.4]),
    }
    for kind, (unit, values) in series.items():
        for i, v in enumerate(values):
            history.append(
                {
                    "kind": kind,
                    "value": v,
                    "unit": unit,
                    "time": iso(NOW - timedelta(days=7 * (6 - i))),
                }
            )
    return {
        "type": "context",
        "resident": resident,
        "nurse": "Sophie Leroy (IDE)",
        "station": "EHPAD Les Tilleuls — chariot 1",
        "history": history,
        "reports": [
            {
                "time": iso(NOW - timedelta(days=21)),
                "title": "Téléconsultation — Dr Bernard (médecine générale) : bronchite",
            },
            {
                "time": iso(NOW - timedelta(days=64)),
                "title": "Télé-expertise — dermatologie : lésion de la jambe droite",
            },
        ],
    }


def measurement(
    kind: str, value: float | None, unit: str, decimals: int, quality: list[str] | None = None
) -> dict:
    return {
        "type": "measurement",
        "kind": kind,
        "value": value,
        "unit": unit,
        "decimals": decimals,
        "time": iso(NOW),
        "device": "ble://AA:BB:CC:DD:EE:FF",
        "quality": quality or [],
    }


MEASUREMENTS = [
    measurement("spo2", 97, "%", 0),
    measurement("pulse_rate", 82, "/min", 0, ["irregular_pulse"]),
    measurement("body_temperature", 37.6, "Cel", 1),
    measurement("systolic", 138, "mm[Hg]", 0),
    measurement("diastolic", 76, "mm[Hg]", 0),
    measurement("body_weight", 56.4, "kg", 1),
]

RENDER_DEMO = (JS / "render_demo.js").read_text(encoding="utf-8")

SNAPSHOT_JS = (JS / "snapshot.js").read_text(encoding="utf-8")

FAKE_VIDEO_JS = (JS / "fake_video.js").read_text(encoding="utf-8")


# ------------------------------------------------------------------ tests
def test_join_form_has_fields_and_shows_errors(console: Page) -> None:
    page = console.page
    for name in ("join-name", "join-rpps", "join-specialty", "join-submit"):
        assert tid(page, name).is_visible(), name
    specialties = tid(page, "join-specialty").locator("option").all_inner_texts()
    for s in (
        "Médecine générale",
        "Gériatrie",
        "Dermatologie",
        "Psychiatrie",
        "Cardiologie",
        "Soins palliatifs",
        "Autre",
    ):
        assert s in specialties
    body = page.inner_text("body")
    assert "Rejoindre la téléconsultation" in body and "Numéro RPPS" in body
    assert page.evaluate("window.__console.state.token") == "AbCdEf123_test-token"

    # client-side check: 11 digits
    tid(page, "join-name").fill("Dr Marie Dupont")
    tid(page, "join-rpps").fill("1234")
    tid(page, "join-submit").click()
    assert "11 chiffres" in page.locator("#join-rpps-error").inner_text()
    assert tid(page, "join-rpps").get_attribute("aria-invalid") == "true"

    # the server's French message is shown next to the field it names
    tid(page, "join-rpps").fill(BAD_RPPS)
    tid(page, "join-submit").click()
    page.wait_for_function(
        "() => document.getElementById('join-rpps-error').textContent.includes('clé de contrôle')"
    )
    assert page.locator("#join-rpps-error").is_visible()
    assert page.locator("#join-view").is_visible()  # still on the form
    # the only console error is Chromium's log of the 400 response
    assert all("400" in e for e in console.errors), console.errors

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tid(page, "join-rpps").fill("")
    tid(page, "join-name").fill("")
    page.evaluate(
        "document.querySelectorAll('.field-error').forEach(e => e.hidden = true);"
        "document.querySelectorAll('[aria-invalid]')"
        ".forEach(e => e.removeAttribute('aria-invalid'))"
    )
    page.mouse.move(0, 0)
    page.screenshot(path=str(SCREENSHOTS / "console-join.png"))


def test_in_call_view_shows_context_vitals_and_report(console: Page) -> None:
    page = console.page
    page.evaluate(RENDER_DEMO, {"ctx": context_msg(), "measurements": MEASUREMENTS})
    assert page.locator("#call-view").is_visible()
    assert not page.locator("#join-view").is_visible()

    assert "97" in tid(page, "vital-spo2").inner_text()
    assert tid(page, "vital-spo2").get_attribute("data-value") == "97"
    assert "82" in tid(page, "vital-pulse_rate").inner_text()
    assert "pouls irrégulier" in tid(page, "vital-pulse_rate").inner_text()
    temp = tid(page, "vital-body_temperature")
    assert "37,6" in temp.inner_text() and "°C" in temp.inner_text()
    assert float(temp.get_attribute("data-value")) == 37.6
    assert tid(page, "vital-systolic").get_attribute("data-value") == "138"
    assert tid(page, "vital-diastolic").get_attribute("data-value") == "76"
    assert "56,4" in tid(page, "vital-body_weight").inner_text()

    header = page.locator(".topbar").inner_text()
    assert "Jeanne MARTIN" in header and "94 ans" in header and "Femme" in header
    assert "INS 2 32 04 75 056 012 14" in header
    assert "Sophie Leroy" in header
    assert tid(page, "call-state").inner_text().startswith("En communication")

    assert "crépitants" in tid(page, "report-conclusion").input_value()
    assert page.locator("#report-billing-nurse").input_value() == "TLS"
    assert "infirmier" in page.locator("#report-status").inner_text()
    assert page.locator(".trend").count() == 6
    assert "bronchite" in page.locator("#reports").inner_text()
    for label in (
        "Constantes en direct",
        "Stéthoscope",
        "Compte rendu",
        "Photos d’examen",
        "Évolution des constantes",
        "Comptes rendus antérieurs",
        "Terminer",
        "Audio seul",
    ):
        assert label in page.inner_text("body"), label
    for name in (
        "video-room",
        "video-exam",
        "audio-stethoscope",
        "snapshot-gallery",
        "report-prescriptions",
        "call-end",
    ):
        assert tid(page, name).count() == 1, name

    # flagged value: finger out, no value
    page.evaluate(
        "m => window.__console.handleVitals(m)", measurement("spo2", None, "%", 0, ["finger_out"])
    )
    assert "doigt retiré" in tid(page, "vital-spo2").inner_text()
    assert tid(page, "vital-spo2").get_attribute("data-value") == ""
    page.evaluate("m => window.__console.handleVitals(m)", measurement("spo2", 97, "%", 0))
    assert not console.errors, console.errors


def test_ins_hidden_without_qualified_identity(console: Page) -> None:
    page = console.page
    page.evaluate(RENDER_DEMO, {"ctx": context_msg(with_ins=False), "measurements": []})
    assert "Jeanne MARTIN" in page.locator(".topbar").inner_text()
    assert "INS" not in page.locator(".topbar").inner_text()
    assert tid(page, "resident-ins").count() == 0
    assert not console.errors, console.errors


def test_snapshots_checked_with_sha256(console: Page) -> None:
    page = console.page
    page.evaluate(RENDER_DEMO, {"ctx": context_msg(), "measurements": MEASUREMENTS})
    good = page.evaluate(SNAPSHOT_JS, {"id": 1, "wrong": False, "exam": "dermatoscope"})
    bad = page.evaluate(SNAPSHOT_JS, {"id": 2, "wrong": True, "exam": "otoscope"})
    assert good["ok"] is True and good["size"] > 16384  # several chunks
    assert bad["ok"] is False
    gallery = tid(page, "snapshot-gallery")
    assert gallery.locator("img").count() == 2
    assert gallery.locator('[data-testid="snapshot-mismatch"]').count() == 1
    assert (
        gallery.locator('.thumb[data-snapshot="snap-2"] [data-testid="snapshot-mismatch"]').count()
        == 1
    )
    assert "Intégrité non vérifiée" in gallery.inner_text()

    # full-resolution viewer: wheel zooms, drag pans
    gallery.locator('.thumb[data-snapshot="snap-1"]').click()
    viewer = page.locator("#viewer")
    assert viewer.is_visible()
    page.wait_for_function("() => document.getElementById('viewer-img').naturalWidth === 800")
    before = page.locator("#viewer-zoom").inner_text()
    box = page.locator("#viewer-canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    page.mouse.wheel(0, -400)
    page.wait_for_function(
        f"() => document.getElementById('viewer-zoom').textContent !== {before!r}")
    t1 = page.locator("#viewer-img").evaluate("e => e.style.transform")
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2 + 80, box["y"] + box["height"] / 2 + 30)
    page.mouse.up()
    assert page.locator("#viewer-img").evaluate("e => e.style.transform") != t1
    page.keyboard.press("Escape")
    assert not viewer.is_visible()
    assert all("SHA-256" not in e for e in console.errors)
    assert not console.errors, console.errors


def test_report_edits_are_sent_with_revisions(console: Page) -> None:
    page = console.page
    page.evaluate(RENDER_DEMO, {"ctx": context_msg(), "measurements": []})
    tid(page, "report-prescriptions").fill("Amoxicilline 1 g × 3/j pendant 7 jours.")
    page.wait_for_function(
        "() => window.__console.sent.some(s => s.channel === 'report')", timeout=5000)
    drafts = [s["msg"] for s in page.evaluate("window.__console.sent") if s["channel"] == "report"]
    assert len(drafts) == 1  # debounced
    d = drafts[0]
    assert (
        d["type"] == "report-draft" and d["author"] == "doctor" and d["revision"] == 4
    )  # after the nurse's 3
    assert d["fields"]["prescriptions"].startswith("Amoxicilline")
    assert d["fields"]["act"] == "teleconsultation" and d["fields"]["billing"] == ["TCG", "TLS"]
    page.select_option("#report-act", "tele-expertise")
    page.wait_for_function(
        "() => window.__console.sent.filter(s => s.channel === 'report').length === 2")
    last = page.evaluate("window.__console.sent.filter(s => s.channel === 'report').pop().msg")
    assert last["revision"] == 5 and last["fields"]["billing"] == ["TE2"]
    assert (
        "révision 5" in page.locator("#report-status").inner_text()
    )  # no channel here: kept locally
    assert not console.errors, console.errors


def test_call_states_audio_only_and_end(console: Page) -> None:
    page = console.page
    page.evaluate("window.__console.enterCall()")
    state = tid(page, "call-state")
    assert state.inner_text().startswith("En attente")
    page.evaluate(
        "window.__console.handleVitals({type: 'call-state', state: 'connected', audio_only: false})"
    )
    assert state.inner_text().startswith("En communication")
    page.evaluate(
        "window.__console.handleVitals("
        "{type: 'call-state', state: 'reconnecting', audio_only: false})"
    )
    assert state.inner_text().startswith("Reconnexion")
    page.evaluate(
        "window.__console.handleVitals({type: 'call-state', state: 'connected', audio_only: false})"
    )

    page.locator("#audio-only").click()
    assert page.locator("#audio-only").get_attribute("aria-pressed") == "true"
    assert page.locator("#audio-only-cover").is_visible()
    sent = page.evaluate("window.__console.sent")
    assert {"channel": "control", "msg": {"type": "audio-only", "on": True}} in sent

    tid(page, "call-end").click()
    assert page.locator("#end-dialog").is_visible()
    page.get_by_role("button", name="Continuer l’appel").click()
    assert page.evaluate("window.__console.state.callState") == "connected"
    tid(page, "call-end").click()
    page.locator("#end-confirm").click()
    page.wait_for_function(
        "() => window.__console.state.callState === 'ended'"
    )  # the dialog's close event is async
    assert state.inner_text().startswith("Terminée")
    sent = page.evaluate("window.__console.sent")
    assert {"channel": "control", "msg": {"type": "end"}} in sent
    assert any(s["channel"] == "ws" and s["msg"]["type"] == "bye" for s in sent)
    assert "Téléconsultation terminée" in page.locator("#banner").inner_text()
    assert not console.errors, console.errors


def test_stethoscope_playback_is_its_own_element(console: Page) -> None:
    page = console.page
    page.evaluate("window.__console.enterCall()")
    steth = tid(page, "audio-stethoscope")
    assert steth.evaluate("e => e.tagName") == "AUDIO"
    page.locator("#steth-volume").fill("0.35")
    assert abs(steth.evaluate("e => e.volume") - 0.35) < 1e-6
    assert page.locator("#steth-volume-out").inner_text() == "35 %"
    assert not console.errors, console.errors


def test_screenshot_in_call(console: Page) -> None:
    page = console.page
    page.evaluate(RENDER_DEMO, {"ctx": context_msg(), "measurements": MEASUREMENTS})
    page.evaluate(FAKE_VIDEO_JS)
    page.evaluate(SNAPSHOT_JS, {"id": 1, "wrong": False, "exam": "dermatoscope"})
    page.evaluate(SNAPSHOT_JS, {"id": 2, "wrong": False, "exam": "otoscope"})
    page.evaluate(SNAPSHOT_JS, {"id": 3, "wrong": True, "exam": "dermatoscope"})
    page.evaluate("window.__console.state.connectedAt = Date.now() - 372000")
    page.evaluate("document.getElementById('toast').hidden = true")
    page.wait_for_timeout(300)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "console-call.png"))
    page.screenshot(path=str(SCREENSHOTS / "console-call-full.png"), full_page=True)
    assert not console.errors, console.errors


def test_sha256_fallback_matches_hashlib(console: Page) -> None:
    page = console.page
    data = bytes(range(256)) * 300 + b"xyz"
    got = page.evaluate(
        """async (arr) => {
      const m = await import('/web/sha256.js');
      const buf = new Uint8Array(arr).buffer;
      return [m.sha256Sync(buf), await m.sha256Hex(buf), m.sha256Sync(new ArrayBuffer(0))];
    }""",
        list(data),
    )
    assert got[0] == got[1] == hashlib.sha256(data).hexdigest()
    assert got[2] == hashlib.sha256(b"").hexdigest()


def test_chromium_binary_is_debian() -> None:
    assert shutil.which(CHROMIUM) or os.path.exists(CHROMIUM)


# ---------------------------------------------------------- real WebRTC against an in-page station
STATION_JS = (JS / "station.js").read_text(encoding="utf-8")


def test_webrtc_call_with_in_page_station(console: Page) -> None:
    page = console.page
    page.evaluate("window.__console.enterCall()")
    page.evaluate(STATION_JS)
    answer = page.evaluate("window.__station.connect()")
    assert "a=sendrecv" in answer  # the doctor's voice goes back on the voice transceiver
    page.wait_for_function("() => window.__console.state.callState === 'connected'", timeout=15000)
    page.wait_for_function(
        "() => document.getElementById('video-room').videoWidth > 0", timeout=10000)
    page.wait_for_function(
        "() => document.getElementById('video-exam').videoWidth > 0", timeout=10000)
    assert (
        page.evaluate(
            "document.getElementById('audio-stethoscope').srcObject.getAudioTracks().length"
        )
        == 1
    )
    assert (
        page.evaluate("document.getElementById('audio-voice').srcObject.getAudioTracks().length")
        == 1
    )
    # the station hears the doctor on the voice transceiver (third m-line)
    assert page.evaluate("window.__station.pc.getTransceivers()[2].currentDirection") == "sendrecv"

    page.evaluate("m => window.__station.ch.vitals.send(JSON.stringify(m))", context_msg())
    page.evaluate("m => window.__station.ch.vitals.send(JSON.stringify(m))", MEASUREMENTS[0])
    page.wait_for_function(
        "() => document.querySelector('[data-testid=vital-spo2]').dataset.value === '97'"
    )
    assert "Jeanne MARTIN" in page.locator("#resident-name").inner_text()

    tid(page, "report-conclusion").fill("RAS")
    page.wait_for_function(
        "() => window.__station.received.some(([l, m]) => l === 'report')", timeout=5000
    )
    page.locator("#audio-only").click()
    page.wait_for_function(
        "() => window.__station.received.some("
        "([l, m]) => l === 'control' && m.type === 'audio-only' && m.on)"
    )

    # reconnection: a new offer on the same session gives a new RTCPeerConnection
    first = page.evaluate("window.__console.pc !== null")
    page.evaluate("window.__station.pc.close()")
    page.evaluate("window.__station.connect()")
    page.wait_for_function(
        "() => window.__console.pc.connectionState === 'connected'", timeout=15000)
    assert first
    page.evaluate(
        "m => window.__station.ch.vitals.send(JSON.stringify(m))", measurement("spo2", 95, "%", 0)
    )
    page.wait_for_function(
        "() => document.querySelector('[data-testid=vital-spo2]').dataset.value === '95'"
    )
    page.evaluate("window.__station.pc.close()")
    assert not console.errors, console.errors
