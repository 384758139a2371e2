"""Append-only, hash-chained audit trail: who did what, when.

Each row's hash covers its fields and the previous row's hash, so editing,
inserting or removing a row breaks the chain from there on. A row may also
carry the digest of the records it vouches for (a range of ids of one table,
read back from SQLite after the write), so a changed measurement or consent
is detected too. Verification re-reads everything; nothing is trusted.

An account's role is not in its content digest (roles came after the first
chains were written, and changing the digested columns would break them);
it is checked against the role the trail itself states instead: the role
given at creation (``account.created``, nurse for accounts made before roles)
or by the latest ``account.role_changed``. A role changed in the database
without an admin's audited act is caught, in old stores too.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass, field

from station.clock import to_text, utc_now
from station.i18n import tr

GENESIS_HASH = "0" * 64

# Columns a digest covers, per table, in id order and without the id (a range
# of ids is named by the audit row). The digest is SHA-256 of Python's repr of
# the list of row tuples, which is exact for SQLite's types, so a writer can
# hash the rows it inserts and a verifier the rows it reads back.
ENTITY_COLUMNS: dict[str, str] = {
    "accounts": "login, display_name, password_hash, active, created_at",
    "residents": (
        "birth_name, birth_first_names, sex, birth_date, birth_place_code, used_name,"
        " used_first_name, ins, ins_oid, status, document, flags, created_at, created_by,"
        " updated_at"
    ),
    "identity_changes": "resident_id, time, actor, before, after",
    "sessions": "resident_id, act, nurse_login, state, stop_reason, created_at, updated_at",
    "session_events": "session_id, time, type, actor, data",
    "consents": (
        "resident_id, session_id, act, decision, capacity, consenting_person, recorded_by,"
        " recorded_at, note"
    ),
    "measurements": "session_id, kind, value, unit, time_us, device, quality, decimals",
    "waveform_chunks": (
        "session_id, kind, start_us, sample_rate_hz, unit, device, sample_count, samples"
    ),
    "sign_in_attempts": "login, time, outcome",
    "pins": "login, pin_hash, set_at, set_by",
    "pin_attempts": "login, time, outcome",
    "snapshots": (
        "session_id, exam, device, captured_at, width, height, pixels_sha256, path, file_sha256"
    ),
    "invitations": (
        "token_sha256, session_id, created_at, expires_at, used_at, revoked_at, doctor_name,"
        " doctor_rpps, doctor_specialty"
    ),
    "reports": (
        "session_id, version, replaces_id, state, created_at, created_by, content,"
        " content_sha256, pdf, pdf_sha256, fhir, fhir_sha256, validated_by, validated_rpps,"
        " validated_at, reason"
    ),
    "clips": (
        "session_id, site, device, recorded_at, recorded_by, sample_rate_hz, sample_format,"
        " frame_count, duration_s, path, size, file_sha256"
    ),
    "expertise_requests": (
        "session_id, question, expert_name, expert_rpps, expert_specialty, expert_email,"
        " requester_name, requester_rpps, requester_email, bill_rqd, created_at, created_by"
    ),
    "expertise_material": "request_id, kind, item_id",
    "expertise_links": (
        "request_id, token_sha256, created_at, expires_at, created_by, delivery_id, used_at,"
        " revoked_at"
    ),
    "expertise_events": "request_id, link_id, time, type, actor, data",
    "expertise_answers": (
        "request_id, link_id, answered_at, expert_name, expert_rpps, expert_specialty,"
        " conclusion, prescriptions, billing"
    ),
}
# Rows of these tables change over time; only their latest audit row must match.
MUTABLE_ENTITIES = frozenset({"accounts", "residents", "sessions", "invitations",
                              "expertise_links", "pins"})
_ROLE_STATED_BY = {"account.created": "role", "account.role_changed": "after"}
_ROLE_BEFORE_ROLES = "nurse"  # what migration 9 gave the accounts it found


def digest_rows(rows: list[tuple[object, ...]]) -> str:
    """SHA-256 of row tuples exactly as SQLite stores and returns them."""
    return hashlib.sha256(repr(rows).encode()).hexdigest()


def content_digest(
    conn: sqlite3.Connection, entity: str, first_id: int | str, last_id: int | str
) -> str:
    """Digest of rows ``first_id..last_id`` of ``entity`` as stored now."""
    columns = ENTITY_COLUMNS[entity]
    rows = conn.execute(
        f"SELECT {columns} FROM {entity} WHERE id BETWEEN ? AND ? ORDER BY id",
        (first_id, last_id),
    ).fetchall()
    return digest_rows(rows)


def _row_hash(prev_hash: str, fields: tuple[object, ...]) -> str:
    text = "\x1f".join("" if f is None else str(f) for f in (prev_hash, *fields))
    return hashlib.sha256(text.encode()).hexdigest()


def append(
    conn: sqlite3.Connection,
    *,
    actor: str,
    action: str,
    entity: str = "",
    first_id: int | str | None = None,
    last_id: int | str | None = None,
    details: dict[str, object] | None = None,
    time: str | None = None,
    content_hash: str | None = None,
) -> int:
    """Append one audit row; call inside the write transaction it vouches for.

    With ``entity`` and ``first_id`` the row vouches for those records; pass
    ``content_hash`` (from :func:`digest_rows`) when the caller already has
    the rows, else they are read back.
    """
    if first_id is not None and last_id is None:
        last_id = first_id
    if entity and first_id is not None and last_id is not None and content_hash is None:
        content_hash = content_digest(conn, entity, first_id, last_id)
    last = conn.execute("SELECT id, hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
    row_id, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    fields = (
        row_id, time or to_text(utc_now()), actor, action, entity,
        None if first_id is None else str(first_id),
        None if last_id is None else str(last_id),
        content_hash,
        json.dumps(details or {}, ensure_ascii=False, sort_keys=True, separators=(",", ":")),
    )
    conn.execute(
        "INSERT INTO audit (id, time, actor, action, entity, first_id, last_id, content_hash,"
        " details, prev_hash, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (*fields, prev_hash, _row_hash(prev_hash, fields)),
    )
    return row_id


@dataclass
class AuditVerification:
    """Outcome of :func:`verify`: how many rows, and what is wrong, if anything."""

    entries: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when the chain and every vouched-for record are intact."""
        return not self.problems


def verify(conn: sqlite3.Connection) -> AuditVerification:
    """Re-read the whole trail: chain links, row hashes, and vouched records."""
    result = AuditVerification()
    expected_prev = GENESIS_HASH
    expected_id = 1
    latest_for_mutable: dict[tuple[str, str], tuple[int, str]] = {}
    stated_roles: dict[str, tuple[int, str]] = {}  # account id -> (audit row, role)
    rows = conn.execute(
        "SELECT id, time, actor, action, entity, first_id, last_id, content_hash, details,"
        " prev_hash, hash FROM audit ORDER BY id"
    )
    for row in rows:
        row_id, *_, content_hash, _details, prev_hash, row_hash = row
        fields = tuple(row[:9])
        result.entries += 1
        if row_id != expected_id:
            result.problems.append(tr("audit.gap", expected=expected_id, found=row_id))
        if prev_hash != expected_prev:
            result.problems.append(tr("audit.broken_link", id=row_id))
        if _row_hash(prev_hash, fields) != row_hash:
            result.problems.append(tr("audit.row_altered", id=row_id))
        entity, first_id, last_id = row[4], row[5], row[6]
        if entity == "accounts" and row[3] in _ROLE_STATED_BY:
            stated_roles[first_id] = (row_id, _stated_role(row[3], _details))
        if content_hash is not None:
            if entity in MUTABLE_ENTITIES:
                latest_for_mutable[(entity, first_id)] = (row_id, content_hash)
            elif content_digest(conn, entity, first_id, last_id) != content_hash:
                result.problems.append(
                    tr("audit.record_altered", id=row_id, entity=entity,
                       first=first_id, last=last_id)
                )
        expected_prev, expected_id = row_hash, row_id + 1
    for (entity, record_id), (row_id, content_hash) in latest_for_mutable.items():
        if content_digest(conn, entity, record_id, record_id) != content_hash:
            result.problems.append(
                tr("audit.record_altered", id=row_id, entity=entity,
                   first=record_id, last=record_id)
            )
    result.problems.extend(_role_problems(conn, stated_roles))
    return result


def _stated_role(action: str, details: str) -> str:
    """The role an ``account.created`` or ``account.role_changed`` row states."""
    try:
        stated = json.loads(details).get(_ROLE_STATED_BY[action], _ROLE_BEFORE_ROLES)
    except (ValueError, AttributeError):
        return ""  # unreadable details: an altered row, reported by its hash
    return str(stated)


def _role_problems(conn: sqlite3.Connection,
                   stated_roles: dict[str, tuple[int, str]]) -> list[str]:
    """Accounts whose role is not the one the trail last stated for them."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(accounts)")}
    if "role" not in columns:  # a store from before roles (a restore checks it unmigrated)
        return []
    problems = []
    for account_id, login, role in conn.execute("SELECT id, login, role FROM accounts"):
        stated = stated_roles.get(str(account_id))
        if stated is not None and stated[1] != role:
            problems.append(tr("audit.role_altered", id=stated[0], login=login, found=role,
                               expected=stated[1]))
    return problems
