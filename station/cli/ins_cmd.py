"""``station ins check NUMBER``: is this INS/NIR valid, and if not, why."""

from __future__ import annotations

import argparse
from typing import Any

from station.errors import ValidationError
from station.i18n import tr
from station.ins import parse_ins


def register(commands: Any) -> None:
    """Add the ``ins`` command group."""
    ins = commands.add_parser("ins", help=tr("cli.ins.help"))
    sub = ins.add_subparsers(dest="ins_command", required=True)
    check = sub.add_parser("check", help=tr("cli.ins.check.help"))
    check.add_argument("number", nargs="+", help=tr("cli.ins.check.number"))
    check.set_defaults(handler=check_number)


def check_number(args: argparse.Namespace) -> int:
    """Print whether the number is valid and what it encodes; exit 0 valid, 1 invalid."""
    raw = " ".join(args.number)
    try:
        number = parse_ins(raw)
    except ValidationError as error:
        print(tr("cli.ins.invalid", number=raw, reason=tr(error.code, **error.params)))
        return 1
    month = f"{number.birth_month:02d}" if number.birth_month else "??"
    print(tr("cli.ins.valid", number=number.formatted(), kind=number.kind.value,
             sex=number.sex, month=month, year=f"{number.birth_year_2digits:02d}",
             place=number.birth_place, oid=number.default_oid))
    return 0
