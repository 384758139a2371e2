"""``station backup`` / ``backup keygen`` / ``restore`` in real subprocesses."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.backup.helpers import populate
from tests.conftest import run_station


def test_keygen_backup_and_restore_with_a_key_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    populate(home / "station.sqlite3", sessions=2, photos=1, clips=1)
    key = run_station("backup", "keygen", str(tmp_path / "ehpad.key"), home=home)
    assert key.returncode == 0 and key.stdout.startswith(f"Fichier de clé créé : {tmp_path}")
    assert (tmp_path / "ehpad.key").stat().st_mode & 0o777 == 0o600
    again = run_station("backup", "keygen", str(tmp_path / "ehpad.key"), home=home)
    assert again.returncode == 2 and "existe déjà" in again.stderr
    made = run_station("backup", "--key-file", str(tmp_path / "ehpad.key"), "--to",
                       str(tmp_path / "b.stbk"), home=home)
    assert made.returncode == 0, made.stderr
    assert made.stdout.startswith(f"Sauvegarde chiffrée écrite : {tmp_path / 'b.stbk'}")
    assert made.stdout.splitlines()[1] == ("résidents : 1 · séances : 2 · mesures : 20 · "
                                           "comptes rendus : 0 · fichiers médias : 4")
    restored = run_station("restore", str(tmp_path / "b.stbk"), "--to", str(tmp_path / "r"),
                           "--key-file", str(tmp_path / "ehpad.key"), home=home)
    assert restored.returncode == 0, restored.stderr
    assert "intégrité SQLite et chaîne d'audit" in restored.stdout
    assert restored.stdout.splitlines()[1] == made.stdout.splitlines()[1]
    refused = run_station("--lang", "en", "restore", str(tmp_path / "b.stbk"), "--to",
                          str(tmp_path / "r"), "--key-file", str(tmp_path / "ehpad.key"),
                          home=home)
    assert refused.returncode == 2
    assert refused.stderr.startswith(f"Error: {tmp_path / 'r'} already holds a station database")


def test_passphrase_from_stdin_or_environment_and_the_wrong_one(tmp_path: Path) -> None:
    home = tmp_path / "home"
    populate(home / "station.sqlite3", sessions=1, photos=0, clips=0)
    made = run_station("backup", "--passphrase-stdin", "--to", str(tmp_path / "b.stbk"),
                       home=home, stdin="phrase de passe de l'EHPAD\n")
    assert made.returncode == 0, made.stderr
    wrong = run_station("restore", str(tmp_path / "b.stbk"), "--to", str(tmp_path / "r"),
                        home=home, env={"STATION_BACKUP_PASSPHRASE": "une autre phrase !"})
    assert wrong.returncode == 2
    assert wrong.stderr.strip() == ("Erreur : clé ou phrase de passe incorrecte pour cette"
                                    " sauvegarde ; rien n'a été écrit")
    assert not (tmp_path / "r").exists()
    right = run_station("restore", str(tmp_path / "b.stbk"), "--to", str(tmp_path / "r"),
                        home=home, env={"STATION_BACKUP_PASSPHRASE": "phrase de passe de l'EHPAD"})
    assert right.returncode == 0, right.stderr
    none = run_station("backup", "--to", str(tmp_path / "c.stbk"), home=home, stdin="")
    assert none.returncode == 2 and "--key-file FICHIER, --passphrase-stdin" in none.stderr


def test_a_backup_and_a_restore_are_traced_in_the_audit_chain(tmp_path: Path) -> None:
    home = tmp_path / "home"
    populate(home / "station.sqlite3", sessions=1, photos=0, clips=0)
    secret = {"STATION_BACKUP_PASSPHRASE": "phrase de passe de l'EHPAD"}
    made = run_station("backup", "--to", str(tmp_path / "b.stbk"), home=home, env=secret)
    assert made.returncode == 0, made.stderr
    restored = run_station("restore", str(tmp_path / "b.stbk"), "--to", str(tmp_path / "r"),
                           home=home, env=secret)
    assert restored.returncode == 0, restored.stderr
    for store, action in ((home / "station.sqlite3", "backup.created"),
                          (tmp_path / "r" / "station.sqlite3", "backup.restored")):
        conn = sqlite3.connect(store)
        try:
            rows = conn.execute("SELECT actor, details FROM audit WHERE action = ?",
                                (action,)).fetchall()
        finally:
            conn.close()
        assert len(rows) == 1 and rows[0][0].startswith("cli:"), rows
        assert "b.stbk" in rows[0][1]
    checked = run_station("audit", "verify", home=tmp_path / "r")
    assert checked.returncode == 0, checked.stdout + checked.stderr
