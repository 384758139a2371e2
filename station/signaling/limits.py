"""Bounds on what one socket may send: message size, rate, and tickets' life.

A signaling socket carries a handful of messages per call (an offer, an
answer, a bye); anything far beyond that is a bug or an attack, answered with
an error message and, if it goes on, by closing the socket.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

# The contract's limit: a larger text frame is answered with an error and
# dropped, the socket stays open.
MAX_MESSAGE_BYTES = 64 * 1024
# aiohttp's own bound (max_msg_size): beyond it aiohttp stops reading the frame
# and closes the socket (1009), so no peer can make the server buffer more.
HARD_MESSAGE_BYTES = 4 * MAX_MESSAGE_BYTES
# Largest POST /api/join body.
MAX_REQUEST_BYTES = 16 * 1024

RATE_PER_SECOND = 20.0
RATE_BURST = 50
# Refused messages in a row (over the rate, oversize) before the socket is closed.
MAX_STRIKES = 100
TICKET_TTL_SECONDS = 60.0
# A doctor's socket that drops (network cut) reconnects with a fresh ticket the
# server gave on the previous socket; it must outlive a long outage.
REJOIN_TICKET_TTL_SECONDS = 2 * 3600.0
HEARTBEAT_SECONDS = 20.0


@dataclass
class TokenBucket:
    """Classic token bucket: ``rate`` tokens a second, at most ``burst`` saved."""

    rate: float = RATE_PER_SECOND
    burst: int = RATE_BURST
    clock: Callable[[], float] = time.monotonic
    _tokens: float = field(init=False)
    _last: float = field(init=False)

    def __post_init__(self) -> None:
        self._tokens = float(self.burst)
        self._last = self.clock()

    def take(self) -> bool:
        """Spend one token; False when the bucket is empty (message refused)."""
        now = self.clock()
        self._tokens = min(float(self.burst), self._tokens + (now - self._last) * self.rate)
        self._last = now
        if self._tokens >= 1.0:
            self._tokens -= 1.0
            return True
        return False


@dataclass
class Strikes:
    """Counts refused messages in a row; an accepted one forgives them."""

    limit: int = MAX_STRIKES
    count: int = 0

    def refuse(self) -> bool:
        """Record a refusal; True when the limit is reached (close the socket)."""
        self.count += 1
        return self.count >= self.limit

    def forgive(self) -> None:
        """An accepted message: start counting again from zero."""
        self.count = 0

# Invitations a station asks a standalone server for (POST /api/invitations).
DEFAULT_INVITATION_TTL_SECONDS = 30 * 60
MAX_INVITATION_TTL_SECONDS = 7 * 24 * 3600
MAX_CONTEXT_BYTES = 4 * 1024
