"""Unlock PINs: argon2-hashed, 4-6 digits, blocked after 5 failures until the
password is typed; every attempt audited; ``station accounts pin``."""

from __future__ import annotations

from pathlib import Path

import pytest

from station.errors import NotFoundError, ValidationError
from station.people import NurseAccount
from station.store import audit
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.pins import MAX_FAILURES, PinBlockedError, PinDirectory, PinError, unlock
from tests.conftest import run_station


def test_pin_rules_hashing_blocking_and_audit(store: Store, nurse: NurseAccount) -> None:
    pins = PinDirectory(store)
    for bad, reason in (("12", "4 à 6 chiffres"), ("12a4", "4 à 6 chiffres"),
                        ("1111", "trop facile"), ("4321", "trop facile")):
        with pytest.raises(ValidationError, match=reason):
            pins.set_pin("claire.m", bad, "admin")
    with pytest.raises(NotFoundError):
        pins.set_pin("nobody", "2580", "admin")
    pins.set_pin("claire.m", "2580", "admin")
    stored = store.conn.execute("SELECT pin_hash FROM pins").fetchone()[0]
    assert stored.startswith("$argon2id$") and "2580" not in stored
    pins.check_pin("claire.m", "2580")
    for left in range(MAX_FAILURES - 1, 0, -1):
        with pytest.raises(PinError, match=f"{left} essai"):
            pins.check_pin("claire.m", "0000")
    with pytest.raises(PinBlockedError):
        pins.check_pin("claire.m", "0000")
    with pytest.raises(PinBlockedError):
        pins.check_pin("claire.m", "2580")
    accounts = AccountDirectory(store)
    assert unlock(accounts, pins, nurse, "correct horse").login == "claire.m"
    assert unlock(accounts, pins, nurse, "2580").login == "claire.m"  # usable again
    actions = [r[0] for r in store.conn.execute("SELECT action FROM audit WHERE action LIKE"
                                                " 'pin.%' ORDER BY id")]
    assert actions[:2] == ["pin.set", "pin.set"] and actions[-1] == "pin.success"
    assert audit.verify(store.conn).ok


def test_cli_sets_a_pin_from_stdin(tmp_path: Path) -> None:
    created = run_station("accounts", "add", "claire.m", "--name", "Claire Martin",
                          "--password-stdin", home=tmp_path, stdin="correct horse\n")
    assert created.returncode == 0, created.stderr
    refused = run_station("accounts", "pin", "claire.m", home=tmp_path, stdin="12\n")
    assert refused.returncode == 2 and "4 à 6 chiffres" in refused.stderr + refused.stdout
    done = run_station("accounts", "pin", "claire.m", "--pin-stdin", home=tmp_path,
                       stdin="2580\n")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "code de déverrouillage enregistré pour claire.m"
