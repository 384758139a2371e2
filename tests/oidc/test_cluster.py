"""Doctors' OpenID Connect sign-in across the nodes of a signaling cluster.

Real parts on loopback: a real provider (oidc-provider under Node.js), one
``redis-server`` and two ``station serve --redis`` processes, each reading
``[oidc]`` from the ``station.toml`` of its own home (the client secret from
``STATION_OIDC_CLIENT_SECRET``), sharing one certificate and one public URL.
The sign-in starts on node A; the provider sends the browser back to the public
URL, which is node B's port: node B finishes a sign-in it never saw begin. The
verified doctor is then read and spent on node A, and the station, whose socket
is on node B, records the RPPS of the provider's claims.
"""

from __future__ import annotations

import asyncio
import os
import queue
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import aiohttp
import redis

from station.call.peer import StationCall
from station.call.signaling import SignalingClient
from station.oidc_config import SECRET_VARIABLE
from station.signaling.client_api import InvitationClient, SignalingConfig, record_doctor_joined
from station.signaling.demo_cert import demo_certificate
from station.signaling.oidc_state import PENDING_PREFIX, VERIFIED_PREFIX
from station.store.database import Store
from station.store.sessions import SessionRecords
from tests.oidc.provider import (
    DR_MARTIN,
    DR_MARTIN_NAME,
    DR_MARTIN_RPPS,
    STATION_CLIENT,
    Provider,
    query_of,
    sign_in_at_provider,
)
from tests.signaling.cluster_lab import STATION
from tests.signaling.helpers import GOOD_RPPS, make_session, run
from tests.signaling.redis_server import free_port, needs_redis, redis_server

pytestmark = needs_redis
S1 = "sess-grappe-oidc-1"
STATION_ID = "ehpad-oidc"
WAIT = 30.0  # generous: a loaded 2-core machine
START_TIMEOUT = 60.0


@dataclass
class Node:
    """A ``station serve --redis`` process and what it printed."""

    port: int
    process: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"


def _drain(node: Node) -> None:
    assert node.process.stdout is not None
    for line in node.process.stdout:
        node.lines.put(line)


@contextmanager
def nodes(tmp_path: Path, provider: Provider, redis_url: str, cert: Path, key: Path
          ) -> Iterator[tuple[Node, Node]]:
    """Node A on a free port, node B on the provider's redirect port (the public URL)."""
    env = {**os.environ, SECRET_VARIABLE: provider.secrets[STATION_CLIENT]}
    started: list[Node] = []
    try:
        for name, port in (("node-a", free_port()), ("node-b", provider.station_port)):
            home = tmp_path / name
            home.mkdir()
            (home / "station.toml").write_text(
                f'[oidc]\nissuer = "{provider.issuer}"\nclient_id = "{STATION_CLIENT}"\n'
                'acr_values = ""\n', encoding="utf-8")
            process = subprocess.Popen(
                [str(STATION), "serve", "--redis", redis_url, "--port", str(port),
                 "--cert", str(cert), "--key", str(key), "--public-url", provider.station_url],
                env={**env, "STATION_HOME": str(home)}, stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT, text=True)
            node = Node(port, process)
            started.append(node)
            threading.Thread(target=_drain, args=(node,), daemon=True).start()
            _wait_for(node, "OpenID Connect")  # [oidc] read: the node is ready
        yield started[0], started[1]
    finally:
        for node in started:
            node.process.terminate()
            try:
                node.process.wait(timeout=WAIT)
            except subprocess.TimeoutExpired:
                node.process.kill()
                node.process.wait()


def _wait_for(node: Node, text: str) -> None:
    deadline, seen = time.monotonic() + START_TIMEOUT, []
    while time.monotonic() < deadline:
        try:
            line = node.lines.get(timeout=0.5)
        except queue.Empty:
            if node.process.poll() is not None:
                break
            continue
        seen.append(line)
        if text in line:
            return
    raise AssertionError(f"node on {node.port} did not start: {''.join(seen)}")


def _register(tmp_path: Path, redis_url: str) -> str:
    added = subprocess.run(
        [str(STATION), "serve", "--redis", redis_url, "stations", "add", STATION_ID],
        capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "STATION_HOME": str(tmp_path / "admin")})
    assert added.returncode == 0, added.stderr
    return next(line.split(" ", 1)[1] for line in added.stdout.splitlines()
                if line.startswith("STATION-KEY "))


def _keys(redis_url: str, prefix: str) -> list[bytes]:
    with redis.Redis.from_url(redis_url) as client:
        return list(client.keys(prefix + "*"))


def test_sign_in_starts_on_one_node_and_comes_back_to_another(
        tmp_path: Path, provider: Provider) -> None:
    station_store = Store.open(tmp_path / "station.sqlite3")
    make_session(station_store, S1)
    with redis_server(tmp_path / "redis") as redis_url:
        cert, cert_key = demo_certificate(tmp_path / "tls")
        station_key = _register(tmp_path, redis_url)
        with nodes(tmp_path, provider, redis_url, cert, cert_key) as (a, b):

            async def body() -> None:
                tls = ssl.create_default_context(cafile=str(cert))
                on_b = SignalingConfig(b.url, STATION_ID, station_key, cert)
                recorded = asyncio.Event()

                def on_joined(message: dict[str, Any]) -> None:
                    if record_doctor_joined(station_store, S1, message):
                        recorded.set()

                call = StationCall({}, ice_servers=[])
                client = SignalingClient(b.url, S1, on_b.credential, call,
                                         on_doctor_joined=on_joined, tls=on_b.tls())
                running = asyncio.create_task(client.run())
                try:
                    await doctor_signs_in(a, b, tls, on_b, redis_url, provider.issuer)
                    await asyncio.wait_for(recorded.wait(), WAIT)  # relayed from A to B
                finally:
                    await client.close()
                    await call.close()
                    await asyncio.wait_for(running, WAIT)

            run(body, timeout=180)
    try:
        [event] = [e for e in SessionRecords(station_store).events(S1)
                   if e.type == "doctor_joined"]
        assert event.data["rpps"] == DR_MARTIN_RPPS
        assert event.data["identity"] == {"method": "oidc", "issuer": provider.issuer,
                                          "subject": DR_MARTIN, "name": DR_MARTIN_NAME}
    finally:
        station_store.close()


async def doctor_signs_in(a: Node, b: Node, tls: ssl.SSLContext, on_b: SignalingConfig,
                          redis_url: str, issuer: str) -> None:
    """The doctor's browser: login on A, callback on B, identity and join on A."""
    link = await InvitationClient(on_b).create(S1, timedelta(minutes=10))
    token = link.url.rsplit("/", 1)[1]
    async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True),
                                     connector=aiohttp.TCPConnector(ssl=tls)) as browser:
        async with browser.get(f"{a.url}/oidc/login/{token}",
                               allow_redirects=False) as response:
            assert response.status == 302, await response.text()
            authorize = response.headers["Location"]
        assert query_of(authorize)["redirect_uri"] == f"{b.url}/oidc/callback"
        assert len(_keys(redis_url, PENDING_PREFIX)) == 1  # A's sign-in, in Redis
        back = await sign_in_at_provider(browser, authorize, DR_MARTIN)
        assert back.startswith(f"{b.url}/oidc/callback?")
        async with browser.get(back, allow_redirects=False) as response:
            assert response.status == 303, await response.text()
            assert response.headers["Location"] == f"/join/{token}"
        assert _keys(redis_url, PENDING_PREFIX) == []  # taken, once
        # The provider's answer brought again, to the other node: already spent.
        async with browser.get(back.replace(b.url, a.url), allow_redirects=False) as response:
            assert response.status == 400
            assert "Connexion interrompue" in await response.text()
        async with browser.get(f"{a.url}/api/join/{token}/identity") as response:
            verified = (await response.json())["verified"]
        assert verified == {"name": DR_MARTIN_NAME, "rpps": DR_MARTIN_RPPS, "issuer": issuer}
        async with browser.post(f"{a.url}/api/join/{token}", json={
                "name": "Dr Claire Martin", "rpps": GOOD_RPPS, "specialty": "gériatrie"}
                ) as response:
            assert response.status == 200, await response.text()
        assert _keys(redis_url, VERIFIED_PREFIX) == []  # spent by the join
