"""The report service: preview, validate, correct, list and export report versions.

Validation is allowed once the examination is finished (session in
``report`` or ``sent``), or when the act was stopped by a withdrawal of
consent (what was done until then must still be reported). A session has one
chain of versions: the first is validated with :meth:`ReportService.validate`,
each later one is a :meth:`ReportService.correct`\\ ion of the latest.
"""

from __future__ import annotations

import io
import json
import uuid
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from station.access import Principal, read_session
from station.clock import Clock, utc_now
from station.errors import SessionStateError, StoreError, ValidationError
from station.i18n import tr
from station.people import Doctor
from station.report.content import DocumentInfo, RecordingEntry, ReportContent, gather_report
from station.report.fhir import build_bundle
from station.report.pdf import render_pdf
from station.store.clips import ClipStore
from station.store.database import Store
from station.store.reports import ReportRecords, ReportVersion, sha256_hex
from station.store.sessions import SessionRecords

REPORT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:teleconsultation-station:report")
_VALIDATABLE = frozenset({"report", "sent"})


def report_id_for(session_id: str, version: int) -> str:
    """The stable id of a session's report version (a UUID)."""
    return str(uuid.uuid5(REPORT_NAMESPACE, f"{session_id}/{version}"))


@dataclass(frozen=True, slots=True)
class RenderedReport:
    """A rendering not (yet) stored: content, document info, PDF and FHIR bytes."""

    content: ReportContent
    info: DocumentInfo
    pdf: bytes
    fhir: bytes


class ReportService:
    """Builds, validates and keeps a session's report versions.

    ``station_name`` heads every page; ``nurse_billing`` is the nurse code
    added by default (``None`` for EHPAD-employed nurses, see
    :func:`~station.report.content.default_billing`).
    """

    def __init__(self, store: Store, *, station_name: str | None = None,
                 nurse_billing: str | None = None, clock: Clock = utc_now) -> None:
        self._store = store
        self._records = ReportRecords(store)
        self.station_name = station_name or tr("report.station_default")
        self.nurse_billing = nurse_billing
        self._clock = clock

    # --- reading -------------------------------------------------------------------

    def latest(self, session_id: str) -> ReportVersion | None:
        """The current version of the session's report, or None."""
        return self._records.latest(session_id)

    def history(self, session_id: str) -> list[ReportVersion]:
        """Every version, oldest first."""
        return self._records.history(session_id)

    def get(self, report_id: str) -> ReportVersion:
        """One version by id."""
        return self._records.get(report_id)

    def open_for(self, session_id: str, actor: Principal,
                 what: str = "report") -> ReportVersion | None:
        """The current version, for a person to read (``report show|export``):
        AccessDeniedError for a role without clinical access, and the read is
        audited (who, the session, its resident, ``what``, the version's id)."""
        latest = self._records.latest(session_id)
        read_session(self._store, actor, session_id, what,
                     report=latest.id if latest else None)
        return latest

    @staticmethod
    def content_of(version: ReportVersion) -> ReportContent:
        """The content a version was rendered from."""
        return ReportContent.from_json(version.content_json)

    # --- writing -------------------------------------------------------------------

    def preview(self, session_id: str, doctor: Doctor | None = None,
                conclusion: str | None = None, prescriptions: str | None = None,
                billing: Sequence[str] | None = None) -> RenderedReport:
        """Render the next version as it stands, marked as a draft; nothing is stored."""
        content = self._gather(session_id, doctor, conclusion, prescriptions, billing)
        version = self._records.next_version(session_id)
        latest = self._records.latest(session_id)
        info = DocumentInfo(report_id_for(session_id, version), version, "draft",
                            self._clock(), replaces_id=latest.id if latest else None,
                            replaces_version=latest.version if latest else None)
        return self._render(content, info)

    def validate(self, session_id: str, doctor: Doctor | None = None,
                 conclusion: str | None = None, prescriptions: str | None = None,
                 billing: Sequence[str] | None = None, *,
                 actor: str | None = None) -> ReportVersion:
        """The doctor validates the report: version 1 is rendered, stored and audited.

        Unset arguments come from the session (the latest draft, the doctor
        who joined). Raises :class:`SessionStateError` before the examination
        is finished or when a version already exists (correct it instead).
        """
        self._check_state(session_id)
        if self._records.latest(session_id) is not None:
            raise SessionStateError("report.already_validated", session=session_id)
        content = self._gather(session_id, doctor, conclusion, prescriptions, billing)
        return self._store_version(content, 1, None, None, "", actor)

    def correct(self, report_id: str, doctor: Doctor | None = None,
                conclusion: str | None = None, prescriptions: str | None = None,
                billing: Sequence[str] | None = None, *, reason: str = "",
                actor: str | None = None) -> ReportVersion:
        """A new version replacing ``report_id`` (which must be the latest).

        Unset fields keep what the replaced version said; the session's
        current data (identity, measurements...) is gathered again, so a
        correction also carries, for instance, an identity qualified since.
        """
        previous = self._records.get(report_id)
        latest = self._records.latest(previous.session_id)
        if latest is None or latest.id != previous.id:
            raise SessionStateError("report.not_latest", id=report_id,
                                    latest=latest.version if latest else 0)
        self._check_state(previous.session_id)
        before = self.content_of(previous)
        if doctor is None and before.doctor is not None and before.doctor.rpps:
            doctor = Doctor(before.doctor.name, before.doctor.rpps,
                            before.doctor.specialty or "?")
        content = self._gather(
            previous.session_id, doctor,
            before.conclusion if conclusion is None else conclusion,
            before.prescriptions if prescriptions is None else prescriptions,
            [line.code for line in before.billing] if billing is None else billing)
        return self._store_version(content, previous.version + 1, previous.id,
                                   previous.version, reason.strip(), actor)

    def render_files(self, version: ReportVersion, folder: Path | str) -> tuple[Path, Path]:
        """Write ``compte-rendu-v<N>.pdf`` and ``compte-rendu-v<N>.fhir.json`` (stored bytes)."""
        if not version.intact():
            raise StoreError("report.altered", id=version.id)
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        pdf = folder / f"compte-rendu-v{version.version}.pdf"
        fhir = folder / f"compte-rendu-v{version.version}.fhir.json"
        pdf.write_bytes(version.pdf)
        fhir.write_bytes(version.fhir)
        return pdf, fhir

    # --- internals -----------------------------------------------------------------

    def _check_state(self, session_id: str) -> None:
        row = SessionRecords(self._store).get(session_id)
        withdrawn = row.state == "stopped" and row.stop_reason == "consent_withdrawn"
        if row.state not in _VALIDATABLE and not withdrawn:
            raise SessionStateError("report.not_finished", state=row.state)

    def _gather(self, session_id: str, doctor: Doctor | None, conclusion: str | None,
                prescriptions: str | None, billing: Sequence[str] | None) -> ReportContent:
        return gather_report(self._store, session_id, station_name=self.station_name,
                             doctor=doctor, conclusion=conclusion, prescriptions=prescriptions,
                             billing=billing, nurse_billing=self.nurse_billing)

    def _store_version(self, content: ReportContent, number: int, replaces_id: str | None,
                       replaces_version: int | None, reason: str,
                       actor: str | None) -> ReportVersion:
        doctor = content.doctor
        if doctor is None or not doctor.rpps:
            raise ValidationError("doctor_name", "report.no_doctor")
        now = self._clock()
        info = DocumentInfo(report_id_for(content.session_id, number), number, "validated",
                            now, replaces_id=replaces_id, replaces_version=replaces_version,
                            validated_by=doctor.name, validated_rpps=doctor.rpps,
                            validated_at=now, reason=reason)
        rendered = self._render(content, info)
        content_json = content.to_json()
        return self._records.add_validated(ReportVersion(
            id=info.report_id, session_id=content.session_id, version=number,
            replaces_id=replaces_id, state="validated", created_at=now,
            created_by=actor or f"rpps:{doctor.rpps}", content_json=content_json,
            content_sha256=sha256_hex(content_json.encode()), pdf=rendered.pdf,
            pdf_sha256=sha256_hex(rendered.pdf), fhir=rendered.fhir,
            fhir_sha256=sha256_hex(rendered.fhir), validated_by=doctor.name,
            validated_rpps=doctor.rpps, validated_at=now, reason=reason))

    def _render(self, content: ReportContent, info: DocumentInfo) -> RenderedReport:
        images = self._images(content)
        sounds = {r.first_chunk_id: self._wav(r) for r in content.recordings if r.is_sound}
        pdf = render_pdf(content, info, images)
        bundle = build_bundle(content, info, images, sounds)
        fhir = json.dumps(bundle, ensure_ascii=False, indent=1).encode("utf-8")
        return RenderedReport(content, info, pdf, fhir)

    def _images(self, content: ReportContent) -> dict[int, bytes]:
        """The stored stills, each checked against the hash recorded with it."""
        media = self._store.path.parent / "media"
        images = {}
        for snapshot in content.snapshots:
            path = media / snapshot.file
            data = path.read_bytes() if path.exists() else b""
            if sha256_hex(data) != snapshot.file_sha256:
                raise StoreError("snapshot.altered", id=snapshot.snapshot_id, path=str(path))
            images[snapshot.snapshot_id] = data
        return images

    def _wav(self, recording: RecordingEntry) -> bytes:
        """A stethoscope clip's stored WAV (hash checked), or a recording as 16-bit PCM
        WAV from its float32 chunks."""
        if recording.clip_id is not None:
            return ClipStore(self._store).read(recording.clip_id)
        rows = self._store.conn.execute(
            "SELECT samples FROM waveform_chunks WHERE kind = ? AND device = ?"
            " AND id BETWEEN ? AND ? ORDER BY id",
            (recording.kind, recording.device, recording.first_chunk_id,
             recording.last_chunk_id))
        samples = np.concatenate([np.frombuffer(blob, dtype="<f4") for (blob,) in rows]
                                 or [np.zeros(0, dtype="<f4")])
        pcm = (np.clip(samples, -1.0, 1.0) * 32767).round().astype("<i2")
        out = io.BytesIO()
        with wave.open(out, "wb") as wav:
            wav.setnchannels(1)
            wav.setsampwidth(2)
            wav.setframerate(round(recording.sample_rate_hz))
            wav.writeframes(pcm.tobytes())
        return out.getvalue()
