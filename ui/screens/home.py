"""Home after sign-in: Today for the roles that may read clinical data, and for a
technician the same screen with a notice instead of residents and sessions.

Whether a role may read clinical data is the core's rule (:mod:`station.access`,
asked through the controller); this screen only shows the answer. It keeps the
Today screen's name, so every way back to "today" lands here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QPushButton, QVBoxLayout, QWidget

from ui.i18n import _
from ui.screens.base import Screen
from ui.screens.today import TodayScreen

if TYPE_CHECKING:
    from ui.controller import StationController

# The parts of Today that show residents and sessions (their object names).
CLINICAL_PARTS = ("new-session", "today-sessions", "today-waiting")


class HomeScreen(TodayScreen):
    """Today, or for a role without clinical access a notice and « Sign out »."""

    def __init__(self, controller: StationController) -> None:
        super().__init__(controller)
        self.no_access = QFrame()
        self.no_access.setProperty("role", "card")
        self.no_access.setObjectName("today-no-clinical")
        layout = QVBoxLayout(self.no_access)
        layout.setContentsMargins(24, 20, 24, 20)
        self.notice = QLabel(_(
            "Clinical data (residents, sessions, measurements, photos, reports, "
            "tele-expertise) is not available to the technician role."))
        self.notice.setObjectName("today-no-clinical-text")
        self.notice.setWordWrap(True)
        self.notice.setStyleSheet("font-size: 15pt; font-weight: 600;")
        hint = QLabel(_("Devices and the network are set up with the station command "
                        "(station devices, station serve). A nurse signs in to run a session."))
        hint.setProperty("role", "muted")
        hint.setWordWrap(True)
        self.sign_out = QPushButton(_("Sign out"))
        self.sign_out.setObjectName("today-sign-out")
        self.sign_out.clicked.connect(self.leave)
        layout.addWidget(self.notice)
        layout.addWidget(hint)
        layout.addWidget(self.sign_out, 0, Qt.AlignmentFlag.AlignLeft)
        self.body.addWidget(self.no_access)
        self.body.addStretch(1)
        self.no_access.hide()

    def entered(self) -> None:
        allowed = self.controller.may_read_clinical()
        for name in CLINICAL_PARTS:
            part = self.findChild(QWidget, name)
            if part is not None:
                part.setVisible(allowed)
        self.no_access.setVisible(not allowed)
        if allowed:
            super().entered()
            return
        Screen.entered(self)  # Today's refresh would ask the core for what it refuses
        self.pin_saved.hide()
        nurse = self.controller.nurse
        self.greeting.setText(nurse.display_name if nurse else "")
        self.sign_out.setFocus(Qt.FocusReason.OtherFocusReason)

    def leave(self) -> None:
        """Sign out and go back to the sign-in screen."""
        self.controller.sign_out()
        self.navigate.emit("signin")
