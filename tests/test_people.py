"""Doctors (RPPS with its Luhn check), nurse accounts, and consent records."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from station.consent import Act, ConsentCapacity, ConsentDecision, ConsentRecord
from station.errors import ValidationError
from station.people import Doctor, check_rpps


def test_a_valid_rpps() -> None:
    assert check_rpps("1000 1234 565") == "10001234565"
    doctor = Doctor("Dr Anne Leroy", "10001234565", "gériatrie")
    assert doctor.rpps == "10001234565"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("10001234566", "Numéro RPPS : le chiffre de contrôle est faux (attendu 5 pour ces 10"
                        " premiers chiffres)"),
        ("1000123456", "Numéro RPPS : il faut 11 chiffres, 10 saisis"),
        ("1000123456A", "Numéro RPPS : le numéro RPPS ne contient que des chiffres"),
    ],
)
def test_a_bad_rpps_names_the_field(raw: str, message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Doctor("Dr Anne Leroy", raw, "gériatrie")
    assert caught.value.field == "rpps"
    assert str(caught.value) == message


def test_a_doctor_needs_a_name_and_a_specialty() -> None:
    with pytest.raises(ValidationError) as caught:
        Doctor(" ", "10001234565", "gériatrie")
    assert caught.value.field == "doctor_name"
    with pytest.raises(ValidationError) as caught:
        Doctor("Dr Leroy", "10001234565", "")
    assert caught.value.field == "specialty"


def consent(**overrides: object) -> ConsentRecord:
    fields: dict[str, object] = {
        "resident_id": 1, "act": Act.TELECONSULTATION, "decision": ConsentDecision.GIVEN,
        "capacity": ConsentCapacity.RESIDENT, "recorded_by": "claire.m",
        "recorded_at": datetime(2026, 11, 23, 9, 0, tzinfo=UTC),
    }
    fields.update(overrides)
    return ConsentRecord(**fields)  # type: ignore[arg-type]


def test_consent_by_the_resident() -> None:
    record = consent()
    assert record.allows_act
    assert not consent(decision=ConsentDecision.REFUSED).allows_act
    assert not consent(decision=ConsentDecision.WITHDRAWN).allows_act


@pytest.mark.parametrize("capacity", [ConsentCapacity.TRUSTED_PERSON,
                                      ConsentCapacity.LEGAL_REPRESENTATIVE,
                                      ConsentCapacity.FAMILY])
def test_a_third_party_must_be_named(capacity: ConsentCapacity) -> None:
    with pytest.raises(ValidationError) as caught:
        consent(capacity=capacity)
    assert str(caught.value) == (f"Personne ayant consenti : indiquez le nom de la personne qui"
                                 f" consent (qualité : {capacity.value})")
    assert consent(capacity=capacity, consenting_person="Jean Dupont").consenting_person


def test_consent_time_must_be_aware() -> None:
    with pytest.raises(ValidationError) as caught:
        consent(recorded_at=datetime(2026, 11, 23, 9, 0))
    assert caught.value.field == "recorded_at"
