"""The one bridge from the core's events to Qt signals (habit 2 of the architecture).

The core announces through plain callbacks (``SessionEngine.subscribe``,
``DeviceManager.subscribe``, ``StationCall.subscribe``); screens connect to
the signals here and never subscribe to the core themselves. Emission from
another thread is queued by Qt onto the GUI thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal


class CoreBridge(QObject):
    """Core events as Qt signals; ``detach()`` unsubscribes from everything."""

    session_event = Signal(object)  # station.store.sessions.SessionEvent
    device_event = Signal(object)  # devices.device.DeviceEvent
    call_event = Signal(object)  # station.call.events.CallEvent
    runtime_line = Signal(str)  # a progress line for the nurse, already translated

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe: list[Callable[[], None]] = []

    def watch(self, subscribe: Callable[[Callable[[Any], None]], Callable[[], None]],
              signal: Any) -> None:
        """Forward everything ``subscribe`` announces to ``signal``."""
        self._unsubscribe.append(subscribe(signal.emit))

    def detach(self) -> None:
        """Stop forwarding (the session or the call ended)."""
        while self._unsubscribe:
            self._unsubscribe.pop()()
