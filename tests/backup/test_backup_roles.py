"""Only an admin makes or restores a backup (a copy of every record), and the trail says who.

Real ``station`` subprocesses on a real store; the key file is the EHPAD's.
``--as`` is checked against this station's accounts for ``backup`` and
against the backed-up station's own accounts for ``restore``.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from station.access import Role
from station.store.accounts import AccountDirectory
from station.store.database import Store
from tests.backup.helpers import populate
from tests.conftest import run_station


def audit_rows(database: Path, action: str) -> list[tuple[str, dict[str, object]]]:
    conn = sqlite3.connect(database)
    try:
        rows = conn.execute("SELECT actor, details FROM audit WHERE action = ? ORDER BY id",
                            (action,)).fetchall()
    finally:
        conn.close()
    return [(actor, json.loads(details)) for actor, details in rows]


@pytest.fixture
def station(tmp_path: Path) -> tuple[Path, Path]:
    """A station home with a nurse (claire.m), a technician and an admin; the EHPAD's key."""
    home = tmp_path / "home"
    populate(home / "station.sqlite3", sessions=1, photos=0, clips=0)
    with Store.open(home / "station.sqlite3") as store:
        accounts = AccountDirectory(store)
        accounts.create("paul.t", "Paul Technicien", "correct horse", "test", Role.TECHNICIAN)
        accounts.create("sophie.a", "Sophie Admin", "correct horse", "test", Role.ADMIN)
    key = tmp_path / "ehpad.key"
    assert run_station("backup", "keygen", str(key), home=home).returncode == 0
    return home, key


def test_a_technician_or_a_nurse_cannot_make_a_backup(station: tuple[Path, Path],
                                                      tmp_path: Path) -> None:
    home, key = station
    for login, role in (("paul.t", "technicien·ne"), ("claire.m", "infirmier·e")):
        refused = run_station("backup", "--key-file", str(key), "--to",
                              str(tmp_path / "b.stbk"), "--as", login, home=home)
        assert refused.returncode == 2
        assert refused.stderr.strip() == (
            f"Erreur : votre rôle ({role}) ne permet pas de sauvegarder ni de restaurer la "
            "base : une sauvegarde contient toutes les données cliniques, seul un "
            "administrateur le peut ; rien n'a été fait"), refused.stderr
    assert not (tmp_path / "b.stbk").exists()
    assert not list(tmp_path.glob(".b.stbk.partial-*"))
    assert audit_rows(home / "station.sqlite3", "backup.created") == []
    english = run_station("--lang", "en", "backup", "--key-file", str(key), "--to",
                          str(tmp_path / "b.stbk"), "--as", "paul.t", home=home)
    assert english.returncode == 2
    assert english.stderr.startswith("Error: your role (technician) may not back up")
    unknown = run_station("backup", "--key-file", str(key), "--to", str(tmp_path / "b.stbk"),
                          "--as", "nobody", home=home)
    assert unknown.returncode == 2 and not (tmp_path / "b.stbk").exists()


def test_an_admin_backs_up_and_restores_and_the_trail_names_them(station: tuple[Path, Path],
                                                                  tmp_path: Path) -> None:
    home, key = station
    archive, target = tmp_path / "b.stbk", tmp_path / "restored"
    made = run_station("backup", "--key-file", str(key), "--to", str(archive),
                       "--as", "sophie.a", home=home)
    assert made.returncode == 0, made.stderr
    [(actor, details)] = audit_rows(home / "station.sqlite3", "backup.created")
    assert actor == "sophie.a" and details["role"] == "admin" and details["path"] == str(archive)

    # The technician of the backed-up station may not restore it: nothing is written.
    refused = run_station("restore", str(archive), "--to", str(target), "--key-file", str(key),
                          "--as", "paul.t", home=home)
    assert refused.returncode == 2
    assert "seul un administrateur le peut" in refused.stderr
    assert not target.exists()
    assert not list(tmp_path.glob(".restored.restore-*"))
    # An admin of another station is not one of this station's accounts.
    stranger = run_station("restore", str(archive), "--to", str(target), "--key-file", str(key),
                           "--as", "admin.ailleurs", home=home)
    assert stranger.returncode == 2 and not target.exists()

    restored = run_station("restore", str(archive), "--to", str(target), "--key-file", str(key),
                           "--as", "sophie.a", home=home)
    assert restored.returncode == 0, restored.stderr
    [(actor, details)] = audit_rows(target / "station.sqlite3", "backup.restored")
    assert actor == "sophie.a" and details["role"] == "admin"
    assert details["archive"] == str(archive)
    checked = run_station("audit", "verify", home=target)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_without_as_the_system_account_acts_as_admin(station: tuple[Path, Path],
                                                     tmp_path: Path) -> None:
    """The operating-system account owning the store could copy the file anyway."""
    home, key = station
    made = run_station("backup", "--key-file", str(key), "--to", str(tmp_path / "b.stbk"),
                       home=home)
    assert made.returncode == 0, made.stderr
    [(actor, details)] = audit_rows(home / "station.sqlite3", "backup.created")
    assert actor.startswith("cli:") and details["role"] == "admin"
