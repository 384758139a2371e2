"""Measurements and waveforms: committed the moment they are accepted.

Single measurements are one durable transaction each; a burst can go in one
transaction with :meth:`MeasurementLog.add_many`. Waveforms are stored as
chunks of float32 samples, one row per chunk, never one row per sample.
Times are integer microseconds since the Unix epoch (UTC).
"""

from __future__ import annotations

import math
import sys
from array import array
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from devices.measurement import Kind, Measurement, Quality, WaveformChunk
from station.store import audit
from station.store.database import Store

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_INSERT = (
    "INSERT INTO measurements (session_id, kind, value, unit, time_us, device, quality, decimals)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def to_microseconds(moment: datetime) -> int:
    """Exact integer microseconds since the Unix epoch."""
    return (moment - _EPOCH) // _MICROSECOND


def from_microseconds(value: int) -> datetime:
    """The UTC datetime of :func:`to_microseconds`."""
    return _EPOCH + timedelta(microseconds=value)


def _rows(session_id: str, measurements: Sequence[Measurement]) -> list[tuple[object, ...]]:
    # One comprehension, no call per row: this is the hot path of a burst.
    # Types are exactly what SQLite returns (float value, plain str kind), so
    # the audit digest of these tuples equals the digest of the stored rows.
    # SQLite has no NaN: "the device gave no value" is stored as NULL.
    return [
        (
            session_id,
            m.kind.value,
            float(m.value) if m.value == m.value else None,
            m.unit,
            (m.time - _EPOCH) // _MICROSECOND,
            m.device,
            ",".join(sorted(m.quality)) if m.quality else "",
            m.decimals,
        )
        for m in measurements
    ]


def _measurement(row: Sequence[object]) -> Measurement:
    kind, value, unit, time_us, device, quality, decimals = row
    return Measurement(
        kind=Kind(str(kind)),
        value=math.nan if value is None else float(str(value)),
        unit=str(unit),
        time=from_microseconds(int(str(time_us))),
        device=str(device),
        quality=frozenset(Quality(q) for q in str(quality).split(",") if q),
        decimals=None if decimals is None else int(str(decimals)),
    )


class MeasurementLog:
    """Durable log of a session's measurements and waveforms."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, session_id: str, measurement: Measurement, actor: str = "device") -> int:
        """Store one measurement durably; returns its id once it is on disk."""
        return self.add_many(session_id, [measurement], actor).start

    def add_many(
        self, session_id: str, measurements: Sequence[Measurement], actor: str = "device"
    ) -> range:
        """Store measurements in one durable transaction; returns the ids given.

        Ids are contiguous: the transaction holds SQLite's write lock and rows
        are never deleted, so the next ids follow the current maximum.
        """
        if not measurements:
            return range(0)
        rows = _rows(session_id, measurements)
        digest = audit.digest_rows(rows)
        with self._store.write() as conn:
            last = conn.execute("SELECT max(id) FROM measurements").fetchone()[0] or 0
            if len(rows) == 1:
                conn.execute(_INSERT, rows[0])
            else:
                conn.executemany(_INSERT, rows)
            ids = range(last + 1, last + 1 + len(rows))
            audit.append(
                conn, actor=actor, action="measurements.recorded", entity="measurements",
                first_id=ids.start, last_id=ids.stop - 1, content_hash=digest,
                details={"session": session_id, "count": len(rows)},
            )
        return ids

    def for_session(self, session_id: str) -> list[Measurement]:
        """Every measurement of a session, in the order received."""
        rows = self._store.conn.execute(
            "SELECT kind, value, unit, time_us, device, quality, decimals FROM measurements"
            " WHERE session_id = ? ORDER BY id",
            (session_id,),
        )
        return [_measurement(row) for row in rows]

    def after(self, session_id: str, last_id: int) -> list[tuple[int, Measurement]]:
        """A session's measurements stored after ``last_id``, with their ids, in order
        (what a doctor who lost the link has not seen)."""
        rows = self._store.conn.execute(
            "SELECT id, kind, value, unit, time_us, device, quality, decimals FROM measurements"
            " WHERE session_id = ? AND id > ? ORDER BY id",
            (session_id, last_id),
        )
        return [(int(row[0]), _measurement(row[1:])) for row in rows]

    def count(self, session_id: str | None = None) -> int:
        """How many measurements are stored (for one session, or in all)."""
        if session_id is None:
            row = self._store.conn.execute("SELECT count(*) FROM measurements").fetchone()
        else:
            row = self._store.conn.execute(
                "SELECT count(*) FROM measurements WHERE session_id = ?", (session_id,)
            ).fetchone()
        return int(row[0])

    def add_waveform(self, session_id: str, chunk: WaveformChunk, actor: str = "device") -> int:
        """Store one chunk of samples as a little-endian float32 blob."""
        samples = array("f", chunk.samples)
        if sys.byteorder == "big":
            samples.byteswap()
        with self._store.write() as conn:
            cursor = conn.execute(
                "INSERT INTO waveform_chunks (session_id, kind, start_us, sample_rate_hz, unit,"
                " device, sample_count, samples) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, chunk.kind.value, to_microseconds(chunk.start),
                 float(chunk.sample_rate_hz), chunk.unit, chunk.device, len(samples),
                 samples.tobytes()),
            )
            row_id = int(cursor.lastrowid or 0)
            audit.append(
                conn, actor=actor, action="waveform.recorded", entity="waveform_chunks",
                first_id=row_id, details={"session": session_id, "samples": len(samples)},
            )
        return row_id

    def waveforms(self, session_id: str, kind: Kind) -> list[WaveformChunk]:
        """The chunks of one signal of a session, in order."""
        rows = self._store.conn.execute(
            "SELECT start_us, sample_rate_hz, unit, device, samples FROM waveform_chunks"
            " WHERE session_id = ? AND kind = ? ORDER BY id",
            (session_id, kind.value),
        )
        chunks = []
        for start_us, rate, unit, device, blob in rows:
            samples = array("f")
            samples.frombytes(blob)
            if sys.byteorder == "big":
                samples.byteswap()
            chunks.append(
                WaveformChunk(kind, from_microseconds(start_us), rate, tuple(samples), unit, device)
            )
        return chunks
