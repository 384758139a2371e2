"""Export to a drop folder the EHPAD's record system watches.

Each attachment is written atomically (temporary file in the same folder,
fsync, rename, fsync of the folder) under a stable name made of the delivery
id and the attachment's name: a retry overwrites, it never duplicates, and a
reader never sees a half-written file.
"""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

from station.outbox.errors import DeliveryError
from station.outbox.model import Delivery, StoredMessage

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def stable_name(delivery: Delivery, position: int, filename: str) -> str:
    """The file name of one attachment in the drop folder, the same at every attempt."""
    safe = _UNSAFE.sub("_", filename).strip("._") or f"piece-{position}"
    return f"{delivery.id}-{position}-{safe}"


async def write_to_folder(folder: Path, delivery: Delivery,
                          message: StoredMessage) -> tuple[int | None, str]:
    """Write every attachment; returns a summary of what was written."""
    try:
        names = await asyncio.to_thread(_write_all, folder, delivery, message)
    except OSError as error:
        raise DeliveryError("outbox.error.folder", permanent=False, folder=str(folder),
                              reason=error.strerror or str(error)) from error
    return None, ", ".join(names)


def _write_all(folder: Path, delivery: Delivery, message: StoredMessage) -> list[str]:
    if not folder.is_dir():
        raise FileNotFoundError(2, "dossier introuvable / folder not found", str(folder))
    names = []
    for position, attachment in enumerate(message.attachments):
        name = stable_name(delivery, position, attachment.filename)
        _write_atomically(folder / name, attachment.content)
        names.append(name)
    directory = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
    return names


def _write_atomically(path: Path, content: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with temporary.open("wb") as file:
        file.write(content)
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
