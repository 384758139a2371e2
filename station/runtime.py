"""The running station: devices, signaling server and live call of one session, on one loop.

:class:`StationRuntime` wires parts that are tested on their own: the
simulators (or real drivers) under a :class:`~devices.manager.DeviceManager`,
the embedded signaling server, and for the current session the
:class:`~station.device_bridge.DeviceSessionBridge`, a
:class:`~station.call.peer.StationCall` fed by the cameras and the
stethoscope, and the :class:`~station.call.signaling.SignalingClient` to the
station's own server. What the doctor sees of the measurements is what the
session has stored: values are forwarded once recorded.

Given a remote signaling server (``signaling_url``, ``station_id``,
``station_key``: a standalone ``station serve``), no server is started: the
link is asked of that server, and the doctor who joins there is recorded
here when the server says so (``doctor-joined``).

Call incidents become session incidents (``call_dropped``,
``call_restored``); the doctor's report drafts are stored at once as
``report_draft`` events; snapshots are stored before they are sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from aiortc import RTCIceServer

from devices.audio.block import SAMPLE_RATE, AudioBlock
from devices.audio.playback import Speaker, open_speaker
from devices.device import Device, DeviceEvent, EventKind
from devices.errors import DeviceError
from devices.factory import SIM_CAMERAS, Simulators, open_device
from devices.manager import DeviceManager
from devices.measurement import Kind, Measurement
from devices.media import CameraDevice, StethoscopeDevice
from devices.urls import DeviceUrl, parse_device_url
from station.call import (
    AudioOnlyChanged,
    CallEvent,
    CallState,
    CameraTrack,
    ControlReceived,
    LinkPolicy,
    RemoteTrack,
    ReportDraftReceived,
    ReportValidationRequested,
    SignalingClient,
    StateChanged,
    StationCall,
    StethoscopeTrack,
    TrackHub,
)
from station.call.voice import DoctorVoice
from station.clock import from_text, utc_now
from station.device_bridge import DeviceSessionBridge
from station.errors import StationError
from station.i18n import format_number, tr
from station.logsafe import log_failure
from station.oidc_config import load_oidc_config
from station.outbox import Outbox, OutboxConfig, OutboxWorker, Recipient
from station.report.sending import (
    queue_unqueued_reports,
    report_delivered,
    report_recipients,
    send_report,
    settle_sent_sessions,
)
from station.report.service import ReportService
from station.session import SessionEngine, SessionState
from station.signaling.client_api import (
    InvitationClient,
    RemoteServerError,
    SignalingConfig,
    record_doctor_joined,
    signaling_config,
)
from station.signaling.invitations import DEFAULT_TTL
from station.signaling.runner import RunningServer, start_embedded
from station.store.database import Store
from station.store.measurements import MeasurementLog, from_microseconds
from station.store.sessions import SessionEvent, SessionRecords
from station.store.snapshots import SnapshotStore, StoredSnapshot
from station.turn_config import TurnConfig, load_turn_config
from station.turn_relay import TurnRelayError, check_relay, first_turn_url, station_credential
from station.turn_relay import station_ice_servers as with_relay

log = logging.getLogger(__name__)

DEVICE_URLS = (
    "sim://oximeter-ble", "sim://thermometer-ble", "sim://blood-pressure-ble", "sim://scale-ble",
    "sim://oximeter-serial?protocol=cms50d", "sim://stethoscope", "sim://room-camera",
    "sim://otoscope", "sim://dermatoscope",
)
EXAMS = ("otoscope", "dermatoscope")
VIDEO_SIZE = (1280, 720)  # sent resolution; snapshots keep the camera's full resolution
PHONO_BIN = 240  # 48 kHz / 240 = 200 Hz envelope
PHONO_BLOCKS = 5  # one phono message per 100 ms
HISTORY_LIMIT = 200
EXAM_ANNOUNCE_DELAY = 1.0  # seconds after connecting
CAMERA_POLL = 0.1  # seconds between checks of a camera that is not running yet
CAMERA_WAIT = 30.0  # longest wait for a camera to run before a snapshot
REVOKE_TIMEOUT = 5.0  # seconds for revoking a remote server's unused links at stop

Say = Callable[[str], None]


def _in_video_mode(url: str) -> str:
    """A simulated camera films in the mode the call sends (a real one is set to
    the nearest mode the same way); stills keep the full sensor resolution."""
    parsed = parse_device_url(url)
    if parsed.scheme != "sim" or parsed.target not in SIM_CAMERAS or parsed.option("video"):
        return url
    width, height = VIDEO_SIZE
    return str(DeviceUrl(parsed.scheme, parsed.target,
                         {**parsed.options, "video": f"{width}x{height}"}))


def _age(born: date, today: date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _quiet(_: str) -> None:
    return None


class StationRuntime:
    """Devices, signaling server and the call of one session, run on the current loop.

    ``await start(session)`` opens the devices and the server and prepares
    the call; ``invite()`` makes the doctor's one-time link;
    ``take_snapshot(exam)`` stores and sends a still; ``await stop()`` ends
    everything and records that the station stopped. ``say`` receives
    progress lines for the nurse (in the current language).
    """

    def __init__(self, store: Store, *, host: str = "127.0.0.1", port: int = 0,
                 device_urls: Sequence[str] = DEVICE_URLS, simulators: bool = True,
                 ice_servers: Sequence[RTCIceServer] = (), station_name: str | None = None,
                 public_url: str = "", say: Say = _quiet, owns_store: bool = True,
                 outbox_config: OutboxConfig | None = None,
                 recipients: Sequence[Recipient] = (), signaling_url: str | None = None,
                 station_id: str | None = None, station_key: str | None = None,
                 turn: TurnConfig | None = None,
                 signaling_ca_file: Path | None = None) -> None:
        self.store = store
        # The TURN relay ([turn] of station.toml unless given), for both sides of calls.
        self.turn = turn
        # A remote (standalone) signaling server, or None for the embedded one.
        self.signaling: SignalingConfig | None = signaling_config(
            signaling_url, station_id, station_key,
            ca_file=signaling_ca_file) if signaling_url else None
        self._remote_links: list[int] = []
        self.host = host
        self.port = port
        self.device_urls = tuple(device_urls)
        self.ice_servers = list(ice_servers)
        self.station_name = station_name or tr("runtime.station_name")
        self.public_url = public_url
        self.say = say
        self._owns_store = owns_store
        self.outbox_config = outbox_config
        self.speaker_url = "audio://default"
        self.doctor_voice: DoctorVoice | None = None  # its ``level`` shows the doctor speaking
        self._speaker: Speaker | None = None
        self._speaker_missing = False
        self._doctor_heard = False
        self._announced_doctors: set[tuple[Any, ...]] = set()
        self.outbox = Outbox(store, outbox_config)
        self.recipients = report_recipients(outbox_config, recipients)
        self.simulators = Simulators(advertising_interval_ms=20.0) if simulators else None
        self.devices: dict[str, Device] = {}
        self.manager: DeviceManager | None = None
        self.server: RunningServer | None = None
        self.session: SessionEngine | None = None
        self.call: StationCall | None = None
        self.client: SignalingClient | None = None
        self.hub = TrackHub()
        self.snapshots = SnapshotStore(store)
        self.records = SessionRecords(store)
        self.exam = "otoscope"
        self._exam_tracks: dict[str, CameraTrack] = {}
        self._tracks: list[Any] = []
        self._unsubscribe: list[Callable[[], None]] = []
        self._client_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._phono: list[float] = []
        self._phono_start: datetime | None = None
        self._dropped_at: datetime | None = None
        self._video_stopped_at: datetime | None = None
        self._connected_once = asyncio.Event()
        self._stopped = False

    # --- starting ------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The signaling server's URL (the embedded one's once bound)."""
        if self.signaling is not None:
            return self.signaling.url
        if self.server is None:
            raise RuntimeError("the runtime is not started")
        return self.server.url

    async def start(self, session: SessionEngine) -> None:
        """Open the devices and the server, build the call of ``session`` and connect it."""
        self.session = session
        for url in map(_in_video_mode, self.device_urls):
            self.devices[url] = await open_device(url, self.simulators)
        self.manager = DeviceManager(self.devices.values())
        self._unsubscribe.append(self.manager.subscribe(self._on_device_event))
        self._unsubscribe.append(DeviceSessionBridge(session).attach(self.manager.subscribe))
        self._unsubscribe.append(session.subscribe(self._on_session_event))
        browser_ice = [{"urls": server.urls, "username": server.username,
                        "credential": server.credential} for server in self.ice_servers]
        self.turn = self.turn or load_turn_config()
        if self.signaling is None:
            self.server = await start_embedded(self.store, host=self.host, port=self.port,
                                               public_url=self.public_url,
                                               ice_servers=browser_ice, turn=self.turn,
                                               oidc=load_oidc_config())  # [oidc], if any
            self.say(tr("runtime.server", url=self.server.url))
            if self.server.certificate is not None and self.server.certificate.local:
                self.say(tr("tls.local_certificate", path=str(self.server.certificate.cert_file)))
        else:
            self.say(tr("signaling.remote_server", url=self.signaling.url,
                        station=self.signaling.station_id))
        # Each new peer connection mints its own relay credential (see station.turn_relay).
        self.call = StationCall(self._sources(), hub=self.hub, ice_servers=lambda: with_relay(
                                    self.ice_servers, self.turn, session.id),
                                context=self.context(), link_policy=LinkPolicy())
        self.call.subscribe(self._on_call_event)
        measurements = MeasurementLog(self.store)
        self.call.missed_measurements = lambda after: measurements.after(session.id, after)
        self.manager.start()
        credential = (self.signaling.credential if self.signaling is not None
                      else self.server.station_key if self.server is not None else "")
        # WSS to the embedded server (its own certificate) or to the remote one.
        tls = (self.signaling.tls() if self.signaling is not None
               else self.server.client_tls if self.server is not None else None)
        self.client = SignalingClient(self.url, session.id, credential, self.call,
                                      on_doctor_joined=self._on_doctor_joined, tls=tls)
        self._client_task = asyncio.create_task(self.client.run(), name="signaling client")
        if self.turn is not None:
            self._spawn(self._check_relay(self.turn, session), "TURN relay check")
        if self.outbox_config is not None:  # retries of anything still unsent, this one's too
            # A report validated just before a crash was never queued: queue it now.
            queue_unqueued_reports(self.store, self.outbox, self.recipients)
            worker = OutboxWorker(self.outbox, self.outbox_config, poll_s=5.0)
            self._spawn(worker.run(after_delivery=self._settle_sent), "outbox worker")

    async def wait_cameras_ready(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` s) until every camera delivers frames, so a doctor
        who opens the link at once sees pictures; False if one is still not ready."""
        cameras = [d.camera for d in self.devices.values() if isinstance(d, CameraDevice)]
        try:
            async with asyncio.timeout(timeout):
                while not all(camera.running and camera.latest is not None
                              for camera in cameras):
                    await asyncio.sleep(CAMERA_POLL)
        except TimeoutError:
            return False
        finally:
            self._stream_shown_exam_only()
        return True

    def _stream_shown_exam_only(self) -> None:
        """The exam camera not shown idles (stills only): two full-resolution
        video streams of which one is unseen cost a core's worth at 720p."""
        for exam in self._exam_tracks:
            device = self._camera(exam)
            if device is not None:
                device.camera.set_streaming(exam == self.exam)

    def _camera(self, name: str) -> CameraDevice | None:
        for url, device in self.devices.items():
            if isinstance(device, CameraDevice) and (
                    device.camera.exam.value == name or url == f"sim://{name}"):
                return device
        return None

    def _sources(self) -> dict[str, Any]:
        size = VIDEO_SIZE
        sources: dict[str, Any] = {}
        room = self._camera("room")
        if room is not None:
            sources["room"] = CameraTrack(room.camera, *size)
        for exam in EXAMS:
            device = self._camera(exam)
            if device is not None:
                self._exam_tracks[exam] = CameraTrack(device.camera, *size)
        if self._exam_tracks:
            self.exam = "otoscope" if "otoscope" in self._exam_tracks else next(
                iter(self._exam_tracks))
            sources["exam"] = self._exam_tracks[self.exam]
        stethoscope = next((d for d in self.devices.values()
                            if isinstance(d, StethoscopeDevice)), None)
        if stethoscope is not None:
            track = StethoscopeTrack()
            sources["stethoscope"] = track
            self._unsubscribe.append(stethoscope.add_listener(track.push))
            self._unsubscribe.append(stethoscope.add_listener(self._on_audio_block))
        self._tracks = [*sources.values(), *self._exam_tracks.values()]
        return sources

    def invite(self, valid_for: timedelta = DEFAULT_TTL) -> str:
        """A new one-time link for the doctor to join this session, valid ``valid_for``
        (embedded server; with a remote one, ``await create_link()``)."""
        if self.server is None or self.session is None:
            raise RuntimeError("the runtime is not started (or uses a remote server)")
        _, url = self.server.invitations.create(self.session.id, valid_for)
        return url

    async def create_link(self, valid_for: timedelta = DEFAULT_TTL) -> str:
        """:meth:`invite`, or the same asked of the remote signaling server."""
        if self.signaling is None:
            return self.invite(valid_for)
        if self.session is None:
            raise RuntimeError("the runtime is not started")
        link = await InvitationClient(self.signaling).create(self.session.id, valid_for)
        self._remote_links.append(link.invitation_id)
        return link.url

    def send_nurse_draft(self, fields: dict[str, Any]) -> int:
        """The nurse's revision of the report fields: sent to the doctor and stored
        (like every revision); returns its revision number."""
        if self.call is None or self.session is None:
            raise RuntimeError("the runtime is not started")
        revision = self.call.send_report_draft(fields, author="nurse")
        self.session.record_event("report_draft", {"fields": fields, "revision": revision,
                                                   "author": "nurse"})
        return revision

    def _announce_latest_doctor(self, session: SessionEngine) -> None:
        """The embedded server stores the doctor who joins; views hear of it here, once
        per doctor, when his call connects."""
        joined = [e for e in session.events() if e.type == "doctor_joined"]
        if joined:
            self._announce_doctor(joined[-1])

    def _announce_doctor(self, event: SessionEvent) -> None:
        key = (event.time, event.data.get("rpps"), event.data.get("invitation"))
        if self.session is not None and key not in self._announced_doctors:
            self._announced_doctors.add(key)
            self.session.announce_recorded(event)

    def _on_doctor_joined(self, message: dict[str, Any]) -> None:
        """The remote server says who joined: the session records it here."""
        if self.session is None:
            return
        try:
            event = record_doctor_joined(self.store, self.session.id, message)
            if event is not None:
                self.say(tr("signaling.doctor_joined", name=message.get("name"),
                            rpps=message.get("rpps")))
                self._announce_doctor(event)
        except StationError as error:
            # The refusal may quote the doctor's name or RPPS: its code only above DEBUG.
            log_failure(log, logging.WARNING, "doctor-joined refused for session %s", error,
                        self.session.id)

    # --- the context sent on open ------------------------------------------------------

    def context(self) -> dict[str, Any]:
        """The resident's context for the doctor (contract ``context`` without ``type``)."""
        assert self.session is not None
        resident = self.session.resident
        person: dict[str, Any] = {}
        if resident is not None:
            identity = resident.identity
            person = {"name": identity.display_name(),
                      "age": _age(identity.birth_date, datetime.now(UTC).date()),
                      "sex": identity.sex.value}
            shareable = identity.shareable_ins()
            if shareable is not None:
                person["ins"] = shareable[0]
        history, reports = ([], []) if resident is None else (
            self._history(resident.id), self._reports(resident.id))
        return {"resident": person, "nurse": self.session.nurse.display_name,
                "station": self.station_name, "history": history, "reports": reports}

    def _history(self, resident_id: int) -> list[dict[str, Any]]:
        assert self.session is not None
        rows = self.store.conn.execute(
            "SELECT m.kind, m.value, m.unit, m.time_us FROM measurements m"
            " JOIN sessions s ON s.id = m.session_id"
            " WHERE s.resident_id = ? AND s.id != ? AND m.value IS NOT NULL"
            " ORDER BY m.time_us DESC LIMIT ?",
            (resident_id, self.session.id, HISTORY_LIMIT)).fetchall()
        return [{"kind": kind, "value": value, "unit": unit,
                 "time": from_microseconds(time_us).isoformat()}
                for kind, value, unit, time_us in reversed(rows)
                if kind != Kind.PLETH.value]

    def _reports(self, resident_id: int) -> list[dict[str, Any]]:
        assert self.session is not None
        rows = self.store.conn.execute(
            "SELECT e.time, s.act, e.data FROM session_events e"
            " JOIN sessions s ON s.id = e.session_id"
            " WHERE s.resident_id = ? AND s.id != ? AND e.type = 'transition'"
            " AND json_extract(e.data, '$.state') = 'sent' ORDER BY e.id",
            (resident_id, self.session.id)).fetchall()
        return [{"time": from_text(time).isoformat(),
                 "title": tr(f"runtime.act.{act}")}
                for time, act, _ in rows]

    # --- device → call -----------------------------------------------------------------

    def _on_session_event(self, event: SessionEvent) -> None:
        if event.type == "measurement" and self.call is not None:
            measurement: Measurement = event.data["measurement"]
            self.call.send_measurement(measurement, event.data.get("stored_at"),
                                       event.data.get("id"))
        elif (event.type == "transition" and event.data.get("state") == "stopped"
              and self.call is not None):
            # Consent withdrawn (or the act abandoned) during the call: media
            # ends at once. The session has already recorded why.
            reason = str(event.data.get("decision") or event.data.get("reason") or "stopped")
            self._spawn(self.call.close(reason), "call closing")

    def _on_device_event(self, event: DeviceEvent) -> None:
        call = self.call
        if call is None:
            return
        if event.kind is EventKind.WAVEFORM and event.waveform is not None:
            chunk = event.waveform
            if chunk.kind is Kind.PLETH:
                call.send_waveform("pleth", chunk.sample_rate_hz, chunk.start, chunk.samples)
        elif event.kind is EventKind.BATTERY and event.battery_percent is not None:
            call.send_vitals({"type": "battery", "url": event.url,
                              "percent": event.battery_percent})
        elif event.kind in (EventKind.CONNECTED, EventKind.LOST, EventKind.UNAVAILABLE):
            call.send_vitals({"type": "device", "url": event.url, "state": event.kind.value,
                              "detail": event.detail})
            if event.kind is EventKind.CONNECTED:
                self.say(tr("runtime.device", url=event.url, detail=event.detail))

    def _on_audio_block(self, block: AudioBlock) -> None:
        """Stethoscope envelope for drawing: |x| peak per 5 ms bin, sent every 100 ms."""
        samples = np.abs(block.samples.astype(np.float32))
        if block.samples.dtype == np.int16:
            samples /= 32768.0
        usable = len(samples) - len(samples) % PHONO_BIN
        if self._phono_start is None:
            self._phono_start = datetime.now(UTC)
        if usable:
            self._phono.extend(samples[:usable].reshape(-1, PHONO_BIN).max(axis=1).tolist())
        if len(self._phono) >= PHONO_BLOCKS * (960 // PHONO_BIN) and self.call is not None:
            self.call.send_waveform("phono", SAMPLE_RATE / PHONO_BIN, self._phono_start,
                                    self._phono)
            self._phono, self._phono_start = [], None

    # --- call → session ------------------------------------------------------------

    def _on_call_event(self, event: CallEvent) -> None:
        session = self.session
        if session is None or self._stopped:
            return
        if isinstance(event, StateChanged):
            self._on_state(session, event)
        elif isinstance(event, AudioOnlyChanged):
            self._on_audio_only(session, event)
        elif isinstance(event, RemoteTrack) and event.track.kind == "audio":
            self._play_doctor_voice(event.track)
        elif isinstance(event, ReportValidationRequested):
            self._spawn(self._validate_report(session, event.message), "report validation")
        elif isinstance(event, ReportDraftReceived):
            message = event.message
            data = {"fields": message.get("fields", {}), "revision": message.get("revision"),
                    "author": message.get("author", "doctor")}
            session.record_event("report_draft", data, self._doctor_actor())
            self.say(tr("runtime.report_draft", revision=data["revision"]))
        elif isinstance(event, ControlReceived):
            message = event.message
            if message.get("type") == "switch-exam" and message.get("exam") in self._exam_tracks:
                self.switch_exam(str(message["exam"]))

    def _on_state(self, session: SessionEngine, event: StateChanged) -> None:
        now = utc_now()
        if event.state is CallState.CONNECTED:
            self._connected_once.set()
            self._announce_latest_doctor(session)
            if self._dropped_at is not None:
                began, self._dropped_at = self._dropped_at, None
                seconds = (now - began).total_seconds()
                session.record_incident("call_restored", tr(
                    "runtime.call_restored", start=began.isoformat(), end=now.isoformat(),
                    seconds=format_number(f"{seconds:.1f}")), actor="call")
            # Tell the console which exam camera it shows, once ``control`` is open
            # (it opens just after the connection; send_control drops it before).
            asyncio.get_running_loop().call_later(EXAM_ANNOUNCE_DELAY, self._announce_exam)
            self.say(tr("runtime.call_connected"))
        elif event.state is CallState.RECONNECTING and self._dropped_at is None \
                and self._connected_once.is_set():
            self._dropped_at = now
            session.record_incident("call_dropped", tr(
                "runtime.call_dropped", start=now.isoformat(), reason=event.reason),
                actor="call")
            self.say(tr("runtime.call_reconnecting", reason=event.reason))
        elif event.state is CallState.ENDED:
            self.say(tr("runtime.call_ended", reason=event.reason))

    def _on_audio_only(self, session: SessionEngine, event: AudioOnlyChanged) -> None:
        """A person's choice is a session event; the link stopping video is an incident."""
        now = utc_now()
        if event.on:
            self.say(tr("runtime.audio_only_on", cause=tr(f"runtime.cause.{event.cause}")))
        else:
            self.say(tr("runtime.audio_only_off"))
        if event.cause == "link" and event.on:
            self._video_stopped_at = now
            session.record_incident("video_stopped", tr("runtime.video_stopped",
                                                         start=now.isoformat()), actor="call")
        elif not event.on and self._video_stopped_at is not None:
            began, self._video_stopped_at = self._video_stopped_at, None
            seconds = (now - began).total_seconds()
            session.record_incident("video_resumed", tr(
                "runtime.video_resumed", start=began.isoformat(), end=now.isoformat(),
                seconds=format_number(f"{seconds:.1f}")), actor="call")
        else:
            actor = self._doctor_actor() if event.cause == "doctor" else session.nurse.login
            session.record_event("audio_only", {"on": event.on, "cause": event.cause}, actor)

    # --- the doctor's voice ---------------------------------------------------------------

    def _play_doctor_voice(self, track: Any) -> None:
        """Play the doctor's microphone on the cart's speaker (a new track per connection)."""
        if self._speaker is None and not self._speaker_missing:
            try:
                self._speaker = open_speaker(self.speaker_url)
            except DeviceError as error:
                self._speaker_missing = True  # said once, not at every reconnection
                self.say(tr("runtime.no_speaker", reason=str(error)))
        previous, self.doctor_voice = self.doctor_voice, DoctorVoice(track, self._speaker)
        if previous is not None:
            self._spawn(previous.stop(), "previous doctor voice")
        self.doctor_voice.start()
        if not self._doctor_heard:
            self._spawn(self._announce_doctor_heard(self.doctor_voice), "doctor heard")

    async def _announce_doctor_heard(self, voice: DoctorVoice) -> None:
        await voice.heard.wait()
        if not self._doctor_heard:
            self._doctor_heard = True
            self.say(tr("runtime.doctor_heard"))

    # --- the report -----------------------------------------------------------------

    async def _validate_report(self, session: SessionEngine, message: dict[str, Any]) -> None:
        """The doctor validated: finish the examination, store version 1, send it."""
        fields = message.get("fields") if isinstance(message.get("fields"), dict) else {}
        assert isinstance(fields, dict)
        billing = [str(code) for code in fields.get("billing") or [] if code]
        call = self.call
        try:
            if session.state is SessionState.EXAMINE:
                session.finish_examination()
            version = ReportService(self.store, station_name=self.station_name).validate(
                session.id, conclusion=fields.get("conclusion"),
                prescriptions=fields.get("prescriptions"), billing=billing or None,
                actor=self._doctor_actor())
        except StationError as error:
            self.say(tr("runtime.report_refused", reason=error.message))
            if call is not None:
                call.send_report_message({"type": "report-error", "message": error.message})
            return
        self.say(tr("runtime.report_validated", version=version.version))
        when = version.created_at.astimezone().strftime("%d/%m/%Y")
        deliveries = await send_report(self.outbox, self.outbox_config, version,
                                       session.act.value, when, self.recipients,
                                       actor=session.nurse.login)
        if call is not None:
            call.send_report_message({
                "type": "report-validated", "version": version.version,
                "report_id": version.id, "pdf_sha256": version.pdf_sha256,
                "fhir_sha256": version.fhir_sha256,
                "deliveries": [{"recipient": d.role or d.name or d.address,
                                "channel": d.channel.value, "state": d.state_label}
                               for d in deliveries]})
        await self._mark_sent_when_delivered(session, version)

    async def _mark_sent_when_delivered(self, session: SessionEngine, version: Any) -> None:
        """The session is ``sent`` once every recipient has the report (the worker retries;
        the first pass often delivers at once)."""
        if report_delivered(self.outbox, version):
            self._settle_sent()

    def _settle_sent(self) -> None:
        live = {self.session.id: self.session} if self.session is not None else {}
        if self.session is not None and self.session.id in settle_sent_sessions(
                self.store, self.outbox, live):
            self.say(tr("runtime.report_sent"))

    async def _check_relay(self, turn: TurnConfig, session: SessionEngine) -> None:
        """Tell the nurse, and the session's trail, at once when the relay refuses the
        station: aioice would only leave the relay out of the offer, silently."""
        url = first_turn_url(turn.urls)
        if url is None:
            return
        try:
            granted = await check_relay(url, station_credential(turn, session.id))
        except TurnRelayError as error:
            kind = "relay_refused" if error.code == "turn.refused" else "relay_unreachable"
            session.record_incident(kind, error.message)
            self.say(error.message)
            return
        self.say(tr("turn.ready", server=granted.server))

    def _spawn(self, work: Any, name: str) -> None:
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _announce_exam(self) -> None:
        if self.call is not None and not self._stopped:
            self.call.send_control({"type": "switch-exam", "exam": self.exam})

    def _doctor_actor(self) -> str:
        assert self.session is not None
        # The latest doctor_joined event: recorded by the embedded server, or
        # from a remote server's doctor-joined.
        row = self.store.conn.execute(
            "SELECT json_extract(data, '$.rpps') FROM session_events WHERE session_id = ?"
            " AND type = 'doctor_joined' ORDER BY time DESC, id DESC LIMIT 1",
            (self.session.id,)).fetchone()
        return f"rpps:{row[0]}" if row and row[0] else "doctor"

    # --- actions ---------------------------------------------------------------------

    def switch_exam(self, exam: str) -> None:
        """Show the otoscope or the dermatoscope on the ``exam`` stream."""
        if exam not in self._exam_tracks or self.call is None or exam == self.exam:
            return
        self.exam = exam
        self._stream_shown_exam_only()
        self.call.replace_exam(self._exam_tracks[exam])
        self.call.send_control({"type": "switch-exam", "exam": exam})

    async def take_snapshot(self, exam: str) -> StoredSnapshot:
        """A full-resolution still of ``exam``: stored first, then sent to the doctor."""
        device = self._camera(exam)
        if device is None or self.session is None:
            raise RuntimeError(f"no {exam} camera")
        camera = device.camera
        async with asyncio.timeout(CAMERA_WAIT):
            while not camera.running:  # the device manager starts it
                await asyncio.sleep(CAMERA_POLL)
        still = await camera.snapshot_async()
        stored = await asyncio.to_thread(self.snapshots.add, self.session.id, still,
                                         self.session.nurse.login)
        self.say(tr("runtime.snapshot", exam=stored.exam, path=str(stored.path)))
        if self.call is not None and self.call.state is CallState.CONNECTED:
            png = await asyncio.to_thread(stored.path.read_bytes)
            await self.call.send_snapshot(png, {
                "name": stored.path.name, "exam": stored.exam, "width": still.info.width,
                "height": still.info.height, "sha256": stored.file_sha256})
            self.say(tr("runtime.snapshot_sent", sha256=stored.file_sha256[:12]))
        return stored

    def snapshot_when_connected(self, exam: str, delay: float = 3.0) -> None:
        """Once the doctor is connected, wait ``delay`` seconds and take one snapshot."""
        async def later() -> None:
            await self._connected_once.wait()
            await asyncio.sleep(delay)
            try:
                await self.take_snapshot(exam)
            except Exception:  # a failed still must not stop the station
                log.exception("automatic snapshot failed")

        self._spawn(later(), "snapshot when connected")

    # --- stopping ----------------------------------------------------------------------

    async def _end_call(self) -> None:
        if self.call is not None:
            await self.call.close("station stopped")
        if self.doctor_voice is not None:
            await self.doctor_voice.stop()
        if self._speaker is not None:
            self._speaker.close()
        if self.client is not None:
            await self.client.close()
        if self._client_task is not None:
            with contextlib.suppress(asyncio.CancelledError, asyncio.TimeoutError):
                await asyncio.wait_for(self._client_task, 5.0)
        for unsubscribe in self._unsubscribe:
            unsubscribe()
        for track in self._tracks:
            track.stop()

    async def _stop_devices(self) -> None:
        if self.manager is not None:
            await self.manager.stop()
        for device in self.devices.values():  # cameras own worker threads: make sure
            if isinstance(device, CameraDevice):
                await asyncio.to_thread(device.camera.stop)
        if self.simulators is not None:
            await self.simulators.close()

    async def _revoke_remote_links(self) -> None:
        """A stopped station's links must not open anything: revoke the unused ones."""
        if self.signaling is None:
            return
        client = InvitationClient(self.signaling)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(REVOKE_TIMEOUT):
                for invitation_id in self._remote_links:
                    with contextlib.suppress(RemoteServerError):  # used already, or away
                        await client.revoke(invitation_id)
        self._remote_links.clear()

    async def stop(self, reason: str = "") -> None:
        """End the call and everything under it; record that the station stopped."""
        if self._stopped:
            return
        if self.session is not None:
            self.session.record_incident("station_stopped",
                                         reason or tr("runtime.stopped_detail"), actor="station")
        self._stopped = True
        for task in list(self._tasks):
            task.cancel()
        await self._end_call()
        await self._stop_devices()
        if self.server is not None:
            await self.server.stop()
        await self._revoke_remote_links()
        if self._owns_store:
            self.store.close()
        self.say(tr("runtime.stopped"))
