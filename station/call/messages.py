"""Data-channel messages of the call protocol (docs/call-protocol.md), built and parsed here.

Pure functions, no I/O (habit 5): they turn station objects into the
contract's JSON and back, cut snapshots into chunks and check them on
arrival. The channels themselves live in :mod:`station.call.peer`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from devices.measurement import Measurement

CHUNK_SIZE = 16 * 1024  # the largest message every browser's SCTP stack takes safely
CHANNELS = ("vitals", "waveforms", "snapshots", "report", "control")
CALL_STATES = ("ringing", "connected", "reconnecting", "ended")
# Not (yet) in the contract: liveness probe on `control`, once a second, both ways.
HEARTBEAT = "heartbeat"
SNAPSHOT_ACK = "snapshot-ack"  # the console's {"id", "received": bytes so far} on snapshots


class MessageError(ValueError):
    """A data-channel message that does not follow the contract."""


def encode(message: Mapping[str, Any]) -> str:
    """One JSON text message (no NaN: JSON has none)."""
    return json.dumps(message, ensure_ascii=False, allow_nan=False, separators=(",", ":"))


def decode(text: str | bytes) -> dict[str, Any]:
    """Parse a JSON message; raises :class:`MessageError` when it is not a typed object."""
    try:
        message = json.loads(text)
    except (ValueError, UnicodeDecodeError, RecursionError) as error:
        raise MessageError(f"not JSON: {str(error)[:100]}") from error
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        raise MessageError("a message is a JSON object with a string 'type'")
    _check_fields(message)
    return message


# The fields the station acts on in the doctor's messages, by type: they come
# from a browser, so a number may be a string, a list, 1e999 or 10**5000.
_MAX_COUNTER = 2**53  # the largest integer a browser's JSON keeps exact
_REPORT_TEXTS = ("conclusion", "prescriptions", "act")


def _counter(message: Mapping[str, Any], name: str, *, required: bool) -> None:
    value = message.get(name)
    if value is None and not required:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_COUNTER:
        raise MessageError(f"{message['type']}: '{name}' is not a counter")


def _text(value: object) -> bool:
    """A string UTF-8 (and so the store) can hold: no lone surrogate from a \\ud800 escape."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_fields(message: Mapping[str, Any]) -> None:
    """Refuse a doctor's message whose fields the station would choke on."""
    kind = message["type"]
    if kind == HEARTBEAT:
        _counter(message, "seq", required=False)
        _counter(message, "vitals", required=False)
    elif kind == "audio-only" and not isinstance(message.get("on"), bool):
        raise MessageError("audio-only: 'on' is not a boolean")
    elif kind == "switch-exam" and not _text(message.get("exam")):
        raise MessageError("switch-exam: 'exam' is not text")
    elif kind in ("report-draft", "report-validate"):
        _counter(message, "revision", required=kind == "report-draft")
        fields = message.get("fields", {})
        if not isinstance(fields, dict) or not all(_text(key) for key in fields):
            raise MessageError(f"{kind}: 'fields' is not an object")
        for name in _REPORT_TEXTS:
            if fields.get(name) is not None and not _text(fields[name]):
                raise MessageError(f"{kind}: '{name}' is not text")
        billing = fields.get("billing")
        if billing is not None and not (isinstance(billing, list)
                                        and all(_text(code) for code in billing)):
            raise MessageError(f"{kind}: 'billing' is not a list of codes")


def _time(value: datetime) -> str:
    return value.isoformat()


def measurement_message(measurement: Measurement, stored_at: datetime | None = None,
                        measurement_id: int | None = None) -> dict[str, Any]:
    """``{"type": "measurement", ...}``; ``value`` is null when the device gave none.

    ``time`` is the measurement's own time (the device's clock when it has
    one, often to the second); ``stored`` (when given) is when the station
    had it durably stored, just before sending it; ``id`` its number in the
    store, increasing, which the console acknowledges in its heartbeats so
    that a new connection replays what the doctor missed.
    """
    value = measurement.value if math.isfinite(measurement.value) else None
    message = {"type": "measurement", "kind": measurement.kind.value, "value": value,
               "unit": measurement.unit, "decimals": measurement.decimals,
               "time": _time(measurement.time), "device": measurement.device,
               "quality": sorted(flag.value for flag in measurement.quality)}
    if stored_at is not None:
        message["stored"] = _time(stored_at)
    if measurement_id is not None:
        message["id"] = measurement_id
    return message


def call_state_message(state: str, audio_only: bool) -> dict[str, Any]:
    """``{"type": "call-state", "state", "audio_only"}``."""
    if state not in CALL_STATES:
        raise MessageError(f"unknown call state {state!r}")
    return {"type": "call-state", "state": state, "audio_only": audio_only}


def waveform_message(kind: str, rate: float, start: datetime,
                     samples: Sequence[float]) -> dict[str, Any]:
    """``{"type": "pleth"|"phono", "rate", "start", "samples"}`` for the unreliable channel."""
    if kind not in ("pleth", "phono"):
        raise MessageError(f"unknown waveform {kind!r}")
    return {"type": kind, "rate": rate, "start": _time(start),
            "samples": [round(float(sample), 4) for sample in samples]}


def report_draft_message(revision: int, author: str,
                         fields: Mapping[str, Any]) -> dict[str, Any]:
    """``{"type": "report-draft", "revision", "author", "fields"}``."""
    if author not in ("doctor", "nurse"):
        raise MessageError(f"unknown report author {author!r}")
    return {"type": "report-draft", "revision": revision, "author": author, "fields": dict(fields)}


def snapshot_messages(snapshot_id: str, png: bytes,
                      meta: Mapping[str, Any]) -> Iterator[str | bytes]:
    """snapshot-begin JSON, binary chunks of ≤ 16 KiB, snapshot-end JSON.

    ``meta`` gives ``name``, ``exam``, ``width``, ``height``; size and
    SHA-256 are computed here from ``png``.
    """
    begin = {"type": "snapshot-begin", "id": snapshot_id, "name": meta.get("name", ""),
             "exam": meta.get("exam", ""), "width": meta.get("width"),
             "height": meta.get("height"), "size": len(png),
             "sha256": hashlib.sha256(png).hexdigest()}
    yield encode(begin)
    for offset in range(0, len(png), CHUNK_SIZE):
        yield png[offset:offset + CHUNK_SIZE]
    yield encode({"type": "snapshot-end", "id": snapshot_id})


def snapshot_ack_message(snapshot_id: str, received: int) -> dict[str, Any]:
    """``{"type": "snapshot-ack", "id", "received"}``: what a receiver answers to each chunk,
    so the sender can pace the transfer (:mod:`station.call.pacing`)."""
    return {"type": SNAPSHOT_ACK, "id": snapshot_id, "received": received}


@dataclass
class ReceivedSnapshot:
    """A snapshot put back together; ``intact`` says whether size and SHA-256 match."""

    header: dict[str, Any]
    data: bytes
    intact: bool


@dataclass
class SnapshotAssembler:
    """Receiver side of the ``snapshots`` channel: feed every message, get whole files."""

    _header: dict[str, Any] | None = None
    _chunks: list[bytes] = field(default_factory=list)
    received: int = 0  # bytes of the current snapshot so far

    @property
    def current_id(self) -> str | None:
        """The id of the snapshot being received, if any."""
        return None if self._header is None else str(self._header.get("id", ""))

    def feed(self, message: str | bytes) -> ReceivedSnapshot | None:
        """Take one message; returns the snapshot on snapshot-end, else None."""
        if isinstance(message, bytes):
            if self._header is None:
                raise MessageError("snapshot chunk outside snapshot-begin/end")
            self._chunks.append(message)
            self.received += len(message)
            return None
        parsed = decode(message)
        if parsed["type"] == "snapshot-begin":
            self._header, self._chunks, self.received = parsed, [], 0
            return None
        if parsed["type"] == "snapshot-end" and self._header is not None:
            header, data = self._header, b"".join(self._chunks)
            self._header, self._chunks = None, []
            intact = (parsed.get("id") == header.get("id") and len(data) == header.get("size")
                      and hashlib.sha256(data).hexdigest() == header.get("sha256"))
            return ReceivedSnapshot(header, data, intact)
        raise MessageError(f"unexpected {parsed['type']!r} on the snapshots channel")
