"""What every instrument looks like to the layer above: a :class:`Device` that
streams :class:`DeviceEvent`s (connected, measurement, waveform, battery, lost,
unreadable).

A device family has one front class per transport kind; the transport behind
it (bleak, the virtual BLE link, pyserial on a pty, OpenCV, PortAudio) is
injected, so the same driver code runs on hardware and on simulators.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from devices.measurement import Measurement, WaveformChunk


class EventKind(StrEnum):
    """What happened to a device."""

    CONNECTED = "connected"
    MEASUREMENT = "measurement"
    WAVEFORM = "waveform"
    BATTERY = "battery"
    LOST = "lost"
    UNAVAILABLE = "unavailable"
    UNREADABLE = "unreadable"  # bytes keep coming but are not the device's protocol (flood, noise)


@dataclass(frozen=True, slots=True)
class DeviceEvent:
    """One announcement from a device. Only the field matching ``kind`` is set."""

    kind: EventKind
    url: str
    time: datetime
    measurement: Measurement | None = None
    waveform: WaveformChunk | None = None
    battery_percent: int | None = None
    detail: str = ""


Emit = Callable[[DeviceEvent], None]


class Device(ABC):
    """One instrument, addressed by URL."""

    def __init__(self, url: str) -> None:
        self.url = url

    @abstractmethod
    async def stream(self, emit: Emit) -> None:
        """Connect, emit ``connected``, then measurements as they come.

        Returns or raises :class:`devices.errors.ConnectionLostError` when the
        device goes away; on cancellation, disconnects cleanly. Raises only
        :class:`devices.errors.DeviceError` subclasses.
        """
