"""bench/cluster.py runs end to end on a small cluster and prints its figures.

Only that it works and that its figures are sane, never how fast: the speed
goals are the bench's to report (docs/deploy.md).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.signaling.redis_server import needs_redis

BENCH = Path(__file__).resolve().parents[2] / "bench" / "cluster.py"


@needs_redis
def test_cluster_bench_small_run() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--json", "--fd-limit", "96", "--batch", "8",
         "--hold", "1", "--interval", "1", "--latency-sessions", "8", "--recover", "4"],
        capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.strip().splitlines()
    figures = json.loads(lines[-1])
    assert {"cluster_ratio", "cross_node_p99_ms", "recover_s"} <= set(figures)
    assert "sessions held, 3 nodes / 1 node" in done.stdout
    # Three nodes with three times the descriptors hold more than one node.
    assert figures["held_3"] > figures["held_1"] > 0
    assert figures["cross_node_messages"] > 0 and figures["cross_node_p99_ms"] > 0
    # Every session the killed node served came back (the bench waits for each).
    assert figures["sessions_hit"] >= 1
    assert 0 < figures["recover_s"] < 60
