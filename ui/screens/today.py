"""Today: the day's sessions on this station (resume those in progress), the
télé-expertise requests waiting for an answer, and "New session".

A "planned" teleconsultation is a session opened earlier today and not
finished (no scheduling system): see :mod:`station.today`.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from station.errors import StationError
from station.store.residents import Resident
from station.today import DaySession
from ui.formatting import act_text, day_text, sentence, state_text, time_text
from ui.i18n import _, language
from ui.screens.base import Screen
from ui.theme import OK
from ui.widgets.choice_buttons import KEEP_SIZE_ON_FOCUS
from ui.widgets.pin_dialog import PinDialog
from ui.widgets.resident_banner import status_badge

if TYPE_CHECKING:
    from station.expertise import Waiting
    from ui.controller import StationController

# Where a resumed session picks up, by its state.
SCREEN_FOR_STATE = {"identify": "resident", "consent": "consent", "examine": "exam",
                    "report": "report"}
_DAYS = {"fr": ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche"),
         "en": ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")}


def section(title: str, object_name: str) -> tuple[QFrame, QVBoxLayout]:
    """A white card with a heading and a scrolling list; returns the card and the list."""
    card = QFrame()
    card.setProperty("role", "card")
    card.setObjectName(object_name)
    outer = QVBoxLayout(card)
    outer.setContentsMargins(18, 14, 18, 14)
    heading = QLabel(title)
    heading.setStyleSheet("font-size: 16pt; font-weight: 600;")
    outer.addWidget(heading)
    scroll = QScrollArea()
    scroll.setWidgetResizable(True)
    scroll.setFrameShape(QFrame.Shape.NoFrame)
    scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
    holder = QWidget()
    holder.setObjectName("list-holder")
    holder.setStyleSheet("QWidget#list-holder { background: white; }")
    rows = QVBoxLayout(holder)
    rows.setContentsMargins(0, 0, 0, 0)
    rows.setSpacing(8)
    scroll.setWidget(holder)
    outer.addWidget(scroll, 1)
    return card, rows


def clear(layout: QVBoxLayout) -> None:
    """Remove every row of a list."""
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            widget.hide()  # at once; deleted when the loop comes back
            widget.deleteLater()


def row_frame(name: str) -> tuple[QFrame, QHBoxLayout]:
    """A row of a list: a light frame with its own layout."""
    frame = QFrame()
    frame.setObjectName(name)
    frame.setStyleSheet(f"QFrame#{name} {{ background: #f4f7f9; border-radius: 8px; }}")
    frame.setMinimumHeight(64)
    layout = QHBoxLayout(frame)
    layout.setContentsMargins(14, 6, 10, 6)
    layout.setSpacing(12)
    return frame, layout


def two_lines(first: str, second: str) -> QVBoxLayout:
    """A bold line over a muted one."""
    box = QVBoxLayout()
    box.setSpacing(0)
    top = QLabel(first)
    top.setStyleSheet("font-weight: 600;")
    top.setWordWrap(True)
    bottom = QLabel(second)
    bottom.setProperty("role", "muted")
    bottom.setWordWrap(True)
    box.addWidget(top)
    box.addWidget(bottom)
    return box


class TodayScreen(Screen):
    """The nurse's home: what is under way today and what waits for an answer."""

    name = "today"

    def __init__(self, controller: StationController) -> None:
        super().__init__(controller, _("Today"))
        self.setStyleSheet(KEEP_SIZE_ON_FOCUS)
        top = QHBoxLayout()
        self.greeting = QLabel()
        self.greeting.setProperty("role", "subtitle")
        self.greeting.setObjectName("today-greeting")
        top.addWidget(self.greeting, 1)
        self.pin_saved = QLabel(_("PIN saved: it unlocks the station from now on."))
        self.pin_saved.setObjectName("today-pin-saved")
        self.pin_saved.setStyleSheet(f"font-weight: 600; color: {OK};")
        self.pin_saved.hide()
        top.addWidget(self.pin_saved)
        self.pin_button = QPushButton(_("My PIN"))
        self.pin_button.setObjectName("today-pin")
        self.pin_button.clicked.connect(self.ask_pin)
        top.addWidget(self.pin_button)
        self.pin_dialog: PinDialog | None = None
        self.lock_button = QPushButton(_("Lock"))
        self.lock_button.setObjectName("today-lock")
        self.lock_button.clicked.connect(lambda: self.navigate.emit("lock"))
        top.addWidget(self.lock_button)
        self.body.addLayout(top)
        self.new_session = QPushButton(_("New session"))
        self.new_session.setObjectName("new-session")
        self.new_session.setProperty("kind", "primary")
        self.new_session.setStyleSheet("min-height: 64px; font-size: 18pt;")
        self.new_session.clicked.connect(self.start_new)
        self.body.addWidget(self.new_session)
        columns = QHBoxLayout()
        columns.setSpacing(16)
        sessions_card, self.sessions = section(_("Sessions today"), "today-sessions")
        waiting_card, self.waiting = section(_("Tele-expertise: waiting for an answer"),
                                             "today-waiting")
        columns.addWidget(sessions_card, 1)
        columns.addWidget(waiting_card, 1)
        self.body.addLayout(columns, 1)
        self.setTabOrder(self.new_session, self.pin_button)
        self.setTabOrder(self.pin_button, self.lock_button)

    def entered(self) -> None:
        super().entered()
        self.pin_saved.hide()
        self.refresh()
        self.new_session.setFocus(Qt.FocusReason.OtherFocusReason)

    def refresh(self) -> None:
        """Re-read the day's sessions and the waiting requests."""
        nurse = self.controller.nurse
        today = date.today()
        weekday = _DAYS.get(language(), _DAYS["en"])[today.weekday()]
        self.greeting.setText(_("Hello {name} — {weekday} {date}").format(
            name=nurse.display_name if nurse else "", weekday=weekday, date=day_text(today)))
        clear(self.sessions)
        for day_session in self.controller.sessions_today():
            self.sessions.addWidget(self._session_row(day_session))
        if not self.sessions.count():
            self.sessions.addWidget(self._empty(_("No session yet today.")))
        self.sessions.addStretch(1)
        clear(self.waiting)
        for waiting, resident in self.controller.waiting_expertise():
            self.waiting.addWidget(self._waiting_row(waiting, resident))
        if not self.waiting.count():
            self.waiting.addWidget(self._empty(_("No request waiting for an answer.")))
        self.waiting.addStretch(1)

    @staticmethod
    def _empty(text: str) -> QLabel:
        label = QLabel(text)
        label.setProperty("role", "muted")
        label.setObjectName("empty")
        return label

    def _session_row(self, day: DaySession) -> QFrame:
        row = day.row
        frame, layout = row_frame(f"session-{row.id[:8]}")
        who = (day.resident.identity.display_name() if day.resident
               else _("Resident not chosen yet"))
        layout.addLayout(two_lines(
            f"{time_text(row.created_at)}  ·  {who}",
            f"{act_text(row.act)} — {state_text(row.state)}"), 1)
        if day.resident is not None:
            layout.addWidget(status_badge(day.resident.identity.status), 0,
                             Qt.AlignmentFlag.AlignVCenter)
        if day.in_progress:
            resume = QPushButton(_("Resume"))
            resume.setObjectName(f"resume-{row.id[:8]}")
            resume.setProperty("kind", "primary")
            resume.clicked.connect(lambda _checked=False, sid=row.id: self.resume(sid))
            layout.addWidget(resume, 0, Qt.AlignmentFlag.AlignVCenter)
        return frame

    def _waiting_row(self, waiting: Waiting, resident: Resident | None) -> QFrame:
        from station.expertise import age_text  # noqa: PLC0415 - loaded with the requests

        request = waiting.request
        frame, layout = row_frame(f"waiting-{request.id[:8]}")
        question = request.question if len(request.question) <= 90 \
            else request.question[:87] + "…"
        who = f"{resident.identity.display_name()}  ·  " if resident else ""
        layout.addLayout(two_lines(
            f"{who}{request.expert.name} ({request.expert.specialty})",
            _("{question} — waiting for {age}").format(question=question,
                                                      age=age_text(waiting.age))), 1)
        return frame

    def ask_pin(self) -> None:
        """Open « My PIN » (password, then the new PIN twice)."""
        self.pin_saved.hide()
        if self.pin_dialog is not None:  # the last one, closed: not kept for ever
            self.pin_dialog.deleteLater()
        dialog = PinDialog(self.controller, self)
        dialog.accepted.connect(self.pin_saved.show)
        self.pin_dialog = dialog
        dialog.open()

    def start_new(self) -> None:
        """A new session starts with finding the resident."""
        self.controller.new_session()
        self.navigate.emit("resident")

    def resume(self, session_id: str) -> None:
        """Pick the session up where it stands."""
        try:
            engine = self.controller.resume_session(session_id)
        except StationError as error:
            self.show_error(sentence(error.message), _("Go back to Today and try again."))
            return
        self.navigate.emit(SCREEN_FOR_STATE.get(engine.state.value, "today"))
