"""Data-channel messages: contract JSON, snapshot chunking and checking."""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, datetime

import pytest

from devices.measurement import Kind, Measurement
from station.call import messages


def test_measurement_without_value_is_null() -> None:
    measured = Measurement(Kind.BODY_TEMPERATURE, math.nan, "Cel",
                           datetime(2026, 11, 23, 9, 0, tzinfo=UTC), "sim://thermo")
    message = messages.measurement_message(measured)
    assert message["value"] is None
    assert messages.decode(messages.encode(message)) == message


def test_snapshot_chunks_are_at_most_16_kib_and_reassemble() -> None:
    png = bytes(range(256)) * 200 + b"end"
    parts = list(messages.snapshot_messages("a1", png, {"name": "n.png", "exam": "dermatoscope",
                                                         "width": 10, "height": 10}))
    chunks = [part for part in parts if isinstance(part, bytes)]
    assert all(len(chunk) <= messages.CHUNK_SIZE for chunk in chunks)
    assert b"".join(chunks) == png
    header = messages.decode(parts[0])
    assert header["sha256"] == hashlib.sha256(png).hexdigest() and header["size"] == len(png)
    assembler = messages.SnapshotAssembler()
    results = [assembler.feed(part) for part in parts]
    assert results[-1] is not None and results[-1].intact and results[-1].data == png


def test_corrupted_snapshot_is_flagged() -> None:
    parts = list(messages.snapshot_messages("a1", b"x" * 40_000, {}))
    parts[1] = b"y" + parts[1][1:]
    assembler = messages.SnapshotAssembler()
    result = [assembler.feed(part) for part in parts][-1]
    assert result is not None and not result.intact


@pytest.mark.parametrize("text", ["", "[]", "{\"type\": 3}", "not json"])
def test_malformed_messages_raise_message_error(text: str) -> None:
    with pytest.raises(messages.MessageError):
        messages.decode(text)
