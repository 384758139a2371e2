"""Opt-in loopback ICE candidates, for tests and the demo only.

aioice leaves 127.0.0.1 out when gathering host candidates, so two peers on
one machine without a network interface never connect. Wrapping
``aioice.ice.get_host_addresses`` to return the loopback address fixes
that; it must be called before any peer connection is created, and never
in a deployed station (the doctor is never on the same machine).
"""

from __future__ import annotations

import aioice.ice


def _loopback_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    return ["127.0.0.1"] if use_ipv4 else []


def allow_loopback_candidates() -> None:
    """Make every later ICE agent of this process gather only 127.0.0.1 (idempotent)."""
    setattr(aioice.ice, "get_host_addresses", _loopback_addresses)  # noqa: B010 - module patch


def loopback_allowed() -> bool:
    """True once :func:`allow_loopback_candidates` was called."""
    return getattr(aioice.ice, "get_host_addresses", None) is _loopback_addresses


__all__ = ["allow_loopback_candidates", "loopback_allowed"]
