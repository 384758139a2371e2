"""Stethoscope clips: recorded heart and lung sounds kept as lossless WAV files.

A clip is the sound of one auscultation site (foyer aortique, mitral...,
or a lung field) for a few seconds, exactly as the stethoscope delivered it:
16-bit PCM when the input gives integers, 32-bit float otherwise, mono, at
the input's own sample rate (48 kHz). Nothing is resampled or compressed, so
what the expert and the report play is what the nurse heard.

Same approach as :mod:`station.store.snapshots`: the file is written under
``<store folder>/media/<session>/``, fsynced and renamed into place, and only
then its row (format, length, site, who recorded it, the file's SHA-256) is
committed and audited. The row is append-only; reading a clip back checks
the file against the recorded hash, so an altered sound is reported, never
played as is.
"""

from __future__ import annotations

import hashlib
import os
import struct
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from devices.audio.block import AudioSource
from station.clock import Clock, from_text, to_text, utc_now
from station.errors import NotFoundError, StoreError, ValidationError
from station.i18n import catalog
from station.store import audit
from station.store.database import Store

_PCM, _IEEE_FLOAT = 1, 3
_FORMATS = {"pcm16": (_PCM, 16), "float32": (_IEEE_FLOAT, 32)}
MAX_CLIP_SECONDS = 120.0

# Auscultation sites: the four cardiac foci and the lung fields a nurse is
# asked for. Labels are in the catalogs (``expertise.site.<code>``).
CLIP_SITES = (
    "foyer_aortique", "foyer_pulmonaire", "foyer_tricuspide", "foyer_mitral",
    "poumon_droit_haut", "poumon_droit_bas", "poumon_gauche_haut", "poumon_gauche_bas",
    "poumon_posterieur", "autre",
)


@dataclass(frozen=True, slots=True)
class WavInfo:
    """What a WAV file holds: format, rate and length (always mono here)."""

    sample_format: str  # "pcm16" or "float32"
    sample_rate_hz: int
    frame_count: int

    @property
    def duration_s(self) -> float:
        """Length in seconds."""
        return self.frame_count / self.sample_rate_hz


def encode_wav(samples: npt.NDArray[Any], sample_rate_hz: int) -> bytes:
    """Mono samples as a WAV file: int16 → 16-bit PCM, float32 → 32-bit IEEE float."""
    if samples.ndim != 1 or samples.dtype.name not in ("int16", "float32"):
        raise ValueError(f"a clip is 1-D int16 or float32, not {samples.dtype.name}"
                         f" {samples.shape}")
    fmt = "pcm16" if samples.dtype.name == "int16" else "float32"
    tag, bits = _FORMATS[fmt]
    data = np.ascontiguousarray(samples, dtype="<i2" if tag == _PCM else "<f4").tobytes()
    align = bits // 8
    fmt_body = struct.pack("<HHIIHH", tag, 1, sample_rate_hz, sample_rate_hz * align, align,
                           bits)
    chunks = [b"fmt ", struct.pack("<I", len(fmt_body)), fmt_body]
    if tag == _IEEE_FLOAT:  # non-PCM WAV carries a cbSize and a fact chunk
        chunks = [b"fmt ", struct.pack("<I", 18), fmt_body + b"\0\0",
                  b"fact", struct.pack("<II", 4, len(samples))]
    chunks += [b"data", struct.pack("<I", len(data)), data]
    body = b"WAVE" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body


def read_wav_info(data: bytes) -> WavInfo:
    """Check a WAV file (mono 16-bit PCM or 32-bit float) and describe it.

    Raises :class:`ValidationError` (field ``clip``) naming what is wrong.
    """
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WAVE":
        raise ValidationError("clip", "expertise.clip.not_wav")
    chunks: dict[bytes, bytes] = {}
    offset = 12
    while offset + 8 <= len(data):
        name, size = data[offset:offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body = data[offset + 8:offset + 8 + size]
        if len(body) != size:
            raise ValidationError("clip", "expertise.clip.truncated", offset=offset)
        chunks.setdefault(name, body)
        offset += 8 + size + (size & 1)
    fmt, samples = chunks.get(b"fmt "), chunks.get(b"data")
    if fmt is None or samples is None or len(fmt) < 16:
        raise ValidationError("clip", "expertise.clip.not_wav")
    tag, channels, rate, _, align, bits = struct.unpack_from("<HHIIHH", fmt)
    found = next((name for name, spec in _FORMATS.items() if spec == (tag, bits)), None)
    if found is None or channels != 1 or align != bits // 8 or rate <= 0:
        raise ValidationError("clip", "expertise.clip.format", channels=channels, bits=bits)
    frames = len(samples) // align
    if frames == 0 or len(samples) % align:
        raise ValidationError("clip", "expertise.clip.empty")
    return WavInfo(found, rate, frames)


@dataclass(frozen=True, slots=True)
class StoredClip:
    """A clip's row: where its file is, what it holds and what it must hash to."""

    id: int
    session_id: str
    site: str
    device: str
    recorded_at: datetime
    recorded_by: str
    sample_rate_hz: int
    sample_format: str
    frame_count: int
    duration_s: float
    path: Path
    relative_path: str
    size: int
    file_sha256: str


_COLUMNS = ("id, session_id, site, device, recorded_at, recorded_by, sample_rate_hz,"
            " sample_format, frame_count, duration_s, path, size, file_sha256")


def _write_durably(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".partial")
    with temporary.open("wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    os.replace(temporary, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:  # make the rename itself survive a power cut
        os.fsync(directory)
    finally:
        os.close(directory)


class ClipStore:
    """Durable, verifiable storage of a session's stethoscope clips."""

    def __init__(self, store: Store, *, clock: Clock = utc_now) -> None:
        self._store = store
        self._media = store.path.parent / "media"
        self._clock = clock

    def add(self, session_id: str, wav: bytes, *, site: str, device: str, actor: str,
            recorded_at: datetime | None = None) -> StoredClip:
        """Write the WAV durably, then record it. Blocking: call from a worker thread.

        ``site`` is one of :data:`CLIP_SITES`; ``actor`` is who recorded it.
        Raises :class:`ValidationError` for an unknown site or a file that is
        not a mono 16-bit PCM / 32-bit float WAV of at most two minutes.
        """
        if site not in CLIP_SITES:
            raise ValidationError("clip_site", "expertise.clip.site",
                                  allowed=", ".join(CLIP_SITES))
        info = read_wav_info(wav)
        if info.duration_s > MAX_CLIP_SECONDS:
            raise ValidationError("clip", "expertise.clip.too_long",
                                  seconds=round(info.duration_s), limit=round(MAX_CLIP_SECONDS))
        when = recorded_at or self._clock()
        digest = hashlib.sha256(wav).hexdigest()
        relative = f"{session_id}/{when:%Y%m%dT%H%M%S%f}-clip-{site}-{digest[:12]}.wav"
        path = self._media / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        _write_durably(path, wav)
        values = (session_id, site, device, to_text(when), actor, info.sample_rate_hz,
                  info.sample_format, info.frame_count, info.duration_s, relative, len(wav),
                  digest)
        with self._store.write() as conn:
            cursor = conn.execute(
                "INSERT INTO clips (session_id, site, device, recorded_at, recorded_by,"
                " sample_rate_hz, sample_format, frame_count, duration_s, path, size,"
                " file_sha256) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", values)
            row_id = int(cursor.lastrowid or 0)
            audit.append(conn, actor=actor, action="clip.recorded", entity="clips",
                         first_id=row_id, time=to_text(when),
                         details={"session": session_id, "site": site, "sha256": digest})
        return self.get(row_id)

    def get(self, clip_id: int) -> StoredClip:
        """One clip's row, or :class:`NotFoundError`."""
        row = self._store.conn.execute(f"SELECT {_COLUMNS} FROM clips WHERE id = ?",
                                       (clip_id,)).fetchone()
        if row is None:
            raise NotFoundError("expertise.clip.not_found", id=clip_id)
        return self._clip(row)

    def for_session(self, session_id: str) -> list[StoredClip]:
        """The session's clips, oldest first."""
        rows = self._store.conn.execute(
            f"SELECT {_COLUMNS} FROM clips WHERE session_id = ? ORDER BY id", (session_id,))
        return [self._clip(row) for row in rows]

    def read(self, clip_id: int) -> bytes:
        """The clip's WAV bytes; raises :class:`StoreError` if the file was altered."""
        clip = self.get(clip_id)
        data = clip.path.read_bytes() if clip.path.exists() else b""
        if hashlib.sha256(data).hexdigest() != clip.file_sha256:
            raise StoreError("expertise.clip.altered", id=clip_id, path=str(clip.path))
        return data

    def _clip(self, row: tuple[object, ...]) -> StoredClip:
        (clip_id, session_id, site, device, recorded_at, recorded_by, rate, fmt, frames,
         duration, relative, size, digest) = row
        return StoredClip(
            id=int(str(clip_id)), session_id=str(session_id), site=str(site),
            device=str(device), recorded_at=from_text(str(recorded_at)),
            recorded_by=str(recorded_by), sample_rate_hz=int(str(rate)),
            sample_format=str(fmt), frame_count=int(str(frames)),
            duration_s=float(str(duration)), path=self._media / str(relative),
            relative_path=str(relative), size=int(str(size)), file_sha256=str(digest))


async def record_clip(stethoscope: AudioSource, seconds: float) -> bytes:
    """Capture ``seconds`` of sound from a stethoscope and return it as WAV bytes.

    Reads the source's 20 ms blocks through its ordinary ``read()`` (a real
    input or the simulator). A gap (blocks lost by the input, counted by
    their index) is filled with silence of the same length, so the sounds
    keep their true timing. Raises the source's
    :class:`~devices.errors.ConnectionLostError` if the sound stops, and
    :class:`ValidationError` for a length out of (0, 120] s.
    """
    if not 0 < seconds <= MAX_CLIP_SECONDS:
        raise ValidationError("clip", "expertise.clip.too_long", seconds=seconds,
                              limit=round(MAX_CLIP_SECONDS))
    parts: list[npt.NDArray[Any]] = []
    rate, wanted, got = 0, 0, 0
    first_index: int | None = None
    while got < wanted or first_index is None:
        block = await stethoscope.read()
        if block is None:
            break
        if first_index is None:
            first_index, rate = block.index, block.sample_rate
            wanted = round(seconds * rate)
        missing = block.pts - first_index * len(block.samples) - got
        if missing > 0:
            parts.append(np.zeros(missing, dtype=block.samples.dtype))
            got += missing
        parts.append(block.samples)
        got += len(block.samples)
    if not parts:
        raise ValidationError("clip", "expertise.clip.empty")
    samples = np.concatenate(parts)[:wanted]
    return encode_wav(samples, rate)


def site_label(site: str, language: str = "fr") -> str:
    """How a site reads in ``language`` (the report is French whatever the screen says)."""
    return catalog(language).get(f"expertise.site.{site}") or site
