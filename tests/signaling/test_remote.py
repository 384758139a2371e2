"""A standalone server for many stations: per-station keys, sessions kept apart,
invitations asked for remotely, and the doctor's identity relayed to the station,
which records it in its own store. Real servers, sockets and SQLite files."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from station.call.peer import StationCall
from station.call.signaling import SignalingClient
from station.clock import from_text, to_text
from station.errors import StationError
from station.signaling.client_api import (
    InvitationClient,
    RemoteServerError,
    SignalingConfig,
    record_doctor_joined,
)
from station.signaling.invitations import Invitations, token_digest
from station.store.database import Store
from station.store.sessions import SessionRecords
from tests.conftest import FakeClock
from tests.signaling.helpers import DOCTOR, GOOD_RPPS, make_session, receive_json, run
from tests.signaling.remote import Standalone, standalone

S1, S2 = "sess-a-0001", "sess-b-0001"


async def status_of(ws_attempt: Any) -> int:
    try:
        ws = await ws_attempt
    except aiohttp.WSServerHandshakeError as error:
        return error.status
    await ws.close()
    return 101


async def join(h: Standalone, url: str, origin: str | None = None) -> aiohttp.ClientResponse:
    token = url.rsplit("/", 1)[1]
    headers = {"Origin": origin} if origin else {}
    async with h.http.post(f"{h.url}/api/join/{token}", json=DOCTOR,
                           headers=headers) as response:
        await response.read()
        return response


def test_each_station_has_its_own_key(tmp_path: Path) -> None:
    async def body() -> None:
        async with standalone(tmp_path / "server.sqlite3") as h:
            assert await status_of(h.station_socket("a", S1)) == 101
            wrong = {"Authorization": f"Bearer a.{h.keys['b']}"}  # b's key under a's id
            unknown = {"Authorization": f"Bearer zz.{h.keys['a']}"}
            bare = {"Authorization": f"Bearer {h.keys['a']}"}
            for headers in (wrong, unknown, bare, {"Authorization": "Basic x"}, {}):
                assert await status_of(h.station_socket("a", S1, headers)) == 401, headers
                async with h.http.post(f"{h.url}/api/invitations", headers=headers,
                                       json={"session_id": S1}) as response:
                    assert response.status == 401
                    assert (await response.json())["error"] == "signaling.station_key"
            assert h.stations.revoke("a")
            assert await status_of(h.station_socket("a", S1)) == 401
            assert (await h.invite("a", S1))[0] == 401
            assert (await h.invite("b", S2))[0] == 201  # b is not affected
    run(body)


def test_a_station_only_touches_its_own_sessions(tmp_path: Path) -> None:
    async def body() -> None:
        async with standalone(tmp_path / "server.sqlite3") as h:
            status, created = await h.invite("a", S1)
            assert status == 201
            # b can neither invite into a's session nor sit in its room...
            status, refused = await h.invite("b", S1)
            assert (status, refused["error"]) == (403, "signaling.not_your_session")
            assert await status_of(h.station_socket("b", S1)) == 403
            # ...nor revoke a's link (as unknown to it).
            status, _ = await h.revoke("b", created["invitation_id"])
            assert status == 404
            # Opening a socket claims a session too: b's S2 is b's from then on.
            b_socket = await h.station_socket("b", S2)
            assert (await h.invite("a", S2))[0] == 403
            assert await status_of(h.station_socket("a", S2)) == 403
            # a's doctor reaches a's room only: b's socket hears nothing of it.
            a_socket = await h.station_socket("a", S1)
            assert (await join(h, created["url"])).status == 200
            assert (await receive_json(a_socket))["type"] == "doctor-joined"
            with pytest.raises(asyncio.TimeoutError):
                await b_socket.receive(timeout=0.5)
            await a_socket.close()
            await b_socket.close()
        with sqlite3.connect(tmp_path / "server.sqlite3") as conn:
            owners = dict(conn.execute("SELECT session_id, station_id FROM signaling_sessions"))
        assert owners == {S1: "a", S2: "b"}
    run(body)


def test_invitations_are_created_and_revoked_remotely(tmp_path: Path) -> None:
    clock = FakeClock()

    async def body() -> None:
        async with standalone(tmp_path / "server.sqlite3", clock) as h:
            status, created = await h.invite("a", S1, ttl_s=900, context={"ward": "B2"})
            assert status == 201
            assert created["url"].startswith(f"{h.url}/join/")
            assert from_text(created["expires_at"]) == clock.now + timedelta(minutes=15)
            token = created["url"].rsplit("/", 1)[1]
            assert len(token) >= 43
            row = h.store.conn.execute(
                "SELECT token_sha256, station_id, session_id, context FROM remote_invitations"
                " WHERE id = ?", (created["invitation_id"],)).fetchone()
            assert tuple(row) == (token_digest(token), "a", S1, '{"ward": "B2"}')
            async with h.http.get(created["url"]) as response:
                assert response.status == 200
            status, revoked = await h.revoke("a", created["invitation_id"])
            assert (status, revoked["state"]) == (200, "revoked")
            assert (await h.revoke("a", created["invitation_id"]))[0] == 200  # idempotent
            async with h.http.get(created["url"]) as response:
                assert response.status == 404
                assert "Lien inconnu ou révoqué" in await response.text()
            assert (await join(h, created["url"])).status == 404
            # A used link cannot be revoked; an expired one shows as such.
            _, used = await h.invite("a", S1)
            assert (await join(h, used["url"])).status == 200
            status, answer = await h.revoke("a", used["invitation_id"])
            assert (status, answer["error"]) == (409, "signaling.invitation_used")
            _, late = await h.invite("a", S1, ttl_s=60)
            clock.advance(seconds=61)
            async with h.http.get(late["url"]) as response:
                assert response.status == 410
                assert "Lien expiré" in await response.text()
            assert (await h.revoke("a", 999))[0] == 404
    run(body)


def test_malformed_invitation_requests_name_the_field(tmp_path: Path) -> None:
    async def body() -> None:
        async with standalone(tmp_path / "server.sqlite3") as h:
            for extra, field in (({"ttl_s": 0}, "ttl_s"), ({"ttl_s": 8 * 86400}, "ttl_s"),
                                 ({"ttl_s": True}, "ttl_s"), ({"context": []}, "context"),
                                 ({"context": {"x": "y" * 5000}}, "context")):
                status, answer = await h.invite("a", S1, **extra)
                assert (status, answer["field"]) == (400, field), extra
            for session in ("", "a/b", "x" * 200):
                status, answer = await h.invite("a", session)
                assert (status, answer["field"]) == (400, "session_id")
            async with h.http.post(f"{h.url}/api/invitations", headers=h.auth("a"),
                                   data=b"not json") as response:
                assert response.status == 400
    run(body)


def test_origin_checks_are_unchanged(tmp_path: Path) -> None:
    async def body() -> None:
        async with standalone(tmp_path / "server.sqlite3") as h:
            evil = {"Origin": "https://evil.example"}
            async with h.http.post(f"{h.url}/api/invitations", json={"session_id": S1},
                                   headers={**h.auth("a"), **evil}) as response:
                assert response.status == 403
            assert await status_of(h.station_socket("a", S1, {**h.auth("a"), **evil})) == 403
            _, created = await h.invite("a", S1)
            assert (await join(h, created["url"], "https://evil.example")).status == 403
            assert (await join(h, created["url"], h.url)).status == 200
            assert await status_of(h.http.ws_connect(
                f"{h.url}/ws/doctor?ticket=x", origin="https://evil.example")) == 403
    run(body)


def _station_store(path: Path) -> Store:
    store = Store.open(path)
    make_session(store, S1)
    return store


def test_the_doctor_is_relayed_and_recorded_in_the_station_store(tmp_path: Path) -> None:
    """Two SQLite files: the doctor joins on the server's, the event lands in the station's."""
    station_store = _station_store(tmp_path / "station.sqlite3")

    async def body() -> None:
        async with standalone(tmp_path / "server.sqlite3") as h:
            config = SignalingConfig(h.url, "a", h.keys["a"], h.ca)
            link = await InvitationClient(config).create(S1, timedelta(minutes=5))
            recorded = asyncio.Event()

            def on_joined(message: dict[str, Any]) -> None:
                if record_doctor_joined(station_store, S1, message):
                    recorded.set()

            call = StationCall({}, ice_servers=[])
            client = SignalingClient(h.url, S1, config.credential, call,
                                     on_doctor_joined=on_joined, tls=config.tls())
            running = asyncio.create_task(client.run())
            try:
                for _ in range(100):  # the socket is seated
                    if await h.server.state.rooms.occupants(S1):
                        break
                    await asyncio.sleep(0.05)
                assert (await join(h, link.url)).status == 200
                await asyncio.wait_for(recorded.wait(), 5)
            finally:
                await client.close()
                await call.close()
                await asyncio.wait_for(running, 5)
            # The server's store has the invitation, no session and no event.
            used = h.store.conn.execute(
                "SELECT doctor_name, doctor_rpps, used_at FROM remote_invitations WHERE id = ?",
                (link.invitation_id,)).fetchone()
            assert tuple(used)[:2] == (DOCTOR["name"], GOOD_RPPS)
            assert h.store.conn.execute("SELECT count(*) FROM session_events").fetchone()[0] == 0
            assert h.store.conn.execute("SELECT count(*) FROM sessions").fetchone()[0] == 0
            # A station that comes back hears it again and records nothing twice.
            socket = await h.station_socket("a", S1)
            replay = await receive_json(socket)
            assert replay["type"] == "doctor-joined"
            assert replay["time"] == used[2]
            assert not record_doctor_joined(station_store, S1, replay)
            await socket.close()

    try:
        run(body)
        events = [e for e in SessionRecords(station_store).events(S1)
                  if e.type == "doctor_joined"]
        assert len(events) == 1
        assert events[0].actor == f"rpps:{GOOD_RPPS}"
        assert events[0].data == {"name": DOCTOR["name"], "rpps": GOOD_RPPS,
                                  "specialty": DOCTOR["specialty"], "invitation": 1}
    finally:
        station_store.close()


def test_a_station_away_when_the_doctor_joined_learns_it_on_return(tmp_path: Path) -> None:
    async def body() -> None:
        async with standalone(tmp_path / "server.sqlite3") as h:
            _, created = await h.invite("a", S1)
            assert (await join(h, created["url"])).status == 200  # no station socket yet
            socket = await h.station_socket("a", S1)
            message = await receive_json(socket)
            assert {k: message[k] for k in ("type", "invitation", "name", "rpps")} == {
                "type": "doctor-joined", "invitation": created["invitation_id"],
                "name": DOCTOR["name"], "rpps": GOOD_RPPS}
            await socket.close()
    run(body)


def test_embedded_and_remote_record_the_same_event(tmp_path: Path) -> None:
    clock = FakeClock()
    with Store.open(tmp_path / "embedded.sqlite3") as embedded:
        make_session(embedded, S1)
        token, _ = Invitations(embedded, "http://x", clock=clock).create(S1)
        Invitations(embedded, "http://x", clock=clock).join(token, DOCTOR["name"], GOOD_RPPS,
                                                            DOCTOR["specialty"])
        local = [e for e in SessionRecords(embedded).events(S1) if e.type == "doctor_joined"]

    async def body() -> dict[str, Any]:
        async with standalone(tmp_path / "server.sqlite3", clock) as h:
            _, created = await h.invite("a", S1)
            socket = await h.station_socket("a", S1)
            assert (await join(h, created["url"])).status == 200
            message: dict[str, Any] = await receive_json(socket)
            await socket.close()
            return message

    message = run(body)
    assert message["time"] == to_text(clock.now)
    station = _station_store(tmp_path / "station.sqlite3")
    try:
        assert record_doctor_joined(station, S1, message)
        remote = [e for e in SessionRecords(station).events(S1) if e.type == "doctor_joined"]
    finally:
        station.close()
    assert len(local) == len(remote) == 1
    assert (local[0].type, local[0].time, local[0].actor, local[0].data) == (
        remote[0].type, remote[0].time, remote[0].actor, remote[0].data)


def test_a_malformed_doctor_joined_is_refused(store: Store) -> None:
    make_session(store, S1)
    good = {"type": "doctor-joined", "invitation": 3, "name": "Dr A", "rpps": GOOD_RPPS,
            "specialty": "MG", "time": "2026-11-23T09:00:00.000000+00:00"}
    for broken in ({"rpps": "12345678901"}, {"name": ""}, {"invitation": "3"},
                   {"time": "hier"}, {"specialty": None}):
        with pytest.raises(StationError):
            record_doctor_joined(store, S1, {**good, **broken})
    assert record_doctor_joined(store, S1, good)
    assert not record_doctor_joined(store, S1, good)
    assert json.loads(store.conn.execute(
        "SELECT data FROM session_events WHERE type = 'doctor_joined'").fetchone()[0])[
        "invitation"] == 3


def test_the_invitation_client_reports_refusals(tmp_path: Path) -> None:
    async def body() -> None:
        async with standalone(tmp_path / "server.sqlite3") as h:
            a = InvitationClient(SignalingConfig(h.url, "a", h.keys["a"], h.ca))
            # The credential as `stations add` printed it:
            b = InvitationClient(SignalingConfig(h.url, "b", f"b.{h.keys['b']}", h.ca))
            link = await a.create(S1, timedelta(minutes=1), {"ward": "B2"})
            with pytest.raises(RemoteServerError) as refused:
                await b.create(S1, timedelta(minutes=1))
            assert refused.value.status == 403
            assert "autre station" in refused.value.message
            assert await a.revoke(link.invitation_id) == "revoked"
            wrong = InvitationClient(SignalingConfig(h.url, "a", "nope", h.ca))
            with pytest.raises(RemoteServerError) as unauthorised:
                await wrong.create(S1, timedelta(minutes=1))
            assert unauthorised.value.status == 401
        gone = InvitationClient(SignalingConfig(h.url, "a", "k", h.ca))
        with pytest.raises(RemoteServerError) as unreachable:
            await gone.create(S1, timedelta(minutes=1))
        assert unreachable.value.code == "signaling.remote_unreachable"
    run(body)
