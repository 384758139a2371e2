"""Where doctors' OpenID Connect sign-ins wait, between the provider and the join.

Two kinds of short-lived entries, each under a random secret only the doctor's
browser (or the provider's redirect) carries:

- a sign-in in flight (:class:`PendingSignIn`) under its ``state``, for
  :data:`PENDING_TTL` seconds, taken once by the callback;
- a verified doctor (:class:`VerifiedDoctor`, with the SHA-256 of the
  invitation it is for) under the browser's identity cookie, for
  :data:`VERIFIED_TTL` seconds: read by the invitation page, spent by the join.

Where they are kept is a :class:`SignIns`:

- :class:`MemorySignIns`: one process, the station's embedded server or a
  ``station serve`` on its own (a restart loses the sign-ins in progress: the
  doctor signs in again, nothing else is lost);
- :class:`RedisSignIns`: the nodes of a cluster, so that the sign-in may start
  on one node, come back from the provider to another and join on a third.
  Keys ``sig:oidc-pending:<sha256>`` and ``sig:oidc-verified:<sha256>``
  expire with the entry; a sign-in in flight is taken with ``GETDEL`` (two
  nodes, one winner). Values are sealed (AES-256-GCM) under a key derived
  from the secret, which Redis never sees: a copy of Redis holds neither
  invitation tokens nor doctors' identities.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import OrderedDict
from dataclasses import asdict, dataclass
from typing import Any, Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from redis.asyncio import Redis

PENDING_TTL = 600.0  # seconds a doctor has to sign in at the provider
PENDING_MAX = 1000  # sign-ins in flight at once in memory; the oldest are forgotten beyond
VERIFIED_TTL = 900.0  # seconds between signing in and joining
VERIFIED_MAX = 1000
PENDING_PREFIX = "sig:oidc-pending:"
VERIFIED_PREFIX = "sig:oidc-verified:"


@dataclass(frozen=True, slots=True)
class VerifiedDoctor:
    """Who the provider says signed in: name and RPPS from its claims."""

    name: str
    rpps: str
    issuer: str
    subject: str


@dataclass(frozen=True, slots=True)
class PendingSignIn:
    """A sign-in in flight: what the server keeps under its ``state``."""

    token: str  # the invitation's
    nonce: str
    verifier: str
    browser: str  # SHA-256 of the browser's cookie


class SignIns(Protocol):
    """Keeps sign-ins in flight and verified doctors for a while."""

    async def put_pending(self, state: str, pending: PendingSignIn) -> None:
        """Remember ``pending`` under ``state`` for :data:`PENDING_TTL` seconds."""

    async def take_pending(self, state: str) -> PendingSignIn | None:
        """The sign-in under ``state``, once; None when unknown or expired."""

    async def put_verified(self, key: str, token_sha256: str, doctor: VerifiedDoctor) -> None:
        """Remember ``doctor`` for the invitation ``token_sha256`` under ``key``."""

    async def get_verified(self, key: str) -> tuple[str, VerifiedDoctor] | None:
        """``(invitation's token SHA-256, doctor)`` under ``key``, if still fresh."""

    async def drop_verified(self, key: str) -> None:
        """Forget the doctor under ``key`` (they joined)."""


class MemorySignIns:
    """Sign-ins in this process's memory, bounded in number and time."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, tuple[PendingSignIn, float]] = OrderedDict()
        self._verified: OrderedDict[str, tuple[str, VerifiedDoctor, float]] = OrderedDict()

    @staticmethod
    def _sweep(entries: OrderedDict[str, Any], ttl: float, most: int) -> None:
        now = time.monotonic()
        for key in [k for k, v in entries.items() if now - v[-1] > ttl]:
            del entries[key]
        while len(entries) > most:
            entries.popitem(last=False)

    async def put_pending(self, state: str, pending: PendingSignIn) -> None:
        """See :meth:`SignIns.put_pending`."""
        self._pending[state] = (pending, time.monotonic())
        self._sweep(self._pending, PENDING_TTL, PENDING_MAX)

    async def take_pending(self, state: str) -> PendingSignIn | None:
        """See :meth:`SignIns.take_pending`."""
        self._sweep(self._pending, PENDING_TTL, PENDING_MAX)
        found = self._pending.pop(state, None)
        return None if found is None else found[0]

    async def put_verified(self, key: str, token_sha256: str, doctor: VerifiedDoctor) -> None:
        """See :meth:`SignIns.put_verified`."""
        self._verified[key] = (token_sha256, doctor, time.monotonic())
        self._sweep(self._verified, VERIFIED_TTL, VERIFIED_MAX)

    async def get_verified(self, key: str) -> tuple[str, VerifiedDoctor] | None:
        """See :meth:`SignIns.get_verified`."""
        found = self._verified.get(key)
        if found is None or time.monotonic() - found[2] > VERIFIED_TTL:
            return None
        return found[0], found[1]

    async def drop_verified(self, key: str) -> None:
        """See :meth:`SignIns.drop_verified`."""
        self._verified.pop(key, None)


def _lookup(secret: str) -> str:
    """The Redis key part for ``secret``: its SHA-256, which reveals nothing of it."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _cipher(secret: str) -> AESGCM:
    # A second, unrelated derivation of the same 256-bit secret: knowing the key's
    # name (its SHA-256) gives nothing towards the sealing key.
    return AESGCM(hashlib.sha256(b"station-oidc-seal\x00" + secret.encode()).digest())


def seal(secret: str, value: dict[str, Any]) -> bytes:
    """``value`` as JSON, encrypted and authenticated under a key derived from ``secret``."""
    nonce = os.urandom(12)
    return nonce + _cipher(secret).encrypt(nonce, json.dumps(value).encode(), None)


def unseal(secret: str, sealed: bytes) -> dict[str, Any] | None:
    """What :func:`seal` sealed, or None when it does not open (tampered, wrong secret)."""
    try:
        value = json.loads(_cipher(secret).decrypt(sealed[:12], sealed[12:], None))
    except (InvalidTag, ValueError):
        return None
    return value if isinstance(value, dict) else None


class RedisSignIns:
    """Sign-ins shared by the nodes of a cluster (see the module's docstring)."""

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def _put(self, prefix: str, secret: str, value: dict[str, Any], ttl: float) -> None:
        # The wall-clock expiry travels with the value: Redis expires keys lazily.
        sealed = seal(secret, {**value, "expires": time.time() + ttl})
        await self._redis.set(prefix + _lookup(secret), sealed, px=int(ttl * 1000))

    def _opened(self, secret: str, raw: bytes | str | None) -> dict[str, Any] | None:
        # A client that decodes replies (decode_responses) cannot carry sealed bytes.
        value = unseal(secret, raw) if isinstance(raw, bytes) else None
        if value is None or float(value.pop("expires", 0)) <= time.time():
            return None
        return value

    async def put_pending(self, state: str, pending: PendingSignIn) -> None:
        """See :meth:`SignIns.put_pending`."""
        await self._put(PENDING_PREFIX, state, asdict(pending), PENDING_TTL)

    async def take_pending(self, state: str) -> PendingSignIn | None:
        """See :meth:`SignIns.take_pending`: two nodes taking at once, one wins."""
        value = self._opened(state, await self._redis.getdel(PENDING_PREFIX + _lookup(state)))
        try:
            return None if value is None else PendingSignIn(**value)
        except TypeError:  # sealed by another version of this code
            return None

    async def put_verified(self, key: str, token_sha256: str, doctor: VerifiedDoctor) -> None:
        """See :meth:`SignIns.put_verified`."""
        await self._put(VERIFIED_PREFIX, key, {"token": token_sha256, **asdict(doctor)},
                        VERIFIED_TTL)

    async def get_verified(self, key: str) -> tuple[str, VerifiedDoctor] | None:
        """See :meth:`SignIns.get_verified`."""
        value = self._opened(key, await self._redis.get(VERIFIED_PREFIX + _lookup(key)))
        if value is None:
            return None
        token = value.pop("token", "")
        try:
            return str(token), VerifiedDoctor(**value)
        except TypeError:
            return None

    async def drop_verified(self, key: str) -> None:
        """See :meth:`SignIns.drop_verified`."""
        await self._redis.delete(VERIFIED_PREFIX + _lookup(key))
