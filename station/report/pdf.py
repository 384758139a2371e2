"""The report as a French, A4, paginated PDF that reads like a clinical document.

Pure: content, document info and image bytes in, PDF bytes out (no file or
store access). Rendering is deterministic (reportlab's ``invariant`` mode):
the same content gives the same bytes, so a stored version can be checked by
rendering it again. Helvetica is used: its WinAnsi encoding covers French
(accents, œ, «», the middle dot of « infirmier·e ») and needs no embedding.

Photos are downscaled and re-encoded as JPEG for the page only; the
lossless originals stay in the store and in the FHIR bundle.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from datetime import date, datetime, tzinfo
from typing import Any
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import cv2
import numpy as np
from reportlab.lib import colors  # type: ignore[import-untyped]
from reportlab.lib.enums import TA_LEFT  # type: ignore[import-untyped]
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.styles import ParagraphStyle  # type: ignore[import-untyped]
from reportlab.lib.units import mm  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]
from reportlab.platypus import (  # type: ignore[import-untyped]
    Image,
    KeepTogether,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from devices.measurement import Kind, display_unit
from station.consent import Act
from station.ins import OID_DEMO_NIR, OID_INS_NIA, OID_INS_NIR, OID_TEST_NIR
from station.report.codes import ACT_TITLES, KIND_LABELS, LOINC_BY_KIND
from station.report.content import (
    DocumentInfo,
    MeasurementEntry,
    ReportContent,
    SnapshotEntry,
    elapsed_text,
)
from station.store.clips import site_label

try:
    LOCAL_TIME: tzinfo = ZoneInfo("Europe/Paris")
except ZoneInfoNotFoundError:  # pragma: no cover - no tz database: show UTC, say so
    from datetime import UTC as LOCAL_TIME

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 18 * mm
CONTENT_WIDTH = PAGE_WIDTH - 2 * MARGIN
PHOTO_MAX_PX = 1400  # enough for a page at ~200 dpi; the original stays lossless elsewhere
INK = colors.HexColor("#1f2933")
ACCENT = colors.HexColor("#1c4e80")
RULE = colors.HexColor("#9aa5b1")
SHADE = colors.HexColor("#eef2f6")
WARN = colors.HexColor("#a61b1b")

STATUS_LABELS = {"provisoire": "Identité provisoire", "validee": "Identité validée",
                 "recuperee": "Identité récupérée", "qualifiee": "Identité qualifiée"}
OID_LABELS = {OID_INS_NIR: "INS-NIR", OID_INS_NIA: "INS-NIA", OID_TEST_NIR: "NIR de test",
              OID_DEMO_NIR: "NIR de démonstration"}
SEX_LABELS = {"M": "Masculin", "F": "Féminin", "I": "Indéterminé"}
FLAG_LABELS = {"douteuse": "identité douteuse", "fictive": "identité fictive",
               "homonyme": "homonyme", "doublon_potentiel": "doublon potentiel"}
DECISION_LABELS = {"donne": "Consentement donné", "refuse": "Refus",
                   "retire": "Retrait du consentement"}
CAPACITY_LABELS = {"resident": "Le résident lui-même", "personne_de_confiance":
                   "Personne de confiance", "representant_legal": "Représentant légal",
                   "famille": "Famille ou proche"}
QUALITY_LABELS = {
    "implausible": "invraisemblable", "finger_out": "doigt hors capteur",
    "searching": "recherche du signal", "low_perfusion": "perfusion faible",
    "artifact": "artefact", "sensor_fault": "défaut du capteur", "motion": "mouvement",
    "cuff_loose": "brassard mal ajusté", "irregular_pulse": "pouls irrégulier",
    "improper_position": "position incorrecte", "not_a_number": "pas de valeur",
    "out_of_range": "hors plage", "clock_not_set": "horloge de l'appareil non réglée",
    "early_estimate": "estimation précoce", "validated": "validée",
}
INCIDENT_LABELS = {"call_dropped": "Appel interrompu", "call_restored": "Appel rétabli",
                   "device_lost": "Appareil perdu", "device_unavailable": "Appareil indisponible",
                   "device_unreadable": "Flux illisible d'un appareil",
                   "video_stopped": "Vidéo coupée (liaison trop faible)",
                   "video_resumed": "Vidéo rétablie",
                   "session_resumed": "Séance reprise après interruption",
                   "relay_refused": "Relais TURN : identifiants refusés",
                   "relay_unreachable": "Relais TURN injoignable",
                   "station_stopped": "Arrêt de la station"}
ROLE_LABELS = {"doctor": "Médecin", "requesting_doctor": "Médecin requérant",
               "nurse": "Infirmier·e"}
ACT_VALUES = frozenset(a.value for a in Act)
EXAM_LABELS = {"otoscope": "Otoscope", "dermatoscope": "Dermatoscope",
               "room": "Caméra de la chambre"}


def document_title(act: Act) -> str:
    """The document's title for its act."""
    if act is Act.TELE_EXPERTISE:
        return "Compte rendu de télé-expertise"
    return "Compte rendu de téléconsultation"


def _styles() -> dict[str, ParagraphStyle]:
    base = ParagraphStyle("base", fontName="Helvetica", fontSize=9.5, leading=12.5,
                          textColor=INK, alignment=TA_LEFT)
    return {
        "body": base,
        "small": ParagraphStyle("small", parent=base, fontSize=8, leading=10),
        "cell": ParagraphStyle("cell", parent=base, fontSize=8.5, leading=10.5),
        "title": ParagraphStyle("title", parent=base, fontName="Helvetica-Bold", fontSize=17,
                                leading=21, textColor=ACCENT, spaceAfter=2),
        "subtitle": ParagraphStyle("subtitle", parent=base, fontSize=10, leading=13,
                                   spaceAfter=6),
        "h2": ParagraphStyle("h2", parent=base, fontName="Helvetica-Bold", fontSize=11.5,
                             leading=14, textColor=ACCENT, spaceBefore=10, spaceAfter=4,
                             keepWithNext=1),
        "warn": ParagraphStyle("warn", parent=base, fontName="Helvetica-Bold", textColor=WARN),
        "caption": ParagraphStyle("caption", parent=base, fontSize=8, leading=10,
                                  textColor=colors.HexColor("#52606d"), spaceAfter=6),
    }


def local(moment: datetime) -> datetime:
    """A stored UTC time as read in the EHPAD (Europe/Paris)."""
    return moment.astimezone(LOCAL_TIME)


def fmt_datetime(moment: datetime | None) -> str:
    """``23/11/2026 à 10:05`` in local time; ``—`` when unknown."""
    return "—" if moment is None else local(moment).strftime("%d/%m/%Y à %H:%M")


def fmt_time(moment: datetime | None) -> str:
    """``10:05:12`` in local time."""
    return "—" if moment is None else local(moment).strftime("%H:%M:%S")


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text).replace("\n", "<br/>"), style)


def _number(text: str) -> str:
    return text.replace(".", ",")


class _Renderer:
    """Builds the flowables of one report."""

    def __init__(self, content: ReportContent, info: DocumentInfo,
                 images: Mapping[int, bytes]) -> None:
        self.c = content
        self.info = info
        self.images = images
        self.s = _styles()
        self.story: list[Any] = []

    # --- building blocks -----------------------------------------------------------

    def heading(self, text: str) -> None:
        self.story.append(Paragraph(escape(text), self.s["h2"]))

    def table(self, rows: list[list[str]], widths: list[float], header: bool = True,
              label_column: bool = False) -> Table:
        cell = self.s["cell"]
        data = [[_p(value, cell) for value in row] for row in rows]
        table = Table(data, colWidths=widths, repeatRows=1 if header else 0, hAlign="LEFT")
        style: list[tuple[Any, ...]] = [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("LINEBELOW", (0, 0), (-1, -1), 0.25, RULE),
            ("TOPPADDING", (0, 0), (-1, -1), 2.5), ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
            ("LEFTPADDING", (0, 0), (-1, -1), 4), ("RIGHTPADDING", (0, 0), (-1, -1), 4),
        ]
        if header:
            style += [("BACKGROUND", (0, 0), (-1, 0), SHADE),
                      ("LINEBELOW", (0, 0), (-1, 0), 0.75, ACCENT)]
            for col in range(len(widths)):
                data[0][col] = Paragraph(f"<b>{escape(rows[0][col])}</b>", cell)
        if label_column:
            style.append(("BACKGROUND", (0, 0), (0, -1), SHADE))
            for row_index, row in enumerate(rows):
                data[row_index][0] = Paragraph(f"<b>{escape(row[0])}</b>", cell)
        table.setStyle(TableStyle(style))
        self.story.append(table)
        return table

    # --- sections ------------------------------------------------------------------

    def build(self) -> list[Any]:
        self.title()
        self.facts()
        self.patient()
        self.professionals()
        self.conclusion()
        self.measurements()
        self.photos()
        self.recordings()
        self.consent()
        self.incidents()
        self.billing()
        self.validation()
        return self.story

    def title(self) -> None:
        self.story.append(Paragraph(escape(document_title(self.c.act)), self.s["title"]))
        line = f"Version {self.info.version}"
        if self.info.replaces_version is not None:
            line += (f" — corrige et remplace la version {self.info.replaces_version}"
                     f" (document {self.info.replaces_id})")
        self.story.append(_p(line, self.s["subtitle"]))
        if self.info.reason:
            self.story.append(_p(f"Motif de la correction : {self.info.reason}",
                                 self.s["body"]))
        if self.info.is_draft:
            self.story.append(_p("PROJET — non validé par le médecin, sans valeur de compte"
                                 " rendu.", self.s["warn"]))

    def facts(self) -> None:
        c = self.c
        duration = "en cours" if c.duration_s is None else elapsed_text(c.duration_s)
        end = "—" if c.ended_at is None else fmt_time(c.ended_at)[:5]
        rows = [
            ["Acte", ACT_TITLES[c.act]],
            ["Date", local(c.started_at).strftime("%d/%m/%Y")],
            ["Horaires", f"de {fmt_time(c.started_at)[:5]} à {end} (heure de Paris)"],
            ["Durée", duration],
            ["Lieu", c.station_name],
            ["Référence de la séance", c.session_id],
        ]
        self.table(rows, [45 * mm, CONTENT_WIDTH - 45 * mm], header=False, label_column=True)

    def patient(self) -> None:
        r = self.c.resident
        self.heading("Patient")
        status = STATUS_LABELS.get(r.status, r.status)
        if r.ins is not None and r.ins_oid is not None:
            ins = (f"{r.ins[:1]} {r.ins[1:3]} {r.ins[3:5]} {r.ins[5:7]} {r.ins[7:10]}"
                   f" {r.ins[10:13]} {r.ins[13:]} — {OID_LABELS.get(r.ins_oid, 'INS')}"
                   f" (OID {r.ins_oid})")
        else:
            ins = "Non communiqué : l'INS n'est transmis que pour une identité qualifiée."
        age = _age(r.birth_date, local(self.c.started_at).date())
        rows = [
            ["Nom de naissance", r.birth_name],
            ["Prénom(s) de naissance", " ".join(r.first_names)],
            ["Nom utilisé", r.used_name or "—"],
            ["Prénom utilisé", r.used_first_name or r.first_names[0]],
            ["Sexe", SEX_LABELS.get(r.sex, r.sex)],
            ["Date de naissance", f"{r.birth_date:%d/%m/%Y} ({age} ans)"],
            ["Lieu de naissance (INSEE)", r.birth_place_code],
            ["Statut de l'identité", status],
            ["Matricule INS", ins],
        ]
        if r.flags:
            rows.append(["Attributs", ", ".join(FLAG_LABELS.get(f, f) for f in r.flags)])
        self.table(rows, [45 * mm, CONTENT_WIDTH - 45 * mm], header=False, label_column=True)

    def professionals(self) -> None:
        self.heading("Professionnels")
        rows = [["Rôle", "Nom", "Identifiant", "Spécialité"]]
        n = self.c.nurse
        rows.append(["Infirmier·e accompagnant·e", n.name, f"compte {n.login}", "—"])
        d = self.c.doctor
        if d is not None:
            label = "Médecin expert (requis)" if self.c.act is Act.TELE_EXPERTISE else \
                "Médecin téléconsultant"
            rows.append([label, d.name, f"RPPS {d.rpps}", d.specialty or "—"])
        else:
            rows.append(["Médecin", "non renseigné", "—", "—"])
        self.table(rows, [42 * mm, 50 * mm, 40 * mm, CONTENT_WIDTH - 132 * mm])

    def conclusion(self) -> None:
        self.heading("Conclusion du médecin")
        self.story.append(_p(self.c.conclusion or "Aucune conclusion rédigée.", self.s["body"]))
        self.heading("Prescriptions et conduite à tenir")
        self.story.append(_p(self.c.prescriptions or "Aucune prescription.", self.s["body"]))

    def measurements(self) -> None:
        self.heading("Constantes mesurées")
        entries = self.c.measurements
        if not entries:
            self.story.append(_p("Aucune mesure au cours de l'acte.", self.s["body"]))
            return
        rows = [["Mesure", "Dernière valeur", "Unité", "Heure", "Nombre / étendue", "Qualité",
                 "LOINC"]]
        by_kind: dict[str, list[MeasurementEntry]] = {}
        for entry in entries:
            by_kind.setdefault(entry.kind, []).append(entry)
        for kind, items in by_kind.items():
            valid = [m for m in items if m.value is not None and not m.quality]
            shown = valid[-1] if valid else items[-1]
            values = [m.value for m in items if m.value is not None]
            span = (f"{len(items)} ; {_number(f'{min(values):g}')}–{_number(f'{max(values):g}')}"
                    if len(values) > 1 else str(len(items)))
            flagged = sum(1 for m in items if m.quality)
            quality = ", ".join(QUALITY_LABELS.get(q, q) for q in shown.quality) or "conforme"
            if flagged:
                quality += f" ({flagged} valeur(s) signalée(s))"
            rows.append([KIND_LABELS.get(kind, kind), _number(shown.display_value),
                         display_unit(shown.unit), fmt_time(shown.time), span, quality,
                         _loinc_text(kind)])
        self.table(rows, [34 * mm, 20 * mm, 13 * mm, 17 * mm, 24 * mm, 34 * mm,
                          CONTENT_WIDTH - 142 * mm])
        self.story.append(Spacer(1, 2 * mm))
        self.story.append(_p("Détail des mesures (valeurs signalées conservées telles que"
                             " reçues)", self.s["small"]))
        detail = [["Heure", "Mesure", "Valeur", "Unité", "Qualité", "Appareil"]]
        for m in entries:
            detail.append([fmt_time(m.time), KIND_LABELS.get(m.kind, m.kind),
                           _number(m.display_value), display_unit(m.unit),
                           ", ".join(QUALITY_LABELS.get(q, q) for q in m.quality) or "conforme",
                           m.device])
        self.table(detail, [17 * mm, 38 * mm, 17 * mm, 14 * mm, 38 * mm,
                            CONTENT_WIDTH - 124 * mm])

    def photos(self) -> None:
        if not self.c.snapshots:
            return
        self.heading("Photographies")
        for index, snapshot in enumerate(self.c.snapshots, start=1):
            self.story.append(KeepTogether(self._photo(index, snapshot)))

    def _photo(self, index: int, s: SnapshotEntry) -> list[Any]:
        caption = (f"Photo {index} — {EXAM_LABELS.get(s.exam, s.exam)} — prise le"
                   f" {fmt_datetime(s.captured_at)} — {s.width} × {s.height} px (original sans"
                   f" perte) — SHA-256 {s.file_sha256[:12]}…{s.file_sha256[-6:]}")
        data = self.images.get(s.snapshot_id)
        if data is None:
            return [_p(caption + " — image non disponible.", self.s["warn"])]
        jpeg, width, height = _page_jpeg(data)
        box_w, box_h = CONTENT_WIDTH, 105 * mm
        scale = min(box_w / width, box_h / height)
        image = Image(io.BytesIO(jpeg), width=width * scale, height=height * scale)
        image.hAlign = "LEFT"
        return [image, Spacer(1, 1.5 * mm), _p(caption, self.s["caption"])]

    def recordings(self) -> None:
        if not self.c.recordings:
            return
        self.heading("Enregistrements (stéthoscope et signaux)")
        rows = [["Signal", "Début", "Durée", "Échantillons", "Appareil", "SHA-256"]]
        for r in self.c.recordings:
            label = "Stéthoscope (son)" if r.is_sound else KIND_LABELS.get(r.kind, r.kind)
            label += f" — {site_label(r.site)}" if r.site else ""
            rows.append([label, fmt_time(r.start), f"{_number(f'{r.duration_s:.1f}')} s",
                         f"{r.sample_count} à {_number(f'{r.sample_rate_hz:g}')} Hz", r.device,
                         f"{r.samples_sha256[:12]}…"])
        self.table(rows, [32 * mm, 17 * mm, 15 * mm, 32 * mm, 45 * mm,
                          CONTENT_WIDTH - 141 * mm])

    def consent(self) -> None:
        self.heading("Consentement")
        if not self.c.consents:
            self.story.append(_p("Aucun consentement tracé.", self.s["warn"]))
            return
        rows = [["Décision", "Donné par", "Recueilli par", "Date", "Acte / remarque"]]
        for entry in self.c.consents:
            who = CAPACITY_LABELS.get(entry.capacity, entry.capacity)
            if entry.consenting_person:
                who += f" : {entry.consenting_person}"
            act = ACT_TITLES[Act(entry.act)] if entry.act in ACT_VALUES else entry.act
            recorder = (f"{self.c.nurse.name} ({entry.recorded_by})"
                        if entry.recorded_by == self.c.nurse.login else entry.recorded_by)
            rows.append([DECISION_LABELS.get(entry.decision, entry.decision), who, recorder,
                         fmt_datetime(entry.recorded_at),
                         act + (f" — {entry.note}" if entry.note else "")])
        self.table(rows, [30 * mm, 36 * mm, 36 * mm, 28 * mm, CONTENT_WIDTH - 130 * mm])

    def incidents(self) -> None:
        self.heading("Incidents techniques")
        if not self.c.incidents:
            self.story.append(_p("Aucun incident technique.", self.s["body"]))
            return
        rows = [["Incident", "Début", "Fin", "Détail"]]
        for i in self.c.incidents:
            rows.append([INCIDENT_LABELS.get(i.kind, i.kind.replace("_", " ")),
                         fmt_time(i.start), fmt_time(i.end) if i.end else "—", i.detail])
        self.table(rows, [36 * mm, 18 * mm, 18 * mm, CONTENT_WIDTH - 72 * mm])

    def billing(self) -> None:
        self.heading("Cotation")
        if not self.c.billing:
            self.story.append(_p("Aucune cotation.", self.s["body"]))
            return
        rows = [["Code", "Libellé", "Facturé par"]]
        rows += [[b.code, b.label, ROLE_LABELS.get(b.role, b.role)] for b in self.c.billing]
        self.table(rows, [16 * mm, CONTENT_WIDTH - 56 * mm, 40 * mm])

    def validation(self) -> None:
        self.heading("Validation")
        info = self.info
        if info.is_draft:
            text = "Projet non validé : ce document n'est pas un compte rendu."
            self.story.append(_p(text, self.s["warn"]))
            return
        who = info.validated_by or "—"
        if info.validated_rpps:
            who += f" (RPPS {info.validated_rpps})"
        self.story.append(_p(f"Compte rendu validé par {who}, le {fmt_datetime(info.validated_at)}"
                             " (heure de Paris).", self.s["body"]))
        self.story.append(_p(
            f"Document {info.report_id}, version {info.version}. Une version validée n'est"
            " jamais modifiée : toute correction fait l'objet d'une nouvelle version qui la"
            " remplace. Conservé dans le dossier du résident (20 ans après le dernier"
            " passage).", self.s["small"]))


def _loinc_text(kind: str) -> str:
    try:
        codes = LOINC_BY_KIND.get(Kind(kind), ())
    except ValueError:
        return "—"
    text = " + ".join(c.code for c in codes) or "—"
    if kind in ("systolic", "diastolic"):
        text += " (panel 85354-9)"
    return text


def _page_jpeg(png: bytes) -> tuple[bytes, int, int]:
    """Decode a stored still, shrink it to page size, encode it as JPEG."""
    image = cv2.imdecode(np.frombuffer(png, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None:
        raise ValueError("snapshot bytes are not an image")
    height, width = image.shape[:2]
    factor = min(1.0, PHOTO_MAX_PX / max(width, height))
    if factor < 1.0:
        image = cv2.resize(image, (round(width * factor), round(height * factor)),
                           interpolation=cv2.INTER_AREA)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, 88])
    if not ok:
        raise ValueError("could not encode the snapshot for the page")
    return bytes(encoded.tobytes()), int(width), int(height)


def _numbered_canvas(footer_left: str) -> type[Any]:
    """A canvas class that writes « page X / Y » once the page count is known."""

    class NumberedCanvas(Canvas):  # type: ignore[misc]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict[str, Any]] = []

        def showPage(self) -> None:  # noqa: N802 - reportlab's name
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                self._footer(total)
                super().showPage()
            super().save()

        def _footer(self, total: int) -> None:
            self.saveState()
            self.setStrokeColor(RULE)
            self.setLineWidth(0.5)
            self.line(MARGIN, 14 * mm, PAGE_WIDTH - MARGIN, 14 * mm)
            self.setFont("Helvetica", 7.5)
            self.setFillColor(INK)
            self.drawString(MARGIN, 10 * mm, footer_left)
            self.drawCentredString(PAGE_WIDTH / 2, 6.5 * mm,
                                   "Confidentiel — données de santé à caractère personnel")
            self.drawRightString(PAGE_WIDTH - MARGIN, 10 * mm,
                                 f"page {self._pageNumber} / {total}")
            self.restoreState()

    return NumberedCanvas


def render_pdf(content: ReportContent, info: DocumentInfo,
               images: Mapping[int, bytes] | None = None) -> bytes:
    """The report as PDF bytes. ``images`` maps snapshot ids to their stored PNG bytes."""
    buffer = io.BytesIO()
    title = document_title(content.act)
    header_right = title + (" — PROJET" if info.is_draft else "")

    def header(canvas: Any, _doc: Any) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica-Bold", 9)
        canvas.setFillColor(ACCENT)
        canvas.drawString(MARGIN, PAGE_HEIGHT - 12 * mm, content.station_name)
        canvas.setFont("Helvetica", 9)
        canvas.setFillColor(INK)
        canvas.drawRightString(PAGE_WIDTH - MARGIN, PAGE_HEIGHT - 12 * mm, header_right)
        canvas.setFont("Helvetica", 7.5)
        canvas.drawString(MARGIN, PAGE_HEIGHT - 16 * mm,
                          f"Patient : {content.resident.display_name} — né(e) le"
                          f" {content.resident.birth_date:%d/%m/%Y}")
        canvas.drawRightString(PAGE_WIDTH - MARGIN, PAGE_HEIGHT - 16 * mm,
                               f"Acte du {local(content.started_at):%d/%m/%Y}")
        canvas.setStrokeColor(ACCENT)
        canvas.setLineWidth(0.8)
        canvas.line(MARGIN, PAGE_HEIGHT - 18 * mm, PAGE_WIDTH - MARGIN, PAGE_HEIGHT - 18 * mm)
        canvas.restoreState()

    doc = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=24 * mm,
        bottomMargin=20 * mm, title=f"{title} — {content.resident.display_name}",
        author=content.doctor.name if content.doctor else content.station_name,
        subject=f"Document {info.report_id} version {info.version}",
        creator="teleconsultation-station", invariant=1, pageCompression=1, lang="fr-FR",
    )
    story = _Renderer(content, info, images or {}).build()
    footer_left = f"Document {info.report_id} — version {info.version}" + (
        f" (remplace la version {info.replaces_version})" if info.replaces_version else "")
    doc.build(story, onFirstPage=header, onLaterPages=header,
              canvasmaker=_numbered_canvas(footer_left))
    return buffer.getvalue()
