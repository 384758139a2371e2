"""Is a store in use? Processes holding its files open, read from ``/proc``.

A restore must never replace the files under a running station: SQLite
would keep writing to the unlinked file, or replay an old WAL into the new
one. Every SQLite connection keeps the database file open, so looking for
open descriptors is a reliable test on Linux (the cart runs Debian).
"""

from __future__ import annotations

import os
from pathlib import Path


def processes_using(files: list[Path]) -> list[int]:
    """Ids of other processes that have any of ``files`` open (sorted)."""
    wanted = {str(path.resolve()) for path in files}
    found: list[int] = []
    proc = Path("/proc")
    if not proc.is_dir():
        return found
    for entry in proc.iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            descriptors = list((entry / "fd").iterdir())
        except OSError:  # gone, or not ours to look at
            continue
        for fd in descriptors:
            try:
                target = os.readlink(fd)
            except OSError:
                continue
            if target in wanted:
                found.append(int(entry.name))
                break
    return sorted(found)
