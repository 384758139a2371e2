"""``bench/load.py`` end to end, small: a real ``station serve`` on one core, 20 stations
and their doctors set up, held and ended through the real routes, with no error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from station.signaling.rooms import Tickets

BENCH = Path(__file__).resolve().parents[2] / "bench" / "load.py"


def test_load_bench_runs_small_without_error() -> None:
    result = subprocess.run([sys.executable, str(BENCH), "--sessions", "20", "--hold", "2",
                             "--interval", "1", "--json"],
                            check=False, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    for key in ("sessions_held", "relay_p99_ms", "errors", "invitations_per_s",
                "relay_p50_ms", "server_cpu_pct", "server_rss_mb"):
        assert key in figures, key
    assert figures["errors"] == 0, figures["first_errors"]
    assert figures["sessions_held"] == 20
    assert figures["relay_messages"] > 20  # offers and answers relayed while held
    assert 0 < figures["relay_p99_ms"] < 1000
    assert figures["invitations_per_s"] > 0
    assert figures["server_rss_mb"] > 0


def test_expired_tickets_are_forgotten_without_a_sweep_per_issue() -> None:
    now = [0.0]
    tickets = Tickets(ttl=60, clock=lambda: now[0])
    old = tickets.issue("s", "Dr A", "1")
    now[0] = 61
    assert tickets.redeem(old) is None  # expired: refused whether swept or not
    stale = tickets.issue("s", "Dr A", "1", ttl=1)
    now[0] = 62.5
    fresh = [tickets.issue("s", "Dr A", "1") for _ in range(3)]  # one sweep for the three
    assert tickets.held == 3
    assert tickets.redeem(stale) is None
    assert all(tickets.redeem(t) is not None for t in fresh)
