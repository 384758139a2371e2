"""A date field a nurse types quickly: digits only, the slashes come by themselves."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLineEdit, QWidget

from ui.i18n import _


def format_date_digits(digits: str, growing: bool) -> str:
    """``12031931`` → ``12/03/1931``; a slash is added after the day and the month
    only while typing forward, so Backspace can remove it."""
    digits = digits[:8]
    day, month, year = digits[:2], digits[2:4], digits[4:]
    text = day
    if len(digits) > 2 or (growing and len(digits) == 2):
        text += "/" + month
    if len(digits) > 4 or (growing and len(digits) == 4):
        text += "/" + year
    return text


class DateField(QLineEdit):
    """JJ/MM/AAAA with automatic slashes; ``completed`` when eight digits are typed."""

    completed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setPlaceholderText(_("DD/MM/YYYY"))
        self.setMaxLength(10)
        self.setInputMethodHints(Qt.InputMethodHint.ImhDigitsOnly)
        self._previous = ""
        self.textEdited.connect(self._reformat)

    def _reformat(self, text: str) -> None:
        digits = "".join(c for c in text if c.isdigit())
        growing = len(text) > len(self._previous)
        formatted = format_date_digits(digits, growing)
        self._previous = formatted
        if formatted != text:
            self.setText(formatted)
            self.setCursorPosition(len(formatted))
        if len(digits) >= 8:
            self.completed.emit(formatted)

    def setText(self, text: str | None) -> None:  # noqa: N802 - Qt's name
        """Set the text and remember it (the next keystroke is compared with it)."""
        self._previous = text or ""
        super().setText(text)

    def is_complete(self) -> bool:
        """True once the day, month and four-digit year are typed."""
        return len(self.text()) == 10
