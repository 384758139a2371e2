"""Screen 6, the report: the doctor's draft as it arrives, the nurse's review,
validation (from the doctor's console) and sending, recipient by recipient.

The draft comes as ``report_draft`` session events (through the bridge);
validation and sending are read from the store about once a second (the
report service and the outbox announce nothing), which costs two indexed
queries.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QPixmap
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from station.outbox import Delivery, DeliveryState
from station.store.reports import ReportVersion
from station.store.sessions import SessionEvent
from ui.controller import StationController
from ui.formatting import time_text
from ui.i18n import _
from ui.live import LiveSession, delivery_text
from ui.screens.base import Screen
from ui.widgets.resident_banner import ResidentBanner

REFRESH_MS = 1000
NURSE_CODES = ("", "TLS", "TLL", "TLD")  # télésoin accompaniment by the nurse (video acts)
DOCTOR_CODES = ("TCG", "TC", "TE2", "RQD")
PREVIEW_WIDTH = 200
_NOT_CONFIGURED = ("outbox.error.not_configured", "outbox.error.channel_not_configured")


def act_label(act: str) -> str:
    """The act as the report names it."""
    return {"teleconsultation": _("Teleconsultation"),
            "tele-expertise": _("Tele-expertise")}.get(act, act)


def nurse_code_label(code: str) -> str:
    """The nurse's billing code with what it means."""
    return {"": _("None"), "TLS": _("TLS — scheduled care"), "TLL": _("TLL — dedicated place"),
            "TLD": _("TLD — at home")}.get(code, code)


def what_to_do(delivery: Delivery) -> str:
    """What the nurse does about a delivery, in her words."""
    if delivery.state is DeliveryState.DELIVERED:
        when = delivery.delivered_at or delivery.updated_at
        return _("Delivered at {time}.").format(time=time_text(when))
    if delivery.state is DeliveryState.SENDING:
        return _("Sending…")
    if delivery.last_error_code in _NOT_CONFIGURED:
        return _("Sending is not set up on this cart: tell the EHPAD's IT contact. The "
                 "report is kept and leaves once it is set up.")
    if delivery.state is DeliveryState.FAILED:
        return _("Check the recipient's address, then send again.")
    return _("Waiting: the station tries again by itself.")


def recipient_text(delivery: Delivery) -> str:
    """Who (or where) a delivery goes to."""
    who = delivery.name or delivery.address
    if delivery.channel.value == "folder":
        who = _("drop folder")
    elif delivery.channel.value == "fhir":
        who = _("FHIR server")
    return f"{delivery.role} — {who}" if delivery.role else who


def breakable(text: str) -> str:
    """Let long addresses and server replies wrap (a zero-width space after @ < > / .)."""
    for mark in ("@", "<", ">", "/", "."):
        text = text.replace(mark, mark + "\u200b")
    return text


class DeliveryRow(QFrame):
    """One recipient: where sending stands, why it failed, and « Send again »."""

    def __init__(self, delivery: Delivery, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.delivery = delivery
        self.setObjectName("delivery")
        self.setProperty("role", "card")
        layout = QGridLayout(self)
        layout.setContentsMargins(10, 6, 10, 6)
        self.who = QLabel(recipient_text(delivery))
        self.who.setWordWrap(True)
        self.who.setStyleSheet("font-weight: 600;")
        layout.addWidget(self.who, 0, 0)
        self.state = QLabel(breakable(delivery_text(delivery)))
        self.state.setObjectName("delivery-state")
        self.state.setWordWrap(True)
        colours = {DeliveryState.DELIVERED: "#1e7b3c", DeliveryState.FAILED: "#b3261e"}
        self.state.setStyleSheet(f"color: {colours.get(delivery.state, '#9a6700')};")
        layout.addWidget(self.state, 1, 0)
        self.help = QLabel(what_to_do(delivery))
        self.help.setObjectName("delivery-help")
        self.help.setWordWrap(True)
        self.help.setProperty("role", "muted")
        layout.addWidget(self.help, 2, 0)
        self.retry = QPushButton(_("Send again"))
        self.retry.setObjectName("retry")
        self.retry.setVisible(delivery.state in (DeliveryState.FAILED, DeliveryState.QUEUED))
        layout.addWidget(self.retry, 3, 0, Qt.AlignmentFlag.AlignRight)


class FinishDialog(QDialog):
    """« The report is not validated yet: finish anyway? » (big buttons)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("finish-dialog")
        self.setWindowTitle(_("Finish the session"))
        layout = QVBoxLayout(self)
        text = QLabel(_("The doctor has not validated the report yet. If you finish now, the "
                        "call ends and the doctor can no longer validate it from the "
                        "console."))
        text.setWordWrap(True)
        layout.addWidget(text)
        self.finish = QPushButton(_("Finish anyway"))
        self.finish.setProperty("kind", "danger")
        self.finish.clicked.connect(self.accept)
        self.wait = QPushButton(_("Wait for the doctor"))
        self.wait.setProperty("kind", "primary")
        self.wait.clicked.connect(self.reject)
        layout.addWidget(self.wait)
        layout.addWidget(self.finish)
        self.resize(520, 280)


class ReportScreen(Screen):
    """The report (see module doc)."""

    name = "report"

    def __init__(self, controller: StationController, parent: QWidget | None = None) -> None:
        super().__init__(controller, _("Report"), parent)
        self.live: LiveSession | None = None
        self.fields: dict[str, Any] = {}
        self.revision: tuple[int, str, str] | None = None  # number, author, time
        self.dirty: set[str] = set()
        self.version: ReportVersion | None = None
        self.pdf_path: Path | None = None
        self.finish_dialog: FinishDialog | None = None
        self._deliveries_shown: list[tuple[str, str, str | None]] = []
        self._build()
        controller.bridge.session_event.connect(self._on_session_event)
        self._refresh = QTimer(self)
        self._refresh.setInterval(REFRESH_MS)
        self._refresh.timeout.connect(self.refresh)

    # --- layout -------------------------------------------------------------------------------

    def _build(self) -> None:
        self.resident = ResidentBanner()
        self.body.addWidget(self.resident)
        columns = QHBoxLayout()
        columns.setSpacing(14)
        columns.addWidget(self._draft_box(), 8)
        columns.addWidget(self._validation_box(), 5)
        sending = QScrollArea()
        sending.setWidgetResizable(True)
        sending.setFrameShape(QFrame.Shape.NoFrame)
        sending.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        sending.setWidget(self._sending_box())
        columns.addWidget(sending, 7)
        self.body.addLayout(columns, 1)
        footer = QHBoxLayout()
        self.work_label = QLabel()
        self.work_label.setProperty("role", "muted")
        footer.addWidget(self.work_label, 1)
        back = QPushButton(_("Back to the examination"))
        back.setObjectName("to-exam")
        back.clicked.connect(lambda: self.navigate.emit("exam"))
        footer.addWidget(back)
        self.finish_button = QPushButton(_("Finish the session"))
        self.finish_button.setObjectName("finish")
        self.finish_button.setProperty("kind", "primary")
        self.finish_button.clicked.connect(self.ask_finish)
        footer.addWidget(self.finish_button)
        self.body.addLayout(footer)

    def _card(self, title: str) -> tuple[QFrame, QVBoxLayout]:
        box = QFrame()
        box.setProperty("role", "card")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(14, 10, 14, 10)
        label = QLabel(title)
        label.setStyleSheet("font-weight: 600; font-size: 15pt;")
        layout.addWidget(label)
        return box, layout

    def _draft_box(self) -> QFrame:
        box, layout = self._card(_("The doctor's draft"))
        self.draft_status = QLabel(_("Waiting for the doctor's draft…"))
        self.draft_status.setObjectName("draft-status")
        self.draft_status.setProperty("role", "muted")
        self.draft_status.setWordWrap(True)
        layout.addWidget(self.draft_status)
        self.act = QLabel()
        self.act.setObjectName("act")
        layout.addWidget(self.act)
        layout.addWidget(QLabel(_("Conclusion")))
        self.conclusion = QPlainTextEdit()
        self.conclusion.setObjectName("conclusion")
        self.conclusion.textChanged.connect(lambda: self._edited("conclusion"))
        layout.addWidget(self.conclusion, 3)
        layout.addWidget(QLabel(_("Prescriptions")))
        self.prescriptions = QPlainTextEdit()
        self.prescriptions.setObjectName("prescriptions")
        self.prescriptions.textChanged.connect(lambda: self._edited("prescriptions"))
        layout.addWidget(self.prescriptions, 2)
        self.billing = QLabel()
        self.billing.setObjectName("billing")
        layout.addWidget(self.billing)
        billing = QHBoxLayout()
        billing.addWidget(QLabel(_("Nurse's code")))
        self.nurse_code = QComboBox()
        self.nurse_code.setObjectName("nurse-code")
        for code in NURSE_CODES:
            self.nurse_code.addItem(nurse_code_label(code), code)
        self.nurse_code.currentIndexChanged.connect(lambda _: self._edited("billing"))
        billing.addWidget(self.nurse_code, 1)
        layout.addLayout(billing)
        help_text = QLabel(_("Correct what is wrong (a name, a dose, the nurse's code), then "
                             "send it to the doctor, who validates."))
        help_text.setWordWrap(True)
        help_text.setProperty("role", "muted")
        layout.addWidget(help_text)
        self.review_button = QPushButton(_("Send my corrections to the doctor"))
        self.review_button.setObjectName("send-review")
        self.review_button.clicked.connect(self.send_review)
        self.review_button.setEnabled(False)
        layout.addWidget(self.review_button)
        self._loading = False
        return box

    def _validation_box(self) -> QFrame:
        box, layout = self._card(_("Validation"))
        self.validation = QLabel(_("Waiting for the doctor to validate from the console."))
        self.validation.setObjectName("validation")
        self.validation.setWordWrap(True)
        layout.addWidget(self.validation)
        self.hashes = QLabel()
        self.hashes.setObjectName("hashes")
        self.hashes.setWordWrap(True)
        self.hashes.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.hashes.setStyleSheet("font-family: monospace; font-size: 10pt;")
        self.hashes.hide()
        layout.addWidget(self.hashes)
        self.preview = QLabel()
        self.preview.setObjectName("pdf-preview")
        self.preview.setStyleSheet("border: 1px solid #d5dee5; background: white;")
        self.preview.hide()
        layout.addWidget(self.preview, 0, Qt.AlignmentFlag.AlignHCenter)
        self.pdf_label = QLabel()
        self.pdf_label.setObjectName("pdf-path")
        self.pdf_label.setWordWrap(True)
        self.pdf_label.setProperty("role", "muted")
        layout.addWidget(self.pdf_label)
        self.open_button = QPushButton(_("Open the PDF"))
        self.open_button.setObjectName("open-pdf")
        self.open_button.clicked.connect(self.open_pdf)
        self.open_button.hide()
        layout.addWidget(self.open_button)
        layout.addStretch(1)
        return box

    def _sending_box(self) -> QFrame:
        box, layout = self._card(_("Sending"))
        self.sending_empty = QLabel(_("The report is sent once the doctor validates it."))
        self.sending_empty.setObjectName("sending-empty")
        self.sending_empty.setWordWrap(True)
        self.sending_empty.setProperty("role", "muted")
        layout.addWidget(self.sending_empty)
        self.delivery_rows = QVBoxLayout()
        layout.addLayout(self.delivery_rows)
        layout.addStretch(1)
        return box

    # --- entering and refreshing -------------------------------------------------------------

    def entered(self) -> None:
        super().entered()
        session = self.controller.session
        if session is None:
            self.show_error(_("No session is open."),
                            _("Go back to today's screen and start a new session."))
            return
        self.resident.show_identity(session.resident.identity if session.resident else None)
        if self.controller.live is None:
            self.controller.live = LiveSession(self.controller)
        if self.live is not self.controller.live:
            self.live = self.controller.live
            self.live.work_started.connect(lambda _k, text: self.work_label.setText(text))
            self.live.work_finished.connect(lambda _k: self.work_label.clear())
            self.live.failed.connect(lambda _k, message, todo: self.show_error(message, todo))
        self.fields, self.revision = {}, None
        for event in session.events():
            if event.type == "report_draft":
                self._take_draft(event)
        self._show_draft()
        self.refresh()
        self._refresh.start()

    def _on_session_event(self, event: SessionEvent) -> None:
        session = self.controller.session
        if session is None or event.session_id != session.id or event.type != "report_draft":
            return
        self._take_draft(event)
        self._show_draft()

    def _take_draft(self, event: SessionEvent) -> None:
        """Last writer wins per field (the contract), the nurse's revisions included."""
        fields = event.data.get("fields")
        if isinstance(fields, dict):
            self.fields.update({k: v for k, v in fields.items() if v is not None})
        author = str(event.data.get("author") or "doctor")
        self.revision = (int(event.data.get("revision") or 0), author, time_text(event.time))

    def _show_draft(self) -> None:
        if self.revision is None:
            return
        number, author, when = self.revision
        who = _("you") if author == "nurse" else self._doctor_name()
        self.draft_status.setText(_("Revision {number} — by {who} at {time}").format(
            number=number, who=who, time=when))
        self._loading = True
        try:
            self.act.setText(_("Act: {act}").format(act=act_label(str(self.fields.get("act")
                                                                      or "teleconsultation"))))
            for name, edit in (("conclusion", self.conclusion),
                               ("prescriptions", self.prescriptions)):
                value = str(self.fields.get(name) or "")
                if name not in self.dirty and edit.toPlainText() != value:
                    edit.setPlainText(value)
            codes = [str(c) for c in self.fields.get("billing") or []]
            doctor = [c for c in codes if c in DOCTOR_CODES]
            self.billing.setText(_("Billing: {codes}").format(
                codes=", ".join(doctor) if doctor else "—"))
            if "billing" not in self.dirty:
                nurse = next((c for c in codes if c in NURSE_CODES and c), "")
                self.nurse_code.setCurrentIndex(max(0, self.nurse_code.findData(nurse)))
        finally:
            self._loading = False

    def _doctor_name(self) -> str:
        session = self.controller.session
        if session is not None:
            for event in reversed(session.events()):
                if event.type == "doctor_joined":
                    return str(event.data.get("name") or _("the doctor"))
        return _("the doctor")

    def refresh(self) -> None:
        """Read validation and sending from the store (the timer calls this)."""
        if self.live is None or self.controller.session is None:
            return
        version = self.live.report()
        if version is not None and (self.version is None or version.id != self.version.id):
            self._show_version(version)
        self._show_deliveries(self.live.deliveries())
        running = self.live.running and self.live.runtime is not None \
            and self.live.runtime.call is not None
        self.review_button.setEnabled(running and bool(self.dirty) and self.version is None)

    def _show_version(self, version: ReportVersion) -> None:
        self.version = version
        by = version.validated_by or _("the doctor")
        when = version.validated_at or version.created_at
        self.validation.setText(_("Validated, version {version} — by {by} at {time}").format(
            version=version.version, by=by, time=time_text(when)))
        self.validation.setStyleSheet("color: #1e7b3c; font-weight: 600;")
        self.hashes.setText("\n".join(
            f"{name}\n{digest[:32]}\n{digest[32:]}"
            for name, digest in (("PDF", version.pdf_sha256), ("FHIR", version.fhir_sha256))))
        self.hashes.setToolTip(_("SHA-256 of the stored files (the audit trail keeps them)"))
        self.hashes.show()
        for edit in (self.conclusion, self.prescriptions):
            edit.setReadOnly(True)
        self.nurse_code.setEnabled(False)
        self.dirty.clear()
        if self.live is not None:
            self.live.spawn(self._load_files(version), "report files")

    async def _load_files(self, version: ReportVersion) -> None:
        assert self.live is not None
        self.work_label.setText(_("Preparing the PDF…"))
        try:
            pdf, _fhir, png = await self.live.report_files(version)
        except OSError as error:
            self.show_error(_("The PDF could not be written: {reason}").format(reason=error),
                            _("Check that the cart's disk is not full, then come back to "
                              "this screen."))
            return
        finally:
            self.work_label.clear()
        self.pdf_path = pdf
        self.pdf_label.setText(pdf.name)
        self.pdf_label.setToolTip(str(pdf))
        self.open_button.show()
        if png:
            pixmap = QPixmap()
            pixmap.loadFromData(png, "PNG")
            self.preview.setPixmap(pixmap.scaledToWidth(
                PREVIEW_WIDTH, Qt.TransformationMode.SmoothTransformation))
            self.preview.show()

    def _show_deliveries(self, deliveries: list[Delivery]) -> None:
        signature = [(str(d.id), d.state.value, d.last_error_code) for d in deliveries]
        if signature == self._deliveries_shown:
            return
        self._deliveries_shown = signature
        while self.delivery_rows.count():
            item = self.delivery_rows.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.deleteLater()
        for delivery in deliveries:
            row = DeliveryRow(delivery)
            row.retry.clicked.connect(lambda _=False, d=delivery.id: self.retry(d))
            self.delivery_rows.addWidget(row)
        self.sending_empty.setVisible(not deliveries)

    # --- the nurse's actions --------------------------------------------------------------

    def _edited(self, field: str) -> None:
        if self._loading or self.version is not None:
            return
        self.dirty.add(field)
        self.refresh()

    def review_fields(self) -> dict[str, Any]:
        """The fields the nurse changed, as the contract's ``fields``."""
        fields: dict[str, Any] = {}
        if "conclusion" in self.dirty:
            fields["conclusion"] = self.conclusion.toPlainText()
        if "prescriptions" in self.dirty:
            fields["prescriptions"] = self.prescriptions.toPlainText()
        if "billing" in self.dirty:
            doctor = [c for c in self.fields.get("billing") or [] if c in DOCTOR_CODES]
            nurse = str(self.nurse_code.currentData() or "")
            fields["billing"] = [*doctor, *([nurse] if nurse else [])]
        return fields

    def send_review(self) -> None:
        """Send the corrections to the doctor (a ``nurse`` revision of the draft)."""
        if self.live is None or not self.dirty:
            return
        try:
            self.live.send_review(self.review_fields())
        except RuntimeError:
            self.show_error(_("The doctor is not connected: the corrections were not sent."),
                            _("Wait for the call to come back, then send them again."))
            return
        self.dirty.clear()
        self.refresh()

    def retry(self, delivery_id: str) -> None:
        """Another attempt at once for one recipient."""
        if self.live is not None:
            self.live.retry_delivery(delivery_id)

    def open_pdf(self) -> None:
        """Open the report's PDF in the system's viewer."""
        if self.pdf_path is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.pdf_path)))

    def ask_finish(self) -> None:
        """Finish (after a confirmation while the report is not validated)."""
        if self.version is not None:
            self.finish()
            return
        dialog = FinishDialog(self)
        dialog.accepted.connect(self.finish)
        self.finish_dialog = dialog
        dialog.open()

    def finish(self) -> None:
        """End the examination and the call, and go back to today's screen."""
        self._refresh.stop()
        live = self.controller.live
        if live is not None:
            session = self.controller.session
            if session is not None and session.state.value in ("examine", "report"):
                live.finish()
            elif live.runtime is not None:
                live.spawn(live.stop(_("session finished by the nurse")), "finish")
            self.controller.live = None
        self.navigate.emit("today")

    # --- for tests --------------------------------------------------------------------------

    def delivery_lines(self) -> list[str]:
        """Each recipient's line: who, state, what to do."""
        items = [self.delivery_rows.itemAt(i) for i in range(self.delivery_rows.count())]
        rows = [item.widget() for item in items if item is not None]
        return [f"{r.who.text()} | {r.state.text()} | {r.help.text()}"
                for r in rows if isinstance(r, DeliveryRow)]
