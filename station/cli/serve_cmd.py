"""``station serve``: the signaling server on its own, for a group of EHPADs.

``station serve`` runs until SIGINT or SIGTERM. Each station is known by an
id and a secret key: ``station serve stations add ID [--name …]`` prints the
key once (the store keeps its SHA-256), ``stations list`` shows them,
``stations revoke ID`` shuts one out. Everything lives in the store of
``STATION_HOME``, like every other CLI command's data; stations added while
the server runs are known at once. With ``[turn]`` in the home's
``station.toml``, each doctor's console gets time-limited TURN credentials;
with ``[oidc]``, doctors sign in with OpenID Connect (Pro Santé Connect) for
every station of the server (``required`` too applies to all of them).
"""

from __future__ import annotations

import argparse
import asyncio
from pathlib import Path
from typing import Any

from station.cli.common import open_store
from station.errors import StationError
from station.i18n import tr
from station.oidc_config import load_oidc_config
from station.signaling.cluster import (
    cluster_app,
    cluster_stations,
    node_of,
    redis_address,
    redis_url_setting,
)
from station.signaling.runner import RunningServer, serve_forever
from station.signaling.server import create_app
from station.signaling.stations import StationDirectory, StationRegistry
from station.signaling.tls import (
    ServerCertificate,
    TlsError,
    TlsSettings,
    load_tls_settings,
    server_certificate,
    server_context,
)
from station.turn_config import load_turn_config


def register(commands: Any) -> None:
    """Add the ``serve`` command and its ``stations`` subcommands."""
    serve = commands.add_parser("serve", help=tr("cli.serve.help"))
    serve.add_argument("--host", default="127.0.0.1", help=tr("cli.serve.host"))
    serve.add_argument("--port", type=int, default=8443, help=tr("cli.serve.port"))
    serve.add_argument("--public-url", default="", help=tr("cli.serve.public_url"))
    serve.add_argument("--redis", default=None, metavar="URL", help=tr("cli.serve.redis"))
    serve.add_argument("--cert", type=Path, help=tr("cli.serve.cert"))
    serve.add_argument("--key", type=Path, help=tr("cli.serve.key"))
    serve.add_argument("--self-signed", action="store_true", help=tr("cli.serve.self_signed"))
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


def _add(args: argparse.Namespace, directory: StationRegistry) -> int:
    key = directory.add(args.station_id, args.name)
    print(tr("cli.serve.stations.added", station=args.station_id,
             name=args.name.strip() or args.station_id))
    print(f"STATION-KEY {key}", flush=True)
    print(tr("cli.serve.stations.key_once"))
    return 0


def _list(args: argparse.Namespace, directory: StationRegistry) -> int:
    entries = directory.list()
    if not entries:
        print(tr("cli.serve.stations.none"))
    for entry in entries:
        state = (tr("cli.serve.stations.revoked_on", time=entry.revoked_at.isoformat())
                 if entry.revoked_at else tr("cli.serve.stations.active"))
        print(f"{entry.station_id}\t{entry.name}\t{entry.created_at.isoformat()}\t{state}")
    return 0


def _revoke(args: argparse.Namespace, directory: StationRegistry) -> int:
    if not directory.revoke(args.station_id):
        raise StationError("cli.serve.stations.not_found", station=args.station_id)
    print(tr("cli.serve.stations.revoked", station=args.station_id))
    return 0


def _certificate(args: argparse.Namespace, data_dir: Path) -> ServerCertificate:
    """The command line's pair, else station.toml's, else (``--self-signed``) the local one."""
    if (args.cert is None) != (args.key is None):
        raise TlsError("tls.pair_incomplete", path="--cert/--key")
    settings = (TlsSettings(args.cert, args.key) if args.cert is not None
                else load_tls_settings())
    return server_certificate(settings, data_dir, allow_local=args.self_signed)


def run_serve(args: argparse.Namespace) -> int:
    """Serve until interrupted (exit 0), or run a ``stations`` subcommand."""
    redis_url = redis_url_setting(args.redis)  # a cluster node: shared state in Redis
    if args.stations_handler is not None:
        with open_store() as store:
            registry = (cluster_stations(redis_url, store) if redis_url
                        else StationDirectory(store))
            code: int = args.stations_handler(args, registry)
            return code

    turn = load_turn_config()  # [turn]: consoles get relay credentials; refused before start
    oidc = load_oidc_config()  # [oidc]: one client for all stations; refused before start
    with open_store() as store:
        certificate = _certificate(args, store.path.parent)
        context = server_context(certificate)  # a bad certificate is refused before listening

        directory: StationRegistry = (cluster_stations(redis_url, store) if redis_url
                                      else StationDirectory(store))

        def ready(running: RunningServer) -> None:
            print(tr("cli.serve.listening", url=running.url, public=running.state.public_url),
                  flush=True)
            if certificate.local:
                print(tr("tls.local_certificate", path=str(certificate.cert_file)), flush=True)
            if redis_url:
                print(tr("cli.serve.cluster_node", node=node_of(app).node_id,
                         redis=redis_address(redis_url)), flush=True)
            if oidc is not None:
                print(tr("cli.serve.oidc_required" if oidc.required else "cli.serve.oidc",
                         issuer=oidc.issuer), flush=True)
            if not any(entry.revoked_at is None for entry in directory.list()):
                print(tr("cli.serve.no_station"), flush=True)

        app = (cluster_app(store, redis_url, public_url=args.public_url, turn=turn, oidc=oidc)
               if redis_url else create_app(store, public_url=args.public_url, turn=turn,
                                            oidc=oidc))
        try:
            asyncio.run(serve_forever(app, args.host, args.port, on_ready=ready,
                                      ssl_context=context))
        except OSError as exc:
            raise StationError("cli.serve.cannot_listen", host=args.host, port=args.port,
                               reason=str(exc)) from exc
    print(tr("cli.serve.stopped"), flush=True)
    return 0
