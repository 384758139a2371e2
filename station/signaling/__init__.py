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
from station.signaling.rooms import InMemoryRoomRegistry, Role, RoomRegistry
from station.signaling.runner import RunningServer, start_embedded, start_server
from station.signaling.server import create_app

__all__ = [
    "InMemoryRoomRegistry",
    "Invitation",
    "InvitationError",
    "InvitationState",
    "Invitations",
    "Role",
    "RoomRegistry",
    "RunningServer",
    "create_app",
    "start_embedded",
    "start_server",
]
