"""Report versions: stored once validated, never rewritten, corrected by new versions.

Each version row holds the content JSON it was rendered from, the PDF and
the FHIR bundle as bytes, and the SHA-256 of all three. Inserting a version
appends an audit row vouching for the whole row (bytes included) and a
``report_validated`` session event, in the same transaction. SQLite triggers
(schema v4) refuse any rewrite of a validated version and any deletion.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import dataclass
from datetime import datetime

from station.clock import from_text, to_text
from station.errors import NotFoundError
from station.store import audit
from station.store.database import Store
from station.store.sessions import SessionRecords

_COLUMNS = (
    "id, session_id, version, replaces_id, state, created_at, created_by, content,"
    " content_sha256, pdf, pdf_sha256, fhir, fhir_sha256, validated_by, validated_rpps,"
    " validated_at, reason"
)


def sha256_hex(data: bytes) -> str:
    """Hex SHA-256 of ``data``."""
    return hashlib.sha256(data).hexdigest()


@dataclass(frozen=True, slots=True)
class ReportVersion:
    """One stored version of a session's report."""

    id: str
    session_id: str
    version: int
    replaces_id: str | None
    state: str
    created_at: datetime
    created_by: str
    content_json: str
    content_sha256: str
    pdf: bytes
    pdf_sha256: str
    fhir: bytes
    fhir_sha256: str
    validated_by: str | None
    validated_rpps: str | None
    validated_at: datetime | None
    reason: str = ""

    @property
    def is_validated(self) -> bool:
        """True once the doctor validated it (it can then only be corrected)."""
        return self.state == "validated"

    def intact(self) -> bool:
        """True when the stored bytes still hash to the recorded SHA-256."""
        return (sha256_hex(self.content_json.encode()) == self.content_sha256
                and sha256_hex(self.pdf) == self.pdf_sha256
                and sha256_hex(self.fhir) == self.fhir_sha256)


def _version(row: tuple[object, ...]) -> ReportVersion:
    (report_id, session_id, version, replaces_id, state, created_at, created_by, content,
     content_sha, pdf, pdf_sha, fhir, fhir_sha, validated_by, validated_rpps, validated_at,
     reason) = row
    return ReportVersion(
        id=str(report_id), session_id=str(session_id), version=int(str(version)),
        replaces_id=None if replaces_id is None else str(replaces_id), state=str(state),
        created_at=from_text(str(created_at)), created_by=str(created_by),
        content_json=str(content), content_sha256=str(content_sha),
        pdf=bytes(pdf) if isinstance(pdf, bytes | bytearray | memoryview) else b"",
        pdf_sha256=str(pdf_sha),
        fhir=bytes(fhir) if isinstance(fhir, bytes | bytearray | memoryview) else b"",
        fhir_sha256=str(fhir_sha),
        validated_by=None if validated_by is None else str(validated_by),
        validated_rpps=None if validated_rpps is None else str(validated_rpps),
        validated_at=None if validated_at is None else from_text(str(validated_at)),
        reason=str(reason),
    )


class ReportRecords:
    """Persistence of report versions; each write is one durable transaction."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add_validated(self, version: ReportVersion) -> ReportVersion:
        """Store a validated version, its audit row and its session event, atomically.

        The hashes are computed here from the bytes, never trusted from the
        caller. A second version with the same number, or a correction of a
        version already corrected, is refused by SQLite (``IntegrityError``).
        """
        assert version.validated_at is not None and version.validated_by is not None
        stamp = to_text(version.validated_at)
        values = (
            version.id, version.session_id, version.version, version.replaces_id, "validated",
            to_text(version.created_at), version.created_by, version.content_json,
            sha256_hex(version.content_json.encode()), version.pdf, sha256_hex(version.pdf),
            version.fhir, sha256_hex(version.fhir), version.validated_by,
            version.validated_rpps, stamp, version.reason,
        )
        with self._store.write() as conn:
            conn.execute(f"INSERT INTO reports ({_COLUMNS}) VALUES"
                         f" ({', '.join('?' * len(values))})", values)
            action = "report.corrected" if version.replaces_id else "report.validated"
            audit.append(conn, actor=version.created_by, action=action, entity="reports",
                         first_id=version.id, time=stamp,
                         details={"session": version.session_id, "version": version.version,
                                  "replaces": version.replaces_id,
                                  "pdf_sha256": values[10], "fhir_sha256": values[12],
                                  "content_sha256": values[8]})
            SessionRecords(self._store).record_event_in(
                conn, version.session_id, "report_validated", version.validated_at,
                version.created_by,
                {"report": version.id, "version": version.version,
                 "replaces": version.replaces_id, "pdf_sha256": values[10]})
        return self.get(version.id)

    def get(self, report_id: str) -> ReportVersion:
        """The version with this id, or :class:`NotFoundError`."""
        row = self._store.conn.execute(f"SELECT {_COLUMNS} FROM reports WHERE id = ?",
                                       (report_id,)).fetchone()
        if row is None:
            raise NotFoundError("report.not_found", id=report_id)
        return _version(tuple(row))

    def history(self, session_id: str) -> list[ReportVersion]:
        """Every version of the session's report, oldest first."""
        rows = self._store.conn.execute(
            f"SELECT {_COLUMNS} FROM reports WHERE session_id = ? ORDER BY version",
            (session_id,))
        return [_version(tuple(row)) for row in rows]

    def latest(self, session_id: str) -> ReportVersion | None:
        """The current (highest) version, or None before the first validation."""
        row = self._store.conn.execute(
            f"SELECT {_COLUMNS} FROM reports WHERE session_id = ? ORDER BY version DESC"
            " LIMIT 1", (session_id,)).fetchone()
        return None if row is None else _version(tuple(row))

    def next_version(self, session_id: str) -> int:
        """The number the next version of this session's report takes."""
        row = self._store.conn.execute(
            "SELECT coalesce(max(version), 0) FROM reports WHERE session_id = ?",
            (session_id,)).fetchone()
        return int(row[0]) + 1


def is_protected_error(error: sqlite3.Error) -> bool:
    """True when SQLite refused a write because a report is protected."""
    text = str(error)
    return "clinical record" in text or text.startswith("report:")
