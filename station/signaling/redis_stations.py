"""The stations of a signaling cluster, in Redis, shared by every node.

Same rules as :class:`~station.signaling.stations.StationDirectory` (ids,
keys shown once and kept as SHA-256, revocation for good, a session owned by
the first station claiming it); the data sits in Redis so that a station
added with ``station serve --redis … stations add`` is known to every node
at once, and a node's death loses nothing (Redis with its append-only file).
Each node's own store keeps the audit trail of what was done through it.

Keys: ``sig:stations`` (ids in order of addition), ``sig:station:<id>``
(hash: name, key_sha256, created_at, revoked_at), ``sig:owner:<session>``
(the station owning a session).

The client is redis-py's blocking one, like the SQLite store these calls
replace (the server's handlers call them without ``await``): a Redis round
trip on a LAN costs a fraction of the fsync a SQLite write already costs the
standalone server's loop.
"""

from __future__ import annotations

import hmac
import secrets

from redis import Redis

from station.clock import Clock, from_text, to_text, utc_now
from station.errors import StationError
from station.signaling.redis_rooms import text
from station.signaling.stations import STATION_ID, StationEntry, key_digest
from station.store import audit
from station.store.database import Store

STATIONS = "sig:stations"
STATION_PREFIX = "sig:station:"
OWNER_PREFIX = "sig:owner:"
OWNER_TTL_SECONDS = 30 * 24 * 3600  # a session's owner outlives any call on it
_NO_DIGEST = "0" * 64  # compared against for an unknown id: same time as a wrong key

# Create the station hash only if absent (HSETNX on key_sha256 is the guard).
_ADD = """
if redis.call('HSETNX', KEYS[1], 'key_sha256', ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'name', ARGV[2], 'created_at', ARGV[3])
redis.call('RPUSH', KEYS[2], ARGV[4])
return 1
"""


class RedisStationDirectory:
    """A :class:`~station.signaling.stations.StationRegistry` in Redis."""

    def __init__(self, redis: Redis, store: Store, *, clock: Clock = utc_now) -> None:
        self._redis = redis
        self._store = store  # this node's audit trail
        self._clock = clock
        self._add = redis.register_script(_ADD)

    def add(self, station_id: str, name: str = "", *, actor: str = "cli") -> str:
        """See :meth:`~station.signaling.stations.StationRegistry.add`."""
        if not STATION_ID.fullmatch(station_id):
            raise StationError("signaling.station_id_format", value=station_id)
        key = secrets.token_urlsafe(32)
        now = to_text(self._clock())
        if not self._add(keys=[STATION_PREFIX + station_id, STATIONS],
                         args=[key_digest(key), name.strip() or station_id, now, station_id]):
            raise StationError("signaling.station_exists", station=station_id)
        with self._store.write() as conn:
            audit.append(conn, actor=actor, action="signaling.station_added", time=now,
                         details={"station": station_id, "name": name.strip()})
        return key

    def revoke(self, station_id: str, *, actor: str = "cli") -> bool:
        """See :meth:`~station.signaling.stations.StationRegistry.revoke`."""
        key = STATION_PREFIX + station_id
        if not self._redis.exists(key):
            return False
        now = to_text(self._clock())
        if not self._redis.hsetnx(key, "revoked_at", now):
            return False
        with self._store.write() as conn:
            audit.append(conn, actor=actor, action="signaling.station_revoked", time=now,
                         details={"station": station_id})
        return True

    def list(self) -> list[StationEntry]:
        """See :meth:`~station.signaling.stations.StationRegistry.list`."""
        entries = []
        for raw in self._redis.lrange(STATIONS, 0, -1):
            station_id = text(raw)
            name, created, revoked = (text(v) for v in self._redis.hmget(
                STATION_PREFIX + station_id, ["name", "created_at", "revoked_at"]))
            entries.append(StationEntry(station_id, name, from_text(created),
                                        from_text(revoked) if revoked else None))
        return entries

    def authenticate(self, credential: str) -> str | None:
        """See :meth:`~station.signaling.stations.StationAuth.authenticate`."""
        station_id, _, key = credential.partition(".")
        stored, revoked = (text(v) for v in self._redis.hmget(
            STATION_PREFIX + station_id, ["key_sha256", "revoked_at"]))
        matches = hmac.compare_digest(key_digest(key).encode(),
                                      (stored or _NO_DIGEST).encode())
        if not stored or not key or not matches or revoked:
            return None
        return station_id

    def claim(self, station_id: str, session_id: str) -> bool:
        """See :meth:`~station.signaling.stations.StationAuth.claim` (``SET NX``)."""
        key = OWNER_PREFIX + session_id
        self._redis.set(key, station_id, nx=True, ex=OWNER_TTL_SECONDS)
        return text(self._redis.get(key)) == station_id
