"""``create_backup``: staged copy → tar → gzip → encrypted records → atomic rename.

The archive is written under a temporary name beside its destination
(``.<name>.partial-<pid>``), fsynced, renamed over the final name and the
folder fsynced: the final name only ever holds a complete archive. A full
disk or any other failure removes the temporary file; one left by a killed
backup is removed by the next backup into the same folder.
"""

from __future__ import annotations

import errno
import gzip
import io
import json
import os
import tarfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from station.backup.container import (
    EncryptingWriter,
    Header,
    build_header,
    new_stream_fields,
)
from station.backup.errors import BackupError
from station.backup.keys import BackupKey, BackupSecret
from station.backup.staging import DB_NAME, StagedCopy, remove_stale, stage_copy

ARCHIVE_SUFFIX = ".stbk"
MANIFEST_NAME = "manifest.json"
_DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


@dataclass(frozen=True, slots=True)
class BackupResult:
    """What a backup wrote: where, how big, and what it holds."""

    path: Path
    size: int
    db_sha256: str
    schema_version: int
    counts: dict[str, int]
    media_files: int
    missing_media: list[str]


def default_archive_name(now: datetime) -> str:
    """``station-YYYYMMDD-HHMMSS.stbk`` in UTC."""
    return f"station-{now:%Y%m%d-%H%M%S}{ARCHIVE_SUFFIX}"


def partial_prefix(final: Path) -> str:
    """Temporary names of an archive being written: ``.<name>.partial-``."""
    return f".{final.name}.partial-"


def create_backup(store_path: Path, destination: Path, secret: BackupSecret, *,
                  now: datetime | None = None) -> BackupResult:
    """Write an encrypted backup of the store at ``store_path`` (which may be in use).

    ``destination`` is the archive's path, or an existing folder to put a
    dated archive in. Raises :class:`BackupError` (disk full, unreadable
    store, bad secret); no partial archive is left under the final name.
    """
    now = now or datetime.now(UTC)
    if destination.is_dir():
        destination = destination / default_archive_name(now)
    stream_fields, key = new_stream_fields(secret)  # a bad secret fails before any work
    destination.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_partials(destination.parent)
    staged = stage_copy(store_path)
    try:
        header = build_header({
            **stream_fields, "created_at": now.isoformat(timespec="seconds"),
            "schema_version": staged.schema_version, "db_sha256": staged.sha256,
            "producer": "teleconsultation-station",
        })
        temporary = destination.with_name(partial_prefix(destination) + str(os.getpid()))
        try:
            _write_archive(temporary, header, key, staged, store_path.parent / "media")
            os.replace(temporary, destination)
            _fsync_folder(destination.parent)
        except OSError as exc:
            temporary.unlink(missing_ok=True)
            if exc.errno in _DISK_FULL:
                raise BackupError("backup.disk_full", folder=str(destination.parent),
                                  needed=_megabytes(_plain_size(staged, store_path))) from exc
            raise BackupError("backup.write_failed", path=str(destination),
                              reason=exc.strerror or str(exc)) from exc
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    finally:
        staged.remove()
    return BackupResult(destination, destination.stat().st_size, staged.sha256,
                        staged.schema_version, staged.counts, len(staged.media),
                        list(staged.missing))


def _write_archive(temporary: Path, header: Header, key: BackupKey, staged: StagedCopy,
                   media_root: Path) -> None:
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(header.raw)
        writer = EncryptingWriter(out, key, bytes.fromhex(header.get_str("nonce_prefix")),
                                  header.aad)
        with gzip.GzipFile(fileobj=writer, mode="wb", compresslevel=6, mtime=0) as packed, \
                tarfile.open(fileobj=packed, mode="w|", format=tarfile.PAX_FORMAT) as tar:
            manifest = json.dumps({"media": staged.media, "missing_media": staged.missing,
                                   "counts": staged.counts}).encode("utf-8")
            _add_bytes(tar, MANIFEST_NAME, manifest)
            tar.add(staged.database, arcname=DB_NAME, recursive=False)
            for relative in staged.media:
                tar.add(media_root / relative, arcname=f"media/{relative}", recursive=False)
        writer.finish()
        out.flush()
        os.fsync(out.fileno())


def _remove_stale_partials(folder: Path) -> None:
    """Remove ``.<any archive>.partial-<pid>`` files of killed backups (dated names vary)."""
    for entry in list(folder.iterdir()):
        name, marker, _ = entry.name.rpartition(".partial-")
        if marker and name.startswith(".") and name.endswith(ARCHIVE_SUFFIX):
            remove_stale(folder, f"{name}{marker}")


def _add_bytes(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o600
    tar.addfile(info, io.BytesIO(data))


def _fsync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:  # the rename itself must survive a power cut
        os.fsync(fd)
    finally:
        os.close(fd)


def _plain_size(staged: StagedCopy, store_path: Path) -> int:
    media_root = store_path.parent / "media"
    return staged.database.stat().st_size + sum(
        (media_root / relative).stat().st_size for relative in staged.media)


def _megabytes(size: int) -> str:
    return f"{max(size / 1e6, 0.1):.1f}"
