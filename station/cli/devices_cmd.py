"""``station devices list|scan|test|decode``: the technician's tools.

``decode`` turns captured bytes into measurements (one JSON object per line);
``scan`` looks for BLE instruments (or, with ``--virtual``, for the simulated
ones on the virtual link); ``test`` connects to one device and prints what it
says; ``list`` shows the configured devices and whether each one answers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
from datetime import UTC, datetime
from typing import Any

from devices.codecs import DECODERS, parse_hex
from devices.device import DeviceEvent, EventKind
from devices.errors import DecodeError, DeviceError, DeviceUnavailableError
from devices.measurement import Measurement, display_unit
from station.device_config import config_path, load_devices
from station.i18n import format_number, tr

EXIT_DEVICE_ERROR = 2


def register(commands: Any) -> None:
    """Add the ``devices`` command group."""
    group = commands.add_parser("devices", help=tr("cli.devices.help"))
    sub = group.add_subparsers(dest="devices_command", required=True)
    listing = sub.add_parser("list", help=tr("cli.devices.list.help"))
    listing.add_argument("--seconds", type=float, default=15.0, help=tr("cli.devices.probe"))
    listing.set_defaults(handler=list_devices)
    scan = sub.add_parser("scan", help=tr("cli.devices.scan.help"))
    scan.add_argument("--seconds", type=float, default=5.0)
    scan.add_argument("--virtual", action="store_true", help=tr("cli.devices.virtual"))
    scan.set_defaults(handler=scan_devices)
    test = sub.add_parser("test", help=tr("cli.devices.test.help"))
    test.add_argument("url")
    test.add_argument("--seconds", type=float, default=10.0)
    test.set_defaults(handler=test_device)
    decode = sub.add_parser("decode", help=tr("cli.devices.decode.help"))
    decode.add_argument("protocol", choices=sorted(DECODERS))
    decode.add_argument("hex", nargs="+")
    decode.set_defaults(handler=decode_bytes)


def measurement_json(measurement: Measurement) -> str:
    """One measurement as a JSON object (NaN becomes null)."""
    return json.dumps({
        "kind": measurement.kind.value,
        "value": measurement.value if math.isfinite(measurement.value) else None,
        "unit": measurement.unit,
        "quality": sorted(q.value for q in measurement.quality),
        "decimals": measurement.decimals,
        "time": measurement.time.isoformat(),
        "device": measurement.device,
    }, ensure_ascii=False)


def decode_bytes(args: argparse.Namespace) -> int:
    """Decode captured notifications or serial chunks; exit 2 naming the bad byte."""
    chunks = []
    for text in args.hex:
        try:
            chunks.append(parse_hex(text))
        except ValueError:
            print(tr("cli.devices.bad_hex", text=text), file=sys.stderr)
            return EXIT_DEVICE_ERROR
    try:
        measurements = DECODERS[args.protocol](chunks, "cli", datetime.now(UTC))
    except DecodeError as error:
        print(tr("cli.devices.decode_error", offset=error.offset, reason=error.reason,
                 protocol=error.protocol), file=sys.stderr)
        return EXIT_DEVICE_ERROR
    for measurement in measurements:
        print(measurement_json(measurement))
    return 0


def scan_devices(args: argparse.Namespace) -> int:
    """List BLE advertisements; one clear sentence and exit 2 with no Bluetooth."""
    from devices.factory import scan_ble  # noqa: PLC0415 - heavy BLE stacks load only here

    try:
        found = asyncio.run(scan_ble(args.seconds, virtual=args.virtual))
    except DeviceUnavailableError as error:
        print(tr("cli.devices.no_bluetooth", reason=str(error)), file=sys.stderr)
        return EXIT_DEVICE_ERROR
    print(tr("cli.devices.scan_found", count=len(found)))
    for ad in found:
        services = ", ".join(ad.service_uuids) or "-"
        print(f"  {ad.address}  {ad.name or '?':<28} RSSI {ad.rssi}  {services}")
    return 0


def describe_event(event: DeviceEvent) -> str:
    """One line for a device event, in the current language."""
    if event.kind is EventKind.MEASUREMENT and event.measurement is not None:
        m = event.measurement
        flags = ", ".join(sorted(q.value for q in m.quality))
        return tr("cli.devices.event.measurement", kind=tr(f"kind.{m.kind.value}"),
                  value=format_number(m.display_value()), unit=display_unit(m.unit),
                  flags=f" [{flags}]" if flags else "")
    if event.kind is EventKind.WAVEFORM and event.waveform is not None:
        return tr("cli.devices.event.waveform", count=len(event.waveform.samples),
                  rate=f"{event.waveform.sample_rate_hz:g}")
    if event.kind is EventKind.BATTERY:
        return tr("cli.devices.event.battery", percent=event.battery_percent)
    return tr(f"cli.devices.event.{event.kind.value}", detail=event.detail)


def test_device(args: argparse.Namespace) -> int:
    """Connect to one device for a while and print what it says."""
    from devices.factory import run_for  # noqa: PLC0415 - heavy stacks load only here

    def show(event: DeviceEvent) -> None:
        print(f"{event.time:%H:%M:%S.%f}"[:-3] + "  " + describe_event(event), flush=True)

    try:
        outcome = asyncio.run(run_for(args.url, args.seconds, show))
    except DeviceError as error:
        print(tr("cli.devices.failed", url=args.url, reason=str(error)),
              file=sys.stderr)
        return EXIT_DEVICE_ERROR
    print(tr("cli.devices.test_summary", url=args.url, **outcome))
    return 0 if outcome["connected"] else EXIT_DEVICE_ERROR


def list_devices(args: argparse.Namespace) -> int:
    """Configured devices and whether each answers within ``--seconds``."""
    from devices.factory import probe  # noqa: PLC0415 - heavy stacks load only here

    entries, from_file = load_devices()
    source = str(config_path()) if from_file else tr("cli.devices.demo_list")
    print(tr("cli.devices.list_title", count=len(entries), source=source))
    states = asyncio.run(probe([e.url for e in entries], args.seconds))
    for entry in entries:
        state, detail = states[entry.url]
        print(f"  {entry.name:<36} {tr(f'device_state.{state}'):<14} {entry.url}"
              + (f"  ({detail})" if detail else ""))
    return 0
