"""The material of a request as the expert sees it: who, photos, clips, measurements.

Only what the nurse attached is read, always from the store (a photo or a
clip whose file no longer matches its recorded SHA-256 is refused, never
served as is).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date, datetime

from devices.measurement import Kind, Measurement, Quality, display_unit
from station.errors import NotFoundError, StoreError
from station.expertise.model import Request
from station.report.codes import KIND_LABELS, LOINC_BY_KIND
from station.store.clips import ClipStore, StoredClip
from station.store.database import Store
from station.store.measurements import from_microseconds
from station.store.residents import ResidentRegistry
from station.store.sessions import SessionRecords


@dataclass(frozen=True, slots=True)
class Patient:
    """Enough to identify the resident (the expert answers about one person)."""

    display_name: str
    birth_date: date
    sex: str


@dataclass(frozen=True, slots=True)
class Photo:
    """A full-resolution exam still attached to the request."""

    id: int
    exam: str
    device: str
    captured_at: datetime
    width: int
    height: int
    file_sha256: str
    relative_path: str


@dataclass(frozen=True, slots=True)
class MeasuredValue:
    """One measurement as shown to the expert: label, value, unit, time, flags."""

    id: int
    kind: str
    label: str
    value: str
    unit: str
    time: datetime
    device: str
    quality: tuple[str, ...]
    loinc: str | None


@dataclass(frozen=True, slots=True)
class Material:
    """Everything the expert may see for one request."""

    patient: Patient
    photos: tuple[Photo, ...]
    clips: tuple[StoredClip, ...]
    measurements: tuple[MeasuredValue, ...]


def _marks(ids: tuple[int, ...]) -> str:
    return ", ".join("?" * len(ids))


def session_items(store: Store, session_id: str) -> dict[str, list[int]]:
    """Ids of the session's photos, clips and measurements (what may be attached)."""
    conn = store.conn
    return {
        "photo": [r[0] for r in conn.execute(
            "SELECT id FROM snapshots WHERE session_id = ? ORDER BY id", (session_id,))],
        "clip": [r[0] for r in conn.execute(
            "SELECT id FROM clips WHERE session_id = ? ORDER BY id", (session_id,))],
        "measurement": [r[0] for r in conn.execute(
            "SELECT id FROM measurements WHERE session_id = ? ORDER BY id", (session_id,))],
    }


def load_material(store: Store, request: Request) -> Material:
    """The request's material, in the order the nurse chose it."""
    conn = store.conn
    row = SessionRecords(store).get(request.session_id)
    if row.resident_id is None:
        raise NotFoundError("expertise.no_resident", session=request.session_id)
    identity = ResidentRegistry(store).get(row.resident_id).identity
    patient = Patient(identity.display_name(), identity.birth_date, identity.sex.value)
    photos = tuple(
        Photo(r[0], r[1], r[2], datetime.fromisoformat(r[3]), r[4], r[5], r[6], r[7])
        for r in conn.execute(
            "SELECT id, exam, device, captured_at, width, height, file_sha256, path"
            f" FROM snapshots WHERE id IN ({_marks(request.photos)}) ORDER BY id",
            request.photos))
    clips = ClipStore(store)
    values = []
    for r in conn.execute(
            "SELECT id, kind, value, unit, time_us, device, quality, decimals FROM measurements"
            f" WHERE id IN ({_marks(request.measurements)}) ORDER BY time_us, id",
            request.measurements):
        kind = Kind(r[1])
        flags = frozenset(Quality(q) for q in str(r[6]).split(",") if q)
        measured = Measurement(kind, math.nan if r[2] is None else float(r[2]), r[3],
                               from_microseconds(r[4]), r[5], flags, r[7])
        codes = LOINC_BY_KIND.get(kind, ())
        values.append(MeasuredValue(
            r[0], kind.value, KIND_LABELS.get(kind.value, kind.value),
            measured.display_value() if measured.has_value else "—", display_unit(r[3]),
            measured.time, r[5], tuple(sorted(q.value for q in flags)),
            codes[0].code if codes else None))
    return Material(patient, photos, tuple(clips.get(i) for i in request.clips), tuple(values))


def photo_bytes(store: Store, request: Request, photo_id: int) -> bytes:
    """The stored PNG of one of the request's photos, hash checked."""
    if photo_id not in request.photos:
        raise NotFoundError("expertise.item_not_found", id=photo_id)
    row = store.conn.execute("SELECT path, file_sha256 FROM snapshots WHERE id = ?",
                             (photo_id,)).fetchone()
    path = store.path.parent / "media" / row[0]
    data = path.read_bytes() if path.exists() else b""
    if hashlib.sha256(data).hexdigest() != row[1]:
        raise StoreError("snapshot.altered", id=photo_id, path=str(path))
    return data


def clip_bytes(store: Store, request: Request, clip_id: int) -> bytes:
    """The stored WAV of one of the request's clips, hash checked."""
    if clip_id not in request.clips:
        raise NotFoundError("expertise.item_not_found", id=clip_id)
    return ClipStore(store).read(clip_id)
