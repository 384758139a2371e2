"""Wires a :class:`~station.call.peer.StationCall` to the signaling server's WebSocket.

The station's side of the contract's signaling messages: it opens
``/ws/station/<session>`` with its Bearer key, offers when the doctor joins,
applies the answer, offers again whenever the call falls to
``reconnecting`` (aiortc has no ICE restart), and says ``bye`` when the
call ends. The WebSocket itself is reopened with back-off if it drops.

The socket is WSS: ``tls`` says whom to trust (the station's own local
certificate, a CA file, or the system's store by default); the server's
certificate is always verified.

Against a standalone server the Bearer credential is ``<station-id>.<key>``,
and the server tells the station who joined (``doctor-joined``, handed to
``on_doctor_joined``; it may come again after a reconnection).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from station.call.events import CallEvent, CallState, StateChanged
from station.call.peer import StationCall
from station.signaling.tls import ClientTls

log = logging.getLogger(__name__)
MAX_MESSAGE = 64 * 1024  # the contract's limit for one signaling frame
HEARTBEAT = 5.0  # seconds between pings of the signaling socket
CONNECT_TIMEOUT = 5.0
MAX_RETRY_DELAY = 3.0  # seconds between attempts to reach the signaling server, at most
RETRY_OFFER_AFTER = 10.0  # seconds in "reconnecting" before offering again


class SignalingClient:
    """The station's signaling connection for one session (one call)."""

    def __init__(self, server_url: str, session_id: str, station_key: str, call: StationCall,
                 *, http: aiohttp.ClientSession | None = None,
                 on_doctor_joined: Callable[[dict[str, Any]], None] | None = None,
                 tls: ClientTls | None = None) -> None:
        self.url = f"{server_url.rstrip('/')}/ws/station/{session_id}"
        self._tls_options = tls.options() if tls is not None else {}
        self._key = station_key
        self.call = call
        self._http = http
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._doctor_present = False
        self._doctor_left = False  # a peer-left came since the doctor was last seen
        self._offering: asyncio.Task[None] | None = None
        self._closing = False
        self._bye_sent = False
        self._retry: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[bool]] = set()
        self.errors: list[dict[str, Any]] = []
        self._on_doctor_joined = on_doctor_joined
        call.subscribe(self._on_call_event)

    async def run(self) -> None:
        """Stay connected until :meth:`close` or the call ends; reconnect the socket on loss."""
        own_http = self._http is None
        http = self._http or aiohttp.ClientSession()
        delay = 1.0
        try:
            while not self._closing and self.call.state != CallState.ENDED:
                try:
                    # The socket may cross the same weak link as the call: a dead one
                    # is noticed within HEARTBEAT + HEARTBEAT/2 s, a connection attempt
                    # gives up after CONNECT_TIMEOUT s, and retries stay a few seconds
                    # apart, so the station is back soon after the link.
                    connecting = http.ws_connect(
                        self.url, headers={"Authorization": f"Bearer {self._key}"},
                        heartbeat=HEARTBEAT, max_msg_size=MAX_MESSAGE, **self._tls_options)
                    async with await asyncio.wait_for(connecting, CONNECT_TIMEOUT) as ws:
                        self._ws, delay = ws, 1.0
                        await self._read(ws)
                except (aiohttp.ClientError, OSError, TimeoutError) as error:
                    log.warning("signaling %s: %s", self.url, str(error) or type(error).__name__)
                finally:
                    self._ws = None
                if not self._closing:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, MAX_RETRY_DELAY)
        finally:
            if own_http:
                await http.close()

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                continue
            try:
                message = json.loads(frame.data)
            except (ValueError, RecursionError):
                log.warning("signaling: not JSON, ignored")
                continue
            if isinstance(message, dict):
                await self._handle(message)

    async def _handle(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "peer-joined" and message.get("role") == "doctor":
            self._doctor_present = True
            # Seen again with no peer-left first, a doctor still in a connected call is
            # the signaling path coming back (the server restarted, or this socket moved
            # to another node): the media never went through it, so it is left alone.
            # After a peer-left the console may be a new page: offer afresh. A console
            # that is gone without a peer-left stops its heartbeat, and the call falls
            # to reconnecting, which offers again.
            if self.call.state != CallState.CONNECTED or self._doctor_left:
                self._offer(fresh=self.call.state != CallState.NEW)
            self._doctor_left = False
        elif kind == "peer-left" and message.get("role") == "doctor":
            self._doctor_present = False
            self._doctor_left = True
        elif kind == "answer" and isinstance(message.get("sdp"), str):
            try:
                await self.call.accept_answer(message["sdp"])
            except Exception as error:  # aiortc's SDP parser raises many types: the
                # doctor's answer is untrusted, and a bad one must not end the signaling
                log.warning("signaling: answer refused: %s", type(error).__name__)
        elif kind == "bye":
            self._bye_sent = True  # the doctor hung up: no bye back
            await self.call.close(str(message.get("reason", "bye")))
        elif kind == "doctor-joined" and self._on_doctor_joined is not None:
            try:
                self._on_doctor_joined(message)
            except Exception:  # a bad record must not cut the call's signaling
                log.exception("doctor-joined not recorded")
        elif kind == "error":
            self.errors.append(message)
            log.warning("signaling error: %s", message)

    def _offer(self, *, fresh: bool) -> None:
        """Send an offer (a new peer connection when ``fresh``), one at a time."""
        if self._offering is not None and not self._offering.done():
            return
        self._offering = asyncio.create_task(self._send_offer(fresh))

    async def _send_offer(self, fresh: bool) -> None:
        sdp = await (self.call.reconnect() if fresh else self.call.create_offer())
        await self.send({"type": "offer", "sdp": sdp})
        if fresh:  # no answer, or no media with it: try again while the doctor is there
            if self._retry is not None:
                self._retry.cancel()
            self._retry = asyncio.get_running_loop().call_later(RETRY_OFFER_AFTER,
                                                                self._retry_offer)

    def _retry_offer(self) -> None:
        if self.call.state == CallState.RECONNECTING and self._doctor_present:
            self._offer(fresh=True)

    def _on_call_event(self, event: CallEvent) -> None:
        if not isinstance(event, StateChanged):
            return
        if event.state == CallState.RECONNECTING and self._doctor_present:
            self._offer(fresh=True)
        elif event.state == CallState.ENDED and not self._bye_sent:
            self._bye_sent = True
            self._tasks.add(task := asyncio.create_task(
                self.send({"type": "bye", "reason": event.reason or "ended"})))
            task.add_done_callback(self._tasks.discard)

    async def send(self, message: dict[str, Any]) -> bool:
        """Send one signaling message; False when the socket is down."""
        ws = self._ws
        if ws is None or ws.closed:
            return False
        await ws.send_str(json.dumps(message))
        return True

    async def close(self) -> None:
        """Say bye, close the socket and stop :meth:`run`."""
        if not self._bye_sent:
            self._bye_sent = True
            await self.send({"type": "bye", "reason": "station closed"})
        self._closing = True
        if self._retry is not None:
            self._retry.cancel()
        if self._offering is not None:
            self._offering.cancel()
        if self._ws is not None:
            with contextlib.suppress(Exception):
                await self._ws.close()
