"""The demo with no display: the whole nurse flow through the real GUI, offscreen.

The window, its screens, the station runtime (every simulator, the embedded
signaling server) and the outbox are the product's own; only the nurse is
scripted. She taps and types through :mod:`ui.demo.taps` (real input
events), a doctor joins from headless Chromium (:mod:`station.demo_doctor`),
writes and validates the report in the console, and the report goes out
through the outbox. Every screen is saved as a PNG as the nurse sees it, and
the final report (PDF and FHIR bundle) is copied next to them.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from station.call.events import CallState
from station.demo import DEMO_LOGIN, DEMO_PASSWORD, demo_identity
from station.demo_doctor import BrowserDoctor
from station.i18n import tr
from station.outbox import DeliveryState
from station.session import SessionState
from ui.app import MainWindow
from ui.controller import StationController
from ui.demo.taps import TapCounter, is_tappable, tap, type_text
from ui.i18n import _
from ui.screens.exam import ExamScreen
from ui.screens.report import ReportScreen

Say = Callable[[str], None]

DOCTOR_NAME = "Dr Élise Moreau"
STEP_TIMEOUT_S = 45.0  # a step that takes longer is a failure, said as such
CLIP_SECONDS = 3.0  # the demo's stethoscope clip (the app's default is 10 s)


class TourError(RuntimeError):
    """A step of the tour did not happen in time: names the step."""


@dataclass
class TourResult:
    """What the tour produced: the screenshots, the report's files, the taps counted
    from sign-in to the doctor's link."""

    folder: Path
    screenshots: list[Path] = field(default_factory=list)
    pdf: Path | None = None
    fhir: Path | None = None
    taps_to_invite: int = 0
    session_id: str = ""


async def until(check: Callable[[], Any], what: str, timeout: float = STEP_TIMEOUT_S) -> Any:
    """Let the loop (and Qt) run until ``check()`` is truthy; TourError after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while loop.time() < deadline:
        result = check()
        if result:
            return result
        await asyncio.sleep(0.05)
    raise TourError(f"timed out waiting for {what}")


async def in_browser(doctor: BrowserDoctor, action: Callable[[Any], None], what: str) -> None:
    """Run ``action(page)`` on the doctor's browser and wait for it without blocking Qt."""
    ran = doctor.do(action)
    await until(ran.is_set, what)
    if doctor.error is not None:
        raise TourError(f"the doctor's browser failed during {what}: {doctor.error}")


@dataclass(frozen=True)
class Nurse:
    """Who signs in, and the resident she looks for (date of birth, then letters)."""

    login: str = DEMO_LOGIN
    password: str = DEMO_PASSWORD
    born: str = ""  # DD/MM/YYYY; the demo's sample resident when empty
    letters: str = "dup"


class Tour:
    """One scripted session through ``window``; screenshots go to ``folder``."""

    def __init__(self, window: MainWindow, folder: Path, say: Say = print,
                 nurse: Nurse = Nurse()) -> None:
        self.window = window
        self.controller: StationController = window.controller
        self.result = TourResult(folder)
        self.say = say
        self.nurse = nurse
        self.doctor: BrowserDoctor | None = None

    async def shot(self, name: str) -> Path:
        """Save the window as the nurse sees it now (after letting Qt lay it out: never
        ``processEvents()`` here, which would run the loop's tasks inside this one)."""
        await asyncio.sleep(0.2)
        path = self.result.folder / f"{len(self.result.screenshots) + 1:02d}-{name}.png"
        self.window.grab().save(str(path))
        self.result.screenshots.append(path)
        self.say(_("Screenshot: {path}").format(path=path))
        return path

    def screen(self, name: str) -> Any:
        return self.window.screens[name]

    async def run(self) -> TourResult:
        """The whole flow; the browser is closed and the live session stopped whatever
        happens."""
        try:
            with TapCounter() as taps:
                await self.sign_in()
                before_lock = taps.count
                await self.lock_and_unlock()  # shown, but not part of the way to the link
                lock_taps = taps.count - before_lock
                await self.find_resident()
                await self.give_consent()
                await self.invite()
                self.result.taps_to_invite = taps.count - lock_taps
            await self.examine()
            await self.report()
        finally:
            if self.doctor is not None:
                self.doctor.close()
            live = self.controller.live
            if live is not None:
                await live.stop(tr("demo.live.stopped_detail"))
        return self.result

    # --- the steps -----------------------------------------------------------------------

    async def sign_in(self) -> None:
        signin = self.screen("signin")
        type_text(signin.login, self.nurse.login)
        type_text(signin.password, self.nurse.password)
        await self.shot("connexion")
        tap(signin.submit)
        await until(lambda: self.window.current.name == "today", "the Today screen")
        self.say(tr("demo.signed_in", name=self.controller.require_nurse().display_name))
        await self.shot("aujourdhui")

    async def lock_and_unlock(self) -> None:
        """The nurse steps away: the lock covers the screen; her password opens it."""
        today = self.screen("today")
        tap(today.lock_button)
        lock = self.screen("lock")
        await until(lambda: self.window.current is lock, "the lock screen")
        await self.shot("verrouillage")
        type_text(lock.secret, self.nurse.password)
        tap(lock.pad.keys["ok"])
        await until(lambda: self.window.current.name == "today", "unlocked")

    async def find_resident(self) -> None:
        tap(self.screen("today").new_session)
        resident = self.screen("resident")
        await until(lambda: self.window.current is resident, "the resident screen")
        born = self.nurse.born or demo_identity().birth_date.strftime("%d/%m/%Y")
        type_text(resident.born, born.replace("/", ""))
        if self.nurse.letters:
            type_text(resident.letters, self.nurse.letters)
        rows = await until(resident.result_rows, "the resident in the search")
        await self.shot("residente")
        tap(rows[0])
        await until(lambda: self.window.current.name == "consent", "the consent screen")

    async def give_consent(self) -> None:
        consent = self.screen("consent")
        await self.shot("consentement")
        tap(consent.give)
        exam = self.screen("exam")
        await until(lambda: self.window.current is exam, "the examination screen")
        session = self.controller.session
        assert session is not None
        self.result.session_id = session.id
        self.say(tr("demo.session", id=session.id))

    async def exam_ready(self) -> ExamScreen:
        """The examination screen once the instruments and the call are up."""
        exam: ExamScreen = self.screen("exam")
        live = await until(lambda: self.controller.live, "the live session")
        await until(lambda: live.running and is_tappable(exam.invite_button),
                    "the instruments and the call ready")
        return exam

    async def invite(self) -> None:
        """Create the doctor's link (shown as text and QR code)."""
        exam = await self.exam_ready()
        tap(exam.invite_button)
        link = await until(exam.link_field.text, "the doctor's link")
        self.say(f"DOCTOR-LINK {link}")

    async def invite_by_email(self, address: str) -> str:
        """Send the doctor's link by e-mail; returns what the screen says of the sending."""
        exam = await self.exam_ready()
        type_text(exam.email_field, address)
        tap(exam.email_button)
        await until(exam.mail_status.isVisible, "the e-mail's outcome")
        return exam.mail_status.text()

    async def examine(self) -> None:
        exam: ExamScreen = self.screen("exam")
        self.doctor = BrowserDoctor(exam.link_field.text(), name=DOCTOR_NAME).start()
        await until(self.doctor.joined.is_set, "the doctor's browser")
        if self.doctor.error is not None:
            raise TourError(f"the doctor's browser failed: {self.doctor.error}")
        await until(lambda: exam.call_state is CallState.CONNECTED, "the call connected")
        await until(lambda: "Moreau" in exam.doctor_label.text(), "the doctor's name")
        self.say(_("{name} joined from the browser.").format(name=DOCTOR_NAME))
        await until(lambda: {"spo2", "body_temperature", "systolic"} <= set(exam.tile_values()),
                    "live values on the tiles")
        await until(lambda: exam.room_view.has_picture and exam.exam_view.has_picture,
                    "both camera pictures")
        tap(exam.exam_choice["dermatoscope"])
        tap(exam.snapshot_button)
        await until(lambda: exam.snapshot_count() >= 1, "the photo in the gallery")
        # A short stethoscope clip of the mitral area, kept losslessly for the record.
        exam.clip_seconds = CLIP_SECONDS
        exam.site.setCurrentIndex(max(0, exam.site.findData("foyer_mitral")))
        tap(exam.clip_button)
        await until(lambda: exam.clip_list, "the stethoscope clip", 20)
        await asyncio.sleep(1.0)  # the console receives the photo, shows the new exam camera
        await self.shot("examen")
        console = self.result.folder / f"{len(self.result.screenshots) + 1:02d}-console-medecin.png"
        await in_browser(self.doctor, lambda page: page.screenshot(path=str(console)),
                         "the console's screenshot")
        self.result.screenshots.append(console)

    async def report(self) -> None:
        assert self.doctor is not None
        exam: ExamScreen = self.screen("exam")
        conclusion, prescriptions = tr("demo.conclusion"), tr("demo.prescriptions")

        def write(page: Any) -> None:
            page.get_by_test_id("report-conclusion").fill(conclusion)
            page.get_by_test_id("report-prescriptions").fill(prescriptions)

        await in_browser(self.doctor, write, "the doctor's draft")
        tap(exam.report_button)
        report: ReportScreen = self.screen("report")
        await until(lambda: self.window.current is report, "the report screen")
        await until(lambda: conclusion[:20] in report.conclusion.toPlainText(),
                    "the doctor's draft on the report screen")
        await self.shot("compte-rendu-brouillon")

        def validate(page: Any) -> None:
            page.once("dialog", lambda dialog: dialog.accept())
            page.get_by_test_id("report-validate").click()
            page.get_by_test_id("report-validated").wait_for(state="visible")

        await in_browser(self.doctor, validate, "the doctor's validation")
        await until(lambda: report.version is not None, "the validated report")
        await until(lambda: report.pdf_path is not None, "the PDF")
        session = self.controller.session
        assert session is not None
        live = self.controller.live
        assert live is not None
        await until(lambda: live.deliveries() and all(
            d.state is DeliveryState.DELIVERED for d in live.deliveries()),
            "the report delivered to every recipient")
        await until(lambda: session.state is SessionState.SENT, "the session marked sent")
        await asyncio.sleep(0.5)
        await self.shot("compte-rendu-envoye")
        self._keep_report_files(report)

    def _keep_report_files(self, report: ReportScreen) -> None:
        assert report.pdf_path is not None
        folder = self.result.folder
        pdf = shutil.copy2(report.pdf_path, folder / report.pdf_path.name)
        fhir_files = sorted(report.pdf_path.parent.glob("*.json"))
        if not fhir_files:
            raise TourError("the report's FHIR bundle was not written")
        fhir = shutil.copy2(fhir_files[-1], folder / fhir_files[-1].name)
        self.result.pdf, self.result.fhir = Path(pdf), Path(fhir)
        self.say(tr("demo.report_validated", version=1, doctor=DOCTOR_NAME,
                    pdf=str(self.result.pdf), fhir=str(self.result.fhir)))
