"""Typed errors of the station core, one root, messages a nurse can act on.

Each error carries a message code and its parameters; ``str(error)`` renders
it in the current language (French unless told otherwise).
"""

from __future__ import annotations

from station.i18n import tr


class StationError(Exception):
    """Root of every error the station core raises on purpose."""

    def __init__(self, code: str, /, **params: object) -> None:
        self.code = code
        self.params = params
        super().__init__(code)

    @property
    def message(self) -> str:
        """The message in the current language."""
        return tr(self.code, **self.params)

    def __str__(self) -> str:
        return self.message


class ValidationError(StationError):
    """An input value was refused; ``field`` names it. Nothing was written."""

    def __init__(self, field: str, code: str, /, **params: object) -> None:
        self.field = field
        super().__init__(code, **params)

    @property
    def message(self) -> str:
        return tr("error.field", field=tr(f"field.{self.field}"), reason=super().message)


class StoreError(StationError):
    """The store cannot be opened or used."""


class SchemaTooNewError(StoreError):
    """The store was written by a newer version of the station."""


class ClinicalRecordProtectedError(StoreError):
    """Someone tried to delete or rewrite a clinical record."""


class SignInError(StationError):
    """A sign-in failed (wrong login or password, account disabled)."""


class AccountLockedError(SignInError):
    """Too many failed sign-ins: the account is locked for a while."""


class SessionStateError(StationError):
    """An action is not allowed in the session's current state."""


class NotFoundError(StationError):
    """A record asked for does not exist."""
