"""A small TCP round-robin load balancer for tests and benches of the cluster.

It plays the part of the load balancer a cluster runs behind (HAProxy,
nginx's stream module): each new connection goes to the next backend; a
backend that refuses the connection (its node is dead) is skipped, like a
real balancer whose health check failed, and the client never sees it.
Bytes are copied both ways untouched, TLS included. It runs its own asyncio
loop in a daemon thread so that synchronous tests (Playwright) can use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Sequence

CONNECT_TIMEOUT = 5.0
CHUNK = 64 * 1024


class Balancer:
    """Listens on 127.0.0.1:<port> and spreads connections over ``backends``."""

    def __init__(self, backends: Sequence[tuple[str, int]]) -> None:
        self.backends = list(backends)
        self._turn = itertools.count()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._streams: set[asyncio.StreamWriter] = set()
        self.port = 0
        self.connections: list[tuple[str, int]] = []  # the backend of each connection
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="test balancer")

    def __enter__(self) -> Balancer:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._accept, "127.0.0.1", 0), self._loop).result(10)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    def __exit__(self, *exc: object) -> None:
        async def shut() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._streams):
                writer.close()
        asyncio.run_coroutine_threadsafe(shut(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        for _ in range(len(self.backends)):
            host, port = self.backends[next(self._turn) % len(self.backends)]
            try:
                streams = await asyncio.wait_for(asyncio.open_connection(host, port),
                                                 CONNECT_TIMEOUT)
            except (OSError, TimeoutError):
                continue  # a dead backend: the next one
            self.connections.append((host, port))
            return streams
        return None

    async def _accept(self, reader: asyncio.StreamReader,
                      writer: asyncio.StreamWriter) -> None:
        backend = await self._connect()
        if backend is None:
            writer.close()
            return
        upstream_reader, upstream_writer = backend
        self._streams.update((writer, upstream_writer))
        try:
            await asyncio.gather(self._pipe(reader, upstream_writer),
                                 self._pipe(upstream_reader, writer))
        finally:
            self._streams.difference_update((writer, upstream_writer))

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(CHUNK):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            with contextlib.suppress(ConnectionError, OSError, RuntimeError):
                writer.close()
