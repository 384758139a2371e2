"""The SQLite store: pragmas, migrations, refusal of newer schemas, protection."""

from __future__ import annotations

import hashlib
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devices.measurement import Kind, Measurement, WaveformChunk
from station.consent import ConsentCapacity, ConsentDecision
from station.errors import SchemaTooNewError, SignInError, StoreError
from station.paths import default_store_path, station_home
from station.people import NurseAccount
from station.session import SessionEngine
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.residents import Resident
from station.store.schema import LATEST_VERSION


def test_pragmas_and_schema_version(store: Store) -> None:
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert store.schema_version == LATEST_VERSION
    assert store.integrity_check() == ["ok"]


def test_reopening_migrates_nothing_twice(tmp_path: Path) -> None:
    path = tmp_path / "s.sqlite3"
    Store.open(path).close()
    with Store.open(path) as again:
        assert again.schema_version == LATEST_VERSION


def test_a_store_from_a_newer_version_is_refused_untouched(tmp_path: Path) -> None:
    path = tmp_path / "future.sqlite3"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST_VERSION + 5}")
    conn.close()
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    with pytest.raises(SchemaTooNewError) as caught:
        Store.open(path)
    assert str(caught.value) == (
        f"la base {path} a été écrite par une version plus récente de la station (schéma"
        f" {LATEST_VERSION + 5}, cette version connaît le schéma {LATEST_VERSION}). Mettez"
        " la station à jour ; la base n'a pas été modifiée."
    )
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before
    assert not (tmp_path / "future.sqlite3-wal").exists()


def test_a_file_that_is_not_a_store_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "notes.sqlite3"
    path.write_text("ceci n'est pas une base de données " * 100)
    with pytest.raises(StoreError, match="impossible d'ouvrir la base"):
        Store.open(path)


@pytest.mark.parametrize("table", ["measurements", "consents", "session_events", "audit",
                                   "identity_changes", "sign_in_attempts", "waveform_chunks"])
def test_clinical_facts_are_never_deleted_nor_rewritten(
    store: Store, nurse: NurseAccount, resident: Resident, table: str
) -> None:
    _one_of_everything(store, nurse, resident)
    count = store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
    assert count > 0
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        store.conn.execute(f"DELETE FROM {table}")
    with pytest.raises(sqlite3.IntegrityError, match="never rewritten"):
        store.conn.execute(f"UPDATE {table} SET id = id")
    assert store.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == count


def _one_of_everything(store: Store, nurse: NurseAccount, resident: Resident) -> None:
    engine = SessionEngine.start(store, nurse)
    engine.identify(resident)
    engine.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)
    now = datetime.now(UTC)
    engine.add_measurement(Measurement(Kind.SPO2, 97.0, "%", now, "sim://ox"))
    engine.add_waveform(WaveformChunk(Kind.PLETH, now, 75.0, (1.0, 2.0), "1", "sim://ox"))
    with pytest.raises(SignInError):
        AccountDirectory(store).sign_in(nurse.login, "wrong password")


def test_residents_are_never_deleted(store: Store, resident: Resident) -> None:
    with pytest.raises(sqlite3.IntegrityError, match="never deleted"):
        store.conn.execute("DELETE FROM residents WHERE id = ?", (resident.id,))
    assert store.conn.execute("SELECT count(*) FROM residents").fetchone()[0] == 1


def test_a_failed_write_leaves_nothing_behind(store: Store) -> None:
    with pytest.raises(sqlite3.IntegrityError), store.write() as conn:
        conn.execute("INSERT INTO sign_in_attempts (login, time, outcome) VALUES ('a', 't', 'x')")
        conn.execute("INSERT INTO sessions (id) VALUES ('incomplete')")  # NOT NULL fails
    assert store.conn.execute("SELECT count(*) FROM sign_in_attempts").fetchone()[0] == 0
    assert not store.conn.in_transaction


def test_data_lives_under_station_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATION_HOME", str(tmp_path / "home"))
    assert station_home() == tmp_path / "home"
    assert default_store_path() == tmp_path / "home" / "station.sqlite3"
    monkeypatch.delenv("STATION_HOME")
    assert "teleconsultation-station" in str(station_home())
