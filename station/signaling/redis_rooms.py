"""Rooms shared by the nodes of a signaling cluster, through Redis.

Each room is a Redis hash ``sig:room:<session>`` whose fields ``station`` and
``doctor`` name the seat holding that role: ``<node-id>/<n>``, the node whose
process holds the socket. Each node listens on its own pub/sub channel
``sig:node:<node-id>``; relaying to a peer held elsewhere is one ``PUBLISH``
to its node, which hands the message to the local socket.

A node that dies (kill -9, power cut) leaves its seats behind. They are
found stale the moment they are used: ``PUBLISH`` answers how many listeners
got the message, and a dead node's channel has none (Redis closes a killed
process's connection at once). A stale seat counts as empty: the peer coming
back through another node takes it, a message to it reports nobody there.
Seats change hands only by compare-and-set (a Lua script), so two nodes
racing for one seat cannot both win.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
from typing import Any

from redis.asyncio import Redis
from redis.asyncio.client import PubSub

from station.signaling.rooms import Peer, Role, RoomOccupiedError

log = logging.getLogger(__name__)
ROOM_PREFIX = "sig:room:"
NODE_PREFIX = "sig:node:"
ROOM_TTL_SECONDS = 24 * 3600  # a room nobody touched for a day is forgotten
_CAS_ATTEMPTS = 5  # a seat changing under us this often means a storm: refuse

# Set field ARGV[1] to ARGV[3] if it holds ARGV[2] ("" = absent); 1 when done.
# ARGV[3] == "" deletes the field instead.
_CAS = """
local current = redis.call('HGET', KEYS[1], ARGV[1]) or ''
if current ~= ARGV[2] then return 0 end
if ARGV[3] == '' then
  redis.call('HDEL', KEYS[1], ARGV[1])
else
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
return 1
"""


# Relay in one round trip: find the seat of the role ARGV[1] and, unless it is on
# this node (ARGV[4]: delivered here without Redis), publish the envelope to its
# node's channel. Returns {listeners, seat}: listeners -1 for a seat on this node,
# 0 for a seat whose node is gone; seat '' when nobody holds it.
_RELAY = """
local seat = redis.call('HGET', KEYS[1], ARGV[1])
if not seat then return {0, ''} end
local node = string.match(seat, '^(.*)/[^/]*$')
if node == ARGV[4] then return {-1, seat} end
local envelope = '{"op":"deliver","seat":' .. cjson.encode(seat) .. ',"message":' .. ARGV[2] .. '}'
return {redis.call('PUBLISH', ARGV[3] .. node, envelope), seat}
"""


def text(value: bytes | str | None) -> str:
    """A Redis reply as text ("" for none), whether or not the client decodes."""
    if value is None:
        return ""
    return value.decode() if isinstance(value, bytes) else value


def _node_of(seat: str) -> str:
    return seat.rpartition("/")[0]


class RedisRoomRegistry:
    """A :class:`~station.signaling.rooms.RoomRegistry` shared by cluster nodes.

    Call :meth:`start` (subscribe) before serving and :meth:`stop` after.
    """

    def __init__(self, redis: Redis, node_id: str | None = None) -> None:
        self._redis = redis
        self.node_id = node_id or secrets.token_hex(8)  # a restarted node is a new node
        self._channel = NODE_PREFIX + self.node_id
        self._local: dict[str, Peer] = {}  # seat -> this node's socket
        self._seat_of: dict[Peer, str] = {}
        self._numbers = itertools.count(1)
        self._cas = redis.register_script(_CAS)
        self._relay = redis.register_script(_RELAY)
        self._pubsub: PubSub | None = None
        self._listener: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen on this node's channel (before any seat is taken here)."""
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        await self._pubsub.subscribe(self._channel)
        self._listener = asyncio.create_task(self._listen(self._pubsub),
                                             name=f"signaling node {self.node_id}")

    async def stop(self) -> None:
        """Stop listening; this node's seats then read as stale to the others."""
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        if self._pubsub is not None:
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]

    # --- the RoomRegistry protocol ---------------------------------------------------

    async def join(self, room: str, role: Role, peer: Peer, *, replace: bool = False) -> None:
        """See :meth:`~station.signaling.rooms.RoomRegistry.join`."""
        seat = f"{self.node_id}/{next(self._numbers)}"
        key = ROOM_PREFIX + room
        # Known here before it is in Redis: the other peer's node may deliver to the
        # seat (peer-joined) the moment it appears there.
        self._local[seat], self._seat_of[peer] = peer, seat
        try:
            for _attempt in range(_CAS_ATTEMPTS):
                old = text(await self._redis.hget(key, role.value))
                if old and not replace and await self._alive(old):
                    raise RoomOccupiedError(room, role)
                if await self._cas(keys=[key], args=[role.value, old, seat, ROOM_TTL_SECONDS]):
                    break
            else:
                raise RoomOccupiedError(room, role)
        except BaseException:
            self._local.pop(seat, None)
            self._seat_of.pop(peer, None)
            raise
        if old:  # replaced (or stale): the old socket is told to go, wherever it is
            await self._tell(old, {"op": "close", "seat": old})
        other = text(await self._redis.hget(key, role.other.value))
        if other and await self._deliver(room, role.other, other,
                                         {"type": "peer-joined", "role": role.value}):
            await peer.send({"type": "peer-joined", "role": role.other.value})

    async def leave(self, room: str, role: Role, peer: Peer) -> None:
        """See :meth:`~station.signaling.rooms.RoomRegistry.leave`."""
        seat = self._seat_of.pop(peer, None)
        if seat is None:
            return
        self._local.pop(seat, None)
        key = ROOM_PREFIX + room
        if not await self._cas(keys=[key], args=[role.value, seat, "", ROOM_TTL_SECONDS]):
            return  # replaced meanwhile: the new holder is there, nobody left
        other = text(await self._redis.hget(key, role.other.value))
        if other:
            await self._deliver(room, role.other, other, {"type": "peer-left",
                                                          "role": role.value})

    async def relay(self, room: str, sender: Role, message: dict[str, Any]) -> bool:
        """See :meth:`~station.signaling.rooms.RoomRegistry.relay`."""
        key = ROOM_PREFIX + room
        listeners, raw = await self._relay(keys=[key], args=[
            sender.other.value, json.dumps(message), NODE_PREFIX, self.node_id])
        seat = text(raw)
        if not seat:
            return False
        if int(listeners) < 0:  # on this node
            return await self._handle({"op": "deliver", "seat": seat, "message": message})
        if int(listeners) > 0:
            return True
        log.info("seat %s of room %s is stale (its node is gone): freed", seat, room)
        await self._cas(keys=[key], args=[sender.other.value, seat, "", ROOM_TTL_SECONDS])
        return False

    async def occupants(self, room: str) -> set[Role]:
        """See :meth:`~station.signaling.rooms.RoomRegistry.occupants` (stale seats
        included until they are next used)."""
        names = {text(f) for f in await self._redis.hkeys(ROOM_PREFIX + room)}
        return {role for role in Role if role.value in names}

    # --- between nodes ---------------------------------------------------------------

    async def _deliver(self, room: str, role: Role, seat: str,
                       message: dict[str, Any]) -> bool:
        """Hand ``message`` to the socket in ``seat``; a stale seat is freed, False."""
        if await self._tell(seat, {"op": "deliver", "seat": seat, "message": message}):
            return True
        log.info("seat %s of room %s is stale (its node is gone): freed", seat, room)
        await self._cas(keys=[ROOM_PREFIX + room],
                        args=[role.value, seat, "", ROOM_TTL_SECONDS])
        return False

    async def _tell(self, seat: str, envelope: dict[str, Any]) -> bool:
        """Send an envelope to the node of ``seat``; False when that node is gone."""
        node = _node_of(seat)
        if node == self.node_id:
            return await self._handle(envelope)
        listeners = await self._redis.publish(NODE_PREFIX + node, json.dumps(envelope))
        return bool(listeners)

    async def _alive(self, seat: str) -> bool:
        """Whether the node of ``seat`` is still there (and, here, holds it)."""
        node = _node_of(seat)
        if node == self.node_id:
            return seat in self._local
        return bool(await self._redis.publish(NODE_PREFIX + node, json.dumps({"op": "ping"})))

    async def _handle(self, envelope: dict[str, Any]) -> bool:
        """Act on one envelope for this node; False when its seat is not here."""
        peer = self._local.get(str(envelope.get("seat", "")))
        if envelope.get("op") == "ping":
            return True
        if peer is None:
            return False
        if envelope.get("op") == "deliver" and isinstance(envelope.get("message"), dict):
            await peer.send(envelope["message"])
        elif envelope.get("op") == "close":
            self._local.pop(str(envelope["seat"]), None)
            self._seat_of.pop(peer, None)
            await peer.close(4000, "replaced")
        return True

    async def _listen(self, pubsub: PubSub) -> None:
        """Deliver what other nodes publish here, in order, until stopped."""
        while True:
            try:
                async for item in pubsub.listen():
                    if item.get("type") != "message":
                        continue
                    try:
                        envelope = json.loads(item["data"])
                    except (ValueError, TypeError):
                        log.warning("signaling node %s: unreadable envelope", self.node_id)
                        continue
                    if isinstance(envelope, dict):
                        await self._handle(envelope)
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis went away: keep trying, the sockets stay up
                log.exception("signaling node %s: pub/sub lost, resubscribing", self.node_id)
                await asyncio.sleep(1.0)
