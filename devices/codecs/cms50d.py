"""Contec CMS50D+ classic live data: 5-byte frames at 19200 baud, 8O1, 60 frames/s.

Byte 0 has bit 7 set, bytes 1-4 have it clear; that is the only framing.

====  ======================================================================
byte  content
====  ======================================================================
0     b0-3 signal strength, b4 finger out, b5 SpO2 dropping, b6 beep, b7 = 1
1     b0-6 pleth
2     b0-3 bar graph, b4 probe error, b5 searching, b6 pulse rate bit 7
3     b0-6 pulse rate bits 0-6
4     b0-6 SpO2
====  ======================================================================

(atbrask/CMS50Dplus). A pulse rate of 255 and a SpO2 of 127 mean "no
reading", as the vendor documents for the later 9-byte protocol (see
:mod:`devices.codecs.cms50d_v46`); they become NaN flagged ``NOT_A_NUMBER``.

Framing policy: bytes that cannot start or continue a frame (a bit-7-clear
byte outside a frame, a frame cut short by a new sync byte) are dropped and
counted in :attr:`Framer.discarded`; the framer resynchronises on the next
byte with bit 7 set, so it can lose at most the frame in progress.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from devices.codecs._measure import from_count, measurement
from devices.codecs._wire import FramerBase, layout_error
from devices.errors import DecodeError
from devices.measurement import Kind, Measurement, Quality, WaveformChunk

PROTOCOL = "cms50d"
BAUDRATE = 19200
PARITY = "O"  # pyserial's PARITY_ODD
FRAME_SIZE = 5
SAMPLE_RATE_HZ = 60.0
MISSING_PULSE_RATE = 0xFF
MISSING_SPO2 = 0x7F


@dataclass(frozen=True, slots=True)
class LiveFrame:
    """One decoded 5-byte live frame."""

    signal_strength: int
    finger_out: bool
    spo2_dropping: bool
    beep: bool
    pleth: int
    bar_graph: int
    probe_error: bool
    searching: bool
    pulse_rate: int
    spo2: int


def decode_frame(data: bytes) -> LiveFrame:
    """Decode one 5-byte frame; DecodeError if the length or a bit-7 marker is wrong."""
    if len(data) != FRAME_SIZE:
        raise layout_error(PROTOCOL, data, (("frame", FRAME_SIZE),))
    b0, b1, b2, b3, b4 = data
    if not b0 & 0x80:
        raise DecodeError(PROTOCOL, 0, f"byte 0x{b0:02x} lacks the sync bit 7")
    if (b1 | b2 | b3 | b4) & 0x80:
        index = next(i for i in range(1, 5) if data[i] & 0x80)
        raise DecodeError(PROTOCOL, index, f"byte 0x{data[index]:02x} has bit 7 set inside a frame")
    return LiveFrame(b0 & 0x0F, bool(b0 & 0x10), bool(b0 & 0x20), bool(b0 & 0x40), b1,
                     b2 & 0x0F, bool(b2 & 0x10), bool(b2 & 0x20), (b2 & 0x40) << 1 | b3, b4)


def encode_frame(frame: LiveFrame) -> bytes:
    """The 5 bytes of ``frame``; ValueError if a field does not fit its bits."""
    for name, value, limit in (("signal_strength", frame.signal_strength, 15),
                               ("pleth", frame.pleth, 127), ("bar_graph", frame.bar_graph, 15),
                               ("pulse_rate", frame.pulse_rate, 255), ("spo2", frame.spo2, 127)):
        if not 0 <= value <= limit:
            raise ValueError(f"{name} {value} is outside 0-{limit}")
    return bytes((
        0x80 | frame.signal_strength | frame.finger_out << 4 | frame.spo2_dropping << 5
        | frame.beep << 6,
        frame.pleth,
        frame.bar_graph | frame.probe_error << 4 | frame.searching << 5
        | (frame.pulse_rate & 0x80) >> 1,
        frame.pulse_rate & 0x7F,
        frame.spo2,
    ))


# A token is a sync byte and the run of bit-7-clear bytes after it; a frame
# is a token of exactly 5 bytes. Tokenising with a regex keeps the per-byte
# work in C.
_TOKEN = re.compile(rb"[\x80-\xff][\x00-\x7f]*|[\x00-\x7f]+")


class Framer(FramerBase):
    """Cuts a byte stream into 5-byte frames, resynchronising on garbage.

    See :class:`devices.codecs._wire.FramerBase` for the counters.
    """

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return the complete frames it finished, in order."""
        self.position += len(data)
        buffer = self._buffer + data
        start = self._start
        frames: list[bytes] = []
        end = len(buffer)
        keep = end
        for token in _TOKEN.finditer(buffer):
            at, stop = token.span()
            if not buffer[at] & 0x80:
                self._drop(start + at, stop - at, f"byte 0x{buffer[at]:02x} outside a frame")
            elif stop - at >= FRAME_SIZE:
                frames.append(buffer[at:at + FRAME_SIZE])
                if stop - at > FRAME_SIZE:
                    self._drop(start + at + FRAME_SIZE, stop - at - FRAME_SIZE,
                               f"byte 0x{buffer[at + FRAME_SIZE]:02x} outside a frame")
            elif stop == end:
                keep = at  # an incomplete frame at the end: wait for the rest
            else:
                self._drop(start + at, stop - at,
                           f"frame cut short after {stop - at} of 5 bytes")
        self.frames += len(frames)
        self._buffer = buffer[keep:]
        self._start = start + keep
        return frames


def to_measurements(frame: LiveFrame, device: str, received_at: datetime) -> list[Measurement]:
    """SpO2, pulse rate and the pleth sample of one frame, all at ``received_at``."""
    flags: set[Quality] = set()
    if frame.finger_out or frame.probe_error:
        flags.add(Quality.FINGER_OUT)
    if frame.searching:
        flags.add(Quality.SEARCHING)
    quality = frozenset(flags)
    return [
        from_count(Kind.SPO2, frame.spo2, MISSING_SPO2, "%", received_at, device, quality),
        from_count(Kind.PULSE_RATE, frame.pulse_rate, MISSING_PULSE_RATE, "/min", received_at,
                   device, quality),
        measurement(Kind.PLETH, float(frame.pleth), "1", received_at, device, quality, 0),
    ]


def pleth_chunk(frames: Sequence[LiveFrame], device: str, start: datetime) -> WaveformChunk:
    """The pleth samples of consecutive frames as one waveform chunk beginning at ``start``."""
    return WaveformChunk(Kind.PLETH, start, SAMPLE_RATE_HZ,
                         tuple(float(frame.pleth) for frame in frames), "1", device)
