"""Doctors' socket tickets: issued by ``POST /api/join``, redeemed by ``/ws/doctor``.

A ticket is ``secrets.token_urlsafe(32)``, good for one socket, for a while:
a minute between the join form and the socket the console opens right
after, or two hours for the *rejoin* ticket the server hands the console over
its socket so that it can come back after a drop.

Where tickets are kept is a :class:`TicketBook`:

- :class:`InMemoryTicketBook`: the station's embedded server (it dies with
  the station, and so does the call);
- :class:`SqliteTicketBook`: ``station serve`` alone; its store keeps the
  tickets' SHA-256, so a restart of the server loses none;
- :class:`RedisTicketBook`: a cluster of ``station serve`` nodes (any node
  redeems what another issued; Redis expires them).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

from station.signaling.limits import TICKET_TTL_SECONDS
from station.store.database import Store

TICKET_SWEEP_SECONDS = 1.0  # how often the in-memory book forgets expired tickets
STORE_SWEEP_SECONDS = 60.0  # how often the SQLite book deletes expired rows
REDIS_PREFIX = "sig:ticket:"


@dataclass(frozen=True, slots=True)
class Ticket:
    """What a doctor's ticket opens: one socket to one room, soon."""

    session_id: str
    doctor_name: str
    doctor_rpps: str
    expires: float  # on the book's clock


def ticket_digest(ticket: str) -> str:
    """The SHA-256 (hex) under which a ticket is kept outside memory."""
    return hashlib.sha256(ticket.encode()).hexdigest()


class TicketBook(Protocol):
    """Issues single-use tickets and redeems them once."""

    async def issue(self, session_id: str, doctor_name: str, doctor_rpps: str,
                    ttl: float | None = None) -> str:
        """A new opaque ticket for the room ``session_id``, valid ``ttl`` seconds
        (the book's default when None)."""

    async def redeem(self, ticket: str) -> Ticket | None:
        """The ticket's room, once: a second use, or a late one, gets None."""


class InMemoryTicketBook:
    """Tickets in a dict, for one process (the embedded server)."""

    def __init__(self, ttl: float = TICKET_TTL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._ttl = ttl
        self._clock = clock
        self._tickets: dict[str, Ticket] = {}
        self._swept = clock()

    @property
    def held(self) -> int:
        """Tickets held in memory (expired ones until the next sweep)."""
        return len(self._tickets)

    async def issue(self, session_id: str, doctor_name: str, doctor_rpps: str,
                    ttl: float | None = None) -> str:
        """See :meth:`TicketBook.issue`."""
        now = self._clock()
        # Forget expired tickets at most once a second: sweeping at every issue made
        # each join cost O(tickets held), with thousands of 2 h rejoin tickets under
        # load (bench/load.py). Memory stays bounded; redeem() checks expiry anyway.
        if now - self._swept >= TICKET_SWEEP_SECONDS:
            self._tickets = {k: t for k, t in self._tickets.items() if t.expires > now}
            self._swept = now
        ticket = secrets.token_urlsafe(32)
        lifetime = self._ttl if ttl is None else ttl
        self._tickets[ticket] = Ticket(session_id, doctor_name, doctor_rpps, now + lifetime)
        return ticket

    async def redeem(self, ticket: str) -> Ticket | None:
        """See :meth:`TicketBook.redeem`."""
        found = self._tickets.pop(ticket, None)
        if found is None or found.expires <= self._clock():
            return None
        return found


class SqliteTicketBook:
    """Tickets in the standalone server's store (digests only), surviving a restart.

    Expiry is on the wall clock (``time.time``): a monotonic clock restarts with
    the process.
    """

    def __init__(self, store: Store, ttl: float = TICKET_TTL_SECONDS,
                 clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._ttl = ttl
        self._clock = clock
        self._swept = float("-inf")

    async def issue(self, session_id: str, doctor_name: str, doctor_rpps: str,
                    ttl: float | None = None) -> str:
        """See :meth:`TicketBook.issue`."""
        now = self._clock()
        ticket = secrets.token_urlsafe(32)
        expires = now + (self._ttl if ttl is None else ttl)
        with self._store.write() as conn:
            if now - self._swept >= STORE_SWEEP_SECONDS:  # bounded table, cheap issues
                conn.execute("DELETE FROM signaling_tickets WHERE expires_at <= ?", (now,))
                self._swept = now
            conn.execute(
                "INSERT INTO signaling_tickets (ticket_sha256, session_id, doctor_name,"
                " doctor_rpps, expires_at) VALUES (?, ?, ?, ?, ?)",
                (ticket_digest(ticket), session_id, doctor_name, doctor_rpps, expires))
        return ticket

    async def redeem(self, ticket: str) -> Ticket | None:
        """See :meth:`TicketBook.redeem`; the row goes in the same statement that reads it."""
        with self._store.write() as conn:
            row = conn.execute(
                "DELETE FROM signaling_tickets WHERE ticket_sha256 = ?"
                " RETURNING session_id, doctor_name, doctor_rpps, expires_at",
                (ticket_digest(ticket),)).fetchone()
        if row is None or row[3] <= self._clock():
            return None
        return Ticket(row[0], row[1], row[2], float(row[3]))


class RedisTicketBook:
    """Tickets shared by the nodes of a cluster: ``sig:ticket:<sha256>`` keys whose
    TTL is the ticket's life, redeemed atomically with ``GETDEL``."""

    def __init__(self, redis: Redis, ttl: float = TICKET_TTL_SECONDS) -> None:
        self._redis = redis
        self._ttl = ttl

    async def issue(self, session_id: str, doctor_name: str, doctor_rpps: str,
                    ttl: float | None = None) -> str:
        """See :meth:`TicketBook.issue`."""
        ticket = secrets.token_urlsafe(32)
        lifetime = self._ttl if ttl is None else ttl
        expires = time.time() + lifetime
        value = json.dumps({"session": session_id, "name": doctor_name, "rpps": doctor_rpps,
                            "expires": expires})
        await self._redis.set(REDIS_PREFIX + ticket_digest(ticket), value,
                              px=max(1, int(lifetime * 1000)))
        return ticket

    async def redeem(self, ticket: str) -> Ticket | None:
        """See :meth:`TicketBook.redeem`: two nodes redeeming at once, one wins."""
        raw = await self._redis.getdel(REDIS_PREFIX + ticket_digest(ticket))
        if raw is None:
            return None
        data = json.loads(raw)
        if data["expires"] <= time.time():  # Redis expiry is lazy to the millisecond
            return None
        return Ticket(data["session"], data["name"], data["rpps"], float(data["expires"]))
