"""``station serve``: the signaling server on its own, until SIGINT or SIGTERM.

One server may serve many stations; for now they share one key, given by
``--station-key`` or the ``STATION_KEY`` environment variable. Invitations
live in the store of ``STATION_HOME``, like every other CLI command's data.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from typing import Any

from station.cli.common import open_store
from station.errors import StationError
from station.i18n import tr
from station.signaling.runner import RunningServer, serve_forever
from station.signaling.server import create_app


def register(commands: Any) -> None:
    """Add the ``serve`` command."""
    serve = commands.add_parser("serve", help=tr("cli.serve.help"))
    serve.add_argument("--host", default="127.0.0.1", help=tr("cli.serve.host"))
    serve.add_argument("--port", type=int, default=8443, help=tr("cli.serve.port"))
    serve.add_argument("--public-url", default="", help=tr("cli.serve.public_url"))
    serve.add_argument("--station-key", default=None, help=tr("cli.serve.station_key"))
    serve.set_defaults(handler=run_serve)


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted; exit 0 on SIGINT/SIGTERM, 2 without a station key."""
    key = args.station_key or os.environ.get("STATION_KEY", "")
    if not key:
        raise StationError("cli.serve.no_key")

    def ready(running: RunningServer) -> None:
        print(tr("cli.serve.listening", url=running.url, public=running.state.public_url),
              flush=True)

    with open_store() as store:
        app = create_app(store, station_key=key, public_url=args.public_url)
        try:
            asyncio.run(serve_forever(app, args.host, args.port, on_ready=ready))
        except OSError as exc:
            raise StationError("cli.serve.cannot_listen", host=args.host, port=args.port,
                               reason=str(exc)) from exc
    print(tr("cli.serve.stopped"), flush=True)
    return 0
