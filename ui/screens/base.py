"""What every screen shares: a title, a place for errors a nurse can act on,
and the controller through which it reaches the station."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from ui.i18n import _

if TYPE_CHECKING:
    from ui.controller import StationController


class Screen(QWidget):
    """One step of the session. Subclasses fill ``self.body`` and set ``name``.

    ``navigate`` asks the window to show another screen by name; ``entered()``
    runs each time the screen is shown (refresh what may have changed).
    """

    name = "screen"
    navigate = Signal(str)

    def __init__(self, controller: StationController, title: str = "",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self.setObjectName(f"screen-{self.name}")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(24, 16, 24, 16)
        outer.setSpacing(12)
        self.title = QLabel(title)
        self.title.setProperty("role", "title")
        self.title.setObjectName("screen-title")
        outer.addWidget(self.title)
        self.banner = QFrame()
        self.banner.setProperty("role", "banner-error")
        banner_layout = QHBoxLayout(self.banner)
        self.banner_text = QLabel()
        self.banner_text.setWordWrap(True)
        self.banner_text.setObjectName("screen-error")
        banner_layout.addWidget(self.banner_text)
        self.banner.hide()
        outer.addWidget(self.banner)
        self.body = QVBoxLayout()
        self.body.setSpacing(12)
        outer.addLayout(self.body, 1)

    def entered(self) -> None:
        """Called each time the screen is shown."""
        self.clear_error()

    def show_error(self, message: str, what_to_do: str = "") -> None:
        """Say what went wrong and what to do next, in words a nurse acts on."""
        text = message if not what_to_do else f"{message}\n{_('What to do:')} {what_to_do}"
        self.banner_text.setText(text)
        self.banner.show()

    def clear_error(self) -> None:
        """Hide the error banner."""
        self.banner.hide()
        self.banner_text.clear()
