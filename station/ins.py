"""The INS number (matricule INS): a NIR, or an NIA while registration is pending.

15 characters: sex digit, birth year (2), birth month (2), birth place (5,
Corsica 2A/2B), order number (3), then a 2-digit key = 97 - (first 13 digits
mod 97), with 2A counting as 19 and 2B as 18. ``python-stdnum`` checks format
and key; this module explains failures field by field, in French first.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from stdnum import exceptions as stdnum_errors
from stdnum.fr import nir

from station.errors import ValidationError

OID_INS_NIR = "1.2.250.1.213.1.4.8"
OID_INS_NIA = "1.2.250.1.213.1.4.9"
OID_TEST_NIR = "1.2.250.1.213.1.4.10"
OID_DEMO_NIR = "1.2.250.1.213.1.4.11"
KNOWN_OIDS = (OID_INS_NIR, OID_INS_NIA, OID_TEST_NIR, OID_DEMO_NIR)

# Sex digit: 1/2 registered men/women; 3/4 and 7/8 numbers given while
# registration is pending (foreign-born people, provisional numbers).
_REGISTERED_SEX_DIGITS = {"1": "M", "2": "F"}
_PENDING_SEX_DIGITS = {"3": "M", "4": "F", "7": "M", "8": "F"}


class InsKind(StrEnum):
    """Whether the number is a definitive NIR or a pending NIA."""

    NIR = "NIR"
    NIA = "NIA"


@dataclass(frozen=True, slots=True)
class InsNumber:
    """A checked INS number and what it says about its holder."""

    number: str
    kind: InsKind
    sex: str
    birth_year_2digits: int
    birth_month: int | None
    birth_place: str

    @property
    def default_oid(self) -> str:
        """The identifier system OID for this number (real INS, not test)."""
        return OID_INS_NIR if self.kind is InsKind.NIR else OID_INS_NIA

    def formatted(self) -> str:
        """Grouped for reading aloud: ``2 32 04 75 056 012 34``."""
        return str(nir.format(self.number))


def compact(raw: str) -> str:
    """The number without spaces or dots, upper case."""
    return str(nir.compact(raw))


def parse_ins(raw: str, field: str = "ins") -> InsNumber:
    """Check an INS number; raise :class:`ValidationError` naming why it is invalid."""
    number = compact(raw)
    if not number:
        raise ValidationError(field, "ins.empty")
    if len(number) != 15:
        raise ValidationError(field, "ins.length", length=len(number))
    body_ok = number[:5].isdigit() and number[7:].isdigit()
    place_ok = number[5:7].isdigit() or number[5:7] in ("2A", "2B")
    if not (body_ok and place_ok):
        raise ValidationError(field, "ins.format")
    sex_digit = number[0]
    if sex_digit in _REGISTERED_SEX_DIGITS:
        kind, sex = InsKind.NIR, _REGISTERED_SEX_DIGITS[sex_digit]
    elif sex_digit in _PENDING_SEX_DIGITS:
        kind, sex = InsKind.NIA, _PENDING_SEX_DIGITS[sex_digit]
    else:
        raise ValidationError(field, "ins.sex_digit", digit=sex_digit)
    month = int(number[3:5])
    if month == 0 or 13 <= month <= 19 or 43 <= month <= 49:
        raise ValidationError(field, "ins.month", month=number[3:5])
    try:
        nir.validate(number)
    except stdnum_errors.InvalidChecksum:
        expected = nir.calc_check_digits(number)
        raise ValidationError(field, "ins.key", key=number[13:], expected=expected) from None
    except stdnum_errors.ValidationError:
        raise ValidationError(field, "ins.format") from None
    return InsNumber(
        number=number,
        kind=kind,
        sex=sex,
        birth_year_2digits=int(number[1:3]),
        # 20-42 and 50-99 mean "month unknown" in the RNIPP.
        birth_month=month if 1 <= month <= 12 else None,
        birth_place=number[5:10],
    )
