"""Resident identity under French identity-vigilance rules (RNIV, INS).

A :class:`ResidentIdentity` holds the five strict traits (birth name, birth
first names, sex, date of birth, INSEE code of the birth place), the used
name and first name, the INS number and its OID, one of the four identity
statuses and the flag attributes. It cannot exist in an invalid state:
:func:`identity_from_input` normalises raw text and every invariant is
checked on construction, each failure naming its field.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from typing import TypeVar

from station.errors import ValidationError
from station.ins import KNOWN_OIDS, InsNumber, parse_ins

EARLIEST_BIRTH_YEAR = 1890
E = TypeVar("E", bound=StrEnum)
_NAME_PATTERN = re.compile(r"^[A-Z]+(?:(?:[ '-]|--)[A-Z]+)*$")
_BIRTH_PLACE_PATTERN = re.compile(r"^(?:\d{2}|2A|2B)\d{3}$")


class Sex(StrEnum):
    """Administrative sex as the INS records it."""

    MALE = "M"
    FEMALE = "F"
    UNKNOWN = "I"  # indéterminé


class IdentityStatus(StrEnum):
    """The four mutually exclusive identity statuses of the RNIV."""

    PROVISIONAL = "provisoire"  # not from INSi, not checked on a document
    VALIDATED = "validee"  # checked on a high-trust document, not from INSi
    RETRIEVED = "recuperee"  # returned by the INSi service, not checked on a document
    QUALIFIED = "qualifiee"  # both: from INSi and checked on a document


class IdentityFlag(StrEnum):
    """Attributes that can flag an identity for identity vigilance."""

    DOUBTFUL = "douteuse"
    FICTITIOUS = "fictive"
    HOMONYM = "homonyme"
    POTENTIAL_DUPLICATE = "doublon_potentiel"


class IdentityDocument(StrEnum):
    """High-trust documents accepted to validate an identity."""

    PASSPORT = "passeport"
    NATIONAL_ID_CARD = "cni"
    RESIDENCE_PERMIT = "titre_sejour"
    # Accepted in an EHPAD together with a Carte Vitale bearing a photo.
    BIRTH_CERTIFICATE_WITH_VITALE = "acte_naissance_vitale"
    FAMILY_BOOKLET_WITH_VITALE = "livret_famille_vitale"


_STATUSES_FROM_INSI = (IdentityStatus.RETRIEVED, IdentityStatus.QUALIFIED)
_STATUSES_WITH_DOCUMENT = (IdentityStatus.VALIDATED, IdentityStatus.QUALIFIED)
# Public, for forms that offer the INS or the document only where they belong.
STATUSES_FROM_INSI = frozenset(_STATUSES_FROM_INSI)
STATUSES_WITH_DOCUMENT = frozenset(_STATUSES_WITH_DOCUMENT)


@dataclass(frozen=True, slots=True)
class ResidentIdentity:
    """A resident's identity; construction enforces every RNIV invariant."""

    birth_name: str
    birth_first_names: tuple[str, ...]
    sex: Sex
    birth_date: date
    birth_place_code: str
    used_name: str | None = None
    used_first_name: str | None = None
    ins: str | None = None
    ins_oid: str | None = None
    status: IdentityStatus = IdentityStatus.PROVISIONAL
    document: IdentityDocument | None = None
    flags: frozenset[IdentityFlag] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        _check_name("birth_name", self.birth_name)
        if not self.birth_first_names:
            raise ValidationError("birth_first_names", "identity.required")
        for first_name in self.birth_first_names:
            _check_name("birth_first_names", first_name)
        if self.used_name is not None:
            _check_name("used_name", self.used_name)
        if self.used_first_name is not None:
            _check_name("used_first_name", self.used_first_name)
        _check_birth_date(self.birth_date)
        if not _BIRTH_PLACE_PATTERN.match(self.birth_place_code):
            raise ValidationError(
                "birth_place_code", "identity.birth_place", value=self.birth_place_code
            )
        self._check_ins()
        self._check_status()

    def _check_ins(self) -> None:
        if self.ins is None:
            if self.ins_oid is not None:
                raise ValidationError("ins_oid", "identity.oid_without_ins")
            return
        number = parse_ins(self.ins)
        if number.number != self.ins:
            raise ValidationError("ins", "identity.ins_not_compact")
        if self.ins_oid not in KNOWN_OIDS:
            raise ValidationError("ins_oid", "identity.oid_unknown", value=self.ins_oid)
        _check_ins_matches_traits(number, self)

    def _check_status(self) -> None:
        if self.status in _STATUSES_FROM_INSI and self.ins is None:
            raise ValidationError("ins", "identity.status_needs_ins", status=self.status.value)
        if self.status in _STATUSES_WITH_DOCUMENT and self.document is None:
            raise ValidationError(
                "document", "identity.status_needs_document", status=self.status.value
            )
        suspicious = self.flags & {IdentityFlag.DOUBTFUL, IdentityFlag.FICTITIOUS}
        if suspicious and self.status is not IdentityStatus.PROVISIONAL:
            raise ValidationError("status", "identity.flag_forbids_status")

    @property
    def first_birth_first_name(self) -> str:
        """The first of the birth first names (a trait of its own in the INS)."""
        return self.birth_first_names[0]

    @property
    def is_qualified(self) -> bool:
        """True when the INS may be shared outside the station."""
        return self.status is IdentityStatus.QUALIFIED

    def shareable_ins(self) -> tuple[str, str] | None:
        """(INS, OID) for reports, FHIR and messaging; ``None`` unless qualified.

        The INS number may leave the station only for a qualified identity.
        """
        if self.is_qualified and self.ins is not None and self.ins_oid is not None:
            return self.ins, self.ins_oid
        return None

    def display_name(self) -> str:
        """How a nurse reads the resident's name: USED (née BIRTH) First."""
        family = self.used_name or self.birth_name
        if self.used_name and self.used_name != self.birth_name:
            born = {Sex.MALE: "né", Sex.FEMALE: "née"}.get(self.sex, "né·e")
            family = f"{self.used_name} ({born} {self.birth_name})"
        return f"{family} {(self.used_first_name or self.first_birth_first_name).title()}"


def normalise_name(raw: str) -> str:
    """Upper case, accents removed, spaces collapsed, as INS traits are written."""
    decomposed = unicodedata.normalize("NFKD", raw)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    stripped = stripped.replace("’", "'").replace("Œ", "OE").replace("œ", "oe")
    stripped = stripped.replace("Æ", "AE").replace("æ", "ae")
    return " ".join(stripped.upper().split())


def _check_name(field_name: str, value: str) -> None:
    if not value:
        raise ValidationError(field_name, "identity.required")
    if not _NAME_PATTERN.match(value):
        raise ValidationError(field_name, "identity.name_chars", value=value)


def _check_birth_date(value: date) -> None:
    if value > date.today():
        raise ValidationError("birth_date", "identity.birth_date_future", value=value.isoformat())
    if value.year < EARLIEST_BIRTH_YEAR:
        raise ValidationError(
            "birth_date", "identity.birth_date_too_old",
            value=value.isoformat(), year=EARLIEST_BIRTH_YEAR,
        )


def _check_ins_matches_traits(number: InsNumber, identity: ResidentIdentity) -> None:
    """The INS encodes sex, birth year and month: they must agree with the traits."""
    if identity.sex is not Sex.UNKNOWN and number.sex != identity.sex.value:
        raise ValidationError("ins", "identity.ins_sex_mismatch")
    if number.birth_year_2digits != identity.birth_date.year % 100:
        raise ValidationError("ins", "identity.ins_year_mismatch")
    if number.birth_month is not None and number.birth_month != identity.birth_date.month:
        raise ValidationError("ins", "identity.ins_month_mismatch")


def parse_sex(raw: str) -> Sex:
    """Read M/F/I (also H, homme, femme, inconnu)."""
    value = raw.strip().upper()
    aliases = {"H": "M", "HOMME": "M", "MASCULIN": "M", "FEMME": "F", "FEMININ": "F",
               "U": "I", "INCONNU": "I", "INDETERMINE": "I", "X": "I"}
    value = aliases.get(normalise_name(value), value)
    try:
        return Sex(value)
    except ValueError:
        raise ValidationError("sex", "identity.sex", value=raw) from None


def parse_birth_date(raw: str) -> date:
    """Read a date of birth as YYYY-MM-DD or DD/MM/YYYY; refuse impossible dates."""
    text = raw.strip()
    match = re.fullmatch(r"(\d{4})-(\d{1,2})-(\d{1,2})", text)
    if match:
        year, month, day = (int(g) for g in match.groups())
    else:
        match = re.fullmatch(r"(\d{1,2})/(\d{1,2})/(\d{4})", text)
        if not match:
            raise ValidationError("birth_date", "identity.birth_date_format", value=raw)
        day, month, year = (int(g) for g in match.groups())
    try:
        return date(year, month, day)
    except ValueError:
        raise ValidationError("birth_date", "identity.birth_date_impossible", value=raw) from None


def identity_from_input(
    *,
    birth_name: str,
    birth_first_names: Iterable[str] | str,
    sex: str,
    birth_date: str | date,
    birth_place_code: str,
    used_name: str | None = None,
    used_first_name: str | None = None,
    ins: str | None = None,
    ins_oid: str | None = None,
    status: str | IdentityStatus = IdentityStatus.PROVISIONAL,
    document: str | IdentityDocument | None = None,
    flags: Iterable[str | IdentityFlag] = (),
) -> ResidentIdentity:
    """Build an identity from what a nurse typed, normalised, or raise naming the field."""
    if isinstance(birth_first_names, str):
        birth_first_names = birth_first_names.replace(",", " ").split()
    first_names = tuple(normalise_name(n) for n in birth_first_names if n.strip())
    ins_number = parse_ins(ins) if ins and ins.strip() else None
    if ins_number is not None and not ins_oid:
        ins_oid = ins_number.default_oid
    return ResidentIdentity(
        birth_name=normalise_name(birth_name),
        birth_first_names=first_names,
        sex=parse_sex(sex),
        birth_date=birth_date if isinstance(birth_date, date) else parse_birth_date(birth_date),
        birth_place_code=birth_place_code.strip().upper(),
        used_name=normalise_name(used_name) if used_name and used_name.strip() else None,
        used_first_name=(
            normalise_name(used_first_name)
            if used_first_name and used_first_name.strip() else None
        ),
        ins=ins_number.number if ins_number else None,
        ins_oid=ins_oid if ins_number else None,
        status=_parse_enum(IdentityStatus, status, "status"),
        document=_parse_enum(IdentityDocument, document, "document") if document else None,
        flags=frozenset(_parse_enum(IdentityFlag, f, "flags") for f in flags),
    )


def _parse_enum(enum: type[E], raw: str | E, field_name: str) -> E:
    try:
        return enum(raw)
    except ValueError:
        choices = ", ".join(member.value for member in enum)
        raise ValidationError(field_name, "identity.choice", value=raw, choices=choices) from None
