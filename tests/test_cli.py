"""The ``station`` command in real subprocesses, French first, English on request."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from station.store.schema import LATEST_VERSION
from tests.conftest import QUALIFIED_INS, run_station

MARIE = ("--birth-name", "Dupont", "--first-names", "Marie Jeanne", "--sex", "F",
         "--birth-date", "12/04/1932", "--birth-place", "75056")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


def count_residents(home: Path) -> int:
    path = home / "station.sqlite3"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM residents").fetchone()[0])


def test_ins_check_exit_codes(home: Path) -> None:
    valid = run_station("ins", "check", "2 32 04 75 056 012 14", home=home)
    assert valid.returncode == 0
    assert valid.stdout.startswith("INS valide : 2 32 04 75 056 012 14 (NIR)")
    invalid = run_station("ins", "check", "232047505601215", home=home)
    assert invalid.returncode == 1
    assert invalid.stdout.strip() == ("INS invalide : 232047505601215 — la clé 15 est fausse :"
                                      " la clé calculée est 14 (erreur de saisie ?)")
    english = run_station("--lang", "en", "ins", "check", "123", home=home)
    assert english.returncode == 1
    assert english.stdout.startswith("Invalid INS")


def test_add_then_search(home: Path) -> None:
    added = run_station("residents", "add", *MARIE, "--used-name", "Martin", "--ins",
                        QUALIFIED_INS, "--status", "qualifiee", "--document", "cni", home=home)
    assert added.returncode == 0, added.stderr
    assert "Résident n°1 créé" in added.stdout
    assert "INS 2 32 04 75 056 012 14" in added.stdout
    found = run_station("residents", "search", "--born", "12/04/1932", "mar", home=home)
    assert found.returncode == 0
    assert "1 résident(s) trouvé(s)" in found.stdout
    assert "DUPONT (MARTIN)" in found.stdout and "identité qualifiée" in found.stdout
    none = run_station("residents", "search", "--born", "13/04/1932", home=home)
    assert none.stdout.strip() == "Aucun résident trouvé."


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (("--ins", "232047505601215"), "Erreur : Numéro INS : la clé 15 est fausse"),
        (("--sex", "Z"), "Erreur : Sexe : « Z » n'est pas un sexe reconnu"),
        (("--birth-date", "30/02/1932"), "Erreur : Date de naissance : la date « 30/02/1932 »"
                                         " n'existe pas"),
        (("--birth-place", "ABCDE"), "Erreur : Lieu de naissance (code INSEE) : « ABCDE »"),
    ],
)
def test_bad_input_is_refused_and_nothing_written(home: Path, change: tuple[str, str],
                                                  message: str) -> None:
    args = list(MARIE)
    index = args.index(change[0]) if change[0] in args else len(args)
    args[index:index + 2] = change
    result = run_station("residents", "add", *args, home=home)
    assert result.returncode == 2
    assert result.stderr.startswith(message)
    assert result.stdout == ""
    assert count_residents(home) == 0


def test_duplicate_warning_then_force(home: Path) -> None:
    assert run_station("residents", "add", *MARIE, home=home).returncode == 0
    again = run_station("residents", "add", *MARIE, home=home)
    assert again.returncode == 3
    assert "pourrai(en)t être la même personne" in again.stdout
    assert "Rien n'a été enregistré" in again.stdout
    assert count_residents(home) == 1
    forced = run_station("residents", "add", *MARIE, "--force", home=home)
    assert forced.returncode == 0
    assert count_residents(home) == 2


def test_update_and_show_history(home: Path) -> None:
    run_station("residents", "add", *MARIE, "--as", "claire.m", home=home)
    updated = run_station("residents", "update", "1", "--ins", QUALIFIED_INS, "--status",
                          "recuperee", "--as", "paul.r", home=home)
    assert updated.returncode == 0, updated.stderr
    shown = run_station("residents", "show", "1", home=home)
    assert "identité récupérée" in shown.stdout
    assert "Historique de l'identité (2 version(s))" in shown.stdout
    assert "paul.r  recuperee" in shown.stdout


def test_newer_store_is_refused_by_the_cli(home: Path) -> None:
    home.mkdir()
    with sqlite3.connect(home / "station.sqlite3") as conn:
        conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 1}")
    result = run_station("residents", "search", "x", home=home)
    assert result.returncode == 2
    assert "écrite par une version plus récente de la station" in result.stderr


def test_accounts(home: Path) -> None:
    created = run_station("accounts", "add", "claire.m", "--name", "Claire Martin",
                          "--password-stdin", stdin="correct horse\n", home=home)
    assert created.returncode == 0, created.stderr
    short = run_station("accounts", "add", "paul.r", "--name", "Paul", "--password-stdin",
                        stdin="short\n", home=home)
    assert short.returncode == 2
    assert "Mot de passe : le mot de passe doit compter au moins 8 caractères" in short.stderr
    listing = run_station("accounts", "list", home=home)
    assert "claire.m" in listing.stdout and "paul.r" not in listing.stdout


def test_english_help_and_errors(home: Path) -> None:
    result = run_station("--lang", "en", "residents", "add", *MARIE[:-2], "--birth-place",
                         "7505", home=home)
    assert result.returncode == 2
    assert result.stderr.startswith("Error: Place of birth (INSEE code)")
    help_text = run_station("--lang", "en", "--help", home=home)
    assert "Teleconsultation" in help_text.stdout


def test_demo_runs_a_whole_session(home: Path) -> None:
    first = run_station("demo", "--fresh", home=home)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    for expected in ("Connexion refusée comme prévu", "création de MARTIN (née DUPONT) Marie",
                     "→ étape : consentement", "→ étape : examen",
                     "⇄ appareil connecté : sim://oximeter-ble", "• Température : ",
                     "— sim://thermometer-ble (enregistré)", "• Pression systolique : ",
                     "• Poids : ", "• Pléthysmogramme : ", "photo dermatoscope 2592×1944",
                     "⚠ incident call_dropped", "→ étape : envoyé", "chaîne intègre"):
        assert expected in out, expected
    second = run_station("demo", home=home)
    assert "Résident retrouvé par date de naissance et nom (1)" in second.stdout
    assert not (home / "station.sqlite3").exists()  # the demo never touches the real store
