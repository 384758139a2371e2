"""Residents: create, update, search; every identity change is kept.

Two kinds of reads. :meth:`ResidentRegistry.get` and
:meth:`ResidentRegistry.search` are the core's own (the session engine, the
report, the duplicate check): no person sees their result as such. What a
person asks to see goes through :meth:`~ResidentRegistry.find`,
:meth:`~ResidentRegistry.open` and :meth:`~ResidentRegistry.history`, which
take the actor, refuse a role without clinical access
(:class:`~station.access.AccessDeniedError`) and leave a ``record.read`` or
``resident.searched`` row in the audit trail (ids and a digest, no trait).
"""

from __future__ import annotations

import json
import sqlite3
import unicodedata
from dataclasses import dataclass
from datetime import date

from station.access import Permission, Principal, criteria_digest, record_read, require
from station.clock import Clock, to_text, utc_now
from station.errors import NotFoundError
from station.identity import (
    IdentityDocument,
    IdentityFlag,
    IdentityStatus,
    ResidentIdentity,
    Sex,
    normalise_name,
)
from station.store import audit
from station.store.database import Store

_COLUMNS = (
    "birth_name", "birth_first_names", "sex", "birth_date", "birth_place_code", "used_name",
    "used_first_name", "ins", "ins_oid", "status", "document", "flags",
)


@dataclass(frozen=True, slots=True)
class Resident:
    """A stored resident: its id and current identity."""

    id: int
    identity: ResidentIdentity


def _identity_values(identity: ResidentIdentity) -> dict[str, object]:
    return {
        "birth_name": identity.birth_name,
        "birth_first_names": json.dumps(list(identity.birth_first_names), ensure_ascii=False),
        "sex": identity.sex.value,
        "birth_date": identity.birth_date.isoformat(),
        "birth_place_code": identity.birth_place_code,
        "used_name": identity.used_name,
        "used_first_name": identity.used_first_name,
        "ins": identity.ins,
        "ins_oid": identity.ins_oid,
        "status": identity.status.value,
        "document": identity.document.value if identity.document else None,
        "flags": json.dumps(sorted(f.value for f in identity.flags)),
    }


def _identity(row: sqlite3.Row | tuple[object, ...]) -> ResidentIdentity:
    values = dict(zip(_COLUMNS, row, strict=True))
    return ResidentIdentity(
        birth_name=str(values["birth_name"]),
        birth_first_names=tuple(json.loads(str(values["birth_first_names"]))),
        sex=Sex(values["sex"]),
        birth_date=date.fromisoformat(str(values["birth_date"])),
        birth_place_code=str(values["birth_place_code"]),
        used_name=_opt(values["used_name"]),
        used_first_name=_opt(values["used_first_name"]),
        ins=_opt(values["ins"]),
        ins_oid=_opt(values["ins_oid"]),
        status=IdentityStatus(values["status"]),
        document=IdentityDocument(values["document"]) if values["document"] else None,
        flags=frozenset(IdentityFlag(f) for f in json.loads(str(values["flags"]))),
    )


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


def _fold(text: str) -> str:
    """Lower-case, accent-free form for matching a few typed letters."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).upper()


class ResidentRegistry:
    """The residents of the EHPAD as known to the station."""

    def __init__(self, store: Store, clock: Clock = utc_now) -> None:
        self._store = store
        self._clock = clock

    def create(self, identity: ResidentIdentity, actor: str) -> Resident:
        """Store a new resident. Call :meth:`possible_duplicates` first."""
        now = to_text(self._clock())
        values = _identity_values(identity)
        with self._store.write() as conn:
            cursor = conn.execute(
                f"INSERT INTO residents ({', '.join(_COLUMNS)}, created_at, created_by,"
                f" updated_at) VALUES ({', '.join('?' * len(_COLUMNS))}, ?, ?, ?)",
                (*values.values(), now, actor, now),
            )
            resident_id = int(cursor.lastrowid or 0)
            self._record_change(conn, resident_id, None, values, actor, now)
            audit.append(conn, actor=actor, action="resident.created", entity="residents",
                         first_id=resident_id, time=now,
                         details={"status": identity.status.value})
        return Resident(resident_id, identity)

    def update(self, resident_id: int, identity: ResidentIdentity, actor: str) -> Resident:
        """Replace a resident's identity; the previous one stays in the history."""
        before = self.get(resident_id)
        now = to_text(self._clock())
        values = _identity_values(identity)
        with self._store.write() as conn:
            assignments = ", ".join(f"{c} = ?" for c in _COLUMNS)
            conn.execute(
                f"UPDATE residents SET {assignments}, updated_at = ? WHERE id = ?",
                (*values.values(), now, resident_id),
            )
            self._record_change(
                conn, resident_id, _identity_values(before.identity), values, actor, now
            )
            changed = sorted(
                k for k, v in values.items() if _identity_values(before.identity)[k] != v
            )
            audit.append(conn, actor=actor, action="resident.updated", entity="residents",
                         first_id=resident_id, time=now, details={"changed": changed})
        return Resident(resident_id, identity)

    def _record_change(
        self, conn: sqlite3.Connection, resident_id: int,
        before: dict[str, object] | None, after: dict[str, object], actor: str, now: str,
    ) -> None:
        cursor = conn.execute(
            "INSERT INTO identity_changes (resident_id, time, actor, before, after)"
            " VALUES (?, ?, ?, ?, ?)",
            (resident_id, now, actor,
             None if before is None else json.dumps(before, ensure_ascii=False),
             json.dumps(after, ensure_ascii=False)),
        )
        audit.append(conn, actor=actor, action="identity.changed", entity="identity_changes",
                     first_id=int(cursor.lastrowid or 0), time=now,
                     details={"resident": resident_id})

    def get(self, resident_id: int) -> Resident:
        """The resident with this id, or :class:`NotFoundError`."""
        row = self._store.conn.execute(
            f"SELECT {', '.join(_COLUMNS)} FROM residents WHERE id = ?", (resident_id,)
        ).fetchone()
        if row is None:
            raise NotFoundError("resident.not_found", id=resident_id)
        return Resident(resident_id, _identity(row))

    def history(self, resident_id: int,
                actor: Principal) -> list[tuple[str, str, dict[str, object]]]:
        """(time, actor, identity values) for every version, oldest first; checked
        and audited like :meth:`open`."""
        require(actor, Permission.READ_CLINICAL)
        self.get(resident_id)  # NotFoundError before anything is recorded
        rows = self._store.conn.execute(
            "SELECT time, actor, after FROM identity_changes WHERE resident_id = ? ORDER BY id",
            (resident_id,),
        ).fetchall()
        record_read(self._store, actor, "history", resident=resident_id)
        return [(t, a, json.loads(after)) for t, a, after in rows]

    # --- what a person reads: checked, audited --------------------------------------

    def open(self, resident_id: int, actor: Principal, what: str = "identity") -> Resident:
        """The resident a person opens (a search result chosen, ``residents show``).

        AccessDeniedError for a role without clinical access; the read is
        audited (who, when, resident id, ``what``).
        """
        require(actor, Permission.READ_CLINICAL)
        resident = self.get(resident_id)
        record_read(self._store, actor, what, resident=resident_id)
        return resident

    def find(self, actor: Principal, birth_date: date | None = None,
             letters: str = "") -> list[Resident]:
        """:meth:`search` for a person: checked, and the search is audited with a
        keyed digest of its criteria and the number of results, never the criteria."""
        require(actor, Permission.READ_CLINICAL)
        found = self.search(birth_date, letters)
        self._record_search(actor, "search", found, birth_date, _fold(letters.strip()))
        return found

    def find_duplicates(self, identity: ResidentIdentity, actor: Principal) -> list[Resident]:
        """:meth:`possible_duplicates` shown to a person: checked and audited as a search."""
        require(actor, Permission.READ_CLINICAL)
        found = self.possible_duplicates(identity)
        self._record_search(actor, "duplicates", found, identity.birth_date, identity.ins,
                            identity.birth_name, *identity.birth_first_names)
        return found

    def _record_search(self, actor: Principal, kind: str, found: list[Resident],
                       *criteria: object) -> None:
        digest = criteria_digest(self._store, kind, *criteria)
        with self._store.write() as conn:
            audit.append(conn, actor=actor.login, action="resident.searched",
                         details={"kind": kind, "criteria": digest, "results": len(found)})

    def search(self, birth_date: date | None = None, letters: str = "") -> list[Resident]:
        """Residents born on ``birth_date`` whose names contain ``letters``.

        The date of birth narrows first (identity vigilance practice); the
        letters match any name (birth, used, first names), accents ignored.
        """
        sql = f"SELECT id, {', '.join(_COLUMNS)} FROM residents"
        params: tuple[object, ...] = ()
        if birth_date is not None:
            sql += " WHERE birth_date = ?"
            params = (birth_date.isoformat(),)
        needle = _fold(letters.strip())
        found = []
        for row in self._store.conn.execute(sql + " ORDER BY birth_name, id", params):
            identity = _identity(row[1:])
            names = " ".join(
                n for n in (identity.birth_name, identity.used_name, identity.used_first_name,
                            *identity.birth_first_names) if n
            )
            if needle in _fold(names):
                found.append(Resident(int(row[0]), identity))
        return found

    def possible_duplicates(self, identity: ResidentIdentity) -> list[Resident]:
        """Residents who may be the same person: same INS, or same birth date and
        a shared name with the first three letters of a first name in common."""
        candidates: list[Resident] = []
        if identity.ins:
            rows = self._store.conn.execute("SELECT id FROM residents WHERE ins = ?",
                                            (identity.ins,))
            candidates.extend(self.get(int(r[0])) for r in rows)
        for resident in self.search(identity.birth_date):
            other = resident.identity
            names = {other.birth_name, other.used_name} - {None}
            same_name = bool(names & {identity.birth_name, identity.used_name})
            firsts = {normalise_name(f)[:3] for f in other.birth_first_names}
            same_first = bool(firsts & {f[:3] for f in identity.birth_first_names})
            if (same_name or same_first) and resident not in candidates:
                candidates.append(resident)
        return candidates
