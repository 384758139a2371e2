"""Roles: stored per account, changed by an admin only (audited), and a technician
refused every clinical read of the core with a message they understand."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from station.access import (
    GRANTS,
    AccessDeniedError,
    Actor,
    Permission,
    Role,
    may,
    parse_role,
)
from station.errors import NotFoundError, ValidationError
from station.expertise import Expertise
from station.people import NurseAccount
from station.report.service import ReportService
from station.store import audit
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.residents import Resident, ResidentRegistry
from station.store.schema import MIGRATIONS
from station.today import resume_session, sessions_today, waiting_expertise
from tests.conftest import FakeClock, marie
from tests.report.conftest import run_session

TECH = Actor("paul.t", Role.TECHNICIAN)
ADMIN = Actor("sophie.a", Role.ADMIN)


def test_what_each_role_may_do() -> None:
    assert may(Role.NURSE, Permission.READ_CLINICAL)
    assert not may(Role.NURSE, Permission.MANAGE_ACCOUNTS)
    assert not may(Role.TECHNICIAN, Permission.READ_CLINICAL)
    assert not may(Role.TECHNICIAN, Permission.WRITE_CLINICAL)
    assert may(Role.TECHNICIAN, Permission.CONFIGURE_DEVICES)
    assert may(Role.TECHNICIAN, Permission.CONFIGURE_NETWORK)
    assert GRANTS[Role.ADMIN] == frozenset(Permission)
    assert parse_role(" Technician ") is Role.TECHNICIAN
    with pytest.raises(ValidationError, match="« boss » : rôle inconnu"):
        parse_role("boss")


def test_accounts_have_a_role_nurse_by_default(store: Store) -> None:
    accounts = AccountDirectory(store)
    claire = accounts.create("claire.m", "Claire Martin", "correct horse", "test")
    paul = accounts.create("paul.t", "Paul Technicien", "correct horse", "test",
                           Role.TECHNICIAN)
    assert claire.role is Role.NURSE and paul.role is Role.TECHNICIAN
    assert accounts.get("paul.t") == paul
    assert [a.role for a in accounts.list()] == [Role.NURSE, Role.TECHNICIAN]
    assert accounts.sign_in("paul.t", "correct horse").role is Role.TECHNICIAN
    # The schema itself refuses an unknown role.
    with pytest.raises(sqlite3.IntegrityError), store.write() as conn:
        conn.execute("UPDATE accounts SET role = 'boss' WHERE login = 'paul.t'")


def test_an_older_store_keeps_its_accounts_as_nurses(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    conn = sqlite3.connect(path)
    for migration in MIGRATIONS[:8]:
        conn.executescript(migration.sql)
    conn.execute("INSERT INTO accounts (login, display_name, password_hash, created_at)"
                 " VALUES ('claire.m', 'Claire Martin', 'x', '2026-01-01T00:00:00+00:00')")
    conn.execute("PRAGMA user_version = 8")
    conn.commit()
    conn.close()
    with Store.open(path) as store:
        account = AccountDirectory(store).get("claire.m")
        assert account is not None and account.role is Role.NURSE
        key = store.conn.execute("SELECT key FROM audit_keys").fetchone()[0]
        assert len(key) == 32


def test_only_an_admin_changes_a_role_and_it_is_audited(store: Store,
                                                        nurse: NurseAccount) -> None:
    accounts = AccountDirectory(store)
    accounts.create("paul.t", "Paul Technicien", "correct horse", "test")
    with pytest.raises(AccessDeniedError, match="seul un administrateur"):
        accounts.set_role("paul.t", Role.ADMIN, nurse)
    changed = accounts.set_role("paul.t", Role.TECHNICIAN, ADMIN)
    assert changed.role is Role.TECHNICIAN
    with pytest.raises(NotFoundError, match="aucun compte « nobody »"):
        accounts.set_role("nobody", Role.NURSE, ADMIN)
    rows = store.conn.execute(
        "SELECT actor, details FROM audit WHERE action = 'account.role_changed'").fetchall()
    assert rows == [("sophie.a", '{"after":"technician","before":"nurse","login":"paul.t"}')]
    assert audit.verify(store.conn).ok


@pytest.fixture
def session_id(store: Store, nurse: NurseAccount, resident: Resident,
               clock: FakeClock) -> str:
    return run_session(store, nurse, resident, clock).id


def test_a_technician_reads_no_clinical_data(store: Store, resident: Resident,
                                             session_id: str, clock: FakeClock) -> None:
    registry = ResidentRegistry(store)
    refusals = [
        lambda: registry.find(TECH, None, "dup"),
        lambda: registry.open(resident.id, TECH),
        lambda: registry.history(resident.id, TECH),
        lambda: registry.find_duplicates(marie(), TECH),
        lambda: sessions_today(store, TECH, clock),
        lambda: waiting_expertise(store, TECH),
        lambda: resume_session(store, session_id, NurseAccount(
            "paul.t", "Paul", True, clock.now, Role.TECHNICIAN)),
        lambda: ReportService(store).open_for(session_id, TECH),
        lambda: Expertise(store).listing(TECH),
        lambda: Expertise(store).show("0" * 8, TECH),
    ]
    before = store.conn.execute("SELECT count(*) FROM audit").fetchone()[0]
    for refused in refusals:
        with pytest.raises(AccessDeniedError) as caught:
            refused()
        assert caught.value.role is Role.TECHNICIAN
        assert str(caught.value).startswith(
            "votre rôle (technicien·ne) ne donne pas accès aux données cliniques")
    after = store.conn.execute("SELECT count(*) FROM audit").fetchone()[0]
    assert after == before  # refused before anything was read, so nothing to record


def test_the_refusal_speaks_english_too(store: Store, resident: Resident) -> None:
    from station.i18n import set_language  # noqa: PLC0415

    set_language("en")
    with pytest.raises(AccessDeniedError, match=r"^your role \(technician\) gives no access"):
        ResidentRegistry(store).open(resident.id, TECH)
