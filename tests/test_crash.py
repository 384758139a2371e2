"""kill -9 in the middle of a stream of writes loses nothing acknowledged."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from station.store import audit
from station.store.database import Store

WRITER = Path(__file__).with_name("crash_writer.py")


def run_and_kill(path: Path, min_measurements: int) -> tuple[dict[int, float], list[str]]:
    """Start the writer, SIGKILL it once enough is acknowledged, return the acks."""
    writer = subprocess.Popen([sys.executable, str(WRITER), str(path)], stdout=subprocess.PIPE,
                              text=True, cwd=WRITER.parent.parent)
    assert writer.stdout is not None
    measurements: dict[int, float] = {}
    sessions: list[str] = []
    deadline = time.monotonic() + 60
    # Kill at a random point past the minimum so it lands anywhere in a write.
    target = min_measurements + random.Random(os.getpid()).randrange(200)
    for line in writer.stdout:
        kind, *rest = line.split()
        if kind == "M":
            measurements[int(rest[0])] = float(rest[1])
        elif kind == "C":
            sessions.append(rest[0])
        if len(measurements) >= target or time.monotonic() > deadline:
            writer.send_signal(signal.SIGKILL)
            break
    for line in writer.stdout:  # acks already in the pipe were acknowledged too
        kind, *rest = line.split()
        if kind == "M":
            measurements[int(rest[0])] = float(rest[1])
        elif kind == "C":
            sessions.append(rest[0])
    assert writer.wait(timeout=30) == -signal.SIGKILL
    return measurements, sessions


@pytest.mark.parametrize("round_", range(3))
def test_every_acknowledged_fact_survives_kill_9(tmp_path: Path, round_: int) -> None:
    path = tmp_path / "crash.sqlite3"
    measurements, sessions = run_and_kill(path, min_measurements=300 + 100 * round_)
    assert len(measurements) >= 300 and len(sessions) >= 8
    with Store.open(path) as store:
        assert store.integrity_check() == ["ok"]
        stored = dict(store.conn.execute("SELECT id, value FROM measurements"))
        missing = {i: v for i, v in measurements.items() if stored.get(i) != v}
        assert missing == {}
        consented = {row[0] for row in store.conn.execute(
            "SELECT session_id FROM consents WHERE decision = 'donne'")}
        assert set(sessions) <= consented
        verification = audit.verify(store.conn)
        assert verification.ok, verification.problems
