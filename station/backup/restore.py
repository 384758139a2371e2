"""``restore_backup``: key → authenticated extraction → checks → files moved into place.

Order matters: the key is checked against the header before anything is
written; records are decrypted and authenticated into a staging folder on
the target's file system; the database's SHA-256, ``PRAGMA integrity_check``
and the audit chain are checked; only then are the files renamed into place
(the database last). Any failure removes the staging folder and leaves the
target as it was.
"""

from __future__ import annotations

import errno
import gzip
import os
import shutil
import sqlite3
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO

from station.backup.container import DecryptingReader, Header, open_stream, read_header
from station.backup.create import MANIFEST_NAME
from station.backup.errors import BackupError, TamperedArchiveError
from station.backup.keys import BackupSecret
from station.backup.liveness import processes_using
from station.backup.staging import DB_NAME, file_sha256, media_paths, remove_stale, table_counts
from station.i18n import tr
from station.store import audit
from station.store.schema import LATEST_VERSION

RESTORE_PREFIX = ".restore-"
_DB_FILES = (DB_NAME, f"{DB_NAME}-wal", f"{DB_NAME}-shm")


@dataclass(frozen=True, slots=True)
class RestoreResult:
    """What was restored, from which backup, and where the replaced files went."""

    folder: Path
    created_at: str
    schema_version: int
    counts: dict[str, int]
    audit_entries: int
    media_files: int
    replaced: Path | None = None
    warnings: list[str] = field(default_factory=list)


def restore_backup(archive: Path, target: Path, secret: BackupSecret, *,
                   force: bool = False,
                   authorize: Callable[[Path], None] | None = None) -> RestoreResult:
    """Restore ``archive`` into the folder ``target`` (a station home).

    Refuses to replace an existing store unless ``force`` and no process has
    it open. ``authorize``, if given, is called with the verified database
    (still in staging) before anything is moved into place: it raises to
    refuse, e.g. when the person restoring is not an admin of that station.
    Raises :class:`BackupError` (wrong key, tampered archive, failed check);
    on any failure nothing in ``target`` has changed.
    """
    try:
        source = archive.open("rb")
    except OSError as exc:
        raise BackupError("backup.archive_unreadable", path=str(archive),
                          reason=exc.strerror or str(exc)) from exc
    with source:
        header = read_header(source, str(archive))
        key, prefix = open_stream(header, secret)
        existing = _has_store(target)
        if existing and not force:
            raise BackupError("restore.would_replace", folder=str(target))
        if existing:
            users = processes_using([target / name for name in _DB_FILES])
            if users:
                raise BackupError("restore.station_running", folder=str(target),
                                  pids=", ".join(map(str, users)))
        staging = _staging_folder(target)
        try:
            reader = DecryptingReader(source, key, prefix, header.aad, str(archive))
            _extract(reader, staging, str(archive))
            result = _check(staging, header, str(archive))
            if authorize is not None:
                authorize(staging / DB_NAME)
            replaced = _move_into_place(staging, target, existing)
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT):
                raise BackupError("restore.disk_full", folder=str(target)) from exc
            raise BackupError("restore.write_failed", folder=str(target),
                              reason=exc.strerror or str(exc)) from exc
        finally:
            shutil.rmtree(staging, ignore_errors=True)
    return RestoreResult(target, result.created_at, result.schema_version, result.counts,
                         result.audit_entries, result.media_files, replaced, result.warnings)


def _has_store(target: Path) -> bool:
    return (target / DB_NAME).exists() or (target / "media").exists()


def _staging_folder(target: Path) -> Path:
    # On the target's own file system, so that moving into place is a rename.
    parent = target if target.is_dir() else target.parent
    prefix = RESTORE_PREFIX if target.is_dir() else f".{target.name}{RESTORE_PREFIX}"
    parent.mkdir(parents=True, exist_ok=True)
    remove_stale(parent, prefix)
    folder = parent / f"{prefix}{os.getpid()}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(mode=0o700)
    return folder


def _member_path(member: tarfile.TarInfo, name: str) -> PurePosixPath | None:
    """The member's safe relative path; None for folders. Refuses anything unexpected."""
    path = PurePosixPath(member.name)
    allowed = str(path) in (DB_NAME, MANIFEST_NAME) or (
        len(path.parts) > 1 and path.parts[0] == "media")
    if path.is_absolute() or ".." in path.parts or not allowed:
        raise BackupError("restore.unexpected_member", path=name, member=member.name)
    if member.isdir():
        return None
    if not member.isfile():
        raise BackupError("restore.unexpected_member", path=name, member=member.name)
    return path


def _extract(reader: DecryptingReader, staging: Path, name: str) -> None:
    try:
        with gzip.GzipFile(fileobj=reader, mode="rb") as packed, \
                tarfile.open(fileobj=packed, mode="r|") as tar:
            for member in tar:
                relative = _member_path(member, name)
                if relative is None:
                    continue
                content = tar.extractfile(member)
                assert content is not None  # a regular file always has content
                _write_file(staging.joinpath(*relative.parts), content)
        reader.drain()
    except (tarfile.TarError, zlib.error, EOFError, gzip.BadGzipFile) as exc:
        # Authenticated bytes that do not unpack: not our archive format.
        raise TamperedArchiveError("backup.tampered", path=name) from exc


def _write_file(path: Path, content: IO[bytes]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        shutil.copyfileobj(content, out, 1 << 20)
        out.flush()
        os.fsync(out.fileno())


@dataclass
class _Checked:
    created_at: str
    schema_version: int
    counts: dict[str, int]
    audit_entries: int
    media_files: int
    warnings: list[str]


def _check(staging: Path, header: Header, name: str) -> _Checked:
    database = staging / DB_NAME
    if not database.is_file() or file_sha256(database) != header.get_str("db_sha256"):
        raise TamperedArchiveError("backup.tampered", path=name)
    conn = sqlite3.connect(database)
    try:
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version > LATEST_VERSION:
            raise BackupError("restore.schema_too_new", found=version, known=LATEST_VERSION)
        integrity = [row[0] for row in conn.execute("PRAGMA integrity_check")]
        if integrity != ["ok"]:
            raise BackupError("restore.integrity", detail="; ".join(integrity[:5]))
        trail = audit.verify(conn)
        if not trail.ok:
            raise BackupError("restore.audit_broken", count=len(trail.problems),
                              first=trail.problems[0])
        counts = table_counts(conn)
        warnings, media = _check_media(conn, staging / "media")
    finally:
        conn.close()
    return _Checked(header.get_str("created_at"), version, counts, trail.entries, media,
                    warnings)


def _check_media(conn: sqlite3.Connection, media_root: Path) -> tuple[list[str], int]:
    """Each referenced file present with its recorded hash; problems become warnings."""
    expected: dict[str, str] = {}
    for table in ("snapshots", "clips"):
        if table in {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}:
            expected.update(conn.execute(f"SELECT path, file_sha256 FROM {table}").fetchall())
    warnings: list[str] = []
    present = 0
    for relative in media_paths(conn):
        path = media_root / relative
        if not path.is_file():
            warnings.append(tr("restore.media_missing", path=relative))
        elif file_sha256(path) != expected[relative]:
            warnings.append(tr("restore.media_altered", path=relative))
        else:
            present += 1
    return warnings, present


def _move_into_place(staging: Path, target: Path, existing: bool) -> Path | None:
    (staging / MANIFEST_NAME).unlink(missing_ok=True)
    if staging.parent != target:  # the target did not exist: one rename does it all
        os.rename(staging, target)
        _fsync(target.parent)
        return None
    replaced = None
    if existing:  # keep the replaced store, WAL included, beside the restored one
        replaced = target / f"replaced-{datetime.now(UTC):%Y%m%d-%H%M%S}"
        replaced.mkdir()
        for name in (*_DB_FILES, "media"):
            if (target / name).exists():
                os.rename(target / name, replaced / name)
    if (staging / "media").exists():
        os.rename(staging / "media", target / "media")
    os.rename(staging / DB_NAME, target / DB_NAME)  # last: the restore is complete
    _fsync(target)
    return replaced


def _fsync(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
