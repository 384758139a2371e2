"""The embedded server and the limits it applies, without the network when possible."""

from __future__ import annotations

import aiohttp

from station.signaling.limits import Strikes, TokenBucket
from station.signaling.rooms import Role
from station.signaling.runner import start_embedded
from station.signaling.server import origin_of
from station.signaling.sockets import check_message
from station.store.database import Store
from tests.signaling.helpers import SESSION, make_session, run


def test_embedded_start_and_clean_stop_with_open_sockets(store: Store) -> None:
    make_session(store)

    async def body() -> None:
        server = await start_embedded(store)
        assert server.url.startswith("https://127.0.0.1:")  # TLS only
        assert not server.url.endswith(":0")
        assert len(server.station_key) >= 43
        token, url = server.invitations.create(SESSION)
        assert url == f"{server.url}/join/{token}"
        assert server.client_tls is not None
        async with aiohttp.ClientSession() as http:
            station = await http.ws_connect(
                f"{server.url}/ws/station/{SESSION}",
                headers={"Authorization": f"Bearer {server.station_key}"},
                **server.client_tls.options())
            await server.stop()
            closing = await station.receive(timeout=5)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
    run(body, timeout=15)


def test_token_bucket() -> None:
    now = [0.0]
    bucket = TokenBucket(rate=20, burst=50, clock=lambda: now[0])
    assert sum(bucket.take() for _ in range(100)) == 50
    now[0] += 0.5
    assert sum(bucket.take() for _ in range(100)) == 10
    strikes = Strikes(limit=3)
    assert not strikes.refuse()
    strikes.forgive()
    assert [strikes.refuse() for _ in range(3)] == [False, False, True]


def test_messages_are_checked_and_trimmed() -> None:
    assert check_message('{"type": "offer", "sdp": "x", "evil": 1}', Role.STATION).message == {
        "type": "offer", "sdp": "x"}
    assert check_message('{"type": "bye"}', Role.DOCTOR).message == {"type": "bye",
                                                                     "reason": ""}
    assert check_message("null", Role.DOCTOR).error["code"] == "signaling.bad_json"
    assert check_message('{"type": "x"}', Role.DOCTOR).error["message"] == (
        "type de message inconnu : « x »")


def test_origins_are_normalised() -> None:
    assert origin_of("HTTPS://Signal.Example.fr:443/join/x") == "https://signal.example.fr"
    assert origin_of("http://127.0.0.1:8443") == "http://127.0.0.1:8443"
    assert origin_of("http://[::1]:80/") == "http://[::1]"


