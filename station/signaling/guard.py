"""Invitation links cannot be guessed by trying: failed lookups are rate-limited.

A link's token has 256 bits, so guessing one is hopeless; still, nobody
should be able to try tokens by the thousand. Every request that names a
token (the doctor's page, the join API, the sign-in start) and is answered
"unknown", "expired" or "already used" counts as a failure for the client's
address. After :data:`MAX_FAILURES` failures within :data:`WINDOW_S`, that
address gets 429 (``Retry-After``) for :data:`LOCK_S` on those routes,
valid tokens included, and the server logs the lock once (the address and
the count, never a token). A doctor who mistypes a link a few times, or
opens an old one, stays far below the limit.

Behind a reverse proxy every client has the proxy's address: the proxy must
then limit per client itself, or all doctors share one budget.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable

from aiohttp import web

from station.i18n import tr

log = logging.getLogger(__name__)

MAX_FAILURES = 30
WINDOW_S = 600.0
LOCK_S = 900.0
GUARDED_PREFIXES = ("/join/", "/api/join/", "/oidc/login/")
FAILED_STATUSES = frozenset({404, 410})  # unknown token; expired, used or revoked link

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class TokenGuard:
    """Failed token lookups per client address, and the addresses locked out."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 max_failures: int = MAX_FAILURES, window_s: float = WINDOW_S,
                 lock_s: float = LOCK_S) -> None:
        self._clock = clock
        self.max_failures, self.window_s, self.lock_s = max_failures, window_s, lock_s
        self._failures: dict[str, deque[float]] = {}
        self._locked_until: dict[str, float] = {}

    def retry_after(self, address: str) -> float:
        """Seconds this address must still wait (0 when it may try)."""
        until = self._locked_until.get(address)
        if until is None:
            return 0.0
        left = until - self._clock()
        if left <= 0:
            del self._locked_until[address]
            return 0.0
        return left

    def failed(self, address: str) -> None:
        """One more failed lookup from ``address``; locks it past the limit."""
        now = self._clock()
        times = self._failures.setdefault(address, deque())
        times.append(now)
        while times and now - times[0] > self.window_s:
            times.popleft()
        if len(times) >= self.max_failures:
            self._locked_until[address] = now + self.lock_s
            log.warning("invitation links: %s locked out for %.0f s after %d failed lookups",
                        address, self.lock_s, len(times))
            times.clear()
        self._forget_old(now)

    def _forget_old(self, now: float) -> None:
        # Bounded memory whatever the number of addresses: drop the quiet ones.
        if len(self._failures) > 10_000:
            for address in [a for a, t in self._failures.items()
                            if not t or now - t[-1] > self.window_s]:
                del self._failures[address]


def guarded(path: str) -> bool:
    """Does ``path`` name an invitation token?"""
    return path.startswith(GUARDED_PREFIXES)


GUARD: web.AppKey[TokenGuard] = web.AppKey("token_guard", TokenGuard)


def install(app: web.Application) -> None:
    """Guard ``app``'s token routes (the guard is ``app[GUARD]``, replaceable until
    the app starts, e.g. by a test with its own clock)."""
    app[GUARD] = TokenGuard()
    app.middlewares.append(limit_token_lookups)


@web.middleware
async def limit_token_lookups(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refuse a locked-out address on the token routes; count its failed lookups."""
    if not guarded(request.path):
        return await handler(request)
    guard = request.app[GUARD]
    address = request.remote or "unknown"
    wait = guard.retry_after(address)
    if wait > 0:
        return web.json_response(
            {"error": "signaling.too_many_attempts",
             "message": tr("signaling.too_many_attempts", minutes=max(1, round(wait / 60)))},
            status=429, headers={"Retry-After": str(max(1, round(wait))),
                                 "Cache-Control": "no-store"})
    response = await handler(request)
    if response.status in FAILED_STATUSES:
        guard.failed(address)
    return response
