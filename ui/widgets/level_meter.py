"""A horizontal sound level meter (stethoscope, the doctor's voice), in dB full scale."""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

from ui.theme import ACCENT, OK, WARN

FLOOR_DBFS = -60.0  # quieter than this shows as an empty bar


class LevelMeter(QWidget):
    """Draws ``level`` (dBFS, −∞…0) as a bar; green, amber near clipping.

    Passive: the owner sets the level (a timer polls the core's level at a
    steady rate), the meter only paints.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._level = float("-inf")
        self.setMinimumSize(120, 20)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt's name
        return QSize(200, 22)

    @property
    def level(self) -> float:
        """The level shown, in dBFS."""
        return self._level

    @property
    def fraction(self) -> float:
        """How full the bar is, 0…1."""
        if not math.isfinite(self._level):
            return 0.0
        return min(1.0, max(0.0, (self._level - FLOOR_DBFS) / -FLOOR_DBFS))

    def set_level(self, dbfs: float) -> None:
        """Show a new level (repaints only when it changed visibly)."""
        before = self.fraction
        self._level = dbfs
        if abs(self.fraction - before) > 0.005:
            self.update()

    def paintEvent(self, _event: QPaintEvent) -> None:  # noqa: N802 - Qt's name
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        painter.setPen(QColor("#9fb3c3"))
        painter.setBrush(QColor("white"))
        painter.drawRoundedRect(rect, 5, 5)
        fraction = self.fraction
        if fraction > 0:
            filled = QRectF(rect.left() + 2, rect.top() + 2,
                            (rect.width() - 4) * fraction, rect.height() - 4)
            colour = WARN if fraction > 0.9 else OK if fraction > 0.2 else ACCENT
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(colour))
            painter.drawRoundedRect(filled, 3, 3)
        painter.end()
