"""Encrypted, verified backups of the station's store and media.

``create_backup`` copies the live SQLite file with SQLite's online backup API
(the station keeps writing meanwhile), adds the snapshots and stethoscope
clips the copy references, and writes one archive encrypted with a key the
EHPAD holds (:mod:`station.backup.container`). ``restore_backup`` checks the
key, the authentication of every byte, SQLite's integrity and the audit chain
before anything is moved into place.
"""

from __future__ import annotations

from station.backup.create import BackupResult, create_backup
from station.backup.errors import BackupError
from station.backup.keys import BackupSecret, ScryptParams, generate_key_file
from station.backup.restore import RestoreResult, restore_backup

__all__ = [
    "BackupError",
    "BackupResult",
    "BackupSecret",
    "RestoreResult",
    "ScryptParams",
    "create_backup",
    "generate_key_file",
    "restore_backup",
]
