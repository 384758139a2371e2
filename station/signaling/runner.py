"""Running the signaling server: inside the station's loop, or on its own.

Embedded, the station starts the server in its running asyncio loop
(:func:`start_embedded`, a fresh station key, port 0 for an ephemeral port)
and stops it when done. Standalone, ``station serve`` calls
:func:`serve_forever` until SIGINT or SIGTERM. Both serve HTTPS/WSS only
(:mod:`station.signaling.tls`); there is no plain-HTTP listener, not even
one that redirects. :func:`start_server` without a context serves plain
HTTP for in-process tests of the application only.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import signal
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiohttp import web, web_fileresponse

from station.oidc_config import OidcConfig
from station.signaling.invitations import Invitations
from station.signaling.server import DEFAULT_WEB_ROOT, STATE, SignalingState, create_app
from station.signaling.tls import (
    ClientTls,
    ServerCertificate,
    TlsSettings,
    load_tls_settings,
    own_server_tls,
    server_certificate,
    server_context,
)
from station.store.database import Store
from station.turn_config import TurnConfig

log = logging.getLogger(__name__)
# Open sockets are closed on shutdown; this bounds waiting for handlers.
SHUTDOWN_TIMEOUT = 5.0


@dataclass
class RunningServer:
    """A started server: its bound address, and how to stop it."""

    url: str
    runner: web.AppRunner
    app: web.Application
    # How a client on this machine reaches it over TLS (None: plain HTTP, tests).
    client_tls: ClientTls | None = None
    certificate: ServerCertificate | None = None

    @property
    def state(self) -> SignalingState:
        """The server's shared state (invitations, rooms, key)."""
        return self.app[STATE]

    @property
    def invitations(self) -> Invitations:
        """Create, revoke and inspect invitation links served here."""
        return self.state.invitations

    @property
    def station_key(self) -> str:
        """The embedded server's key (``Authorization: Bearer <key>``); "" standalone,
        where each station has its own (:class:`~station.signaling.stations.StationDirectory`)."""
        return self.state.station_key

    async def stop(self) -> None:
        """Close every socket and stop listening."""
        await self.runner.cleanup()


def _chunked_static_files() -> None:
    """Static files over TLS go out in aiohttp's own chunks, not ``loop.sendfile``.

    Over TLS the kernel's sendfile cannot be used anyway, and asyncio's generic
    fallback (Python 3.11) fails with an AttributeError when the browser resets
    the connection mid-file: aiohttp logs it as an unhandled exception, with a
    traceback, for a closed tab. Its own chunked path (what ``AIOHTTP_NOSENDFILE``
    selects at import) ends that connection quietly."""
    setattr(web_fileresponse, "NOSENDFILE", True)  # noqa: B010 - a Final of aiohttp's


async def start_server(app: web.Application, host: str = "127.0.0.1", port: int = 0, *,
                       ssl_context: ssl.SSLContext | None = None,
                       client_tls: ClientTls | None = None) -> RunningServer:
    """Serve ``app`` on ``host:port`` in the running loop; returns the bound URL.

    Port 0 picks a free port. When the app was created without a public URL,
    the bound URL becomes it (and its origin the allowed one). With
    ``ssl_context`` it is HTTPS/WSS only; ``client_tls`` is kept for the
    clients of this machine that will reach it.
    """
    if ssl_context is not None:
        _chunked_static_files()
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, host, port, ssl_context=ssl_context)
    try:
        await site.start()
    except OSError:
        await runner.cleanup()
        raise
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in str(bound_host) else str(bound_host)
    url = f"{'https' if ssl_context else 'http'}://{shown}:{bound_port}"
    state = app[STATE]
    if not state.public_url:
        state.set_public_url(url)
    log.info("signaling server listening on %s (public %s)", url, state.public_url)
    return RunningServer(url, runner, app, client_tls)


async def start_embedded(store: Store, *, host: str = "127.0.0.1", port: int = 0,
                         public_url: str = "", station_key: str | None = None,
                         web_root: Path = DEFAULT_WEB_ROOT,
                         ice_servers: list[dict[str, Any]] | None = None,
                         oidc: OidcConfig | None = None,
                         turn: TurnConfig | None = None,
                         certificate: ServerCertificate | None = None,
                         tls_settings: TlsSettings | None = None) -> RunningServer:
    """The station's own server over HTTPS/WSS, with a fresh station key unless one
    is given; ``oidc`` (``[oidc]`` of station.toml) turns on doctors' OpenID Connect
    sign-in; ``turn`` (``[turn]``) hands doctors' consoles TURN credentials.

    The certificate is ``certificate``, else the one ``[signaling]`` configures
    (``tls_settings``, read from station.toml by default), else the local
    self-signed one kept next to the store. The result's ``client_tls`` is how
    the station's own client verifies it."""
    key = station_key or secrets.token_urlsafe(32)
    settings = tls_settings if tls_settings is not None else load_tls_settings()
    if certificate is None:
        certificate = server_certificate(settings, store.path.parent)
    context = server_context(certificate)
    app = create_app(store, station_key=key, public_url=public_url, web_root=web_root,
                     ice_servers=ice_servers, oidc=oidc, turn=turn)
    running = await start_server(app, host, port, ssl_context=context)
    running.client_tls = own_server_tls(certificate, settings, running.state.public_url)
    running.certificate = certificate
    return running


def survive_broken_pipes() -> None:
    """Let a long-running server outlive a peer that vanished mid-write.

    ``station``'s entry point restores SIGPIPE's default so that ``station … |
    head`` ends quietly; in a server that default kills the whole process the
    moment it writes to a socket its peer reset (a TLS close_notify to a closed
    browser tab, a socket dropped by a NAT). Ignored, the write fails with
    EPIPE and only that connection ends. Call it from the main thread."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)


async def serve_forever(app: web.Application, host: str, port: int,
                        on_ready: Callable[[RunningServer], None] | None = None, *,
                        ssl_context: ssl.SSLContext) -> None:
    """Serve over HTTPS/WSS until SIGINT or SIGTERM, then stop cleanly."""
    survive_broken_pipes()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    running = await start_server(app, host, port, ssl_context=ssl_context)
    try:
        if on_ready is not None:
            on_ready(running)
        await stop.wait()
    finally:
        await running.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
