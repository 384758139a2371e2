"""Bounds on what one socket may send: message size, rate, and tickets' life.

A signaling socket carries a handful of messages per call (an offer, an
answer, a bye); anything far beyond that is a bug or an attack, answered with
an error message and, if it goes on, by closing the socket.
"""

from __future__ import annotations

import json
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
# A doctor's socket is pinged more often: on a network cut its seat must be free
# for the console's new socket soon after the link returns (a half-open TCP
# socket holds it until a ping goes unanswered: 4 s, then 2 s for the pong).
DOCTOR_HEARTBEAT_SECONDS = 4.0


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
# Deepest nesting a request body may have: real bodies are flat; 16 KiB of "["
# would otherwise reach the interpreter's recursion limit (RecursionError,
# a 500) in json.loads, or later in json.dumps of what was accepted.
MAX_JSON_DEPTH = 32


def read_json(text: str) -> object:
    """Parse a request body (aiohttp's ``request.json(loads=read_json)``).

    Raises ValueError, which handlers answer with their 400, for what
    ``json.loads`` refuses and also for nesting deeper than
    :data:`MAX_JSON_DEPTH` and for strings that are not Unicode text (a
    ``"\\ud800"`` escape gives a lone surrogate, which neither UTF-8 nor
    SQLite can store).
    """
    try:
        data = json.loads(text)
    except RecursionError as error:
        raise ValueError("JSON nested too deep") from error
    stack: list[tuple[object, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict | list):
            if depth > MAX_JSON_DEPTH:
                raise ValueError("JSON nested too deep")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    key.encode("utf-8")  # UnicodeEncodeError is a ValueError
                stack.append((item, depth + 1))
        elif isinstance(value, str):
            value.encode("utf-8")
    return data
