"""``station demo``: a scripted headless session, end to end, narrated.

Runs against its own store (``<home>/demo``), never the station's real one:
a nurse signs in, finds or creates a resident, records consent, takes
measurements, suffers an incident, finishes, files the report, and the audit
trail is verified. Every step is printed as the session announces it.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from devices.device import DeviceEvent, EventKind
from devices.factory import Simulators, open_device
from devices.manager import DeviceManager
from devices.measurement import Kind, Measurement, WaveformChunk, display_unit
from devices.media import CameraDevice
from station.consent import Act, ConsentCapacity, ConsentDecision
from station.device_bridge import DeviceSessionBridge
from station.device_config import load_devices
from station.errors import SignInError
from station.i18n import format_number, tr
from station.identity import ResidentIdentity, identity_from_input
from station.ins import OID_DEMO_NIR
from station.outbox import Delivery, DeliveryState, Outbox, OutboxConfig, load_outbox_config
from station.outbox.config import config_from_mapping
from station.paths import STORE_FILENAME, station_home
from station.people import Doctor, NurseAccount
from station.report.sending import load_report_recipients, report_recipients, send_report
from station.report.service import ReportService
from station.session import SessionEngine, SessionState
from station.signaling.client_api import (
    SignalingConfig,
    load_signaling_config,
    signaling_config,
)
from station.signaling.tls import load_tls_settings
from station.store import audit
from station.store.accounts import AccountDirectory
from station.store.database import Store
from station.store.reports import ReportVersion
from station.store.residents import Resident, ResidentRegistry
from station.store.sessions import SessionEvent
from station.store.snapshots import SnapshotStore

if TYPE_CHECKING:
    from station.runtime import StationRuntime

DEMO_LOGIN = "demo.ide"
DEMO_PASSWORD = "demo-station"  # noqa: S105 - the demo account's published password
DEMO_DEVICE_URLS = (
    "sim://oximeter-ble", "sim://thermometer-ble", "sim://blood-pressure-ble", "sim://scale-ble",
    "sim://oximeter-serial?protocol=cms50d", "sim://stethoscope", "sim://dermatoscope",
)
EXPECTED_KINDS = {Kind.SPO2, Kind.PULSE_RATE, Kind.BODY_TEMPERATURE, Kind.SYSTOLIC,
                  Kind.DIASTOLIC, Kind.BODY_WEIGHT}
DEMO_DOCTOR = Doctor(name="Dr Élise Moreau", rpps="10001234565", specialty="médecine générale")
EXAM_SECONDS = 30.0
# Overrides the live demo's simulated stethoscope, e.g. sim://stethoscope?signal=tones:
# the known test signals bench/fidelity.py measures at the doctor's ear.
STETHOSCOPE_URL_ENV = "STATION_STETHOSCOPE_URL"
READY_TIMEOUT = 30.0  # the link is handed out once the cameras show pictures


def demo_home() -> Path:
    """Where the demo keeps its own store."""
    return station_home() / "demo"


def demo_identity() -> ResidentIdentity:
    """The demo's sample resident: Marie Dupont, qualified identity, demo INS."""
    return identity_from_input(
        birth_name="Dupont", birth_first_names="Marie Jeanne", sex="F",
        birth_date="1932-04-12", birth_place_code="75056", used_name="Martin",
        ins="232047505601214", ins_oid=OID_DEMO_NIR, status="qualifiee", document="cni",
    )


def demo_resident(registry: ResidentRegistry, say: Callable[[str], None] = print) -> Resident:
    """The sample resident, found in the demo store or created there."""
    identity = demo_identity()
    found = registry.search(identity.birth_date, "dup")
    if found:
        say(tr("demo.resident_found", count=len(found), name=found[0].identity.display_name()))
        return found[0]
    resident = registry.create(identity, DEMO_LOGIN)
    say(tr("demo.resident_created", name=identity.display_name(), id=resident.id))
    return resident


def ensure_demo_account(store: Store) -> AccountDirectory:
    """The demo nurse's account (``demo.ide``, published password), created once."""
    accounts = AccountDirectory(store)
    if accounts.get(DEMO_LOGIN) is None:
        accounts.create(DEMO_LOGIN, "Claire Martin (IDE)", DEMO_PASSWORD, "demo")
    return accounts


class _Narrator:
    """Prints the session as it happens: every step, the first reading of each kind,
    the first waveform chunk, and any flagged value."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self, event: SessionEvent) -> None:
        if event.type == "transition":
            print(tr("demo.event.transition", state=tr(f"state.{event.data['state']}")))
        elif event.type == "incident":
            print(tr("demo.event.incident", kind=event.data["kind"],
                     detail=event.data["detail"]))
        elif event.type == "measurement":
            m: Measurement = event.data["measurement"]
            if m.kind.value in self._seen and not m.quality:
                return
            self._seen.add(m.kind.value)
            flags = ", ".join(sorted(q.value for q in m.quality))
            print(tr("demo.event.measurement", kind=tr(f"kind.{m.kind.value}"),
                     value=format_number(m.display_value()), unit=display_unit(m.unit),
                     device=m.device) + (f" [{flags}]" if flags else ""))
        elif event.type == "waveform" and "waveform" not in self._seen:
            self._seen.add("waveform")
            chunk: WaveformChunk = event.data["chunk"]
            print(tr("demo.event.waveform", kind=tr(f"kind.{chunk.kind.value}"),
                     count=len(chunk.samples), rate=f"{chunk.sample_rate_hz:g}",
                     device=chunk.device))


def _announce_device(event: DeviceEvent) -> None:
    if event.kind is EventKind.CONNECTED:
        print(tr("demo.device_connected", url=event.url, detail=event.detail))


async def _examine(session: SessionEngine, store: Store, seconds: float) -> None:
    """Run the simulated instruments until every vital sign has come in, then
    take a dermatoscope still and stop."""
    simulators = Simulators(advertising_interval_ms=20.0)
    try:
        devices = [await open_device(url, simulators) for url in DEMO_DEVICE_URLS]
        manager = DeviceManager(devices)
        manager.subscribe(_announce_device)
        DeviceSessionBridge(session).attach(manager.subscribe)
        manager.start()
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            kinds = {m.kind for m in session.measurements()}
            if kinds >= EXPECTED_KINDS:
                break
            await asyncio.sleep(0.2)
        camera = next(d for d in devices if isinstance(d, CameraDevice)).camera
        still = await camera.snapshot_async()
        stored = await asyncio.to_thread(SnapshotStore(store).add, session.id, still,
                                         session.nurse.login)
        print(tr("demo.snapshot", exam=stored.exam, width=still.info.width,
                 height=still.info.height, path=str(stored.path)))
        await manager.stop()
    finally:
        await simulators.close()


def _sign_in(store: Store) -> NurseAccount:
    """The demo nurse signs in (after a refused attempt, to show the message)."""
    accounts = ensure_demo_account(store)
    try:
        accounts.sign_in(DEMO_LOGIN, "mot de passe erroné")
    except SignInError as error:
        print(tr("demo.sign_in_refused", reason=error.message))
    nurse = accounts.sign_in(DEMO_LOGIN, DEMO_PASSWORD)
    print(tr("demo.signed_in", name=nurse.display_name))
    return nurse


def _open_session(store: Store) -> SessionEngine:
    """Sign in, find the resident, open a narrated teleconsultation, record consent."""
    nurse = _sign_in(store)
    resident = demo_resident(ResidentRegistry(store))
    session = SessionEngine.start(store, nurse, Act.TELECONSULTATION)
    session.subscribe(_Narrator())
    print(tr("demo.session", id=session.id))
    session.identify(resident)
    session.record_consent(ConsentDecision.GIVEN, ConsentCapacity.RESIDENT,
                           note="informée par l'infirmière, accord oral")
    return session


def _resume_session(store: Store) -> SessionEngine | None:
    """The latest session interrupted while examining (a crash, kill -9), picked up
    again in its stored state with a ``session_resumed`` incident; None if there is none."""
    row = store.conn.execute(
        "SELECT id FROM sessions WHERE state = ? ORDER BY created_at DESC, rowid DESC LIMIT 1",
        (SessionState.EXAMINE.value,)).fetchone()
    if row is None:
        print(tr("demo.resume_none"))
        return None
    session = SessionEngine.resume(store, row[0], _sign_in(store))
    session.subscribe(_Narrator())
    print(tr("demo.resumed", id=session.id))
    return session


def run_demo(fresh: bool = False) -> int:
    """Run the scripted session; returns 0 when everything, audit included, checks out."""
    home = demo_home()
    if fresh and home.exists():
        shutil.rmtree(home)  # demo data only: the real store lives one level up
    with Store.open(home / STORE_FILENAME) as store:
        print(tr("demo.title"))
        print(tr("demo.store", path=str(store.path), version=store.schema_version))
        session = _open_session(store)
        asyncio.run(_examine(session, store, EXAM_SECONDS))
        session.record_incident("call_dropped", tr("demo.incident_detail"))
        session.finish_examination(tr("demo.summary"))
        version = ReportService(store, station_name=tr("demo.station_name")).validate(
            session.id, DEMO_DOCTOR, tr("demo.conclusion"), tr("demo.prescriptions"),
            actor=DEMO_DOCTOR.rpps)
        pdf, fhir = ReportService(store).render_files(version, home / "reports" / session.id)
        print(tr("demo.report_validated", version=version.version, doctor=DEMO_DOCTOR.name,
                 pdf=str(pdf), fhir=str(fhir)))
        deliveries = asyncio.run(_send_report(store, home, session, version))
        for delivery in deliveries:
            print(tr("demo.delivery", recipient=delivery.role or delivery.name or delivery.address,
                     channel=delivery.channel.value, state=delivery.state_label))
        if deliveries and all(d.state is DeliveryState.DELIVERED for d in deliveries):
            session.mark_sent("outbox", version.id)

        result = audit.verify(store.conn)
        status = tr("demo.audit_ok") if result.ok else "; ".join(result.problems)
        print(tr("demo.audit", entries=result.entries, status=status))
        print(tr("demo.done", measurements=len(session.measurements()),
                 events=len(session.events())))
        return 0 if result.ok else 1


def demo_outbox_config(home: Path) -> OutboxConfig:
    """The station's ``[outbox]`` settings, or else, for the demo, a drop folder
    standing in for the EHPAD's record system (``<demo home>/envois``)."""
    configured = load_outbox_config()
    if configured is not None:
        return configured
    folder = home / "envois"
    folder.mkdir(parents=True, exist_ok=True)  # a real drop folder is a share that exists
    return config_from_mapping({"drop_folder": str(folder)})


async def _send_report(store: Store, home: Path, session: SessionEngine,
                       version: ReportVersion) -> list[Delivery]:
    """Queue the validated report for everyone configured and make one sending pass."""
    config = demo_outbox_config(home)
    recipients = report_recipients(config, load_report_recipients())
    when = version.created_at.astimezone().strftime("%d/%m/%Y")
    return await send_report(Outbox(store, config), config, version, session.act.value, when,
                             recipients, actor=session.nurse.login)


def run_live_demo(*, fresh: bool = False, host: str = "127.0.0.1", port: int = 0,
                  simulators: bool = True, link_valid_s: float = 30 * 60,
                  signaling_url: str | None = None, station_id: str | None = None,
                  resume: bool = False) -> int:
    """``station demo --wait-for-doctor``: no window, a live call until SIGINT/SIGTERM.

    With ``resume``, the latest session interrupted while examining (the
    station killed during a call) is picked up where it was instead of
    opening a new one; a new session opens if there is none.

    Prepares the session as the scripted demo does, starts the station
    runtime, prints ``DOCTOR-LINK <url>`` on a line of its own and keeps
    streaming; once the doctor is connected, one dermatoscope still is taken
    and sent. Returns 0 after a clean shutdown.

    The embedded signaling server is used unless ``signaling_url`` (or the
    ``[signaling]`` section of ``station.toml``) names a ``station serve``;
    the station id falls back to ``station.toml``, the key comes from
    ``STATION_SIGNALING_KEY`` or ``station.toml``. ``STATION_STETHOSCOPE_URL``
    replaces the simulated stethoscope's URL (test signals, see
    ``docs/stethoscope-fidelity.md``).
    """
    from station.call.loopback import allow_loopback_candidates  # noqa: PLC0415 - aiortc
    from station.runtime import DEVICE_URLS, StationRuntime  # noqa: PLC0415 - live call only

    if host in ("127.0.0.1", "localhost"):
        allow_loopback_candidates()  # doctor and station on one machine (tests, demo)
    remote = _remote_signaling(signaling_url, station_id)  # refused before anything starts
    home = demo_home()
    if fresh and home.exists():
        shutil.rmtree(home)
    store = Store.open(home / STORE_FILENAME)
    print(tr("demo.title"))
    print(tr("demo.store", path=str(store.path), version=store.schema_version))
    urls: list[str] = list(DEVICE_URLS)
    if not simulators:  # the cart's configured instruments (devices.toml)
        urls = [entry.url for entry in load_devices()[0] if not entry.url.startswith("sim://")]
    elif stethoscope := os.environ.get(STETHOSCOPE_URL_ENV):
        urls = [stethoscope if url.startswith("sim://stethoscope") else url for url in urls]
    session = (_resume_session(store) if resume else None) or _open_session(store)
    return asyncio.run(_serve_live(StationRuntime(
        store, host=host, port=port, device_urls=urls, simulators=simulators, say=print,
        outbox_config=demo_outbox_config(home), recipients=load_report_recipients(),
        signaling_url=remote.url if remote else None,
        station_id=remote.station_id if remote else None,
        station_key=remote.key if remote else None,
        signaling_ca_file=remote.ca_file if remote else None),
        session, timedelta(seconds=link_valid_s)))


def _remote_signaling(url: str | None, station_id: str | None) -> SignalingConfig | None:
    """The remote signaling server's settings, or None for the embedded server."""
    configured = load_signaling_config()
    if url is None:
        return configured
    return signaling_config(url, station_id or (configured.station_id if configured else None),
                            configured.key if configured else None,
                            ca_file=load_tls_settings().ca_file)  # [signaling] ca_file


async def _serve_live(runtime: StationRuntime, session: SessionEngine,
                      link_valid: timedelta) -> int:
    from station.signaling.runner import survive_broken_pipes  # noqa: PLC0415 - aiohttp

    survive_broken_pipes()  # a doctor's browser closing mid-write must not kill the station
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await runtime.start(session)
        await runtime.wait_cameras_ready(READY_TIMEOUT)
        url = await runtime.create_link(link_valid)
        print(tr("demo.live.waiting"))
        print(f"DOCTOR-LINK {url}", flush=True)
        runtime.snapshot_when_connected("dermatoscope", delay=3.0)
        await stop.wait()
        print(tr("demo.live.stopping"))
    finally:
        await runtime.stop(tr("demo.live.stopped_detail"))
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
    return 0
