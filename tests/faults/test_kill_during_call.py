"""kill -9 of a headless station in the middle of a call with a doctor.

A real ``station demo --wait-for-doctor`` subprocess streams simulated
measurements to an in-process aiortc doctor that joined through the real
signaling server and acknowledges what it received in its heartbeats. The
station is SIGKILLed at a random moment, three times with different seeds,
each restart resuming the interrupted session (``--resume``). After each
kill: the store passes ``PRAGMA integrity_check``, ``station audit verify``
passes, every measurement the doctor received is stored with its value, and
the session is still examining; after each restart it is the same session,
with one more ``session_resumed`` trace, and new measurements go on into it.
"""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from station.headless import DEFAULT_COMMAND, STATION_BIN, HeadlessStation
from station.signaling.tls import client_context
from tests.call.doctor import Doctor, join_over_signaling, until

SEEDS = (11, 22, 33)


def received(doctor: Doctor) -> dict[int, Any]:
    """Measurements the doctor got, by store id (what its heartbeats acknowledge)."""
    return {m["id"]: m["value"] for m in doctor.messages["vitals"]
            if m.get("type") == "measurement" and m.get("id") is not None}


async def call_then_kill(station: HeadlessStation, rng: random.Random) -> dict[int, Any]:
    """Join as the doctor, let measurements flow and be acknowledged, then kill -9."""
    doctor = Doctor()
    # The station's local certificate, verified (it is made once and kept in its home).
    trusted = client_context(only=station.home / "demo" / "tls" / "localhost.crt")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=trusted)) as http:
        ws, answering = await join_over_signaling(station.link, http, doctor)
        try:
            target = rng.randint(3, 12)
            await until(lambda: len(received(doctor)) >= target, "measurements", timeout=60)
            beats = len(doctor.messages["control"])
            await until(lambda: len(doctor.messages["control"]) > beats, "a heartbeat acked",
                        timeout=10)
            await asyncio.sleep(rng.uniform(0.0, 2.0))  # anywhere in the stream
            station.process.send_signal(signal.SIGKILL)
            got = received(doctor)
        finally:
            answering.cancel()
            await doctor.close()
            await ws.close()
    return got


def query(path: Path, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def interrupted_session(path: Path) -> str:
    return str(query(path, "SELECT id FROM sessions WHERE state = 'examine' "
                           "ORDER BY created_at DESC, rowid DESC")[0][0])


def resumed_traces(path: Path, session_id: str) -> int:
    return len(query(path, "SELECT 1 FROM session_events WHERE session_id = ? AND type = "
                           "'incident' AND json_extract(data, '$.kind') = 'session_resumed'",
                     session_id))


def check_after_kill(home: Path, session_id: str, got: dict[int, Any]) -> None:
    store = home / "demo" / "station.sqlite3"
    assert query(store, "PRAGMA integrity_check") == [("ok",)]
    verify = subprocess.run([str(STATION_BIN), "audit", "verify"], capture_output=True,
                            text=True, env={**os.environ, "STATION_HOME": str(home / "demo")},
                            timeout=60, check=False)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    stored = dict(query(store, f"SELECT id, value FROM measurements WHERE session_id = ? AND id "
                               f"IN ({','.join('?' * len(got))})", session_id, *got))
    assert stored == pytest.approx(got)
    assert query(store, "SELECT state FROM sessions WHERE id = ?", session_id) == [("examine",)]


@pytest.mark.timeout(600)
def test_station_killed_during_call_resumes_where_it_was(tmp_path: Path) -> None:
    store = tmp_path / "demo" / "station.sqlite3"
    session_id = ""
    for round_, seed in enumerate(SEEDS):
        station = HeadlessStation(tmp_path, [*DEFAULT_COMMAND, *(["--resume"] if round_ else [])])
        try:
            current = interrupted_session(store)
            if round_:  # the interrupted session, picked up where it was
                assert current == session_id
                assert any(line.startswith("3. Séance") and "reprise" in line
                           for line in station.lines), station.lines[-20:]
            assert resumed_traces(store, current) == round_
            session_id = current
            before = query(store, "SELECT count(*) FROM measurements WHERE session_id = ?",
                           session_id)[0][0]
            got = asyncio.run(call_then_kill(station, random.Random(seed)))
        finally:
            if station.process.poll() is None:
                station.process.kill()
        assert station.process.wait(timeout=30) == -signal.SIGKILL
        assert len(got) >= 3 and max(got) > before  # the call carried new measurements
        check_after_kill(tmp_path, session_id, got)
        print(f"\nround {round_} (seed {seed}): killed with {len(got)} measurements received "
              f"(ids {min(got)}..{max(got)}), all stored")
    # A station started again on the same home still starts, on the same session.
    station = HeadlessStation(tmp_path, [*DEFAULT_COMMAND, "--resume"])
    try:
        assert interrupted_session(store) == session_id
        assert resumed_traces(store, session_id) == len(SEEDS)
    finally:
        assert station.stop() == 0
