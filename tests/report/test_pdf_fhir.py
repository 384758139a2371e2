"""Renderings: a real PDF (pages, French text, photo) and a FHIR bundle that validates."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

from station.report.service import ReportService
from station.store.residents import ResidentRegistry
from tests.conftest import QUALIFIED_INS, FakeClock, marie
from tests.report.conftest import DOCTOR_RPPS, FinishedSession, pdf_pages, pdf_text, run_session


@pytest.fixture
def service(finished: FinishedSession, clock: FakeClock) -> ReportService:
    return ReportService(finished.store, station_name="EHPAD Les Tilleuls", clock=clock)


def test_the_pdf_is_a_paginated_french_clinical_document(
    finished: FinishedSession, service: ReportService,
) -> None:
    pdf = service.validate(finished.engine.id).pdf
    assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
    pages = pdf_pages(pdf)
    assert pages >= 2
    text = pdf_text(pdf)
    for expected in ("Compte rendu de téléconsultation", "EHPAD Les Tilleuls",
                     f"page 1 / {pages}", f"page {pages} / {pages}", "Identité qualifiée",
                     "Dr Élise Moreau", f"RPPS {DOCTOR_RPPS}", "médecine générale",
                     "Érythème du talon droit", "<pansement hydrocolloïde> & surveillance",
                     "59408-5", "37,6", "invraisemblable", "Appel interrompu", "10:04:22",
                     "TCG", "TLS", "Le résident lui-même", "Version 1",
                     "Dermatoscope", "Infirmier·e"):
        assert expected in text, expected
    assert "2 32 04 75 056 012 14" in text
    assert pdf.count(b"/Subtype /Image") == 1  # the dermatoscope still


def test_no_ins_in_the_pdf_nor_the_bundle_for_a_provisional_identity(
    finished: FinishedSession, clock: FakeClock,
) -> None:
    store = finished.store
    resident = ResidentRegistry(store).create(
        marie(birth_name="Durand", status="provisoire", document=None), "claire.m")
    engine = run_session(store, finished.engine.nurse, resident, clock)
    version = ReportService(store, clock=clock).validate(engine.id)
    text = pdf_text(version.pdf)
    assert "Identité provisoire" in text
    assert "2 32 04" not in text and QUALIFIED_INS not in text
    bundle = json.loads(version.fhir)
    patient = next(e["resource"] for e in bundle["entry"]
                   if e["resource"]["resourceType"] == "Patient")
    assert "identifier" not in patient
    assert QUALIFIED_INS.encode() not in version.fhir
    assert b"1.2.250.1.213.1.4.8" not in version.fhir


def test_rendering_is_deterministic(finished: FinishedSession, service: ReportService) -> None:
    first = service.preview(finished.engine.id)
    again = service.preview(finished.engine.id)
    assert first.pdf == again.pdf and first.fhir == again.fhir
    assert b"PROJET" in first.pdf or "PROJET" in pdf_text(first.pdf)


def _entries(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def test_the_fhir_bundle_validates_entry_by_entry(
    finished: FinishedSession, service: ReportService,
) -> None:
    version = service.validate(finished.engine.id)
    bundle = json.loads(version.fhir)
    parsed = Bundle.model_validate(bundle)
    assert parsed.type == "document"
    for entry in bundle["entry"]:
        resource = entry["resource"]
        model = get_fhir_model_class(resource["resourceType"])
        model.model_validate(resource)  # raises on any invalid field
        assert entry["fullUrl"] == f"urn:uuid:{resource['id']}"
    assert bundle["entry"][0]["resource"]["resourceType"] == "Composition"
    composition = bundle["entry"][0]["resource"]
    assert composition["type"]["coding"][0]["code"] == "85208-7"
    assert composition["status"] == "final"
    assert composition["attester"][0]["mode"] == "legal"
    # every reference resolves inside the bundle
    urls = {e["fullUrl"] for e in bundle["entry"]}
    refs = {m for m in _references(bundle) if m.startswith("urn:uuid:")}
    assert refs <= urls


def _references(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [str(node["reference"])] if "reference" in node else []
        return found + [r for v in node.values() for r in _references(v)]
    if isinstance(node, list):
        return [r for v in node for r in _references(v)]
    return []


def test_fhir_resources_carry_the_french_codes(
    finished: FinishedSession, service: ReportService,
) -> None:
    bundle = json.loads(service.validate(finished.engine.id).fhir)
    (patient,) = _entries(bundle, "Patient")
    assert patient["identifier"][0]["system"] == "urn:oid:1.2.250.1.213.1.4.8"
    assert patient["identifier"][0]["value"] == QUALIFIED_INS
    doctor = next(p for p in _entries(bundle, "Practitioner") if "qualification" in p
                  and p["qualification"][0]["code"]["text"] == "médecine générale")
    assert {"system": "urn:oid:1.2.250.1.71.4.2.1", "value": f"8{DOCTOR_RPPS}"}.items() <= \
        doctor["identifier"][0].items()
    assert doctor["identifier"][1]["value"] == DOCTOR_RPPS
    (encounter,) = _entries(bundle, "Encounter")
    assert encounter["class"] == {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                  "code": "VR", "display": "virtual"}
    (consent,) = _entries(bundle, "Consent")
    assert consent["status"] == "active" and consent["provision"]["type"] == "permit"
    observations = _entries(bundle, "Observation")
    codes = {tuple(c["code"] for c in o["code"]["coding"]) for o in observations}
    assert {("59408-5", "2708-6"), ("8867-4",), ("8310-5",), ("8480-6",), ("8462-4",),
            ("85354-9",), ("29463-7",)} <= codes
    temperature = next(o for o in observations if o["code"]["coding"][0]["code"] == "8310-5")
    assert temperature["valueQuantity"] == {"value": 37.6, "unit": "°C",
                                            "system": "http://unitsofmeasure.org",
                                            "code": "Cel"}
    assert temperature["category"][0]["coding"][0]["code"] == "vital-signs"
    panel = next(o for o in observations if o["code"]["coding"][0]["code"] == "85354-9")
    assert [c["valueQuantity"]["value"] for c in panel["component"]] == [132.0, 78.0]
    flagged = [o for o in observations if "note" in o]
    assert len(flagged) == 1 and "implausible" in flagged[0]["note"][0]["text"]
    photo = next(m for m in _entries(bundle, "Media") if m.get("type", {}).get(
        "coding", [{}])[0].get("code") == "image")
    assert photo["content"]["contentType"] == "image/png"
    assert photo["identifier"][0]["value"].startswith("ni:///sha-256;")
    snapshot = (finished.store.path.parent / "media"
                / gather_snapshot_path(finished)).read_bytes()
    import base64  # noqa: PLC0415

    assert base64.b64decode(photo["content"]["data"]) == snapshot


def gather_snapshot_path(finished: FinishedSession) -> str:
    row = finished.store.conn.execute("SELECT path FROM snapshots").fetchone()
    return str(row[0])


def test_uuids_are_stable_per_version(finished: FinishedSession,
                                      service: ReportService) -> None:
    preview = json.loads(service.preview(finished.engine.id).fhir)
    validated = json.loads(service.validate(finished.engine.id).fhir)
    assert [e["fullUrl"] for e in preview["entry"]] == [e["fullUrl"] for e in validated["entry"]]
    corrected = json.loads(service.correct(service.latest(finished.engine.id).id,  # type: ignore[union-attr]
                                           conclusion="corrigée").fhir)
    assert corrected["entry"][0]["fullUrl"] != validated["entry"][0]["fullUrl"]
    relates = corrected["entry"][0]["resource"]["relatesTo"][0]
    assert relates["code"] == "replaces"
