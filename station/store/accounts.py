"""Local accounts: argon2 password hashes, rate-limited sign-in, roles.

Every sign-in attempt is recorded. After ``MAX_FAILURES`` consecutive
failures the login is locked, for a delay that doubles with each further
failure (capped); the lock is computed from the recorded attempts, so it
survives a restart of the station. Each account has a role (nurse,
technician, admin; see :mod:`station.access`), set at creation and changed
by an admin only, every change audited.
"""

from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from station.access import Permission, Principal, Role, require
from station.clock import Clock, from_text, to_text, utc_now
from station.errors import AccountLockedError, NotFoundError, SignInError, ValidationError
from station.people import NurseAccount, check_login
from station.store import audit
from station.store.database import Store

MAX_FAILURES = 5
FIRST_LOCK = timedelta(seconds=30)
LONGEST_LOCK = timedelta(minutes=15)
MIN_PASSWORD_LENGTH = 8

_hasher = PasswordHasher()


@functools.cache
def _dummy_hash() -> str:
    """Verified against when the login does not exist, so that an unknown login takes
    as long as a wrong password and reveals nothing. Made on first use, not at import:
    hashing is slow on purpose and the app's cold start should not pay for it."""
    return _hasher.hash("not a real password")


_ACCOUNT_COLUMNS = "login, display_name, active, created_at, role"


def _account(row: tuple[object, ...]) -> NurseAccount:
    return NurseAccount(str(row[0]), str(row[1]), bool(row[2]), from_text(str(row[3])),
                        Role(str(row[4])))


class AccountDirectory:
    """The local accounts of this station (nurses, technicians, admins)."""

    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def create(self, login: str, display_name: str, password: str, actor: str,
               role: Role = Role.NURSE) -> NurseAccount:
        """Create an account; refuses a short password or a login already taken."""
        login = check_login(login)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValidationError("password", "account.password_short",
                                  length=MIN_PASSWORD_LENGTH)
        now = self._clock()
        account = NurseAccount(login, display_name.strip(), True, now, Role(role))
        with self._store.write() as conn:
            if conn.execute("SELECT 1 FROM accounts WHERE login = ?", (login,)).fetchone():
                raise ValidationError("login", "account.login_taken", value=login)
            cursor = conn.execute(
                "INSERT INTO accounts (login, display_name, password_hash, active, created_at,"
                " role) VALUES (?, ?, ?, 1, ?, ?)",
                (login, account.display_name, _hasher.hash(password), to_text(now),
                 account.role.value),
            )
            audit.append(conn, actor=actor, action="account.created", entity="accounts",
                         first_id=int(cursor.lastrowid or 0),
                         details={"login": login, "role": account.role.value})
        return account

    def set_role(self, login: str, role: Role, actor: Principal) -> NurseAccount:
        """Give an account another role; only an admin may (AccessDeniedError else).

        The audit row names the admin, the account, the role before and after.
        """
        require(actor, Permission.MANAGE_ACCOUNTS)
        login = check_login(login)
        with self._store.write() as conn:
            row = conn.execute("SELECT id, role FROM accounts WHERE login = ?",
                               (login,)).fetchone()
            if row is None:
                raise NotFoundError("account.not_found", login=login)
            if row[1] != role.value:
                conn.execute("UPDATE accounts SET role = ? WHERE id = ?", (role.value, row[0]))
                audit.append(conn, actor=actor.login, action="account.role_changed",
                             entity="accounts", first_id=int(row[0]),
                             details={"login": login, "before": row[1], "after": role.value})
        account = self.get(login)
        assert account is not None
        return account

    def get(self, login: str) -> NurseAccount | None:
        """The account with this login, if any."""
        row = self._store.conn.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE login = ?",
            (login.strip().lower(),),
        ).fetchone()
        return None if row is None else _account(row)

    def acting_as(self, login: str) -> NurseAccount:
        """The active account a command says it acts for (``--as``): NotFoundError
        for an unknown login, SignInError for a disabled one. Its role then
        decides what the command may show."""
        account = self.get(login)
        if account is None:
            raise NotFoundError("account.not_found", login=login.strip().lower())
        if not account.active:
            raise SignInError("account.disabled")
        return account

    def list(self) -> list[NurseAccount]:
        """Every account, by login."""
        rows = self._store.conn.execute(
            f"SELECT {_ACCOUNT_COLUMNS} FROM accounts ORDER BY login"
        )
        return [_account(r) for r in rows]

    def sign_in(self, login: str, password: str) -> NurseAccount:
        """Check a password; raises :class:`SignInError` or :class:`AccountLockedError`."""
        login = login.strip().lower()
        now = self._clock()
        locked_until = self.locked_until(login)
        if locked_until is not None and now < locked_until:
            self._record(login, now, "locked")
            seconds = math.ceil((locked_until - now).total_seconds())
            raise AccountLockedError("account.locked", seconds=seconds)
        row = self._store.conn.execute(
            "SELECT id, password_hash, active FROM accounts WHERE login = ?", (login,)
        ).fetchone()
        try:
            _hasher.verify(row[1] if row else _dummy_hash(), password)
            verified = row is not None
        except (VerificationError, InvalidHashError):
            verified = False
        if not verified:
            self._record(login, now, "failure")
            self._trace_lock(login, now)
            raise SignInError("account.bad_credentials")
        if not row[2]:
            self._record(login, now, "disabled")
            raise SignInError("account.disabled")
        self._record(login, now, "success")
        account = self.get(login)
        assert account is not None
        return account

    def locked_until(self, login: str) -> datetime | None:
        """When the login unlocks, or ``None`` if it is not locked."""
        rows = self._store.conn.execute(
            "SELECT time, outcome FROM sign_in_attempts WHERE login = ? ORDER BY id DESC LIMIT 50",
            (login,),
        ).fetchall()
        failures: list[datetime] = []
        for time, outcome in rows:
            if outcome == "success":
                break
            if outcome == "failure":
                failures.append(from_text(time))
        if len(failures) < MAX_FAILURES:
            return None
        extra = len(failures) - MAX_FAILURES
        delay: timedelta = min(FIRST_LOCK * (2 ** min(extra, 10)), LONGEST_LOCK)
        return failures[0] + delay

    def _trace_lock(self, login: str, now: datetime) -> None:
        """An ``account.locked`` audit row when this failure locks the login, and until when.

        The lock itself is computed from the attempts (each audited); this row
        says in the trail, in words, that a lock began and how long it lasts.
        """
        until = self.locked_until(login)
        if until is None or until <= now:
            return
        with self._store.write() as conn:
            audit.append(conn, actor=login or "?", action="account.locked", time=to_text(now),
                         details={"login": login, "until": to_text(until)})

    def _record(self, login: str, now: datetime, outcome: str) -> None:
        with self._store.write() as conn:
            cursor = conn.execute(
                "INSERT INTO sign_in_attempts (login, time, outcome) VALUES (?, ?, ?)",
                (login, to_text(now), outcome),
            )
            audit.append(conn, actor=login or "?", action=f"sign_in.{outcome}",
                         entity="sign_in_attempts", first_id=int(cursor.lastrowid or 0),
                         time=to_text(now))
