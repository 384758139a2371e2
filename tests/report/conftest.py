"""A real finished session in a real store: the material every report test reads."""

from __future__ import annotations

import base64
import re
import zlib
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pytest

from devices.camera.frame import ExamKind
from devices.camera.snapshot import Snapshot
from devices.measurement import Kind, Measurement, Quality, WaveformChunk
from station.consent import ConsentCapacity, ConsentDecision
from station.people import NurseAccount
from station.session import SessionEngine
from station.signaling.invitations import Invitations
from station.store.database import Store
from station.store.residents import Resident
from station.store.sessions import SessionRecords
from station.store.snapshots import SnapshotStore
from tests.conftest import FakeClock

DOCTOR_RPPS = "10001234565"


@dataclass
class FinishedSession:
    """What the fixture built, for the tests to compare against."""

    engine: SessionEngine
    store: Store
    resident: Resident


def _vitals(clock: FakeClock) -> list[Measurement]:
    t = clock.now
    return [
        Measurement(Kind.SPO2, 96.0, "%", t, "sim://oximeter-ble"),
        Measurement(Kind.SPO2, 71.0, "%", t + timedelta(seconds=1), "sim://oximeter-ble",
                    frozenset({Quality.IMPLAUSIBLE, Quality.MOTION})),
        Measurement(Kind.PULSE_RATE, 72.0, "/min", t, "sim://oximeter-ble"),
        Measurement(Kind.BODY_TEMPERATURE, 37.6, "Cel", t, "sim://thermometer-ble",
                    decimals=1),
        Measurement(Kind.SYSTOLIC, 132.0, "mm[Hg]", t, "sim://blood-pressure-ble"),
        Measurement(Kind.DIASTOLIC, 78.0, "mm[Hg]", t, "sim://blood-pressure-ble"),
        Measurement(Kind.BODY_WEIGHT, 58.4, "kg", t, "sim://scale-ble", decimals=1),
    ]


def run_session(store: Store, nurse: NurseAccount, resident: Resident, clock: FakeClock,
                *, draft: bool = True, doctor: bool = True,
                image: np.ndarray | None = None) -> SessionEngine:
    """A teleconsultation through every step the report reads."""
    engine = SessionEngine.start(store, nurse, clock=clock)
    engine.identify(resident)
    clock.advance(seconds=30)
    engine.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT,
                          note="informée, accord oral")
    if doctor:
        token, _ = Invitations(store, clock=clock).create(engine.id)
        clock.advance(seconds=40)
        Invitations(store, clock=clock).join(token, "Dr Élise Moreau", DOCTOR_RPPS,
                                             "médecine générale")
    clock.advance(seconds=60)
    engine.add_measurements(_vitals(clock))
    engine.add_waveform(WaveformChunk(Kind.PLETH, clock.now, 60.0,
                                      tuple(float(i % 30) for i in range(120)), "1",
                                      "sim://oximeter-serial"))
    if image is None:
        image = np.random.default_rng(7).integers(0, 255, (240, 320, 3), dtype=np.uint8)
    SnapshotStore(store).add(engine.id, Snapshot.create(image, "sim://dermatoscope",
                                                        ExamKind.DERMATOSCOPE, clock.now),
                             nurse.login)
    clock.advance(seconds=120)
    engine.record_incident("call_dropped", "connexion perdue (4G)", actor="call")
    clock.advance(seconds=12)
    engine.record_incident("call_restored", "appel rétabli", actor="call")
    if draft:
        SessionRecords(store).record_event(
            engine.id, "report_draft", clock.now, f"rpps:{DOCTOR_RPPS}",
            {"revision": 3, "author": "doctor", "fields": {
                "conclusion": "Érythème du talon droit, sans signe d'infection.\n"
                              "État général conservé.",
                "prescriptions": "Soins locaux <pansement hydrocolloïde> & surveillance"
                                 " quotidienne.",
                "act": "teleconsultation", "billing": ["TCG", "TLS"]}})
    clock.advance(seconds=300)
    engine.finish_examination("examen terminé")
    return engine


@pytest.fixture
def finished(store: Store, nurse: NurseAccount, resident: Resident,
             clock: FakeClock) -> FinishedSession:
    return FinishedSession(run_session(store, nurse, resident, clock), store, resident)


# --- reading PDFs without a PDF library ------------------------------------------------

_STREAM = re.compile(rb"<<(.*?)>>\s*stream\r?\n(.*?)endstream", re.S)
_STRING = re.compile(rb"\((?:\\.|[^\\)])*\)")


def pdf_pages(pdf: bytes) -> int:
    """Page objects in the file (``/Type /Page``, not ``/Pages``)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", pdf))


def _unescape(literal: bytes) -> str:
    body = literal[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c == 0x5C and i + 1 < len(body):  # backslash
            n = body[i + 1]
            if 0x30 <= n <= 0x37:
                digits = re.match(rb"[0-7]{1,3}", body[i + 1:i + 4])
                assert digits is not None
                out.append(int(digits.group(), 8))
                i += 1 + len(digits.group())
                continue
            out.append({ord("n"): 10, ord("r"): 13, ord("t"): 9}.get(n, n))
            i += 2
            continue
        out.append(c)
        i += 1
    return out.decode("cp1252")


def pdf_text(pdf: bytes) -> str:
    """Every string shown on the pages, inflated and decoded (WinAnsi), in order."""
    chunks = []
    for header, raw in _STREAM.findall(pdf):
        data = raw
        if b"/Subtype /Image" in header or b"/Subtype/Image" in header:
            continue
        if b"ASCII85Decode" in header:
            text = data.strip()
            data = base64.a85decode(text if text.startswith(b"<~") else b"<~" + text,
                                    adobe=True)
        if b"FlateDecode" in header:
            data = zlib.decompress(data)
        chunks.extend(_unescape(s) for s in _STRING.findall(data))
    return "".join(chunks)
