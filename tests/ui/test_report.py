"""Screen 6, the report, over the real runtime: the doctor (aiortc, in process) writes
and validates; the report goes out through a real SMTP relay (aiosmtpd) that refuses
one recipient, and a drop folder."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from station.call.events import CallState
from station.call.loopback import allow_loopback_candidates
from station.outbox import DeliveryState, Recipient
from station.outbox.config import OutboxConfig, SmtpSettings
from station.people import NurseAccount
from station.session import SessionState
from station.store.database import Store
from station.store.residents import Resident
from tests.call.doctor import Doctor, join_over_signaling
from tests.outbox.servers import LoopbackSmtp, ScriptedHandler
from tests.ui.live_support import SCREENSHOTS, live_controller, qasync_loop, stop_live, until
from ui.screens.report import ReportScreen

DEVICES = ("sim://oximeter-ble", "sim://thermometer-ble")
REFUSED = "ancien.medecin@medecin.mssante.fr"


def test_draft_review_validation_and_sending_per_recipient(
        qtbot: Any, store: Store, nurse: NurseAccount, resident: Resident,
        tmp_path: Path) -> None:
    allow_loopback_candidates()
    handler = ScriptedHandler(rcpt_by_address={
        REFUSED: "550 5.1.1 <ancien.medecin@medecin.mssante.fr>: mailbox unknown"})
    drop = tmp_path / "envois"
    drop.mkdir()
    with LoopbackSmtp(handler) as relay:
        config = OutboxConfig(
            smtp=SmtpSettings(host="127.0.0.1", port=relay.port,
                              sender="ehpad@tilleuls.mssante.fr", starttls=False,
                              allow_plaintext=True),
            drop_folder=drop, backoff_initial_s=60.0, timeout_s=5.0)
        controller = live_controller(
            store, nurse, resident, tmp_path, devices=DEVICES, outbox_config=config,
            recipients=[Recipient.email("dr.durand@medecin.mssante.fr", "Dr Paul Durand",
                                        "médecin traitant"),
                        Recipient.email(REFUSED, "Dr Ancien", "médecin requérant")])
        session = controller.session
        assert session is not None
        screen = ReportScreen(controller)
        qtbot.addWidget(screen)
        screen.resize(1280, 800)
        screen.show()

        async def scenario() -> None:
            from ui.live import LiveSession  # noqa: PLC0415

            live = controller.live = LiveSession(controller)
            doctor = Doctor()
            http = aiohttp.ClientSession()
            try:
                await live.start()
                await until(lambda: live.running, "started", 20)
                screen.entered()
                assert "En attente du brouillon" in screen.draft_status.text()
                assert "envoyé dès que le médecin le valide" in screen.sending_empty.text()
                runtime = live.runtime
                assert runtime is not None and runtime.call is not None
                call = runtime.call
                assert runtime.server is not None
                ws, answering = await join_over_signaling(await runtime.create_link(), http,
                                                          doctor, tls=runtime.server.client_tls)
                await until(lambda: call.state is CallState.CONNECTED, "connected", 30)
                await until(lambda: "report" in doctor.channels, "report channel", 10)
                # The doctor's draft shows up as it arrives.
                doctor.send("report", {"type": "report-draft", "revision": 1, "author": "doctor",
                                       "fields": {"conclusion": "Otite moyenne aiguë droite.",
                                                  "prescriptions": "Amoxicilline 1 g x 3/j",
                                                  "act": "teleconsultation",
                                                  "billing": ["TCG"]}})
                await until(lambda: "Otite" in screen.conclusion.toPlainText(), "draft", 10)
                assert "Élise Moreau" in screen.draft_status.text()
                assert screen.prescriptions.toPlainText() == "Amoxicilline 1 g x 3/j"
                assert "TCG" in screen.billing.text()
                # The nurse's review goes back to the doctor as a nurse revision, stored.
                screen.nurse_code.setCurrentIndex(screen.nurse_code.findData("TLS"))
                screen.prescriptions.setPlainText("Amoxicilline 1 g x 3/j pendant 7 jours")
                assert screen.review_button.isEnabled()
                screen.review_button.click()
                await until(lambda: any(m.get("author") == "nurse"
                                        for m in doctor.messages["report"]), "review", 10)
                review = [m for m in doctor.messages["report"] if m.get("author") == "nurse"][-1]
                assert review["fields"]["billing"] == ["TCG", "TLS"]
                assert review["fields"]["prescriptions"].endswith("pendant 7 jours")
                assert "conclusion" not in review["fields"]
                drafts = [e for e in session.events() if e.type == "report_draft"]
                assert [d.data["author"] for d in drafts] == ["doctor", "nurse"]
                # The doctor validates: version 1 with its hashes, then sending per recipient.
                doctor.send("report", {"type": "report-validate", "revision": 2, "fields": {
                    "conclusion": "Otite moyenne aiguë droite.",
                    "prescriptions": review["fields"]["prescriptions"],
                    "act": "teleconsultation", "billing": ["TCG", "TLS"]}})
                await until(lambda: screen.version is not None, "validated", 20)
                version = screen.version
                assert version is not None
                assert "Validé, version 1" in screen.validation.text()
                hashes = screen.hashes.text().replace("\n", "")
                assert version.pdf_sha256 in hashes and version.fhir_sha256 in hashes
                await until(lambda: screen.pdf_path is not None, "PDF on disk", 20)
                assert screen.open_button.isVisible()
                if shutil.which("pdftoppm"):
                    assert screen.preview.isVisible() and screen.preview.pixmap().width() > 100
                await until(lambda: len(screen.delivery_lines()) == 3 and not any(
                    "En attente" in line or "en cours" in line
                    for line in screen.delivery_lines()), "sending settled", 20)
                lines = [line.replace("\u200b", "") for line in screen.delivery_lines()]
                refused = next(line for line in lines if "Dr Ancien" in line)
                assert "550" in refused and "mailbox unknown" in refused, refused
                assert "Vérifiez l’adresse du destinataire puis relancez l’envoi" in refused
                assert any("Dr Paul Durand" in line and "Remis" in line for line in lines)
                assert any("dossier de dépôt" in line and "Remis" in line for line in lines)
                await asyncio.sleep(0.3)
                assert screen.height() == 800, screen.height()
                screen.grab().save(str(SCREENSHOTS / "app-report.png"))
                # « Send again » queues the refused one at once (and it is refused again).
                failed = next(d for d in live.deliveries() if d.address == REFUSED)
                assert failed.state is DeliveryState.FAILED
                attempts = failed.attempts
                await live.retry_delivery(failed.id)
                again = next(d for d in live.deliveries() if d.address == REFUSED)
                assert again.attempts == attempts + 1 and again.state is DeliveryState.FAILED
                assert session.state is SessionState.REPORT
                answering.cancel()
                await ws.close()
                # « Finish the session » once validated: the call ends, back to today.
                shown: list[str] = []
                screen.navigate.connect(shown.append)
                screen.finish_button.click()
                assert shown == ["today"]
                await until(lambda: controller.runtime is None, "runtime stopped", 20)
            finally:
                await http.close()
                await doctor.close()
                await stop_live(controller)

        with qasync_loop() as loop:
            loop.run_until_complete(scenario())
    assert handler.received().get("dr.durand@medecin.mssante.fr")
    assert REFUSED not in handler.received()


@pytest.mark.parametrize("state", ["queued", "failed", "delivered"])
def test_what_to_do_is_said_for_every_state(state: str) -> None:
    from datetime import UTC, datetime  # noqa: PLC0415

    from station.outbox import Channel, Delivery, DeliveryId, MessageId  # noqa: PLC0415
    from ui.screens.report import what_to_do  # noqa: PLC0415

    now = datetime.now(UTC)
    delivery = Delivery(DeliveryId("d"), MessageId("m"), "s", "Compte rendu", Channel.SMTP,
                        "a@b.fr", "", "", "<id@b.fr>", DeliveryState(state), 1, now, None, {},
                        None, None, now, now, now if state == "delivered" else None)
    text = what_to_do(delivery)
    assert text and ("Remis" in text if state == "delivered" else True)
    if state == "failed":
        assert text == "Vérifiez l’adresse du destinataire puis relancez l’envoi."
