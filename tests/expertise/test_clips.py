"""Stethoscope clips: lossless WAV round trip, SHA-256, append-only rows, report listing."""

from __future__ import annotations

import hashlib
import io
import sqlite3
import wave

import numpy as np
import pytest

from station.errors import StoreError, ValidationError
from station.people import NurseAccount
from station.report.content import gather_report
from station.store import audit
from station.store.clips import ClipStore, encode_wav, read_wav_info
from station.store.database import Store
from station.store.residents import Resident
from tests.conftest import FakeClock
from tests.expertise.conftest import ExpertiseSession, build_session, clip_wav


def test_a_recorded_clip_is_exactly_what_the_stethoscope_gave(store: Store,
                                                             session: ExpertiseSession) -> None:
    wav = clip_wav(0.5)
    with wave.open(io.BytesIO(wav)) as reader:  # a standard reader opens it
        assert (reader.getnchannels(), reader.getsampwidth(), reader.getframerate()) == \
            (1, 2, 48_000)
        assert reader.getnframes() == 24_000
        samples = np.frombuffer(reader.readframes(24_000), dtype="<i2")
    assert np.abs(samples).max() > 1000  # heart sounds, not silence
    stored = ClipStore(store).add(session.engine.id, wav, site="foyer_aortique",
                                  device="sim://stethoscope", actor="claire.m")
    assert stored.file_sha256 == hashlib.sha256(wav).hexdigest()
    assert (stored.sample_format, stored.sample_rate_hz, stored.frame_count) == \
        ("pcm16", 48_000, 24_000)
    assert stored.duration_s == pytest.approx(0.5)
    assert stored.path.read_bytes() == wav
    assert ClipStore(store).read(stored.id) == wav
    assert stored.relative_path.startswith(f"{session.engine.id}/")


def test_float32_clips_stay_float32(store: Store, session: ExpertiseSession) -> None:
    wav = clip_wav(0.2, dtype="float32")
    info = read_wav_info(wav)
    assert (info.sample_format, info.frame_count) == ("float32", 9600)
    stored = ClipStore(store).add(session.engine.id, wav, site="foyer_mitral",
                                  device="sim://stethoscope", actor="claire.m")
    data = ClipStore(store).read(stored.id)
    assert np.frombuffer(data[-9600 * 4:], dtype="<f4").dtype == np.float32
    assert data == wav


def test_bad_files_and_sites_are_refused_before_anything_is_written(
        store: Store, session: ExpertiseSession) -> None:
    clips = ClipStore(store)
    before = len(clips.for_session(session.engine.id))
    stereo = io.BytesIO()
    with wave.open(stereo, "wb") as writer:
        writer.setnchannels(2)
        writer.setsampwidth(2)
        writer.setframerate(48_000)
        writer.writeframes(b"\0\0" * 200)
    with pytest.raises(ValidationError) as error:
        clips.add(session.engine.id, stereo.getvalue(), site="foyer_mitral", device="x",
                  actor="claire.m")
    assert "mono" in error.value.message
    with pytest.raises(ValidationError):
        clips.add(session.engine.id, b"RIFF\0\0\0\0WAVEjunk", site="foyer_mitral", device="x",
                  actor="claire.m")
    with pytest.raises(ValidationError):
        clips.add(session.engine.id, clip_wav(0.1), site="genou", device="x", actor="claire.m")
    assert len(clips.for_session(session.engine.id)) == before


def test_clip_rows_are_append_only_and_audited(store: Store, session: ExpertiseSession) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="never rewritten"), store.write() as conn:
        conn.execute("UPDATE clips SET site = 'autre'")
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"), store.write() as conn:
        conn.execute("DELETE FROM clips")
    assert audit.verify(store.conn).ok


def test_an_altered_clip_file_is_refused(store: Store, session: ExpertiseSession) -> None:
    clip = ClipStore(store).get(session.clip_ids[0])
    data = bytearray(clip.path.read_bytes())
    data[-1] ^= 0xFF
    clip.path.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="modifié"):
        ClipStore(store).read(clip.id)


def test_the_report_lists_clips_with_their_site(store: Store, nurse: NurseAccount,
                                               resident: Resident, clock: FakeClock) -> None:
    built = build_session(store, nurse, resident, clock)
    content = gather_report(store, built.engine.id)
    sounds = [r for r in content.recordings if r.is_sound]
    assert [(r.clip_id, r.site) for r in sounds] == [
        (built.clip_ids[0], "foyer_mitral"), (built.clip_ids[1], "poumon_droit_bas")]
    assert sounds[0].samples_sha256 == ClipStore(store).get(built.clip_ids[0]).file_sha256


def test_encode_wav_refuses_what_is_not_mono() -> None:
    with pytest.raises(ValueError, match="1-D"):
        encode_wav(np.zeros((10, 2), dtype=np.int16), 48_000)
