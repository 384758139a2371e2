"""Building real stores for the backup tests: sessions, vitals, photos, clips."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from devices.camera.frame import ExamKind
from devices.camera.snapshot import Snapshot
from devices.measurement import Kind, Measurement
from station.backup import BackupSecret, ScryptParams
from station.consent import ConsentCapacity, ConsentDecision
from station.session import SessionEngine
from station.store.accounts import AccountDirectory
from station.store.clips import ClipStore, encode_wav
from station.store.database import Store
from station.store.residents import ResidentRegistry
from station.store.snapshots import SnapshotStore
from tests.conftest import marie

# Cheap scrypt for tests (the CLI uses n=2^17); the code path is the same.
FAST_SCRYPT = ScryptParams(n=1 << 12, r=8, p=1)
PASSPHRASE = "cheval correct agrafe batterie"


def passphrase_secret(text: str = PASSPHRASE) -> BackupSecret:
    """A passphrase secret with test-speed scrypt."""
    return BackupSecret(passphrase=text, scrypt=FAST_SCRYPT)


def populate(path: Path, *, sessions: int = 2, photos: int = 1, side: int = 120,
             clips: int = 1, seed: int = 0) -> None:
    """A store with a nurse, a resident, and finished sessions with vitals and media.

    Photos are random noise, so PNG cannot shrink them: ``side`` sets their size.
    """
    rng = np.random.default_rng(seed)
    with Store.open(path) as store:
        nurse = AccountDirectory(store).create("claire.m", "Claire Martin", "correct horse",
                                               "test")
        resident = ResidentRegistry(store).create(marie(), nurse.login)
        start = datetime.now(UTC)
        for number in range(sessions):
            engine = SessionEngine.start(store, nurse)
            engine.identify(resident)
            engine.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)
            engine.add_measurements([
                Measurement(Kind.SPO2, float(90 + i % 8), "%",
                            start + timedelta(seconds=i), "sim://oximeter")
                for i in range(10)])
            for i in range(photos):
                image = rng.integers(0, 255, (side, side, 3), dtype=np.uint8)
                when = start + timedelta(minutes=number, seconds=i)
                SnapshotStore(store).add(engine.id, Snapshot.create(
                    image, "sim://dermatoscope", ExamKind.DERMATOSCOPE, when), nurse.login)
            for i in range(clips):
                samples = rng.integers(-3000, 3000, 4800, dtype=np.int16)
                ClipStore(store).add(engine.id, encode_wav(samples, 48000), site="foyer_mitral",
                                     device="sim://stethoscope", actor=nurse.login,
                                     recorded_at=start + timedelta(minutes=number,
                                                                   milliseconds=i))
            engine.finish_examination()


def tree_digest(folder: Path) -> dict[str, str]:
    """SHA-256 of every file under ``folder``, by relative path."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def counts(path: Path) -> dict[str, int]:
    """Rows of the clinical tables of a store file."""
    with Store.open(path) as store:
        return {table: store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("residents", "sessions", "measurements", "snapshots", "clips")}


@contextmanager
def tmpfs(folder: Path, size: str) -> Iterator[Path]:
    """A small tmpfs mounted on ``folder`` (skips the test if mounting is refused)."""
    import pytest  # noqa: PLC0415

    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                              str(folder)], capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs on {folder} (needs root or CAP_SYS_ADMIN):"
                    f" {mounted.stderr.strip()}")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True, check=False).returncode:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=False)


def resize_tmpfs(folder: Path, size: str) -> None:
    """Give a mounted tmpfs more (or less) room: space returns."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(folder)], check=True)


def free_bytes(folder: Path) -> int:
    """Bytes still free on the file system holding ``folder``."""
    stat = os.statvfs(folder)
    return stat.f_bavail * stat.f_frsize
