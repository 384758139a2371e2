"""One signaling socket's life: checks every message, relays the good ones.

Each text frame must be a JSON object of a known type, allowed in its
direction (the station offers, the doctor answers, either says bye), under
the size and rate limits. A ``ping`` is answered ``pong`` by the server
itself (a browser cannot see WebSocket ping frames: the console's keepalive,
which notices a dead socket in seconds rather than TCP's minutes). Anything else is answered with
``{"type": "error", "code", "message"}`` and the socket stays open, until too
many refusals in a row close it (1008, policy violation).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import WSCloseCode, WSMsgType, web

from station.i18n import tr
from station.signaling.limits import MAX_MESSAGE_BYTES, Strikes, TokenBucket
from station.signaling.rooms import Role, RoomOccupiedError, RoomRegistry

log = logging.getLogger(__name__)

# type -> (roles allowed to send it, required string fields, optional ones)
_MESSAGES: dict[str, tuple[frozenset[Role], tuple[str, ...], tuple[str, ...]]] = {
    "offer": (frozenset({Role.STATION}), ("sdp",), ()),
    "answer": (frozenset({Role.DOCTOR}), ("sdp",), ()),
    "bye": (frozenset({Role.STATION, Role.DOCTOR}), (), ("reason",)),
    "ping": (frozenset({Role.STATION, Role.DOCTOR}), (), ()),  # answered here, not relayed
}


def error_message(code: str, **params: object) -> dict[str, Any]:
    """The protocol's error message for message code ``code``."""
    return {"type": "error", "code": code, "message": tr(code, **params)}


class SocketPeer:
    """A :class:`~station.signaling.rooms.Peer` over an aiohttp WebSocket."""

    def __init__(self, ws: web.WebSocketResponse) -> None:
        self.ws = ws

    async def send(self, message: dict[str, Any]) -> None:
        """Send one JSON message; a socket that went away is not an error here."""
        if self.ws.closed:
            return
        try:
            await self.ws.send_json(message)
        except (ConnectionError, RuntimeError) as exc:
            log.info("message not delivered: %s", exc)

    async def close(self, code: int, reason: str) -> None:
        """Close the socket with ``code``."""
        await self.ws.close(code=code, message=reason.encode())


@dataclass
class _Check:
    """The outcome of checking one frame: a message to relay, or an error."""

    message: dict[str, Any] | None = None
    error: dict[str, Any] = field(default_factory=dict)


def _parse(text: str) -> dict[str, Any] | _Check:
    size = len(text.encode("utf-8", errors="replace"))
    if size > MAX_MESSAGE_BYTES:
        return _Check(error=error_message("signaling.too_large", size=size,
                                          limit=MAX_MESSAGE_BYTES))
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):  # 64 KiB of "[" is too deep for json.loads
        data = None
    if not isinstance(data, dict):
        return _Check(error=error_message("signaling.bad_json"))
    return data


def check_message(text: str, role: Role) -> _Check:
    """Parse and check one text frame sent by ``role``; never raises."""
    data = _parse(text)
    if isinstance(data, _Check):
        return data
    kind = data.get("type")
    if not isinstance(kind, str) or kind not in _MESSAGES:
        return _Check(error=error_message("signaling.unknown_type", type=str(kind)[:40]))
    senders, required, optional = _MESSAGES[kind]
    if role not in senders:
        return _Check(error=error_message("signaling.wrong_direction", type=kind))
    message: dict[str, Any] = {"type": kind}
    for name in required:
        value = data.get(name)
        if not isinstance(value, str) or not value:
            return _Check(error=error_message("signaling.missing_field", field=name))
        message[name] = value
    for name in optional:
        value = data.get(name, "")
        message[name] = value if isinstance(value, str) else str(value)
    return _Check(message=message)


async def serve_socket(ws: web.WebSocketResponse, rooms: RoomRegistry, room: str,
                       role: Role, *, replace: bool,
                       greet: Callable[[SocketPeer], Awaitable[None]] | None = None) -> None:
    """Seat the socket in its room and relay its messages until it closes.

    ``greet`` sends what the peer must hear once seated (and so cannot miss).
    """
    peer = SocketPeer(ws)
    try:
        await rooms.join(room, role, peer, replace=replace)
    except RoomOccupiedError as exc:
        log.info("%s socket refused from room %s: seat taken", exc.role, room)
        await peer.send(error_message("signaling.room_occupied"))
        await peer.close(WSCloseCode.POLICY_VIOLATION, "room occupied")
        return
    bucket, strikes = TokenBucket(), Strikes()
    try:
        if greet is not None:
            await greet(peer)
        async for frame in ws:
            if frame.type is WSMsgType.ERROR:
                break
            if not bucket.take():
                problem = error_message("signaling.rate_limited")
            elif frame.type is WSMsgType.TEXT:
                checked = check_message(frame.data, role)
                if checked.message is not None:
                    strikes.forgive()
                    if checked.message["type"] == "ping":
                        await peer.send({"type": "pong"})
                        continue
                    if not await rooms.relay(room, role, checked.message):
                        await peer.send(error_message("signaling.no_peer"))
                    continue
                problem = checked.error
            else:
                problem = error_message("signaling.binary")
            if strikes.refuse():
                await peer.close(WSCloseCode.POLICY_VIOLATION, "too many refused messages")
                break
            await peer.send(problem)
    finally:
        await rooms.leave(room, role, peer)
