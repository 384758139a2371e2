"""``station audit verify``: re-check the hash chain and the records it vouches for."""

from __future__ import annotations

import argparse
from typing import Any

from station.cli.common import open_store
from station.i18n import tr
from station.store import audit


def register(commands: Any) -> None:
    """Add the ``audit`` command group."""
    group = commands.add_parser("audit", help=tr("cli.audit.help"))
    sub = group.add_subparsers(dest="audit_command", required=True)
    verify = sub.add_parser("verify", help=tr("cli.audit.verify.help"))
    verify.set_defaults(handler=verify_trail)


def verify_trail(args: argparse.Namespace) -> int:
    """Exit 0 when intact, 1 when anything was altered (each problem printed)."""
    with open_store() as store:
        result = audit.verify(store.conn)
        integrity = store.integrity_check()
    if integrity != ["ok"]:
        result.problems.insert(0, tr("audit.integrity", detail="; ".join(integrity[:5])))
    if result.ok:
        print(tr("cli.audit.ok", entries=result.entries, path=str(store.path)))
        return 0
    print(tr("cli.audit.broken", entries=result.entries, count=len(result.problems)))
    for problem in result.problems:
        print(f"  - {problem}")
    return 1
