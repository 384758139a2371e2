"""An expired doctor link, opened in a real browser, is refused with a clear French page."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.doctor_browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    Station,
    needs_chromium,
    sync_api,
)

pytestmark = needs_chromium
VALID_SECONDS = 2.0


@pytest.fixture(scope="module")
def station(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Station]:
    running = Station(tmp_path_factory.mktemp("station-home"),
                      options=["--link-valid", str(VALID_SECONDS)])
    yield running
    running.stop()


def test_an_expired_link_shows_lien_expire_and_lets_nobody_in(station: Station) -> None:
    created = station.query("SELECT created_at, expires_at FROM invitations")[0]
    assert created[0] < created[1]
    time.sleep(VALID_SECONDS + 0.5)
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page: Any = browser.new_page(locale="fr-FR")
            response = page.goto(station.link)
            assert response is not None and response.status == 410
            sync_api.expect(page.locator("body")).to_contain_text("Lien expiré")
            assert page.get_by_test_id("join-submit").count() == 0
        finally:
            browser.close()
    assert station.events("doctor_joined") == []
