"""The CLI: roles at creation, changed by an admin, a technician refused clinical
reads (exit 2, French message), every read audited and the chain still intact."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.conftest import run_station

MARIE = ("--birth-name", "Dupont", "--first-names", "Marie Jeanne", "--sex", "F",
         "--birth-date", "12/04/1932", "--birth-place", "75056")
PASSWORD = "correct horse\n"


def test_roles_and_refused_reads_through_the_cli(tmp_path: Path) -> None:
    home = tmp_path
    assert run_station("accounts", "add", "claire.m", "--name", "Claire Martin",
                       "--password-stdin", home=home, stdin=PASSWORD).returncode == 0
    tech = run_station("accounts", "add", "paul.t", "--name", "Paul Technicien",
                       "--role", "technician", "--password-stdin", home=home, stdin=PASSWORD)
    assert tech.returncode == 0
    assert "Rôle de « paul.t » : technicien·ne." in tech.stdout
    listing = run_station("accounts", "list", home=home).stdout
    assert "infirmier·e" in listing and "technicien·ne" in listing

    refused = run_station("accounts", "role", "paul.t", "admin", "--as", "claire.m", home=home)
    assert refused.returncode == 2
    assert "seul un administrateur le peut" in refused.stderr
    assert run_station("accounts", "role", "claire.m", "admin", home=home).returncode == 0

    assert run_station("residents", "add", *MARIE, home=home).returncode == 0
    for command in (("residents", "show", "1"), ("residents", "search", "dup")):
        denied = run_station(*command, "--as", "paul.t", home=home)
        assert denied.returncode == 2, command
        assert "votre rôle (technicien·ne) ne donne pas accès aux données cliniques" \
            in denied.stderr
        assert "DUPONT" not in denied.stdout + denied.stderr
    unknown = run_station("residents", "show", "1", "--as", "nobody", home=home)
    assert unknown.returncode == 2 and "aucun compte « nobody »" in unknown.stderr

    shown = run_station("residents", "show", "1", "--as", "claire.m", home=home)
    assert shown.returncode == 0 and "DUPONT" in shown.stdout
    trail = run_station("audit", "verify", home=home)
    assert trail.returncode == 0, trail.stdout + trail.stderr

    with sqlite3.connect(home / "station.sqlite3") as conn:
        rows = conn.execute("SELECT actor, details FROM audit WHERE action = 'record.read'"
                            " ORDER BY id").fetchall()
        roles = conn.execute("SELECT details FROM audit WHERE action = "
                             "'account.role_changed'").fetchall()
    assert rows == [("claire.m", '{"resident":1,"what":"identity"}'),
                    ("claire.m", '{"resident":1,"what":"history"}')]
    assert roles == [('{"after":"admin","before":"nurse","login":"claire.m"}',)]
