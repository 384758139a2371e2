"""``bench/load.py`` end to end, small: a real ``station serve`` on one core, 20 stations
and their doctors set up, held and ended through the real routes, with no error."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

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
