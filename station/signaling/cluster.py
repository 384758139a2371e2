"""A signaling cluster: several ``station serve`` nodes sharing one Redis.

``station serve --redis redis://…`` (or ``redis_url`` in the ``[signaling]``
section of the server's ``station.toml``) makes a node of a cluster. What the
nodes share lives in Redis, so a doctor whose browser reaches node B joins a
station connected to node A, and a node that dies loses nothing:

- rooms and the relay between nodes (:mod:`station.signaling.redis_rooms`);
- doctors' socket tickets, rejoin tickets included
  (:class:`~station.signaling.tickets.RedisTicketBook`);
- stations and their keys (:mod:`station.signaling.redis_stations`);
- invitations (:mod:`station.signaling.redis_invitations`);
- doctors' OpenID Connect sign-ins in flight and verified doctors
  (:class:`~station.signaling.oidc_state.RedisSignIns`).

Each node keeps its own SQLite store for its audit trail. Put the nodes
behind a load balancer that checks their health (see ``docs/deploy.md``);
stations and consoles reopen their sockets through it when a node dies.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import redis
import redis.asyncio
from aiohttp import web

from station.clock import Clock, utc_now
from station.errors import StationError
from station.paths import station_home
from station.settings_file import read_section
from station.signaling.oidc_state import RedisSignIns
from station.signaling.redis_invitations import RedisInvitations
from station.signaling.redis_rooms import RedisRoomRegistry
from station.signaling.redis_stations import RedisStationDirectory
from station.signaling.server import SharedBackends, create_app
from station.signaling.tickets import RedisTicketBook
from station.store.database import Store

REDIS_VARIABLE = "STATION_SIGNALING_REDIS"
CONFIG_FILENAME = "station.toml"
# A node waits this long for Redis before saying it is unreachable.
REDIS_TIMEOUT = 5.0
REDIS_CONNECTIONS = 16  # per node, besides its pub/sub connection
_NODE = web.AppKey("cluster_node", RedisRoomRegistry)
_CLIENTS = web.AppKey("cluster_clients", list)


class ClusterError(StationError):
    """Redis is not configured correctly, or cannot be reached."""


def redis_url_setting(given: str | None, path: Path | None = None,
                      env: Mapping[str, str] = os.environ) -> str | None:
    """The cluster's Redis URL: ``--redis``, else ``STATION_SIGNALING_REDIS``, else
    ``redis_url`` in ``[signaling]`` of ``station.toml``; None: a server on its own."""
    if given:
        return check_url(given)
    if env.get(REDIS_VARIABLE):
        return check_url(env[REDIS_VARIABLE])
    path = path or station_home() / CONFIG_FILENAME
    section = read_section(path, "signaling", lambda reason: ClusterError(
        "signaling.config_malformed", path=str(path), reason=reason))
    value = section.get("redis_url") if isinstance(section, dict) else None
    if value is None:
        return None
    if not isinstance(value, str):
        raise ClusterError("signaling.config_malformed", path=str(path), reason="redis_url")
    return check_url(value)


def check_url(url: str) -> str:
    """``url`` if it is a Redis URL, else :class:`ClusterError`."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ClusterError("cluster.bad_url", url=url)
    return url


def redis_address(url: str) -> str:
    """``host:port`` (or socket path) of a Redis URL, without its password, for logs."""
    parts = urlsplit(url)
    return parts.path if parts.scheme == "unix" else f"{parts.hostname}:{parts.port or 6379}"


def sync_client(url: str) -> redis.Redis:
    """A blocking client (stations, invitations); fails fast when Redis is down."""
    client = redis.Redis.from_url(url, socket_timeout=REDIS_TIMEOUT,
                                  socket_connect_timeout=REDIS_TIMEOUT, health_check_interval=30)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        raise ClusterError("cluster.unreachable", url=url, reason=str(error)) from error
    return client


def cluster_stations(url: str, store: Store) -> RedisStationDirectory:
    """The cluster's stations, for ``station serve stations`` (audit in ``store``)."""
    return RedisStationDirectory(sync_client(url), store)


def cluster_app(store: Store, url: str, *, public_url: str = "", clock: Clock = utc_now,
                node_id: str | None = None, **options: Any) -> web.Application:
    """A node's application: :func:`~station.signaling.server.create_app` with its
    shared state in the Redis at ``url``. The node listens on its pub/sub channel
    from the app's start to its cleanup. ``options`` go to ``create_app``."""
    blocking = sync_client(url)
    # A bounded pool: under a burst of relays the node waits for a connection rather
    # than opening hundreds (each a descriptor, taken from its sockets' budget).
    pool = redis.asyncio.BlockingConnectionPool.from_url(
        url, max_connections=REDIS_CONNECTIONS, timeout=REDIS_TIMEOUT,
        socket_connect_timeout=REDIS_TIMEOUT, health_check_interval=30)
    shared = redis.asyncio.Redis(connection_pool=pool)
    rooms = RedisRoomRegistry(shared, node_id)
    stations = RedisStationDirectory(blocking, store, clock=clock)
    backends = SharedBackends(rooms, RedisTicketBook(shared), stations,
                              RedisInvitations(blocking, store, stations, public_url,
                                               clock=clock), RedisSignIns(shared))
    app = create_app(store, public_url=public_url, clock=clock, shared=backends, **options)
    app[_NODE] = rooms
    app[_CLIENTS] = [shared, blocking]
    app.on_startup.append(_start)
    app.on_cleanup.append(_stop)
    return app


def node_of(app: web.Application) -> RedisRoomRegistry:
    """The rooms of a cluster node's ``app`` (its node id, for logs and tests)."""
    return app[_NODE]


async def _start(app: web.Application) -> None:
    # Open the pool's connections now: a node whose sockets later take every file
    # descriptor it may have still reaches Redis (a connection opened lazily then
    # would fail, and with it the relay of a call already set up).
    pool = app[_CLIENTS][0].connection_pool
    held = [await pool.get_connection() for _ in range(REDIS_CONNECTIONS - 1)]
    for connection in held:
        await pool.release(connection)
    await app[_NODE].start()  # its pub/sub takes the last one


async def _stop(app: web.Application) -> None:
    await app[_NODE].stop()
    shared, blocking = app[_CLIENTS]
    await shared.aclose()
    await shared.connection_pool.disconnect()  # a pool given to the client is not its own
    blocking.close()
