"""Helpers shared by CLI commands: opening the store, naming the actor."""

from __future__ import annotations

import getpass
import os

from station.paths import default_store_path
from station.store.database import Store


def open_store() -> Store:
    """The station's store (``STATION_HOME`` or the per-user data directory)."""
    return Store.open(default_store_path())


def cli_actor(login: str | None) -> str:
    """Who the audit trail names for a CLI action: ``--as`` or the system user."""
    if login:
        return login
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = str(os.getuid())
    return f"cli:{user}"
