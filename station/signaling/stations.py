"""Who may use the signaling server as a station, and which sessions are whose.

Embedded in a station, the server knows one station: its own, holding the
key generated at start (:class:`SharedKey`). Standalone (``station serve``,
one server for a group of EHPADs), it knows each station by an id and a
secret key (:class:`StationDirectory`): the store keeps only the key's
SHA-256 (the key is 256 random bits, so a plain digest is as good as a slow
one), compared in constant time. A station presents
``Authorization: Bearer <station-id>.<key>``.

A session (a room) belongs to the first station that claims it (by creating
an invitation or opening its socket); no other station may open its room or
invite anyone into it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from station.clock import Clock, from_text, to_text, utc_now
from station.errors import StationError
from station.store import audit
from station.store.database import Store

STATION_ID = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")
EMBEDDED_STATION = "station"
# An impossible digest, compared against when the id is unknown, so that an
# unknown id costs the same time as a wrong key.
_NO_DIGEST = "0" * 64


def key_digest(key: str) -> str:
    """The SHA-256 (hex) under which a station key is stored."""
    return hashlib.sha256(key.encode()).hexdigest()


def bearer(header: str) -> str:
    """The credential of an ``Authorization: Bearer ...`` header ("" if none)."""
    scheme, _, credential = header.strip().partition(" ")
    return credential.strip() if scheme.lower() == "bearer" else ""


class StationAuth(Protocol):
    """Authenticates stations and keeps each session with the station that claimed it."""

    def authenticate(self, credential: str) -> str | None:
        """The station id behind a Bearer credential, or None (unknown, wrong, revoked)."""

    def claim(self, station_id: str, session_id: str) -> bool:
        """Make ``session_id`` the station's if nobody has it; False if another station has."""


class StationRegistry(StationAuth, Protocol):
    """The stations of a standalone server: added, listed and revoked by
    ``station serve stations``, authenticated by the server (in its store, or in
    Redis for a cluster)."""

    def add(self, station_id: str, name: str = "", *, actor: str = "cli") -> str:
        """Register a station; returns its secret key (shown once, kept as a digest)."""

    def revoke(self, station_id: str, *, actor: str = "cli") -> bool:
        """Revoke a station's key; False when unknown or already revoked."""

    def list(self) -> list[StationEntry]:
        """Every station ever added, revoked ones included, in order of addition."""


class SharedKey:
    """The embedded server's one station, holding the key generated at start."""

    def __init__(self, key: str) -> None:
        self.key = key

    def authenticate(self, credential: str) -> str | None:
        """See :meth:`StationAuth.authenticate`."""
        if self.key and hmac.compare_digest(credential.encode(), self.key.encode()):
            return EMBEDDED_STATION
        return None

    def claim(self, station_id: str, session_id: str) -> bool:
        """See :meth:`StationAuth.claim`: every session of the store is this station's."""
        return station_id == EMBEDDED_STATION


@dataclass(frozen=True, slots=True)
class StationEntry:
    """A station known to the server (never its key)."""

    station_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


class StationDirectory:
    """The stations of a standalone server, in its store."""

    def __init__(self, store: Store, *, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def add(self, station_id: str, name: str = "", *, actor: str = "cli") -> str:
        """Register a station; returns its secret key (shown once, stored as a digest)."""
        if not STATION_ID.fullmatch(station_id):
            raise StationError("signaling.station_id_format", value=station_id)
        key = secrets.token_urlsafe(32)
        now = to_text(self._clock())
        with self._store.write() as conn:
            if conn.execute("SELECT 1 FROM signaling_stations WHERE station_id = ?",
                            (station_id,)).fetchone():
                raise StationError("signaling.station_exists", station=station_id)
            conn.execute(
                "INSERT INTO signaling_stations (station_id, name, key_sha256, created_at)"
                " VALUES (?, ?, ?, ?)", (station_id, name.strip() or station_id,
                                         key_digest(key), now))
            audit.append(conn, actor=actor, action="signaling.station_added", time=now,
                         details={"station": station_id, "name": name.strip()})
        return key

    def revoke(self, station_id: str, *, actor: str = "cli") -> bool:
        """Revoke a station's key; False when unknown or already revoked."""
        now = to_text(self._clock())
        with self._store.write() as conn:
            changed = conn.execute(
                "UPDATE signaling_stations SET revoked_at = ? WHERE station_id = ?"
                " AND revoked_at IS NULL", (now, station_id)).rowcount
            if changed:
                audit.append(conn, actor=actor, action="signaling.station_revoked", time=now,
                             details={"station": station_id})
        return bool(changed)

    def list(self) -> list[StationEntry]:
        """Every station ever added, revoked ones included, in order of addition."""
        rows = self._store.conn.execute(
            "SELECT station_id, name, created_at, revoked_at FROM signaling_stations"
            " ORDER BY id").fetchall()
        return [StationEntry(sid, name, from_text(created),
                             None if revoked is None else from_text(revoked))
                for sid, name, created, revoked in rows]

    def authenticate(self, credential: str) -> str | None:
        """See :meth:`StationAuth.authenticate`; the credential is ``<station-id>.<key>``."""
        station_id, _, key = credential.partition(".")
        row = self._store.conn.execute(
            "SELECT key_sha256, revoked_at FROM signaling_stations WHERE station_id = ?",
            (station_id,)).fetchone()
        stored = row[0] if row is not None else _NO_DIGEST
        matches = hmac.compare_digest(key_digest(key).encode(), stored.encode())
        if row is None or not key or not matches or row[1] is not None:
            return None
        return station_id

    def claim(self, station_id: str, session_id: str) -> bool:
        """See :meth:`StationAuth.claim`."""
        with self._store.write() as conn:
            return self.claim_in(conn, station_id, session_id)

    def claim_in(self, conn: sqlite3.Connection, station_id: str, session_id: str) -> bool:
        """:meth:`claim` inside the caller's write transaction."""
        conn.execute("INSERT OR IGNORE INTO signaling_sessions (session_id, station_id,"
                     " claimed_at) VALUES (?, ?, ?)",
                     (session_id, station_id, to_text(self._clock())))
        owner = conn.execute("SELECT station_id FROM signaling_sessions WHERE session_id = ?",
                             (session_id,)).fetchone()
        return owner is not None and owner[0] == station_id
