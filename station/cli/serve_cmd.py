"""``station serve``: the signaling server on its own, for a group of EHPADs.

``station serve`` runs until SIGINT or SIGTERM. Each station is known by an
id and a secret key: ``station serve stations add ID [--name …]`` prints the
key once (the store keeps its SHA-256), ``stations list`` shows them,
``stations revoke ID`` shuts one out. Everything lives in the store of
``STATION_HOME``, like every other CLI command's data; stations added while
the server runs are known at once.
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from station.cli.common import open_store
from station.errors import StationError
from station.i18n import tr
from station.signaling.runner import RunningServer, serve_forever
from station.signaling.server import create_app
from station.signaling.stations import StationDirectory


def register(commands: Any) -> None:
    """Add the ``serve`` command and its ``stations`` subcommands."""
    serve = commands.add_parser("serve", help=tr("cli.serve.help"))
    serve.add_argument("--host", default="127.0.0.1", help=tr("cli.serve.host"))
    serve.add_argument("--port", type=int, default=8443, help=tr("cli.serve.port"))
    serve.add_argument("--public-url", default="", help=tr("cli.serve.public_url"))
    serve.set_defaults(handler=run_serve, stations_handler=None)
    actions = serve.add_subparsers(dest="serve_action", metavar="stations")
    stations = actions.add_parser("stations", help=tr("cli.serve.stations.help"))
    what = stations.add_subparsers(dest="stations_action", required=True,
                                   metavar="add|list|revoke")
    add = what.add_parser("add", help=tr("cli.serve.stations.add"))
    add.add_argument("station_id", metavar="STATION_ID", help=tr("cli.serve.stations.id"))
    add.add_argument("--name", default="", help=tr("cli.serve.stations.name"))
    add.set_defaults(stations_handler=_add)
    listing = what.add_parser("list", help=tr("cli.serve.stations.list"))
    listing.set_defaults(stations_handler=_list)
    revoke = what.add_parser("revoke", help=tr("cli.serve.stations.revoke"))
    revoke.add_argument("station_id", metavar="STATION_ID", help=tr("cli.serve.stations.id"))
    revoke.set_defaults(stations_handler=_revoke)


def _add(args: argparse.Namespace, directory: StationDirectory) -> int:
    key = directory.add(args.station_id, args.name)
    print(tr("cli.serve.stations.added", station=args.station_id,
             name=args.name.strip() or args.station_id))
    print(f"STATION-KEY {key}", flush=True)
    print(tr("cli.serve.stations.key_once"))
    return 0


def _list(args: argparse.Namespace, directory: StationDirectory) -> int:
    entries = directory.list()
    if not entries:
        print(tr("cli.serve.stations.none"))
    for entry in entries:
        state = (tr("cli.serve.stations.revoked_on", time=entry.revoked_at.isoformat())
                 if entry.revoked_at else tr("cli.serve.stations.active"))
        print(f"{entry.station_id}\t{entry.name}\t{entry.created_at.isoformat()}\t{state}")
    return 0


def _revoke(args: argparse.Namespace, directory: StationDirectory) -> int:
    if not directory.revoke(args.station_id):
        raise StationError("cli.serve.stations.not_found", station=args.station_id)
    print(tr("cli.serve.stations.revoked", station=args.station_id))
    return 0


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted (exit 0), or run a ``stations`` subcommand."""
    if args.stations_handler is not None:
        with open_store() as store:
            code: int = args.stations_handler(args, StationDirectory(store))
            return code

    with open_store() as store:
        def ready(running: RunningServer) -> None:
            print(tr("cli.serve.listening", url=running.url, public=running.state.public_url),
                  flush=True)
            if not any(entry.revoked_at is None for entry in StationDirectory(store).list()):
                print(tr("cli.serve.no_station"), flush=True)

        app = create_app(store, public_url=args.public_url)
        try:
            asyncio.run(serve_forever(app, args.host, args.port, on_ready=ready))
        except OSError as exc:
            raise StationError("cli.serve.cannot_listen", host=args.host, port=args.port,
                               reason=str(exc)) from exc
    print(tr("cli.serve.stopped"), flush=True)
    return 0
