"""Short unlock PINs for the app's idle lock: 4 to 6 digits, argon2-hashed.

A PIN only unlocks a station already signed in by the same nurse; signing in
always takes the password. After ``MAX_FAILURES`` consecutive wrong PINs the
PIN stops working until the nurse types the password again (a successful
password sign-in or a new PIN resets the count). Every attempt is recorded
and audited, and the count is computed from the records, so it survives a
restart. A password is never 4 to 6 digits (at least 8 characters), so one
field can take either: :func:`unlock` tells them apart.
"""

from __future__ import annotations

import itertools
import re
import sqlite3

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from station.clock import Clock, to_text, utc_now
from station.errors import NotFoundError, SignInError, ValidationError
from station.people import NurseAccount, check_login
from station.store import audit
from station.store.accounts import AccountDirectory
from station.store.database import Store

MIN_DIGITS, MAX_DIGITS = 4, 6
MAX_FAILURES = 5
_PIN_PATTERN = re.compile(rf"^\d{{{MIN_DIGITS},{MAX_DIGITS}}}$")
_hasher = PasswordHasher()


class PinError(SignInError):
    """A PIN was refused (wrong, none set)."""


class PinBlockedError(PinError):
    """Too many wrong PINs: the password is required."""


class PinMismatchError(ValidationError):
    """The new PIN and its repetition differ: nothing was stored."""

    def __init__(self) -> None:
        super().__init__("pin", "pin.mismatch")


def looks_like_pin(secret: str) -> bool:
    """True for 4 to 6 digits (never a valid password, which has 8 characters or more)."""
    return bool(_PIN_PATTERN.match(secret.strip()))


def check_pin_format(pin: str) -> str:
    """The PIN if it is 4-6 digits and not trivially guessed (one digit repeated, a run)."""
    pin = pin.strip()
    if not _PIN_PATTERN.match(pin):
        raise ValidationError("pin", "pin.format", min=MIN_DIGITS, max=MAX_DIGITS)
    steps = {int(b) - int(a) for a, b in itertools.pairwise(pin)}
    if len(set(pin)) == 1 or steps in ({1}, {-1}):
        raise ValidationError("pin", "pin.too_simple")
    return pin


class PinDirectory:
    """The unlock PINs of this station's nurse accounts."""

    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def set_pin(self, login: str, pin: str, actor: str) -> None:
        """Set (or replace) a nurse's PIN; resets the failure count."""
        login = check_login(login)
        pin = check_pin_format(pin)
        if AccountDirectory(self._store).get(login) is None:
            raise NotFoundError("pin.no_account", login=login)
        now = to_text(self._clock())
        with self._store.write() as conn:
            conn.execute(
                "INSERT INTO pins (login, pin_hash, set_at, set_by) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (login) DO UPDATE SET pin_hash = excluded.pin_hash,"
                " set_at = excluded.set_at, set_by = excluded.set_by",
                (login, _hasher.hash(pin), now, actor),
            )
            pin_id = conn.execute("SELECT id FROM pins WHERE login = ?", (login,)).fetchone()[0]
            audit.append(conn, actor=actor, action="pin.set", entity="pins", first_id=pin_id,
                         time=now, details={"login": login})
            self._record_in(conn, login, now, "set")

    def has_pin(self, login: str) -> bool:
        """True when the nurse has set a PIN."""
        return self._hash(login) is not None

    def failures(self, login: str) -> int:
        """Wrong PINs since the last success, the last new PIN or the last password sign-in."""
        login = login.strip().lower()
        conn = self._store.conn
        row = conn.execute("SELECT max(time) FROM sign_in_attempts WHERE login = ?"
                           " AND outcome = 'success'", (login,)).fetchone()
        since = row[0] or ""
        count = 0
        for time, outcome in conn.execute(
            "SELECT time, outcome FROM pin_attempts WHERE login = ? ORDER BY id DESC LIMIT 50",
            (login,),
        ):
            if outcome in ("success", "set") or time <= since:
                break
            count += outcome == "failure"
        return count

    def is_blocked(self, login: str) -> bool:
        """True once ``MAX_FAILURES`` wrong PINs in a row were typed."""
        return self.failures(login) >= MAX_FAILURES

    def check_pin(self, login: str, pin: str) -> None:
        """Accept the nurse's PIN, or raise :class:`PinError` / :class:`PinBlockedError`."""
        login = login.strip().lower()
        now = to_text(self._clock())
        stored = self._hash(login)
        if stored is None:
            self._record(login, now, "no_pin")
            raise PinError("pin.not_set")
        if self.is_blocked(login):
            self._record(login, now, "blocked")
            raise PinBlockedError("pin.blocked", count=MAX_FAILURES)
        verified: bool
        try:
            verified = _hasher.verify(stored, pin.strip())
        except (VerificationError, InvalidHashError):
            verified = False
        if not verified:
            self._record(login, now, "failure")
            left = MAX_FAILURES - self.failures(login)
            if left <= 0:
                raise PinBlockedError("pin.blocked", count=MAX_FAILURES)
            raise PinError("pin.wrong", left=left)
        self._record(login, now, "success")

    def _hash(self, login: str) -> str | None:
        row = self._store.conn.execute("SELECT pin_hash FROM pins WHERE login = ?",
                                       (login.strip().lower(),)).fetchone()
        return None if row is None else str(row[0])

    def _record(self, login: str, now: str, outcome: str) -> None:
        with self._store.write() as conn:
            self._record_in(conn, login, now, outcome)

    @staticmethod
    def _record_in(conn: sqlite3.Connection, login: str, now: str, outcome: str) -> None:
        cursor = conn.execute("INSERT INTO pin_attempts (login, time, outcome) VALUES (?, ?, ?)",
                              (login, now, outcome))
        audit.append(conn, actor=login or "?", action=f"pin.{outcome}", entity="pin_attempts",
                     first_id=int(cursor.lastrowid or 0), time=now)


def unlock(accounts: AccountDirectory, pins: PinDirectory, nurse: NurseAccount,
           secret: str) -> NurseAccount:
    """Unlock the station for the nurse already signed in, with her PIN or her password.

    A 4-6 digit secret is taken as the PIN, anything else as the password
    (with the password's own lockout). Raises :class:`SignInError` subclasses.
    """
    if looks_like_pin(secret):
        pins.check_pin(nurse.login, secret)
        account = accounts.get(nurse.login)
        if account is None or not account.active:
            raise SignInError("account.disabled")
        return account
    return accounts.sign_in(nurse.login, secret)


def change_own_pin(accounts: AccountDirectory, pins: PinDirectory, nurse: NurseAccount,
                   password: str, pin: str, repeat: str) -> None:
    """The signed-in nurse sets or replaces her own PIN, typed twice, after her password.

    A PIN unlocks a session holding health data, so whoever sets it must prove
    she is the nurse: the password is checked like a sign-in (it counts towards
    the same lockout, and is audited). The PIN's rules are checked first, so a
    mistyped PIN costs no password attempt. Raises :class:`ValidationError`
    (:class:`PinMismatchError` when the two entries differ) or
    :class:`SignInError` subclasses; nothing is stored then.
    """
    pin = check_pin_format(pin)
    if repeat.strip() != pin:
        raise PinMismatchError
    accounts.sign_in(nurse.login, password)
    pins.set_pin(nurse.login, pin, actor=nurse.login)
