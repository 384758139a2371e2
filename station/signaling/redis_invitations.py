"""Invitations of a signaling cluster, in Redis: any node serves any link.

Same links and rules as :class:`~station.signaling.remote_invitations.
RemoteInvitations` (token stored as SHA-256 only, valid a while, revocable,
used once), kept where every node sees them and a node's death loses none.
Using and revoking a link are Lua scripts, so that two doctors racing on one
link through two nodes cannot both get in.

Keys: ``sig:inv:seq`` (ids), ``sig:inv:<id>`` (hash), ``sig:inv-token:<sha256>``
(the id behind a token), ``sig:inv-session:<session>`` (ids of a session).
They expire two days after the link does: what lasts is the station's own
record (``doctor_joined``) and each node's audit trail of what it served.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from redis import Redis

from station.clock import Clock, from_text, to_text, utc_now
from station.people import Doctor, check_rpps
from station.signaling.invitations import (
    Invitation,
    InvitationError,
    InvitationState,
    token_digest,
)
from station.signaling.redis_rooms import text
from station.signaling.redis_stations import RedisStationDirectory
from station.signaling.remote_invitations import (
    NotYourSessionError,
    identity_from,
    identity_json,
)
from station.store import audit
from station.store.database import Store

SEQUENCE = "sig:inv:seq"
INVITATION_PREFIX = "sig:inv:"
LINK_PREFIX = "sig:inv-token:"
SESSION_PREFIX = "sig:inv-session:"
KEEP_AFTER_EXPIRY_SECONDS = 2 * 24 * 3600
_FIELDS = ("session_id", "station_id", "created_at", "expires_at", "used_at", "revoked_at",
           "doctor_name", "doctor_rpps", "doctor_specialty", "doctor_identity")

# Use a link: ARGV = now (to_text, sortable), name, rpps, specialty, verified
# identity (JSON, '' when typed). Returns the link's state before ('valid' means
# it is now used by this doctor).
_JOIN = """
local f = redis.call('HMGET', KEYS[1], 'expires_at', 'revoked_at', 'used_at')
if not f[1] then return 'unknown' end
if f[2] then return 'revoked' end
if f[3] then return 'used' end
if ARGV[1] >= f[1] then return 'expired' end
redis.call('HSET', KEYS[1], 'used_at', ARGV[1], 'doctor_name', ARGV[2],
           'doctor_rpps', ARGV[3], 'doctor_specialty', ARGV[4])
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'doctor_identity', ARGV[5]) end
return 'valid'
"""
# Revoke a link unless used or revoked already: returns the final state.
_REVOKE = """
local f = redis.call('HMGET', KEYS[1], 'revoked_at', 'used_at')
if f[1] then return 'revoked' end
if f[2] then return 'used' end
redis.call('HSET', KEYS[1], 'revoked_at', ARGV[1])
return 'revoked'
"""


class RedisInvitations:
    """A :class:`~station.signaling.remote_invitations.RemoteBook` in Redis."""

    def __init__(self, redis: Redis, store: Store, stations: RedisStationDirectory,
                 public_url: str = "", *, clock: Clock = utc_now) -> None:
        self._redis = redis
        self._store = store  # this node's audit trail
        self._stations = stations
        self.public_url = public_url.rstrip("/")
        self._clock = clock
        self._join = redis.register_script(_JOIN)
        self._revoke = redis.register_script(_REVOKE)

    def create(self, station_id: str, session_id: str, ttl: timedelta,
               context: dict[str, Any] | None = None) -> tuple[Invitation, str]:
        """See :meth:`~station.signaling.remote_invitations.RemoteInvitations.create`."""
        if not self._stations.claim(station_id, session_id):
            raise NotYourSessionError(session_id)
        token = secrets.token_urlsafe(32)
        now = self._clock()
        invitation_id = int(self._redis.incr(SEQUENCE))
        keep = int((ttl.total_seconds()) + KEEP_AFTER_EXPIRY_SECONDS)
        key = INVITATION_PREFIX + str(invitation_id)
        with self._redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={
                "session_id": session_id, "station_id": station_id,
                "context": json.dumps(context or {}, ensure_ascii=False, sort_keys=True),
                "created_at": to_text(now), "expires_at": to_text(now + ttl)})
            pipe.expire(key, keep)
            pipe.set(LINK_PREFIX + token_digest(token), invitation_id, ex=keep)
            pipe.rpush(SESSION_PREFIX + session_id, invitation_id)
            pipe.expire(SESSION_PREFIX + session_id, keep)
            pipe.execute()
        with self._store.write() as conn:
            audit.append(conn, actor=f"station:{station_id}", action="invitation.created",
                         time=to_text(now),
                         details={"session": session_id, "invitation": invitation_id,
                                  "ttl_s": int(ttl.total_seconds())})
        invitation = self._get(invitation_id)
        assert invitation is not None
        return invitation, f"{self.public_url}/join/{token}"

    def revoke(self, station_id: str, invitation_id: int) -> InvitationState | None:
        """See :meth:`~station.signaling.remote_invitations.RemoteInvitations.revoke`."""
        invitation = self._get(invitation_id)
        if invitation is None or invitation.station_id != station_id:
            return None
        now = to_text(self._clock())
        state = InvitationState(text(self._revoke(
            keys=[INVITATION_PREFIX + str(invitation_id)], args=[now])))
        if state is InvitationState.REVOKED and invitation.revoked_at is None:
            with self._store.write() as conn:
                audit.append(conn, actor=f"station:{station_id}", action="invitation.revoked",
                             time=now, details={"session": invitation.session_id,
                                                "invitation": invitation_id})
        return state

    def find(self, token: str) -> Invitation | None:
        """The invitation behind ``token``, or None."""
        found = text(self._redis.get(LINK_PREFIX + token_digest(token)))
        return self._get(int(found)) if found else None

    def state(self, token: str) -> InvitationState:
        """valid / used / expired / revoked / unknown, at the clock's current time."""
        invitation = self.find(token)
        return InvitationState.UNKNOWN if invitation is None else invitation.state(self._clock())

    def join(self, token: str, name: str, rpps: str, specialty: str, *,
             verified: Mapping[str, str] | None = None) -> Invitation:
        """See :meth:`~station.signaling.remote_invitations.RemoteInvitations.join`."""
        doctor = Doctor(name.strip(), check_rpps(rpps), specialty.strip())
        found = text(self._redis.get(LINK_PREFIX + token_digest(token)))
        if not found:
            raise InvitationError(InvitationState.UNKNOWN)
        stamp = to_text(self._clock())
        state = InvitationState(text(self._join(
            keys=[INVITATION_PREFIX + found],
            args=[stamp, doctor.name, doctor.rpps, doctor.specialty,
                  identity_json(verified) or ""])))
        if state is not InvitationState.VALID:
            raise InvitationError(state)
        used = self._get(int(found))
        assert used is not None
        details: dict[str, Any] = {"session": used.session_id, "station": used.station_id,
                                   "invitation": used.id}
        if verified is not None:
            details["verified_by"] = verified["method"]
        with self._store.write() as conn:
            audit.append(conn, actor=f"rpps:{doctor.rpps}", action="invitation.used",
                         time=stamp, details=details)
        return used

    def joined(self, session_id: str) -> list[Invitation]:
        """See :meth:`~station.signaling.remote_invitations.RemoteInvitations.joined`."""
        ids = [int(text(i)) for i in self._redis.lrange(SESSION_PREFIX + session_id, 0, -1)]
        found = [self._get(i) for i in ids]
        used = [i for i in found if i is not None and i.used_at is not None]
        return sorted(used, key=lambda i: (i.used_at, i.id))

    def _get(self, invitation_id: int) -> Invitation | None:
        values = dict(zip(_FIELDS, (text(v) for v in self._redis.hmget(
            INVITATION_PREFIX + str(invitation_id), list(_FIELDS))), strict=True))
        if not values["session_id"]:
            return None

        def when(name: str) -> Any:
            return from_text(values[name]) if values[name] else None

        doctor = (Doctor(values["doctor_name"], values["doctor_rpps"],
                         values["doctor_specialty"]) if values["doctor_name"] else None)
        return Invitation(id=invitation_id, session_id=values["session_id"],
                          created_at=from_text(values["created_at"]),
                          expires_at=from_text(values["expires_at"]),
                          used_at=when("used_at"), revoked_at=when("revoked_at"),
                          doctor=doctor, station_id=values["station_id"],
                          verified=identity_from(values["doctor_identity"]))
