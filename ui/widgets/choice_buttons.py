"""A row of big toggle buttons, one of which is chosen (a touch-friendly radio group)."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QButtonGroup, QHBoxLayout, QPushButton, QWidget

from ui.theme import ACCENT, ACCENT_INK, CHECKED_FOCUS

# The theme's focus border is 3 px instead of 1: take the difference from the
# padding so a focused button keeps its size and its text is not clipped.
KEEP_SIZE_ON_FOCUS = "QPushButton:focus { padding: 4px 16px; }"

_CHECKED = KEEP_SIZE_ON_FOCUS + f"""
QPushButton:checked {{ background: {ACCENT}; color: {ACCENT_INK}; border-color: {ACCENT}; }}
QPushButton:checked:disabled {{ background: #7fa6bd; color: white; }}
""" + CHECKED_FOCUS  # the accent ring would vanish on the accent fill: amber instead


class ChoiceButtons(QWidget):
    """One choice among a few, each a 48 px button; ``changed`` gives the chosen value."""

    changed = Signal(str)

    def __init__(self, choices: Sequence[tuple[str, str]], value: str | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setStyleSheet(_CHECKED)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(8)
        self.group = QButtonGroup(self)
        self.group.setExclusive(True)
        self.buttons: dict[str, QPushButton] = {}
        for key, label in choices:
            button = QPushButton(label)
            button.setCheckable(True)
            button.setObjectName(f"choice-{key}")
            self.group.addButton(button)
            self.buttons[key] = button
            layout.addWidget(button)
            button.toggled.connect(lambda on, key=key: self._toggled(key, on))
        layout.addStretch(1)
        if value is not None:
            self.set_value(value)

    def _toggled(self, key: str, on: bool) -> None:
        if on:
            self.changed.emit(key)

    def value(self) -> str | None:
        """The chosen key, if any."""
        return next((k for k, b in self.buttons.items() if b.isChecked()), None)

    def set_value(self, key: str) -> None:
        """Choose ``key``."""
        self.buttons[key].setChecked(True)
