"""A backup restores exactly what was stored; wrong keys and altered bytes write nothing."""

from __future__ import annotations

import json
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from station.backup import BackupError, BackupSecret, create_backup, generate_key_file
from station.backup import restore_backup as restore
from station.backup.container import MAGIC
from station.backup.errors import TamperedArchiveError, WrongKeyError
from station.backup.staging import file_sha256
from station.store import audit
from station.store.database import Store
from station.store.schema import LATEST_VERSION
from tests.backup.helpers import counts, passphrase_secret, populate, tree_digest


@pytest.fixture
def home(tmp_path: Path) -> Path:
    populate(tmp_path / "home" / "station.sqlite3", sessions=3, photos=2, clips=2)
    return tmp_path / "home"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    generate_key_file(tmp_path / "ehpad.key")
    return tmp_path / "ehpad.key"


def test_key_file_backup_restores_database_and_media_exactly(home: Path, key_file: Path,
                                                              tmp_path: Path) -> None:
    secret = BackupSecret.from_key_file(key_file)
    (tmp_path / "out").mkdir()  # a folder: the archive gets a dated name inside
    gone = subprocess.Popen(["true"])
    gone.wait()
    stale = tmp_path / "out" / f".station-20260101-000000.stbk.partial-{gone.pid}"
    stale.write_bytes(b"left by a killed backup")
    made = create_backup(home / "station.sqlite3", tmp_path / "out", secret)
    assert made.path.parent == tmp_path / "out" and made.path.suffix == ".stbk"
    assert made.media_files == 12 and made.missing_media == []
    assert [p.name for p in (tmp_path / "out").iterdir()] == [made.path.name]
    restored = restore(made.path, tmp_path / "restored", secret)
    assert restored.counts == {"residents": 1, "sessions": 3, "measurements": 30, "reports": 0,
                               "snapshots": 6, "clips": 6}
    assert restored.media_files == 12 and restored.warnings == [] and restored.replaced is None
    assert tree_digest(tmp_path / "restored" / "media") == tree_digest(home / "media")
    assert file_sha256(tmp_path / "restored" / "station.sqlite3") == made.db_sha256
    assert counts(tmp_path / "restored" / "station.sqlite3") == counts(home / "station.sqlite3")
    with Store.open(tmp_path / "restored" / "station.sqlite3") as store:
        assert store.integrity_check() == ["ok"]
        assert audit.verify(store.conn).ok
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ehpad.key", "home", "out", "restored"]


def test_header_names_format_kdf_time_schema_and_database_hash(home: Path,
                                                                tmp_path: Path) -> None:
    made = create_backup(home / "station.sqlite3", tmp_path / "b.stbk", passphrase_secret())
    raw = made.path.read_bytes()
    assert raw.startswith(MAGIC)
    (length,) = struct.unpack(">I", raw[len(MAGIC):len(MAGIC) + 4])
    header = json.loads(raw[len(MAGIC) + 4:len(MAGIC) + 4 + length])
    assert header["format"] == 1 and header["cipher"] == "AES-256-GCM-STREAM"
    assert header["key"]["kind"] == "scrypt" and header["key"]["n"] == 1 << 12
    assert header["schema_version"] == LATEST_VERSION
    assert header["db_sha256"] == made.db_sha256 and header["created_at"]
    assert b"Dupont" not in raw and b"claire.m" not in raw  # nothing readable without the key
    assert restore(made.path, tmp_path / "r", passphrase_secret()).counts["sessions"] == 2 + 1


def test_wrong_passphrase_or_key_file_writes_nothing(home: Path, key_file: Path,
                                                     tmp_path: Path) -> None:
    made = create_backup(home / "station.sqlite3", tmp_path / "b.stbk", passphrase_secret())
    with pytest.raises(WrongKeyError) as wrong:
        restore(made.path, tmp_path / "r", passphrase_secret("une autre phrase de passe"))
    assert str(wrong.value) == ("clé ou phrase de passe incorrecte pour cette sauvegarde ;"
                                " rien n'a été écrit")
    with pytest.raises(WrongKeyError, match="chiffrée avec une phrase de passe"):
        restore(made.path, tmp_path / "r", BackupSecret.from_key_file(key_file))
    keyed = create_backup(home / "station.sqlite3", tmp_path / "k.stbk",
                          BackupSecret.from_key_file(key_file))
    generate_key_file(tmp_path / "other.key")
    with pytest.raises(WrongKeyError, match="mauvais fichier de clé"):
        restore(keyed.path, tmp_path / "r", BackupSecret.from_key_file(tmp_path / "other.key"))
    assert not (tmp_path / "r").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def _flip(path: Path, offset: int) -> bytes:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    return bytes(data)


def test_any_altered_byte_or_cut_is_refused_and_nothing_is_written(home: Path,
                                                                   tmp_path: Path) -> None:
    made = create_backup(home / "station.sqlite3", tmp_path / "b.stbk", passphrase_secret())
    original = made.path.read_bytes()
    header_end = len(MAGIC) + 4 + struct.unpack(">I", original[len(MAGIC):len(MAGIC) + 4])[0]
    created = original.index(b'"created_at": "') + len('"created_at": "') + 3
    altered = {
        "created_at in the header": _flip(made.path, created),
        "schema version in the header": original.replace(
            f'"schema_version": {LATEST_VERSION}'.encode(),
            f'"schema_version": {LATEST_VERSION - 1}'.encode()),
        "first record": _flip(made.path, header_end + 5),
        "middle record": _flip(made.path, header_end + (len(original) - header_end) // 2),
        "last tag byte": _flip(made.path, len(original) - 1),
        "cut at a record boundary": original[:header_end + (1 << 16) + 16],
        "cut inside a record": original[:len(original) - 100],
        "byte appended": original + b"\0",
    }
    for what, data in altered.items():
        made.path.write_bytes(data)
        with pytest.raises(TamperedArchiveError) as refused:
            restore(made.path, tmp_path / "r", passphrase_secret())
        assert "altérée, tronquée ou endommagée" in str(refused.value), what
        assert not (tmp_path / "r").exists(), what
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")], what
    made.path.write_bytes(original)
    assert restore(made.path, tmp_path / "r", passphrase_secret()).counts["measurements"] == 30


def test_not_an_archive_and_short_passphrase_are_named(home: Path, tmp_path: Path) -> None:
    (tmp_path / "x.stbk").write_bytes(b"PK\x03\x04 not ours")
    with pytest.raises(BackupError, match="n'est pas une sauvegarde de la station"):
        restore(tmp_path / "x.stbk", tmp_path / "r", passphrase_secret())
    with pytest.raises(BackupError, match="trop courte : 12 caractères"):
        create_backup(home / "station.sqlite3", tmp_path / "b.stbk", passphrase_secret("court"))
    assert not (tmp_path / "b.stbk").exists()


def test_restore_replaces_a_store_only_with_force_and_the_station_stopped(
        home: Path, tmp_path: Path) -> None:
    made = create_backup(home / "station.sqlite3", tmp_path / "b.stbk", passphrase_secret())
    target = tmp_path / "live"
    populate(target / "station.sqlite3", sessions=1, photos=0, clips=0)
    before = file_sha256(target / "station.sqlite3")
    with pytest.raises(BackupError, match="qu'avec --force"):
        restore(made.path, target, passphrase_secret())
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sqlite3, sys, time; c = sqlite3.connect(sys.argv[1]);"
         " c.execute('SELECT 1 FROM residents').fetchall(); print('open', flush=True);"
         " time.sleep(60)", str(target / "station.sqlite3")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        with pytest.raises(BackupError) as running:
            restore(made.path, target, passphrase_secret(), force=True)
        assert f"processus {holder.pid}" in str(running.value)
    finally:
        holder.send_signal(signal.SIGTERM)
        holder.wait(timeout=10)
    assert file_sha256(target / "station.sqlite3") == before  # untouched
    result = restore(made.path, target, passphrase_secret(), force=True)
    assert result.replaced is not None and result.replaced.parent == target
    assert counts(target / "station.sqlite3")["sessions"] == 2 + 1
    assert counts(result.replaced / "station.sqlite3")["sessions"] == 1
