"""Codes a report carries: LOINC for vital signs, billing codes, their labels.

Everything here is a constant of the French telemedicine rules or of LOINC;
the report, the PDF and the FHIR bundle all read them from this one place.
"""

from __future__ import annotations

from dataclasses import dataclass

from devices.measurement import Kind
from station.consent import Act

# Composition type of the teleconsultation report (French shared-record type TLM-CR).
LOINC_SYSTEM = "http://loinc.org"
UCUM_SYSTEM = "http://unitsofmeasure.org"
REPORT_LOINC = "85208-7"
REPORT_LOINC_DISPLAY = "Telehealth Consult note"
BP_PANEL_LOINC = "85354-9"
BP_PANEL_DISPLAY = "Blood pressure panel with all children optional"


@dataclass(frozen=True, slots=True)
class LoincCode:
    """One LOINC code and its official display name."""

    code: str
    display: str


# The first code is the one the report shows; SpO2 also carries 2708-6, the
# code vital-signs profiles require next to the pulse-oximetry one.
LOINC_BY_KIND: dict[Kind, tuple[LoincCode, ...]] = {
    Kind.SPO2: (LoincCode("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry"),
                LoincCode("2708-6", "Oxygen saturation in Arterial blood")),
    Kind.PULSE_RATE: (LoincCode("8867-4", "Heart rate"),),
    Kind.BODY_TEMPERATURE: (LoincCode("8310-5", "Body temperature"),),
    Kind.SYSTOLIC: (LoincCode("8480-6", "Systolic blood pressure"),),
    Kind.DIASTOLIC: (LoincCode("8462-4", "Diastolic blood pressure"),),
    Kind.MEAN_ARTERIAL_PRESSURE: (LoincCode("8478-0", "Mean blood pressure"),),
    Kind.BODY_WEIGHT: (LoincCode("29463-7", "Body weight"),),
    Kind.BMI: (LoincCode("39156-5", "Body mass index (BMI) [Ratio]"),),
    Kind.HEIGHT: (LoincCode("8302-2", "Body height"),),
}
# Systolic and diastolic values taken together belong to one blood-pressure panel.
BLOOD_PRESSURE_KINDS = (Kind.SYSTOLIC, Kind.DIASTOLIC)

# French labels of the measured quantities (the report is a French document).
KIND_LABELS: dict[str, str] = {
    "spo2": "SpO2", "pulse_rate": "Fréquence cardiaque", "body_temperature": "Température",
    "systolic": "Pression artérielle systolique", "diastolic": "Pression artérielle diastolique",
    "mean_arterial_pressure": "Pression artérielle moyenne", "body_weight": "Poids",
    "bmi": "IMC", "height": "Taille", "pleth": "Pléthysmogramme",
    "perfusion_index": "Indice de perfusion",
}

# Billing codes (NGAP/CCAM as of the domain brief), and who bills them.
DOCTOR_TELECONSULTATION = ("TCG", "TC")
NURSE_TELECONSULTATION = ("TLS", "TLL", "TLD")
TELE_EXPERTISE = ("TE2", "RQD")
BILLING_LABELS: dict[str, str] = {
    "TCG": "Téléconsultation du médecin généraliste (secteur 1)",
    "TC": "Téléconsultation du médecin spécialiste",
    "TE2": "Télé-expertise, médecin requis",
    "RQD": "Demande de télé-expertise, médecin requérant",
    "TLS": "Accompagnement de téléconsultation au cours d'un soin infirmier programmé",
    "TLL": "Accompagnement de téléconsultation dans un lieu dédié",
    "TLD": "Accompagnement de téléconsultation organisée au domicile du patient",
}
BILLING_ROLES: dict[str, str] = {
    "TCG": "doctor", "TC": "doctor", "TE2": "doctor", "RQD": "requesting_doctor",
    "TLS": "nurse", "TLL": "nurse", "TLD": "nurse",
}

# Specialty names that mean a general practitioner (compared accent- and case-free).
GENERAL_PRACTICE = frozenset({
    "medecine generale", "medecin generaliste", "generaliste", "mg", "general practice",
    "general practitioner", "gp", "medecine generale (mg)",
})

ACT_TITLES: dict[Act, str] = {
    Act.TELECONSULTATION: "Téléconsultation",
    Act.TELE_EXPERTISE: "Télé-expertise",
    Act.TELEASSISTANCE: "Téléassistance médicale",
}


def allowed_billing(act: Act) -> frozenset[str]:
    """The codes that may be billed for ``act``.

    Nurse codes need live video, so they exist for a teleconsultation (and a
    téléassistance, which is one with a professional beside the patient) only.
    """
    if act is Act.TELE_EXPERTISE:
        return frozenset(TELE_EXPERTISE)
    return frozenset(DOCTOR_TELECONSULTATION + NURSE_TELECONSULTATION)
