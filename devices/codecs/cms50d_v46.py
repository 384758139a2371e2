"""Contec CMS50D+ firmware 4.6, Contec's "Communication Protocol of Pulse Oximeter V7.0".

115200 baud, 8N1. Live data (60 packages/s, for about 30 s) starts when the
host sends :data:`START_LIVE_COMMAND`; :data:`KEEPALIVE_COMMAND` every 5 s
keeps the device talking.

Every package is ``type, high-bits, data...``: the type byte has bit 7
clear, every other byte has it set, and bit *i* of the high-bits byte is bit
7 of data byte *i* (the vendor's document, kept in gagistech/bedsidemon
``doc/contec_cms50x``). Live package 0x01 (9 bytes), after restoring bit 7:

====  =====================================================================
data  content
====  =====================================================================
0     b0-3 signal strength, b4 searching too long, b5 low SpO2,
      b6 pulse beep, b7 probe error ("finger out"; pleth is then 0x40)
1     b0-6 pleth, b7 searching pulse
2     b0-3 bar graph, b4 perfusion index invalid, b5-7 reserved (0)
3     pulse rate, 0-254 /min, 0xFF = no reading
4     SpO2, 0-100 %, 0x7F = no reading
5-6   perfusion index × 100, little-endian, 0xFFFF = no reading
====  =====================================================================

So the "byte 1 low bit = finger out" of reverse-engineered notes is the
restored bit 7 of data byte 0, and a pulse above 127 needs bit 3 of the
high-bits byte (``& 0x7F`` alone would turn 130 /min into 2).

Framing policy: the framer knows each package type's length (table 2 of
the vendor document). Bytes that cannot belong to a package (unknown type,
package cut short by the next type byte, stray bit-7 bytes) are dropped and
counted; since every package begins with the only kind of byte whose bit 7
is clear, resynchronisation is immediate.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from devices.codecs._measure import from_count, measurement
from devices.codecs._wire import U16, FramerBase, plural
from devices.errors import DecodeError
from devices.measurement import Kind, Measurement, Quality, WaveformChunk

PROTOCOL = "cms50d-v46"
BAUDRATE = 115200
SAMPLE_RATE_HZ = 60.0
LIVE = 0x01
STORAGE = 0x0F
COMMAND = 0x7D
MISSING_PULSE_RATE = 0xFF
MISSING_SPO2 = 0x7F
MISSING_PERFUSION_INDEX = 0xFFFF

# Package lengths by type, from the vendor's table 2 (0x7D is the host's command).
PACKAGE_LENGTHS: dict[int, int] = {
    0x01: 9, 0x04: 9, 0x05: 9, 0x07: 8, 0x08: 8, 0x09: 6, 0x0A: 4, 0x0B: 4, 0x0C: 2,
    0x0D: 3, 0x0E: 3, 0x0F: 8, 0x10: 3, 0x11: 9, 0x12: 8, 0x15: 9, 0x7D: 9,
}


@dataclass(frozen=True, slots=True)
class LiveFrame:
    """A real-time data package (0x01)."""

    signal_strength: int
    searching_too_long: bool
    low_spo2: bool
    pulse_beep: bool
    finger_out: bool  # the vendor's "probe error"
    pleth: int
    searching_pulse: bool
    bar_graph: int
    perfusion_index_invalid: bool
    pulse_rate: int
    spo2: int
    perfusion_index: int  # × 100
    reserved: int = 0  # bits 5-7 of data byte 2

    @property
    def perfusion_index_percent(self) -> float | None:
        """The perfusion index in %, None when flagged invalid or missing."""
        if self.perfusion_index_invalid or self.perfusion_index == MISSING_PERFUSION_INDEX:
            return None
        return self.perfusion_index / 100


@dataclass(frozen=True, slots=True)
class StorageFrame:
    """A recorded-data package (0x0F): three seconds of (SpO2, pulse rate)."""

    spo2: tuple[int, int, int]
    pulse_rate: tuple[int, int, int]


@dataclass(frozen=True, slots=True)
class Package:
    """Any other package of a known type, with bit 7 of its data restored."""

    type: int
    payload: bytes


Frame = LiveFrame | StorageFrame | Package


_LOW7 = tuple(int.from_bytes(b"\x7f" * n, "little") for n in range(8))
_SPREAD = tuple(sum((h >> i & 1) << (8 * i + 7) for i in range(7)) for h in range(128))


def decode_package(data: bytes) -> Package:
    """Check a package's framing and restore its data bytes; DecodeError if malformed."""
    if len(data) < 2:
        raise DecodeError(PROTOCOL, len(data),
                          f"truncated: package needs at least 2 bytes, {len(data)} left")
    kind = data[0]
    if kind & 0x80:
        raise DecodeError(PROTOCOL, 0, f"type byte 0x{kind:02x} has bit 7 set")
    length = PACKAGE_LENGTHS.get(kind)
    if length is None:
        raise DecodeError(PROTOCOL, 0, f"unknown package type 0x{kind:02x}")
    if len(data) != length:
        reason = (f"truncated: package 0x{kind:02x} needs {length} bytes, {len(data)} given"
                  if len(data) < length else plural(len(data) - length, "unexpected trailing byte"))
        raise DecodeError(PROTOCOL, min(len(data), length), reason)
    if min(data[1:]) < 0x80:
        index = next(i for i in range(1, length) if data[i] < 0x80)
        raise DecodeError(PROTOCOL, index, f"byte 0x{data[index]:02x} lacks bit 7")
    high = data[1] & 0x7F
    size = length - 2
    if high >> size:
        raise DecodeError(PROTOCOL, 1, f"high-bits byte 0x{data[1]:02x} sets bit 7 of "
                                       f"missing data bytes (package has {size})")
    # Restore bit 7 of all data bytes at once: clear them, then OR in the
    # high bits spread to positions 7, 15, 23, ...
    restored = int.from_bytes(data[2:], "little") & _LOW7[size] | _SPREAD[high]
    return Package(kind, restored.to_bytes(size, "little"))


def encode_package(package: Package) -> bytes:
    """The bytes of ``package``: type, high-bits byte, data with bit 7 set."""
    length = PACKAGE_LENGTHS.get(package.type)
    if length is None or len(package.payload) != length - 2:
        raise ValueError(f"package 0x{package.type:02x} cannot carry {len(package.payload)} bytes")
    high = 0
    for i, byte in enumerate(package.payload):
        high |= (byte >> 7) << i
    return bytes((package.type, 0x80 | high)) + bytes(0x80 | byte for byte in package.payload)


def encode_command(command: int, arguments: bytes = b"") -> bytes:
    """A host command package (0x7D): command code, arguments, zero padding."""
    if len(arguments) > 6:
        raise ValueError("a command carries at most 6 argument bytes")
    return encode_package(Package(COMMAND, bytes((command,)) + arguments.ljust(6, b"\x00")))


START_LIVE_COMMAND = encode_command(0xA1)  # 7D 81 A1 80 80 80 80 80 80
STOP_LIVE_COMMAND = encode_command(0xA2)
KEEPALIVE_COMMAND = encode_command(0xAF)  # "inform device being connected", every 5 s


def decode_frame(data: bytes) -> Frame:
    """Decode one package: a LiveFrame, a StorageFrame, or a generic Package."""
    package = decode_package(data)
    p = package.payload
    if package.type == LIVE:
        return LiveFrame(p[0] & 0x0F, bool(p[0] & 0x10), bool(p[0] & 0x20), bool(p[0] & 0x40),
                         bool(p[0] & 0x80), p[1] & 0x7F, bool(p[1] & 0x80), p[2] & 0x0F,
                         bool(p[2] & 0x10), p[3], p[4], U16.unpack_from(p, 5)[0], p[2] & 0xE0)
    if package.type == STORAGE:
        return StorageFrame((p[0], p[2], p[4]), (p[1], p[3], p[5]))
    return package


def encode_frame(frame: Frame) -> bytes:
    """The bytes of ``frame``; ValueError if a field does not fit."""
    if isinstance(frame, Package):
        return encode_package(frame)
    if isinstance(frame, StorageFrame):
        pairs = zip(frame.spo2, frame.pulse_rate, strict=True)
        return encode_package(Package(STORAGE, bytes(v for pair in pairs for v in pair)))
    for name, value, limit in (("signal_strength", frame.signal_strength, 15),
                               ("pleth", frame.pleth, 127), ("bar_graph", frame.bar_graph, 15),
                               ("pulse_rate", frame.pulse_rate, 255), ("spo2", frame.spo2, 255),
                               ("perfusion_index", frame.perfusion_index, 0xFFFF)):
        if not 0 <= value <= limit:
            raise ValueError(f"{name} {value} is outside 0-{limit}")
    if frame.reserved & ~0xE0:
        raise ValueError(f"reserved bits {frame.reserved:#04x} outside mask 0xe0")
    payload = bytes((
        frame.signal_strength | frame.searching_too_long << 4 | frame.low_spo2 << 5
        | frame.pulse_beep << 6 | frame.finger_out << 7,
        frame.pleth | frame.searching_pulse << 7,
        frame.bar_graph | frame.perfusion_index_invalid << 4 | frame.reserved,
        frame.pulse_rate, frame.spo2)) + U16.pack(frame.perfusion_index)
    return encode_package(Package(LIVE, payload))


# A token is a type byte (bit 7 clear) and the bit-7 bytes after it, or a run
# of stray bit-7 bytes.
_TOKEN = re.compile(rb"[\x00-\x7f][\x80-\xff]*|[\x80-\xff]+")


class Framer(FramerBase):
    """Cuts a byte stream into packages of known types (see the module docstring)."""

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return the complete packages it finished, in order."""
        self.position += len(data)
        buffer = self._buffer + data
        start, end, keep = self._start, len(buffer), len(buffer)
        frames: list[bytes] = []
        for token in _TOKEN.finditer(buffer):
            at, stop = token.span()
            kind = buffer[at]
            length = PACKAGE_LENGTHS.get(kind)
            if kind & 0x80:
                self._drop(start + at, stop - at, f"byte 0x{kind:02x} outside a package")
            elif length is None:
                self._drop(start + at, stop - at, f"unknown package type 0x{kind:02x}")
            elif stop - at < length:
                if stop == end:
                    keep = at  # incomplete package at the end: wait for the rest
                else:
                    self._drop(start + at, stop - at, f"package 0x{kind:02x} cut short after "
                                                      f"{stop - at} of {length} bytes")
            elif (buffer[at + 1] & 0x7F) >> (length - 2):
                self._drop(start + at, length, f"package 0x{kind:02x} has a bad high-bits byte")
                self._extra(buffer, start, at + length, stop)
            else:
                frames.append(buffer[at:at + length])
                self._extra(buffer, start, at + length, stop)
        self.frames += len(frames)
        self._buffer = buffer[keep:]
        self._start = start + keep
        return frames

    def _extra(self, buffer: bytes, start: int, at: int, stop: int) -> None:
        if stop > at:
            self._drop(start + at, stop - at, f"byte 0x{buffer[at]:02x} outside a package")


def to_measurements(frame: Frame, device: str, received_at: datetime) -> list[Measurement]:
    """SpO2, pulse rate, pleth and (when valid) perfusion index of a live package.

    Recorded (0x0F) and other packages give no measurement: recorded data has
    no time of its own until the storage start time is asked for, which is a
    driver's job.
    """
    if not isinstance(frame, LiveFrame):
        return []
    flags: set[Quality] = set()
    if frame.finger_out:
        flags.add(Quality.FINGER_OUT)
    if frame.searching_pulse or frame.searching_too_long:
        flags.add(Quality.SEARCHING)
    quality = frozenset(flags)
    out = [
        from_count(Kind.SPO2, frame.spo2, MISSING_SPO2, "%", received_at, device, quality),
        from_count(Kind.PULSE_RATE, frame.pulse_rate, MISSING_PULSE_RATE, "/min", received_at,
                   device, quality),
        measurement(Kind.PLETH, float(frame.pleth), "1", received_at, device, quality, 0),
    ]
    if not frame.perfusion_index_invalid:
        pi = from_count(Kind.PERFUSION_INDEX, frame.perfusion_index, MISSING_PERFUSION_INDEX,
                        "%", received_at, device, quality)
        if pi.has_value:  # stored × 100: two decimals
            pi = measurement(Kind.PERFUSION_INDEX, frame.perfusion_index / 100, "%", received_at,
                             device, quality, 2)
        out.append(pi)
    return out


def pleth_chunk(frames: Sequence[LiveFrame], device: str, start: datetime) -> WaveformChunk:
    """The pleth samples of consecutive live frames as one waveform chunk beginning at ``start``."""
    return WaveformChunk(Kind.PLETH, start, SAMPLE_RATE_HZ,
                         tuple(float(frame.pleth) for frame in frames), "1", device)
