"""The doctor's console over HTTPS in Chromium: a secure context, under a CSP that
lets the console run and stops an injected inline script.

The station's embedded server runs on its local self-signed certificate (the
demo's); Chromium accepts it through the demo's flags. The page must be
served over https: (on 127.0.0.1 plain http would be a secure context too,
so the protocol is checked as well), the console's module must run with no
Content-Security-Policy complaint, and a script injected inline must not.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.signaling.runner import RunningServer, start_embedded
from station.signaling.tls import TlsSettings
from station.store.database import Store
from tests.e2e.doctor_browser import CHROMIUM, CHROMIUM_ARGS, TIMEOUT, needs_chromium, sync_api
from tests.signaling.helpers import SESSION, make_session

pytestmark = needs_chromium

INJECT = """() => new Promise((resolve) => {
  const violations = [];
  document.addEventListener("securitypolicyviolation",
                            (e) => violations.push(e.violatedDirective));
  window.__injected = false;
  const script = document.createElement("script");
  script.textContent = "window.__injected = true;";
  document.body.appendChild(script);
  setTimeout(() => resolve({ran: window.__injected, violations}), 500);
})"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RunningServer]:
    """The embedded server, on its own loop in a thread, over a store with a session."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    store = Store.open(tmp_path / "station.sqlite3")
    make_session(store)
    running = asyncio.run_coroutine_threadsafe(
        start_embedded(store, tls_settings=TlsSettings()), loop).result(TIMEOUT)
    try:
        yield running
    finally:
        asyncio.run_coroutine_threadsafe(running.stop(), loop).result(TIMEOUT)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(TIMEOUT)
        loop.close()
        store.close()


def test_the_console_is_a_secure_context_under_its_csp(server: RunningServer) -> None:
    _, link = server.invitations.create(SESSION)
    assert link.startswith("https://")
    complaints: list[str] = []
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page: Any = browser.new_page()
            page.on("console", lambda message: complaints.append(message.text)
                    if "Content Security Policy" in message.text else None)
            page.set_default_timeout(TIMEOUT * 1000)
            response = page.goto(link)
            assert response is not None and response.status == 200
            assert response.headers["strict-transport-security"].startswith("max-age=")
            page.wait_for_function("() => window.__console !== undefined")  # the module ran
            assert page.evaluate("[window.isSecureContext, location.protocol]") == [
                True, "https:"]
            assert complaints == []  # the console needs nothing the policy forbids
            injected = page.evaluate(INJECT)
            assert injected["ran"] is False
            assert "script-src-elem" in injected["violations"]
        finally:
            browser.close()
