"""A real ``redis-server`` (Debian) on a free loopback port, for tests and benches.

Each one has its own directory (append-only file on, as in production) and is
killed on exit even when the test failed. Tests are skipped when the binary
is missing (``./scripts/setup`` installs it).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"
needs_redis = pytest.mark.skipif(not Path(REDIS_SERVER).exists(),
                                 reason="redis-server is not installed (./scripts/setup)")
START_TIMEOUT = 30.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


@contextmanager
def redis_server(directory: Path | None = None) -> Iterator[str]:
    """Start ``redis-server`` and yield its ``redis://127.0.0.1:<port>/0`` URL."""
    own = directory is None
    where = Path(tempfile.mkdtemp(prefix="redis-")) if directory is None else directory
    where.mkdir(parents=True, exist_ok=True)
    # Port 0 disables TCP in redis-server: pick a free port, retry if taken meanwhile.
    for _attempt in range(5):
        port = free_port()
        process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(where),
             "--appendonly", "yes", "--save", "", "--daemonize", "no",
             "--protected-mode", "yes", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline and process.poll() is None:
            if _answers(port):
                break
            time.sleep(0.05)
        if process.poll() is None and _answers(port):
            break
        process.kill()
        process.wait()
    else:
        raise RuntimeError("redis-server did not start")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.kill()
        process.wait()
        if own:
            shutil.rmtree(where, ignore_errors=True)
