"""Taps and typing the way a nurse does them, and a counter of taps.

The demo's scripted tour, the tap-count test and ``bench/ui.py`` drive the
real screens through real input events (``QTest`` presses the mouse on the
widget and types key by key), never by calling slots, so what they measure
is what a nurse would do. :class:`TapCounter` counts every mouse press the
application receives: a tap on a field to focus it counts as much as a tap
on a button; typing does not.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QAbstractButton, QApplication, QWidget


class InputError(RuntimeError):
    """A tap or typing that a nurse could not do: the widget is hidden or disabled."""


def tap(widget: QWidget) -> None:
    """A tap (left click) in the middle of a visible, enabled widget."""
    if not widget.isVisible():
        raise InputError(f"{widget.objectName() or type(widget).__name__} is not on screen")
    if not widget.isEnabled():
        raise InputError(f"{widget.objectName() or type(widget).__name__} is disabled")
    QTest.mouseClick(widget, Qt.MouseButton.LeftButton)


def type_text(widget: QWidget, text: str) -> None:
    """Type ``text`` into ``widget``; the nurse taps it first unless it has the focus."""
    if not widget.hasFocus():
        tap(widget)
    QTest.keyClicks(widget, text)


def is_tappable(widget: QWidget) -> bool:
    """Visible and enabled: what a nurse can tap right now."""
    return widget.isVisible() and widget.isEnabled()


class TapCounter(QObject):
    """Counts mouse presses anywhere in the application while installed."""

    def __init__(self) -> None:
        super().__init__()
        self.count = 0
        self.targets: list[str] = []
        self._last: QWidget | None = None

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() is QEvent.Type.MouseButtonPress and isinstance(watched, QWidget):
            # A press a widget ignores bubbles up to its parents (and the window sees
            # it too): one tap, counted once, on the widget it was aimed at.
            last = self._last
            if last is not None and watched.isAncestorOf(last):
                return False
            self._last = watched
            self.count += 1
            self.targets.append(self._describe(watched))
        elif event.type() is QEvent.Type.MouseButtonRelease:
            self._last = None
        return False

    @staticmethod
    def _describe(widget: QWidget) -> str:
        if isinstance(widget, QAbstractButton) and widget.text():
            return widget.text()
        return widget.objectName() or type(widget).__name__

    def __enter__(self) -> TapCounter:
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)
        return self

    def __exit__(self, *_exc: object) -> None:
        app = QApplication.instance()
        if app is not None:
            app.removeEventFilter(self)
