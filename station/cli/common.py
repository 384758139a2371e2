"""Helpers shared by CLI commands: opening the store, naming the actor."""

from __future__ import annotations

import getpass
import os

from station.access import Actor, Principal, Role
from station.paths import default_store_path
from station.store.accounts import AccountDirectory
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


def cli_principal(store: Store, login: str | None) -> Principal:
    """Who reads through the CLI, with the role that decides what is shown.

    ``--as LOGIN`` names an active account of this store and takes its role
    (a technician is refused clinical data here as in the app). Without it,
    the reader is the operating-system account that owns the store file and
    could open it anyway: it counts as an admin, named ``cli:<user>``.
    """
    if login:
        return AccountDirectory(store).acting_as(login)
    return Actor(cli_actor(None), Role.ADMIN)
