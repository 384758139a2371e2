"""Invitations a standalone server makes for its stations' sessions.

Same links as a station's own (:mod:`station.signaling.invitations`): a
``secrets.token_urlsafe(32)`` token stored only as its SHA-256, valid for a
while, revocable, usable once. The difference is where the session lives:
in the station's store, elsewhere. So the server keeps the invitation with
the station and session it is for, and when a doctor joins it records them in
the invitation row only; the station learns who joined from the
``doctor-joined`` message and records the session event in its own store.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
from collections.abc import Mapping
from datetime import timedelta
from typing import Any, Protocol

from station.clock import Clock, from_text, to_text, utc_now
from station.errors import StationError
from station.people import Doctor, check_rpps
from station.signaling.invitations import (
    Invitation,
    InvitationBook,
    InvitationError,
    InvitationState,
    token_digest,
)
from station.signaling.stations import StationDirectory
from station.store import audit
from station.store.database import Store

_COLUMNS = (
    "id, session_id, created_at, expires_at, used_at, revoked_at, doctor_name, doctor_rpps,"
    " doctor_specialty, station_id, doctor_identity"
)


def identity_json(verified: Mapping[str, str] | None) -> str | None:
    """How a verified identity is kept with an invitation (None: typed)."""
    return None if verified is None else json.dumps(dict(verified), ensure_ascii=False,
                                                    sort_keys=True)


def identity_from(text: str | None) -> dict[str, str] | None:
    """The verified identity kept by :func:`identity_json`, or None."""
    value = json.loads(text) if text else None
    return ({str(k): str(v) for k, v in value.items()} if isinstance(value, dict)
            else None)


def _row_to_invitation(row: tuple[Any, ...]) -> Invitation:
    (row_id, session_id, created, expires, used, revoked, name, rpps, specialty,
     station_id, identity) = row
    return Invitation(
        id=row_id, session_id=session_id, created_at=from_text(created),
        expires_at=from_text(expires), used_at=None if used is None else from_text(used),
        revoked_at=None if revoked is None else from_text(revoked),
        doctor=None if name is None else Doctor(name, rpps, specialty), station_id=station_id,
        verified=identity_from(identity),
    )


class NotYourSessionError(StationError):
    """The session belongs to another station of this server."""

    def __init__(self, session_id: str) -> None:
        self.session_id = session_id
        super().__init__("signaling.not_your_session")


def doctor_joined_message(invitation: Invitation) -> dict[str, Any]:
    """The ``doctor-joined`` message telling a station who joined through ``invitation``
    (with ``identity`` when an OpenID Connect sign-in vouched for the doctor)."""
    doctor, used = invitation.doctor, invitation.used_at
    assert doctor is not None and used is not None  # only used invitations are announced
    message: dict[str, Any] = {
        "type": "doctor-joined", "invitation": invitation.id, "name": doctor.name,
        "rpps": doctor.rpps, "specialty": doctor.specialty, "time": to_text(used)}
    if invitation.verified is not None:
        message["identity"] = dict(invitation.verified)
    return message


class RemoteBook(InvitationBook, Protocol):
    """The invitations of a standalone server, in its store or in Redis (cluster)."""

    def create(self, station_id: str, session_id: str, ttl: timedelta,
               context: dict[str, Any] | None = None) -> tuple[Invitation, str]:
        """A new link into ``session_id`` for ``station_id``: ``(invitation, url)``."""

    def revoke(self, station_id: str, invitation_id: int) -> InvitationState | None:
        """Revoke a still valid link of ``station_id``; its state after, None if not its."""

    def joined(self, session_id: str) -> list[Invitation]:
        """The used invitations of a session, oldest first."""


class RemoteInvitations:
    """The invitations of a standalone server (an :class:`InvitationBook`)."""

    def __init__(self, store: Store, stations: StationDirectory, public_url: str = "", *,
                 clock: Clock = utc_now) -> None:
        self._store = store
        self._stations = stations
        self.public_url = public_url.rstrip("/")
        self._clock = clock

    def create(self, station_id: str, session_id: str, ttl: timedelta,
               context: dict[str, Any] | None = None) -> tuple[Invitation, str]:
        """A new link into ``session_id`` for ``station_id``: ``(invitation, url)``.

        Raises :class:`NotYourSessionError` when another station has the session.
        """
        token = secrets.token_urlsafe(32)
        now = self._clock()
        with self._store.write() as conn:
            if not self._stations.claim_in(conn, station_id, session_id):
                raise NotYourSessionError(session_id)
            cursor = conn.execute(
                "INSERT INTO remote_invitations (token_sha256, station_id, session_id, context,"
                " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (token_digest(token), station_id, session_id,
                 json.dumps(context or {}, ensure_ascii=False, sort_keys=True),
                 to_text(now), to_text(now + ttl)))
            invitation_id = int(cursor.lastrowid or 0)
            audit.append(conn, actor=f"station:{station_id}", action="invitation.created",
                         time=to_text(now),
                         details={"session": session_id, "invitation": invitation_id,
                                  "ttl_s": int(ttl.total_seconds())})
            invitation = self._get(conn, invitation_id)
        assert invitation is not None
        return invitation, f"{self.public_url}/join/{token}"

    def revoke(self, station_id: str, invitation_id: int) -> InvitationState | None:
        """Revoke a still valid link of ``station_id``.

        Returns the link's state afterwards (``REVOKED``, or ``USED`` when the
        doctor was quicker), None when the station has no such invitation.
        """
        now = self._clock()
        with self._store.write() as conn:
            invitation = self._get(conn, invitation_id)
            if invitation is None or invitation.station_id != station_id:
                return None
            state = invitation.state(now)
            if state in (InvitationState.USED, InvitationState.REVOKED):
                return state
            conn.execute("UPDATE remote_invitations SET revoked_at = ? WHERE id = ?",
                         (to_text(now), invitation_id))
            audit.append(conn, actor=f"station:{station_id}", action="invitation.revoked",
                         time=to_text(now),
                         details={"session": invitation.session_id, "invitation": invitation_id})
        return InvitationState.REVOKED

    def find(self, token: str) -> Invitation | None:
        """The invitation behind ``token``, or None."""
        return self._find(self._store.conn, token)

    def state(self, token: str) -> InvitationState:
        """valid / used / expired / revoked / unknown, at the clock's current time."""
        invitation = self.find(token)
        return InvitationState.UNKNOWN if invitation is None else invitation.state(self._clock())

    def context(self, invitation_id: int) -> dict[str, Any]:
        """What the station said about the invitation when it asked for it."""
        row = self._store.conn.execute("SELECT context FROM remote_invitations WHERE id = ?",
                                       (invitation_id,)).fetchone()
        value = json.loads(row[0]) if row else {}
        return value if isinstance(value, dict) else {}

    def join(self, token: str, name: str, rpps: str, specialty: str, *,
             verified: Mapping[str, str] | None = None) -> Invitation:
        """Use the link: check the doctor and record them in the invitation, once.

        Same refusals as :meth:`station.signaling.invitations.Invitations.join`;
        the session event is the station's to record (``doctor-joined``).
        ``verified`` (after an OpenID Connect sign-in) is kept with the
        invitation, relayed to the station, and its method named in the audit row.
        """
        doctor = Doctor(name.strip(), check_rpps(rpps), specialty.strip())
        now = self._clock()
        stamp = to_text(now)
        with self._store.write() as conn:
            invitation = self._find(conn, token)  # re-read: two racing browsers, one wins
            if invitation is None:
                raise InvitationError(InvitationState.UNKNOWN)
            state = invitation.state(now)
            if state is not InvitationState.VALID:
                raise InvitationError(state)
            conn.execute(
                "UPDATE remote_invitations SET used_at = ?, doctor_name = ?, doctor_rpps = ?,"
                " doctor_specialty = ?, doctor_identity = ? WHERE id = ?",
                (stamp, doctor.name, doctor.rpps, doctor.specialty, identity_json(verified),
                 invitation.id))
            details: dict[str, Any] = {"session": invitation.session_id,
                                       "station": invitation.station_id,
                                       "invitation": invitation.id}
            if verified is not None:
                details["verified_by"] = verified["method"]
            audit.append(conn, actor=f"rpps:{doctor.rpps}", action="invitation.used",
                         time=stamp, details=details)
            used = self._get(conn, invitation.id)
        assert used is not None
        return used

    def joined(self, session_id: str) -> list[Invitation]:
        """The used invitations of a session, oldest first (replayed to a reconnecting
        station, which may have missed the live ``doctor-joined``)."""
        rows = self._store.conn.execute(
            f"SELECT {_COLUMNS} FROM remote_invitations WHERE session_id = ?"
            " AND used_at IS NOT NULL ORDER BY used_at, id", (session_id,)).fetchall()
        return [_row_to_invitation(tuple(row)) for row in rows]

    @staticmethod
    def _get(conn: sqlite3.Connection, invitation_id: int) -> Invitation | None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM remote_invitations WHERE id = ?",
                           (invitation_id,)).fetchone()
        return None if row is None else _row_to_invitation(tuple(row))

    @staticmethod
    def _find(conn: sqlite3.Connection, token: str) -> Invitation | None:
        row = conn.execute(f"SELECT {_COLUMNS} FROM remote_invitations WHERE token_sha256 = ?",
                           (token_digest(token),)).fetchone()
        return None if row is None else _row_to_invitation(tuple(row))

