"""The device manager: connects every configured device, reconnects with
backoff after a loss, and announces connected / measurement / battery / lost.

Each device runs in its own asyncio task; a device that fails never affects
the others. A lost device becomes a ``lost`` event (an incident for the
session), never a traceback.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from devices.device import Device, DeviceEvent, EventKind
from devices.errors import DeviceError, DeviceUnavailableError

log = logging.getLogger(__name__)


class DeviceState(StrEnum):
    """Where a configured device stands."""

    CONNECTING = "connecting"
    CONNECTED = "connected"
    LOST = "lost"
    UNAVAILABLE = "unavailable"
    STOPPED = "stopped"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Reconnection delays: ``initial`` doubling up to ``longest`` seconds."""

    initial: float = 1.0
    longest: float = 30.0

    def delay(self, failures: int) -> float:
        """The wait before attempt number ``failures + 1``."""
        return float(min(self.initial * 2 ** max(failures - 1, 0), self.longest))


class DeviceManager:
    """Runs devices, keeps their state, and tells subscribers what happens."""

    def __init__(self, devices: Iterable[Device], backoff: Backoff | None = None) -> None:
        self.devices = {device.url: device for device in devices}
        self.states = dict.fromkeys(self.devices, DeviceState.STOPPED)
        self._backoff = backoff or Backoff()
        self._listeners: list[Callable[[DeviceEvent], None]] = []
        self._tasks: dict[str, asyncio.Task[None]] = {}

    def subscribe(self, listener: Callable[[DeviceEvent], None]) -> Callable[[], None]:
        """Receive every device event; returns an unsubscribe function."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def start(self) -> None:
        """Start one task per device on the running loop."""
        for url, device in self.devices.items():
            if url not in self._tasks:
                self._tasks[url] = asyncio.get_running_loop().create_task(
                    self._run(device), name=f"device {url}")

    async def stop(self) -> None:
        """Cancel every device task and wait for clean disconnection."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks.clear()
        for url in self.states:
            self.states[url] = DeviceState.STOPPED

    def _emit(self, event: DeviceEvent) -> None:
        if event.kind is EventKind.CONNECTED:
            self.states[event.url] = DeviceState.CONNECTED
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("device listener %r failed", listener)

    async def _run(self, device: Device) -> None:
        failures = 0
        while True:
            self.states[device.url] = DeviceState.CONNECTING
            try:
                await device.stream(self._emit)
                detail = "stream ended"
            except DeviceUnavailableError as error:
                self.states[device.url] = DeviceState.UNAVAILABLE
                self._emit(DeviceEvent(EventKind.UNAVAILABLE, device.url, _now(),
                                       detail=str(error)))
                failures = max(failures + 1, 5)  # a missing stack will not come back soon
                await asyncio.sleep(self._backoff.delay(failures))
                continue
            except DeviceError as error:
                detail = str(error)
            was_connected = self.states[device.url] is DeviceState.CONNECTED
            failures = 1 if was_connected else failures + 1
            self.states[device.url] = DeviceState.LOST
            self._emit(DeviceEvent(EventKind.LOST, device.url, _now(), detail=detail))
            await asyncio.sleep(self._backoff.delay(failures))


def _now() -> datetime:
    return datetime.now(UTC)
