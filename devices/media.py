"""Media instruments as :class:`~devices.device.Device`\\ s: stethoscope and cameras.

They produce no measurements; to the device manager they are connected or
lost like any instrument. The stream itself (audio blocks, video frames)
is fanned out to listeners here (the local preview, the call), so one
source feeds several consumers (habit 9: media is tracks, a relay feeds both).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

import numpy as np

from devices.audio.block import AudioBlock, AudioSource
from devices.camera.source import Camera
from devices.device import Device, DeviceEvent, Emit, EventKind
from devices.errors import ConnectionLostError

log = logging.getLogger(__name__)
AudioListener = Callable[[AudioBlock], None]


def _now_event(kind: EventKind, url: str, detail: str = "") -> DeviceEvent:
    return DeviceEvent(kind, url, datetime.now(UTC), detail=detail)


class StethoscopeDevice(Device):
    """A stethoscope audio input; blocks go to every listener, untouched.

    ``open_source`` makes a fresh :class:`AudioSource` per connection, so a
    reconnection after a loss reopens the input.
    """

    def __init__(self, url: str, open_source: Callable[[], Awaitable[AudioSource]]) -> None:
        super().__init__(url)
        self._open_source = open_source
        self._listeners: list[AudioListener] = []
        self.level_dbfs = float("-inf")

    def add_listener(self, listener: AudioListener) -> Callable[[], None]:
        """Receive every 20 ms block; returns a function that removes the listener."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    async def stream(self, emit: Emit) -> None:
        """Open the input, announce it, relay blocks until it stops."""
        source = await self._open_source()
        async with source:
            emit(_now_event(EventKind.CONNECTED, self.url, source.name))
            while True:
                block = await source.read()
                if block is None:
                    raise ConnectionLostError(f"audio input {source.name!r} ended")
                self.level_dbfs = _level_dbfs(block)
                for listener in list(self._listeners):
                    try:
                        listener(block)
                    except Exception:
                        log.exception("audio listener %r failed", listener)


def _level_dbfs(block: AudioBlock) -> float:
    """RMS level of a block in dB full scale, for a level meter."""
    samples = block.samples.astype(np.float64)
    if block.samples.dtype == np.int16:
        samples /= 32768.0
    rms = float(np.sqrt(np.mean(samples * samples))) if len(samples) else 0.0
    return 20 * float(np.log10(rms)) if rms > 0 else float("-inf")


class CameraDevice(Device):
    """A camera (exam or room). Frames stay in the :class:`Camera` (latest-frame);
    this watches the stream so that a camera that stops becomes a ``lost`` event."""

    def __init__(self, url: str, camera: Camera) -> None:
        super().__init__(url)
        self.camera = camera

    async def stream(self, emit: Emit) -> None:
        """Start the camera, announce it with its resolution, watch it until it stops."""
        async with self.camera:
            frame = await self.camera.next_frame()
            emit(_now_event(EventKind.CONNECTED, self.url,
                            f"{self.camera.exam.value} {frame.width}x{frame.height}"))
            while True:
                frame = await self.camera.next_frame(after=frame.sequence)
