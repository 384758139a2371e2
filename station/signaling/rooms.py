"""Rooms: one station and one doctor per session, and the relay between them.

Everything the server knows about who is connected sits behind
:class:`RoomRegistry`, so that several server nodes can share it without
touching the socket handlers. :class:`InMemoryRoomRegistry` serves a single
process; :class:`~station.signaling.redis_rooms.RedisRoomRegistry` a cluster.
"""

from __future__ import annotations

import asyncio
import logging
from enum import StrEnum
from typing import Any, Protocol

from station.errors import StationError

log = logging.getLogger(__name__)


class Role(StrEnum):
    """Who holds a socket of a room."""

    STATION = "station"
    DOCTOR = "doctor"

    @property
    def other(self) -> Role:
        """The peer this role talks to."""
        return Role.DOCTOR if self is Role.STATION else Role.STATION


class Peer(Protocol):
    """A connected socket, as the registry sees it."""

    async def send(self, message: dict[str, Any]) -> None:
        """Deliver one JSON message to this peer (errors are the peer's problem)."""

    async def close(self, code: int, reason: str) -> None:
        """Close the socket."""


class RoomOccupiedError(StationError):
    """The role's seat in the room is already taken."""

    def __init__(self, room: str, role: Role) -> None:
        self.room, self.role = room, role
        super().__init__("signaling.room_occupied")


class RoomRegistry(Protocol):
    """Which station and which doctor socket are in each room, and the relay.

    Room names are session ids. Implementations notify the other peer with
    ``peer-joined`` / ``peer-left`` messages.
    """

    async def join(self, room: str, role: Role, peer: Peer, *, replace: bool = False) -> None:
        """Seat ``peer``; tell both sides who is there.

        A taken seat raises :class:`RoomOccupiedError`, unless ``replace``: the
        old socket is then closed (a station reconnecting after a network
        drop, whose old socket may not know it is dead yet).
        """

    async def leave(self, room: str, role: Role, peer: Peer) -> None:
        """Free the seat if ``peer`` still holds it, and tell the other side."""

    async def relay(self, room: str, sender: Role, message: dict[str, Any]) -> bool:
        """Forward ``message`` to the other peer; False when nobody is there."""

    async def occupants(self, room: str) -> set[Role]:
        """The roles present in the room now."""


class InMemoryRoomRegistry:
    """A :class:`RoomRegistry` for one process (one asyncio loop)."""

    def __init__(self) -> None:
        self._rooms: dict[str, dict[Role, Peer]] = {}
        self._lock = asyncio.Lock()

    async def join(self, room: str, role: Role, peer: Peer, *, replace: bool = False) -> None:
        """See :meth:`RoomRegistry.join`."""
        async with self._lock:
            seats = self._rooms.setdefault(room, {})
            old = seats.get(role)
            if old is not None and not replace:
                raise RoomOccupiedError(room, role)
            seats[role] = peer
            other = seats.get(role.other)
        if old is not None:
            await old.close(4000, "replaced")
        if other is not None:
            await other.send({"type": "peer-joined", "role": role.value})
            await peer.send({"type": "peer-joined", "role": role.other.value})

    async def leave(self, room: str, role: Role, peer: Peer) -> None:
        """See :meth:`RoomRegistry.leave`."""
        async with self._lock:
            seats = self._rooms.get(room, {})
            if seats.get(role) is not peer:
                return
            del seats[role]
            other = seats.get(role.other)
            if not seats:
                self._rooms.pop(room, None)
        if other is not None:
            await other.send({"type": "peer-left", "role": role.value})

    async def relay(self, room: str, sender: Role, message: dict[str, Any]) -> bool:
        """See :meth:`RoomRegistry.relay`."""
        other = self._rooms.get(room, {}).get(sender.other)
        if other is None:
            return False
        await other.send(message)
        return True

    async def occupants(self, room: str) -> set[Role]:
        """See :meth:`RoomRegistry.occupants`."""
        return set(self._rooms.get(room, {}))
