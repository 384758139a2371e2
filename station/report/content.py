"""What a report says, gathered from the store for one session.

:func:`gather_report` reads the session, its resident, consents, events,
measurements, snapshots, stethoscope clips and waveform records and returns one frozen
:class:`ReportContent`. The PDF and the FHIR bundle are both rendered from
it, and it is stored as JSON with every report version, so a version can be
rendered again byte for byte.

Choices where the rules leave room (documented here once):

* **Act**: the session's act, unless the doctor's latest draft names
  another one (the doctor decides what was done and billed).
* **Times**: the act starts when consent is given (entering the
  examination) and ends when the examination is finished or the session is
  stopped; before that, the last recorded event is the end.
* **INS**: copied only for a *qualifiée* identity
  (:meth:`ResidentIdentity.shareable_ins`); otherwise neither the number
  nor its OID is in the content at all, so no renderer can leak it.
* **Doctor**: the doctor who validates, else the latest ``doctor_joined``.
* **Conclusion, prescriptions, billing**: what the validating doctor gives,
  else the latest ``report_draft``, else empty / the defaults of
  :func:`default_billing`.
* **Incidents**: a ``call_dropped`` is paired with the next
  ``call_restored`` (start and end); any other incident is a moment.
"""

from __future__ import annotations

import hashlib
import json
import math
import types
import typing
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass
from datetime import UTC, date, datetime
from enum import Enum
from typing import Any, TypeVar

from station.clock import from_text
from station.consent import Act
from station.errors import ValidationError
from station.people import Doctor
from station.report.codes import (
    BILLING_LABELS,
    BILLING_ROLES,
    GENERAL_PRACTICE,
    LOINC_BY_KIND,
    allowed_billing,
)
from station.store.accounts import AccountDirectory
from station.store.clips import ClipStore
from station.store.database import Store
from station.store.measurements import MeasurementLog, from_microseconds
from station.store.residents import ResidentRegistry
from station.store.sessions import SessionEvent, SessionRecords

# Waveform kinds recorded from a stethoscope (heart and lung sounds).
SOUND_KINDS = frozenset({"phono", "stethoscope", "heart_sound", "lung_sound", "audio"})


@dataclass(frozen=True, slots=True)
class IdentityBlock:
    """The resident as the report names them. ``ins``/``ins_oid`` only if qualified."""

    resident_id: int
    display_name: str
    birth_name: str
    first_names: tuple[str, ...]
    used_name: str | None
    used_first_name: str | None
    sex: str
    birth_date: date
    birth_place_code: str
    status: str
    flags: tuple[str, ...]
    ins: str | None = None
    ins_oid: str | None = None


@dataclass(frozen=True, slots=True)
class Professional:
    """A professional involved in the act: the nurse (login) or a doctor (RPPS)."""

    role: str  # "nurse" or "doctor"
    name: str
    login: str | None = None
    rpps: str | None = None
    specialty: str | None = None


@dataclass(frozen=True, slots=True)
class ConsentEntry:
    """One traced answer: who, in what capacity, recorded by whom, when, for what."""

    decision: str
    capacity: str
    consenting_person: str
    recorded_by: str
    recorded_at: datetime
    act: str
    note: str


@dataclass(frozen=True, slots=True)
class MeasurementEntry:
    """One measured value with its LOINC codes and UCUM unit; flags kept as they came."""

    kind: str
    value: float | None
    display_value: str
    unit: str
    time: datetime
    device: str
    quality: tuple[str, ...]
    loinc: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class SnapshotEntry:
    """An exam still: its stored file (relative to the media folder) and hashes."""

    snapshot_id: int
    exam: str
    device: str
    captured_at: datetime
    width: int
    height: int
    file: str
    file_sha256: str
    pixels_sha256: str


@dataclass(frozen=True, slots=True)
class RecordingEntry:
    """A recorded signal: a stethoscope clip, or a signal (pleth) from its waveform chunks.

    A clip (``clip_id`` set) is keyed by its negated id in ``first_chunk_id``
    and ``last_chunk_id``, where renderers key recordings, so it never
    collides with a waveform; ``unit`` is then its WAV sample format and
    ``samples_sha256`` the SHA-256 of its WAV file.
    """

    kind: str
    device: str
    start: datetime
    duration_s: float
    sample_rate_hz: float
    sample_count: int
    unit: str
    samples_sha256: str
    is_sound: bool
    first_chunk_id: int
    last_chunk_id: int
    clip_id: int | None = None
    site: str | None = None


@dataclass(frozen=True, slots=True)
class IncidentEntry:
    """A technical incident with its start and, when known, its end."""

    kind: str
    detail: str
    start: datetime
    end: datetime | None
    actor: str


@dataclass(frozen=True, slots=True)
class BillingLine:
    """One billing code, who bills it and what it means."""

    code: str
    role: str
    label: str


@dataclass(frozen=True, slots=True)
class ReportContent:
    """Everything one report says, independent of how it is rendered."""

    session_id: str
    act: Act
    station_name: str
    session_state: str
    started_at: datetime
    ended_at: datetime | None
    resident: IdentityBlock
    nurse: Professional
    doctor: Professional | None
    consents: tuple[ConsentEntry, ...]
    measurements: tuple[MeasurementEntry, ...]
    snapshots: tuple[SnapshotEntry, ...]
    recordings: tuple[RecordingEntry, ...]
    conclusion: str
    prescriptions: str
    incidents: tuple[IncidentEntry, ...]
    billing: tuple[BillingLine, ...]
    draft_revision: int | None = None

    @property
    def duration_s(self) -> float | None:
        """Length of the act in seconds, when it has ended."""
        if self.ended_at is None:
            return None
        return max(0.0, (self.ended_at - self.started_at).total_seconds())

    def to_json(self) -> str:
        """Canonical JSON (sorted keys, UTC ISO times): what a version stores."""
        return json.dumps(_encode(self), ensure_ascii=False, sort_keys=True,
                          separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> ReportContent:
        """Read back :meth:`to_json`."""
        content: ReportContent = _decode(cls, json.loads(text))
        return content


@dataclass(frozen=True, slots=True)
class DocumentInfo:
    """What makes a rendering one document: its id, version, state and validation."""

    report_id: str
    version: int
    state: str  # "draft" (preview) or "validated"
    issued_at: datetime
    replaces_id: str | None = None
    replaces_version: int | None = None
    validated_by: str | None = None
    validated_rpps: str | None = None
    validated_at: datetime | None = None
    reason: str = ""

    @property
    def is_draft(self) -> bool:
        """True for a preview not yet validated by the doctor."""
        return self.state != "validated"


# --- gathering ---------------------------------------------------------------------------


def gather_report(
    store: Store, session_id: str, *, station_name: str = "Station de téléconsultation",
    doctor: Doctor | None = None, conclusion: str | None = None,
    prescriptions: str | None = None, billing: Sequence[str] | None = None,
    nurse_billing: str | None = None,
) -> ReportContent:
    """The report of ``session_id`` as the store holds it now.

    ``doctor``, ``conclusion``, ``prescriptions`` and ``billing`` override
    what the session recorded (the validating doctor's final word);
    ``nurse_billing`` is the station's default nurse code (see
    :func:`default_billing`). Raises :class:`NotFoundError` for an unknown
    session and :class:`ValidationError` (field ``resident``) before
    identification, or (field ``billing``) for codes the act does not allow.
    """
    records = SessionRecords(store)
    row = records.get(session_id)
    if row.resident_id is None:
        raise ValidationError("resident", "report.no_resident", session=session_id)
    events = records.events(session_id)
    draft = _latest(events, "report_draft")
    fields_ = dict(draft.data.get("fields", {})) if draft else {}
    act = _act_from(fields_.get("act"), row.act)
    doctor_entry = _doctor(doctor, _latest(events, "doctor_joined"))
    codes = list(billing) if billing is not None else _draft_codes(fields_.get("billing"))
    if not codes:
        codes = default_billing(act, doctor_entry.specialty if doctor_entry else None,
                                nurse_billing)
    started, ended = _times(events, row.created_at)
    return ReportContent(
        session_id=session_id, act=act, station_name=station_name, session_state=row.state,
        started_at=started, ended_at=ended,
        resident=_identity(store, row.resident_id),
        nurse=_nurse(store, row.nurse_login), doctor=doctor_entry,
        consents=tuple(
            ConsentEntry(c.decision.value, c.capacity.value, c.consenting_person,
                         c.recorded_by, c.recorded_at.astimezone(UTC), c.act.value, c.note)
            for c in records.consents(session_id)),
        measurements=_measurements(store, session_id),
        snapshots=_snapshots(store, session_id),
        recordings=_recordings(store, session_id),
        conclusion=_text(conclusion, fields_.get("conclusion")),
        prescriptions=_text(prescriptions, fields_.get("prescriptions")),
        incidents=_incidents(events),
        billing=billing_lines(act, codes),
        draft_revision=_int_or_none(draft.data.get("revision")) if draft else None,
    )


def is_general_practice(specialty: str | None) -> bool:
    """True for a GP's specialty name (accents, case and spaces ignored)."""
    if not specialty:
        return False
    folded = unicodedata.normalize("NFKD", specialty)
    folded = "".join(c for c in folded if not unicodedata.combining(c))
    return " ".join(folded.lower().split()) in GENERAL_PRACTICE


def default_billing(act: Act, specialty: str | None, nurse_code: str | None = None
                    ) -> list[str]:
    """Billing codes when neither the doctor nor the draft chose any.

    Teleconsultation: ``TCG`` for a GP (or when the specialty is not known,
    as the doctor's console does), ``TC`` for any other specialist; plus the
    station's nurse code if it has one. Nurses employed by the EHPAD do not
    bill TLS/TLL/TLD (their time is in the care package), so no nurse code
    is added unless the station is configured with one (liberal nurses) or
    the doctor picks it. Télé-expertise: ``TE2`` for the expert who answers;
    ``RQD`` belongs to the requesting doctor, who is not the station's user,
    so it is added only when asked for.
    """
    if act is Act.TELE_EXPERTISE:
        return ["TE2"]
    codes = ["TC" if specialty and not is_general_practice(specialty) else "TCG"]
    if nurse_code:
        codes.append(nurse_code)
    return codes


def billing_lines(act: Act, codes: Sequence[str]) -> tuple[BillingLine, ...]:
    """Check ``codes`` against the act and give each its role and label.

    At most one doctor code and one nurse code; unknown or misplaced codes
    raise :class:`ValidationError` (field ``billing``).
    """
    allowed = allowed_billing(act)
    lines: list[BillingLine] = []
    for raw in codes:
        code = raw.strip().upper()
        if code not in allowed:
            raise ValidationError("billing", "report.billing_not_allowed", code=raw,
                                  act=act.value, allowed=", ".join(sorted(allowed)))
        role = BILLING_ROLES[code]
        if any(line.role == role for line in lines):
            raise ValidationError("billing", "report.billing_twice", code=code)
        lines.append(BillingLine(code, role, BILLING_LABELS[code]))
    return tuple(lines)


def _latest(events: list[SessionEvent], event_type: str) -> SessionEvent | None:
    return next((e for e in reversed(events) if e.type == event_type), None)


def _act_from(raw: object, default: Act) -> Act:
    if isinstance(raw, str) and raw.strip():
        value = raw.strip().lower().replace("-", "_").replace("é", "e")
        try:
            return Act(value)
        except ValueError:
            raise ValidationError("act", "report.unknown_act", value=raw) from None
    return default


def _draft_codes(raw: object) -> list[str]:
    if isinstance(raw, list):
        return [str(code) for code in raw if str(code).strip()]
    return []


def _text(override: str | None, draft: object) -> str:
    if override is not None:
        return override.strip()
    return draft.strip() if isinstance(draft, str) else ""


def _int_or_none(value: object) -> int | None:
    return value if isinstance(value, int) else None


def _doctor(given: Doctor | None, joined: SessionEvent | None) -> Professional | None:
    if given is not None:
        return Professional("doctor", given.name, rpps=given.rpps, specialty=given.specialty)
    if joined is None:
        return None
    data = joined.data
    return Professional("doctor", str(data.get("name", "")), rpps=str(data.get("rpps", "")),
                        specialty=str(data.get("specialty", "")) or None)


def _nurse(store: Store, login: str) -> Professional:
    account = AccountDirectory(store).get(login)
    name = account.display_name if account is not None else login
    return Professional("nurse", name, login=login)


def _identity(store: Store, resident_id: int) -> IdentityBlock:
    identity = ResidentRegistry(store).get(resident_id).identity
    shareable = identity.shareable_ins()  # the INS leaves the station only when qualified
    return IdentityBlock(
        resident_id=resident_id, display_name=identity.display_name(),
        birth_name=identity.birth_name, first_names=identity.birth_first_names,
        used_name=identity.used_name, used_first_name=identity.used_first_name,
        sex=identity.sex.value, birth_date=identity.birth_date,
        birth_place_code=identity.birth_place_code, status=identity.status.value,
        flags=tuple(sorted(f.value for f in identity.flags)),
        ins=shareable[0] if shareable else None, ins_oid=shareable[1] if shareable else None,
    )


def _times(events: list[SessionEvent], created: datetime) -> tuple[datetime, datetime | None]:
    start = next((e.time for e in events
                  if e.type == "transition" and e.data.get("state") == "examine"), created)
    end = next((e.time for e in events
                if e.type == "transition" and e.data.get("state") in ("report", "stopped")), None)
    if end is None and events:
        end = events[-1].time
    return start.astimezone(UTC), None if end is None else end.astimezone(UTC)


def _measurements(store: Store, session_id: str) -> tuple[MeasurementEntry, ...]:
    entries = []
    for m in MeasurementLog(store).for_session(session_id):
        codes = tuple(c.code for c in LOINC_BY_KIND.get(m.kind, ()))
        entries.append(MeasurementEntry(
            kind=m.kind.value, value=m.value if m.has_value else None,
            display_value=m.display_value(), unit=m.unit, time=m.time, device=m.device,
            quality=tuple(sorted(q.value for q in m.quality)), loinc=codes))
    return tuple(entries)


def _snapshots(store: Store, session_id: str) -> tuple[SnapshotEntry, ...]:
    rows = store.conn.execute(
        "SELECT id, exam, device, captured_at, width, height, path, file_sha256, pixels_sha256"
        " FROM snapshots WHERE session_id = ? ORDER BY id", (session_id,))
    return tuple(
        SnapshotEntry(r[0], r[1], r[2], from_text(r[3]).astimezone(UTC), r[4], r[5], r[6],
                      r[7], r[8])
        for r in rows)


def _recordings(store: Store, session_id: str) -> tuple[RecordingEntry, ...]:
    """One entry per (signal, device): chunks in order, hashed as stored (float32 LE);
    then one per stethoscope clip (:class:`~station.store.clips.ClipStore`)."""
    rows = store.conn.execute(
        "SELECT id, kind, device, start_us, sample_rate_hz, unit, sample_count, samples"
        " FROM waveform_chunks WHERE session_id = ? ORDER BY id", (session_id,))
    groups: dict[tuple[str, str], list[tuple[Any, ...]]] = {}
    for row in rows:
        groups.setdefault((row[1], row[2]), []).append(tuple(row))
    entries = []
    for (kind, device), chunks in groups.items():
        digest = hashlib.sha256()
        for chunk in chunks:
            digest.update(chunk[7])
        first, last = chunks[0], chunks[-1]
        rate = float(first[4])
        end_us = last[3] + round(last[6] / float(last[4]) * 1_000_000)
        entries.append(RecordingEntry(
            kind=kind, device=device, start=from_microseconds(first[3]),
            duration_s=(end_us - first[3]) / 1_000_000, sample_rate_hz=rate,
            sample_count=sum(c[6] for c in chunks), unit=first[5],
            samples_sha256=digest.hexdigest(), is_sound=kind in SOUND_KINDS,
            first_chunk_id=first[0], last_chunk_id=last[0]))
    for clip in ClipStore(store).for_session(session_id):
        entries.append(RecordingEntry(
            kind="stethoscope", device=clip.device, start=clip.recorded_at.astimezone(UTC),
            duration_s=clip.duration_s, sample_rate_hz=float(clip.sample_rate_hz),
            sample_count=clip.frame_count, unit=clip.sample_format,
            samples_sha256=clip.file_sha256, is_sound=True, first_chunk_id=-clip.id,
            last_chunk_id=-clip.id, clip_id=clip.id, site=clip.site))
    return tuple(entries)


def _incidents(events: list[SessionEvent]) -> tuple[IncidentEntry, ...]:
    incidents: list[IncidentEntry] = []
    open_drop: int | None = None
    for event in events:
        if event.type != "incident":
            continue
        kind = str(event.data.get("kind", ""))
        detail = str(event.data.get("detail", ""))
        when = event.time.astimezone(UTC)
        if kind == "call_restored" and open_drop is not None:
            dropped = incidents[open_drop]
            incidents[open_drop] = IncidentEntry(dropped.kind, dropped.detail, dropped.start,
                                                 when, dropped.actor)
            open_drop = None
            continue
        incidents.append(IncidentEntry(kind, detail, when, None, event.actor))
        if kind == "call_dropped":
            open_drop = len(incidents) - 1
    return tuple(incidents)


# --- JSON codec ----------------------------------------------------------------------------

T = TypeVar("T")


def _encode(value: object) -> Any:  # noqa: PLR0911 - one case per type
    if is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in fields(value)}
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat(timespec="microseconds")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, tuple):
        return [_encode(item) for item in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _decode(kind: Any, raw: Any) -> Any:  # noqa: PLR0911 - one case per type
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):
        if raw is None:
            return None
        (inner,) = [a for a in typing.get_args(kind) if a is not type(None)]
        return _decode(inner, raw)
    if origin is tuple:
        inner = typing.get_args(kind)[0]
        return tuple(_decode(inner, item) for item in raw)
    if isinstance(kind, type) and is_dataclass(kind):
        hints = typing.get_type_hints(kind)
        return kind(**{f.name: _decode(hints[f.name], raw[f.name]) for f in fields(kind)
                       if f.name in raw})
    if kind is datetime:
        return datetime.fromisoformat(raw)
    if kind is date:
        return date.fromisoformat(raw)
    if kind is float:
        return float(raw)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(raw)
    return raw


def elapsed_text(seconds: float) -> str:
    """A duration as people write it: ``14 min 05 s``, ``1 h 02 min``."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


