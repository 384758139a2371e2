"""Nonin serial data format #2: 5-byte frames, 75 frames/s, packets of 25 frames.

Frame: ``01, STATUS, PLETH, DATA, CHK`` with CHK = (sum of bytes 0-3) mod 256.
STATUS: b7 = 1, b6 sensor disconnect, b5 artifact, b4 out of track, b3 sensor
alarm, b2-1 perfusion (b1 green, b2 red, both yellow), b0 SYNC (first frame
of a packet). DATA depends on the frame's index in its packet: HR MSB (bits
7-8 in b0-1) and LSB (bits 0-6) in frames 0-1, SpO2 in 2, firmware revision
in 3, SpO2-D 8, SpO2 fast 9, SpO2 beat-to-beat 10, E-HR 13-14, E-SpO2 15,
E-SpO2-D 16, HR-D 19-20, E-HR-D 21-22. Missing: HR 511, SpO2 127.
(Frame indices and perfusion bits as in pez-globo/pufferfish-software's
driver and Oxford IBME's NoninPacket; HR assembled as ``(msb & 3) << 7 |
lsb & 0x7F``, as that driver's comments describe.)

Framing policy: a frame must start with 0x01, have bit 7 of STATUS set and a
good checksum; otherwise the framer drops one byte and looks again, counting
what it dropped. :class:`PacketAssembler` then groups frames into packets
from one SYNC frame to the next; a packet cut short is dropped (its frames
still gave their pleth samples).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from devices.codecs._measure import from_count, measurement
from devices.codecs._wire import FramerBase, layout_error
from devices.errors import DecodeError
from devices.measurement import Kind, Measurement, Quality, WaveformChunk

PROTOCOL = "nonin-2"
BAUDRATE = 9600  # 8N1
FRAME_SIZE = 5
PACKET_FRAMES = 25
SAMPLE_RATE_HZ = 75.0
MISSING_HEART_RATE = 511
MISSING_SPO2 = 127


class Perfusion(IntEnum):
    """Signal quality during a pulse (STATUS bits 2-1)."""

    NONE = 0  # no indication (outside a pulse)
    GREEN = 1  # high
    RED = 2  # low
    YELLOW = 3  # marginal


@dataclass(frozen=True, slots=True)
class NoninFrame:
    """One 5-byte frame."""

    sync: bool
    sensor_disconnect: bool
    artifact: bool
    out_of_track: bool
    sensor_alarm: bool
    perfusion: Perfusion
    pleth: int
    data: int

    @property
    def quality(self) -> frozenset[Quality]:
        """The quality flags this frame's status implies."""
        flags: set[Quality] = set()
        if self.sensor_disconnect or self.sensor_alarm:
            flags.add(Quality.SENSOR_FAULT)
        if self.artifact:
            flags.add(Quality.ARTIFACT)
        if self.out_of_track:
            flags.add(Quality.SEARCHING)
        if self.perfusion is Perfusion.RED:
            flags.add(Quality.LOW_PERFUSION)
        return frozenset(flags)


_PERFUSION = tuple(Perfusion)


def decode_frame(data: bytes) -> NoninFrame:
    """Decode one 5-byte frame; DecodeError on a wrong length, marker or checksum."""
    if len(data) != FRAME_SIZE:
        raise layout_error(PROTOCOL, data, (("frame", FRAME_SIZE),))
    start, status, pleth, value, checksum = data
    if start != 0x01:
        raise DecodeError(PROTOCOL, 0, f"frame starts with 0x{start:02x}, not 0x01")
    if not status & 0x80:
        raise DecodeError(PROTOCOL, 1, f"status byte 0x{status:02x} lacks bit 7")
    expected = (start + status + pleth + value) & 0xFF
    if checksum != expected:
        raise DecodeError(PROTOCOL, 4, f"checksum 0x{checksum:02x}, expected 0x{expected:02x}")
    return NoninFrame(bool(status & 0x01), bool(status & 0x40), bool(status & 0x20),
                      bool(status & 0x10), bool(status & 0x08), _PERFUSION[status >> 1 & 3],
                      pleth, value)


def encode_frame(frame: NoninFrame) -> bytes:
    """The 5 bytes of ``frame``, checksum included."""
    if not (0 <= frame.pleth <= 255 and 0 <= frame.data <= 255):
        raise ValueError("pleth and data are single bytes")
    status = 0x80 | frame.sync | frame.perfusion << 1 | frame.sensor_alarm << 3 \
        | frame.out_of_track << 4 | frame.artifact << 5 | frame.sensor_disconnect << 6
    checksum = (1 + status + frame.pleth + frame.data) & 0xFF
    return bytes((1, status, frame.pleth, frame.data, checksum))


def _heart_rate(msb: int, lsb: int) -> int:
    return (msb & 0x03) << 7 | lsb & 0x7F


@dataclass(frozen=True, slots=True)
class NoninPacket:
    """25 frames, the first with SYNC set; the properties read the DATA bytes."""

    frames: tuple[NoninFrame, ...]

    def _data(self, index: int) -> int:
        return self.frames[index].data

    @property
    def heart_rate(self) -> int:
        """4-beat average pulse rate, /min (511: missing)."""
        return _heart_rate(self._data(0), self._data(1))

    @property
    def spo2(self) -> int:
        """4-beat average SpO2, % (127: missing)."""
        return self._data(2) & 0x7F

    @property
    def firmware_revision(self) -> int:
        """The oximeter's firmware revision level."""
        return self._data(3)

    @property
    def spo2_display(self) -> int:
        """SpO2 as displayed (holds 10 s after the finger is removed)."""
        return self._data(8) & 0x7F

    @property
    def spo2_fast(self) -> int:
        """Fast-responding 4-beat SpO2."""
        return self._data(9) & 0x7F

    @property
    def spo2_beat_to_beat(self) -> int:
        """Unaveraged beat-to-beat SpO2."""
        return self._data(10) & 0x7F

    @property
    def extended_heart_rate(self) -> int:
        """8-beat average pulse rate."""
        return _heart_rate(self._data(13), self._data(14))

    @property
    def extended_spo2(self) -> int:
        """8-beat average SpO2."""
        return self._data(15) & 0x7F

    @property
    def heart_rate_display(self) -> int:
        """Pulse rate as displayed."""
        return _heart_rate(self._data(19), self._data(20))

    @property
    def quality(self) -> frozenset[Quality]:
        """Flags of any frame of the packet: the values summarise all 25."""
        flags: frozenset[Quality] = frozenset()
        for frame in self.frames:
            flags |= frame.quality
        return flags


def decode_packet(data: bytes) -> NoninPacket:
    """Decode 125 bytes: 25 frames, SYNC on the first only; DecodeError otherwise."""
    if len(data) != FRAME_SIZE * PACKET_FRAMES:
        raise layout_error(PROTOCOL, data, (("packet", FRAME_SIZE * PACKET_FRAMES),))
    frames = []
    for index in range(PACKET_FRAMES):
        offset = index * FRAME_SIZE
        try:
            frame = decode_frame(data[offset:offset + FRAME_SIZE])
        except DecodeError as exc:
            raise DecodeError(PROTOCOL, offset + exc.offset, exc.reason) from None
        if frame.sync != (index == 0):
            raise DecodeError(PROTOCOL, offset + 1, "SYNC bit on frame 0 only" if index
                              else "first frame of a packet lacks the SYNC bit")
        frames.append(frame)
    return NoninPacket(tuple(frames))


def encode_packet(packet: NoninPacket) -> bytes:
    """The 125 bytes of ``packet``."""
    if len(packet.frames) != PACKET_FRAMES:
        raise ValueError(f"a packet has {PACKET_FRAMES} frames, not {len(packet.frames)}")
    return b"".join(encode_frame(frame) for frame in packet.frames)


def make_packet(heart_rate: int, spo2: int, pleth: Sequence[int], *, firmware_revision: int = 0,
                perfusion: Perfusion = Perfusion.GREEN, artifact: bool = False,
                sensor_disconnect: bool = False) -> NoninPacket:
    """A packet for simulators: the same values in the standard, display and extended slots."""
    if len(pleth) != PACKET_FRAMES:
        raise ValueError(f"pleth needs {PACKET_FRAMES} samples")
    if not (0 <= heart_rate <= 511 and 0 <= spo2 <= 127):
        raise ValueError("heart rate is 9 bits and SpO2 7 bits")
    data = [0] * PACKET_FRAMES
    msb, lsb = heart_rate >> 7, heart_rate & 0x7F
    for index in (0, 13, 19, 21):
        data[index], data[index + 1] = msb, lsb
    for index in (2, 8, 9, 10, 15, 16):
        data[index] = spo2
    data[3] = firmware_revision
    return NoninPacket(tuple(
        NoninFrame(i == 0, sensor_disconnect, artifact, False, False, perfusion, pleth[i], data[i])
        for i in range(PACKET_FRAMES)))


_CANDIDATE = re.compile(rb"\x01[\x80-\xff]", re.DOTALL)


class Framer(FramerBase):
    """Cuts a byte stream into checksummed 5-byte frames, resynchronising byte by byte."""

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return the complete, valid frames it finished, in order."""
        self.position += len(data)
        buffer = self._buffer + data
        start, end, at = self._start, len(buffer), 0
        frames: list[bytes] = []
        while True:
            match = _CANDIDATE.search(buffer, at)
            if match is None:
                # Keep a trailing 0x01: it may start a frame whose status comes next.
                stop = end - 1 if end > at and buffer[-1] == 0x01 else end
                if stop > at:
                    self._drop(start + at, stop - at, f"byte 0x{buffer[at]:02x} outside a frame")
                at = stop
                break
            found = match.start()
            if found > at:
                self._drop(start + at, found - at, f"byte 0x{buffer[at]:02x} outside a frame")
            if found + FRAME_SIZE > end:
                at = found  # incomplete frame at the end: wait for the rest
                break
            if sum(buffer[found:found + 4]) & 0xFF == buffer[found + 4]:
                frames.append(buffer[found:found + FRAME_SIZE])
                at = found + FRAME_SIZE
            else:
                self._drop(start + found, 1, f"bad checksum 0x{buffer[found + 4]:02x} in the "
                                             f"frame at byte {start + found}")
                at = found + 1
        self.frames += len(frames)
        self._buffer = buffer[at:]
        self._start = start + at
        return frames


class PacketAssembler:
    """Groups decoded frames into packets, from one SYNC frame to the next.

    ``dropped_frames`` counts frames that could not complete a packet (before
    the first SYNC, or in a packet cut short by a new SYNC).
    """

    def __init__(self) -> None:
        self._frames: list[NoninFrame] = []
        self._synced = False
        self.dropped_frames = 0
        self.packets = 0

    def push(self, frame: NoninFrame) -> NoninPacket | None:
        """Add one frame; return the packet it completes, if any."""
        if frame.sync:
            self.dropped_frames += len(self._frames)
            self._frames = [frame]
            self._synced = True
        elif self._synced:
            self._frames.append(frame)
        else:
            self.dropped_frames += 1
            return None
        if len(self._frames) < PACKET_FRAMES:
            return None
        packet = NoninPacket(tuple(self._frames))
        self._frames = []
        self._synced = False  # the next packet must begin with its own SYNC frame
        self.packets += 1
        return packet


def to_measurements(item: NoninPacket | NoninFrame, device: str,
                    received_at: datetime) -> list[Measurement]:
    """Pulse rate and SpO2 of a packet, or the pleth sample of a frame."""
    if isinstance(item, NoninFrame):
        return [measurement(Kind.PLETH, float(item.pleth), "1", received_at, device,
                            item.quality, 0)]
    quality = item.quality
    return [
        from_count(Kind.PULSE_RATE, item.heart_rate, MISSING_HEART_RATE, "/min", received_at,
                   device, quality),
        from_count(Kind.SPO2, item.spo2, MISSING_SPO2, "%", received_at, device, quality),
    ]


def pleth_chunk(frames: Sequence[NoninFrame], device: str, start: datetime) -> WaveformChunk:
    """The pleth samples of consecutive frames as one waveform chunk beginning at ``start``."""
    return WaveformChunk(Kind.PLETH, start, SAMPLE_RATE_HZ,
                         tuple(float(frame.pleth) for frame in frames), "1", device)
