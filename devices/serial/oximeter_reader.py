"""Bytes of a serial pulse oximeter in, device events out, without any I/O.

:class:`OximeterReader` turns bytes received from a Contec CMS50D+ (classic
or firmware 4.6) or a Nonin (data format #2) into
:class:`~devices.device.DeviceEvent`s: SpO2 / pulse-rate measurements and
one-second pleth :class:`~devices.measurement.WaveformChunk`s. The serial
driver (:mod:`devices.serial.oximeter`) feeds it from a port; a replayed
capture or a test can feed it directly.

Why measurements are gated: a CMS50D+ repeats its SpO2 in every one of its 60
frames a second, which would flood the session store and the doctor's data
channel. A value is emitted when it (or its quality) changes, and otherwise
repeated once per second of device time so listeners know it is fresh. A
quality change (finger out, searching) goes out at once: the nurse must see
"doigt retiré" while the finger is still out.

Why a change must be seen in two consecutive CMS50D frames: neither CMS50D
protocol has a checksum, so one corrupted byte can turn SpO2 97 into 33 for
one frame. Requiring two agreeing frames (17 ms apart) filters that without
visible delay. Nonin frames are checksummed and its values come once per
25-frame packet, so a Nonin value is taken at once.
"""

from __future__ import annotations

import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from devices.codecs import cms50d, cms50d_v46, nonin
from devices.codecs._wire import FramerBase
from devices.device import DeviceEvent, EventKind
from devices.errors import DecodeError, DeviceConfigurationError
from devices.garbage import GarbageWatch
from devices.measurement import Kind, Measurement, WaveformChunk
from devices.serial.port import SerialSettings

__all__ = ["PROTOCOLS", "OximeterReader", "check_protocol", "settings_for"]

log = logging.getLogger(__name__)

PROTOCOLS = ("cms50d", "cms50d-v46", "nonin-2")
_PRESETS = {"cms50d": SerialSettings.cms50d_classic, "cms50d-v46": SerialSettings.cms50d_v46,
            "nonin-2": SerialSettings.nonin}
_DISCARD_LOG_S = 10.0  # garbage is summarised in the log at most this often


def check_protocol(protocol: str) -> str:
    """``protocol`` if it is one of :data:`PROTOCOLS`; DeviceConfigurationError otherwise."""
    if protocol not in _PRESETS:
        raise DeviceConfigurationError(
            f"serial oximeter protocol {protocol!r} is not supported; use one of "
            + ", ".join(PROTOCOLS))
    return protocol


def settings_for(protocol: str, path: str) -> SerialSettings:
    """The line settings ``protocol`` uses on ``path`` (baud rate, parity)."""
    return _PRESETS[check_protocol(protocol)](path)


class _Codec(ABC):
    """What the reader needs from one protocol module (see :mod:`devices.codecs`)."""

    sample_rate: float
    confirm: int  # consecutive agreeing frames before a new value is believed

    def __init__(self, framer: FramerBase) -> None:
        self.framer = framer

    @abstractmethod
    def decode(self, raw: bytes, device: str, at: datetime) -> tuple[list[Measurement], Any]:
        """Vital measurements of one frame (pleth excluded) and the frame giving a pleth sample."""

    @abstractmethod
    def chunk(self, frames: Sequence[Any], device: str, start: datetime) -> WaveformChunk:
        """The pleth of consecutive sample-carrying frames."""


def _vitals(measurements: list[Measurement]) -> list[Measurement]:
    return [m for m in measurements if m.kind is not Kind.PLETH]


class _Cms50d(_Codec):
    sample_rate, confirm = cms50d.SAMPLE_RATE_HZ, 2

    def decode(self, raw: bytes, device: str, at: datetime) -> tuple[list[Measurement], Any]:
        frame = cms50d.decode_frame(raw)
        return _vitals(cms50d.to_measurements(frame, device, at)), frame

    def chunk(self, frames: Sequence[Any], device: str, start: datetime) -> WaveformChunk:
        return cms50d.pleth_chunk(frames, device, start)


class _Cms50dV46(_Codec):
    sample_rate, confirm = cms50d_v46.SAMPLE_RATE_HZ, 2

    def decode(self, raw: bytes, device: str, at: datetime) -> tuple[list[Measurement], Any]:
        frame = cms50d_v46.decode_frame(raw)
        if not isinstance(frame, cms50d_v46.LiveFrame):
            return [], None  # replies and recorded data: not live signal
        return _vitals(cms50d_v46.to_measurements(frame, device, at)), frame

    def chunk(self, frames: Sequence[Any], device: str, start: datetime) -> WaveformChunk:
        return cms50d_v46.pleth_chunk(frames, device, start)


class _Nonin(_Codec):
    sample_rate, confirm = nonin.SAMPLE_RATE_HZ, 1

    def __init__(self, framer: FramerBase) -> None:
        super().__init__(framer)
        self.assembler = nonin.PacketAssembler()

    def decode(self, raw: bytes, device: str, at: datetime) -> tuple[list[Measurement], Any]:
        frame = nonin.decode_frame(raw)
        packet = self.assembler.push(frame)
        return ([] if packet is None else nonin.to_measurements(packet, device, at)), frame

    def chunk(self, frames: Sequence[Any], device: str, start: datetime) -> WaveformChunk:
        return nonin.pleth_chunk(frames, device, start)


def _codec(protocol: str) -> _Codec:
    if check_protocol(protocol) == "cms50d":
        return _Cms50d(cms50d.Framer())
    if protocol == "cms50d-v46":
        return _Cms50dV46(cms50d_v46.Framer())
    return _Nonin(nonin.Framer())


class _Gate:
    """Lets one kind's readings through on change, quality change, or once per second."""

    def __init__(self, confirm: int, repeat_frames: int) -> None:
        self._confirm = confirm
        self._repeat = repeat_frames
        self._shown: tuple[object, ...] | None = None
        self._shown_at = 0
        self._candidate: tuple[object, ...] | None = None
        self._seen = 0

    def offer(self, m: Measurement, frame_no: int) -> bool:
        """True when ``m`` should be emitted (``frame_no`` counts device frames)."""
        key = (m.value if m.has_value else None, m.quality)
        if key == self._shown:
            self._candidate = None
            if frame_no - self._shown_at < self._repeat:
                return False
        else:
            self._seen = self._seen + 1 if key == self._candidate else 1
            self._candidate = key
            if self._seen < self._confirm:
                return False
            self._shown, self._candidate = key, None
        self._shown_at = frame_no
        return True


class OximeterReader:
    """Bytes of one serial oximeter in, device events out (no I/O).

    ``feed`` takes bytes as received and the time they arrived, and returns
    the events they complete. Samples of one read are dated backwards from
    the arrival time at the protocol's frame rate. ``discarded_bytes`` counts
    bytes dropped while resynchronising; ``frames`` counts frames carrying
    live data (device time, in samples).

    A line that is mostly garbage (see :class:`GarbageWatch`, shared with the
    driver so it outlives a reconnection) is announced once as an
    ``unreadable`` event; while it stays so, frames found in it are counted
    in ``untrusted_frames`` but not decoded: a "frame" in random bytes carries
    a random value that must not become a resident's SpO2.
    """

    def __init__(self, protocol: str, url: str, *, device: str | None = None,
                 chunk_seconds: float = 1.0, repeat_seconds: float = 1.0,
                 watch: GarbageWatch | None = None) -> None:
        self._codec = _codec(protocol)
        self.protocol = protocol
        self.url = url
        self.device = device or url
        self.sample_rate = self._codec.sample_rate
        self._chunk_samples = max(1, round(chunk_seconds * self.sample_rate))
        self._repeat_frames = max(1, round(repeat_seconds * self.sample_rate))
        self._gates: dict[Kind, _Gate] = {}
        self._pleth: list[Any] = []
        self._pleth_start: datetime | None = None
        self.frames = 0
        self.discarded_bytes = 0
        self.untrusted_frames = 0
        self.watch = watch or GarbageWatch()
        self._framer_discards = 0
        self._discards_logged = 0
        self._discards_logged_at = -_DISCARD_LOG_S

    def feed(self, data: bytes, received_at: datetime) -> list[DeviceEvent]:
        """The events completed by ``data``; garbage is skipped, counted and logged."""
        codec = self._codec
        raws = codec.framer.feed(data)
        dropped = codec.framer.discarded - self._framer_discards
        self.discarded_bytes += dropped
        self._framer_discards = codec.framer.discarded
        events = self._watch_line(len(data), dropped, received_at)
        if self.watch.flagged or self._suspect(len(data), dropped):
            self.untrusted_frames += len(raws)
            self._pleth = []
            self._log_discards(force=False)
            return events
        for i, raw in enumerate(raws):
            at = received_at - timedelta(seconds=(len(raws) - 1 - i) / self.sample_rate)
            try:
                vitals, frame = codec.decode(raw, self.device, at)
            except DecodeError as exc:  # framers pass only well-formed frames; be safe anyway
                self.discarded_bytes += len(raw)
                log.debug("%s on %s: dropped a frame: %s", self.protocol, self.url, exc)
                continue
            if frame is None:
                continue
            self.frames += 1
            for m in vitals:
                gate = self._gates.setdefault(m.kind, _Gate(codec.confirm, self._repeat_frames))
                if gate.offer(m, self.frames):
                    events.append(DeviceEvent(EventKind.MEASUREMENT, self.url, at, measurement=m))
            if not self._pleth:
                self._pleth_start = at
            self._pleth.append(frame)
            if len(self._pleth) >= self._chunk_samples:
                events.extend(self._take_chunk())
        self._log_discards(force=False)
        return events

    def flush(self) -> list[DeviceEvent]:
        """The pleth collected so far as a (short) chunk, when the stream ends."""
        self._log_discards(force=True)
        return self._take_chunk()

    def _take_chunk(self) -> list[DeviceEvent]:
        if not self._pleth or self._pleth_start is None:
            return []
        chunk = self._codec.chunk(self._pleth, self.device, self._pleth_start)
        self._pleth = []
        return [DeviceEvent(EventKind.WAVEFORM, self.url, chunk.start, waveform=chunk)]

    # --- garbage accounting ----------------------------------------------------------------

    def _suspect(self, received: int, dropped: int) -> bool:
        """True when one read is mostly garbage: its frames are not decoded even before a flag."""
        return self.watch.looks_bad(received, dropped)

    def _watch_line(self, received: int, dropped: int, at: datetime) -> list[DeviceEvent]:
        change = self.watch.update(received, dropped, at.timestamp())
        if change == "cleared":
            log.info("%s on %s: the line is readable again (%d frames ignored while it was not)",
                     self.protocol, self.url, self.untrusted_frames)
            return []
        if change != "flagged":
            return []
        detail = (f"unreadable data stream: {self.protocol} expected, {self.discarded_bytes} "
                  "corrupted bytes; readings from this line are ignored until it is clean")
        log.warning("%s on %s: %s", self.protocol, self.url, detail)
        return [DeviceEvent(EventKind.UNREADABLE, self.url, at, detail=detail)]

    def _log_discards(self, *, force: bool) -> None:
        new = self.discarded_bytes - self._discards_logged
        now = time.monotonic()
        if new <= 0 or (not force and now - self._discards_logged_at < _DISCARD_LOG_S):
            return
        first = self._codec.framer.first_problem
        detail = f" (first: byte {first[0]}: {first[1]})" if first and not self._discards_logged \
            else ""
        log.warning("%s on %s: skipped %d corrupted bytes, %d in all%s", self.protocol, self.url,
                    new, self.discarded_bytes, detail)
        self._discards_logged, self._discards_logged_at = self.discarded_bytes, now
