"""A consistent copy of the live store, staged beside it, and the media it references.

SQLite's online backup API copies the database in one step, inside one read
transaction: in WAL mode the station keeps writing meanwhile and the copy is
the store exactly as of one commit. The copy is staged in the store's own
folder (the plain data already lives there; it never goes to /tmp or to the
backup medium unencrypted) and removed afterwards; a copy left by a killed
backup is removed by the next one.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from station.backup.errors import BackupError

STAGING_PREFIX = ".backup-staging-"
DB_NAME = "station.sqlite3"
_SQLITE_FULL = 13
_MEDIA_TABLES = ("snapshots", "clips")
COUNTED_TABLES = ("residents", "sessions", "measurements", "reports", "snapshots", "clips")


@dataclass
class StagedCopy:
    """The staged database copy and what goes into the archive with it."""

    folder: Path
    database: Path
    sha256: str
    schema_version: int
    counts: dict[str, int]
    media: list[str] = field(default_factory=list)  # relative to <store folder>/media
    missing: list[str] = field(default_factory=list)  # referenced but absent

    def remove(self) -> None:
        """Delete the staged plain copy."""
        shutil.rmtree(self.folder, ignore_errors=True)


def pid_alive(pid: int) -> bool:
    """True when a process with this id exists (ours included)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale(folder: Path, prefix: str) -> None:
    """Remove ``prefix<pid>…`` leftovers of killed processes (live ones are kept)."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if not entry.name.startswith(prefix):
            continue
        pid_text = entry.name[len(prefix):].split(".")[0].split("-")[0]
        if pid_text.isdigit() and pid_alive(int(pid_text)) and int(pid_text) != os.getpid():
            continue
        if entry.is_dir():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file, read in blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def table_counts(conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per clinical table, for the reports of backup and restore."""
    present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    return {table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            if table in present else 0 for table in COUNTED_TABLES}


def media_paths(conn: sqlite3.Connection) -> list[str]:
    """Media files (relative to ``media/``) the database references, in table order."""
    present = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    paths: list[str] = []
    for table in _MEDIA_TABLES:
        if table in present:
            paths += [row[0] for row in conn.execute(f"SELECT path FROM {table} ORDER BY id")]
    return paths


def stage_copy(store_path: Path) -> StagedCopy:
    """Copy the live store with the backup API into a private staging folder."""
    if not store_path.is_file():
        raise BackupError("backup.store_missing", path=str(store_path))
    remove_stale(store_path.parent, STAGING_PREFIX)
    folder = store_path.parent / f"{STAGING_PREFIX}{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700)
    target = folder / DB_NAME
    try:
        source = sqlite3.connect(store_path, timeout=30)
        try:
            copy = sqlite3.connect(target)
            try:
                source.backup(copy)  # pages=-1: one step, one read transaction
                # A standalone file (no -wal beside it) is what goes in the archive.
                copy.execute("PRAGMA journal_mode=DELETE")
                version = int(copy.execute("PRAGMA user_version").fetchone()[0])
                counts = table_counts(copy)
                media = media_paths(copy)
            finally:
                copy.close()
        finally:
            source.close()
    except sqlite3.Error as exc:
        shutil.rmtree(folder, ignore_errors=True)
        if getattr(exc, "sqlite_errorcode", 0) & 0xFF == _SQLITE_FULL:
            raise BackupError("backup.staging_disk_full", folder=str(store_path.parent)) from exc
        raise BackupError("backup.copy_failed", path=str(store_path), reason=str(exc)) from exc
    except OSError:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    media_root = store_path.parent / "media"
    staged = StagedCopy(folder, target, file_sha256(target), version, counts)
    for relative in media:
        (staged.media if (media_root / relative).is_file() else staged.missing).append(relative)
    return staged
