"""Doctors' socket tickets: single use, short-lived, in each book.

The in-memory book (embedded server), the SQLite one (``station serve``; its
tickets outlive the process) and the Redis one (cluster; any node redeems
what another issued, once), each against the real thing.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from redis.asyncio import Redis

from station.signaling.tickets import InMemoryTicketBook, RedisTicketBook, SqliteTicketBook
from station.store.database import Store
from tests.signaling.helpers import run
from tests.signaling.redis_server import needs_redis, redis_server


def test_tickets_are_single_use_and_short_lived() -> None:
    now = [0.0]
    tickets = InMemoryTicketBook(ttl=60, clock=lambda: now[0])

    async def body() -> None:
        first, second = (await tickets.issue("s", "Dr A", "1"),
                         await tickets.issue("s", "Dr A", "1"))
        found = await tickets.redeem(first)
        assert found is not None
        assert found.session_id == "s"
        assert await tickets.redeem(first) is None
        now[0] = 61
        assert await tickets.redeem(second) is None

    run(body)


def test_expired_tickets_are_forgotten_without_a_sweep_per_issue() -> None:
    now = [0.0]
    tickets = InMemoryTicketBook(ttl=60, clock=lambda: now[0])

    async def body() -> None:
        old = await tickets.issue("s", "Dr A", "1")
        now[0] = 61
        assert await tickets.redeem(old) is None  # expired: refused whether swept or not
        stale = await tickets.issue("s", "Dr A", "1", ttl=1)
        now[0] = 62.5
        fresh = [await tickets.issue("s", "Dr A", "1") for _ in range(3)]  # one sweep
        assert tickets.held == 3
        assert await tickets.redeem(stale) is None
        assert all([await tickets.redeem(t) is not None for t in fresh])

    run(body)


def test_sqlite_tickets_survive_a_reopened_store_as_digests(tmp_path: Path) -> None:
    now = [1_000_000.0]
    path = tmp_path / "server.sqlite3"

    async def issue() -> tuple[str, str, str]:
        with Store.open(path) as store:
            book = SqliteTicketBook(store, ttl=60, clock=lambda: now[0])
            return (await book.issue("sess-1", "Dr A", "10000000001", ttl=7200),
                    await book.issue("sess-1", "Dr A", "10000000001"),
                    await book.issue("sess-2", "Dr B", "10000000002"))

    rejoin, short, other = run(issue)
    with Store.open(path) as store:
        rows = store.conn.execute("SELECT ticket_sha256, session_id FROM signaling_tickets"
                                  " ORDER BY session_id").fetchall()
        assert len(rows) == 3
        assert all(t not in str(rows) for t in (rejoin, short, other))  # digests only

    now[0] += 61  # the short tickets expire; the rejoin ticket (2 h) does not

    async def redeem() -> None:
        with Store.open(path) as store:  # a new process would open it the same way
            book = SqliteTicketBook(store, ttl=60, clock=lambda: now[0])
            found = await book.redeem(rejoin)
            assert found is not None
            assert (found.session_id, found.doctor_name) == ("sess-1", "Dr A")
            assert await book.redeem(rejoin) is None  # once
            assert await book.redeem(short) is None  # late
            assert await book.redeem("not-a-ticket") is None
            await book.issue("sess-3", "Dr C", "1")  # sweeps the expired rows
            left = store.conn.execute("SELECT session_id FROM signaling_tickets").fetchall()
            assert left == [("sess-3",)]

    run(redeem)


@needs_redis
def test_redis_tickets_are_shared_and_redeemed_once() -> None:
    with redis_server() as url:
        async def body() -> None:
            node_a, node_b = Redis.from_url(url), Redis.from_url(url)
            try:
                book_a, book_b = RedisTicketBook(node_a, ttl=60), RedisTicketBook(node_b, ttl=60)
                ticket = await book_a.issue("sess-1", "Dr A", "10000000001")
                keys = [key.decode() async for key in node_a.scan_iter("sig:ticket:*")]
                assert len(keys) == 1 and ticket not in keys[0]  # the digest, never the ticket
                ttl_ms = await node_a.pttl(keys[0])
                assert 0 < ttl_ms <= 60_000
                # Both nodes race to redeem the same ticket: exactly one gets it.
                results = await asyncio.gather(*(book.redeem(ticket) for book in
                                                 (book_a, book_b, book_a, book_b)))
                won = [r for r in results if r is not None]
                assert len(won) == 1 and won[0].session_id == "sess-1"
                brief = await book_a.issue("sess-1", "Dr A", "10000000001", ttl=0.2)
                await asyncio.sleep(0.5)
                assert await book_b.redeem(brief) is None  # Redis expired it
            finally:
                await node_a.aclose()
                await node_b.aclose()

        run(body)
