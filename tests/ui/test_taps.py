"""How many taps from sign-in to "invitation sent" for a known resident (goal ≤ 8).

The whole window with every screen, over a real store (argon2 account), the real
runtime (simulators, embedded signaling server) and a real SMTP relay (aiosmtpd)
that receives the doctor's invitation. The nurse is the demo tour's: real mouse
presses and key strokes (:mod:`ui.demo.taps`), counted by an application-wide
event filter, so a field tapped to be focused counts, typing does not.
"""

from __future__ import annotations

from email import message_from_bytes
from pathlib import Path
from typing import Any

from station.outbox.config import OutboxConfig, SmtpSettings
from station.paths import STORE_FILENAME
from tests.conftest import marie
from tests.outbox.servers import LoopbackSmtp, ScriptedHandler
from tests.ui.first_half import PASSWORD, close_station, fresh_store
from tests.ui.live_support import qasync_loop, stop_live
from ui.app import MainWindow, build_screens
from ui.controller import AppSettings, StationController
from ui.demo.taps import TapCounter
from ui.demo.tour import Nurse, Tour

TAPS_GOAL = 8
DOCTOR = "dr.moreau@medecin.mssante.fr"
DEVICES = ("sim://oximeter-ble", "sim://thermometer-ble", "sim://stethoscope",
           "sim://dermatoscope")


def test_sign_in_to_invitation_sent_takes_at_most_eight_taps(
        qtbot: Any, tmp_path: Path) -> None:
    store = fresh_store(tmp_path / STORE_FILENAME)
    store_resident = marie()
    handler = ScriptedHandler()
    with LoopbackSmtp(handler) as relay:
        config = OutboxConfig(smtp=SmtpSettings(
            host="127.0.0.1", port=relay.port, sender="ehpad@tilleuls.mssante.fr",
            starttls=False, allow_plaintext=True), timeout_s=5.0)
        controller = StationController(store, AppSettings(home=tmp_path, extra={
            "runtime_options": {"device_urls": DEVICES, "outbox_config": config,
                                "recipients": [], "port": 0}}))
        controller.residents.create(store_resident, "claire.m")
        window = MainWindow(controller, build_screens(controller))
        qtbot.addWidget(window)
        window.resize(1280, 800)
        window.show()
        window.activateWindow()
        qtbot.waitUntil(window.isActiveWindow, timeout=2000)
        window.show_screen("signin")
        tour = Tour(window, tmp_path, say=lambda _line: None,
                    nurse=Nurse(login="claire.m", password=PASSWORD, born="12/04/1932",
                                letters=""))

        async def scenario() -> tuple[int, list[str], str]:
            try:
                with TapCounter() as taps:
                    await tour.sign_in()
                    await tour.find_resident()
                    await tour.give_consent()
                    status = await tour.invite_by_email(DOCTOR)
                return taps.count, taps.targets, status
            finally:
                await stop_live(controller)

        with qasync_loop() as loop:
            count, targets, status = loop.run_until_complete(scenario())
        close_station(window, store)
    print(f"taps_to_invite={count}: {targets}")
    assert "remis" in status.lower() or "delivered" in status.lower(), status
    mails = handler.received().get(DOCTOR, [])
    assert len(mails) == 1
    body = message_from_bytes(mails[0]).get_payload(decode=True)
    assert isinstance(body, bytes)
    link = tour.window.screens["exam"].link_field.text()  # type: ignore[attr-defined]
    assert link and link in body.decode("utf-8")
    assert count <= TAPS_GOAL, targets
