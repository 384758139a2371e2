"""Device figures: codec decode throughput, emit-to-event latency over the pty
and the virtual BLE link, and camera simulator + capture frame rate.

    python bench/devices.py [--json] [--quick]

Decode throughput is frames/s on one core for each codec on its public
fixture. Latency is from a simulator emitting a value to the driver's
Measurement event (p50/p99). The camera figure is the sustained frame rate
of simulator + capture at 1920x1080 pinned to one core, leaving the other
free; the paced rate (what a 30 fps camera delivers) is shown beside it.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, this file's folder comes first on sys.path, and its own
# name would shadow the ``devices`` package: take the folder off.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    sys.path.pop(0)

import argparse
import asyncio
import json
import os
import statistics
import time
from collections.abc import Callable

from devices.codecs import (
    ble_bps,
    ble_hts,
    ble_plx,
    ble_wss,
    cms50d,
    cms50d_v46,
    nonin,
    parse_hex,
)

BLE_FIXTURES: dict[str, tuple[Callable[[bytes], object], str]] = {
    "ble-plx-spot": (ble_plx.decode_spot_check,
                     "0F AC F3 BE F5 E8 07 0B 1D 17 08 39 20 40 22 00 00 66 E3"),
    "ble-plx-continuous": (ble_plx.decode_continuous, "1C 5F 00 5A 00 20 00 00 00 00 57 F0"),
    "ble-hts": (ble_hts.decode_temperature_measurement, "06 B0 0E 00 FE DC 07 0C 05 0B 32 1B 04"),
    "ble-bps": (ble_bps.decode_blood_pressure,
                "1E 8A 00 58 00 78 00 00 00 04 11 14 29 3B 3C 00 01 27 00"),
    "ble-wss": (ble_wss.decode_weight_measurement, "0C B0 36 05 F5 00 D6 06"),
}
SERIAL_FIXTURES: dict[str, tuple[Callable[[bytes], object], str]] = {
    "cms50d-v46": (cms50d_v46.decode_frame, "01 E0 85 D5 9A BD E3 FF FF"),
    "nonin-2": (nonin.decode_frame, "01 80 01 48 CA"),
    "cms50d": (cms50d.decode_frame, "C8 40 05 48 61"),
}


def decode_rate(decode: Callable[[bytes], object], data: bytes, count: int) -> float:
    """Frames decoded per second, best of three runs."""
    best = 0.0
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(count):
            decode(data)
        best = max(best, count / (time.perf_counter() - started))
    return best


def percentile(values: list[float], fraction: float) -> float:
    """The value below which ``fraction`` of ``values`` lie."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * fraction))]


def camera_rates(seconds: float) -> tuple[float, float]:
    """(capacity fps unpaced on one core, paced fps) of simulator + capture at 1080p."""
    from devices.camera import Camera, SimulatedCamera, measure_fps  # noqa: PLC0415

    paced = Camera(SimulatedCamera("otoscope", fps=30.0), SimulatedCamera("otoscope").exam)
    paced_fps = measure_fps(paced, seconds)
    unpaced = Camera(SimulatedCamera("otoscope", fps=10_000.0), paced.exam)
    return measure_fps(unpaced, seconds), paced_fps


def main() -> None:
    """Print the table, and the JSON line with ``--json``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--quick", action="store_true", help="fewer iterations")
    args = parser.parse_args()
    count = 20_000 if args.quick else 200_000
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})  # one core for everything; the other stays free
    rates = {name: decode_rate(fn, parse_hex(data), count)
             for name, (fn, data) in {**BLE_FIXTURES, **SERIAL_FIXTURES}.items()}
    from devices.ble.latency import measure_ble_latency  # noqa: PLC0415
    from devices.serial.latency import measure_pty_latency  # noqa: PLC0415

    ble_samples, cms_samples, nonin_samples = (300, 120, 40) if args.quick else (2000, 600, 100)
    # A CMS50D+ frame carries no checksum: the driver believes a new value once
    # two consecutive frames agree, one frame (1/60 s) later. Nonin frames are
    # checksummed and its values complete with their 25-frame packet.
    pty = {protocol: [x * 1000 for x in asyncio.run(measure_pty_latency(n, protocol))]
           for protocol, n in (("cms50d", cms_samples), ("nonin-2", nonin_samples))}
    ble = [x * 1000 for x in asyncio.run(measure_ble_latency(ble_samples))]
    capacity, paced = camera_rates(3.0 if args.quick else 10.0)

    print("decode throughput (one core)")
    for name, rate in rates.items():
        print(f"  {name:<22}{rate:>12,.0f} frames/s")
    print("latency emit -> Measurement event   p50         p99      samples")
    rows = (("pty, CMS50D+ (confirmed)", pty["cms50d"]), ("pty, Nonin #2", pty["nonin-2"]),
            ("virtual BLE link, PLX", ble))
    for label, values in rows:
        print(f"  {label:<28}{statistics.median(values):>8.3f} ms"
              f" {percentile(values, .99):>8.3f} ms {len(values):>6}")
    print(f"camera simulator + capture 1920x1080, one core: {capacity:,.1f} fps capacity,"
          f" {paced:.1f} fps paced at 30")
    if args.json:
        print(json.dumps({
            "decode_fps_min": round(min(rates[name] for name in BLE_FIXTURES)),
            "pty_p99_ms": round(percentile(pty["cms50d"], .99), 3),
            "ble_p99_ms": round(percentile(ble, .99), 3),
            "camera_fps": round(capacity, 1),
        }))


if __name__ == "__main__":
    main()
