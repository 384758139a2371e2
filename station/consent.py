"""Consent to a telemedicine act: who, in what capacity, recorded by whom, when."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from station.errors import ValidationError


class Act(StrEnum):
    """The telemedicine acts the station serves (CSP R.6316-1)."""

    TELECONSULTATION = "teleconsultation"
    TELE_EXPERTISE = "tele_expertise"
    TELEASSISTANCE = "teleassistance"


class ConsentCapacity(StrEnum):
    """In what capacity the person answered."""

    RESIDENT = "resident"
    TRUSTED_PERSON = "personne_de_confiance"
    LEGAL_REPRESENTATIVE = "representant_legal"
    FAMILY = "famille"


class ConsentDecision(StrEnum):
    """The answer: given, refused, or withdrawn after being given."""

    GIVEN = "donne"
    REFUSED = "refuse"
    WITHDRAWN = "retire"


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """One traced answer to the information about an act.

    ``consenting_person`` names who answered; it may be empty only when the
    resident answered for themself.
    """

    resident_id: int
    act: Act
    decision: ConsentDecision
    capacity: ConsentCapacity
    recorded_by: str
    recorded_at: datetime
    consenting_person: str = ""
    note: str = ""

    def __post_init__(self) -> None:
        if self.capacity is not ConsentCapacity.RESIDENT and not self.consenting_person.strip():
            raise ValidationError(
                "consenting_person", "consent.person_required", capacity=self.capacity.value
            )
        if not self.recorded_by.strip():
            raise ValidationError("recorded_by", "identity.required")
        if self.recorded_at.tzinfo is None:
            raise ValidationError("recorded_at", "consent.naive_time")

    @property
    def allows_act(self) -> bool:
        """True only for consent given; refusal and withdrawal stop the act."""
        return self.decision is ConsentDecision.GIVEN
