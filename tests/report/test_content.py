"""What a report says: INS only for a qualified identity, codes, times, billing."""

from __future__ import annotations

import pytest

from station.consent import Act
from station.errors import ValidationError
from station.ins import OID_DEMO_NIR
from station.people import Doctor, NurseAccount
from station.report.content import ReportContent, default_billing, gather_report
from station.store.database import Store
from station.store.residents import ResidentRegistry
from tests.conftest import QUALIFIED_INS, FakeClock, marie
from tests.report.conftest import DOCTOR_RPPS, FinishedSession, run_session


def test_a_qualified_identity_carries_its_ins_and_oid(finished: FinishedSession) -> None:
    content = gather_report(finished.store, finished.engine.id)
    assert content.resident.status == "qualifiee"
    assert (content.resident.ins, content.resident.ins_oid) == (QUALIFIED_INS,
                                                                "1.2.250.1.213.1.4.8")


def test_a_demo_nir_keeps_its_own_oid(store: Store, nurse: NurseAccount,
                                      clock: FakeClock) -> None:
    resident = ResidentRegistry(store).create(marie(ins_oid=OID_DEMO_NIR), "claire.m")
    engine = run_session(store, nurse, resident, clock)
    assert gather_report(store, engine.id).resident.ins_oid == "1.2.250.1.213.1.4.11"


@pytest.mark.parametrize("status", ["provisoire", "validee", "recuperee"])
def test_no_ins_unless_qualified(store: Store, nurse: NurseAccount, clock: FakeClock,
                                 status: str) -> None:
    overrides: dict[str, object] = {"status": status}
    if status == "provisoire":
        overrides["document"] = None
    if status == "recuperee":
        overrides["document"] = None
    resident = ResidentRegistry(store).create(marie(**overrides), "claire.m")
    engine = run_session(store, nurse, resident, clock)
    content = gather_report(store, engine.id)
    assert (content.resident.ins, content.resident.ins_oid) == (None, None)
    assert QUALIFIED_INS not in content.to_json()
    assert "1.2.250.1.213.1.4" not in content.to_json()


def test_the_session_is_gathered(finished: FinishedSession) -> None:
    c = gather_report(finished.store, finished.engine.id)
    assert c.act is Act.TELECONSULTATION
    assert c.nurse.name == "Claire Martin" and c.nurse.login == "claire.m"
    assert c.doctor is not None
    assert (c.doctor.name, c.doctor.rpps, c.doctor.specialty) == (
        "Dr Élise Moreau", DOCTOR_RPPS, "médecine générale")
    # consent given at 09:00:30, examination finished 9 min 22 s... later
    assert c.started_at.isoformat() == "2026-11-23T09:00:30+00:00"
    assert c.duration_s == pytest.approx(40 + 60 + 120 + 12 + 300)
    assert [(m.kind, m.loinc) for m in c.measurements][:3] == [
        ("spo2", ("59408-5", "2708-6")), ("spo2", ("59408-5", "2708-6")),
        ("pulse_rate", ("8867-4",))]
    assert {m.kind: m.loinc for m in c.measurements}["body_weight"] == ("29463-7",)
    assert c.measurements[1].quality == ("implausible", "motion")
    assert [(c_.decision, c_.capacity, c_.recorded_by) for c_ in c.consents] == [
        ("donne", "resident", "claire.m")]
    assert len(c.snapshots) == 1 and len(c.snapshots[0].file_sha256) == 64
    assert [(r.kind, r.sample_count, r.is_sound) for r in c.recordings] == [("pleth", 120, False)]
    assert [(i.kind, (i.end - i.start).total_seconds() if i.end else None)
            for i in c.incidents] == [("call_dropped", 12.0)]
    assert c.conclusion.startswith("Érythème du talon droit")
    assert c.draft_revision == 3
    assert [(b.code, b.role) for b in c.billing] == [("TCG", "doctor"), ("TLS", "nurse")]


def test_overrides_win_over_the_draft(finished: FinishedSession) -> None:
    c = gather_report(finished.store, finished.engine.id,
                      doctor=Doctor("Dr Paul Lenoir", "10000000009", "dermatologie"),
                      conclusion="Autre conclusion", billing=["TC"])
    assert c.doctor is not None and c.doctor.name == "Dr Paul Lenoir"
    assert c.conclusion == "Autre conclusion"
    assert c.prescriptions.startswith("Soins locaux")  # not overridden: from the draft
    assert [b.code for b in c.billing] == ["TC"]


def test_billing_defaults_follow_act_and_specialty() -> None:
    assert default_billing(Act.TELECONSULTATION, "Médecine Générale") == ["TCG"]
    assert default_billing(Act.TELECONSULTATION, None) == ["TCG"]
    assert default_billing(Act.TELECONSULTATION, "gériatrie") == ["TC"]
    assert default_billing(Act.TELECONSULTATION, "dermatologie", "TLS") == ["TC", "TLS"]
    assert default_billing(Act.TELE_EXPERTISE, "dermatologie", "TLS") == ["TE2"]


def test_without_a_draft_billing_comes_from_the_specialty(
    store: Store, nurse: NurseAccount, resident: object, clock: FakeClock,
) -> None:
    from station.store.residents import Resident  # noqa: PLC0415

    assert isinstance(resident, Resident)
    engine = run_session(store, nurse, resident, clock, draft=False)
    c = gather_report(store, engine.id,
                      doctor=Doctor("Dr Paul Lenoir", "10000000009", "gériatrie"))
    assert [b.code for b in c.billing] == ["TC"]
    assert c.conclusion == "" and c.draft_revision is None


def test_billing_codes_must_fit_the_act(finished: FinishedSession) -> None:
    with pytest.raises(ValidationError, match="TE2"):
        gather_report(finished.store, finished.engine.id, billing=["TE2"])
    with pytest.raises(ValidationError, match="un seul code"):
        gather_report(finished.store, finished.engine.id, billing=["TCG", "TC"])


def test_tele_expertise_from_the_draft_takes_te2(finished: FinishedSession) -> None:
    from station.store.sessions import SessionRecords  # noqa: PLC0415

    SessionRecords(finished.store).record_event(
        finished.engine.id, "report_draft", finished.engine.events()[-1].time, "rpps:x",
        {"revision": 4, "fields": {"act": "tele-expertise", "billing": []}})
    c = gather_report(finished.store, finished.engine.id)
    assert c.act is Act.TELE_EXPERTISE
    assert [b.code for b in c.billing] == ["TE2"]


def test_content_json_round_trips(finished: FinishedSession) -> None:
    c = gather_report(finished.store, finished.engine.id)
    again = ReportContent.from_json(c.to_json())
    assert again == c
    assert again.to_json() == c.to_json()
