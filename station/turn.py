"""Time-limited TURN credentials, as coturn's ``use-auth-secret`` checks them.

The "TURN REST API" scheme (draft-uberti-behave-turn-rest, coturn's
``use-auth-secret``): whoever knows the secret shared with coturn mints
credentials without asking coturn anything::

    username   = "<expiry, Unix seconds>:<user>"
    credential = base64(HMAC-SHA1(secret, username))

coturn recomputes the HMAC, and refuses the username once its expiry has
passed. ``<user>`` only labels coturn's log lines and quotas: here a short hash
of the session (never a name or an RPPS).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from station.turn_config import TurnConfig


@dataclass(frozen=True, slots=True)
class TurnCredential:
    """One username/password pair good until ``expires`` (Unix seconds)."""

    username: str
    password: str
    expires: int


def turn_credential(secret: str, user: str, lifetime_s: int,
                    now: Callable[[], float] = time.time) -> TurnCredential:
    """A credential for ``user`` that coturn accepts for ``lifetime_s`` seconds."""
    if ":" in user:  # coturn splits the username at the first colon
        raise ValueError("a TURN user label cannot contain ':'")
    expires = int(now()) + int(lifetime_s)
    username = f"{expires}:{user}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return TurnCredential(username, base64.b64encode(digest).decode("ascii"), expires)


def user_label(role: str, session_id: str) -> str:
    """``<role>-<16 hex>``: who a credential is for, without personal data."""
    return f"{role}-{hashlib.sha256(session_id.encode()).hexdigest()[:16]}"


def browser_ice_servers(config: TurnConfig, user: str,
                        now: Callable[[], float] = time.time) -> list[dict[str, Any]]:
    """The relay in the browser's ``RTCIceServer`` format, with a fresh credential."""
    credential = turn_credential(config.secret, user, config.lifetime_seconds, now)
    return [{"urls": list(config.urls), "username": credential.username,
             "credential": credential.password}]
