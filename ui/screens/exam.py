"""Screen 5, examination and call: instruments, cameras, stethoscope, the doctor.

Everything live comes through the controller's bridge (session, device and
call events) and the :class:`~ui.live.LiveSession` (progress, failures,
snapshots, clips, the link). The « Consent withdrawn » button sits in the
header, outside any scrolling area: always on screen, always reachable.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QSize, Qt, QTimer, QUrl
from PySide6.QtGui import QDesktopServices, QFontMetrics, QGuiApplication, QIcon, QImage, QPixmap
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from devices.device import DeviceEvent, EventKind
from devices.measurement import Measurement
from station.call.events import AudioOnlyChanged, CallState, StateChanged
from station.consent import ConsentCapacity
from station.errors import StationError
from station.store.clips import CLIP_SITES, StoredClip, site_label
from station.store.sessions import SessionEvent
from station.store.snapshots import StoredSnapshot
from ui.controller import StationController
from ui.formatting import capacity_text
from ui.i18n import _, language
from ui.live import LiveSession
from ui.screens.base import Screen
from ui.widgets.device_tile import DeviceTile, device_title, reading_time
from ui.widgets.level_meter import LevelMeter
from ui.widgets.qr import qr_pixmap
from ui.widgets.resident_banner import ResidentBanner
from ui.widgets.video_preview import VideoPreview

CLIP_SECONDS = 10.0
QR_PX = 104
THUMB = QSize(96, 54)
METER_HZ = 10
TILE_COLUMNS = 3
VIDEO_MAX_HEIGHT = 205


def call_state_text(state: CallState, audio_only: bool = False, cause: str = "") -> str:
    """Where the call stands, in the nurse's words (audio only: and why)."""
    texts = {CallState.NEW: _("Waiting for the doctor"),
             CallState.RINGING: _("Waiting for the doctor"),
             CallState.CONNECTED: _("In call"),
             CallState.RECONNECTING: _("Connection lost: reconnecting…"),
             CallState.ENDED: _("Call ended")}
    text = texts[state]
    if audio_only and state is CallState.CONNECTED:
        why = {"link": _("the connection cannot carry video"),
               "doctor": _("chosen by the doctor"),
               "nurse": _("chosen by the nurse")}.get(cause, "")
        text += " — " + (_("sound only ({why})").format(why=why) if why else _("sound only"))
    return text


def incident_text(event: SessionEvent) -> str | None:
    """A line of the incident timeline for a session event (None: not shown)."""
    when = reading_time(event.time)
    data = event.data
    if event.type == "incident":
        kind = str(data.get("kind", ""))
        labels = {"call_dropped": _("Call dropped"), "call_restored": _("Call restored"),
                  "video_stopped": _("Video stopped by the connection (sound and values go on)"),
                  "video_resumed": _("Video back"), "station_stopped": _("Station stopped"),
                  "session_resumed": _("Session resumed")}
        if kind.startswith("device_"):
            what = _("Device lost") if kind == "device_lost" else _("Device not found")
            return f"{when}  {what}: {device_title(event.actor)}"
        return f"{when}  {labels.get(kind, kind)}"
    if event.type == "doctor_joined":
        return f"{when}  " + _("{name} joined").format(name=data.get("name", ""))
    if event.type == "audio_only":
        return f"{when}  " + (_("Sound only") if data.get("on") else _("Video back"))
    if event.type == "transition" and data.get("state") == "stopped":
        return f"{when}  " + _("Session stopped")
    return None


class WithdrawDialog(QDialog):
    """Confirmation of a withdrawal: who withdraws, or cancel (big buttons, no typing)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("withdraw-dialog")
        self.setWindowTitle(_("Consent withdrawn"))
        self.setModal(True)
        self.chosen: ConsentCapacity | None = None
        layout = QVBoxLayout(self)
        text = QLabel(_("The call, the video and the measurements stop at once. What was "
                        "already collected is kept. Who withdraws consent?"))
        text.setWordWrap(True)
        layout.addWidget(text)
        self.buttons: dict[ConsentCapacity, QPushButton] = {}
        for capacity in ConsentCapacity:
            button = QPushButton(capacity_text(capacity))
            button.setProperty("kind", "danger")
            button.clicked.connect(lambda _=False, c=capacity: self._choose(c))
            layout.addWidget(button)
            self.buttons[capacity] = button
        self.cancel = QPushButton(_("Cancel: go on with the examination"))
        self.cancel.clicked.connect(self.reject)
        layout.addWidget(self.cancel)
        self.resize(520, 420)

    def _choose(self, capacity: ConsentCapacity) -> None:
        self.chosen = capacity
        self.accept()


class ExamScreen(Screen):
    """Examination and call (see module doc)."""

    name = "exam"

    def __init__(self, controller: StationController, parent: QWidget | None = None) -> None:
        super().__init__(controller, _("Examination and call"), parent)
        self.live: LiveSession | None = None
        self.clip_seconds = CLIP_SECONDS
        self.tiles: dict[str, DeviceTile] = {}
        self.work: dict[str, str] = {}
        self.call_state = CallState.NEW
        self.audio_only = (False, "")
        self.withdraw_dialog: WithdrawDialog | None = None
        self._build_header()
        self._build_body()
        bridge = controller.bridge
        bridge.session_event.connect(self._on_session_event)
        bridge.device_event.connect(self._on_device_event)
        bridge.call_event.connect(self._on_call_event)
        self._meters = QTimer(self)
        self._meters.setInterval(1000 // METER_HZ)
        self._meters.timeout.connect(self._update_meters)

    # --- layout ------------------------------------------------------------------------------

    def _build_header(self) -> None:
        head = QHBoxLayout()
        self.resident = ResidentBanner()
        head.addWidget(self.resident, 3)
        call = QVBoxLayout()
        call.setSpacing(2)
        self.call_label = QLabel(call_state_text(CallState.NEW))
        self.call_label.setObjectName("call-state")
        self.call_label.setWordWrap(True)
        self.call_label.setProperty("role", "badge")
        self.call_label.setStyleSheet("background: #e4eef6;")
        self.doctor_label = QLabel(_("No doctor yet"))
        self.doctor_label.setObjectName("doctor")
        self.doctor_label.setWordWrap(True)
        self.doctor_label.setProperty("role", "muted")
        call.addWidget(self.call_label)
        call.addWidget(self.doctor_label)
        head.addLayout(call, 2)
        voice = QVBoxLayout()
        voice.setSpacing(2)
        voice_label = QLabel(_("Doctor's voice"))
        voice_label.setProperty("role", "muted")
        self.voice_meter = LevelMeter()
        self.voice_meter.setMaximumWidth(150)
        voice.addWidget(voice_label)
        voice.addWidget(self.voice_meter)
        head.addLayout(voice)
        self.withdraw_button = QPushButton(_("Consent withdrawn"))
        self.withdraw_button.setObjectName("withdraw")
        self.withdraw_button.setProperty("kind", "danger")
        self.withdraw_button.setMinimumHeight(56)
        bold = self.withdraw_button.font()
        bold.setBold(True)
        self.withdraw_button.setMinimumWidth(
            QFontMetrics(bold).horizontalAdvance(_("Consent withdrawn")) + 56)
        self.withdraw_button.clicked.connect(self.ask_withdrawal)
        head.addWidget(self.withdraw_button)
        self.body.addLayout(head)
        self.stopped_box = QFrame()
        self.stopped_box.setProperty("role", "banner-info")
        stopped = QHBoxLayout(self.stopped_box)
        self.stopped_text = QLabel()
        self.stopped_text.setWordWrap(True)
        stopped.addWidget(self.stopped_text, 1)
        home = QPushButton(_("Back to today"))
        home.clicked.connect(lambda: self.navigate.emit("today"))
        stopped.addWidget(home)
        self.stopped_box.hide()
        self.body.addWidget(self.stopped_box)

    def _build_body(self) -> None:
        content = QWidget()
        columns = QHBoxLayout(content)
        columns.setContentsMargins(0, 0, 0, 0)
        columns.setSpacing(14)
        left = QVBoxLayout()
        left.setSpacing(8)
        videos = QHBoxLayout()
        videos.setSpacing(10)
        self.room_view = VideoPreview(_("Room camera: starting…"))
        self.room_view.setObjectName("room-preview")
        self.room_view.set_caption(_("Room"))
        self.exam_view = VideoPreview(_("Exam camera: starting…"))
        self.exam_view.setObjectName("exam-preview")
        for view in (self.room_view, self.exam_view):
            view.setMaximumHeight(VIDEO_MAX_HEIGHT)
            videos.addWidget(view)
        left.addLayout(videos)
        left.addLayout(self._camera_row())
        self.tile_grid = QGridLayout()
        self.tile_grid.setHorizontalSpacing(8)
        self.tile_grid.setVerticalSpacing(8)
        self.no_tiles = QLabel(_("The devices appear here as they connect."))
        self.no_tiles.setProperty("role", "muted")
        self.tile_grid.addWidget(self.no_tiles, 0, 0)
        left.addLayout(self.tile_grid)
        left.addWidget(self._incident_box(), 1)
        columns.addLayout(left, 13)
        right = QVBoxLayout()
        right.setSpacing(8)
        right.addWidget(self._invite_box())
        right.addWidget(self._stethoscope_box())
        right.addStretch(1)
        columns.addLayout(right, 8)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(content)
        self.body.addWidget(scroll, 1)
        self.body.addLayout(self._status_row())

    def _status_row(self) -> QHBoxLayout:
        status = QHBoxLayout()
        self.work_label = QLabel()
        self.work_label.setObjectName("work")
        self.work_label.setProperty("role", "muted")
        self.work_bar = QProgressBar()
        self.work_bar.setRange(0, 0)
        self.work_bar.setMaximumWidth(220)
        self.work_bar.hide()
        status.addWidget(self.work_label, 1)
        status.addWidget(self.work_bar)
        self.report_button = QPushButton(_("Report") + " →")
        self.report_button.setObjectName("to-report")
        self.report_button.clicked.connect(lambda: self.navigate.emit("report"))
        status.addWidget(self.report_button)
        return status

    def _camera_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.exam_buttons = QButtonGroup(self)
        self.exam_buttons.setExclusive(True)
        self.exam_choice: dict[str, QPushButton] = {}
        for exam, label in (("otoscope", _("Otoscope")), ("dermatoscope", _("Dermatoscope"))):
            button = QPushButton(label)
            button.setCheckable(True)
            button.setObjectName(f"exam-{exam}")
            button.clicked.connect(lambda _=False, e=exam: self.choose_exam(e))
            self.exam_buttons.addButton(button)
            self.exam_choice[exam] = button
            row.addWidget(button)
        self.snapshot_button = QPushButton(_("Take a photo"))
        self.snapshot_button.setObjectName("snapshot")
        self.snapshot_button.setProperty("kind", "primary")
        self.snapshot_button.clicked.connect(self.take_snapshot)
        row.addWidget(self.snapshot_button)
        self.gallery = QListWidget()
        self.gallery.setObjectName("gallery")
        self.gallery.setViewMode(QListView.ViewMode.IconMode)
        self.gallery.setFlow(QListView.Flow.LeftToRight)
        self.gallery.setWrapping(False)
        self.gallery.setIconSize(THUMB)
        self.gallery.setFixedHeight(THUMB.height() + 12)
        self.gallery.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.gallery.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.gallery.setStyleSheet("QListWidget::item { min-height: 0px; padding: 1px; }")
        row.addWidget(self.gallery, 1)
        return row

    def _invite_box(self) -> QFrame:
        box = QFrame()
        box.setProperty("role", "card")
        layout = QGridLayout(box)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(6)
        title = QLabel(_("Invite the doctor"))
        title.setStyleSheet("font-weight: 600;")
        layout.addWidget(title, 0, 0, 1, 3)
        self.invite_button = QPushButton(_("Create the doctor's link"))
        self.invite_button.setObjectName("invite")
        self.invite_button.setProperty("kind", "primary")
        self.invite_button.clicked.connect(self.invite)
        layout.addWidget(self.invite_button, 1, 0, 1, 2)
        self.copy_button = QPushButton(_("Copy the link"))
        self.copy_button.setObjectName("copy-link")
        self.copy_button.clicked.connect(self.copy_link)
        layout.addWidget(self.copy_button, 1, 2)
        self.link_field = QLineEdit()
        self.link_field.setObjectName("link")
        self.link_field.setReadOnly(True)
        self.link_field.setPlaceholderText(_("The link appears here"))
        layout.addWidget(self.link_field, 2, 0, 1, 3)
        self.qr = QLabel()
        self.qr.setObjectName("qr")
        self.qr.setFixedSize(QR_PX, QR_PX)
        self.qr.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.qr.setStyleSheet("background: white; border: 1px solid #d5dee5;")
        self.qr.setToolTip(_("Or the doctor scans the code with a phone."))
        layout.addWidget(self.qr, 3, 0, 2, 1)
        self.email_field = QLineEdit()
        self.email_field.setObjectName("email")
        self.email_field.setPlaceholderText(_("Doctor's e-mail address"))
        self.email_field.returnPressed.connect(self.send_email)
        layout.addWidget(self.email_field, 3, 1, 1, 2)
        self.email_field.setMinimumWidth(120)
        self.email_button = QPushButton(_("Send by e-mail"))
        self.email_button.setObjectName("send-email")
        self.email_button.clicked.connect(self.send_email)
        layout.addWidget(self.email_button, 4, 1, 1, 2)
        self.mail_status = QLabel()
        self.mail_status.setObjectName("mail-status")
        self.mail_status.setWordWrap(True)
        self.mail_status.setProperty("role", "muted")
        self.mail_status.hide()
        layout.addWidget(self.mail_status, 5, 0, 1, 3)
        layout.setColumnStretch(1, 1)
        layout.setColumnStretch(2, 1)
        self._set_link_actions(False)
        return box

    def _stethoscope_box(self) -> QFrame:
        box = QFrame()
        box.setProperty("role", "card")
        layout = QGridLayout(box)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.setSpacing(6)
        title = QLabel(_("Stethoscope"))
        title.setStyleSheet("font-weight: 600;")
        layout.addWidget(title, 0, 0)
        self.steth_meter = LevelMeter()
        self.steth_meter.setObjectName("stethoscope-level")
        layout.addWidget(self.steth_meter, 0, 1)
        self.listen_button = QPushButton(_("Listen here"))
        self.listen_button.setObjectName("listen")
        self.listen_button.setCheckable(True)
        self.listen_button.toggled.connect(self.toggle_listening)
        layout.addWidget(self.listen_button, 0, 2)
        self.site = QComboBox()
        self.site.setObjectName("site")
        self.site.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.site.setMinimumContentsLength(12)
        for code in CLIP_SITES:
            self.site.addItem(site_label(code, language()), code)
        layout.addWidget(self.site, 1, 0, 1, 2)
        self.clip_button = QPushButton(_("Record {seconds} s").format(
            seconds=int(CLIP_SECONDS)))
        self.clip_button.setObjectName("record-clip")
        self.clip_button.clicked.connect(self.record_clip)
        layout.addWidget(self.clip_button, 1, 2)
        self.clip_bar = QProgressBar()
        self.clip_bar.setObjectName("clip-progress")
        self.clip_bar.setRange(0, 100)
        self.clip_bar.setValue(0)
        self.clip_bar.setFormat("%p %")
        self.clip_bar.setMaximumHeight(18)
        layout.addWidget(self.clip_bar, 2, 0, 1, 3)
        self.clips = QLabel(_("No recording yet."))
        self.clips.setObjectName("clips")
        self.clips.setProperty("role", "muted")
        self.clips.setWordWrap(True)
        layout.addWidget(self.clips, 3, 0, 1, 3)
        layout.setColumnStretch(1, 1)
        self.clip_list: list[StoredClip] = []
        return box

    def _incident_box(self) -> QFrame:
        box = QFrame()
        box.setProperty("role", "card")
        layout = QVBoxLayout(box)
        layout.setContentsMargins(12, 8, 12, 8)
        title = QLabel(_("Events"))
        title.setStyleSheet("font-weight: 600;")
        layout.addWidget(title)
        self.incidents = QListWidget()
        self.incidents.setObjectName("incidents")
        self.incidents.setStyleSheet("QListWidget::item { min-height: 24px; padding: 0px; }")
        self.incidents.setMinimumHeight(90)
        layout.addWidget(self.incidents)
        return box

    # --- entering ----------------------------------------------------------------------------

    def entered(self) -> None:
        super().entered()
        session = self.controller.session
        if session is None:
            self.show_error(_("No session is open."),
                            _("Go back to today's screen and start a new session."))
            return
        self.resident.show_identity(session.resident.identity if session.resident else None)
        live = self.controller.live
        if live is None:
            live = LiveSession(self.controller)
            self.controller.live = live
        if live is not self.live:
            self._bind(live)
        if live.runtime is None:
            self._load_history()
            live.start()
        self._meters.start()

    def _bind(self, live: LiveSession) -> None:
        self.live = live
        live.started.connect(self._on_started)
        live.stopped.connect(self._on_stopped)
        live.work_started.connect(self._on_work_started)
        live.work_progress.connect(self._on_work_progress)
        live.work_finished.connect(self._on_work_finished)
        live.failed.connect(self._on_failed)
        live.snapshot_taken.connect(self._on_snapshot)
        live.clip_recorded.connect(self._on_clip)
        live.link_ready.connect(self._on_link)
        live.link_mailed.connect(self._on_mailed)
        live.listening_changed.connect(self._on_listening)

    def _load_history(self) -> None:
        """What the session already holds (coming back to the screen, a resumed session)."""
        session = self.controller.session
        if session is None:
            return
        self.incidents.clear()
        for measurement in session.measurements():
            self._show_measurement(measurement)
        for event in session.events():
            self._on_session_event(event)

    def _on_started(self) -> None:
        live = self.live
        if live is None:
            return
        for url in live.instruments():
            self._tile(url)
        cameras = live.cameras()
        self.room_view.set_source(live.camera_frame("room") if "room" in cameras else None)
        if "room" not in cameras:
            self.room_view.placeholder = _("No room camera on this cart.")
        for exam, button in self.exam_choice.items():
            button.setEnabled(exam in cameras)
        self.snapshot_button.setEnabled(bool(set(cameras) & set(self.exam_choice)))
        self._show_exam(live.exam)

    def _on_stopped(self) -> None:
        self.room_view.set_source(None)
        self.exam_view.set_source(None)
        self._meters.stop()
        self.steth_meter.set_level(float("-inf"))
        self.voice_meter.set_level(float("-inf"))

    # --- instruments -----------------------------------------------------------------------

    def _tile(self, url: str) -> DeviceTile:
        tile = self.tiles.get(url)
        if tile is None:
            self.no_tiles.hide()
            tile = DeviceTile(url)
            index = len(self.tiles)
            self.tiles[url] = tile
            self.tile_grid.addWidget(tile, index // TILE_COLUMNS, index % TILE_COLUMNS)
        return tile

    def _is_instrument(self, url: str) -> bool:
        if self.live is not None and url in self.live.instruments():
            return True
        return not any(word in url for word in ("camera", "scope", "video", "audio"))

    def _show_measurement(self, measurement: Measurement) -> None:
        self._tile(measurement.device).show_measurement(measurement)

    def _on_device_event(self, event: DeviceEvent) -> None:
        if not self._is_instrument(event.url):
            return
        if event.kind in (EventKind.CONNECTED, EventKind.LOST, EventKind.UNAVAILABLE):
            self._tile(event.url).set_connection(event.kind.value, event.detail)
        elif event.kind is EventKind.BATTERY and event.battery_percent is not None:
            self._tile(event.url).set_battery(event.battery_percent)

    def _on_session_event(self, event: SessionEvent) -> None:
        session = self.controller.session
        if session is None or event.session_id != session.id:
            return
        if event.type == "measurement":
            self._show_measurement(event.data["measurement"])
            return
        if event.type == "doctor_joined":
            self.doctor_label.setText(_("{name}\n{specialty}").format(
                name=event.data.get("name", ""), specialty=event.data.get("specialty", "")))
            self.doctor_label.setProperty("role", "")
            self.doctor_label.setStyleSheet("font-weight: 600;")
        if event.type == "transition" and event.data.get("state") == "stopped":
            self._show_stopped(str(event.data.get("decision") or ""))
        line = incident_text(event)
        if line is not None:
            self.incidents.insertItem(0, line)

    def _show_stopped(self, decision: str) -> None:
        text = (_("Consent withdrawn: the call and the examination are stopped, and this is "
                  "recorded. What was collected before is kept.") if decision == "retire"
                else _("The session is stopped."))
        self.stopped_text.setText(text)
        self.stopped_box.show()
        for widget in (self.withdraw_button, self.snapshot_button, self.clip_button,
                       self.invite_button, self.email_button, self.listen_button,
                       *self.exam_choice.values()):
            widget.setEnabled(False)

    # --- the call ----------------------------------------------------------------------------

    def _on_call_event(self, event: object) -> None:
        if isinstance(event, StateChanged):
            self.call_state = event.state
            if event.state is not CallState.CONNECTED:
                self.audio_only = (False, "")
        elif isinstance(event, AudioOnlyChanged):
            self.audio_only = (event.on, event.cause)
        else:
            return
        self.call_label.setText(call_state_text(self.call_state, *self.audio_only))
        colours = {CallState.CONNECTED: "#dff3e6", CallState.RECONNECTING: "#fff1d6",
                   CallState.ENDED: "#fde7e5"}
        self.call_label.setStyleSheet(
            f"background: {colours.get(self.call_state, '#e4eef6')};")

    def _update_meters(self) -> None:
        if self.live is None:
            return
        self.steth_meter.set_level(self.live.stethoscope_level())
        self.voice_meter.set_level(self.live.doctor_voice_level())

    # --- the nurse's actions -------------------------------------------------------------------

    def choose_exam(self, exam: str) -> None:
        """Show ``exam`` (otoscope, dermatoscope) here and to the doctor."""
        if self.live is None or self.live.runtime is None:
            return
        self.live.switch_exam(exam)
        self._show_exam(self.live.exam)

    def _show_exam(self, exam: str) -> None:
        if self.live is None or not exam:
            return
        self.exam_choice[exam].setChecked(True)
        self.exam_view.set_source(self.live.camera_frame(exam))
        self.exam_view.set_caption(self.exam_choice[exam].text())

    def take_snapshot(self) -> None:
        """A full-resolution photo of the exam camera shown."""
        if self.live is not None and self.live.running:
            self.snapshot_button.setEnabled(False)
            self.live.snapshot(self.live.exam)

    def _on_snapshot(self, stored: StoredSnapshot) -> None:
        self.snapshot_button.setEnabled(True)
        if self.live is not None:
            self.live.spawn(self._add_thumbnail(stored), "thumbnail")

    async def _add_thumbnail(self, stored: StoredSnapshot) -> None:
        """Decode and shrink the full-resolution PNG off the GUI thread."""
        def load() -> QImage:
            image = QImage(str(stored.path))
            return image.scaled(THUMB * 2, Qt.AspectRatioMode.KeepAspectRatio,
                                Qt.TransformationMode.SmoothTransformation)
        image = await asyncio.to_thread(load)
        item = QListWidgetItem(QIcon(QPixmap.fromImage(image)), "")
        item.setToolTip(f"{stored.exam} · {stored.path.name}")
        item.setData(Qt.ItemDataRole.UserRole, stored.id)
        self.gallery.insertItem(0, item)

    def record_clip(self) -> None:
        """Record the stethoscope for the chosen site."""
        if self.live is None or not self.live.running:
            return
        self.clip_button.setEnabled(False)
        self.clip_bar.setValue(0)
        self.live.record_clip(str(self.site.currentData()), self.clip_seconds)

    def _on_clip(self, clip: StoredClip) -> None:
        self.clip_button.setEnabled(True)
        self.clip_list.append(clip)
        self.clips.setText(" · ".join(
            _("{site} ({seconds} s)").format(site=site_label(c.site, language()),
                                             seconds=f"{c.duration_s:.0f}")
            for c in self.clip_list))

    def toggle_listening(self, on: bool) -> None:
        """Hear the stethoscope on the cart (the doctor hears it anyway)."""
        if self.live is None:
            return
        if on != self.live.listening:
            self.live.set_listening(on)

    def _on_listening(self, on: bool) -> None:
        self.listen_button.blockSignals(True)
        self.listen_button.setChecked(on)
        self.listen_button.blockSignals(False)
        self.listen_button.setText(_("Stop listening") if on else _("Listen here"))

    def invite(self) -> None:
        """A new one-time link for the doctor."""
        if self.live is not None and self.live.running:
            self.invite_button.setEnabled(False)
            self.live.invite()

    def _on_link(self, link: str) -> None:
        self.invite_button.setEnabled(True)
        self.invite_button.setText(_("New link"))
        self.link_field.setText(link)
        self.qr.setPixmap(qr_pixmap(link, QR_PX - 6))
        self._set_link_actions(True)
        if self.controller.settings.extra.get("open_doctor_link"):
            # Demo with a display: whoever runs it plays the doctor in their browser.
            print(f"DOCTOR-LINK {link}", flush=True)
            QDesktopServices.openUrl(QUrl(link))

    def _set_link_actions(self, on: bool) -> None:
        self.copy_button.setEnabled(on)

    def copy_link(self) -> None:
        """Put the link on the clipboard (to paste into a secure message)."""
        clipboard = QGuiApplication.clipboard()
        clipboard.setText(self.link_field.text())
        self._on_work_started("copied", _("Link copied: paste it into a message to the "
                                          "doctor."))
        QTimer.singleShot(4000, lambda: self._on_work_finished("copied"))

    def send_email(self) -> None:
        """E-mail the link (a link is created first if there is none)."""
        address = self.email_field.text().strip()
        if not address:
            self.show_error(_("No e-mail address."), _("Type the doctor's address, then "
                                                       "press « Send »."))
            return
        if self.live is not None and self.live.running:
            self.email_button.setEnabled(False)
            self.live.send_link_by_email(address)

    def _on_mailed(self, address: str, state: str) -> None:
        self.email_button.setEnabled(True)
        self.mail_status.setText(_("E-mail to {address}: {state}").format(
            address=address, state=state))
        self.mail_status.show()

    # --- withdrawal --------------------------------------------------------------------------

    def ask_withdrawal(self) -> None:
        """Ask who withdraws (or cancel) before anything stops."""
        dialog = WithdrawDialog(self)
        dialog.accepted.connect(lambda: self._withdraw(dialog.chosen))
        self.withdraw_dialog = dialog
        dialog.open()

    def _withdraw(self, capacity: ConsentCapacity | None) -> None:
        if capacity is None or self.live is None:
            return
        try:
            self.live.withdraw_consent(capacity)
        except StationError as error:
            self.show_error(error.message, _("Ask the nurse in charge; the examination "
                                             "goes on meanwhile."))

    # --- progress and failures -----------------------------------------------------------------

    def _on_work_started(self, key: str, label: str) -> None:
        self.work[key] = label
        self._show_work()

    def _on_work_progress(self, key: str, fraction: float) -> None:
        if key == "clip":
            self.clip_bar.setValue(round(fraction * 100))

    def _on_work_finished(self, key: str) -> None:
        self.work.pop(key, None)
        if key == "invite":
            self.invite_button.setEnabled(True)
        self._show_work()

    def _show_work(self) -> None:
        labels = list(self.work.values())
        self.work_label.setText(labels[-1] if labels else "")
        self.work_bar.setVisible(any(key != "copied" for key in self.work))

    def _on_failed(self, key: str, message: str, what_to_do: str) -> None:
        buttons = {"snapshot": self.snapshot_button, "clip": self.clip_button,
                   "invite": self.invite_button, "mail": self.email_button}
        if key in buttons:
            buttons[key].setEnabled(True)
        if key == "mail":
            self.mail_status.setText(message)
            self.mail_status.show()
        self.show_error(message, what_to_do)

    # --- for tests and the demo -------------------------------------------------------------

    def tile_values(self) -> dict[str, str]:
        """Every value shown on the tiles, by kind."""
        return {kind: tile.value_text(kind) for tile in self.tiles.values()
                for kind in tile.latest}

    def incident_lines(self) -> list[str]:
        """The incident timeline, newest first."""
        return [self.incidents.item(i).text() for i in range(self.incidents.count())]

    def snapshot_count(self) -> int:
        """Photos in the gallery."""
        return self.gallery.count()
