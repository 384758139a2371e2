"""Doctors' OpenID Connect sign-in on a standalone server (``station serve``'s app,
over its own SQLite file) for a remote station: the doctor signs in at a real
provider (oidc-provider under Node.js) through the server, joins, and the station
records, in its own store, the RPPS of the provider's claims and who vouched."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from station.call.peer import StationCall
from station.call.signaling import SignalingClient
from station.errors import StationError
from station.signaling.client_api import InvitationClient, SignalingConfig, record_doctor_joined
from station.signaling.runner import RunningServer, start_server
from station.signaling.server import create_app
from station.signaling.stations import StationDirectory
from station.store.database import Store
from station.store.sessions import SessionRecords
from tests.oidc.provider import DR_MARTIN, DR_MARTIN_NAME, DR_MARTIN_RPPS, Provider
from tests.oidc.station_side import Station, station_config
from tests.signaling.helpers import GOOD_RPPS, local_tls, make_session, receive_json, run

S1 = "sess-a-0001"
WAIT = 30.0  # generous: a loaded machine


@dataclass
class Serve:
    """A standalone server with ``[oidc]``, station ``a``'s settings, a doctor's browser."""

    server: RunningServer
    store: Store
    config: SignalingConfig
    browser: Station  # the doctor's browser, driving the sign-in pages

    async def join(self, token: str, rpps: str = GOOD_RPPS) -> tuple[int, dict[str, Any]]:
        body = {"name": "Dr Claire Martin", "rpps": rpps, "specialty": "gériatrie"}
        async with self.browser.http.post(f"{self.server.url}/api/join/{token}",
                                          json=body) as response:
            return response.status, dict(await response.json())


@asynccontextmanager
async def serve(tmp_path: Path, provider: Provider, **oidc: Any) -> AsyncIterator[Serve]:
    """``station serve``'s app on the port the provider redirects to."""
    with Store.open(tmp_path / "server.sqlite3") as store:
        key = StationDirectory(store).add("a", "EHPAD A")
        app = create_app(store, public_url=provider.station_url,
                         oidc=station_config(provider, **oidc))
        context, client = local_tls(tmp_path)
        server = await start_server(app, "127.0.0.1", provider.station_port,
                                    ssl_context=context, client_tls=client)
        config = SignalingConfig(server.url, "a", key, tmp_path / "tls" / "localhost.crt")
        try:
            async with aiohttp.ClientSession(
                    cookie_jar=aiohttp.CookieJar(unsafe=True),
                    connector=aiohttp.TCPConnector(ssl=client.context)) as http:
                yield Serve(server, store, config, Station(server, http))
        finally:
            await server.stop()


@asynccontextmanager
async def remote_station(s: Serve, store: Store) -> AsyncIterator[asyncio.Event]:
    """Station ``a``'s signaling client on S1, recording doctor-joined in ``store``
    as the station's runtime does; the event is set once one is recorded."""
    recorded = asyncio.Event()

    def on_joined(message: dict[str, Any]) -> None:
        if record_doctor_joined(store, S1, message):
            recorded.set()

    call = StationCall({}, ice_servers=[])
    client = SignalingClient(s.server.url, S1, s.config.credential, call,
                             on_doctor_joined=on_joined, tls=s.config.tls())
    running = asyncio.create_task(client.run())
    try:
        for _ in range(int(WAIT / 0.05)):  # the socket is seated
            if await s.server.state.rooms.occupants(S1):
                break
            await asyncio.sleep(0.05)
        yield recorded
    finally:
        await client.close()
        await call.close()
        await asyncio.wait_for(running, WAIT)


def test_the_station_records_the_rpps_of_the_claims(tmp_path: Path,
                                                   provider: Provider) -> None:
    station_store = Store.open(tmp_path / "station.sqlite3")
    make_session(station_store, S1)

    async def body() -> None:
        async with serve(tmp_path, provider) as s, remote_station(s, station_store) as recorded:
            link = await InvitationClient(s.config).create(S1, timedelta(minutes=5))
            token = link.url.rsplit("/", 1)[1]
            assert await s.browser.sign_in(token, DR_MARTIN) == f"/join/{token}"
            identity = await s.browser.identity(token)
            assert identity["verified"] == {"name": DR_MARTIN_NAME, "rpps": DR_MARTIN_RPPS,
                                            "issuer": provider.issuer}
            # The typed RPPS is another doctor's: the provider's wins.
            status, answer = await s.join(token, rpps=GOOD_RPPS)
            assert status == 200, answer
            await asyncio.wait_for(recorded.wait(), WAIT)
            # The link is used: no second join, signed in or not.
            async with s.browser.http.get(
                    f"{s.server.url}/api/join/{token}/identity") as response:
                assert response.status == 404
            assert (await s.join(token))[0] == 410
            # The server keeps the identity with the invitation, and says how in its trail.
            row = s.store.conn.execute(
                "SELECT doctor_rpps, doctor_identity FROM remote_invitations WHERE id = ?",
                (link.invitation_id,)).fetchone()
            assert row[0] == DR_MARTIN_RPPS
            assert json.loads(row[1]) == {"method": "oidc", "issuer": provider.issuer,
                                          "subject": DR_MARTIN, "name": DR_MARTIN_NAME}
            details = s.store.conn.execute(
                "SELECT details FROM audit WHERE action = 'invitation.used'").fetchone()
            assert json.loads(details[0])["verified_by"] == "oidc"
            # A station coming back hears the identity again, and records nothing twice.
            async with s.browser.http.ws_connect(f"{s.server.url}/ws/station/{S1}",
                                                 headers=s.config.headers) as socket:
                replay = await receive_json(socket, WAIT)
            assert replay["identity"]["subject"] == DR_MARTIN
            assert not record_doctor_joined(station_store, S1, replay)

    try:
        run(body, timeout=120)
        [event] = [e for e in SessionRecords(station_store).events(S1)
                   if e.type == "doctor_joined"]
        assert event.actor == f"rpps:{DR_MARTIN_RPPS}"
        assert event.data == {
            "name": "Dr Claire Martin", "rpps": DR_MARTIN_RPPS, "specialty": "gériatrie",
            "invitation": 1, "identity": {"method": "oidc", "issuer": provider.issuer,
                                          "subject": DR_MARTIN, "name": DR_MARTIN_NAME}}
    finally:
        station_store.close()


def test_required_sign_in_applies_to_every_station(tmp_path: Path,
                                                   provider: Provider) -> None:
    async def body() -> None:
        async with serve(tmp_path, provider, required=True) as s:
            link = await InvitationClient(s.config).create(S1, timedelta(minutes=5))
            token = link.url.rsplit("/", 1)[1]
            assert (await s.browser.identity(token))["oidc"]["required"] is True
            status, answer = await s.join(token)
            assert (status, answer["error"]) == (403, "oidc.required")
            assert await s.browser.sign_in(token, DR_MARTIN) == f"/join/{token}"
            status, _ = await s.join(token)
            assert status == 200
            # The published description lists the sign-in beside the stations' API.
            async with s.browser.http.get(f"{s.server.url}/openapi.json") as response:
                paths = (await response.json())["paths"]
            assert {"/oidc/login/{token}", "/oidc/callback", "/api/invitations"} <= set(paths)
    run(body, timeout=120)


def test_a_malformed_identity_in_doctor_joined_is_refused(tmp_path: Path) -> None:
    """The station checks what the server says vouched for the doctor, as the rest."""
    good = {"type": "doctor-joined", "invitation": 3, "name": "Dr A", "rpps": DR_MARTIN_RPPS,
            "specialty": "MG", "time": "2026-11-23T09:00:00.000000+00:00",
            "identity": {"method": "oidc", "issuer": "https://psc.example", "subject": "f:1",
                         "name": "Claire MARTIN"}}
    with Store.open(tmp_path / "station.sqlite3") as store:
        make_session(store, S1)
        for broken in ({"method": "password"}, {"subject": ""}, {"issuer": 3},
                       {"name": "x" * 513}, {"extra": "y"}):
            with pytest.raises(StationError):
                record_doctor_joined(store, S1, {**good,
                                                 "identity": {**good["identity"], **broken}})
        with pytest.raises(StationError):
            record_doctor_joined(store, S1, {**good, "identity": "oidc"})
        assert record_doctor_joined(store, S1, good)
        [event] = [e for e in SessionRecords(store).events(S1) if e.type == "doctor_joined"]
        assert event.data["identity"] == good["identity"]
