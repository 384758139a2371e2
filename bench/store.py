"""Durable measurement writes through the product's store vs plain sqlite3.

Both sides write the same rows into the same table (created by the product's
own schema) with the same pragmas (WAL, synchronous=FULL, foreign keys on),
each on its own file. The product's side goes through ``MeasurementLog``:
Measurement objects in, audit chain row per transaction. Modes: one commit
per measurement, and batches of ``--batch`` measurements per commit.

    python bench/store.py [--json] [--single N] [--batched N] [--batch B] [--rounds R]
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this folder comes first on sys.path and bench/devices.py
# would shadow the ``devices`` package: take the folder off.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import json
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from devices.measurement import Kind, Measurement
from station.store.database import Store
from station.store.measurements import MeasurementLog, _rows
from station.store.schema import MIGRATIONS

SESSION = "bench-session"
_INSERT = (
    "INSERT INTO measurements (session_id, kind, value, unit, time_us, device, quality, decimals)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)


def _measurements(count: int) -> list[Measurement]:
    start = datetime.now(UTC)
    kinds = [(Kind.SPO2, "%"), (Kind.PULSE_RATE, "/min"), (Kind.BODY_TEMPERATURE, "Cel")]
    return [
        Measurement(kinds[i % 3][0], 90.0 + (i % 97) / 10, kinds[i % 3][1],
                    start + timedelta(milliseconds=i), "sim://oximeter-ble", decimals=1)
        for i in range(count)
    ]


def _session_row(conn: sqlite3.Connection) -> None:
    conn.execute(
        "INSERT INTO sessions (id, resident_id, act, nurse_login, state, created_at, updated_at)"
        " VALUES (?, NULL, 'teleconsultation', 'bench', 'examine', 'now', 'now')", (SESSION,)
    )


def _plain_connection(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    for pragma in ("journal_mode=WAL", "synchronous=FULL", "foreign_keys=ON"):
        conn.execute(f"PRAGMA {pragma}")
    conn.executescript(MIGRATIONS[0].sql)
    _session_row(conn)
    return conn


def _product_log(path: Path) -> MeasurementLog:
    store = Store.open(path)
    _session_row(store.conn)
    return MeasurementLog(store)


def _timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bench_single(folder: Path, count: int) -> dict[str, float]:
    """One durable commit per measurement: rates and product commit latencies."""
    data = _measurements(count)
    log = _product_log(folder / "product-single.sqlite3")
    latencies = [_timed(lambda m=m: log.add(SESSION, m)) for m in data]  # type: ignore[misc]
    plain = _plain_connection(folder / "plain-single.sqlite3")
    rows = _rows(SESSION, data)  # plain sqlite3 gets ready-made tuples

    def plain_run() -> None:
        for row in rows:
            plain.execute("BEGIN IMMEDIATE")
            plain.execute(_INSERT, row)
            plain.execute("COMMIT")

    plain_seconds = _timed(plain_run)
    latencies_ms = sorted(x * 1000 for x in latencies)
    return {
        "product": count / sum(latencies),
        "plain": count / plain_seconds,
        "p50_ms": latencies_ms[len(latencies_ms) // 2],
        "p99_ms": latencies_ms[int(len(latencies_ms) * 0.99) - 1],
    }


def bench_batched(folder: Path, count: int, batch: int) -> dict[str, float]:
    """Batches of ``batch`` measurements per durable commit."""
    data = _measurements(count)
    chunks = [data[i:i + batch] for i in range(0, count, batch)]
    log = _product_log(folder / "product-batched.sqlite3")
    product_seconds = _timed(lambda: [log.add_many(SESSION, chunk) for chunk in chunks])
    plain = _plain_connection(folder / "plain-batched.sqlite3")
    row_chunks = [_rows(SESSION, chunk) for chunk in chunks]

    def plain_run() -> None:
        for rows in row_chunks:
            plain.execute("BEGIN IMMEDIATE")
            plain.executemany(_INSERT, rows)
            plain.execute("COMMIT")

    plain_seconds = _timed(plain_run)
    return {"product": count / product_seconds, "plain": count / plain_seconds}


def main() -> None:
    """Run the rounds, print the table, and the JSON line with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--single", type=int, default=3000)
    parser.add_argument("--batched", type=int, default=300_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    singles, batches = [], []
    for _ in range(args.rounds):
        with tempfile.TemporaryDirectory(prefix="bench-store-") as tmp:
            singles.append(bench_single(Path(tmp), args.single))
            batches.append(bench_batched(Path(tmp), args.batched, args.batch))

    def median(rounds: list[dict[str, float]], key: str) -> float:
        return statistics.median(r[key] for r in rounds)

    single = {k: median(singles, k) for k in singles[0]}
    batched = {k: median(batches, k) for k in batches[0]}
    print(f"store bench: median of {args.rounds} rounds, synchronous=FULL, WAL")
    print(f"{'mode':<28}{'product /s':>14}{'plain /s':>14}{'ratio':>8}")
    print(f"{'single (1 commit each)':<28}{single['product']:>14,.0f}{single['plain']:>14,.0f}"
          f"{single['product'] / single['plain']:>8.2f}")
    print(f"{f'batched ({args.batch}/commit)':<28}{batched['product']:>14,.0f}"
          f"{batched['plain']:>14,.0f}{batched['product'] / batched['plain']:>8.2f}")
    print(f"product commit latency (single): p50 {single['p50_ms']:.3f} ms,"
          f" p99 {single['p99_ms']:.3f} ms")
    if args.json:
        print(json.dumps({
            "single_ratio": round(single["product"] / single["plain"], 3),
            "batched_ratio": round(batched["product"] / batched["plain"], 3),
            "single_per_s": round(single["product"], 1),
            "batched_per_s": round(batched["product"], 1),
            "commit_p99_ms": round(single["p99_ms"], 3),
        }))


if __name__ == "__main__":
    main()
