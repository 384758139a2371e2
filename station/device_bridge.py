"""Carries device events into the session: values stored at once, losses traced.

Measurements count only during the examination, once consent is given: a
reading shown before that (probe placement, preview) is not part of the act
and is not stored. A device lost during the act becomes an incident of the
session, with the device's own explanation.

A device whose line floods unreadable bytes is flagged by its driver
(``unreadable``): that is one incident per device and session, however long
the flood lasts, and the reconnections its driver makes meanwhile ("no valid
frame") are not incidents of their own. The flag is lifted when the device
delivers a reading again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from devices.device import DeviceEvent, EventKind
from station.i18n import tr
from station.session import SessionEngine, SessionState

log = logging.getLogger(__name__)


class DeviceSessionBridge:
    """Subscribes to a device manager's events on behalf of one session."""

    def __init__(self, session: SessionEngine) -> None:
        self.session = session
        self.ignored_before_exam = 0
        self.unreadable: set[str] = set()  # devices flagged, until they deliver a reading
        self._unreadable_recorded: set[str] = set()

    def attach(self, subscribe: Callable[[Callable[[DeviceEvent], None]], Callable[[], None]]
               ) -> Callable[[], None]:
        """Subscribe through ``subscribe`` (e.g. ``DeviceManager.subscribe``)."""
        return subscribe(self.on_event)

    def on_event(self, event: DeviceEvent) -> None:
        """Store or trace one device event according to the session's state."""
        examining = self.session.state is SessionState.EXAMINE
        if event.kind is EventKind.UNREADABLE:
            self._on_unreadable(event)
        elif event.kind is EventKind.MEASUREMENT and event.measurement is not None:
            self.unreadable.discard(event.url)
            if examining:
                self.session.add_measurement(event.measurement)
            else:
                self.ignored_before_exam += 1
        elif event.kind is EventKind.WAVEFORM and event.waveform is not None:
            if examining:
                self.session.add_waveform(event.waveform)
        elif event.kind in (EventKind.LOST, EventKind.UNAVAILABLE):
            if event.url in self.unreadable:  # the flood's own reconnections: already flagged
                log.debug("device %s %s while unreadable: %s", event.url, event.kind.value,
                          event.detail)
                return
            if self._recording():
                self.session.record_incident(f"device_{event.kind.value}",
                                             f"{event.url}: {event.detail}", actor=event.url)
            log.warning("device %s %s: %s", event.url, event.kind.value, event.detail)

    def _recording(self) -> bool:
        return self.session.state not in (SessionState.SENT, SessionState.STOPPED)

    def _on_unreadable(self, event: DeviceEvent) -> None:
        """Flag the device; one incident per device and session, one log line per flag."""
        self.unreadable.add(event.url)
        log.warning("device %s unreadable: %s", event.url, event.detail)
        if event.url in self._unreadable_recorded or not self._recording():
            return
        self._unreadable_recorded.add(event.url)
        self.session.record_incident("device_unreadable",
                                     tr("device.unreadable", url=event.url, detail=event.detail),
                                     actor=event.url)
