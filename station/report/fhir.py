"""The report as a FHIR R4 ``document`` Bundle, as plain JSON-able dicts.

Entries: Composition (LOINC 85208-7) first, then Patient (French INS
identifier only for a qualified identity), the doctor and the nurse as
Practitioners (doctor: national id ``8`` + RPPS under
``urn:oid:1.2.250.1.71.4.2.1``, the ANS rule, and the bare RPPS under
``http://rpps.fr``), Encounter (class ``VR``), one Consent per traced answer,
vital-sign Observations (LOINC, UCUM) with a blood-pressure panel
(85354-9) grouping each systolic/diastolic pair, and Media for photos
(original PNG embedded) and recordings. Every ``fullUrl`` is a ``urn:uuid``
derived from the report id, so the same version always gives the same ids.

Pure: no store or file access.
"""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from devices.measurement import Kind, display_unit
from station.consent import Act
from station.ins import OID_DEMO_NIR, OID_INS_NIA, OID_INS_NIR, OID_TEST_NIR
from station.report.codes import (
    ACT_TITLES,
    BP_PANEL_DISPLAY,
    BP_PANEL_LOINC,
    KIND_LABELS,
    LOINC_BY_KIND,
    LOINC_SYSTEM,
    REPORT_LOINC,
    REPORT_LOINC_DISPLAY,
    UCUM_SYSTEM,
)
from station.report.content import (
    DocumentInfo,
    MeasurementEntry,
    RecordingEntry,
    ReportContent,
    SnapshotEntry,
)
from station.store.clips import site_label

RPPS_OID_SYSTEM = "urn:oid:1.2.250.1.71.4.2.1"
RPPS_SYSTEM = "http://rpps.fr"
ACT_CODE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
PARTICIPATION_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
MEDIA_TYPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/media-type"
FR_IDENTIFIER_TYPE = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0203"
FR_IDENTITY_RELIABILITY = (
    "https://hl7.fr/ig/fhir/core/StructureDefinition/fr-core-identity-reliability")
FR_IDENTITY_STATUS = "https://hl7.fr/ig/fhir/core/CodeSystem/fr-core-cs-v2-0445"
URI_SYSTEM = "urn:ietf:rfc:3986"
ACCOUNT_SYSTEM = "urn:teleconsultation-station:account"
INS_TYPES = {OID_INS_NIR: "INS-NIR", OID_INS_NIA: "INS-NIA", OID_TEST_NIR: "INS-NIR-TEST",
             OID_DEMO_NIR: "INS-NIR-DEMO"}
STATUS_CODES = {"provisoire": "PROV", "validee": "VALI", "recuperee": "RECUP",
                "qualifiee": "QUAL"}
GENDERS = {"M": "male", "F": "female", "I": "unknown"}
XHTML = "http://www.w3.org/1999/xhtml"


def resource_uuid(report_id: str, name: str) -> str:
    """A stable UUID for one resource of one report version."""
    return str(uuid.uuid5(uuid.UUID(report_id), name))


def _ref(uid: str, display: str | None = None) -> dict[str, Any]:
    ref: dict[str, Any] = {"reference": f"urn:uuid:{uid}"}
    if display:
        ref["display"] = display
    return ref


def _time(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def _narrative(*lines: str) -> dict[str, Any]:
    body = "".join(f"<p>{escape(line)}</p>" for line in lines if line) or "<p>—</p>"
    return {"status": "generated", "div": f'<div xmlns="{XHTML}">{body}</div>'}


def _loinc(code: str, display: str) -> dict[str, Any]:
    return {"system": LOINC_SYSTEM, "code": code, "display": display}


class _Builder:
    def __init__(self, content: ReportContent, info: DocumentInfo,
                 images: Mapping[int, bytes], sounds: Mapping[int, bytes]) -> None:
        self.c = content
        self.info = info
        self.images = images
        self.sounds = sounds
        self.entries: list[dict[str, Any]] = []
        rid = info.report_id
        self.ids = {name: resource_uuid(rid, name) for name in
                    ("composition", "patient", "doctor", "nurse", "encounter", "bundle")}

    def add(self, uid: str, resource: dict[str, Any]) -> None:
        resource["id"] = uid
        self.entries.append({"fullUrl": f"urn:uuid:{uid}", "resource": resource})

    # --- resources ---------------------------------------------------------------------

    def patient(self) -> None:
        r = self.c.resident
        names: list[dict[str, Any]] = [{"use": "official", "family": r.birth_name,
                                         "given": list(r.first_names)}]
        if r.used_name or r.used_first_name:
            names.append({"use": "usual", "family": r.used_name or r.birth_name,
                          "given": [r.used_first_name or r.first_names[0]]})
        patient: dict[str, Any] = {
            "resourceType": "Patient",
            "extension": [{"url": FR_IDENTITY_RELIABILITY, "extension": [{
                "url": "identityStatus",
                "valueCoding": {"system": FR_IDENTITY_STATUS,
                                "code": STATUS_CODES.get(r.status, "PROV"),
                                "display": r.status}}]}],
            "name": names, "gender": GENDERS.get(r.sex, "unknown"),
            "birthDate": r.birth_date.isoformat(),
        }
        if r.ins is not None and r.ins_oid is not None:  # present only when qualified
            patient["identifier"] = [{
                "use": "official",
                "type": {"coding": [{"system": FR_IDENTIFIER_TYPE,
                                     "code": INS_TYPES.get(r.ins_oid, "INS-NIR")}]},
                "system": f"urn:oid:{r.ins_oid}", "value": r.ins}]
        self.add(self.ids["patient"], patient)

    def practitioners(self) -> None:
        n = self.c.nurse
        self.add(self.ids["nurse"], {
            "resourceType": "Practitioner",
            "identifier": [{"use": "secondary", "system": ACCOUNT_SYSTEM, "value": n.login}],
            "name": [{"text": n.name}],
            "qualification": [{"code": {"text": "Infirmier·e diplômé·e d'État"}}],
        })
        d = self.c.doctor
        if d is None:
            return
        doctor: dict[str, Any] = {"resourceType": "Practitioner", "name": [{"text": d.name}]}
        if d.rpps:
            doctor["identifier"] = [
                {"use": "official", "system": RPPS_OID_SYSTEM, "value": f"8{d.rpps}",
                 "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                      "code": "PRN"}], "text": "IDNPS (8 + RPPS)"}},
                {"use": "secondary", "system": RPPS_SYSTEM, "value": d.rpps}]
        if d.specialty:
            doctor["qualification"] = [{"code": {"text": d.specialty}}]
        self.add(self.ids["doctor"], doctor)

    def encounter(self) -> None:
        c = self.c
        period: dict[str, str] = {"start": _time(c.started_at)}
        if c.ended_at is not None:
            period["end"] = _time(c.ended_at)
        participants = [{"type": [{"coding": [{"system": PARTICIPATION_SYSTEM, "code": "PART",
                                               "display": "Participation"}]}],
                         "individual": _ref(self.ids["nurse"], c.nurse.name)}]
        if c.doctor is not None:
            participants.insert(0, {
                "type": [{"coding": [{"system": PARTICIPATION_SYSTEM, "code": "PPRF",
                                      "display": "primary performer"}]}],
                "individual": _ref(self.ids["doctor"], c.doctor.name)})
        self.add(self.ids["encounter"], {
            "resourceType": "Encounter",
            "status": "finished" if c.session_state in ("report", "sent", "stopped")
            else "in-progress",
            "class": {"system": ACT_CODE_SYSTEM, "code": "VR", "display": "virtual"},
            "type": [{"text": ACT_TITLES[c.act]}],
            "subject": _ref(self.ids["patient"]), "participant": participants,
            "period": period,
            "identifier": [{"system": "urn:teleconsultation-station:session",
                            "value": c.session_id}],
        })

    def consents(self) -> list[dict[str, Any]]:
        refs = []
        withdrawn = any(e.decision == "retire" for e in self.c.consents)
        for index, e in enumerate(self.c.consents):
            uid = resource_uuid(self.info.report_id, f"consent/{index}")
            performer = (_ref(self.ids["patient"]) if e.capacity == "resident"
                         else {"display": f"{e.consenting_person} ({e.capacity})"})
            status = "inactive" if e.decision == "retire" or (
                withdrawn and e.decision == "donne") else "active"
            self.add(uid, {
                "resourceType": "Consent",
                "text": _narrative(f"Décision : {e.decision} — qualité : {e.capacity}"
                                   f" — personne : {e.consenting_person or 'le résident'}",
                                   f"Recueilli par {e.recorded_by} le {_time(e.recorded_at)}"
                                   f" pour l'acte {e.act}.", e.note),
                "status": status,
                "scope": {"coding": [{"system":
                                      "http://terminology.hl7.org/CodeSystem/consentscope",
                                      "code": "treatment"}]},
                "category": [{"coding": [_loinc("59284-0", "Patient Consent")]}],
                "patient": _ref(self.ids["patient"]),
                "dateTime": _time(e.recorded_at),
                "performer": [performer],
                "policyRule": {"text": "Code de la santé publique, R.6316-2"},
                "provision": {"type": "permit" if e.decision == "donne" else "deny",
                              "code": [{"text": e.act}]},
            })
            refs.append(_ref(uid))
        return refs

    def observations(self) -> list[dict[str, Any]]:
        refs: list[dict[str, Any]] = []
        pending_systolic: tuple[MeasurementEntry, str] | None = None
        for index, m in enumerate(self.c.measurements):
            uid = resource_uuid(self.info.report_id, f"observation/{index}")
            self.add(uid, self._observation(m))
            refs.append(_ref(uid))
            if m.kind == "systolic":
                pending_systolic = (m, uid)
            elif m.kind == "diastolic" and pending_systolic is not None:
                systolic, systolic_uid = pending_systolic
                if abs((m.time - systolic.time).total_seconds()) <= 5:
                    panel = resource_uuid(self.info.report_id, f"bp-panel/{index}")
                    self.add(panel, self._panel(systolic, m, systolic_uid, uid))
                    refs.append(_ref(panel))
                pending_systolic = None
        return refs

    def _base_observation(self, codes: list[dict[str, Any]], text: str,
                          moment: datetime) -> dict[str, Any]:
        return {
            "resourceType": "Observation", "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs",
                                      "display": "Vital Signs"}]}],
            "code": {"coding": codes, "text": text},
            "subject": _ref(self.ids["patient"]), "encounter": _ref(self.ids["encounter"]),
            "effectiveDateTime": _time(moment),
        }

    def _observation(self, m: MeasurementEntry) -> dict[str, Any]:
        try:
            loinc = [_loinc(c.code, c.display) for c in LOINC_BY_KIND.get(Kind(m.kind), ())]
        except ValueError:
            loinc = []
        obs = self._base_observation(loinc, KIND_LABELS.get(m.kind, m.kind), m.time)
        obs["device"] = {"display": m.device}
        if m.value is not None:
            obs["valueQuantity"] = {"value": m.value, "unit": display_unit(m.unit) or m.unit,
                                    "system": UCUM_SYSTEM, "code": m.unit}
        else:
            obs["dataAbsentReason"] = {"coding": [{
                "system": "http://terminology.hl7.org/CodeSystem/data-absent-reason",
                "code": "error", "display": "Error"}]}
        if m.quality:
            obs["note"] = [{"text": "Qualité signalée par l'appareil : "
                                    + ", ".join(m.quality)}]
        return obs

    def _panel(self, systolic: MeasurementEntry, diastolic: MeasurementEntry,
               systolic_uid: str, diastolic_uid: str) -> dict[str, Any]:
        panel = self._base_observation([_loinc(BP_PANEL_LOINC, BP_PANEL_DISPLAY)],
                                       "Pression artérielle", systolic.time)
        components = []
        for m in (systolic, diastolic):
            code = LOINC_BY_KIND[Kind(m.kind)][0]
            component: dict[str, Any] = {"code": {"coding": [_loinc(code.code, code.display)]}}
            if m.value is not None:
                component["valueQuantity"] = {"value": m.value, "unit": "mmHg",
                                              "system": UCUM_SYSTEM, "code": m.unit}
            else:
                component["dataAbsentReason"] = {"text": "pas de valeur"}
            components.append(component)
        panel["component"] = components
        panel["hasMember"] = [_ref(systolic_uid), _ref(diastolic_uid)]
        return panel

    def media(self) -> list[dict[str, Any]]:
        refs = []
        for s in self.c.snapshots:
            uid = resource_uuid(self.info.report_id, f"media/snapshot/{s.snapshot_id}")
            self.add(uid, self._photo(s))
            refs.append(_ref(uid))
        for r in self.c.recordings:
            uid = resource_uuid(self.info.report_id, f"media/recording/{r.first_chunk_id}")
            self.add(uid, self._recording(r))
            refs.append(_ref(uid))
        return refs

    def _photo(self, s: SnapshotEntry) -> dict[str, Any]:
        content: dict[str, Any] = {"contentType": "image/png", "title": f"{s.exam} — {s.file}",
                                   "creation": _time(s.captured_at)}
        data = self.images.get(s.snapshot_id)
        if data is not None:
            content["data"] = base64.b64encode(data).decode("ascii")
            content["size"] = len(data)
            content["hash"] = _sha1_b64(data)
        else:
            content["url"] = f"media/{s.file}"
        return {
            "resourceType": "Media", "status": "completed",
            "identifier": [{"system": URI_SYSTEM, "value": _ni(s.file_sha256)}],
            "type": {"coding": [{"system": MEDIA_TYPE_SYSTEM, "code": "image",
                                 "display": "Image"}]},
            "modality": {"text": s.exam},
            "subject": _ref(self.ids["patient"]), "encounter": _ref(self.ids["encounter"]),
            "createdDateTime": _time(s.captured_at), "operator": _ref(self.ids["nurse"]),
            "deviceName": s.device, "width": s.width, "height": s.height, "frames": 1,
            "content": content,
        }

    def _recording(self, r: RecordingEntry) -> dict[str, Any]:
        content: dict[str, Any] = {"title": f"{r.kind} — {r.device}",
                                   "creation": _time(r.start)}
        wav = self.sounds.get(r.first_chunk_id)
        if wav is not None:
            content.update({"contentType": "audio/wav", "size": len(wav),
                            "data": base64.b64encode(wav).decode("ascii"),
                            "hash": _sha1_b64(wav)})
        else:
            content["contentType"] = "application/octet-stream"
        media: dict[str, Any] = {
            "resourceType": "Media", "status": "completed",
            "identifier": [{"system": URI_SYSTEM, "value": _ni(r.samples_sha256)}],
            "modality": {"text": KIND_LABELS.get(r.kind, r.kind)},
            "subject": _ref(self.ids["patient"]), "encounter": _ref(self.ids["encounter"]),
            "createdDateTime": _time(r.start), "deviceName": r.device,
            "duration": round(r.duration_s, 3), "content": content,
            "note": [{"text": f"{r.sample_count} échantillons à {r.sample_rate_hz:g} Hz"
                              + (f" (WAV {r.unit}, {site_label(r.site or '')})" if r.clip_id
                                 else f" (float32 little-endian, unité {r.unit})")}],
        }
        if r.is_sound:
            media["type"] = {"coding": [{"system": MEDIA_TYPE_SYSTEM, "code": "audio",
                                         "display": "Audio"}]}
        return media

    def composition(self, sections: list[dict[str, Any]]) -> dict[str, Any]:
        c, info = self.c, self.info
        title = ("Compte rendu de télé-expertise" if c.act is Act.TELE_EXPERTISE
                 else "Compte rendu de téléconsultation")
        author = _ref(self.ids["doctor"], c.doctor.name) if c.doctor \
            else _ref(self.ids["nurse"], c.nurse.name)
        composition: dict[str, Any] = {
            "resourceType": "Composition",
            "meta": {"versionId": str(info.version)},
            "identifier": {"system": URI_SYSTEM, "value": f"urn:uuid:{info.report_id}"},
            "status": "preliminary" if info.is_draft else "final",
            "type": {"coding": [_loinc(REPORT_LOINC, REPORT_LOINC_DISPLAY)],
                     "text": title},
            "subject": _ref(self.ids["patient"], c.resident.display_name),
            "encounter": _ref(self.ids["encounter"]),
            "date": _time(info.validated_at or info.issued_at),
            "author": [author],
            "title": f"{title} — version {info.version}",
            "confidentiality": "R",
            "custodian": {"display": c.station_name},
            "section": sections,
        }
        if not info.is_draft and c.doctor is not None and info.validated_at is not None:
            composition["attester"] = [{"mode": "legal", "time": _time(info.validated_at),
                                        "party": _ref(self.ids["doctor"], c.doctor.name)}]
        if info.replaces_id:
            composition["relatesTo"] = [{"code": "replaces", "targetIdentifier": {
                "system": URI_SYSTEM, "value": f"urn:uuid:{info.replaces_id}"}}]
        return composition


def _sha1_b64(data: bytes) -> str:
    """FHIR R4's Attachment.hash: base64 SHA-1 (an integrity check, not security;
    the SHA-256 is in the Media identifier)."""
    return base64.b64encode(hashlib.sha1(data, usedforsecurity=False).digest()).decode()


def _ni(sha256_hex: str) -> str:
    """An RFC 6920 ``ni`` URI naming content by its SHA-256."""
    digest = base64.urlsafe_b64encode(bytes.fromhex(sha256_hex)).decode().rstrip("=")
    return f"ni:///sha-256;{digest}"


def _section(title: str, code: tuple[str, str] | None, lines: list[str],
             entries: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    section: dict[str, Any] = {"title": title, "text": _narrative(*lines)}
    if code:
        section["code"] = {"coding": [_loinc(*code)]}
    if entries:
        section["entry"] = entries
    return section


def build_bundle(content: ReportContent, info: DocumentInfo,
                 images: Mapping[int, bytes] | None = None,
                 sounds: Mapping[int, bytes] | None = None) -> dict[str, Any]:
    """The FHIR R4 document Bundle of one report version.

    ``images`` maps snapshot ids to their PNG bytes (embedded in Media);
    ``sounds`` maps a recording's first chunk id to a WAV rendering.
    """
    b = _Builder(content, info, images or {}, sounds or {})
    b.patient()
    b.practitioners()
    b.encounter()
    observations = b.observations()
    media = b.media()
    consents = b.consents()
    c = content
    sections = [
        _section("Conclusion", ("55110-1", "Conclusions [Interpretation] Document"),
                 c.conclusion.splitlines() or ["Aucune conclusion rédigée."]),
        _section("Prescriptions et conduite à tenir", ("18776-5", "Plan of care note"),
                 c.prescriptions.splitlines() or ["Aucune prescription."]),
        _section("Constantes", ("8716-3", "Vital signs"),
                 [f"{len(c.measurements)} mesure(s)."], observations),
        _section("Photographies et enregistrements", None,
                 [f"{len(c.snapshots)} photo(s), {len(c.recordings)} enregistrement(s)."],
                 media),
        _section("Consentement", ("59284-0", "Patient Consent"),
                 [f"{e.decision} ({e.capacity}) le {_time(e.recorded_at)}"
                  for e in c.consents] or ["Aucun consentement tracé."], consents),
        _section("Incidents techniques", None,
                 [f"{i.kind} : {_time(i.start)}" + (f" → {_time(i.end)}" if i.end else "")
                  + f" — {i.detail}" for i in c.incidents] or ["Aucun incident."]),
        _section("Cotation", None,
                 [f"{line.code} — {line.label} ({line.role})" for line in c.billing]
                 or ["Aucune cotation."]),
    ]
    composition = b.composition(sections)
    composition["id"] = b.ids["composition"]
    entries = [{"fullUrl": f"urn:uuid:{b.ids['composition']}", "resource": composition},
               *b.entries]
    return {
        "resourceType": "Bundle", "id": b.ids["bundle"],
        "identifier": {"system": URI_SYSTEM, "value": f"urn:uuid:{b.ids['bundle']}"},
        "type": "document", "timestamp": _time(info.validated_at or info.issued_at),
        "entry": entries,
    }
