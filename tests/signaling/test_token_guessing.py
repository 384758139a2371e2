"""10,000 wrong invitation tokens get nothing: the address is locked out after a few
dozen failures (429, Retry-After), nobody joins, and no token reaches the logs."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections import Counter
from typing import Any

import pytest

from station.signaling.guard import GUARD, LOCK_S, MAX_FAILURES
from station.store.database import Store
from tests.signaling.helpers import DOCTOR, SESSION, run, serving

ATTEMPTS = 10_000


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_ten_thousand_wrong_tokens_get_nothing_and_are_rate_limited(
        store: Store, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    tried: list[str] = [secrets.token_urlsafe(32) for _ in range(ATTEMPTS)]

    async def body() -> tuple[Counter[int], str, int, int, dict[str, Any], str]:
        async with serving(store) as h:
            clock = Clock()
            h.server.app[GUARD]._clock = clock  # the guard of this running server
            valid, _ = h.invitations.create(SESSION)
            statuses: Counter[int] = Counter()

            async def attempt(index: int) -> None:
                token = tried[index]
                if index % 2:
                    async with h.http.get(f"{h.url}/join/{token}") as response:
                        statuses[response.status] += 1
                else:
                    response = await h.join(token)
                    statuses[response.status] += 1
                    response.release()

            for start in range(0, ATTEMPTS, 100):
                await asyncio.gather(*(attempt(i) for i in range(start, start + 100)))
            locked = await h.join(valid)  # even a good link waits while locked out
            retry_after = locked.headers.get("Retry-After", "")
            locked_body = await locked.json()
            clock.now += LOCK_S + 1
            joined = await h.join(valid)
            return statuses, retry_after, locked.status, joined.status, locked_body, valid

    statuses, retry_after, locked_status, joined_status, locked_body, valid = run(
        body, timeout=120)
    assert sum(statuses.values()) == ATTEMPTS
    assert statuses[200] == 0
    assert statuses[404] + statuses[410] <= MAX_FAILURES + 100  # a batch in flight at the lock
    assert statuses[429] >= ATTEMPTS - MAX_FAILURES - 100
    assert locked_status == 429 and int(retry_after) > 0
    assert locked_body["error"] == "signaling.too_many_attempts"
    assert "réessayez dans" in locked_body["message"]
    assert joined_status == 200  # the lock ends; the real doctor joins with the real link
    doctors = store.conn.execute(
        "SELECT COUNT(*) FROM session_events WHERE type = 'doctor_joined'").fetchone()[0]
    assert doctors == 1
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert valid not in logged
    assert not any(token in logged for token in tried[:: 97])
    assert sum("locked out" in record.getMessage() for record in caplog.records) == 1
    assert DOCTOR["name"] not in logged
