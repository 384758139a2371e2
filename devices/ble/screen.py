"""Whether a BLE device's notifications can be trusted: a garbage flood is flagged and held back.

A health instrument notifies a reading every second or so. A malformed value
or an impossible one now and then is a glitch: the malformed one is skipped,
the impossible one kept and flagged (architecture habit 7). A device that
notifies garbage as fast as the link carries it (broken firmware, a device
that is not what its profile says, a hostile one) is another matter: none of
its values may reach a resident's record, and it must be flagged once, not
logged once per notification.

:class:`NotificationScreen` counts notifications in a
:class:`~devices.garbage.GarbageWatch` (the serial line's watch, counting
notifications instead of bytes): a notification is garbage when the codec
rejects it or when it carries a value no body has. It also holds every
decoded value ``settle`` seconds before releasing it: the first values of a
flood cannot be told from a reading when they arrive, only by the garbage
that follows them within milliseconds. A value is released when the device is
not flagged and the notifications that followed it in that time were not
mostly garbage; otherwise it is dropped and counted in :attr:`withheld`.

No I/O and no clock of its own: the driver passes ``now`` and schedules the
releases (see :class:`~devices.ble.health.BleHealthDevice`).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Generic, TypeVar

from devices.garbage import Change, GarbageWatch

__all__ = ["SETTLE_S", "NotificationScreen", "ble_watch"]

_T = TypeVar("_T")

SETTLE_S = 0.05
"""How long a value waits for the notifications that follow it (invisible at one reading a
second; a flood sends dozens of notifications in that time)."""


def ble_watch() -> GarbageWatch:
    """A watch in notifications: 8 garbage ones making half of a 0.5 s window, or 64 at once.

    A real instrument (one to a few notifications a second) cannot reach 8 in
    half a second even if every value it sent were bad; the test simulators,
    sending every 4 ms with one value in three garbled, stay under half.
    """
    return GarbageWatch(window=0.5, min_discarded=8, ratio=0.5, burst=64, clear_after=5.0)


@dataclass(frozen=True, slots=True)
class _Held(Generic[_T]):
    item: _T
    release_at: float
    total: int  # notifications counted when the item arrived
    garbage: int


class NotificationScreen(Generic[_T]):
    """Counts one device's notifications and holds its values until they can be trusted.

    ``note`` every notification (garbage or not), ``hold`` the values of the
    good ones, then take what :meth:`due` releases at :attr:`next_due`. The
    watch outlives a connection, like the serial line's.
    """

    def __init__(self, settle: float = SETTLE_S, watch: GarbageWatch | None = None) -> None:
        if settle < 0:
            raise ValueError(f"settle must not be negative, not {settle}")
        self.settle = settle
        self.watch = watch or ble_watch()
        self.total = 0  # notifications counted
        self.garbage = 0  # of which garbage
        self.withheld = 0  # values dropped because garbage followed them, or while flagged
        self._held: deque[_Held[_T]] = deque()

    @property
    def flagged(self) -> bool:
        """True while the device is flagged as unreadable."""
        return self.watch.flagged

    @property
    def next_due(self) -> float | None:
        """When the oldest held value is to be judged, None if nothing is held."""
        return self._held[0].release_at if self._held else None

    def note(self, garbage: bool, now: float) -> Change | None:
        """Count one notification; ``"flagged"`` or ``"cleared"`` when the device's state turns."""
        self.total += 1
        self.garbage += garbage
        change = self.watch.update(1, int(garbage), now)
        if change == "flagged":
            self.withheld += len(self._held)  # they came with the flood
            self._held.clear()
        return change

    def hold(self, item: _T, now: float) -> None:
        """Keep ``item`` (the values of a notification just noted) until it can be judged."""
        if self.watch.flagged:
            self.withheld += 1
            return
        self._held.append(_Held(item, now + self.settle, self.total, self.garbage))

    def due(self, now: float) -> list[_T]:
        """The held values whose settle time is over and that can be trusted, oldest first."""
        released: list[_T] = []
        while self._held and self._held[0].release_at <= now:
            released.extend(self._judge(self._held.popleft()))
        return released

    def flush(self) -> list[_T]:
        """Judge every held value now, on what followed so far (the stream is ending)."""
        released: list[_T] = []
        while self._held:
            released.extend(self._judge(self._held.popleft()))
        return released

    def _judge(self, held: _Held[_T]) -> list[_T]:
        followers = self.total - held.total
        garbage = self.garbage - held.garbage
        if self.watch.flagged or self.watch.looks_bad(followers, garbage):
            self.withheld += 1
            return []
        return [held.item]
