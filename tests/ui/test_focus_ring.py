"""The theme's focus ring: clearly visible (3 px, in a colour that stands out from
the widget's fill) and taking nothing from the content (text neither clipped
nor shifted when a button or a field takes the focus)."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QLineEdit,
    QPushButton,
    QStyle,
    QStyleOptionButton,
    QStyleOptionFrame,
    QVBoxLayout,
    QWidget,
)

from ui.app import make_application
from ui.theme import ACCENT, FOCUS_ON_FILL, FOCUS_PX


def content_rect(widget: QWidget) -> QRect:
    """Where the style draws the text: inside the border and the padding."""
    style = widget.style()
    if isinstance(widget, QLineEdit):
        frame = QStyleOptionFrame()
        widget.initStyleOption(frame)
        return style.subElementRect(QStyle.SubElement.SE_LineEditContents, frame, widget)
    assert isinstance(widget, QPushButton)
    button = QStyleOptionButton()
    widget.initStyleOption(button)
    return style.subElementRect(QStyle.SubElement.SE_PushButtonContents, button, widget)


def ring_colour(widget: QWidget) -> QColor:
    """The colour in the middle of the left border's width, halfway down."""
    return widget.grab().toImage().pixelColor(FOCUS_PX // 2, widget.height() // 2)


def test_focus_keeps_the_content_box_and_shows_a_ring(qtbot: Any) -> None:
    make_application()
    window = QWidget()
    qtbot.addWidget(window)
    layout = QVBoxLayout(window)
    elsewhere = QLineEdit()  # holds the focus first
    plain = QPushButton("Enregistrer le compte rendu")
    primary = QPushButton("Connexion")
    primary.setProperty("kind", "primary")
    field = QLineEdit("MARTIN (née DUPONT) Marie")
    for widget in (elsewhere, plain, primary, field):
        layout.addWidget(widget)
    window.show()
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow, timeout=2000)
    elsewhere.setFocus()
    expected = {plain: QColor(ACCENT), primary: QColor(FOCUS_ON_FILL), field: QColor(ACCENT)}
    for widget, colour in expected.items():
        assert not widget.hasFocus()
        rect, size, unfocused = content_rect(widget), widget.sizeHint(), ring_colour(widget)
        widget.setFocus(Qt.FocusReason.TabFocusReason)
        qtbot.waitUntil(widget.hasFocus, timeout=2000)
        assert content_rect(widget) == rect, type(widget).__name__
        assert widget.sizeHint() == size
        assert ring_colour(widget) == colour != unfocused
