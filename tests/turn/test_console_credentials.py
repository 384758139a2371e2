"""What the signaling server gives doctors' consoles for the relay, and when.

A real server (TLS, port 0) with ``[turn]`` settings: the first message of a
doctor's socket, after a valid ticket, carries the relay's URLs and a fresh
credential coturn would accept (checked with the HMAC recomputed here); the
socket it comes back with gets its own; ``GET /api/config``, open to anyone,
gives none; without ``[turn]`` nothing is added.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from typing import Any

from station.signaling.runner import start_server
from station.signaling.server import create_app
from station.store.database import Store
from station.turn_config import TurnConfig
from tests.signaling.helpers import KEY, Harness, local_tls, make_session, run, tls_session

TURN = TurnConfig(urls=("turn:relais.example.fr:3478?transport=udp",
                        "turns:relais.example.fr:5349?transport=tcp"),
                  secret="console-test-shared-secret", lifetime_hours=2)


async def _first_message(store: Store, turn: TurnConfig | None) -> tuple[dict[str, Any], ...]:
    """The first message of a doctor's socket, of the socket it comes back with,
    and the body of ``GET /api/config``."""
    make_session(store)
    app = create_app(store, station_key=KEY, turn=turn)
    context, client = local_tls(store.path.parent)
    server = await start_server(app, "127.0.0.1", 0, ssl_context=context, client_tls=client)
    try:
        async with tls_session(client) as http:
            harness = Harness(server, http)
            ticket = await harness.ticket()
            first = await http.ws_connect(f"{server.url}/ws/doctor?ticket={ticket}",
                                          origin=server.url)
            greeting = await first.receive_json(timeout=10)
            await first.close()
            again = await http.ws_connect(f"{server.url}/ws/doctor?ticket={greeting['ticket']}",
                                          origin=server.url)
            regreeting = await again.receive_json(timeout=10)
            await again.close()
            async with http.get(f"{server.url}/api/config") as response:
                config = await response.json()
            return greeting, regreeting, config
    finally:
        await server.stop()


def _check_credential(server: dict[str, Any], before: float) -> None:
    assert server["urls"] == list(TURN.urls)
    found = re.fullmatch(r"(\d+):doctor-[0-9a-f]{16}", server["username"])
    assert found, server["username"]
    expiry = int(found.group(1))
    assert before + 2 * 3600 <= expiry <= time.time() + 2 * 3600 + 1
    expected = base64.b64encode(hmac.new(TURN.secret.encode(), server["username"].encode(),
                                         hashlib.sha1).digest()).decode()
    assert server["credential"] == expected


def test_each_doctor_socket_gets_fresh_relay_credentials(store: Store) -> None:
    before = int(time.time())
    greeting, regreeting, config = run(lambda: _first_message(store, TURN))
    assert greeting["type"] == "ticket"
    for message in (greeting, regreeting):
        assert len(message["iceServers"]) == 1
        _check_credential(message["iceServers"][0], before)
    # the user label is a hash of the session, not the session id or the doctor
    assert "sess-0001" not in greeting["iceServers"][0]["username"]
    # /api/config answers anyone: it hands out no credential
    assert "username" not in str(config) and "credential" not in str(config)


def test_without_a_relay_the_greeting_is_unchanged(store: Store) -> None:
    greeting, _, config = run(lambda: _first_message(store, None))
    assert set(greeting) == {"type", "ticket", "expires_in"}
    assert config["iceServers"] == []
