"""Local nurse accounts: argon2 password hashes, rate-limited sign-in.

Every sign-in attempt is recorded. After ``MAX_FAILURES`` consecutive
failures the login is locked, for a delay that doubles with each further
failure (capped); the lock is computed from the recorded attempts, so it
survives a restart of the station.
"""

from __future__ import annotations

import functools
import math
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from station.clock import Clock, from_text, to_text, utc_now
from station.errors import AccountLockedError, SignInError, ValidationError
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


class AccountDirectory:
    """The nurse accounts of this station."""

    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def create(self, login: str, display_name: str, password: str, actor: str) -> NurseAccount:
        """Create an account; refuses a short password or a login already taken."""
        login = check_login(login)
        if len(password) < MIN_PASSWORD_LENGTH:
            raise ValidationError("password", "account.password_short",
                                  length=MIN_PASSWORD_LENGTH)
        now = self._clock()
        account = NurseAccount(login, display_name.strip(), True, now)
        with self._store.write() as conn:
            if conn.execute("SELECT 1 FROM accounts WHERE login = ?", (login,)).fetchone():
                raise ValidationError("login", "account.login_taken", value=login)
            cursor = conn.execute(
                "INSERT INTO accounts (login, display_name, password_hash, active, created_at)"
                " VALUES (?, ?, ?, 1, ?)",
                (login, account.display_name, _hasher.hash(password), to_text(now)),
            )
            audit.append(conn, actor=actor, action="account.created", entity="accounts",
                         first_id=int(cursor.lastrowid or 0), details={"login": login})
        return account

    def get(self, login: str) -> NurseAccount | None:
        """The account with this login, if any."""
        row = self._store.conn.execute(
            "SELECT login, display_name, active, created_at FROM accounts WHERE login = ?",
            (login.strip().lower(),),
        ).fetchone()
        if row is None:
            return None
        return NurseAccount(row[0], row[1], bool(row[2]), from_text(row[3]))

    def list(self) -> list[NurseAccount]:
        """Every account, by login."""
        rows = self._store.conn.execute(
            "SELECT login, display_name, active, created_at FROM accounts ORDER BY login"
        )
        return [NurseAccount(r[0], r[1], bool(r[2]), from_text(r[3])) for r in rows]

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

    def _record(self, login: str, now: datetime, outcome: str) -> None:
        with self._store.write() as conn:
            cursor = conn.execute(
                "INSERT INTO sign_in_attempts (login, time, outcome) VALUES (?, ?, ?)",
                (login, to_text(now), outcome),
            )
            audit.append(conn, actor=login or "?", action=f"sign_in.{outcome}",
                         entity="sign_in_attempts", first_id=int(cursor.lastrowid or 0),
                         time=to_text(now))
