"""Versions: validated once, immutable, corrected by new versions, audited, exported."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from station.cli.main import main
from station.errors import SessionStateError, StoreError, ValidationError
from station.people import NurseAccount
from station.report.service import ReportService
from station.session import SessionEngine
from station.store import audit
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.reports import sha256_hex
from station.store.residents import Resident, ResidentRegistry
from tests.conftest import FakeClock, marie
from tests.report.conftest import DOCTOR_RPPS, FinishedSession, pdf_pages, pdf_text, run_session


@pytest.fixture
def service(finished: FinishedSession, clock: FakeClock) -> ReportService:
    return ReportService(finished.store, station_name="EHPAD Les Tilleuls", clock=clock)


def test_validation_stores_an_audited_version(finished: FinishedSession,
                                              service: ReportService) -> None:
    version = service.validate(finished.engine.id)
    assert (version.version, version.state, version.replaces_id) == (1, "validated", None)
    assert version.validated_by == "Dr Élise Moreau" and version.validated_rpps == DOCTOR_RPPS
    assert version.pdf_sha256 == sha256_hex(version.pdf) and version.intact()
    assert service.latest(finished.engine.id) == version
    row = finished.store.conn.execute(
        "SELECT action, entity, first_id, details FROM audit WHERE entity = 'reports'"
    ).fetchone()
    assert row[:3] == ("report.validated", "reports", version.id)
    assert json.loads(row[3])["pdf_sha256"] == version.pdf_sha256
    assert finished.engine.events()[-1].type == "report_validated"
    assert audit.verify(finished.store.conn).ok


def test_validation_waits_for_the_end_of_the_examination(
    store: Store, nurse: NurseAccount, resident: Resident, clock: FakeClock,
) -> None:
    from station.consent import ConsentCapacity, ConsentDecision  # noqa: PLC0415

    engine = SessionEngine.start(store, nurse, clock=clock)
    engine.identify(resident)
    engine.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT)
    service = ReportService(store, clock=clock)
    with pytest.raises(SessionStateError, match="examen terminé"):
        service.validate(engine.id)
    service.preview(engine.id)  # a draft can be looked at any time
    engine.withdraw_consent(ConsentCapacity.RESIDENT, note="souhaite arrêter")
    with pytest.raises(ValidationError, match="aucun médecin"):
        service.validate(engine.id)  # allowed after a withdrawal, but names its doctor
    from station.people import Doctor  # noqa: PLC0415

    version = service.validate(engine.id, Doctor("Dr A", DOCTOR_RPPS, "gériatrie"))
    assert "Retrait du" in pdf_text(version.pdf)


def test_a_validated_version_cannot_be_rewritten_or_deleted(
    finished: FinishedSession, service: ReportService,
) -> None:
    version = service.validate(finished.engine.id)
    conn = finished.store.conn
    for sql in ("UPDATE reports SET content = '{}' WHERE id = ?",
                "UPDATE reports SET pdf = x'00' WHERE id = ?",
                "UPDATE reports SET state = 'draft' WHERE id = ?",
                "DELETE FROM reports WHERE id = ?"):
        with pytest.raises(sqlite3.IntegrityError, match="clinical record"):
            conn.execute(sql, (version.id,))
    with pytest.raises(SessionStateError, match="déjà validé"):
        service.validate(finished.engine.id)


def test_a_correction_is_a_new_version_that_replaces_the_last(
    finished: FinishedSession, service: ReportService, clock: FakeClock,
) -> None:
    first = service.validate(finished.engine.id)
    clock.advance(hours=2)
    second = service.correct(first.id, prescriptions="Pansement changé tous les 2 jours.",
                             reason="posologie précisée")
    assert (second.version, second.replaces_id) == (2, first.id)
    content = service.content_of(second)
    assert content.prescriptions == "Pansement changé tous les 2 jours."
    assert content.conclusion == service.content_of(first).conclusion  # kept
    text = pdf_text(second.pdf)
    assert "corrige et remplace la version 1" in text and first.id in text
    assert "posologie précisée" in text
    assert [v.version for v in service.history(finished.engine.id)] == [1, 2]
    assert service.get(first.id) == first  # the first is untouched
    with pytest.raises(SessionStateError, match="dernière version"):
        service.correct(first.id, conclusion="fork")
    third = service.correct(second.id, billing=["TC"])
    assert (third.version, third.replaces_id) == (3, second.id)
    with pytest.raises(sqlite3.IntegrityError):  # SQLite refuses a fork of the chain too
        finished.store.conn.execute(
            "INSERT INTO reports (id, session_id, version, replaces_id, state, created_at,"
            " created_by, content, content_sha256, pdf, pdf_sha256, fhir, fhir_sha256,"
            " validated_by, validated_at) SELECT 'x', session_id, 9, ?, state, created_at,"
            " created_by, content, content_sha256, pdf, pdf_sha256, fhir, fhir_sha256,"
            " validated_by, validated_at FROM reports WHERE id = ?", (first.id, first.id))
    assert audit.verify(finished.store.conn).ok


def test_audit_verify_catches_an_edited_report(finished: FinishedSession,
                                               service: ReportService) -> None:
    version = service.validate(finished.engine.id)
    conn = finished.store.conn
    assert audit.verify(conn).ok
    # Someone with the file drops the trigger and edits the conclusion.
    conn.execute("DROP TRIGGER reports_validated_fixed")
    edited = version.content_json.replace("Érythème", "Eczéma")
    conn.execute("UPDATE reports SET content = ? WHERE id = ?", (edited, version.id))
    result = audit.verify(conn)
    assert not result.ok
    assert any("reports" in problem for problem in result.problems)


def test_an_edited_pdf_is_caught_too(finished: FinishedSession, service: ReportService,
                                     tmp_path: Path) -> None:
    version = service.validate(finished.engine.id)
    conn = finished.store.conn
    conn.execute("DROP TRIGGER reports_validated_fixed")
    conn.execute("UPDATE reports SET pdf = ? WHERE id = ?",
                 (version.pdf + b"%edited\n", version.id))
    assert not audit.verify(conn).ok
    with pytest.raises(StoreError, match="SHA-256"):
        service.render_files(service.get(version.id), tmp_path)


def test_render_files_writes_the_stored_bytes(finished: FinishedSession,
                                              service: ReportService, tmp_path: Path) -> None:
    version = service.validate(finished.engine.id)
    pdf, fhir = service.render_files(version, tmp_path / "out")
    assert (pdf.name, fhir.name) == ("compte-rendu-v1.pdf", "compte-rendu-v1.fhir.json")
    assert pdf.read_bytes() == version.pdf and fhir.read_bytes() == version.fhir
    assert json.loads(fhir.read_text(encoding="utf-8"))["type"] == "document"


def test_an_altered_photo_is_refused(finished: FinishedSession,
                                     service: ReportService) -> None:
    path = finished.store.conn.execute("SELECT path FROM snapshots").fetchone()[0]
    file = finished.store.path.parent / "media" / path
    file.write_bytes(file.read_bytes() + b"\0")
    with pytest.raises(StoreError):
        service.validate(finished.engine.id)


def test_the_cli_validates_shows_corrects_and_exports(
    tmp_path: Path, clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("STATION_HOME", str(home))
    with Store.open(home / "station.sqlite3") as store:
        nurse = AccountDirectory(store).create("claire.m", "Claire Martin", "pw-123456", "t")
        resident = ResidentRegistry(store).create(marie(), "claire.m")
        session_id = run_session(store, nurse, resident, clock).id
    assert main(["report", "export", session_id, "-o", str(tmp_path / "x.pdf")]) == 2
    assert "aucun compte rendu validé" in capsys.readouterr().err
    assert main(["report", "validate", session_id, "--billing", "TCG"]) == 0
    assert "Compte rendu validé : version 1" in capsys.readouterr().out
    assert main(["report", "correct", session_id, "--conclusion", "Corrigée.",
                 "--reason", "faute de frappe", "-o", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "version 2" in out and "compte-rendu-v2.pdf" in out
    assert main(["report", "show", session_id]) == 0
    out = capsys.readouterr().out
    assert "Identité qualifiée" in out and "v2 validated" in out and "(remplace v1)" in out
    assert main(["report", "export", session_id, "--format", "pdf",
                 "-o", str(tmp_path / "cr.pdf")]) == 0
    assert main(["report", "export", session_id, "--format", "fhir",
                 "-o", str(tmp_path / "cr.json")]) == 0
    pdf = (tmp_path / "cr.pdf").read_bytes()
    assert pdf_pages(pdf) >= 2 and "Corrigée." in pdf_text(pdf)
    assert json.loads((tmp_path / "cr.json").read_text())["type"] == "document"
    assert main(["audit", "verify"]) == 0
    assert main(["--lang", "en", "report", "validate", session_id]) == 2
    assert "already validated" in capsys.readouterr().err
