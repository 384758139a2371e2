"""The resident at a glance, reusable on every screen of a session: name, date of
birth, age, identity status badge and flags. Also the status badge alone."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from station.identity import IdentityFlag, IdentityStatus, ResidentIdentity
from ui.formatting import age_text, day_text, flag_text, sex_text, status_text
from ui.i18n import _
from ui.theme import DANGER

_FLAG_STYLE = (f"QLabel {{ background: #fde7e5; color: {DANGER}; border-radius: 6px;"
               " padding: 4px 10px; font-weight: 600; }")


def status_badge(status: IdentityStatus, parent: QWidget | None = None) -> QLabel:
    """The identity status as a coloured badge (theme: role=badge, status=<value>)."""
    badge = QLabel(status_text(status), parent)
    badge.setProperty("role", "badge")
    badge.setProperty("status", status.value)
    badge.setObjectName("status-badge")
    return badge


def flag_chip(flag: IdentityFlag, parent: QWidget | None = None) -> QLabel:
    """An identity flag as a red chip (a warning the nurse must see)."""
    chip = QLabel("⚠ " + flag_text(flag), parent)
    chip.setStyleSheet(_FLAG_STYLE)
    chip.setObjectName(f"flag-{flag.value}")
    return chip


def birth_line(identity: ResidentIdentity) -> str:
    """« Née le 12/03/1931 · 93 ans · Femme »."""
    return _("Born {date} · {age} · {sex}").format(
        date=day_text(identity.birth_date), age=age_text(identity.birth_date),
        sex=sex_text(identity.sex))


class ResidentBanner(QFrame):
    """A compact card naming the resident; ``show_identity(None)`` empties it."""

    def __init__(self, identity: ResidentIdentity | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setProperty("role", "card")
        self.setObjectName("resident-banner")
        row = QHBoxLayout(self)
        row.setContentsMargins(16, 10, 16, 10)
        row.setSpacing(14)
        texts = QVBoxLayout()
        texts.setSpacing(2)
        self.name = QLabel()
        self.name.setObjectName("resident-name")
        self.name.setStyleSheet("font-size: 17pt; font-weight: 600;")
        self.details = QLabel()
        self.details.setProperty("role", "muted")
        texts.addWidget(self.name)
        texts.addWidget(self.details)
        row.addLayout(texts, 1)
        self.badges = QHBoxLayout()
        self.badges.setSpacing(8)
        row.addLayout(self.badges)
        self.show_identity(identity)

    def show_identity(self, identity: ResidentIdentity | None) -> None:
        """Show this identity (or nothing)."""
        while self.badges.count():
            item = self.badges.takeAt(0)
            widget = item.widget() if item is not None else None
            if widget is not None:
                widget.hide()
                widget.deleteLater()
        self.setVisible(identity is not None)
        if identity is None:
            return
        self.name.setText(identity.display_name())
        self.details.setText(birth_line(identity))
        centre = Qt.AlignmentFlag.AlignVCenter
        for flag in sorted(identity.flags):
            self.badges.addWidget(flag_chip(flag), 0, centre)
        self.badges.addWidget(status_badge(identity.status), 0, centre)
