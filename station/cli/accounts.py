"""``station accounts add|list|role|pin``: local accounts, their roles and unlock PINs."""

from __future__ import annotations

import argparse
import getpass
import os
import sys
from typing import Any

from station.access import Permission, Role, parse_role, require
from station.cli.common import cli_actor, cli_principal, open_store
from station.i18n import tr
from station.store.accounts import AccountDirectory
from station.store.pins import PinDirectory


def register(commands: Any) -> None:
    """Add the ``accounts`` command group."""
    group = commands.add_parser("accounts", help=tr("cli.accounts.help"))
    sub = group.add_subparsers(dest="accounts_command", required=True)
    add = sub.add_parser("add", help=tr("cli.accounts.add.help"))
    add.add_argument("login")
    add.add_argument("--name", required=True, help=tr("field.display_name"))
    add.add_argument("--password-stdin", action="store_true", help=tr("cli.accounts.stdin"))
    add.add_argument("--role", choices=[r.value for r in Role], default=Role.NURSE.value,
                     help=tr("cli.accounts.role.choice"))
    add.add_argument("--as", dest="actor", help=tr("cli.as"))
    add.set_defaults(handler=add_account)
    listing = sub.add_parser("list", help=tr("cli.accounts.list.help"))
    listing.set_defaults(handler=list_accounts)
    role = sub.add_parser("role", help=tr("cli.accounts.role.help"))
    role.add_argument("login")
    role.add_argument("role", choices=[r.value for r in Role])
    role.add_argument("--as", dest="actor", help=tr("cli.accounts.role.as"))
    role.set_defaults(handler=change_role)
    pin = sub.add_parser("pin", help=tr("cli.accounts.pin.help"))
    pin.add_argument("login")
    pin.add_argument("--pin-stdin", action="store_true", help=tr("cli.accounts.pin.stdin"))
    pin.add_argument("--as", dest="actor", help=tr("cli.as"))
    pin.set_defaults(handler=set_pin)


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    if "STATION_PASSWORD" in os.environ:
        return os.environ["STATION_PASSWORD"]
    return getpass.getpass(tr("cli.accounts.prompt"))


def add_account(args: argparse.Namespace) -> int:
    """Create an account (nurse by default) with an argon2-hashed password.

    ``--as`` names the admin who creates it (refused for any other role, as
    for a role change); without it the store's system account acts.
    """
    with open_store() as store:
        if args.actor:
            require(cli_principal(store, args.actor), Permission.MANAGE_ACCOUNTS)
        password = _read_password(args.password_stdin)
        account = AccountDirectory(store).create(args.login, args.name, password,
                                                 cli_actor(args.actor), parse_role(args.role))
    print(tr("cli.accounts.created", login=account.login, name=account.display_name))
    if account.role is not Role.NURSE:
        print(tr("cli.accounts.role.is", login=account.login,
                 role=tr(f"role.{account.role.value}")))
    return 0


def change_role(args: argparse.Namespace) -> int:
    """An admin gives an account another role (audited); ``--as`` names the admin."""
    with open_store() as store:
        admin = cli_principal(store, args.actor)
        account = AccountDirectory(store).set_role(args.login, parse_role(args.role), admin)
    print(tr("cli.accounts.role.is", login=account.login, role=tr(f"role.{account.role.value}")))
    return 0


def list_accounts(args: argparse.Namespace) -> int:
    """Print every account and whether it is active."""
    with open_store() as store:
        accounts = AccountDirectory(store).list()
    for account in accounts:
        state = tr("cli.accounts.active") if account.active else tr("cli.accounts.inactive")
        role = tr(f"role.{account.role.value}")
        print(f"  {account.login:<20} {account.display_name:<30} {role:<12} {state}")
    if not accounts:
        print(tr("cli.accounts.none"))
    return 0


def set_pin(args: argparse.Namespace) -> int:
    """Set a nurse's unlock PIN (4 to 6 digits), read from stdin or a hidden prompt."""
    if args.pin_stdin or not sys.stdin.isatty():
        pin = sys.stdin.readline().strip()
    else:
        pin = getpass.getpass(tr("cli.accounts.pin.prompt"))
    with open_store() as store:
        PinDirectory(store).set_pin(args.login, pin, cli_actor(args.actor))
    print(tr("cli.accounts.pin.set", login=args.login.strip().lower()))
    return 0
