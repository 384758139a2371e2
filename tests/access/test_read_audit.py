"""Every read of a resident's record by a person is in the audit trail (who, when,
what, ids only); searches leave a keyed digest of their criteria and a count."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

from station.access import criteria_digest
from station.expertise import Expert, Expertise
from station.people import NurseAccount
from station.report.service import ReportService
from station.store import audit
from station.store.database import Store
from station.store.residents import Resident, ResidentRegistry
from station.today import resume_session, sessions_today
from tests.conftest import QUALIFIED_INS, FakeClock
from tests.expertise.conftest import build_session
from tests.report.conftest import run_session

TRAITS = ("Dupont", "DUPONT", "Marie", "Martin", "1932-04-12", "12/04/1932", QUALIFIED_INS,
          "dup")


def reads(store: Store, since: int = 0) -> list[tuple[str, str, dict[str, object]]]:
    rows = store.conn.execute(
        "SELECT actor, action, details FROM audit WHERE id > ? AND action IN"
        " ('record.read', 'resident.searched') ORDER BY id", (since,))
    return [(actor, action, json.loads(details)) for actor, action, details in rows]


def last_id(store: Store) -> int:
    return int(store.conn.execute("SELECT coalesce(max(id), 0) FROM audit").fetchone()[0])


def test_search_then_open_then_history(store: Store, nurse: NurseAccount,
                                       resident: Resident) -> None:
    registry = ResidentRegistry(store)
    start = last_id(store)
    assert registry.find(nurse, date(1932, 4, 12), "dup") == [resident]
    assert registry.find(nurse, None, "zz") == []
    assert registry.open(resident.id, nurse) == resident
    assert len(registry.history(resident.id, nurse)) == 1
    rows = reads(store, start)
    assert [(a, act) for a, act, _ in rows] == [("claire.m", "resident.searched")] * 2 + [
        ("claire.m", "record.read")] * 2
    first, second = rows[0][2], rows[1][2]
    assert first["results"] == 1 and second["results"] == 0
    assert first["criteria"] == criteria_digest(store, "search", date(1932, 4, 12), "DUP")
    assert first["criteria"] != second["criteria"]
    assert rows[2][2] == {"what": "identity", "resident": resident.id}
    assert rows[3][2] == {"what": "history", "resident": resident.id}
    text = json.dumps([r[2] for r in rows])
    assert not [t for t in TRAITS if t in text]
    assert audit.verify(store.conn).ok


def test_the_criteria_digest_is_keyed_per_store(tmp_path: Path) -> None:
    with Store.open(tmp_path / "a.sqlite3") as a, Store.open(tmp_path / "b.sqlite3") as b:
        criteria = ("search", date(1932, 4, 12), "DUP")
        assert criteria_digest(a, *criteria) == criteria_digest(a, *criteria)
        assert criteria_digest(a, *criteria) != criteria_digest(b, *criteria)


def test_duplicate_check_shown_to_a_nurse_is_a_search(store: Store, nurse: NurseAccount,
                                                      resident: Resident) -> None:
    from tests.conftest import marie  # noqa: PLC0415

    start = last_id(store)
    assert ResidentRegistry(store).find_duplicates(marie(), nurse) == [resident]
    [(actor, action, details)] = reads(store, start)
    assert (actor, action, details["kind"], details["results"]) == (
        "claire.m", "resident.searched", "duplicates", 1)


def test_today_resume_report_and_expertise_reads(store: Store, nurse: NurseAccount,
                                                 resident: Resident, clock: FakeClock) -> None:
    engine = run_session(store, nurse, resident, clock)
    service = ReportService(store, clock=clock)
    version = service.validate(engine.id, actor=nurse.login)
    asked = build_session(store, nurse, resident, clock)
    request = Expertise(store, clock=clock).create(
        asked.engine.id, "Avis sur l'érythème du talon ?",
        Expert("Dr Anne Leroy", "10003456784", "dermatologie", "a.leroy@derm.mssante.test"),
        actor=nurse.login)
    start = last_id(store)
    assert {d.row.id for d in sessions_today(store, nurse, clock)} == {engine.id,
                                                                      asked.engine.id}
    resume_session(store, engine.id, nurse, clock)
    assert service.open_for(engine.id, nurse) == version
    assert service.open_for(engine.id, nurse, "report.pdf") == version
    assert Expertise(store, clock=clock).show(request.id, nurse).id == request.id
    rows = reads(store, start)
    assert [r[2]["what"] for r in rows] == ["today", "session", "report", "report.pdf",
                                           "expertise"]
    assert rows[0][2] == {"what": "today", "sessions": 2}
    for _, _, details in rows[1:]:
        assert details["resident"] == resident.id
    assert [r[2]["session"] for r in rows[1:]] == [engine.id] * 3 + [asked.engine.id]
    assert rows[2][2]["report"] == version.id
    assert rows[4][2]["request"] == request.id
    assert audit.verify(store.conn).ok
