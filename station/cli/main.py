"""Entry point: parse the language first, then build the translated parser.

Exit codes: 0 success; 1 a check found a problem (invalid INS, broken audit
chain); 2 refused input or unusable store, with a message naming the cause.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Sequence

from station.cli import (
    accounts,
    audit_cmd,
    backup_cmd,
    devices_cmd,
    expertise_cmd,
    ins_cmd,
    outbox_cmd,
    report_cmd,
    residents,
    serve_cmd,
)
from station.errors import StationError
from station.i18n import LANGUAGES, set_language, tr

EXIT_OK, EXIT_PROBLEM, EXIT_REFUSED = 0, 1, 2

Handler = Callable[[argparse.Namespace], int]


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with help in the current language."""
    parser = argparse.ArgumentParser(prog="station", description=tr("cli.description"))
    parser.add_argument("--lang", choices=LANGUAGES, default="fr", help=tr("cli.lang"))
    parser.add_argument("--home", help=tr("cli.home"))
    parser.add_argument("--verbose", "-v", action="store_true", help=tr("cli.verbose"))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMANDE")
    residents.register(commands)
    ins_cmd.register(commands)
    audit_cmd.register(commands)
    accounts.register(commands)
    devices_cmd.register(commands)
    serve_cmd.register(commands)
    report_cmd.register(commands)
    outbox_cmd.register(commands)
    expertise_cmd.register(commands)
    backup_cmd.register(commands)
    demo = commands.add_parser("demo", help=tr("cli.demo.help"))
    demo.add_argument("--fresh", action="store_true", help=tr("cli.demo.fresh"))
    demo.add_argument("--wait-for-doctor", action="store_true", help=tr("cli.demo.wait"))
    demo.add_argument("--host", default="127.0.0.1", help=tr("cli.demo.host"))
    demo.add_argument("--port", type=int, default=0, help=tr("cli.demo.port"))
    demo.add_argument("--simulators", action=argparse.BooleanOptionalAction, default=True,
                      help=tr("cli.demo.simulators"))
    demo.add_argument("--link-valid", type=_positive_seconds, default=30 * 60, metavar="SECONDS",
                      help=tr("cli.demo.link_valid"))
    demo.add_argument("--signaling-url", default=None, metavar="URL",
                      help=tr("cli.demo.signaling_url"))
    demo.add_argument("--station-id", default=None, metavar="ID", help=tr("cli.demo.station_id"))
    demo.add_argument("--resume", action="store_true", help=tr("cli.demo.resume"))
    demo.set_defaults(handler=_run_demo)
    return parser


def _run_demo(args: argparse.Namespace) -> int:
    from station.demo import run_demo, run_live_demo  # noqa: PLC0415 - only the demo needs it

    if args.wait_for_doctor:
        sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
        return run_live_demo(fresh=args.fresh, host=args.host, port=args.port,
                             simulators=args.simulators, link_valid_s=args.link_valid,
                             signaling_url=args.signaling_url, station_id=args.station_id,
                             resume=args.resume)
    return run_demo(fresh=args.fresh)


def _positive_seconds(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError(tr("cli.demo.link_valid_positive"))
    return value


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``station`` command; returns the exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    language = argparse.ArgumentParser(add_help=False)
    language.add_argument("--lang", choices=LANGUAGES, default="fr")
    known, _ = language.parse_known_args(argv)
    set_language(known.lang)
    args = build_parser().parse_args(argv)
    # Device events are printed by the commands themselves; the logs behind
    # them (resynchronised bytes, retries) are for --verbose.
    logging.basicConfig(level=logging.INFO if args.verbose else logging.ERROR,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if args.home:
        os.environ["STATION_HOME"] = args.home
    handler: Handler = args.handler
    try:
        return handler(args)
    except StationError as error:
        print(tr("cli.error", message=error.message), file=sys.stderr)
        return EXIT_REFUSED


def entry() -> None:
    """Console-script entry: ``station ... | head`` ends quietly, exit code kept."""
    if hasattr(signal, "SIGPIPE"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.exit(main())


if __name__ == "__main__":
    entry()
