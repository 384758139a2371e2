"""The two sockets: authentication, origin, relay, notifications, limits."""

from __future__ import annotations

import aiohttp
import pytest

from station.store.database import Store
from tests.signaling.helpers import KEY, SESSION, run, serving
from tests.signaling.helpers import receive_json as rx


def test_station_needs_its_key(store: Store) -> None:
    async def body() -> None:
        async with serving(store) as h:
            for headers in ({}, {"Authorization": "Bearer wrong"},
                            {"Authorization": KEY}):
                with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                    await h.http.ws_connect(f"{h.url}/ws/station/{SESSION}", headers=headers)
                assert caught.value.status == 401
            station = await h.station()
            assert not station.closed
            await station.close()
    run(body)


def test_doctor_needs_a_fresh_ticket_used_once(store: Store) -> None:
    async def body() -> None:
        async with serving(store) as h:
            for ticket in ("", "forged"):
                with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                    await h.doctor(ticket or "x")
                assert caught.value.status == 401
            ticket = await h.ticket()
            doctor = await h.doctor(ticket)
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await h.doctor(ticket)
            assert caught.value.status == 401
            await doctor.close()
    run(body)


def test_a_foreign_origin_is_refused_before_upgrade(store: Store) -> None:
    async def body() -> None:
        async with serving(store) as h:
            ticket = await h.ticket()
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await h.http.ws_connect(f"{h.url}/ws/doctor?ticket={ticket}",
                                        origin="https://evil.example")
            assert caught.value.status == 403
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await h.http.ws_connect(f"{h.url}/ws/station/{SESSION}",
                                        headers={"Authorization": f"Bearer {KEY}",
                                                 "Origin": "http://localhost:1"})
            assert caught.value.status == 403
            # The refused attempt did not spend the ticket.
            doctor = await h.doctor(ticket)
            await doctor.close()
    run(body)


def test_offer_answer_relay_and_presence(store: Store) -> None:
    async def body() -> None:
        async with serving(store) as h:
            station = await h.station()
            doctor = await h.doctor()
            assert await rx(station) == {"type": "peer-joined", "role": "doctor"}
            assert await rx(doctor) == {"type": "peer-joined", "role": "station"}
            await station.send_json({"type": "offer", "sdp": "v=0 offer", "extra": 1})
            assert await rx(doctor) == {"type": "offer", "sdp": "v=0 offer"}
            await doctor.send_json({"type": "answer", "sdp": "v=0 answer"})
            assert await rx(station) == {"type": "answer", "sdp": "v=0 answer"}
            await doctor.send_json({"type": "bye", "reason": "fin"})
            assert await rx(station) == {"type": "bye", "reason": "fin"}
            await doctor.close()
            assert await rx(station) == {"type": "peer-left", "role": "doctor"}
            # A station reconnecting replaces its old socket.
            again = await h.station()
            closed = await station.receive(timeout=5)
            assert closed.type is aiohttp.WSMsgType.CLOSE
            await again.send_json({"type": "offer", "sdp": "v=0"})
            assert (await rx(again))["code"] == "signaling.no_peer"
            await again.close()
    run(body)


def test_a_second_doctor_is_refused(store: Store) -> None:
    async def body() -> None:
        async with serving(store) as h:
            first = await h.doctor()
            second = await h.doctor()
            assert (await rx(second))["code"] == "signaling.room_occupied"
            assert (await second.receive(timeout=5)).type is aiohttp.WSMsgType.CLOSE
            station = await h.station()
            assert await rx(station) == {"type": "peer-joined", "role": "doctor"}
            await station.send_json({"type": "offer", "sdp": "v=0"})
            assert await rx(first) == {"type": "peer-joined", "role": "station"}
            assert await rx(first) == {"type": "offer", "sdp": "v=0"}
    run(body)


def test_bad_messages_get_errors_and_the_socket_lives(store: Store) -> None:
    async def body() -> None:
        async with serving(store) as h:
            station = await h.station()
            doctor = await h.doctor()
            await rx(station)
            await rx(doctor)
            cases = [
                ("{not json", "signaling.bad_json"),
                ("[1, 2]", "signaling.bad_json"),
                ('{"type": "dance"}', "signaling.unknown_type"),
                ('{"sdp": "x"}', "signaling.unknown_type"),
                ('{"type": "peer-joined", "role": "doctor"}', "signaling.unknown_type"),
                ('{"type": "offer", "sdp": "x"}', "signaling.wrong_direction"),
                ('{"type": "answer"}', "signaling.missing_field"),
                ('{"type": "answer", "sdp": 12}', "signaling.missing_field"),
            ]
            for text, code in cases:
                await doctor.send_str(text)
                error = await rx(doctor)
                assert (error["type"], error["code"]) == ("error", code), text
                assert error["message"]
            await doctor.send_bytes(b"\x00\x01")
            assert (await rx(doctor))["code"] == "signaling.binary"
            await doctor.send_json({"type": "answer", "sdp": "v=0"})
            assert await rx(station) == {"type": "answer", "sdp": "v=0"}
    run(body)


def test_oversize_messages(store: Store) -> None:
    async def body() -> None:
        async with serving(store) as h:
            station = await h.station()
            doctor = await h.doctor()
            await rx(station)
            await rx(doctor)
            # Over the contract's 64 KiB: an error, the socket stays.
            await doctor.send_json({"type": "answer", "sdp": "a" * (64 * 1024)})
            error = await rx(doctor)
            assert error["code"] == "signaling.too_large"
            await doctor.send_json({"type": "answer", "sdp": "ok"})
            assert await rx(station) == {"type": "answer", "sdp": "ok"}
            # Far over it: aiohttp stops reading and closes (1009).
            await doctor.send_str("x" * (1024 * 1024))
            closing = await doctor.receive(timeout=5)
            assert closing.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert await rx(station) == {"type": "peer-left", "role": "doctor"}
            # Others are still served.
            other = await h.doctor()
            assert await rx(other) == {"type": "peer-joined", "role": "station"}
            async with h.http.get(f"{h.url}/join/unknown") as response:
                assert response.status == 404
    run(body)


def test_rate_limit_then_close_on_sustained_abuse(store: Store) -> None:
    async def body() -> None:
        async with serving(store) as h:
            station = await h.station()
            for _ in range(60):
                await station.send_json({"type": "bye", "reason": "spam"})
            codes = [(await rx(station))["code"] for _ in range(60)]
            assert codes.count("signaling.no_peer") >= 50
            assert "signaling.rate_limited" in codes
            assert not station.closed
            for _ in range(300):
                await station.send_str("{}")
            while True:
                message = await station.receive(timeout=5)
                if message.type is not aiohttp.WSMsgType.TEXT:
                    break
            assert message.type is aiohttp.WSMsgType.CLOSE
            assert message.data == aiohttp.WSCloseCode.POLICY_VIOLATION
    run(body)


def test_a_dropped_doctor_comes_back_with_the_rejoin_ticket(store: Store) -> None:
    async def scenario() -> None:
        async with serving(store) as h:
            first_ticket = await h.ticket()
            ws, rejoin = await h.doctor_with_rejoin(first_ticket)
            await ws.close()
            again, _ = await h.doctor_with_rejoin(rejoin)  # the network came back
            await again.close()
            with pytest.raises(aiohttp.WSServerHandshakeError) as caught:
                await h.http.ws_connect(f"{h.url}/ws/doctor?ticket={first_ticket}",
                                        origin=h.url)
            assert caught.value.status == 401  # each ticket opens one socket only

    run(scenario)


def test_a_ping_is_answered_by_the_server_not_relayed(store: Store) -> None:
    async def body() -> None:
        async with serving(store) as h:
            doctor = await h.doctor()
            station = await h.station()
            assert await rx(station) == {"type": "peer-joined", "role": "doctor"}
            assert await rx(doctor) == {"type": "peer-joined", "role": "station"}
            await doctor.send_json({"type": "ping"})
            assert await rx(doctor) == {"type": "pong"}
            await station.send_json({"type": "ping"})
            assert await rx(station) == {"type": "pong"}
            # Neither ping reached the other side: the next thing each hears is real.
            await station.send_json({"type": "offer", "sdp": "v=0"})
            assert await rx(doctor) == {"type": "offer", "sdp": "v=0"}
    run(body)
