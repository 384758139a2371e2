"""Exam snapshots: full-resolution stills stored losslessly beside the store.

The PNG (pixels plus metadata, see :mod:`devices.camera.snapshot`) is written
durably under ``<store folder>/media/<session>/`` first, then its row (with
the pixel hash and the file hash) is committed and audited. Loading checks
both hashes, so a changed or damaged image is reported, never shown as is.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from devices.camera import Snapshot, load_snapshot, save_snapshot
from station.clock import to_text
from station.errors import NotFoundError, StoreError
from station.store import audit
from station.store.database import Store


@dataclass(frozen=True, slots=True)
class StoredSnapshot:
    """A snapshot's row: where its file is and what it must hash to."""

    id: int
    session_id: str
    exam: str
    device: str
    path: Path
    pixels_sha256: str
    file_sha256: str


class SnapshotStore:
    """Durable, verifiable storage of a session's snapshots."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._media = store.path.parent / "media"

    def add(self, session_id: str, snapshot: Snapshot, actor: str) -> StoredSnapshot:
        """Write the PNG durably, then record it. Blocking: call from a worker thread."""
        info = snapshot.info
        name = f"{info.captured_at:%Y%m%dT%H%M%S%f}-{info.exam.value}-{info.sha256[:12]}.png"
        relative = Path(session_id) / name
        (self._media / session_id).mkdir(parents=True, exist_ok=True)
        path = save_snapshot(snapshot, self._media / relative)
        file_hash = hashlib.sha256(path.read_bytes()).hexdigest()
        with self._store.write() as conn:
            cursor = conn.execute(
                "INSERT INTO snapshots (session_id, exam, device, captured_at, width, height,"
                " pixels_sha256, path, file_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (session_id, info.exam.value, info.device_url, to_text(info.captured_at),
                 info.width, info.height, info.sha256, str(relative), file_hash),
            )
            row_id = int(cursor.lastrowid or 0)
            audit.append(conn, actor=actor, action="snapshot.recorded", entity="snapshots",
                         first_id=row_id, details={"session": session_id,
                                                   "exam": info.exam.value})
        return StoredSnapshot(row_id, session_id, info.exam.value, info.device_url, path,
                              info.sha256, file_hash)

    def for_session(self, session_id: str) -> list[StoredSnapshot]:
        """The session's snapshots, oldest first."""
        rows = self._store.conn.execute(
            "SELECT id, session_id, exam, device, path, pixels_sha256, file_sha256"
            " FROM snapshots WHERE session_id = ? ORDER BY id", (session_id,))
        return [StoredSnapshot(r[0], r[1], r[2], r[3], self._media / r[4], r[5], r[6])
                for r in rows]

    def load(self, snapshot_id: int) -> Snapshot:
        """Read a snapshot back; raises :class:`StoreError` if its file was altered."""
        row = self._store.conn.execute(
            "SELECT id, session_id, exam, device, path, pixels_sha256, file_sha256"
            " FROM snapshots WHERE id = ?", (snapshot_id,)).fetchone()
        if row is None:
            raise NotFoundError("snapshot.not_found", id=snapshot_id)
        path = self._media / row[4]
        if not path.exists() or hashlib.sha256(path.read_bytes()).hexdigest() != row[6]:
            raise StoreError("snapshot.altered", id=snapshot_id, path=str(path))
        return load_snapshot(path)
