"""The signaling server remote doctors reach: invitations, rooms, sockets.

See ``docs/call-protocol.md`` for the contract it implements.
"""

from __future__ import annotations

from station.signaling.invitations import (
    Invitation,
    InvitationError,
    Invitations,
    InvitationState,
)
from station.signaling.remote_invitations import RemoteInvitations
from station.signaling.rooms import InMemoryRoomRegistry, Role, RoomRegistry
from station.signaling.runner import RunningServer, start_embedded, start_server
from station.signaling.server import create_app
from station.signaling.stations import StationDirectory

__all__ = [
    "InMemoryRoomRegistry",
    "Invitation",
    "InvitationError",
    "InvitationState",
    "Invitations",
    "RemoteInvitations",
    "Role",
    "RoomRegistry",
    "RunningServer",
    "StationDirectory",
    "create_app",
    "start_embedded",
    "start_server",
]
