"""``station backup`` (and ``backup keygen``) and ``station restore``.

The secret is a key file (``--key-file``), or a passphrase from
``--passphrase-stdin``, ``STATION_BACKUP_PASSPHRASE`` or typed at a hidden
prompt (twice when making a backup).

A backup is a copy of every record: only an admin makes or restores one
(:data:`~station.access.Permission.BACKUP`). ``--as LOGIN`` names the admin:
for ``backup`` an active account of this station, for ``restore`` one of the
station whose backup it is (checked in the verified copy, before anything is
moved into place). Without ``--as``, the operating-system account that owns
the store acts, as for every CLI command. Either way the audit trail names who.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sqlite3
import sys
from pathlib import Path
from typing import Any

from station.access import Permission, Principal, require
from station.backup import (
    BackupError,
    BackupSecret,
    RestoreResult,
    create_backup,
    generate_key_file,
    restore_backup,
)
from station.cli.common import cli_principal
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
    backup.add_argument("--as", dest="actor", help=tr("cli.backup.as"))
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
    restore.add_argument("--as", dest="actor", help=tr("cli.restore.as"))
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
    """Write an encrypted backup of this station's store (an admin's act)."""
    with Store.open(default_store_path()) as store:
        admin = cli_principal(store, args.actor)
    require(admin, Permission.BACKUP)  # before the secret is asked: nothing done if refused
    secret = read_secret(args, confirm=True)
    destination = Path(args.to) if args.to else station_home() / "backups"
    if not args.to:
        destination.mkdir(mode=0o700, exist_ok=True)
    result = create_backup(default_store_path(), destination, secret)
    _trace(default_store_path(), admin, "backup.created", path=str(result.path),
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
    """Verify a backup and restore it into a folder (an admin's act)."""
    secret = read_secret(args, confirm=False)
    checked: list[Principal] = []

    def authorize(database: Path) -> None:
        checked.append(_restoring_admin(database, args.actor))

    result: RestoreResult = restore_backup(Path(args.archive), Path(args.to), secret,
                                           force=args.force, authorize=authorize)
    _trace(result.folder / STORE_FILENAME, checked[0], "backup.restored",
           archive=str(args.archive), created_at=result.created_at)
    print(tr("cli.restore.done", folder=str(result.folder), created_at=result.created_at,
             schema=result.schema_version, entries=result.audit_entries))
    print(_counts(result.counts, result.media_files))
    if result.replaced is not None:
        print(tr("cli.restore.replaced", folder=str(result.replaced)))
    for warning in result.warnings:
        print(tr("cli.restore.warning", message=warning), file=sys.stderr)
    return 0


def _restoring_admin(database: Path, login: str | None) -> Principal:
    """Who restores: ``login`` must be an active admin of the backed-up station itself.

    Read from the verified copy (not migrated, not yet in place); a refusal
    leaves the target untouched. Without ``login``, the system account acts.
    """
    conn = sqlite3.connect(database)
    try:
        principal = cli_principal(Store(database, conn), login)
    except sqlite3.OperationalError as exc:  # a backup from before roles existed
        raise BackupError("restore.no_roles", login=login or "") from exc
    finally:
        conn.close()
    require(principal, Permission.BACKUP)
    return principal


def _trace(store_path: Path, actor: Principal, action: str, **details: object) -> None:
    """One audit row in ``store_path``: who (login and role) made or restored a copy of
    the data, and when. A copy of every record leaving the station is a read that must
    be traced; the restored store records where it came from, after its chain was
    verified."""
    with Store.open(store_path) as store, store.write() as conn:
        audit.append(conn, actor=actor.login, action=action,
                     details={**details, "role": actor.role.value})


def _counts(counts: dict[str, int], media: int) -> str:
    return tr("cli.backup.counts", residents=counts["residents"], sessions=counts["sessions"],
              measurements=counts["measurements"], reports=counts["reports"], media=media)


def _megabytes(size: int) -> str:
    return format_number(f"{size / 1e6:.1f}")

