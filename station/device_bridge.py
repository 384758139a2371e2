"""Carries device events into the session: values stored at once, losses traced.

Measurements count only during the examination, once consent is given: a
reading shown before that (probe placement, preview) is not part of the act
and is not stored. A device lost during the act becomes an incident of the
session, with the device's own explanation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from devices.device import DeviceEvent, EventKind
from station.session import SessionEngine, SessionState

log = logging.getLogger(__name__)


class DeviceSessionBridge:
    """Subscribes to a device manager's events on behalf of one session."""

    def __init__(self, session: SessionEngine) -> None:
        self.session = session
        self.ignored_before_exam = 0

    def attach(self, subscribe: Callable[[Callable[[DeviceEvent], None]], Callable[[], None]]
               ) -> Callable[[], None]:
        """Subscribe through ``subscribe`` (e.g. ``DeviceManager.subscribe``)."""
        return subscribe(self.on_event)

    def on_event(self, event: DeviceEvent) -> None:
        """Store or trace one device event according to the session's state."""
        examining = self.session.state is SessionState.EXAMINE
        if event.kind is EventKind.MEASUREMENT and event.measurement is not None:
            if examining:
                self.session.add_measurement(event.measurement)
            else:
                self.ignored_before_exam += 1
        elif event.kind is EventKind.WAVEFORM and event.waveform is not None:
            if examining:
                self.session.add_waveform(event.waveform)
        elif event.kind in (EventKind.LOST, EventKind.UNAVAILABLE):
            if self.session.state not in (SessionState.SENT, SessionState.STOPPED):
                self.session.record_incident(f"device_{event.kind.value}",
                                             f"{event.url}: {event.detail}", actor=event.url)
            log.warning("device %s %s: %s", event.url, event.kind.value, event.detail)
