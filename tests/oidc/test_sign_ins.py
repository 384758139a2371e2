"""Where sign-ins wait (station/signaling/oidc_state.py): in memory, and in a real
redis-server shared by two clients standing for two nodes of a cluster."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio

from station.signaling import oidc_state
from station.signaling.oidc_state import (
    MemorySignIns,
    PendingSignIn,
    RedisSignIns,
    SignIns,
    VerifiedDoctor,
)
from tests.signaling.helpers import run
from tests.signaling.redis_server import needs_redis, redis_server

PENDING = PendingSignIn(token="invitation-token-Q2xhaXJlTWFydGlu", nonce="n0nce",
                        verifier="v" * 64, browser="b" * 64)
DOCTOR = VerifiedDoctor("Claire MARTIN", "10000000009", "https://issuer.example", "f:sub")
TOKEN_SHA = "a" * 64


@pytest.fixture(scope="module")
def redis_url() -> Iterator[str]:
    """One redis-server for the module (requested only by tests marked needs_redis)."""
    with redis_server() as url:
        yield url


@asynccontextmanager
async def two_nodes(kind: str, url: str) -> AsyncIterator[tuple[SignIns, SignIns, Any]]:
    """Two views of one book: the same object in memory, two Redis clients otherwise."""
    if kind == "memory":
        book = MemorySignIns()
        yield book, book, None
        return
    first, second = redis.asyncio.Redis.from_url(url), redis.asyncio.Redis.from_url(url)
    try:
        await first.flushdb()
        yield RedisSignIns(first), RedisSignIns(second), first
    finally:
        await first.aclose()
        await second.aclose()


KINDS = ["memory", pytest.param("redis", marks=needs_redis)]


def url_for(kind: str, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("redis_url")) if kind == "redis" else ""


@pytest.mark.parametrize("kind", KINDS)
def test_a_sign_in_in_flight_is_taken_once(kind: str, request: pytest.FixtureRequest) -> None:
    async def body() -> None:
        async with two_nodes(kind, url_for(kind, request)) as (a, b, _):
            await a.put_pending("state-1", PENDING)
            assert await b.take_pending("unknown") is None
            # Two nodes take at once (the provider's redirect replayed): one wins.
            taken = await asyncio.gather(a.take_pending("state-1"), b.take_pending("state-1"))
            assert sorted(taken, key=lambda p: p is None) == [PENDING, None]
            assert await a.take_pending("state-1") is None
    run(body)


@pytest.mark.parametrize("kind", KINDS)
def test_a_verified_doctor_is_read_until_dropped(kind: str,
                                                 request: pytest.FixtureRequest) -> None:
    async def body() -> None:
        async with two_nodes(kind, url_for(kind, request)) as (a, b, _):
            await a.put_verified("cookie-1", TOKEN_SHA, DOCTOR)
            assert await b.get_verified("cookie-1") == (TOKEN_SHA, DOCTOR)
            assert await b.get_verified("cookie-1") == (TOKEN_SHA, DOCTOR)  # the page polls
            assert await a.get_verified("cookie-2") is None
            await b.drop_verified("cookie-1")
            assert await a.get_verified("cookie-1") is None
            await b.drop_verified("cookie-1")  # twice: nothing to do
    run(body)


@pytest.mark.parametrize("kind", KINDS)
def test_entries_expire(kind: str, request: pytest.FixtureRequest,
                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oidc_state, "PENDING_TTL", 0.2)
    monkeypatch.setattr(oidc_state, "VERIFIED_TTL", 0.2)

    async def body() -> None:
        async with two_nodes(kind, url_for(kind, request)) as (a, b, _):
            await a.put_pending("state-1", PENDING)
            await a.put_verified("cookie-1", TOKEN_SHA, DOCTOR)
            deadline = time.monotonic() + 10
            while await b.get_verified("cookie-1") is not None:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)
            assert await b.take_pending("state-1") is None
    run(body)


@needs_redis
def test_redis_holds_neither_the_token_nor_the_doctor(redis_url: str) -> None:
    """Keys are digests, values sealed under the secret; a tampered value opens to nothing."""
    async def body() -> None:
        async with two_nodes("redis", redis_url) as (a, b, raw):
            await a.put_pending("state-secret", PENDING)
            await a.put_verified("cookie-secret", TOKEN_SHA, DOCTOR)
            keys = sorted(k.decode() for k in await raw.keys("*"))
            assert [k.rsplit(":", 1)[0] for k in keys] == ["sig:oidc-pending",
                                                           "sig:oidc-verified"]
            dump = b"".join([k.encode() + await raw.get(k) for k in keys])
            for secret in (PENDING.token, PENDING.verifier, "state-secret", "cookie-secret",
                           DOCTOR.rpps, DOCTOR.name, TOKEN_SHA):
                assert secret.encode() not in dump, secret
            ttl = await raw.pttl(keys[0])
            assert 0 < ttl <= oidc_state.PENDING_TTL * 1000
            # A value flipped in Redis, or moved under another key, opens to nothing.
            value = bytearray(await raw.get(keys[1]))
            value[-1] ^= 1
            await raw.set(keys[1], bytes(value))
            assert await b.get_verified("cookie-secret") is None
            await raw.set(keys[1], await raw.get(keys[0]))
            assert await b.get_verified("cookie-secret") is None
            assert await b.take_pending("state-secret") == PENDING
    run(body)


def test_memory_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(oidc_state, "PENDING_MAX", 3)

    async def body() -> None:
        book = MemorySignIns()
        for i in range(5):
            await book.put_pending(f"s{i}", PENDING)
        assert await book.take_pending("s0") is None  # the oldest went
        assert await book.take_pending("s4") == PENDING
    run(body)
