"""``station residents add|search|show|update``."""

from __future__ import annotations

import argparse
from typing import Any

from station.cli.common import cli_actor, cli_principal, open_store
from station.i18n import tr
from station.identity import (
    IdentityDocument,
    IdentityFlag,
    IdentityStatus,
    ResidentIdentity,
    identity_from_input,
    parse_birth_date,
)
from station.ins import InsNumber, parse_ins
from station.store.residents import Resident, ResidentRegistry

EXIT_DUPLICATE = 3
_TRAITS = ("birth_name", "first_names", "sex", "birth_date", "birth_place")


def register(commands: Any) -> None:
    """Add the ``residents`` command group."""
    group = commands.add_parser("residents", help=tr("cli.residents.help"))
    sub = group.add_subparsers(dest="residents_command", required=True)

    add = sub.add_parser("add", help=tr("cli.residents.add.help"))
    _identity_arguments(add, required=True)
    add.add_argument("--force", action="store_true", help=tr("cli.residents.force"))
    add.set_defaults(handler=add_resident)

    update = sub.add_parser("update", help=tr("cli.residents.update.help"))
    update.add_argument("id", type=int)
    _identity_arguments(update, required=False)
    update.set_defaults(handler=update_resident)

    search = sub.add_parser("search", help=tr("cli.residents.search.help"))
    search.add_argument("--born", help=tr("cli.residents.born"))
    search.add_argument("letters", nargs="?", default="", help=tr("cli.residents.letters"))
    search.add_argument("--as", dest="actor", help=tr("cli.as_reader"))
    search.set_defaults(handler=search_residents)

    show = sub.add_parser("show", help=tr("cli.residents.show.help"))
    show.add_argument("id", type=int)
    show.add_argument("--as", dest="actor", help=tr("cli.as_reader"))
    show.set_defaults(handler=show_resident)


def _identity_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    for trait in _TRAITS:
        parser.add_argument(f"--{trait.replace('_', '-')}", required=required,
                            help=tr(f"cli.residents.{trait}"))
    parser.add_argument("--used-name", help=tr("field.used_name"))
    parser.add_argument("--used-first-name", help=tr("field.used_first_name"))
    parser.add_argument("--ins", help=tr("field.ins"))
    parser.add_argument("--ins-oid", help=tr("field.ins_oid"))
    parser.add_argument("--status", choices=[s.value for s in IdentityStatus],
                        help=tr("field.status"))
    parser.add_argument("--document", choices=[d.value for d in IdentityDocument],
                        help=tr("field.document"))
    parser.add_argument("--flag", action="append", choices=[f.value for f in IdentityFlag],
                        help=tr("field.flags"))
    parser.add_argument("--as", dest="actor", help=tr("cli.as"))


def _identity_from_args(args: argparse.Namespace,
                        base: ResidentIdentity | None = None) -> ResidentIdentity:
    def pick(name: str, current: object) -> Any:
        value = getattr(args, name)
        return current if value is None else value

    return identity_from_input(
        birth_name=pick("birth_name", base and base.birth_name),
        birth_first_names=pick("first_names", base and base.birth_first_names),
        sex=pick("sex", base and base.sex.value),
        birth_date=pick("birth_date", base and base.birth_date),
        birth_place_code=pick("birth_place", base and base.birth_place_code),
        used_name=pick("used_name", base and base.used_name),
        used_first_name=pick("used_first_name", base and base.used_first_name),
        ins=pick("ins", base and base.ins),
        ins_oid=pick("ins_oid", base and base.ins_oid),
        status=pick("status", base.status if base else IdentityStatus.PROVISIONAL),
        document=pick("document", base and base.document),
        flags=pick("flag", base.flags if base else ()),
    )


def add_resident(args: argparse.Namespace) -> int:
    """Create a resident after a duplicate check; exit 3 on a possible duplicate."""
    identity = _identity_from_args(args)
    with open_store() as store:
        registry = ResidentRegistry(store)
        duplicates = registry.possible_duplicates(identity)
        if duplicates and not args.force:
            print(tr("cli.residents.duplicates", count=len(duplicates)))
            for resident in duplicates:
                print("  " + describe(resident))
            print(tr("cli.residents.duplicates_hint"))
            return EXIT_DUPLICATE
        resident = registry.create(identity, cli_actor(args.actor))
    print(tr("cli.residents.created", id=resident.id))
    print("  " + describe(resident))
    return 0


def update_resident(args: argparse.Namespace) -> int:
    """Change some traits of a resident; the previous identity stays in the history."""
    with open_store() as store:
        registry = ResidentRegistry(store)
        current = registry.get(args.id)
        identity = _identity_from_args(args, current.identity)
        resident = registry.update(args.id, identity, cli_actor(args.actor))
    print(tr("cli.residents.updated", id=resident.id))
    print("  " + describe(resident))
    return 0


def search_residents(args: argparse.Namespace) -> int:
    """List residents by date of birth first, then a few letters of any name."""
    born = parse_birth_date(args.born) if args.born else None
    with open_store() as store:
        found = ResidentRegistry(store).find(cli_principal(store, args.actor), born,
                                             args.letters)
    if not found:
        print(tr("cli.residents.none"))
        return 0
    print(tr("cli.residents.found", count=len(found)))
    for resident in found:
        print("  " + describe(resident))
    return 0


def show_resident(args: argparse.Namespace) -> int:
    """One resident's identity and the history of its changes."""
    with open_store() as store:
        registry = ResidentRegistry(store)
        reader = cli_principal(store, args.actor)
        resident = registry.open(args.id, reader)
        history = registry.history(args.id, reader)
    print(describe(resident))
    print(tr("cli.residents.history", count=len(history)))
    for time, actor, values in history:
        print(f"  {time}  {actor}  {values['status']}  {values['birth_name']}")
    return 0


def describe(resident: Resident) -> str:
    """One line a nurse can read: id, name, sex, birth date and place, status, INS."""
    identity = resident.identity
    first_names = " ".join(n.title() for n in identity.birth_first_names)
    parts = [
        f"#{resident.id}",
        identity.birth_name + (f" ({identity.used_name})" if identity.used_name else ""),
        first_names,
        identity.sex.value,
        identity.birth_date.strftime("%d/%m/%Y"),
        tr("cli.residents.born_at", place=identity.birth_place_code),
        tr(f"status.{identity.status.value}"),
    ]
    if identity.ins:
        number: InsNumber = parse_ins(identity.ins)
        parts.append(f"INS {number.formatted()}")
    if identity.flags:
        parts.append("⚠ " + ", ".join(tr(f"flag.{f.value}") for f in sorted(identity.flags)))
    return "  ".join(parts)
