"""Versioned schema: each migration runs once, in one transaction, in order.

The schema version lives in SQLite's ``user_version``. A store written by a
newer station is refused, never downgraded. Clinical tables are append-only
(triggers refuse DELETE, and UPDATE where a row is a fact); residents and
sessions may be updated but never deleted, since records are kept 20 years.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Migration:
    """One step of the schema's history."""

    version: int
    description: str
    sql: str


def _append_only(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, 'clinical record: {table} rows are never deleted'); END;
CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
BEGIN SELECT RAISE(ABORT, 'clinical record: {table} rows are never rewritten'); END;
"""


def _never_deleted(table: str) -> str:
    return f"""
CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
BEGIN SELECT RAISE(ABORT, 'clinical record: {table} rows are never deleted'); END;
"""


_V1 = """
CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL
);
CREATE TABLE sign_in_attempts (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL,
    time TEXT NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX sign_in_attempts_login ON sign_in_attempts (login, id);
CREATE TABLE residents (
    id INTEGER PRIMARY KEY,
    birth_name TEXT NOT NULL,
    birth_first_names TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    birth_place_code TEXT NOT NULL,
    used_name TEXT,
    used_first_name TEXT,
    ins TEXT,
    ins_oid TEXT,
    status TEXT NOT NULL,
    document TEXT,
    flags TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE INDEX residents_birth_date ON residents (birth_date);
CREATE TABLE identity_changes (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    before TEXT,
    after TEXT NOT NULL
);
CREATE TABLE sessions (
    id TEXT PRIMARY KEY,
    resident_id INTEGER REFERENCES residents (id),
    act TEXT NOT NULL,
    nurse_login TEXT NOT NULL,
    state TEXT NOT NULL,
    stop_reason TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE session_events (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    time TEXT NOT NULL,
    type TEXT NOT NULL,
    actor TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX session_events_session ON session_events (session_id, id);
CREATE TABLE consents (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents (id),
    session_id TEXT REFERENCES sessions (id),
    act TEXT NOT NULL,
    decision TEXT NOT NULL,
    capacity TEXT NOT NULL,
    consenting_person TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    note TEXT NOT NULL
);
CREATE INDEX consents_resident ON consents (resident_id, id);
CREATE TABLE measurements (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    kind TEXT NOT NULL,
    value REAL,
    unit TEXT NOT NULL,
    time_us INTEGER NOT NULL,
    device TEXT NOT NULL,
    quality TEXT NOT NULL,
    decimals INTEGER
);
CREATE INDEX measurements_session ON measurements (session_id, id);
CREATE TABLE waveform_chunks (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    kind TEXT NOT NULL,
    start_us INTEGER NOT NULL,
    sample_rate_hz REAL NOT NULL,
    unit TEXT NOT NULL,
    device TEXT NOT NULL,
    sample_count INTEGER NOT NULL,
    samples BLOB NOT NULL
);
CREATE INDEX waveform_chunks_session ON waveform_chunks (session_id, kind, id);
CREATE TABLE audit (
    id INTEGER PRIMARY KEY,
    time TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    entity TEXT NOT NULL,
    first_id TEXT,
    last_id TEXT,
    content_hash TEXT,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
);
-- Measurement times are integer microseconds since the Unix epoch (UTC):
-- exact, compact and several times cheaper to write than ISO text at high
-- rates. This view shows them readably for a technician's sqlite3 shell.
CREATE VIEW measurements_readable AS
SELECT id, session_id, kind, value, unit,
       strftime('%Y-%m-%dT%H:%M:%f', time_us / 1000000.0, 'unixepoch') || 'Z' AS time,
       device, quality, decimals
FROM measurements;
""" + "".join(
    _append_only(t)
    for t in ("sign_in_attempts", "identity_changes", "session_events", "consents",
              "measurements", "waveform_chunks", "audit")
) + "".join(_never_deleted(t) for t in ("residents", "sessions", "accounts"))

_V2 = """
CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    exam TEXT NOT NULL,
    device TEXT NOT NULL,
    captured_at TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    pixels_sha256 TEXT NOT NULL,
    path TEXT NOT NULL,
    file_sha256 TEXT NOT NULL
);
CREATE INDEX snapshots_session ON snapshots (session_id, id);
""" + _append_only("snapshots")

# Invitations are not clinical facts, but who was let into a session is kept
# as long as the session: rows are never deleted, and what identifies a link
# (its token digest, session, creation and expiry) is never rewritten. Only
# the use (with the doctor who joined) and the revocation are filled in later.
_V3 = """
CREATE TABLE invitations (
    id INTEGER PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT,
    doctor_name TEXT,
    doctor_rpps TEXT,
    doctor_specialty TEXT
);
CREATE INDEX invitations_session ON invitations (session_id, id);
CREATE TRIGGER invitations_fixed BEFORE UPDATE OF token_sha256, session_id, created_at,
    expires_at ON invitations
BEGIN SELECT RAISE(ABORT, 'invitation: token, session and validity are never rewritten'); END;
""" + _never_deleted("invitations")

# Report versions (issue 6). A version is never deleted; once validated (by
# the doctor) it is never rewritten either: a correction is a new version
# whose ``replaces_id`` names the validated version it corrects, and a version
# is corrected at most once, so the versions of a session form one chain. The
# rendered PDF and FHIR bundle are kept as bytes beside the content JSON they
# were rendered from, each with its SHA-256; the audit row of a version
# vouches for all of it. ``state`` allows unvalidated drafts, which alone may
# still change.
_V4 = """
CREATE TABLE reports (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    version INTEGER NOT NULL CHECK (version >= 1),
    replaces_id TEXT REFERENCES reports (id),
    state TEXT NOT NULL CHECK (state IN ('draft', 'validated')),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    content TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    pdf BLOB NOT NULL,
    pdf_sha256 TEXT NOT NULL,
    fhir BLOB NOT NULL,
    fhir_sha256 TEXT NOT NULL,
    validated_by TEXT,
    validated_rpps TEXT,
    validated_at TEXT,
    reason TEXT NOT NULL DEFAULT '',
    UNIQUE (session_id, version)
);
CREATE UNIQUE INDEX reports_replaces ON reports (replaces_id) WHERE replaces_id IS NOT NULL;
CREATE TRIGGER reports_validated_fixed BEFORE UPDATE ON reports WHEN OLD.state = 'validated'
BEGIN SELECT RAISE(ABORT,
    'clinical record: a validated report is never rewritten; write a correction'); END;
CREATE TRIGGER reports_validation_named BEFORE INSERT ON reports
    WHEN NEW.state = 'validated' AND (NEW.validated_by IS NULL OR NEW.validated_at IS NULL)
BEGIN SELECT RAISE(ABORT, 'report: a validated version names who validated it and when'); END;
CREATE TRIGGER reports_correction_chain BEFORE INSERT ON reports
    WHEN NEW.replaces_id IS NOT NULL AND NOT EXISTS (
        SELECT 1 FROM reports WHERE id = NEW.replaces_id AND session_id = NEW.session_id
        AND state = 'validated' AND version < NEW.version)
BEGIN SELECT RAISE(ABORT,
    'report: a correction replaces an earlier validated version of the same session'); END;
""" + _never_deleted("reports")

# The outbox (issue 6). A message (subject, body, attachments) is written
# once and never changed; its attachments are BLOBs in the same file, so a
# message, its attachments and its deliveries commit in one transaction and
# are backed up, verified and kept with the rest of the record. Each recipient
# is a delivery whose identity (message, channel, address, Message-ID) is
# fixed; only its state and retry schedule move, and a delivered one never
# moves again. Every attempt and its outcome is an append-only history row.
_V5 = """
CREATE TABLE outbox_messages (
    id TEXT PRIMARY KEY,
    message_key TEXT NOT NULL UNIQUE,
    session_id TEXT REFERENCES sessions (id),
    report_ref TEXT,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX outbox_messages_session ON outbox_messages (session_id);
CREATE TABLE outbox_attachments (
    id INTEGER PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES outbox_messages (id),
    position INTEGER NOT NULL,
    filename TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    content BLOB NOT NULL,
    UNIQUE (message_id, position)
);
CREATE TABLE outbox_deliveries (
    id TEXT PRIMARY KEY,
    message_id TEXT NOT NULL REFERENCES outbox_messages (id),
    channel TEXT NOT NULL CHECK (channel IN ('smtp', 'fhir', 'folder')),
    address TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    mime_message_id TEXT NOT NULL UNIQUE,
    state TEXT NOT NULL CHECK (state IN ('queued', 'sending', 'delivered', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TEXT NOT NULL,
    last_error_code TEXT,
    last_error_params TEXT,
    reply_code INTEGER,
    reply_text TEXT,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    delivered_at TEXT,
    UNIQUE (message_id, channel, address)
);
CREATE INDEX outbox_deliveries_due ON outbox_deliveries (state, next_attempt_at);
CREATE TABLE outbox_history (
    id INTEGER PRIMARY KEY,
    delivery_id TEXT NOT NULL REFERENCES outbox_deliveries (id),
    attempt INTEGER NOT NULL,
    time TEXT NOT NULL,
    event TEXT NOT NULL,
    actor TEXT NOT NULL,
    error_code TEXT,
    error_params TEXT,
    reply_code INTEGER,
    reply_text TEXT
);
CREATE INDEX outbox_history_delivery ON outbox_history (delivery_id, id);
CREATE TRIGGER outbox_deliveries_fixed BEFORE UPDATE OF id, message_id, channel, address,
    mime_message_id, created_at ON outbox_deliveries
BEGIN SELECT RAISE(ABORT, 'outbox: recipient and Message-ID are never rewritten'); END;
CREATE TRIGGER outbox_deliveries_delivered_final BEFORE UPDATE ON outbox_deliveries
    WHEN OLD.state = 'delivered'
BEGIN SELECT RAISE(ABORT, 'outbox: a delivered delivery is never sent again'); END;
""" + "".join(
    _append_only(t) for t in ("outbox_messages", "outbox_attachments", "outbox_history")
) + _never_deleted("outbox_deliveries")

# Stethoscope clips and télé-expertise (issue 6).
#
# A clip is a lossless WAV file under ``<store folder>/media/<session>/``,
# written and fsynced before its row commits; the row (format, length, file
# hash, site, who recorded it) is a clinical fact, never rewritten.
#
# A télé-expertise request is written once (question, requested expert, the
# material chosen) and never changed: a different question is a new request.
# Where it stands is read from its append-only timeline (``expertise_events``:
# created, sent, opened, revoked, answered, reported), from its links and from
# its answer. A link keeps only the SHA-256 of its token; as for invitations,
# what identifies a link is fixed and only its use (the answer) and its
# revocation are filled in later. A request has at most one answer, given
# through one of its own links.
_V6 = """
CREATE TABLE clips (
    id INTEGER PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    site TEXT NOT NULL,
    device TEXT NOT NULL,
    recorded_at TEXT NOT NULL,
    recorded_by TEXT NOT NULL,
    sample_rate_hz INTEGER NOT NULL CHECK (sample_rate_hz > 0),
    sample_format TEXT NOT NULL CHECK (sample_format IN ('pcm16', 'float32')),
    frame_count INTEGER NOT NULL CHECK (frame_count > 0),
    duration_s REAL NOT NULL,
    path TEXT NOT NULL UNIQUE,
    size INTEGER NOT NULL,
    file_sha256 TEXT NOT NULL
);
CREATE INDEX clips_session ON clips (session_id, id);
CREATE TABLE expertise_requests (
    id TEXT PRIMARY KEY,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    question TEXT NOT NULL CHECK (length(trim(question)) > 0),
    expert_name TEXT NOT NULL,
    expert_rpps TEXT NOT NULL,
    expert_specialty TEXT NOT NULL,
    expert_email TEXT NOT NULL,
    requester_name TEXT,
    requester_rpps TEXT,
    requester_email TEXT,
    bill_rqd INTEGER NOT NULL DEFAULT 0 CHECK (bill_rqd IN (0, 1)),
    created_at TEXT NOT NULL,
    created_by TEXT NOT NULL
);
CREATE INDEX expertise_requests_session ON expertise_requests (session_id);
CREATE TABLE expertise_material (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES expertise_requests (id),
    kind TEXT NOT NULL CHECK (kind IN ('photo', 'clip', 'measurement')),
    item_id INTEGER NOT NULL,
    UNIQUE (request_id, kind, item_id)
);
CREATE TABLE expertise_links (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES expertise_requests (id),
    token_sha256 TEXT NOT NULL UNIQUE,
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    created_by TEXT NOT NULL,
    delivery_id TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT
);
CREATE INDEX expertise_links_request ON expertise_links (request_id, id);
CREATE TRIGGER expertise_links_fixed BEFORE UPDATE OF id, request_id, token_sha256, created_at,
    expires_at, created_by, delivery_id ON expertise_links
BEGIN SELECT RAISE(ABORT, 'expertise: a link''s token, request and validity are never rewritten');
END;
CREATE TRIGGER expertise_links_final BEFORE UPDATE ON expertise_links
    WHEN OLD.used_at IS NOT NULL OR OLD.revoked_at IS NOT NULL
BEGIN SELECT RAISE(ABORT, 'expertise: a used or revoked link never changes again'); END;
CREATE TABLE expertise_events (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL REFERENCES expertise_requests (id),
    link_id INTEGER REFERENCES expertise_links (id),
    time TEXT NOT NULL,
    type TEXT NOT NULL CHECK (type IN ('created', 'sent', 'opened', 'revoked', 'answered',
                                       'reported')),
    actor TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX expertise_events_request ON expertise_events (request_id, id);
CREATE TABLE expertise_answers (
    id INTEGER PRIMARY KEY,
    request_id TEXT NOT NULL UNIQUE REFERENCES expertise_requests (id),
    link_id INTEGER NOT NULL REFERENCES expertise_links (id),
    answered_at TEXT NOT NULL,
    expert_name TEXT NOT NULL,
    expert_rpps TEXT NOT NULL,
    expert_specialty TEXT NOT NULL,
    conclusion TEXT NOT NULL CHECK (length(trim(conclusion)) > 0),
    prescriptions TEXT NOT NULL,
    billing TEXT NOT NULL
);
CREATE TRIGGER expertise_answers_own_link BEFORE INSERT ON expertise_answers
    WHEN NOT EXISTS (SELECT 1 FROM expertise_links WHERE id = NEW.link_id
                     AND request_id = NEW.request_id)
BEGIN SELECT RAISE(ABORT, 'expertise: an answer comes through one of the request''s links');
END;
""" + "".join(
    _append_only(t)
    for t in ("clips", "expertise_requests", "expertise_material", "expertise_events",
              "expertise_answers")
) + _never_deleted("expertise_links")

# The standalone signaling server (``station serve``, one server for many
# stations). A station is known by its id and the SHA-256 of its secret key
# (never the key); a revoked station stays listed, its id never reused. A
# session (a room) belongs to the first station that claims it, for good.
# Invitations made here for a remote station's session live beside the
# station's own ``invitations`` (which point at local sessions): token digest
# only, and only the use (with the doctor who joined) and the revocation are
# filled in later.
_V7 = """
CREATE TABLE signaling_stations (
    id INTEGER PRIMARY KEY,
    station_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    key_sha256 TEXT NOT NULL,
    created_at TEXT NOT NULL,
    revoked_at TEXT
);
CREATE TRIGGER signaling_stations_fixed BEFORE UPDATE OF id, station_id, key_sha256, created_at
    ON signaling_stations
BEGIN SELECT RAISE(ABORT, 'signaling: a station''s id and key are never rewritten'); END;
CREATE TABLE signaling_sessions (
    session_id TEXT PRIMARY KEY,
    station_id TEXT NOT NULL REFERENCES signaling_stations (station_id),
    claimed_at TEXT NOT NULL
);
CREATE TRIGGER signaling_sessions_no_update BEFORE UPDATE ON signaling_sessions
BEGIN SELECT RAISE(ABORT, 'signaling: a session''s station is never changed'); END;
CREATE TABLE remote_invitations (
    id INTEGER PRIMARY KEY,
    token_sha256 TEXT NOT NULL UNIQUE,
    station_id TEXT NOT NULL REFERENCES signaling_stations (station_id),
    session_id TEXT NOT NULL REFERENCES signaling_sessions (session_id),
    context TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    used_at TEXT,
    revoked_at TEXT,
    doctor_name TEXT,
    doctor_rpps TEXT,
    doctor_specialty TEXT
);
CREATE INDEX remote_invitations_session ON remote_invitations (session_id, id);
CREATE TRIGGER remote_invitations_fixed BEFORE UPDATE OF id, token_sha256, station_id,
    session_id, context, created_at, expires_at ON remote_invitations
BEGIN SELECT RAISE(ABORT, 'invitation: token, session and validity are never rewritten'); END;
""" + _never_deleted("signaling_stations") + _never_deleted("signaling_sessions") \
    + _never_deleted("remote_invitations")

# Short unlock PINs for the app's idle lock (the password still signs in).
# One argon2 hash per login, replaced when the nurse sets a new one; every
# attempt is kept, so the "blocked after 5 failures" rule survives a restart.
_V8 = """
CREATE TABLE pins (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL UNIQUE REFERENCES accounts (login),
    pin_hash TEXT NOT NULL,
    set_at TEXT NOT NULL,
    set_by TEXT NOT NULL
);
CREATE TABLE pin_attempts (
    id INTEGER PRIMARY KEY,
    login TEXT NOT NULL,
    time TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('set', 'success', 'failure', 'blocked', 'no_pin'))
);
CREATE INDEX pin_attempts_login ON pin_attempts (login, id);
""" + _never_deleted("pins") + _append_only("pin_attempts")

# Roles of local accounts (issue 9): what each may do is station/access.py's
# rule; existing accounts were all nurses. The audit key makes the digest of
# a search's criteria irreversible by trying every birth date: a random
# secret of this store, never shown, never leaving it except in its backups.
_V9 = """
ALTER TABLE accounts ADD COLUMN role TEXT NOT NULL DEFAULT 'nurse'
    CHECK (role IN ('nurse', 'technician', 'admin'));
CREATE TABLE audit_keys (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    key BLOB NOT NULL
);
INSERT INTO audit_keys (id, key) VALUES (1, randomblob(32));
""" + _append_only("audit_keys")

# Doctors' socket tickets of the standalone signaling server (``station serve``):
# kept here so that a restart of the server loses no ticket, above all the 2 h
# rejoin ticket a console holds to come back after a drop. Only the SHA-256 of
# a ticket; a redeemed or expired ticket is deleted (it is no clinical fact).
# ``expires_at`` is Unix time in seconds, compared with the wall clock.
_V10 = """
CREATE TABLE signaling_tickets (
    ticket_sha256 TEXT PRIMARY KEY,
    session_id TEXT NOT NULL,
    doctor_name TEXT NOT NULL,
    doctor_rpps TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE INDEX signaling_tickets_expiry ON signaling_tickets (expires_at);
"""

# Doctors' OpenID Connect sign-in on a standalone server: who vouched for the
# doctor of a used invitation (JSON: method, issuer, subject, name; NULL when
# the identity was typed), kept so that a station coming back hears it again.
_V11 = """
ALTER TABLE remote_invitations ADD COLUMN doctor_identity TEXT;
"""

MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "accounts, residents, sessions, clinical facts, audit trail", _V1),
    Migration(2, "exam camera snapshots (lossless files, metadata and hashes)", _V2),
    Migration(3, "one-time invitations of remote doctors (token digests only)", _V3),
    Migration(4, "report versions (immutable once validated)", _V4),
    Migration(5, "outbox: one delivery per recipient, with its history", _V5),
    Migration(6, "télé-expertise requests, expert links and answers; stethoscope clips", _V6),
    Migration(7, "standalone signaling server: station keys (digests), session owners,"
              " remote invitations", _V7),
    Migration(8, "unlock PINs of nurse accounts (argon2 hashes) and their attempts", _V8),
    Migration(9, "roles of local accounts (nurse, technician, admin); key of search digests",
              _V9),
    Migration(10, "doctors' socket tickets of the standalone signaling server (digests)",
              _V10),
    Migration(11, "remote invitations: the doctor's verified identity (OpenID Connect)",
              _V11),
)
LATEST_VERSION = MIGRATIONS[-1].version
