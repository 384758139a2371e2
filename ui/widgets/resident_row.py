"""One resident in a list: a big row to tap (or Tab + Enter) to choose them."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from station.store.residents import Resident
from ui.widgets.resident_banner import birth_line, flag_chip, status_badge

ROW_PX = 76


class ResidentRow(QPushButton):
    """Name, date of birth, age, sex, flags and the identity status badge."""

    def __init__(self, resident: Resident, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.resident = resident
        identity = resident.identity
        self.setObjectName(f"resident-row-{resident.id}")
        self.setAccessibleName(identity.display_name())
        self.setAutoDefault(True)
        self.setStyleSheet(f"QPushButton {{ text-align: left; padding: 4px 8px;"
                           f" min-height: {ROW_PX - 10}px; }}")
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 6, 16, 6)
        texts = QVBoxLayout()
        texts.setSpacing(0)
        name = QLabel(identity.display_name())
        name.setStyleSheet("font-size: 16pt; font-weight: 600;")
        details = QLabel(birth_line(identity))
        details.setProperty("role", "muted")
        texts.addWidget(name)
        texts.addWidget(details)
        row.addLayout(texts, 1)
        centre = Qt.AlignmentFlag.AlignVCenter
        for flag in sorted(identity.flags):
            row.addWidget(flag_chip(flag), 0, centre)
        row.addWidget(status_badge(identity.status), 0, centre)
        for label in self.findChildren(QLabel):
            label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
