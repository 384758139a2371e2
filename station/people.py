"""The professionals: remote doctors (RPPS) and local nurse accounts."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from stdnum import luhn

from station.access import Role
from station.errors import ValidationError

_LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,31}$")


def check_rpps(raw: str) -> str:
    """An RPPS number: 11 digits, the last a Luhn check digit. Returns it compact."""
    number = "".join(raw.split())
    if not (number.isascii() and number.isdigit()):  # not "١٢٣…": Luhn wants 0-9
        raise ValidationError("rpps", "rpps.digits")
    if len(number) != 11:
        raise ValidationError("rpps", "rpps.length", length=len(number))
    if not luhn.is_valid(number):
        raise ValidationError("rpps", "rpps.check", expected=luhn.calc_check_digit(number[:10]))
    return number


@dataclass(frozen=True, slots=True)
class Doctor:
    """A remote doctor, identified by name and RPPS number."""

    name: str
    rpps: str
    specialty: str

    def __post_init__(self) -> None:
        if not self.name.strip():
            raise ValidationError("doctor_name", "identity.required")
        if check_rpps(self.rpps) != self.rpps:
            raise ValidationError("rpps", "rpps.digits")
        if not self.specialty.strip():
            raise ValidationError("specialty", "identity.required")


def check_login(raw: str) -> str:
    """A nurse login: 2-32 lower-case letters, digits, dot, dash or underscore."""
    login = raw.strip().lower()
    if not _LOGIN_PATTERN.match(login):
        raise ValidationError("login", "account.login_format", value=raw)
    return login


@dataclass(frozen=True, slots=True)
class NurseAccount:
    """A local account (the password hash never leaves the store). ``role`` says
    what its holder may do (see :mod:`station.access`): despite the name, a
    technician's or an admin's account is one too."""

    login: str
    display_name: str
    active: bool
    created_at: datetime
    role: Role = Role.NURSE

    def __post_init__(self) -> None:
        if check_login(self.login) != self.login:
            raise ValidationError("login", "account.login_format", value=self.login)
        if not self.display_name.strip():
            raise ValidationError("display_name", "identity.required")
