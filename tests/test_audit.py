"""The hash-chained audit trail detects tampering with itself and with records."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.measurement import Kind, Measurement
from station.consent import ConsentCapacity, ConsentDecision
from station.people import NurseAccount
from station.session import SessionEngine
from station.store import audit
from station.store.database import Store
from station.store.residents import Resident
from tests.conftest import run_station


@pytest.fixture
def session(store: Store, nurse: NurseAccount, resident: Resident) -> SessionEngine:
    engine = SessionEngine.start(store, nurse)
    engine.identify(resident)
    engine.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)
    now = datetime.now(UTC)
    engine.add_measurements([Measurement(Kind.SPO2, 90.0 + i, "%", now, "sim://ox")
                             for i in range(5)])
    engine.add_measurement(Measurement(Kind.PULSE_RATE, 70.0, "/min", now, "sim://ox"))
    return engine


def tamper(store: Store, sql: str, table: str) -> None:
    """What an attacker with the file could do: drop the guard, change a row."""
    raw = sqlite3.connect(store.path)
    raw.execute(f"DROP TRIGGER {table}_no_update")
    raw.execute(sql)
    raw.commit()
    raw.close()


def test_an_untouched_trail_verifies(store: Store, session: SessionEngine) -> None:
    result = audit.verify(store.conn)
    assert result.ok, result.problems
    actions = [r[0] for r in store.conn.execute("SELECT action FROM audit ORDER BY id")]
    assert actions[:2] == ["account.created", "identity.changed"]
    assert "consent.donne" in actions
    assert "measurements.recorded" in actions
    assert result.entries == len(actions)


def test_an_edited_audit_row_is_detected(store: Store, session: SessionEngine) -> None:
    tamper(store, "UPDATE audit SET actor = 'someone.else' WHERE id = 3", "audit")
    result = audit.verify(store.conn)
    assert result.problems == ["entrée n°3 : son contenu a été modifié"]


def test_a_rewritten_chain_tail_still_breaks_at_the_edit(store: Store,
                                                         session: SessionEngine) -> None:
    flip_first_character = ("UPDATE audit SET hash = (CASE WHEN substr(hash, 1, 1) = '0'"
                            " THEN '1' ELSE '0' END) || substr(hash, 2) WHERE id = 4")
    tamper(store, flip_first_character, "audit")
    problems = audit.verify(store.conn).problems
    assert "entrée n°4 : son contenu a été modifié" in problems
    assert "entrée n°5 : le chaînage avec l'entrée précédente est rompu" in problems


def test_a_removed_audit_row_is_detected(store: Store, session: SessionEngine) -> None:
    raw = sqlite3.connect(store.path)
    raw.execute("DROP TRIGGER audit_no_delete")
    raw.execute("DELETE FROM audit WHERE id = 5")
    raw.commit()
    raw.close()
    problems = audit.verify(store.conn).problems
    assert "entrée manquante dans le journal : attendu n°5, trouvé n°6" in problems


def test_a_changed_measurement_is_detected(store: Store, session: SessionEngine) -> None:
    tamper(store, "UPDATE measurements SET value = 99 WHERE id = 2", "measurements")
    problems = audit.verify(store.conn).problems
    assert len(problems) == 1
    assert "les données de « measurements » (1 à 5) ont été modifiées" in problems[0]


def test_a_changed_resident_is_detected(store: Store, session: SessionEngine) -> None:
    raw = sqlite3.connect(store.path)
    raw.execute("UPDATE residents SET birth_date = '1933-04-12'")
    raw.commit()
    raw.close()
    problems = audit.verify(store.conn).problems
    assert any("« residents »" in p for p in problems)


def test_cli_verify_exit_codes(tmp_path: Path) -> None:
    home = tmp_path / "home"
    added = run_station("residents", "add", "--birth-name", "Durand", "--first-names", "Paul",
                        "--sex", "M", "--birth-date", "03/01/1940", "--birth-place", "69123",
                        home=home)
    assert added.returncode == 0, added.stderr
    ok = run_station("audit", "verify", home=home)
    assert ok.returncode == 0
    assert ok.stdout.startswith("Journal d'audit intègre : 2 entrées vérifiées")
    raw = sqlite3.connect(home / "station.sqlite3")
    raw.execute("UPDATE residents SET birth_name = 'DURANT'")
    raw.commit()
    raw.close()
    broken = run_station("audit", "verify", home=home)
    assert broken.returncode == 1
    assert "Journal d'audit ALTÉRÉ : 1 problème(s) sur 2 entrées." in broken.stdout
