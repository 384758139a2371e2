"""A real standalone signaling server (its own SQLite file) with two stations, for tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from station.clock import Clock, utc_now
from station.signaling.runner import RunningServer, start_server
from station.signaling.server import create_app
from station.signaling.stations import StationDirectory
from station.store.database import Store
from tests.signaling.helpers import local_tls, tls_session


@dataclass
class Standalone:
    """A started standalone server, its store, two stations' credentials and a client."""

    server: RunningServer
    store: Store
    stations: StationDirectory
    keys: dict[str, str]
    http: aiohttp.ClientSession

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def ca(self) -> Path:
        """The server's local certificate, for a station's ``[signaling] ca_file``."""
        return self.store.path.parent / "tls" / "localhost.crt"

    def auth(self, station: str) -> dict[str, str]:
        """``Authorization`` for a station added by the fixture (``a`` or ``b``)."""
        return {"Authorization": f"Bearer {station}.{self.keys[station]}"}

    async def invite(self, station: str, session_id: str, **body: Any
                     ) -> tuple[int, dict[str, Any]]:
        """POST /api/invitations as ``station``: status and JSON."""
        async with self.http.post(f"{self.url}/api/invitations", headers=self.auth(station),
                                  json={"session_id": session_id, "ttl_s": 600, **body}
                                  ) as response:
            return response.status, await response.json()

    async def revoke(self, station: str, invitation_id: int) -> tuple[int, dict[str, Any]]:
        async with self.http.delete(f"{self.url}/api/invitations/{invitation_id}",
                                    headers=self.auth(station)) as response:
            return response.status, await response.json()

    async def station_socket(self, station: str, session_id: str,
                             headers: dict[str, str] | None = None
                             ) -> aiohttp.ClientWebSocketResponse:
        given = self.auth(station) if headers is None else headers
        return await self.http.ws_connect(f"{self.url}/ws/station/{session_id}", headers=given)


@asynccontextmanager
async def standalone(path: Path, clock: Clock = utc_now) -> AsyncIterator[Standalone]:
    """``station serve`` in-process over a store of its own at ``path``, stations ``a``/``b``,
    over TLS with the local certificate kept next to that store."""
    with Store.open(path) as store:
        stations = StationDirectory(store)
        keys = {name: stations.add(name, f"EHPAD {name.upper()}") for name in ("a", "b")}
        context, client = local_tls(path.parent)
        server = await start_server(create_app(store, clock=clock), "127.0.0.1", 0,
                                    ssl_context=context, client_tls=client)
        try:
            async with tls_session(client) as http:
                yield Standalone(server, store, stations, keys, http)
        finally:
            await server.stop()
