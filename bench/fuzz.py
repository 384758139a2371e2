"""Longer fuzz runs of every parser of untrusted input than the suite's 100,000 inputs.

Usage::

    python -m bench.fuzz [--minutes N | --count N] [--targets a,b] [--seed S] [--json]

Runs the targets of :mod:`tests.fuzz.targets` (signaling socket, station
signaling client, doctor-joined record, data channels, join page, join API,
the stations' invitation API, the expert's API) and every codec of
``tests/devices/test_fuzz_codecs.py`` with the same seeded mutation engine,
in rounds of fresh seeds until the time is up, then prints a table of
targets, inputs, distinct outcomes and unexpected exceptions. With
``--json`` the last line is ``{"targets": {name: {"inputs", "outcomes",
"unexpected"}}, "unexpected": total}``. Exit status 1 if anything
unexpected happened.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

# Imported by name: the targets live with the tests (the suite runs them too), and
# mypy's strict checking of bench/ is not for test code.
_engine = importlib.import_module("tests.fuzz.engine")
_targets = importlib.import_module("tests.fuzz.targets")
CODECS = importlib.import_module("tests.devices.test_fuzz_codecs").CODECS
TARGETS = _targets.TARGETS
run_logged = _targets.run_logged
Tally = _engine.Tally

ROUND = 5_000  # inputs per round: each round has its own seed, so a long run goes wide


def all_targets() -> list[str]:
    """Every target name: protocol targets, then ``codec <name>``."""
    return list(TARGETS) + [f"codec {name}" for name in CODECS]


def run(names: list[str], seconds: float, count: int, seed: int) -> dict[str, Any]:
    """Round-robin rounds over ``names`` until ``seconds`` pass (or ``count`` inputs each)."""
    totals = {name: Tally(name) for name in names}
    deadline = time.monotonic() + seconds
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["STATION_HOME"] = scratch  # the expert's API reads station.toml there
        round_no = 0
        while True:
            pending = [n for n in names if count <= 0 or totals[n].inputs < count]
            if not pending or (count <= 0 and time.monotonic() >= deadline):
                break
            for name in pending:
                size = ROUND if count <= 0 else min(ROUND, count - totals[name].inputs)
                home = Path(scratch) / f"{name.replace(' ', '-')}-{round_no}"
                home.mkdir()
                totals[name].merge(run_logged(name, size, seed + round_no, home))
                if count <= 0 and time.monotonic() >= deadline:
                    break
            round_no += 1
    return totals


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run, print the table (and the JSON line)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=1.0)
    parser.add_argument("--count", type=int, default=0,
                        help="inputs per target instead of a time budget")
    parser.add_argument("--targets", default="", help="comma-separated names (default: all)")
    parser.add_argument("--seed", type=int, default=20261123)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.targets.split(",") if n.strip()] or all_targets()
    began = time.monotonic()
    totals = run(names, args.minutes * 60, args.count, args.seed)
    elapsed = time.monotonic() - began
    print(f"{'target':<28} {'inputs':>10} {'outcomes':>9} {'unexpected':>11}")
    for name, tally in totals.items():
        print(f"{name:<28} {tally.inputs:>10,} {len(tally.outcomes):>9} {tally.unexpected:>11}")
        for example in tally.examples[:2]:
            print("    " + example.replace("\n", "\n    ")[:2000])
    unexpected = sum(t.unexpected for t in totals.values())
    inputs = sum(t.inputs for t in totals.values())
    print(f"{inputs:,} inputs in {elapsed:.0f} s, {unexpected} unexpected")
    if args.json:
        print(json.dumps({"targets": {n: {"inputs": t.inputs, "outcomes": len(t.outcomes),
                                          "unexpected": t.unexpected}
                                      for n, t in totals.items()},
                          "seconds": round(elapsed, 1), "unexpected": unexpected}))
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
