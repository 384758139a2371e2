"""A doctor played by headless Chromium, for the demo and the tests.

The demo with no display (and the UI tests) need a real doctor at the other
end of the call: Debian's Chromium, driven by Playwright's sync API, opens
the one-time link, joins with a name and an RPPS number, and can then write
and validate the report in the console like a doctor would. It runs on its
own thread, because the station's signaling server runs on the caller's
asyncio loop, which must stay free while the browser waits for it.

Playwright never downloads a browser here: it drives ``/usr/bin/chromium``
(the Debian package that ``scripts/setup`` installs) with the flags that let
a headless browser talk WebRTC over loopback with fake capture devices, and
accept the server's local self-signed certificate: this doctor is the demo's
and the tests', never a real one (a real browser checks the certificate).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
    "--allow-loopback-in-peer-connection",
    # The demo's and the tests' server has a local self-signed certificate.
    "--ignore-certificate-errors",
]
DEMO_RPPS = "10001234565"  # a test RPPS with a valid Luhn key
JOIN_TIMEOUT_S = 45.0  # only turns a hang into a failure

PageAction = Callable[[Any], None]


def chromium_available() -> bool:
    """Is Debian's Chromium installed (and is Playwright importable)?"""
    try:
        import playwright.sync_api  # noqa: F401, PLC0415 - optional at import time
    except ImportError:
        return False
    return os.path.exists(CHROMIUM)


def join(page: Any, link: str, name: str = "Dr Jeanne Lefèvre", rpps: str = DEMO_RPPS,
         timeout_s: float = JOIN_TIMEOUT_S) -> Any:
    """Open the doctor's link in ``page`` and join with a name and an RPPS number."""
    page.set_default_timeout(timeout_s * 1000)
    page.goto(link)
    page.wait_for_function("() => window.__console !== undefined")
    page.get_by_test_id("join-name").fill(name)
    page.get_by_test_id("join-rpps").fill(rpps)
    page.get_by_test_id("join-submit").click()
    return page


def write_report(page: Any, conclusion: str, prescriptions: str) -> None:
    """Type the report's conclusion and prescriptions in the console (the station
    receives each revision as a draft)."""
    page.get_by_test_id("report-conclusion").fill(conclusion)
    page.get_by_test_id("report-prescriptions").fill(prescriptions)


def validate_report(page: Any, timeout_s: float = JOIN_TIMEOUT_S) -> str:
    """Press « Valider et envoyer », accept the confirmation, wait for the station's
    answer and return the text the console shows."""
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_test_id("report-validate").click()
    status = page.get_by_test_id("report-validated")
    status.wait_for(state="visible", timeout=timeout_s * 1000)
    page.wait_for_function(
        "() => /version/i.test(document.querySelector('[data-testid=report-validated]')"
        ".textContent)", timeout=timeout_s * 1000)
    return str(status.text_content() or "")


class BrowserDoctor:
    """Chromium joining ``link`` from its own thread; ``do(action)`` runs
    ``action(page)`` there, ``screenshot(path)`` saves the console."""

    def __init__(self, link: str, name: str = "Dr Élise Moreau", rpps: str = DEMO_RPPS,
                 viewport: tuple[int, int] = (1280, 800)) -> None:
        self.link, self.name, self.rpps = link, name, rpps
        self.viewport = viewport
        self.joined = threading.Event()
        self.done = threading.Event()
        self.error: BaseException | None = None
        self._actions: list[tuple[PageAction, threading.Event]] = []
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="browser-doctor", daemon=True)

    def start(self) -> BrowserDoctor:
        """Launch the browser and join (``joined`` is set once the form is sent)."""
        self._thread.start()
        return self

    def do(self, action: PageAction) -> threading.Event:
        """Queue ``action(page)`` on the browser's thread; the returned event is set
        once it ran (``error`` holds what it raised, if anything)."""
        ran = threading.Event()
        with self._lock:
            self._actions.append((action, ran))
        return ran

    def screenshot(self, path: Path) -> threading.Event:
        """Save the console as it is now (full page) to ``path``."""
        return self.do(lambda page: page.screenshot(path=str(path), full_page=False))

    def _run(self) -> None:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415 - optional dependency

        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                     args=CHROMIUM_ARGS)
                width, height = self.viewport
                page = browser.new_page(viewport={"width": width, "height": height},
                                        ignore_https_errors=True)  # the local certificate
                join(page, self.link, self.name, self.rpps)
                self.joined.set()
                while not self.done.is_set():
                    self._run_actions(page)
                    page.wait_for_timeout(100)
                browser.close()
        except BaseException as error:  # reported to the caller, who decides
            self.error = error
        finally:
            self.joined.set()
            with self._lock:
                for _action, ran in self._actions:
                    ran.set()

    def _run_actions(self, page: Any) -> None:
        with self._lock:
            actions, self._actions = self._actions, []
        for action, ran in actions:
            try:
                action(page)
            finally:
                ran.set()

    def close(self, timeout_s: float = 20.0) -> None:
        """Leave the call and close the browser."""
        self.done.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)
