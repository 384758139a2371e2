"""Three ``station serve`` nodes sharing one Redis, one killed mid-call (issue 10).

Real processes and sockets on loopback (see :mod:`tests.signaling.cluster_lab`):
the station's socket on one node, the doctor's join on a second, the doctor's
socket on a third: offers and answers cross nodes. The station's node is
killed with SIGKILL; the station comes back through another node and the
doctor, who never left, hears it; an invitation made on the dead node before
its death still lets a doctor in; a rejoin ticket handed out by one node is
honoured by another.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import time
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.signaling.cluster_lab import STATION, STATION_ID, ClusterLab, Node
from tests.signaling.helpers import DOCTOR, run
from tests.signaling.redis_server import free_port, needs_redis

pytestmark = needs_redis
SESSION = "sess-grappe-0001"
WAIT = 30.0  # generous: a loaded machine


class Client:
    """aiohttp as the station and the doctor's console, trusting the lab's certificate."""

    def __init__(self, lab: ClusterLab, http: aiohttp.ClientSession) -> None:
        self.lab, self.http = lab, http
        self.tls = ssl.create_default_context(cafile=str(lab.cert))

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {STATION_ID}.{self.lab.key}"}

    async def invite(self, node: Node) -> str:
        async with self.http.post(f"{node.url}/api/invitations", headers=self.auth(),
                                  json={"session_id": SESSION, "ttl_s": 600},
                                  ssl=self.tls) as response:
            assert response.status == 201, await response.text()
            return str((await response.json())["url"]).rsplit("/", 1)[1]

    async def join(self, node: Node, token: str) -> str:
        async with self.http.post(f"{node.url}/api/join/{token}", json=DOCTOR,
                                  ssl=self.tls) as response:
            assert response.status == 200, await response.text()
            return str((await response.json())["ticket"])

    async def station(self, node: Node) -> aiohttp.ClientWebSocketResponse:
        return await self.http.ws_connect(f"{node.url}/ws/station/{SESSION}",
                                          headers=self.auth(), ssl=self.tls)

    async def doctor(self, node: Node, ticket: str
                     ) -> tuple[aiohttp.ClientWebSocketResponse, str]:
        ws = await self.http.ws_connect(f"{node.url}/ws/doctor?ticket={ticket}",
                                        origin=self.lab.url, ssl=self.tls)
        first = await ws.receive_json(timeout=WAIT)
        assert first["type"] == "ticket"
        return ws, str(first["ticket"])


_HELD: dict[int, list[dict[str, Any]]] = {}  # messages read while looking for another kind


async def next_of(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    """The first message of ``kind`` not yet taken; others are kept for later calls."""
    held = _HELD.setdefault(id(ws), [])
    deadline = time.monotonic() + WAIT
    while True:
        for message in held:
            if message.get("type") == kind:
                held.remove(message)
                return message
        frame = await ws.receive(timeout=max(0.1, deadline - time.monotonic()))
        assert frame.type is aiohttp.WSMsgType.TEXT, (kind, frame)
        held.append(dict(frame.json()))


def test_three_nodes_one_killed_mid_call(tmp_path: Path) -> None:
    with ClusterLab(tmp_path, 3) as lab:
        a, b, c = lab.nodes

        async def body() -> None:
            async with aiohttp.ClientSession() as http:
                client = Client(lab, http)
                station = await client.station(a)
                first = await client.invite(b)
                spare = await client.invite(a)  # made on the node about to die
                doctor, rejoin = await client.doctor(c, await client.join(b, first))
                assert await next_of(station, "peer-joined") == {"type": "peer-joined",
                                                                 "role": "doctor"}
                assert (await next_of(station, "doctor-joined"))["rpps"] == DOCTOR["rpps"]
                await next_of(doctor, "peer-joined")
                assert lab.holder(SESSION, "station") is a
                assert lab.holder(SESSION, "doctor") is c
                await station.send_json({"type": "offer", "sdp": "v=0 first"})
                assert (await next_of(doctor, "offer"))["sdp"] == "v=0 first"
                await doctor.send_json({"type": "answer", "sdp": "v=0 answer"})
                assert (await next_of(station, "answer"))["sdp"] == "v=0 answer"

                lab.kill(a)  # mid-call: the station's node
                killed = time.monotonic()
                # The station's socket drops; it comes back through another node.
                while not station.closed:
                    await station.receive(timeout=WAIT)
                station = await client.station(b)
                assert await next_of(doctor, "peer-joined") == {"type": "peer-joined",
                                                                "role": "station"}
                await station.send_json({"type": "offer", "sdp": "v=0 again"})
                assert (await next_of(doctor, "offer"))["sdp"] == "v=0 again"
                assert time.monotonic() - killed < WAIT
                assert lab.holder(SESSION, "station") is b

                # The doctor's socket moves too: the rejoin ticket c gave works on b.
                await doctor.close()
                doctor, _ = await client.doctor(b, rejoin)
                await next_of(doctor, "peer-joined")
                await doctor.send_json({"type": "answer", "sdp": "v=0 back"})
                assert (await next_of(station, "answer"))["sdp"] == "v=0 back"
                # ... and only once.
                with pytest.raises(aiohttp.WSServerHandshakeError) as late:
                    await client.doctor(c, rejoin)
                assert late.value.status == 401
                # The invitation made on the dead node lets a second doctor in, once.
                await doctor.close()
                await next_of(station, "peer-left")
                second, _ = await client.doctor(c, await client.join(c, spare))
                await next_of(second, "peer-joined")
                async with http.post(f"{b.url}/api/join/{spare}", json=DOCTOR,
                                     ssl=client.tls) as again:
                    assert again.status == 410
                await second.close()
                await station.close()

        run(body, timeout=180)
        # The node left standing still work; the dead one's output says nothing of errors.
        assert b.alive() and c.alive()


def test_stations_cli_in_cluster_mode(tmp_path: Path) -> None:
    with ClusterLab(tmp_path, 1) as lab:
        listing = lab.run_cli("stations", "list", home=tmp_path / "elsewhere")
        assert listing.returncode == 0, listing.stderr
        assert listing.stdout.startswith(f"{STATION_ID}\t")  # seen from another home
        revoked = lab.run_cli("stations", "revoke", STATION_ID, home=tmp_path / "other")
        assert revoked.returncode == 0, revoked.stderr
        node = lab.nodes[0]

        async def refused() -> int:
            async with aiohttp.ClientSession() as http:
                client = Client(lab, http)
                async with http.post(f"{node.url}/api/invitations", headers=client.auth(),
                                     json={"session_id": SESSION}, ssl=client.tls) as r:
                    return r.status

        assert run(refused, timeout=60) == 401

def test_an_unreachable_or_malformed_redis_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "STATION_HOME": str(tmp_path)}
    nobody = f"redis://127.0.0.1:{free_port()}/0"
    for url, said in ((nobody, "Redis injoignable"), ("http://x", "adresse Redis invalide")):
        result = subprocess.run([str(STATION), "serve", "--redis", url, "stations", "list"],
                                capture_output=True, text=True, env=env, timeout=120,
                                check=False)
        assert result.returncode != 0
        assert said in result.stderr, result.stderr
