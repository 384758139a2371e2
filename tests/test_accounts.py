"""Nurse accounts: argon2 hashes, rate-limited and recorded sign-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.errors import AccountLockedError, SignInError, ValidationError
from station.store.accounts import MAX_FAILURES, AccountDirectory
from station.store.database import Store
from tests.conftest import FakeClock


@pytest.fixture
def accounts(store: Store, clock: FakeClock) -> AccountDirectory:
    directory = AccountDirectory(store, clock)
    directory.create("claire.m", "Claire Martin", "correct horse", "admin")
    return directory


def outcomes(store: Store) -> list[str]:
    return [r[0] for r in store.conn.execute("SELECT outcome FROM sign_in_attempts ORDER BY id")]


def test_passwords_are_stored_as_argon2_hashes(store: Store, accounts: AccountDirectory) -> None:
    stored = store.conn.execute("SELECT password_hash FROM accounts").fetchone()[0]
    assert stored.startswith("$argon2id$")
    assert "correct horse" not in stored
    assert accounts.sign_in("Claire.M", "correct horse").display_name == "Claire Martin"
    assert outcomes(store) == ["success"]


def test_wrong_password_and_unknown_login_look_the_same(accounts: AccountDirectory) -> None:
    with pytest.raises(SignInError) as wrong:
        accounts.sign_in("claire.m", "wrong")
    with pytest.raises(SignInError) as unknown:
        accounts.sign_in("nobody", "wrong")
    assert str(wrong.value) == str(unknown.value) == "identifiant ou mot de passe incorrect"


def test_repeated_failures_lock_the_login(store: Store, accounts: AccountDirectory,
                                          clock: FakeClock) -> None:
    for _ in range(MAX_FAILURES):
        clock.advance(seconds=1)
        with pytest.raises(SignInError):
            accounts.sign_in("claire.m", "guess")
    with pytest.raises(AccountLockedError) as locked:
        accounts.sign_in("claire.m", "correct horse")  # even the right password waits
    assert str(locked.value) == "trop d'échecs de connexion : réessayez dans 30 s"
    clock.advance(seconds=30)
    assert accounts.sign_in("claire.m", "correct horse").login == "claire.m"
    assert outcomes(store) == ["failure"] * MAX_FAILURES + ["locked", "success"]


def test_the_lock_doubles_and_survives_a_restart(tmp_path: Path, clock: FakeClock) -> None:
    path = tmp_path / "s.sqlite3"
    with Store.open(path) as store:
        accounts = AccountDirectory(store, clock)
        accounts.create("claire.m", "Claire Martin", "correct horse", "admin")
        for _ in range(MAX_FAILURES):
            with pytest.raises(SignInError):
                accounts.sign_in("claire.m", "guess")
        clock.advance(seconds=31)
        with pytest.raises(SignInError):
            accounts.sign_in("claire.m", "guess again")
    with Store.open(path) as reopened:
        accounts = AccountDirectory(reopened, clock)
        with pytest.raises(AccountLockedError, match="réessayez dans 60 s"):
            accounts.sign_in("claire.m", "correct horse")


@pytest.mark.parametrize(
    ("login", "password", "field"),
    [("A", "long enough", "login"), ("claire.m", "short", "password"),
     ("claire.m", "long enough", "login")],
)
def test_account_creation_refuses_bad_input(accounts: AccountDirectory, login: str,
                                            password: str, field: str) -> None:
    with pytest.raises(ValidationError) as caught:
        accounts.create(login, "Someone", password, "admin")
    assert caught.value.field == field
    assert [a.login for a in accounts.list()] == ["claire.m"]
