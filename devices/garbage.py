"""When a device's stream is garbage rather than a device with a glitch.

A real oximeter sends a few hundred bytes a second; a corrupted byte now and
then is resynchronised over and counted. A line that floods bytes that are
not the configured protocol (wrong baud rate, wrong device, a faulty adapter,
noise) is another matter: decoding it wastes the station's time, and the rare
"frame" found in random bytes carries a random value that must never reach a
resident's record. :class:`GarbageWatch` tells the two apart from counts
alone (no I/O, no clock of its own), so the driver can stop trusting the
device and the station can flag it once.

The counts are in the transport's unit: bytes on a serial line
(:mod:`devices.serial.oximeter_reader`), notifications on Bluetooth LE
(:mod:`devices.ble.screen`), each with thresholds of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["GarbageWatch"]

Change = Literal["flagged", "cleared"]


@dataclass(slots=True)
class GarbageWatch:
    """Flags a stream whose discarded units exceed a rate; clears it after a clean stretch.

    A window of ``window`` seconds is bad when at least ``min_discarded``
    units were discarded and they make at least ``ratio`` of what arrived
    (:meth:`looks_bad`). ``burst`` discarded units inside one window flag at
    once (a flood is caught in milliseconds, not at the end of the window).
    Once flagged, the stream is cleared only after ``clear_after`` seconds
    without a bad window.
    The watch outlives one connection, so a reconnection does not re-flag.
    """

    window: float = 0.5
    min_discarded: int = 256
    ratio: float = 0.5
    burst: int = 4096
    clear_after: float = 5.0
    flagged: bool = False
    flags: int = 0  # times the line was flagged
    _start: float | None = None
    _received: int = 0
    _discarded: int = 0
    _last_bad: float = 0.0

    def looks_bad(self, received: int, discarded: int) -> bool:
        """True when a stretch of ``received`` units, ``discarded`` of them dropped, is garbage."""
        return discarded >= self.min_discarded and discarded >= self.ratio * received

    def update(self, received: int, discarded: int, now: float) -> Change | None:
        """Account ``received`` units of which ``discarded`` were dropped, at ``now`` (seconds)."""
        if self._start is None:
            self._start = now
        self._received += received
        self._discarded += discarded
        if now - self._start >= self.window or self._discarded >= self.burst:
            bad = self._discarded >= self.burst or self.looks_bad(self._received,
                                                                  self._discarded)
            self._start, self._received, self._discarded = now, 0, 0
            if bad:
                self._last_bad = now
                if not self.flagged:
                    self.flagged = True
                    self.flags += 1
                    return "flagged"
        if self.flagged and now - self._last_bad >= self.clear_after:
            self.flagged = False
            return "cleared"
        return None
