"""Where the station keeps its data: a per-user data directory, or ``STATION_HOME``."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

APP_NAME = "teleconsultation-station"
STORE_FILENAME = "station.sqlite3"


def station_home() -> Path:
    """The data directory, created if needed. ``STATION_HOME`` overrides the default."""
    override = os.environ.get("STATION_HOME")
    home = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, False))
    home.mkdir(parents=True, exist_ok=True)
    return home


def default_store_path() -> Path:
    """The SQLite file of this station."""
    return station_home() / STORE_FILENAME
