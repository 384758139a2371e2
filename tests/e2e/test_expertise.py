"""Télé-expertise end to end: the e-mail on a real SMTP server, the expert in Chromium.

The station's store, its embedded signaling server (in a thread with its own
loop), a loopback SMTP relay configured in ``station.toml``: the nurse's
request is sent, the link is read from the e-mail the relay received, headless
Chromium opens it, checks the photos at full resolution (size and SHA-256 of
the bytes) and plays a clip, answers; the station then holds the validated
télé-expertise report, queued to its recipients.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from station.expertise import Expertise, RequestState
from station.outbox import OutboxWorker, load_outbox_config
from station.people import NurseAccount
from station.report.content import ReportContent
from station.signaling.runner import RunningServer, start_embedded
from station.store.database import Store
from station.store.residents import Resident
from tests.conftest import FakeClock
from tests.e2e.doctor_browser import CHROMIUM, CHROMIUM_ARGS, ROOT, TIMEOUT, needs_chromium
from tests.expertise.conftest import EXPERT, EXPERT_RPPS, build_session
from tests.outbox.conftest import send_until_settled
from tests.outbox.servers import LoopbackSmtp, ScriptedHandler

sync_api = pytest.importorskip("playwright.sync_api")
SCREENSHOT = ROOT / "docs" / "screenshots" / "expert-page.png"
SHA256_IN_PAGE = """async (url) => {
  const buffer = await (await fetch(url)).arrayBuffer();
  const digest = await crypto.subtle.digest("SHA-256", buffer);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}"""


class ServerThread:
    """The station's embedded signaling server on its own loop, in a thread."""

    def __init__(self, store: Store) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.server: RunningServer = asyncio.run_coroutine_threadsafe(
            start_embedded(store), self.loop).result(10)

    def stop(self) -> None:
        asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.fixture
def relay(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ScriptedHandler]:
    """A loopback relay, and the station's station.toml pointing at it."""
    handler = ScriptedHandler()
    with LoopbackSmtp(handler) as smtp:
        home = tmp_path / "home"
        home.mkdir()
        (home / "station.toml").write_text(f"""
[outbox]
sender = "ehpad-les-tilleuls@ehpad.mssante.test"
relay_host = "127.0.0.1"
relay_port = {smtp.port}
starttls = false
allow_plaintext = true
backoff_initial_s = 0.05
backoff_max_s = 0.2

[report]
recipients = [
  {{ address = "traitant@med.mssante.test", name = "Dr Anne Moreau", role = "médecin traitant" }},
  {{ address = "soins@ehpad.mssante.test", name = "Équipe soignante", role = "équipe EHPAD" }},
]
""", encoding="utf-8")
        monkeypatch.setenv("STATION_HOME", str(home))
        yield handler


def exam_image(width: int = 1280, height: int = 960) -> np.ndarray:
    """A textured still (a skin-like gradient with noise), BGR."""
    y, x = np.mgrid[0:height, 0:width]
    rng = np.random.default_rng(11)
    base = np.stack([(x * 255 // width), (y * 255 // height), ((x + y) * 127 // (width + height))],
                    axis=-1)
    return np.clip(base + rng.integers(0, 40, (height, width, 3)), 0, 255).astype(np.uint8)


@needs_chromium
def test_the_expert_answers_from_the_emailed_link(
        store: Store, nurse: NurseAccount, resident: Resident, clock: FakeClock,
        relay: ScriptedHandler) -> None:
    built = build_session(store, nurse, resident, clock, image=exam_image())
    config = load_outbox_config()
    expertise = Expertise.from_config(store)
    request = expertise.create(built.engine.id, "Lésion du talon droit depuis 10 jours :"
                               " escarre ou autre ? Conduite à tenir ?", EXPERT)
    server = ServerThread(store)
    try:
        expertise.send(request.id, server.server.url)
        send_until_settled(OutboxWorker(expertise.outbox, config))
        (raw,) = relay.received()[EXPERT.email]
        mail = email.message_from_bytes(raw, policy=email.policy.default)
        body = mail.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
        match = re.search(r"https://127\.0\.0\.1:\d+/expertise/[A-Za-z0-9_-]+", body)
        assert match is not None, body
        link = match.group(0)
        photo = store.conn.execute("SELECT width, height, file_sha256 FROM snapshots"
                                   " WHERE id = ?", (built.photo_id,)).fetchone()

        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM,
                args=[*CHROMIUM_ARGS, "--autoplay-policy=no-user-gesture-required"])
            try:
                page = browser.new_page(viewport={"width": 1440, "height": 1000})
                page.set_default_timeout(TIMEOUT * 1000)
                page.goto(link)
                page.wait_for_selector("body[data-loaded='true']")
                assert "escarre ou autre" in page.get_by_test_id("expert-question").inner_text()
                images = page.get_by_test_id("expert-photos").locator("img")
                assert images.count() == 1
                page.wait_for_function(
                    "() => document.querySelector('[data-testid=expert-photos] img')"
                    ".naturalWidth > 0")
                natural = images.first.evaluate("img => [img.naturalWidth, img.naturalHeight]")
                assert natural == [photo[0], photo[1]] == [1280, 960]
                material = page.evaluate("window.__expert.material")
                assert page.evaluate(SHA256_IN_PAGE, material["photos"][0]["url"]) == photo[2]
                clips = page.get_by_test_id("expert-clip")
                assert clips.count() == 2
                duration = clips.first.evaluate(
                    "async a => { if (!(a.duration > 0)) await new Promise(r =>"
                    " a.addEventListener('loadedmetadata', r, {once: true}));"
                    " await a.play(); return a.duration; }")
                assert duration == pytest.approx(0.5, abs=0.05)
                page.wait_for_function(
                    "() => document.querySelector('[data-testid=expert-clip]').currentTime > 0")
                rows = page.get_by_test_id("expert-measurements").locator("tbody tr")
                assert rows.count() == 3
                assert "°C" in page.get_by_test_id("expert-measurements").inner_text()
                page.locator("#answer-rpps").fill(EXPERT_RPPS)
                page.get_by_test_id("expert-conclusion").fill(
                    "Escarre de stade 2 du talon droit, sans signe d'infection.")
                page.get_by_test_id("expert-prescriptions").fill(
                    "Décharge complète du talon, pansement hydrocolloïde, contrôle à 7 jours.")
                SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(SCREENSHOT), full_page=True)
                page.get_by_test_id("expert-submit").click()
                page.get_by_test_id("expert-done").wait_for(state="visible")
                page.goto(link)  # the link is used now
                assert "Lien déjà utilisé" in page.content()
            finally:
                browser.close()
    finally:
        server.stop()

    done = expertise.get(request.id)
    assert done.state is RequestState.REPORTED
    version = expertise.reports.get(str(done.report_id))
    assert version.is_validated and version.validated_rpps == EXPERT_RPPS
    content = ReportContent.from_json(version.content_json)
    assert [b.code for b in content.billing] == ["TE2"]
    assert content.act.value == "tele_expertise"
    queued = {d.address: d.state.value
              for d in expertise.outbox.deliveries(session_id=built.engine.id)}
    assert queued == {"traitant@med.mssante.test": "queued",
                      "soins@ehpad.mssante.test": "queued", EXPERT.email: "queued"}
