"""Accounts in the audit trail: creation with its role, role changes, locks; a role
changed behind the station's back is caught by ``station audit verify``, in old stores too."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from station.access import AccessDeniedError, Actor, Role
from station.clock import to_text
from station.errors import SignInError
from station.store import audit
from station.store.accounts import MAX_FAILURES, AccountDirectory
from station.store.database import Store
from station.store.schema import MIGRATIONS
from tests.conftest import FakeClock, run_station

PASSWORD = "correct horse\n"
ADMIN = Actor("sophie.a", Role.ADMIN)


def rows(store: Store, action: str) -> list[tuple[str, str, str | None, dict[str, object]]]:
    found = store.conn.execute(
        "SELECT actor, entity, first_id, details FROM audit WHERE action = ? ORDER BY id",
        (action,)).fetchall()
    return [(actor, entity, first_id, json.loads(details))
            for actor, entity, first_id, details in found]


def test_creation_role_change_and_lock_are_each_one_complete_row(store: Store,
                                                                 clock: FakeClock) -> None:
    accounts = AccountDirectory(store, clock)
    paul = accounts.create("paul.t", "Paul Technicien", "correct horse", "sophie.a",
                           Role.TECHNICIAN)
    paul_id = store.conn.execute("SELECT id FROM accounts WHERE login = 'paul.t'").fetchone()[0]
    assert rows(store, "account.created") == [
        ("sophie.a", "accounts", str(paul_id), {"login": "paul.t", "role": "technician"})]
    with pytest.raises(AccessDeniedError):
        accounts.set_role("paul.t", Role.ADMIN, Actor("paul.t", paul.role))
    accounts.set_role("paul.t", Role.NURSE, ADMIN)
    assert rows(store, "account.role_changed") == [
        ("sophie.a", "accounts", str(paul_id),
         {"login": "paul.t", "before": "technician", "after": "nurse"})]

    for _ in range(MAX_FAILURES):
        with pytest.raises(SignInError):
            accounts.sign_in("paul.t", "wrong password")
        clock.advance(seconds=1)
    [(actor, _, _, details)] = rows(store, "account.locked")
    until = accounts.locked_until("paul.t")
    assert until is not None and until > clock()
    assert actor == "paul.t" and details == {"login": "paul.t", "until": to_text(until)}
    assert len(rows(store, "sign_in.failure")) == MAX_FAILURES
    assert audit.verify(store.conn).ok


def test_a_role_changed_in_the_database_is_caught(tmp_path: Path) -> None:
    home = tmp_path
    assert run_station("accounts", "add", "paul.t", "--name", "Paul Technicien", "--role",
                       "technician", "--password-stdin", home=home, stdin=PASSWORD).returncode == 0
    assert run_station("audit", "verify", home=home).returncode == 0
    conn = sqlite3.connect(home / "station.sqlite3")
    with conn:
        conn.execute("UPDATE accounts SET role = 'admin' WHERE login = 'paul.t'")
    conn.close()
    caught = run_station("audit", "verify", home=home)
    assert caught.returncode != 0
    assert ("le compte « paul.t » a le rôle admin alors que le journal lui donne le rôle "
            "technician (rôle modifié hors de la station)") in caught.stdout + caught.stderr


def test_an_old_store_still_verifies_and_its_roles_are_checked_too(tmp_path: Path) -> None:
    """A store written before roles: its chain verifies as it is; a forged role does not."""
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:8]:
        conn.executescript(migration.sql)
    with conn:  # what the code of that time wrote: the account and its audit row, no role
        cursor = conn.execute(
            "INSERT INTO accounts (login, display_name, password_hash, created_at)"
            " VALUES ('claire.m', 'Claire Martin', 'x', '2026-01-01T00:00:00+00:00')")
        audit.append(conn, actor="cli:root", action="account.created", entity="accounts",
                     first_id=int(cursor.lastrowid or 0), details={"login": "claire.m"})
    conn.execute("PRAGMA user_version = 8")
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        assert audit.verify(store.conn).ok
        AccountDirectory(store).set_role("claire.m", Role.ADMIN, ADMIN)  # an audited act
        assert audit.verify(store.conn).ok
        with store.write() as write:
            write.execute("UPDATE accounts SET role = 'nurse' WHERE login = 'claire.m'")
        problems = audit.verify(store.conn).problems
    assert len(problems) == 1 and "le journal lui donne le rôle admin" in problems[0]


def test_only_an_admin_named_with_as_creates_an_account(tmp_path: Path) -> None:
    home = tmp_path
    for login, role in (("sophie.a", "admin"), ("paul.t", "technician")):
        assert run_station("accounts", "add", login, "--name", login, "--role", role,
                           "--password-stdin", home=home, stdin=PASSWORD).returncode == 0
    refused = run_station("accounts", "add", "eve.x", "--name", "Eve", "--role", "admin",
                          "--password-stdin", "--as", "paul.t", home=home, stdin=PASSWORD)
    assert refused.returncode == 2 and "seul un administrateur le peut" in refused.stderr
    made = run_station("accounts", "add", "claire.m", "--name", "Claire Martin",
                       "--password-stdin", "--as", "sophie.a", home=home, stdin=PASSWORD)
    assert made.returncode == 0, made.stderr
    with Store.open(home / "station.sqlite3") as store:
        assert AccountDirectory(store).get("eve.x") is None
        [(actor, _, _, details)] = [r for r in rows(store, "account.created")
                                    if r[3]["login"] == "claire.m"]
        assert actor == "sophie.a" and details["role"] == "nurse"
        assert audit.verify(store.conn).ok
