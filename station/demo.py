"""``station demo``: a scripted headless session, end to end, narrated.

Runs against its own store (``<home>/demo``), never the station's real one:
a nurse signs in, finds or creates a resident, records consent, takes
measurements, suffers an incident, finishes, files the report, and the audit
trail is verified. Every step is printed as the session announces it.
"""

from __future__ import annotations

import math
import shutil
from datetime import timedelta
from pathlib import Path

from devices.measurement import Kind, Measurement, WaveformChunk, display_unit
from station.clock import utc_now
from station.consent import Act, ConsentCapacity, ConsentDecision
from station.errors import SignInError
from station.i18n import format_number, tr
from station.identity import identity_from_input
from station.ins import OID_DEMO_NIR
from station.paths import STORE_FILENAME, station_home
from station.session import SessionEngine
from station.store import audit
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.residents import Resident, ResidentRegistry
from station.store.sessions import SessionEvent

DEMO_LOGIN = "demo.ide"
DEMO_PASSWORD = "demo-station"  # noqa: S105 - the demo account's published password
DEMO_DEVICE = "demo://scripted"


def demo_home() -> Path:
    """Where the demo keeps its own store."""
    return station_home() / "demo"


def _demo_resident(registry: ResidentRegistry) -> Resident:
    identity = identity_from_input(
        birth_name="Dupont", birth_first_names="Marie Jeanne", sex="F",
        birth_date="1932-04-12", birth_place_code="75056", used_name="Martin",
        ins="232047505601214", ins_oid=OID_DEMO_NIR, status="qualifiee", document="cni",
    )
    found = registry.search(identity.birth_date, "dup")
    if found:
        print(tr("demo.resident_found", count=len(found), name=found[0].identity.display_name()))
        return found[0]
    resident = registry.create(identity, DEMO_LOGIN)
    print(tr("demo.resident_created", name=identity.display_name(), id=resident.id))
    return resident


def _narrate(event: SessionEvent) -> None:
    if event.type == "transition":
        print(tr("demo.event.transition", state=tr(f"state.{event.data['state']}")))
    elif event.type == "incident":
        print(tr("demo.event.incident", kind=event.data["kind"], detail=event.data["detail"]))
    elif event.type == "measurement":
        m: Measurement = event.data["measurement"]
        print(tr("demo.event.measurement", kind=tr(f"kind.{m.kind.value}"),
                 value=format_number(m.display_value()), unit=display_unit(m.unit)))
    elif event.type == "waveform":
        chunk: WaveformChunk = event.data["chunk"]
        print(tr("demo.event.waveform", kind=tr(f"kind.{chunk.kind.value}"),
                 count=len(chunk.samples), rate=f"{chunk.sample_rate_hz:g}"))


def _vitals() -> list[Measurement]:
    now = utc_now()
    values = [
        (Kind.SPO2, 97.0, "%", 0), (Kind.PULSE_RATE, 72.0, "/min", 0),
        (Kind.BODY_TEMPERATURE, 37.2, "Cel", 1), (Kind.SYSTOLIC, 132.0, "mm[Hg]", 0),
        (Kind.DIASTOLIC, 78.0, "mm[Hg]", 0), (Kind.BODY_WEIGHT, 61.4, "kg", 1),
    ]
    return [Measurement(kind, value, unit, now + timedelta(seconds=i), DEMO_DEVICE,
                        decimals=decimals)
            for i, (kind, value, unit, decimals) in enumerate(values)]


def _pleth() -> WaveformChunk:
    rate = 75.0
    samples = tuple(50 + 40 * math.sin(2 * math.pi * 1.2 * i / rate) ** 3 for i in range(150))
    return WaveformChunk(Kind.PLETH, utc_now(), rate, samples, "1", DEMO_DEVICE)


def run_demo(fresh: bool = False) -> int:
    """Run the scripted session; returns 0 when everything, audit included, checks out."""
    home = demo_home()
    if fresh and home.exists():
        shutil.rmtree(home)  # demo data only: the real store lives one level up
    with Store.open(home / STORE_FILENAME) as store:
        print(tr("demo.title"))
        print(tr("demo.store", path=str(store.path), version=store.schema_version))
        accounts = AccountDirectory(store)
        if accounts.get(DEMO_LOGIN) is None:
            accounts.create(DEMO_LOGIN, "Claire Martin (IDE)", DEMO_PASSWORD, "demo")
        try:
            accounts.sign_in(DEMO_LOGIN, "mot de passe erroné")
        except SignInError as error:
            print(tr("demo.sign_in_refused", reason=error.message))
        nurse = accounts.sign_in(DEMO_LOGIN, DEMO_PASSWORD)
        print(tr("demo.signed_in", name=nurse.display_name))

        resident = _demo_resident(ResidentRegistry(store))
        session = SessionEngine.start(store, nurse, Act.TELECONSULTATION)
        session.subscribe(_narrate)
        print(tr("demo.session", id=session.id))
        session.identify(resident)
        session.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT,
                               note="informée par l'infirmière, accord oral")
        for measurement in _vitals():
            session.add_measurement(measurement)
        session.add_waveform(_pleth())
        session.record_incident("call_dropped", tr("demo.incident_detail"))
        session.finish_examination(tr("demo.summary"))
        report = _write_report(home, session)
        session.mark_sent("outbox", str(report))
        print(tr("demo.report", path=str(report)))

        result = audit.verify(store.conn)
        status = tr("demo.audit_ok") if result.ok else "; ".join(result.problems)
        print(tr("demo.audit", entries=result.entries, status=status))
        print(tr("demo.done", measurements=len(session.measurements()),
                 events=len(session.events())))
        return 0 if result.ok else 1


def _write_report(home: Path, session: SessionEngine) -> Path:
    """A plain-text summary, until the real report (PDF, FHIR) exists."""
    assert session.resident is not None
    identity = session.resident.identity
    lines = [
        tr("report.title"),
        f"{tr('report.resident')} : {identity.display_name()}"
        f" — {identity.birth_date.strftime('%d/%m/%Y')}",
        f"{tr('report.nurse')} : {session.nurse.display_name}",
        "",
    ]
    lines += [f"  {tr(f'kind.{m.kind.value}')} : {format_number(m.display_value())}"
              f" {display_unit(m.unit)}"
              for m in session.measurements()]
    lines += ["", tr("report.events")]
    lines += [f"  {e.time:%H:%M:%S} {e.type} {e.data}" for e in session.events()]
    outbox = home / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / f"{session.id}.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path
