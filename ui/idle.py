"""The idle watcher: any touch, click or key anywhere in the app restarts a timer;
when it runs out, ``idle`` is emitted (the lock screen then covers the app)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication

_INPUT_EVENTS = frozenset({
    QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease, QEvent.Type.MouseMove,
    QEvent.Type.KeyPress, QEvent.Type.KeyRelease, QEvent.Type.Wheel,
    QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate, QEvent.Type.TouchEnd,
    QEvent.Type.TabletPress,
})


class IdleWatcher(QObject):
    """An event filter on the whole application resetting a single-shot timer."""

    idle = Signal()

    def __init__(self, minutes: float, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.timer = QTimer(self)
        self.timer.setSingleShot(True)
        self.timer.timeout.connect(self.idle)
        self.set_minutes(minutes)
        app = QApplication.instance()
        if app is not None:
            app.installEventFilter(self)

    def set_minutes(self, minutes: float) -> None:
        """Lock after this many minutes without input (fractions allowed, for tests)."""
        self.timer.setInterval(max(1, round(minutes * 60_000)))
        if self.timer.isActive():
            self.timer.start()

    def start(self) -> None:
        """Start (or restart) counting."""
        self.timer.start()

    def stop(self) -> None:
        """Stop counting (nobody signed in, or already locked)."""
        self.timer.stop()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        """Restart the countdown on any input; never consumes the event."""
        if self.timer.isActive() and event.type() in _INPUT_EVENTS:
            self.timer.start()
        return False
