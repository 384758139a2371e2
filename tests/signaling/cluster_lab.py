"""A real signaling cluster on loopback, for tests and ``bench/cluster.py``.

One ``redis-server`` (append-only file on), ``nodes`` ``station serve --redis``
subprocesses, each with its own home and store, all presenting one
certificate (made here, like the one a real cluster's nodes share for its
public name), and the TCP :class:`~tests.signaling.balancer.Balancer` in
front, whose address is the cluster's public URL. A station is registered
through the CLI in cluster mode. Everything is killed on exit, even after a
failure.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import redis

from station.signaling.demo_cert import demo_certificate
from station.signaling.redis_rooms import ROOM_PREFIX
from tests.signaling.balancer import Balancer
from tests.signaling.redis_server import free_port, redis_server

STATION = Path(sys.executable).parent / "station"
STATION_ID = "ehpad-grappe"
START_TIMEOUT = 60.0  # a loaded 2-core machine starts Python slowly


@dataclass
class Node:
    """One ``station serve`` node: its port, process, node id and output."""

    name: str
    home: Path
    port: int
    process: subprocess.Popen[str]
    lines: queue.Queue[str] = field(default_factory=queue.Queue)
    node_id: str = ""

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def alive(self) -> bool:
        return self.process.poll() is None


class ClusterLab:
    """Redis, ``count`` nodes and a balancer; :attr:`url` is what clients use."""

    def __init__(self, root: Path, count: int = 3,
                 prefix: list[str] | None = None) -> None:
        self.root = root
        self.count = count
        self.prefix = prefix or []  # run each node through this (prlimit, taskset)
        self.nodes: list[Node] = []
        self._stack = ExitStack()
        self.redis_url = ""
        self.balancer: Balancer | None = None
        self.key = ""
        self.cert, self.cert_key = Path(), Path()

    @property
    def url(self) -> str:
        """The public URL (the balancer)."""
        assert self.balancer is not None
        return f"https://127.0.0.1:{self.balancer.port}"

    def __enter__(self) -> ClusterLab:
        try:
            self.redis_url = self._stack.enter_context(redis_server(self.root / "redis"))
            self.cert, self.cert_key = demo_certificate(self.root / "tls")
            self.balancer = self._stack.enter_context(Balancer([]))
            self.key = self.add_station(STATION_ID)
            for i in range(self.count):
                self.nodes.append(self.start_node(f"node-{i}"))
            self.balancer.backends[:] = [("127.0.0.1", n.port) for n in self.nodes]
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        for node in self.nodes:
            if node.alive():
                node.process.kill()
            node.process.wait()
        self._stack.close()

    def run_cli(self, *args: str, home: Path | None = None) -> subprocess.CompletedProcess[str]:
        """``station serve --redis … <args>`` (``stations add`` and friends)."""
        env = {**os.environ, "STATION_HOME": str(home or self.root / "admin")}
        return subprocess.run([str(STATION), "serve", "--redis", self.redis_url, *args],
                              capture_output=True, text=True, env=env, timeout=120,
                              check=False)

    def add_station(self, station_id: str) -> str:
        """Register a station through the CLI in cluster mode; its key."""
        added = self.run_cli("stations", "add", station_id)
        assert added.returncode == 0, added.stderr
        return next(line.split(" ", 1)[1] for line in added.stdout.splitlines()
                    if line.startswith("STATION-KEY "))

    def start_node(self, name: str) -> Node:
        """Start one node and wait for its ``listening`` and node-id lines."""
        home = self.root / name
        port = free_port()
        command = [*self.prefix, str(STATION), "serve", "--redis", self.redis_url,
                   "--port", str(port), "--cert", str(self.cert), "--key", str(self.cert_key),
                   "--public-url", self.url]
        process = subprocess.Popen(command, env={**os.environ, "STATION_HOME": str(home)},
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        node = Node(name, home, port, process)
        threading.Thread(target=self._drain, args=(node,), daemon=True).start()
        deadline = time.monotonic() + START_TIMEOUT
        seen: list[str] = []
        while time.monotonic() < deadline and not node.node_id:
            try:
                line = node.lines.get(timeout=0.5)
            except queue.Empty:
                if not node.alive():
                    break
                continue
            seen.append(line)
            if "grappe" in line or "cluster" in line:
                node.node_id = line.split()[1]
        if not node.node_id:
            process.kill()
            process.wait()
            raise AssertionError(f"{name} did not start: {''.join(seen)}")
        return node

    @staticmethod
    def _drain(node: Node) -> None:
        assert node.process.stdout is not None
        for line in node.process.stdout:
            node.lines.put(line)

    def holder(self, session_id: str, role: str) -> Node | None:
        """The node whose process holds ``role``'s socket of a session, per Redis."""
        with redis.Redis.from_url(self.redis_url) as client:
            seat = client.hget(ROOM_PREFIX + session_id, role)
        if seat is None:
            return None
        node_id = seat.decode().rpartition("/")[0]
        return next((n for n in self.nodes if n.node_id == node_id), None)

    def kill(self, node: Node) -> None:
        """SIGKILL a node: no goodbye to its sockets, nothing written on the way out."""
        node.process.kill()
        node.process.wait(timeout=30)
