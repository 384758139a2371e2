"""Screen 5, examination and call, over the real runtime: simulators, the embedded
signaling server on 127.0.0.1:0, a doctor in headless Chromium."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtGui import QGuiApplication

from station.call.events import CallState
from station.call.loopback import allow_loopback_candidates
from station.consent import ConsentCapacity, ConsentDecision
from station.demo_doctor import BrowserDoctor, chromium_available
from station.people import NurseAccount
from station.session import SessionState
from station.store.clips import ClipStore
from station.store.database import Store
from station.store.residents import Resident
from station.store.snapshots import SnapshotStore
from tests.ui.live_support import (
    SCREENSHOTS,
    live_controller,
    qasync_loop,
    stop_live,
    until,
)
from ui.screens.exam import ExamScreen, call_state_text
from ui.theme import MIN_TARGET_PX
from ui.widgets.qr import qr_png


@pytest.fixture(autouse=True)
def _loopback() -> None:
    allow_loopback_candidates()


def test_a_whole_examination_with_a_doctor_in_chromium(
        qtbot: Any, store: Store, nurse: NurseAccount, resident: Resident,
        tmp_path: Path) -> None:
    if not chromium_available():
        pytest.skip("Debian chromium not installed")
    controller = live_controller(store, nurse, resident, tmp_path)
    session = controller.session
    assert session is not None
    screen = ExamScreen(controller)
    qtbot.addWidget(screen)
    screen.resize(1280, 800)
    screen.show()
    screen.clip_seconds = 1.0
    doctor: BrowserDoctor | None = None

    async def scenario() -> None:
        nonlocal doctor
        try:
            screen.entered()
            live = controller.live
            assert live is not None
            await until(lambda: live.running and not screen.work, "devices connected", 25)
            # Tiles show what the store has.
            await until(lambda: {"spo2", "body_temperature"} <= set(screen.tile_values()),
                        "values on the tiles")
            stored = {m.kind.value: m.display_value() for m in session.measurements()}
            for kind, shown in screen.tile_values().items():
                assert shown in {m.display_value() for m in session.measurements()
                                 if m.kind.value == kind}, (kind, shown, stored)
            await until(lambda: screen.room_view.has_picture and screen.exam_view.has_picture,
                        "camera previews")
            # The doctor's link: text, QR code, clipboard.
            screen.invite_button.click()
            await until(screen.link_field.text, "link")
            link = screen.link_field.text()
            assert "/join/" in link and screen.qr.pixmap() is not None
            assert not screen.qr.pixmap().isNull()
            assert qr_png(link)[:8] == b"\x89PNG\r\n\x1a\n"
            screen.copy_button.click()
            assert QGuiApplication.clipboard().text() == link
            # A doctor joins from Chromium.
            doctor = BrowserDoctor(link, name="Dr Jeanne Lefèvre").start()
            await until(doctor.joined.is_set, "doctor joined", 30)
            assert doctor.error is None, doctor.error
            await until(lambda: "Jeanne Lefèvre" in screen.doctor_label.text(),
                        "doctor's name", 15)
            await until(lambda: screen.call_state is CallState.CONNECTED, "connected", 30)
            assert screen.call_label.text() == "En communication"
            # A photo: in the gallery and in the store, full resolution.
            screen.exam_choice["dermatoscope"].click()
            assert live.exam == "dermatoscope"
            screen.snapshot_button.click()
            await until(lambda: screen.snapshot_count() == 1 or screen.banner.isVisible(),
                        "thumbnail", 30)
            assert screen.snapshot_count() == 1, (screen.banner_text.text(), screen.work)
            photos = SnapshotStore(store).for_session(session.id)
            assert len(photos) == 1 and photos[0].exam == "dermatoscope"
            assert SnapshotStore(store).load(photos[0].id).info.width >= 1280
            # A stethoscope clip of the chosen site.
            screen.site.setCurrentIndex(screen.site.findData("foyer_mitral"))
            screen.clip_button.click()
            await until(lambda: screen.clip_list, "clip recorded", 15)
            clips = ClipStore(store).for_session(session.id)
            assert [c.site for c in clips] == ["foyer_mitral"]
            assert clips[0].duration_s == pytest.approx(1.0, abs=0.05)
            assert screen.clip_bar.value() == 100
            await until(lambda: screen.voice_meter.level > -120, "doctor's voice level", 10)
            await until(lambda: screen.call_state is CallState.CONNECTED, "connected", 20)
            await asyncio.sleep(0.5)
            assert screen.width() == 1280, screen.width()
            screen.grab().save(str(SCREENSHOTS / "app-exam.png"))
            # Withdrawal: confirmation, then the call ends and it is recorded.
            screen.withdraw_button.click()
            dialog = screen.withdraw_dialog
            assert dialog is not None and dialog.isVisible()
            dialog.buttons[ConsentCapacity.RESIDENT].click()
            await until(lambda: session.state is SessionState.STOPPED, "stopped", 5)
            await until(lambda: screen.call_state is CallState.ENDED, "call ended", 10)
            await until(lambda: controller.runtime is None, "runtime stopped", 20)
            assert screen.stopped_box.isVisible()
            assert not screen.withdraw_button.isEnabled()
            assert any("Séance arrêtée" in line for line in screen.incident_lines()), \
                screen.incident_lines()
        finally:
            if doctor is not None:
                doctor.close()
            await stop_live(controller)

    with qasync_loop() as loop:
        loop.run_until_complete(scenario())
    assert session.consents()[-1].decision is ConsentDecision.WITHDRAWN
    transition = [e for e in session.events() if e.type == "transition"][-1]
    assert transition.data["state"] == "stopped" and transition.data["decision"] == "retire"
    assert any(e.type == "doctor_joined" for e in session.events())


def test_listening_without_a_speaker_and_mail_without_a_relay_say_what_to_do(
        qtbot: Any, store: Store, nurse: NurseAccount, resident: Resident,
        tmp_path: Path) -> None:
    controller = live_controller(store, nurse, resident, tmp_path,
                                 devices=("sim://oximeter-ble", "sim://stethoscope"))
    screen = ExamScreen(controller)
    qtbot.addWidget(screen)
    screen.show()

    async def scenario() -> None:
        try:
            screen.entered()
            live = controller.live
            assert live is not None
            await until(lambda: live.running and not screen.work, "started", 20)
            assert not screen.snapshot_button.isEnabled()  # no exam camera on this cart
            live.runtime.speaker_url = "audio://no-such-speaker"  # type: ignore[union-attr]
            screen.listen_button.click()
            await until(screen.banner.isVisible, "no speaker said")
            assert "haut-parleur" in screen.banner_text.text()
            assert "Que faire" in screen.banner_text.text()
            assert not screen.listen_button.isChecked()
            screen.email_field.setText("dr.moreau@exemple.mssante.fr")
            screen.email_button.click()
            await until(lambda: "e-mail" in screen.banner_text.text(), "no relay said")
            assert screen.link_field.text()  # the link was made: it can still be copied
            await until(lambda: "Stéthoscope" in {t.title.text() for t in screen.tiles.values()}
                        or screen.tiles, "tiles")
            assert all(button.minimumSizeHint().height() >= MIN_TARGET_PX
                       or button.sizeHint().height() >= MIN_TARGET_PX
                       for button in (screen.withdraw_button, screen.snapshot_button,
                                      screen.clip_button, screen.invite_button))
        finally:
            await stop_live(controller)

    with qasync_loop() as loop:
        loop.run_until_complete(scenario())


def test_call_states_read_as_the_nurse_says_them() -> None:
    assert call_state_text(CallState.RINGING) == "En attente du médecin"
    assert call_state_text(CallState.CONNECTED) == "En communication"
    assert "audio" in call_state_text(CallState.CONNECTED, True, "link").lower() or \
        "son seul" in call_state_text(CallState.CONNECTED, True, "link")
