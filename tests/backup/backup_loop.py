"""Takes backups of one store into one file, again and again, until it is killed.

Prints ``BEGIN`` before each backup and ``DONE <db sha256>`` after each one
returned (archive renamed into place and fsynced). The kill test SIGKILLs
this process at a random moment and checks the store and the archive.
"""

from __future__ import annotations

import sys
from pathlib import Path

from station.backup import BackupSecret, create_backup


def main(store: str, archive: str, key_file: str) -> None:
    secret = BackupSecret.from_key_file(key_file)
    while True:
        print("BEGIN", flush=True)
        result = create_backup(Path(store), Path(archive), secret)
        print(f"DONE {result.db_sha256}", flush=True)


if __name__ == "__main__":
    main(*sys.argv[1:4])
