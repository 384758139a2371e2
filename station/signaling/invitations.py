"""One-time invitation links that let a remote doctor into a session.

A link carries ``secrets.token_urlsafe(32)`` (256 bits); the store keeps only
its SHA-256, so a copy of the database opens no session. A link is valid for
a while (30 min by default), can be revoked, and is used once: joining records
the doctor in the invitation row and as a ``doctor_joined`` session event, in
one durable, audited write.
"""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from station.clock import Clock, from_text, to_text, utc_now
from station.errors import StationError
from station.people import Doctor, check_rpps
from station.store import audit
from station.store.database import Store
from station.store.sessions import SessionRecords

DEFAULT_TTL = timedelta(minutes=30)
_COLUMNS = (
    "id, session_id, created_at, expires_at, used_at, revoked_at, doctor_name, doctor_rpps,"
    " doctor_specialty"
)


class InvitationState(StrEnum):
    """What a link is worth right now."""

    VALID = "valid"
    USED = "used"
    EXPIRED = "expired"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


class InvitationError(StationError):
    """A link cannot be used: ``state`` says why (used, expired, revoked, unknown)."""

    def __init__(self, state: InvitationState) -> None:
        self.state = state
        super().__init__(f"signaling.link_{state.value}")


@dataclass(frozen=True, slots=True)
class Invitation:
    """A stored invitation (never its token)."""

    id: int
    session_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None
    doctor: Doctor | None
    # The station that asked for it, on a standalone server (None: this station's own).
    station_id: str | None = None
    # Standalone: who vouched for the doctor ({"method": "oidc", "issuer", "subject",
    # "name"}), relayed to the station; embedded, the session event keeps it instead.
    verified: Mapping[str, str] | None = None

    def state(self, now: datetime) -> InvitationState:
        """Revoked beats used beats expired: the most final fact wins."""
        if self.revoked_at is not None:
            return InvitationState.REVOKED
        if self.used_at is not None:
            return InvitationState.USED
        if now >= self.expires_at:
            return InvitationState.EXPIRED
        return InvitationState.VALID


def token_digest(token: str) -> str:
    """The SHA-256 (hex) under which a token is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def _maybe_time(text: str | None) -> datetime | None:
    return None if text is None else from_text(text)


def _row_to_invitation(row: tuple[Any, ...]) -> Invitation:
    (row_id, session_id, created, expires, used, revoked, name, rpps, specialty) = row
    doctor = None if name is None else Doctor(name, rpps, specialty)
    return Invitation(
        id=row_id, session_id=session_id, created_at=from_text(created),
        expires_at=from_text(expires), used_at=_maybe_time(used),
        revoked_at=_maybe_time(revoked), doctor=doctor,
    )


class InvitationBook(Protocol):
    """Where the server looks doctors' links up: this station's own invitations
    (embedded) or those remote stations asked for (standalone)."""

    public_url: str

    def state(self, token: str) -> InvitationState:
        """valid / used / expired / revoked / unknown, now."""

    def join(self, token: str, name: str, rpps: str, specialty: str, *,
             verified: Mapping[str, str] | None = None) -> Invitation:
        """Use the link for this doctor (checked), once; see :meth:`Invitations.join`."""


class Invitations:
    """Create, look up, revoke and use invitation links of one store.

    ``public_url`` is the server's address as the doctor's browser reaches
    it (``https://host:port``); it may be set after the server has bound an
    ephemeral port.
    """

    def __init__(self, store: Store, public_url: str = "", *, clock: Clock = utc_now) -> None:
        self._store = store
        self.public_url = public_url.rstrip("/")
        self._clock = clock

    def create(self, session_id: str, ttl: timedelta = DEFAULT_TTL, *,
               actor: str = "station") -> tuple[str, str]:
        """A new one-time link for ``session_id``: returns ``(token, url)``."""
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._store.write() as conn:
            cursor = conn.execute(
                "INSERT INTO invitations (token_sha256, session_id, created_at, expires_at)"
                " VALUES (?, ?, ?, ?)",
                (token_digest(token), session_id, to_text(now), to_text(now + ttl)),
            )
            audit.append(conn, actor=actor, action="invitation.created", entity="invitations",
                         first_id=int(cursor.lastrowid or 0), time=to_text(now),
                         details={"session": session_id, "ttl_s": int(ttl.total_seconds())})
        return token, f"{self.public_url}/join/{token}"

    def find(self, token: str) -> Invitation | None:
        """The invitation behind ``token``, or None for an unknown token."""
        return self._find(self._store.conn, token)

    def state(self, token: str) -> InvitationState:
        """valid / used / expired / revoked / unknown, at the clock's current time."""
        invitation = self.find(token)
        if invitation is None:
            return InvitationState.UNKNOWN
        return invitation.state(self._clock())

    def revoke(self, token: str, *, actor: str = "station") -> bool:
        """Revoke a link; False when it is unknown or already revoked."""
        now = to_text(self._clock())
        with self._store.write() as conn:
            invitation = self._find(conn, token)
            if invitation is None or invitation.revoked_at is not None:
                return False
            conn.execute("UPDATE invitations SET revoked_at = ? WHERE id = ?",
                         (now, invitation.id))
            audit.append(conn, actor=actor, action="invitation.revoked", entity="invitations",
                         first_id=invitation.id, time=now,
                         details={"session": invitation.session_id})
        return True

    def revoke_session(self, session_id: str, *, actor: str = "station") -> int:
        """Revoke every still unused link of a session; returns how many."""
        now = to_text(self._clock())
        with self._store.write() as conn:
            ids = [row[0] for row in conn.execute(
                "SELECT id FROM invitations WHERE session_id = ? AND used_at IS NULL"
                " AND revoked_at IS NULL ORDER BY id", (session_id,))]
            for invitation_id in ids:
                conn.execute("UPDATE invitations SET revoked_at = ? WHERE id = ?",
                             (now, invitation_id))
                audit.append(conn, actor=actor, action="invitation.revoked",
                             entity="invitations", first_id=invitation_id, time=now,
                             details={"session": session_id})
        return len(ids)

    def join(self, token: str, name: str, rpps: str, specialty: str, *,
             verified: Mapping[str, str] | None = None) -> Invitation:
        """Use the link: check the doctor, then record them, once, durably.

        ``verified`` says who vouched for the doctor's identity beyond what
        they typed (``{"method": "oidc", "issuer", "subject", "name"}`` after
        an OpenID Connect sign-in): it is kept in the ``doctor_joined`` event
        as ``identity``, and its method in the audit row. Raises
        :class:`~station.errors.ValidationError` (field ``doctor_name``,
        ``rpps`` or ``specialty``; the link stays usable) or
        :class:`InvitationError` when the link is not valid.
        """
        doctor = Doctor(name.strip(), check_rpps(rpps), specialty.strip())
        now = self._clock()
        stamp = to_text(now)
        with self._store.write() as conn:
            # Re-read inside the write transaction: two browsers racing on the
            # same link cannot both get in.
            invitation = self._find(conn, token)
            if invitation is None:
                raise InvitationError(InvitationState.UNKNOWN)
            state = invitation.state(now)
            if state is not InvitationState.VALID:
                raise InvitationError(state)
            conn.execute(
                "UPDATE invitations SET used_at = ?, doctor_name = ?, doctor_rpps = ?,"
                " doctor_specialty = ? WHERE id = ?",
                (stamp, doctor.name, doctor.rpps, doctor.specialty, invitation.id),
            )
            details: dict[str, Any] = {"session": invitation.session_id}
            event: dict[str, Any] = {"name": doctor.name, "rpps": doctor.rpps,
                                     "specialty": doctor.specialty, "invitation": invitation.id}
            if verified is not None:
                details["verified_by"] = verified["method"]
                event["identity"] = dict(verified)
            audit.append(conn, actor=f"rpps:{doctor.rpps}", action="invitation.used",
                         entity="invitations", first_id=invitation.id, time=stamp,
                         details=details)
            # The event shares this transaction: the invitation's use and the
            # event stand or fall together.
            SessionRecords(self._store).record_event_in(
                conn, invitation.session_id, "doctor_joined", now, f"rpps:{doctor.rpps}", event)
        used = self._find(self._store.conn, token)
        assert used is not None  # just written in the same store
        return used

    @staticmethod
    def _find(conn: sqlite3.Connection, token: str) -> Invitation | None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM invitations WHERE token_sha256 = ?",
                           (token_digest(token),)).fetchone()
        return None if row is None else _row_to_invitation(tuple(row))
