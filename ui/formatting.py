"""Words and numbers as the nurse reads them: dates, ages, identity statuses,
flags, consent capacities, session states. Display only; no rule lives here."""

from __future__ import annotations

from datetime import date, datetime

from station.consent import Act, ConsentCapacity
from station.identity import IdentityDocument, IdentityFlag, IdentityStatus, Sex
from ui.i18n import _


def sentence(text: str) -> str:
    """A core message (lower-case start, as the CLI prints it) as a sentence."""
    text = text.strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text.endswith((".", "!", "?", "»")) else text + "."


def day_text(day: date) -> str:
    """JJ/MM/AAAA, as French forms write a date."""
    return day.strftime("%d/%m/%Y")


def time_text(moment: datetime) -> str:
    """HH:MM in the station's time zone."""
    return moment.astimezone().strftime("%H:%M")


def age_years(birth: date, today: date | None = None) -> int:
    """Age in whole years on ``today``."""
    today = today or date.today()
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


def age_text(birth: date) -> str:
    """« 93 ans »."""
    return _("{years} years").format(years=age_years(birth))


def status_text(status: IdentityStatus) -> str:
    """The identity status as a badge says it."""
    return {
        IdentityStatus.PROVISIONAL: _("Provisional identity"),
        IdentityStatus.VALIDATED: _("Validated identity"),
        IdentityStatus.RETRIEVED: _("Retrieved identity"),
        IdentityStatus.QUALIFIED: _("Qualified identity"),
    }[status]


def status_short(status: IdentityStatus) -> str:
    """The status in one word (a choice button)."""
    return {
        IdentityStatus.PROVISIONAL: _("Provisional"),
        IdentityStatus.VALIDATED: _("Validated"),
        IdentityStatus.RETRIEVED: _("Retrieved"),
        IdentityStatus.QUALIFIED: _("Qualified"),
    }[status]


def status_help(status: IdentityStatus) -> str:
    """One line on what the status means."""
    return {
        IdentityStatus.PROVISIONAL: _("Not checked on a document, not from the INSi service."),
        IdentityStatus.VALIDATED: _("Checked on a high-trust document, not from INSi."),
        IdentityStatus.RETRIEVED: _("Returned by the INSi service, not checked on a document."),
        IdentityStatus.QUALIFIED: _("From INSi and checked on a document: the INS may be "
                                    "shared."),
    }[status]


def flag_text(flag: IdentityFlag) -> str:
    """An identity flag in words."""
    return {
        IdentityFlag.DOUBTFUL: _("Doubtful identity"),
        IdentityFlag.FICTITIOUS: _("Fictitious identity"),
        IdentityFlag.HOMONYM: _("Homonym"),
        IdentityFlag.POTENTIAL_DUPLICATE: _("Potential duplicate"),
    }[flag]


def sex_text(sex: Sex) -> str:
    """The administrative sex in words."""
    return {Sex.FEMALE: _("Female"), Sex.MALE: _("Male"), Sex.UNKNOWN: _("Unknown")}[sex]


def document_text(document: IdentityDocument) -> str:
    """A high-trust identity document in words."""
    return {
        IdentityDocument.NATIONAL_ID_CARD: _("National identity card"),
        IdentityDocument.PASSPORT: _("Passport"),
        IdentityDocument.RESIDENCE_PERMIT: _("Residence permit"),
        IdentityDocument.BIRTH_CERTIFICATE_WITH_VITALE: _("Birth certificate + Carte Vitale "
                                                          "with photo"),
        IdentityDocument.FAMILY_BOOKLET_WITH_VITALE: _("Family booklet + Carte Vitale "
                                                       "with photo"),
    }[document]


def act_text(act: Act) -> str:
    """A telemedicine act in words."""
    return {
        Act.TELECONSULTATION: _("Teleconsultation"),
        Act.TELE_EXPERTISE: _("Tele-expertise"),
        Act.TELEASSISTANCE: _("Teleassistance"),
    }[act]


def capacity_text(capacity: ConsentCapacity) -> str:
    """Who answered, in words."""
    return {
        ConsentCapacity.RESIDENT: _("The resident"),
        ConsentCapacity.TRUSTED_PERSON: _("Trusted person"),
        ConsentCapacity.LEGAL_REPRESENTATIVE: _("Legal representative"),
        ConsentCapacity.FAMILY: _("Family or close relative"),
    }[capacity]


def capacity_help(capacity: ConsentCapacity) -> str:
    """One line: when this capacity applies (the domain rules, for the nurse)."""
    return {
        ConsentCapacity.RESIDENT: _("Always asked first, even under guardianship, whenever "
                                    "the resident can express their will."),
        ConsentCapacity.TRUSTED_PERSON: _("The resident cannot express their will: the "
                                          "personne de confiance they named answers."),
        ConsentCapacity.LEGAL_REPRESENTATIVE: _("Guardianship (tutelle) and the resident "
                                                "cannot express their will: the "
                                                "representative decides."),
        ConsentCapacity.FAMILY: _("The resident cannot express their will and has no "
                                  "personne de confiance: family or a close relative."),
    }[capacity]


def state_text(state: str) -> str:
    """A session state in words."""
    return {
        "identify": _("Resident to choose"),
        "consent": _("Consent to record"),
        "examine": _("Examination in progress"),
        "report": _("Report to finish"),
        "sent": _("Report sent"),
        "stopped": _("Stopped"),
    }.get(state, state)
