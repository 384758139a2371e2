"""Who may do what: the roles of local accounts and the one rule that gates them.

Three roles. A **nurse** runs sessions and so reads and writes clinical data.
A **technician** installs the cart: devices (list, scan, test) and the
network (signaling settings); never residents' identities, sessions,
measurements, photos, clips, reports or télé-expertise. An **admin** (the
head nurse, the EHPAD's referent) may do both, manages accounts, and alone
makes and restores backups: a backup is a copy of every record, so it is an
admin's act, and it also needs the EHPAD's key (or passphrase) to be made
or read at all.

The rule lives here and only here; registries and services call
:func:`require` before a person sees clinical data, and record that read
with :func:`record_read` (one audit row, in the write that any audited
action pays anyway: no extra fsync).
"""

from __future__ import annotations

import hashlib
import hmac
from enum import StrEnum
from typing import Protocol

from station.errors import StationError, ValidationError
from station.i18n import tr
from station.store import audit
from station.store.database import Store


class Role(StrEnum):
    """The role of a local account (stored as its value)."""

    NURSE = "nurse"
    TECHNICIAN = "technician"
    ADMIN = "admin"


class Permission(StrEnum):
    """What an action needs."""

    READ_CLINICAL = "clinical.read"
    WRITE_CLINICAL = "clinical.write"
    CONFIGURE_DEVICES = "devices.configure"
    CONFIGURE_NETWORK = "network.configure"
    MANAGE_ACCOUNTS = "accounts.manage"
    BACKUP = "data.backup"  # make or restore a copy of the whole store


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.NURSE: frozenset({Permission.READ_CLINICAL, Permission.WRITE_CLINICAL}),
    Role.TECHNICIAN: frozenset({Permission.CONFIGURE_DEVICES, Permission.CONFIGURE_NETWORK}),
    Role.ADMIN: frozenset(Permission),
}


class Principal(Protocol):
    """Someone acting on the station: the login the audit names and its role.

    A :class:`~station.people.NurseAccount` is one; so is :class:`Actor`.
    """

    @property
    def login(self) -> str:
        """Who the audit trail names."""
        ...

    @property
    def role(self) -> Role:
        """What this person may do."""
        ...


class Actor:
    """A principal that is not a signed-in account object (the CLI, a service)."""

    __slots__ = ("login", "role")

    def __init__(self, login: str, role: Role) -> None:
        self.login = login
        self.role = role

    def __repr__(self) -> str:
        return f"Actor({self.login!r}, {self.role.value!r})"


class AccessDeniedError(StationError):
    """The actor's role does not allow this action; nothing was shown or written."""

    def __init__(self, code: str, /, *, login: str, role: Role, **params: object) -> None:
        self.login = login
        self.role = role
        super().__init__(code, login=login, role=tr(f"role.{role.value}"), **params)


def parse_role(raw: str) -> Role:
    """A role from its value (``nurse``, ``technician``, ``admin``); ValidationError else."""
    try:
        return Role(raw.strip().lower())
    except ValueError:
        raise ValidationError("role", "access.role_unknown", value=raw) from None


def may(role: Role, permission: Permission) -> bool:
    """True when ``role`` grants ``permission``."""
    return permission in GRANTS[role]


def require(actor: Principal, permission: Permission) -> None:
    """Raise :class:`AccessDeniedError` unless the actor's role grants ``permission``."""
    if not may(actor.role, permission):
        raise AccessDeniedError(f"access.denied.{permission.value}", login=actor.login,
                                role=actor.role)


def record_read(store: Store, actor: Principal, what: str, *,
                resident: int | None = None, **ids: object) -> None:
    """One ``record.read`` audit row: who read what of which resident (ids only).

    ``what`` names the part read (identity, history, session, report, expertise...);
    ``ids`` adds the session, report or request id. No identity trait goes in.
    """
    details: dict[str, object] = {"what": what, **ids}
    if resident is not None:
        details["resident"] = resident
    with store.write() as conn:
        audit.append(conn, actor=actor.login, action="record.read", details=details)


def read_session(store: Store, actor: Principal, session_id: str, what: str,
                 **ids: object) -> int | None:
    """Check that ``actor`` may read clinical data, then record that they read
    ``what`` of session ``session_id``; returns the session's resident id."""
    require(actor, Permission.READ_CLINICAL)
    row = store.conn.execute("SELECT resident_id FROM sessions WHERE id = ?",
                             (session_id,)).fetchone()
    resident = None if row is None or row[0] is None else int(row[0])
    record_read(store, actor, what, resident=resident, session=session_id, **ids)
    return resident


def criteria_digest(store: Store, *criteria: object) -> str:
    """A keyed digest of search criteria: equal searches give equal digests, but
    the audit row cannot be reversed by trying every birth date (the key is this
    store's own random secret, made by schema migration 9)."""
    row = store.conn.execute("SELECT key FROM audit_keys WHERE id = 1").fetchone()
    key = bytes(row[0]) if row is not None else b""
    text = "\x1f".join("" if c is None else str(c) for c in criteria)
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()[:32]
