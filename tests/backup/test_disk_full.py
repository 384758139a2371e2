"""Disk full, on the backup's destination and under the store itself (small tmpfs mounts)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.measurement import Kind, Measurement
from station.backup import BackupError, create_backup, restore_backup
from station.backup.staging import STAGING_PREFIX
from station.consent import ConsentCapacity, ConsentDecision
from station.errors import StoreError
from station.session import SessionEngine
from station.store import audit
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.residents import ResidentRegistry
from tests.backup.helpers import (
    free_bytes,
    passphrase_secret,
    populate,
    resize_tmpfs,
    tmpfs,
    tree_digest,
)
from tests.conftest import marie


def test_backup_to_a_full_disk_says_so_leaves_nothing_and_succeeds_once_space_returns(
        tmp_path: Path) -> None:
    home = tmp_path / "home"
    # ~3 MB of incompressible photos: more than the 2 MB destination holds.
    populate(home / "station.sqlite3", sessions=3, photos=2, side=400, clips=1)
    with tmpfs(tmp_path / "usb", "2m") as usb:
        with pytest.raises(BackupError) as full:
            create_backup(home / "station.sqlite3", usb / "station.stbk", passphrase_secret())
        message = str(full.value)
        assert message.startswith(f"disque plein : plus de place dans {usb} pour la sauvegarde")
        assert "Mo nécessaires" in message and "--to" in message
        assert list(usb.iterdir()) == []  # no partial archive
        assert not [p for p in home.iterdir() if p.name.startswith(STAGING_PREFIX)]
        resize_tmpfs(usb, "16m")  # space returns
        made = create_backup(home / "station.sqlite3", usb / "station.stbk", passphrase_secret())
        assert [p.name for p in usb.iterdir()] == ["station.stbk"]
        restore_backup(made.path, tmp_path / "restored", passphrase_secret())
    assert tree_digest(tmp_path / "restored" / "media") == tree_digest(home / "media")


def _spo2(value: int) -> Measurement:
    return Measurement(Kind.SPO2, float(value), "%", datetime.now(UTC), "sim://oximeter")


def test_store_on_a_full_disk_refuses_clearly_stays_sound_and_resumes(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "disk", "4m") as disk:
        store = Store.open(disk / "station.sqlite3")
        nurse = AccountDirectory(store).create("claire.m", "Claire Martin", "correct horse", "t")
        resident = ResidentRegistry(store).create(marie(), nurse.login)
        engine = SessionEngine.start(store, nurse)
        engine.identify(resident)
        engine.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)
        # Leave ~400 kB: the WAL fills it after a few hundred measurements.
        filler = disk / "filler.bin"
        filler.write_bytes(b"\0" * max(free_bytes(disk) - 400_000, 0))
        acknowledged: list[int] = []
        with pytest.raises(StoreError) as full:
            for value in range(100_000):
                acknowledged.extend(engine.add_measurements([_spo2(90 + value % 9)] * 20))
        assert full.value.code == "store.disk_full"
        assert str(full.value).startswith(f"disque plein : plus de place dans {disk}")
        assert len(acknowledged) >= 100
        filler.unlink()  # space returns
        assert store.integrity_check() == ["ok"]
        acknowledged.extend(engine.add_measurements([_spo2(95)] * 20))  # writing resumes
        store.close()
        with Store.open(disk / "station.sqlite3") as reopened:
            assert reopened.integrity_check() == ["ok"]
            assert audit.verify(reopened.conn).ok
            stored = {row[0] for row in reopened.conn.execute("SELECT id FROM measurements")}
        assert set(acknowledged) == stored  # every acknowledged one, and no half-written batch
