"""End to end in headless Chromium: the doctor opens the invitation, signs in at
a real OpenID Connect provider (oidc-provider's login and consent pages), comes
back to the console with the form prefilled and the RPPS locked, and joins;
the session records the provider's issuer and subject."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from station.demo_doctor import CHROMIUM, CHROMIUM_ARGS
from station.signaling.runner import RunningServer, start_server
from station.signaling.server import create_app
from station.store.database import Store
from station.store.sessions import SessionRecords
from tests.oidc.provider import DR_MARTIN, DR_MARTIN_NAME, DR_MARTIN_RPPS, Provider
from tests.oidc.station_side import station_config
from tests.signaling.helpers import KEY, SESSION, local_tls, make_session

sync_api = pytest.importorskip("playwright.sync_api")
pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM),
                                reason="Debian chromium not installed")


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """An event loop in its own thread, for the server while Playwright drives."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_the_doctor_signs_in_and_joins_with_the_verified_rpps(
        tmp_path: Path, provider: Provider, loop: asyncio.AbstractEventLoop) -> None:
    def on_loop(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(30)

    store = Store.open(tmp_path / "station.sqlite3")
    make_session(store)

    async def start() -> RunningServer:
        app = create_app(store, station_key=KEY, public_url=provider.station_url,
                         oidc=station_config(provider, required=True))
        context, _ = local_tls(tmp_path)
        return await start_server(app, "127.0.0.1", provider.station_port,
                                  ssl_context=context)

    server: RunningServer = on_loop(start())
    try:
        token, url = server.invitations.create(SESSION)
        with sync_api.sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(20_000)
            page.goto(url)
            login = page.get_by_test_id("oidc-login")
            sync_api.expect(login).to_have_text("Se connecter avec Pro Santé Connect")
            sync_api.expect(page.locator("#join-form")).to_be_hidden()  # required
            login.click()
            # The provider's own pages (oidc-provider devInteractions).
            page.fill("input[name=login]", DR_MARTIN)
            page.fill("input[name=password]", "secret")
            page.click("button[type=submit]")
            page.click("button:has-text('Continue')")  # consent
            page.wait_for_url(f"{provider.station_url}/join/{token}")
            sync_api.expect(page.get_by_test_id("oidc-verified")).to_have_text(
                f"Identité vérifiée par Pro Santé Connect : {DR_MARTIN_NAME}, "
                f"RPPS {DR_MARTIN_RPPS}.")
            rpps = page.get_by_test_id("join-rpps")
            sync_api.expect(rpps).to_have_value(DR_MARTIN_RPPS)
            assert rpps.evaluate("e => e.readOnly") is True
            sync_api.expect(page.get_by_test_id("join-name")).to_have_value(DR_MARTIN_NAME)
            page.get_by_test_id("join-submit").click()
            page.wait_for_function("() => window.__console.state.phase === 'call'")
            assert page.evaluate("window.__console.state.doctor.rpps") == DR_MARTIN_RPPS
            browser.close()
        [event] = [e.data for e in SessionRecords(store).events(SESSION)
                   if e.type == "doctor_joined"]
        assert event["rpps"] == DR_MARTIN_RPPS
        assert event["identity"] == {"method": "oidc", "issuer": provider.issuer,
                                     "subject": DR_MARTIN, "name": DR_MARTIN_NAME}
    finally:
        on_loop(server.stop())
        store.close()
