"""``station backup`` (and ``backup keygen``) and ``station restore``.

The secret is a key file (``--key-file``), or a passphrase from
``--passphrase-stdin``, ``STATION_BACKUP_PASSPHRASE`` or typed at a hidden
prompt (twice when making a backup).
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from pathlib import Path
from typing import Any

from station.backup import (
    BackupError,
    BackupSecret,
    RestoreResult,
    create_backup,
    generate_key_file,
    restore_backup,
)
from station.cli.common import cli_actor
from station.i18n import format_number, tr
from station.paths import STORE_FILENAME, default_store_path, station_home
from station.store import audit
from station.store.database import Store

PASSPHRASE_ENV = "STATION_BACKUP_PASSPHRASE"  # noqa: S105 - a variable name, no secret


def register(commands: Any) -> None:
    """Add the ``backup`` and ``restore`` commands."""
    backup = commands.add_parser("backup", help=tr("cli.backup.help"))
    backup.add_argument("--to", metavar="FILE", help=tr("cli.backup.to"))
    _secret_options(backup)
    backup.set_defaults(handler=run_backup)
    sub = backup.add_subparsers(dest="backup_command", required=False, metavar="keygen")
    keygen = sub.add_parser("keygen", help=tr("cli.backup.keygen.help"))
    keygen.add_argument("out", metavar="FILE", help=tr("cli.backup.keygen.out"))
    keygen.set_defaults(handler=run_keygen)
    restore = commands.add_parser("restore", help=tr("cli.restore.help"))
    restore.add_argument("archive", metavar="FILE", help=tr("cli.restore.file"))
    restore.add_argument("--to", metavar="DIR", required=True, help=tr("cli.restore.to"))
    restore.add_argument("--force", action="store_true", help=tr("cli.restore.force"))
    _secret_options(restore)
    restore.set_defaults(handler=run_restore)


def _secret_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--key-file", metavar="FILE", help=tr("cli.backup.key_file"))
    parser.add_argument("--passphrase-stdin", action="store_true",
                        help=tr("cli.backup.passphrase_stdin"))


def read_secret(args: argparse.Namespace, *, confirm: bool) -> BackupSecret:
    """The secret named on the command line, in the environment, or typed."""
    if args.key_file:
        return BackupSecret.from_key_file(args.key_file)
    if args.passphrase_stdin:
        return BackupSecret(passphrase=sys.stdin.readline().rstrip("\r\n"))
    if os.environ.get(PASSPHRASE_ENV):
        return BackupSecret(passphrase=os.environ[PASSPHRASE_ENV])
    if not sys.stdin.isatty():
        raise BackupError("backup.no_secret")
    typed = getpass.getpass(tr("cli.backup.prompt"))
    if confirm and getpass.getpass(tr("cli.backup.prompt_again")) != typed:
        raise BackupError("backup.passphrase_mismatch")
    return BackupSecret(passphrase=typed)


def run_backup(args: argparse.Namespace) -> int:
    """Write an encrypted backup of this station's store."""
    secret = read_secret(args, confirm=True)
    destination = Path(args.to) if args.to else station_home() / "backups"
    if not args.to:
        destination.mkdir(mode=0o700, exist_ok=True)
    result = create_backup(default_store_path(), destination, secret)
    _trace(default_store_path(), "backup.created", path=str(result.path),
           db_sha256=result.db_sha256, size=result.size)
    print(tr("cli.backup.done", path=str(result.path), size=_megabytes(result.size),
             sha=result.db_sha256[:16]))
    print(_counts(result.counts, result.media_files))
    if result.missing_media:
        print(tr("cli.backup.missing_media", count=len(result.missing_media),
                 first=result.missing_media[0]), file=sys.stderr)
    return 0


def run_keygen(args: argparse.Namespace) -> int:
    """Create a random key file (never overwriting one)."""
    print(tr("cli.backup.keygen.done", path=args.out, fingerprint=generate_key_file(args.out)))
    return 0


def run_restore(args: argparse.Namespace) -> int:
    """Verify a backup and restore it into a folder."""
    secret = read_secret(args, confirm=False)
    result: RestoreResult = restore_backup(Path(args.archive), Path(args.to), secret,
                                           force=args.force)
    _trace(result.folder / STORE_FILENAME, "backup.restored", archive=str(args.archive),
           created_at=result.created_at)
    print(tr("cli.restore.done", folder=str(result.folder), created_at=result.created_at,
             schema=result.schema_version, entries=result.audit_entries))
    print(_counts(result.counts, result.media_files))
    if result.replaced is not None:
        print(tr("cli.restore.replaced", folder=str(result.replaced)))
    for warning in result.warnings:
        print(tr("cli.restore.warning", message=warning), file=sys.stderr)
    return 0


def _trace(store_path: Path, action: str, **details: object) -> None:
    """One audit row in ``store_path``: who made (or restored) a copy of the data and
    when. A copy of every record leaving the station is a read that must be traced;
    the restored store records where it came from, after its chain was verified."""
    with Store.open(store_path) as store, store.write() as conn:
        audit.append(conn, actor=cli_actor(None), action=action, details=details)


def _counts(counts: dict[str, int], media: int) -> str:
    return tr("cli.backup.counts", residents=counts["residents"], sessions=counts["sessions"],
              measurements=counts["measurements"], reports=counts["reports"], media=media)


def _megabytes(size: int) -> str:
    return format_number(f"{size / 1e6:.1f}")

