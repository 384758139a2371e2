"""Pure device codecs (no I/O) and the registry behind ``station devices decode``.

One module per protocol: framers cut byte streams into frames, parsers turn
frames into frozen dataclasses, encoders turn them back into bytes, and
``to_measurements`` maps them to :class:`devices.measurement.Measurement`.
Malformed input raises only :class:`devices.errors.DecodeError`.

:data:`DECODERS` maps a protocol name to a :class:`ProtocolDecoder`, called
with a list of byte chunks, a device name and the reception time:

* BLE protocols: one chunk per notification/indication. A bad chunk raises
  DecodeError with the offset inside that chunk (and, when several chunks
  were given, which one).
* Serial protocols: chunks are consecutive reads of one stream and go through
  the protocol's framer in order. Garbage between frames is skipped and
  counted (logged at WARNING level); a stream that yields no valid frame at
  all raises DecodeError at the stream offset of the first problem seen.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from devices.codecs import ble_bps, ble_hts, ble_plx, ble_wss, cms50d, cms50d_v46, nonin
from devices.codecs._wire import FramerBase
from devices.errors import DecodeError
from devices.measurement import Measurement

__all__ = ["DECODERS", "ProtocolDecoder", "parse_hex"]

_log = logging.getLogger(__name__)

Decode = Callable[[Sequence[bytes], str, datetime], list[Measurement]]


@dataclass(frozen=True, slots=True)
class ProtocolDecoder:
    """A named protocol: call it with ``(chunks, device, received_at)``."""

    name: str
    transport: str  # "ble" or "serial"
    description: str
    run: Decode

    def __call__(self, chunks: Sequence[bytes], device: str,
                 received_at: datetime) -> list[Measurement]:
        """Decode ``chunks`` into measurements; DecodeError on malformed input."""
        return self.run(chunks, device, received_at)


def _ble(name: str, decode: Callable[[bytes], Any],
         to_measurements: Callable[[Any, str, datetime], list[Measurement]]) -> Decode:
    def run(chunks: Sequence[bytes], device: str, received_at: datetime) -> list[Measurement]:
        """Decode each notification in turn."""
        out: list[Measurement] = []
        for number, chunk in enumerate(chunks, 1):
            try:
                decoded = decode(chunk)
            except DecodeError as exc:
                if len(chunks) == 1:
                    raise
                raise DecodeError(name, exc.offset, f"notification {number} of {len(chunks)}: "
                                                    f"{exc.reason}") from None
            out.extend(to_measurements(decoded, device, received_at))
        return out
    return run


def _stream(name: str, framer: FramerBase, chunks: Sequence[bytes]) -> list[bytes]:
    """Every frame of the stream; DecodeError when there is none."""
    frames: list[bytes] = []
    for chunk in chunks:
        frames.extend(framer.feed(chunk))
    leftover = framer.pending
    if not frames:
        if framer.first_problem is not None:
            offset, reason = framer.first_problem
        elif leftover:
            offset, reason = framer.position - leftover, "stream ends inside a frame"
        else:
            offset, reason = 0, "no data"
        raise DecodeError(name, offset, f"no valid frame in {framer.position} bytes: {reason}")
    if framer.discarded or leftover:
        _log.warning("%s: skipped %d garbage bytes, %d left in an incomplete frame",
                     name, framer.discarded, leftover)
    return frames


def _cms50d(chunks: Sequence[bytes], device: str, received_at: datetime) -> list[Measurement]:
    out: list[Measurement] = []
    for frame in _stream(cms50d.PROTOCOL, cms50d.Framer(), chunks):
        out.extend(cms50d.to_measurements(cms50d.decode_frame(frame), device, received_at))
    return out


def _cms50d_v46(chunks: Sequence[bytes], device: str,
                received_at: datetime) -> list[Measurement]:
    out: list[Measurement] = []
    for frame in _stream(cms50d_v46.PROTOCOL, cms50d_v46.Framer(), chunks):
        out.extend(cms50d_v46.to_measurements(cms50d_v46.decode_frame(frame), device,
                                              received_at))
    return out


def _nonin(chunks: Sequence[bytes], device: str, received_at: datetime) -> list[Measurement]:
    out: list[Measurement] = []
    assembler = nonin.PacketAssembler()
    for raw in _stream(nonin.PROTOCOL, nonin.Framer(), chunks):
        frame = nonin.decode_frame(raw)
        out.extend(nonin.to_measurements(frame, device, received_at))
        packet = assembler.push(frame)
        if packet is not None:
            out.extend(nonin.to_measurements(packet, device, received_at))
    return out


DECODERS: dict[str, ProtocolDecoder] = {d.name: d for d in (
    ProtocolDecoder("ble-plx-spot", "ble", "Pulse oximeter, PLX Spot-Check Measurement 0x2A5E",
                    _ble("ble-plx-spot", ble_plx.decode_spot_check, ble_plx.to_measurements)),
    ProtocolDecoder("ble-plx-continuous", "ble",
                    "Pulse oximeter, PLX Continuous Measurement 0x2A5F",
                    _ble("ble-plx-continuous", ble_plx.decode_continuous,
                         ble_plx.to_measurements)),
    ProtocolDecoder("ble-hts", "ble", "Thermometer, Temperature Measurement 0x2A1C",
                    _ble("ble-hts", ble_hts.decode_temperature_measurement,
                         ble_hts.to_measurements)),
    ProtocolDecoder("ble-bps", "ble", "Blood pressure monitor, BP Measurement 0x2A35",
                    _ble("ble-bps", ble_bps.decode_blood_pressure, ble_bps.to_measurements)),
    ProtocolDecoder("ble-wss", "ble", "Weight scale, Weight Measurement 0x2A9D",
                    _ble("ble-wss", ble_wss.decode_weight_measurement, ble_wss.to_measurements)),
    ProtocolDecoder("cms50d", "serial", "Contec CMS50D+ classic 5-byte frames (19200 8O1)",
                    _cms50d),
    ProtocolDecoder("cms50d-v46", "serial", "Contec CMS50D+ firmware 4.6 packages (115200 8N1)",
                    _cms50d_v46),
    ProtocolDecoder("nonin-2", "serial", "Nonin serial data format #2 (9600 8N1)", _nonin),
)}


def parse_hex(text: str) -> bytes:
    """Bytes from hex text (``"0F AC F3"``, ``"0facf3"``, ``"0f:ac:f3"``); ValueError if not hex."""
    cleaned = "".join(text.replace(":", " ").replace(",", " ").replace("0x", " ").split())
    return bytes.fromhex(cleaned)
