"""A real signaling server on 127.0.0.1, port 0, over TLS, for tests without pytest-asyncio."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
from stdnum import luhn

from station.clock import Clock
from station.consent import Act
from station.signaling.invitations import Invitations
from station.signaling.runner import RunningServer, start_server
from station.signaling.server import create_app
from station.signaling.tls import (
    ClientTls,
    TlsSettings,
    own_server_tls,
    server_certificate,
    server_context,
)
from station.store.database import Store
from station.store.sessions import SessionRecords

T = TypeVar("T")
KEY = "test-station-key-0123456789"
SESSION = "sess-0001"
GOOD_RPPS = "1000000000" + luhn.calc_check_digit("1000000000")
DOCTOR = {"name": "Dr Anne Leroy", "rpps": GOOD_RPPS, "specialty": "Médecine générale"}


def run(factory: Callable[[], Awaitable[T]], timeout: float = 20.0) -> T:
    """Run one async test body with an overall timeout."""
    async def bounded() -> T:
        return await asyncio.wait_for(factory(), timeout)
    return asyncio.run(bounded())


def make_session(store: Store, session_id: str = SESSION) -> None:
    """A session row the invitations can point at."""
    SessionRecords(store).create(session_id, Act.TELECONSULTATION, "claire.m", "calling",
                                 datetime(2026, 11, 23, 9, 0, tzinfo=UTC))


def local_tls(data_dir: Path) -> tuple[ssl.SSLContext, ClientTls]:
    """The server context of the local certificate kept under ``data_dir`` (made on
    first use), and the client side that trusts exactly that certificate."""
    certificate = server_certificate(TlsSettings(), data_dir)
    return server_context(certificate), own_server_tls(certificate, TlsSettings())


def tls_session(client: ClientTls) -> aiohttp.ClientSession:
    """A client session verifying the server's certificate with ``client``."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=client.context))


@dataclass
class Harness:
    """A started server and a client session to talk to it."""

    server: RunningServer
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def invitations(self) -> Invitations:
        return self.server.invitations

    async def join(self, token: str, **overrides: str) -> aiohttp.ClientResponse:
        """POST the join form (the response is read already)."""
        async with self.http.post(f"{self.url}/api/join/{token}",
                                  json={**DOCTOR, **overrides}) as response:
            await response.read()
            return response

    async def ticket(self) -> str:
        """A fresh invitation, joined: the doctor's socket ticket."""
        token, _ = self.invitations.create(SESSION)
        async with self.http.post(f"{self.url}/api/join/{token}", json=DOCTOR) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["ticket"])

    async def station(self, session_id: str = SESSION) -> aiohttp.ClientWebSocketResponse:
        return await self.http.ws_connect(f"{self.url}/ws/station/{session_id}",
                                          headers={"Authorization": f"Bearer {KEY}"})

    async def doctor(self, ticket: str | None = None) -> aiohttp.ClientWebSocketResponse:
        """A doctor's socket, past the rejoin ticket the server sends first."""
        ws, _ = await self.doctor_with_rejoin(ticket)
        return ws

    async def doctor_with_rejoin(self, ticket: str | None = None
                                 ) -> tuple[aiohttp.ClientWebSocketResponse, str]:
        """A doctor's socket and the ticket the server gave for coming back."""
        ticket = ticket or await self.ticket()
        ws = await self.http.ws_connect(f"{self.url}/ws/doctor?ticket={ticket}",
                                        origin=self.url)
        first = await ws.receive_json(timeout=5)
        assert first["type"] == "ticket" and first["ticket"] != ticket
        return ws, str(first["ticket"])


@asynccontextmanager
async def serving(store: Store, clock: Clock | None = None,
                  web_root: Path | None = None) -> AsyncIterator[Harness]:
    """Serve ``store`` (with a session) on an ephemeral port for one test."""
    make_session(store)
    extra: dict[str, Any] = {}
    if clock is not None:
        extra["clock"] = clock
    if web_root is not None:
        extra["web_root"] = web_root
    app = create_app(store, station_key=KEY, **extra)
    context, client = local_tls(store.path.parent)
    server = await start_server(app, "127.0.0.1", 0, ssl_context=context, client_tls=client)
    try:
        async with tls_session(client) as http:
            yield Harness(server, http)
    finally:
        await server.stop()


async def receive_json(ws: aiohttp.ClientWebSocketResponse, timeout: float = 5.0) -> Any:
    """The next message of ``ws``, decoded."""
    message = await ws.receive(timeout=timeout)
    assert message.type is aiohttp.WSMsgType.TEXT, message
    return message.json()
