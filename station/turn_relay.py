"""The station's side of the TURN relay: its ICE servers, and a check at start.

:func:`station_ice_servers` gives each new peer connection the relay with a
credential minted then (a reconnection may come hours after the first offer).

aioice (under aiortc) drops a failed TURN allocation silently: the offer just
lacks its relay candidate, and a call across a hospital firewall then never
connects, with nothing to tell why. :func:`check_relay` makes the same request
the call will make (same URL, same kind of credential) and turns coturn's
answer into a typed error: credentials refused (401: wrong secret, expired
credential, station clock wrong) or relay unreachable.
"""

from __future__ import annotations

import asyncio
import ssl
from dataclasses import dataclass

from aioice import stun
from aioice.turn import create_turn_endpoint
from aiortc import RTCIceServer
from aiortc.rtcicetransport import parse_stun_turn_uri

from station.errors import StationError
from station.i18n import tr
from station.turn import TurnCredential, turn_credential, user_label
from station.turn_config import TurnConfig

CHECK_TIMEOUT_S = 15.0


class TurnRelayError(StationError):
    """The TURN relay refused the station's credentials or could not be reached."""


@dataclass(frozen=True, slots=True)
class RelayGranted:
    """The relay allocated an address: calls can go through it."""

    server: str
    relayed: tuple[str, int]


class _Sink(asyncio.DatagramProtocol):
    """Receives nothing of interest: the allocation is only tested."""


def station_credential(config: TurnConfig, session_id: str) -> TurnCredential:
    """A fresh credential for the station's side of session ``session_id``."""
    return turn_credential(config.secret, user_label("station", session_id),
                           config.lifetime_seconds)


def station_ice_servers(base: list[RTCIceServer], config: TurnConfig | None,
                        session_id: str) -> list[RTCIceServer]:
    """``base`` and, when configured, the relay with a credential minted now."""
    if config is None:
        return list(base)
    credential = station_credential(config, session_id)
    return [*base, RTCIceServer(urls=list(config.urls), username=credential.username,
                                credential=credential.password)]


def first_turn_url(urls: tuple[str, ...] | list[str]) -> str | None:
    """The URL aiortc will use: the first ``turn:``/``turns:`` one it supports."""
    for url in urls:
        parsed = parse_stun_turn_uri(url)
        if parsed["scheme"] == "turns" and parsed["transport"] == "tcp":
            return url
        if parsed["scheme"] == "turn" and parsed["transport"] in ("udp", "tcp"):
            return url
    return None


async def check_relay(url: str, credential: TurnCredential,
                      timeout: float = CHECK_TIMEOUT_S) -> RelayGranted:
    """Allocate (then release) one relayed address on ``url``; raise
    :class:`TurnRelayError` with ``turn.refused`` or ``turn.unreachable``."""
    parsed = parse_stun_turn_uri(url)
    server = f"{parsed['host']}:{parsed['port']}"
    # turns: verifies the relay's certificate against the system's CAs (aioice
    # takes no CA file; SSL_CERT_FILE points OpenSSL at a private one).
    context = ssl.create_default_context() if parsed["scheme"] == "turns" else None
    try:
        async with asyncio.timeout(timeout):
            transport, _ = await create_turn_endpoint(
                _Sink, server_addr=(parsed["host"], parsed["port"]),
                username=credential.username, password=credential.password,
                ssl=context, transport=parsed["transport"])
    except stun.TransactionFailed as error:
        code, reason = error.response.attributes.get("ERROR-CODE", (0, "?"))
        key = "turn.refused" if code in (401, 431, 437, 441) else "turn.unreachable"
        raise TurnRelayError(key, server=server, reason=f"{code} {reason}") from error
    except (stun.TransactionTimeout, TimeoutError) as error:
        raise TurnRelayError("turn.unreachable", server=server,
                             reason=tr("turn.no_answer", seconds=f"{timeout:.0f}")) from error
    except (OSError, ConnectionError) as error:  # refused, TLS certificate, route
        raise TurnRelayError("turn.unreachable", server=server,
                             reason=str(error)[:200]) from error
    relayed = transport.get_extra_info("sockname")
    transport.close()
    return RelayGranted(server, (str(relayed[0]), int(relayed[1])))
