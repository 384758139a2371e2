"""The cluster's shared state against a real redis-server: rooms and relay between
nodes, stale seats of a node that is gone, stations and invitations seen by all."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis
from redis.asyncio import Redis

from station.errors import StationError
from station.signaling.invitations import InvitationError, InvitationState
from station.signaling.redis_invitations import RedisInvitations
from station.signaling.redis_rooms import RedisRoomRegistry
from station.signaling.redis_stations import RedisStationDirectory
from station.signaling.remote_invitations import NotYourSessionError
from station.signaling.rooms import Role, RoomOccupiedError
from station.signaling.stations import key_digest
from station.store.database import Store
from tests.signaling.helpers import GOOD_RPPS, run
from tests.signaling.redis_server import needs_redis, redis_server

pytestmark = needs_redis
ROOM = "sess-cluster-1"


class Recorder:
    """A socket as the registry sees it: records what it is sent and its close."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.closed: tuple[int, str] | None = None
        self.arrived = asyncio.Event()

    async def send(self, message: dict[str, Any]) -> None:
        self.received.append(message)
        self.arrived.set()

    async def close(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    async def next_of(self, kind: str, timeout: float = 10.0) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while True:
                for message in self.received:
                    if message.get("type") == kind:
                        self.received.remove(message)
                        return message
                self.arrived.clear()
                await self.arrived.wait()
        return await asyncio.wait_for(wait(), timeout)


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    with redis_server() as url:
        yield url


@asynccontextmanager
async def node(url: str) -> AsyncIterator[RedisRoomRegistry]:
    """One cluster node's rooms, with its own connection, listening."""
    client = Redis.from_url(url)
    rooms = RedisRoomRegistry(client)
    await rooms.start()
    try:
        yield rooms
    finally:
        await rooms.stop()
        await client.aclose()


def test_a_station_on_one_node_and_a_doctor_on_another_talk(redis_url: str) -> None:
    async def body() -> None:
        async with node(redis_url) as a, node(redis_url) as b:
            station, doctor = Recorder(), Recorder()
            await a.join(ROOM, Role.STATION, station, replace=True)
            await b.join(ROOM, Role.DOCTOR, doctor)
            assert await station.next_of("peer-joined") == {"type": "peer-joined",
                                                              "role": "doctor"}
            assert await doctor.next_of("peer-joined") == {"type": "peer-joined",
                                                             "role": "station"}
            assert await a.relay(ROOM, Role.STATION, {"type": "offer", "sdp": "o"})
            assert (await doctor.next_of("offer"))["sdp"] == "o"
            assert await b.relay(ROOM, Role.DOCTOR, {"type": "answer", "sdp": "a"})
            assert (await station.next_of("answer"))["sdp"] == "a"
            assert await a.occupants(ROOM) == {Role.STATION, Role.DOCTOR}
            # A second doctor socket, through a third node, is refused: the seat is live.
            async with node(redis_url) as c:
                with pytest.raises(RoomOccupiedError):
                    await c.join(ROOM, Role.DOCTOR, Recorder())
                # A station reconnecting through c replaces the one on a, which is closed.
                again = Recorder()
                await c.join(ROOM, Role.STATION, again, replace=True)
                for _ in range(100):
                    if station.closed:
                        break
                    await asyncio.sleep(0.05)
                assert station.closed == (4000, "replaced")
                assert await doctor.next_of("peer-joined") == {"type": "peer-joined",
                                                                 "role": "station"}
                await a.leave(ROOM, Role.STATION, station)  # the replaced socket ends
                assert await b.relay(ROOM, Role.DOCTOR, {"type": "bye", "reason": "x"})
                assert (await again.next_of("bye"))["reason"] == "x"
                await c.leave(ROOM, Role.STATION, again)
                assert await doctor.next_of("peer-left") == {"type": "peer-left",
                                                               "role": "station"}
            await b.leave(ROOM, Role.DOCTOR, doctor)
            assert await a.occupants(ROOM) == set()

    run(body, timeout=60)


def test_seats_of_a_node_that_is_gone_are_free(redis_url: str) -> None:
    room = "sess-cluster-2"

    async def body() -> None:
        async with node(redis_url) as b:
            station, doctor = Recorder(), Recorder()
            gone_client = Redis.from_url(redis_url)
            gone = RedisRoomRegistry(gone_client)
            await gone.start()
            await gone.join(room, Role.STATION, station, replace=True)
            await gone.join(room, Role.DOCTOR, doctor)
            # The node dies without leaving (its pub/sub connection is cut).
            await gone.stop()
            await gone_client.aclose()
            assert await b.occupants(room) == {Role.STATION, Role.DOCTOR}  # stale, so far
            # The doctor comes back through b: the dead node's seat does not block it.
            back = Recorder()
            await b.join(room, Role.DOCTOR, back)
            assert back.received == []  # the station's stale seat was found and freed
            assert await b.occupants(room) == {Role.DOCTOR}
            assert not await b.relay(room, Role.DOCTOR, {"type": "bye", "reason": ""})
            station_back = Recorder()
            await b.join(room, Role.STATION, station_back, replace=True)
            assert await back.next_of("peer-joined") == {"type": "peer-joined",
                                                           "role": "station"}
            assert await b.relay(room, Role.STATION, {"type": "offer", "sdp": "again"})
            assert (await back.next_of("offer"))["sdp"] == "again"

    run(body, timeout=60)


def test_stations_and_invitations_are_shared_by_nodes(redis_url: str, tmp_path: Path) -> None:
    client_a = redis.Redis.from_url(redis_url)
    client_b = redis.Redis.from_url(redis_url)
    with Store.open(tmp_path / "a.sqlite3") as store_a, \
            Store.open(tmp_path / "b.sqlite3") as store_b:
        on_a = RedisStationDirectory(client_a, store_a)
        on_b = RedisStationDirectory(client_b, store_b)
        key = on_a.add("ehpad-a", "EHPAD A")
        other = on_a.add("ehpad-b")
        with pytest.raises(StationError):
            on_b.add("ehpad-a")
        assert [e.station_id for e in on_b.list()] == ["ehpad-a", "ehpad-b"]
        assert on_b.authenticate(f"ehpad-a.{key}") == "ehpad-a"
        assert on_b.authenticate(f"ehpad-a.{other}") is None
        assert on_b.authenticate(f"nobody.{key}") is None
        assert client_a.hget("sig:station:ehpad-a", "key_sha256") == key_digest(key).encode()

        invitations_a = RedisInvitations(client_a, store_a, on_a, "https://lb")
        invitations_b = RedisInvitations(client_b, store_b, on_b, "https://lb")
        invitation, url = invitations_a.create("ehpad-a", "sess-x", timedelta(minutes=5))
        token = url.rsplit("/", 1)[1]
        with pytest.raises(NotYourSessionError):
            invitations_b.create("ehpad-b", "sess-x", timedelta(minutes=5))
        assert invitations_b.state(token) is InvitationState.VALID
        used = invitations_b.join(token, "Dr Anne Leroy", GOOD_RPPS, "Médecine générale")
        assert used.id == invitation.id and used.doctor is not None
        with pytest.raises(InvitationError) as refused:
            invitations_a.join(token, "Dr Other", GOOD_RPPS, "MG")
        assert refused.value.state is InvitationState.USED
        assert [i.id for i in invitations_a.joined("sess-x")] == [invitation.id]
        assert invitations_a.revoke("ehpad-a", invitation.id) is InvitationState.USED
        second, _ = invitations_b.create("ehpad-a", "sess-x", timedelta(minutes=5))
        assert invitations_a.revoke("ehpad-b", second.id) is None  # not its link
        assert invitations_a.revoke("ehpad-a", second.id) is InvitationState.REVOKED
        assert on_b.revoke("ehpad-b") and not on_a.revoke("ehpad-b")
        assert on_a.authenticate(f"ehpad-b.{other}") is None
        # Each node's store has the audit trail of what went through it.
        actions_b = [r[0] for r in store_b.conn.execute("SELECT action FROM audit")]
        assert "invitation.used" in actions_b and "signaling.station_revoked" in actions_b
    client_a.close()
    client_b.close()


def test_two_doctors_racing_on_one_link_through_two_nodes(redis_url: str,
                                                          tmp_path: Path) -> None:
    clients = [redis.Redis.from_url(redis_url) for _ in range(2)]
    with Store.open(tmp_path / "n.sqlite3") as store:
        directories = [RedisStationDirectory(c, store) for c in clients]
        directories[0].add("ehpad-race")
        books = [RedisInvitations(c, store, d) for c, d in zip(clients, directories,
                                                                  strict=True)]
        _, url = books[0].create("ehpad-race", "sess-race", timedelta(minutes=5))
        token = url.rsplit("/", 1)[1]

        def attempt(book: RedisInvitations) -> bool:
            try:
                book.join(token, "Dr A", GOOD_RPPS, "MG")
            except InvitationError:
                return False
            return True

        async def race() -> list[bool]:
            return list(await asyncio.gather(*(asyncio.to_thread(attempt, books[i % 2])
                                               for i in range(8))))

        assert sum(run(race)) == 1
    for client in clients:
        client.close()
