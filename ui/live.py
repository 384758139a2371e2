"""The live part of a session, on the qasync loop: devices, signaling server, call.

:class:`LiveSession` owns the :class:`~station.runtime.StationRuntime` of the
current session and turns the nurse's taps into runtime calls (start, invite,
snapshot, switch exam, record a clip, listen, send the link by e-mail,
withdraw consent, finish). Long work runs as asyncio tasks on the Qt thread's
loop (qasync); it announces itself with ``work_started`` / ``work_progress``
/ ``work_finished``, and every failure comes as ``failed(key, message,
what_to_do)`` in words a nurse acts on.

Core events reach the screens only through the controller's
:class:`~ui.bridge.CoreBridge`: device events, call events and the runtime's
progress lines from here, session events from the controller (which attaches
the session it opens; the core announces everything it stores, including the
doctor who joins and the report drafts).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Coroutine
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QObject, Signal

from devices.audio.block import AudioBlock, AudioSource, BlockChannel, stream_lost
from devices.audio.playback import Speaker, open_speaker
from devices.errors import DeviceError
from devices.media import CameraDevice, StethoscopeDevice
from station.consent import ConsentCapacity
from station.errors import StationError
from station.logsafe import log_failure
from station.outbox import (
    Channel,
    Delivery,
    Outbox,
    OutboxWorker,
    OutgoingMessage,
    Recipient,
)
from station.report.service import ReportService
from station.session import SessionEngine, SessionState
from station.store.clips import ClipStore, StoredClip, record_clip
from station.store.reports import ReportVersion
from station.store.snapshots import SnapshotStore, StoredSnapshot
from ui.i18n import _

if TYPE_CHECKING:
    from devices.camera.frame import Frame
    from station.runtime import StationRuntime
    from ui.controller import StationController

log = logging.getLogger(__name__)

CAMERA_READY_S = 20.0  # longest wait for pictures before the screen says "ready"
AUDIO_WAIT_S = 2.0  # no stethoscope sound for this long: the clip fails
LINK_VALID = timedelta(minutes=30)

RuntimeFactory = Callable[["StationController", Callable[[str], None]], "StationRuntime"]


def default_runtime(controller: StationController, say: Callable[[str], None]) -> StationRuntime:
    """The runtime the app's settings ask for: the demo's simulators and drop folder,
    or the cart's configured instruments, outbox, recipients and signaling server.
    ``settings.extra["runtime_options"]`` overrides any :class:`StationRuntime` argument."""
    from station.call.loopback import allow_loopback_candidates  # noqa: PLC0415 - aiortc
    from station.demo import demo_outbox_config  # noqa: PLC0415
    from station.device_config import load_devices  # noqa: PLC0415
    from station.outbox import load_outbox_config  # noqa: PLC0415
    from station.report.sending import load_report_recipients  # noqa: PLC0415
    from station.runtime import DEVICE_URLS, StationRuntime  # noqa: PLC0415 - aiortc
    from station.signaling.client_api import load_signaling_config  # noqa: PLC0415

    settings = controller.settings
    urls: tuple[str, ...] = settings.device_urls or (
        DEVICE_URLS if settings.demo else tuple(entry.url for entry in load_devices()[0]))
    options: dict[str, Any] = {
        "device_urls": urls, "simulators": any(url.startswith("sim://") for url in urls),
        "outbox_config": (demo_outbox_config(settings.home) if settings.demo
                          else load_outbox_config()),
        "recipients": load_report_recipients(),
    }
    remote = load_signaling_config()
    if remote is not None:
        options.update(signaling_url=remote.url, station_id=remote.station_id,
                       station_key=remote.key, signaling_ca_file=remote.ca_file)
    extra = settings.extra.get("runtime_options")
    if isinstance(extra, dict):
        options.update(extra)
    if options.get("host", "127.0.0.1") in ("127.0.0.1", "localhost"):
        allow_loopback_candidates()  # doctor and station on one machine (demo, tests)
    return StationRuntime(controller.store, say=say, owns_store=False, **options)


class ListenerSource(AudioSource):
    """The live stethoscope read as an :class:`AudioSource` without taking it from the
    call: a listener on the device copies its blocks into a channel."""

    def __init__(self, device: StethoscopeDevice, wait_s: float = AUDIO_WAIT_S) -> None:
        self._device = device
        self._channel = BlockChannel()
        self._wait_s = wait_s
        self._remove = device.add_listener(self._channel.put)

    @property
    def name(self) -> str:
        return self._device.url

    async def read(self) -> AudioBlock | None:
        try:
            return await self._channel.get(timeout=self._wait_s)
        except TimeoutError as error:
            raise stream_lost(self.name, f"no sound for {self._wait_s:g} s") from error

    async def close(self) -> None:
        self._remove()
        self._channel.end()


def _as_float(block: AudioBlock) -> Any:
    samples = block.samples.astype(np.float32)
    if block.samples.dtype == np.int16:
        samples /= 32768.0
    return samples


class LiveSession(QObject):
    """The current session's live runtime, driven from the screens (see module doc)."""

    started = Signal()
    stopped = Signal()
    work_started = Signal(str, str)  # key, what is under way (translated)
    work_progress = Signal(str, float)  # key, 0…1
    work_finished = Signal(str)  # key
    failed = Signal(str, str, str)  # key, what went wrong, what to do
    snapshot_taken = Signal(object)  # StoredSnapshot
    clip_recorded = Signal(object)  # StoredClip
    link_ready = Signal(str)  # the doctor's one-time link
    link_mailed = Signal(str, str)  # address, where the e-mail stands (translated)
    listening_changed = Signal(bool)
    review_sent = Signal(int)  # the nurse's report revision number

    def __init__(self, controller: StationController,
                 runtime_factory: RuntimeFactory = default_runtime,
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.controller = controller
        self._factory = runtime_factory
        self.runtime: StationRuntime | None = None
        self.running = False
        self.link: str | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._speaker: Speaker | None = None
        self._stop_listening: Callable[[], None] | None = None
        self._unsubscribe: list[Callable[[], None]] = []

    # --- plumbing ----------------------------------------------------------------------

    @property
    def session(self) -> SessionEngine:
        """The controller's current session (the live session serves that one)."""
        if self.controller.session is None:
            raise RuntimeError("no session is open")
        return self.controller.session

    def spawn(self, work: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run ``work`` on the loop (qasync's, on this thread); errors are logged."""
        loop = asyncio.get_event_loop_policy().get_event_loop()
        task = loop.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("%s failed", task.get_name(), exc_info=task.exception())

    def _say(self, line: str) -> None:
        self.controller.bridge.runtime_line.emit(line)

    def _fail(self, key: str, message: str, what_to_do: str) -> None:
        self.work_finished.emit(key)
        self.failed.emit(key, message, what_to_do)

    def _require_runtime(self) -> StationRuntime:
        if self.runtime is None or not self.running:
            raise RuntimeError("the live session is not running")
        return self.runtime

    # --- start and stop -----------------------------------------------------------------

    def start(self) -> asyncio.Task[Any]:
        """Open the devices, the signaling server and the call (in the background)."""
        return self.spawn(self._start(), "live session start")

    async def _start(self) -> None:
        if self.runtime is not None:
            return
        bridge = self.controller.bridge
        session = self.session
        self.work_started.emit("devices", _("Connecting the devices and the camera…"))
        runtime = self._factory(self.controller, self._say)
        self.runtime = self.controller.runtime = runtime
        try:
            await runtime.start(session)
        except (StationError, DeviceError, OSError) as error:
            await self._abort_start(runtime, error)
            return
        # Session events already reach the bridge (the controller attaches the session);
        # devices and call are forwarded while the runtime lives.
        if runtime.manager is not None:
            self._unsubscribe.append(runtime.manager.subscribe(bridge.device_event.emit))
        if runtime.call is not None:
            self._unsubscribe.append(runtime.call.subscribe(bridge.call_event.emit))
        self.running = True
        wait = float(str(self.controller.settings.extra.get("camera_ready_s", CAMERA_READY_S)))
        await runtime.wait_cameras_ready(wait)
        self.work_finished.emit("devices")
        self.started.emit()

    async def _abort_start(self, runtime: StationRuntime, error: Exception) -> None:
        log_failure(log, logging.WARNING, "live session could not start", error)
        detail = error.message if isinstance(error, StationError) else str(error)
        self._fail("devices", _("The examination could not start: {detail}").format(
            detail=detail), _("Check that the devices are switched on and plugged in, then "
                              "leave this screen and come back to try again."))
        with contextlib.suppress(Exception):
            await runtime.stop(detail)
        self.runtime = self.controller.runtime = None

    async def stop(self, reason: str = "") -> None:
        """End the call, the devices and the server (idempotent)."""
        runtime, self.runtime = self.runtime, None
        if runtime is None:
            return
        self.running = False
        self.set_listening(False)
        for task in list(self._tasks):
            if task is not asyncio.current_task():
                task.cancel()
        while self._unsubscribe:
            self._unsubscribe.pop()()
        await runtime.stop(reason)
        self.controller.runtime = None
        self.stopped.emit()

    # --- what the screens show -------------------------------------------------------------

    def camera_frame(self, name: str) -> Callable[[], Frame | None]:
        """A frame source for a preview: ``room``, ``otoscope`` or ``dermatoscope``."""
        def latest() -> Frame | None:
            runtime = self.runtime
            if runtime is None:
                return None
            for device in runtime.devices.values():
                if isinstance(device, CameraDevice) and device.camera.exam.value == name:
                    return device.camera.latest
            return None
        return latest

    def cameras(self) -> list[str]:
        """Names of the cameras this cart has (``room``, ``otoscope``, ``dermatoscope``)."""
        runtime = self.runtime
        if runtime is None:
            return []
        return [d.camera.exam.value for d in runtime.devices.values()
                if isinstance(d, CameraDevice)]

    def instruments(self) -> list[str]:
        """URLs of the measuring instruments (not cameras, not the stethoscope)."""
        runtime = self.runtime
        if runtime is None:
            return []
        return [url for url, d in runtime.devices.items()
                if not isinstance(d, CameraDevice | StethoscopeDevice)]

    @property
    def exam(self) -> str:
        """The exam camera the doctor sees."""
        return self.runtime.exam if self.runtime is not None else ""

    def _stethoscope(self) -> StethoscopeDevice | None:
        runtime = self.runtime
        if runtime is None:
            return None
        return next((d for d in runtime.devices.values()
                     if isinstance(d, StethoscopeDevice)), None)

    def stethoscope_level(self) -> float:
        """The stethoscope's current level in dBFS (−∞ without one)."""
        device = self._stethoscope()
        return device.level_dbfs if device is not None else float("-inf")

    def doctor_voice_level(self) -> float:
        """The doctor's voice level in dBFS (−∞ before the doctor is heard)."""
        runtime = self.runtime
        voice = runtime.doctor_voice if runtime is not None else None
        return voice.level if voice is not None else float("-inf")

    # --- the doctor's link ----------------------------------------------------------------

    def invite(self) -> asyncio.Task[Any]:
        """Make a one-time link for the doctor (``link_ready``)."""
        return self.spawn(self._invite(), "invite")

    async def _invite(self) -> None:
        runtime = self._require_runtime()
        self.work_started.emit("invite", _("Creating the doctor's link…"))
        try:
            self.link = await runtime.create_link(LINK_VALID)
        except (StationError, OSError) as error:
            log_failure(log, logging.WARNING, "link refused", error)  # may quote a URL
            self._fail("invite", _("The doctor's link could not be created."),
                       _("Check the cart's network connection, then press "
                         "« Invite the doctor » again."))
            return
        self.work_finished.emit("invite")
        self.link_ready.emit(self.link)

    def send_link_by_email(self, address: str) -> asyncio.Task[Any]:
        """E-mail the current link to ``address`` through the outbox (``link_mailed``)."""
        return self.spawn(self._mail_link(address.strip()), "mail link")

    async def _mail_link(self, address: str) -> None:
        runtime = self._require_runtime()
        if self.link is None:
            await self._invite()
            if self.link is None:
                return
        config = runtime.outbox_config
        if config is None or not config.configured(Channel.SMTP):
            self._fail("mail", _("E-mail sending is not set up on this cart."),
                       _("Give the doctor the link another way: copy it into a message, "
                         "or let them scan the QR code."))
            return
        self.work_started.emit("mail", _("Sending the link by e-mail…"))
        # Nothing medical and no resident in this e-mail: only who invites, and the link.
        message = OutgoingMessage(
            subject=_("Teleconsultation invitation from {station}").format(
                station=runtime.station_name),
            body=_("Hello,\n\nYou are invited to a teleconsultation by {station}.\n"
                   "Open this personal link (usable once, valid for {minutes} minutes):\n"
                   "{link}\n").format(station=runtime.station_name, link=self.link,
                                      minutes=int(LINK_VALID.total_seconds() // 60)),
            key=f"invitation:{self.session.id}:{self.link}")
        try:
            (delivery_id,) = runtime.outbox.enqueue(
                message, [Recipient.email(address, role=_("invited doctor"))],
                actor=self.session.nurse.login)
        except StationError as error:
            self._fail("mail", error.message,
                       _("Check the e-mail address, then press « Send » again."))
            return
        await OutboxWorker(runtime.outbox, config, actor="station").run_once()
        delivery = runtime.outbox.delivery(delivery_id)
        self.work_finished.emit("mail")
        self.link_mailed.emit(address, delivery_text(delivery))

    # --- examination ---------------------------------------------------------------------

    def switch_exam(self, exam: str) -> None:
        """Show the otoscope or the dermatoscope to the doctor."""
        self._require_runtime().switch_exam(exam)

    def snapshot(self, exam: str) -> asyncio.Task[Any]:
        """A full-resolution still of ``exam``, stored then sent (``snapshot_taken``)."""
        return self.spawn(self._snapshot(exam), "snapshot")

    async def _snapshot(self, exam: str) -> StoredSnapshot | None:
        runtime = self._require_runtime()
        self.work_started.emit("snapshot", _("Taking the photo…"))
        photos = SnapshotStore(self.controller.store)
        known = {p.id for p in photos.for_session(self.session.id)}
        taking = asyncio.ensure_future(runtime.take_snapshot(exam))
        shown: StoredSnapshot | None = None
        # The photo is stored before it is sent: show it as soon as it is kept, and
        # say that sending (a few megabytes over the data channel) goes on.
        while not taking.done():
            await asyncio.wait([taking], timeout=0.1)
            if shown is None:
                fresh = [p for p in photos.for_session(self.session.id) if p.id not in known]
                if fresh:
                    shown = fresh[-1]
                    self.snapshot_taken.emit(shown)
                    self.work_started.emit("snapshot", _("Photo kept; sending it to the "
                                                         "doctor…"))
        try:
            stored = taking.result()
        except (StationError, DeviceError, OSError, RuntimeError, TimeoutError) as error:
            log.warning("snapshot failed: %s", error)
            if shown is not None:
                self._fail("snapshot", _("The photo is kept but could not be sent to the "
                                         "doctor."),
                           _("It is in the report anyway. If the doctor needs it now, "
                             "take it again once the call is back."))
                return shown
            self._fail("snapshot", _("The photo could not be taken."),
                       _("Check that the camera is plugged in and shows a picture, "
                         "then press « Take a photo » again."))
            return None
        self.work_finished.emit("snapshot")
        if shown is None:
            self.snapshot_taken.emit(stored)
        return stored

    def record_clip(self, site: str, seconds: float) -> asyncio.Task[Any]:
        """Record ``seconds`` of stethoscope sound for ``site`` (``clip_recorded``)."""
        return self.spawn(self._record_clip(site, seconds), "clip")

    async def _record_clip(self, site: str, seconds: float) -> StoredClip | None:
        self._require_runtime()
        device = self._stethoscope()
        if device is None:
            self._fail("clip", _("This cart has no stethoscope connected."),
                       _("Plug in the stethoscope, then press « Record » again."))
            return None
        self.work_started.emit("clip", _("Recording the stethoscope: hold it still…"))
        source = ListenerSource(device)
        began = time.monotonic()

        async def tick() -> None:
            while True:
                self.work_progress.emit("clip", min(1.0, (time.monotonic() - began) / seconds))
                await asyncio.sleep(0.2)

        ticker = asyncio.ensure_future(tick())
        try:
            wav = await record_clip(source, seconds)
            clip = await asyncio.to_thread(
                ClipStore(self.controller.store).add, self.session.id, wav, site=site,
                device=device.url, actor=self.session.nurse.login)
        except (StationError, DeviceError, OSError) as error:
            log.warning("clip failed: %s", error)
            self._fail("clip", _("The recording failed: the stethoscope stopped sending sound."),
                       _("Check the stethoscope's cable and battery, then record again."))
            return None
        finally:
            ticker.cancel()
            await source.close()
        self.work_progress.emit("clip", 1.0)
        self.work_finished.emit("clip")
        self.clip_recorded.emit(clip)
        return clip

    def set_listening(self, on: bool) -> bool:
        """Play the stethoscope on the cart's speaker (or stop); False when it cannot."""
        if not on:
            if self._stop_listening is not None:
                self._stop_listening()
                self._stop_listening = None
            if self._speaker is not None:
                self._speaker.close()
                self._speaker = None
                self.listening_changed.emit(False)
            return True
        device = self._stethoscope()
        if device is None:
            self.failed.emit("listen", _("This cart has no stethoscope connected."),
                             _("Plug in the stethoscope, then switch listening on again."))
            self.listening_changed.emit(False)
            return False
        if self._speaker is None:
            try:
                url = self.runtime.speaker_url if self.runtime is not None else "audio://default"
                self._speaker = open_speaker(url)
            except DeviceError as error:
                log.info("no speaker: %s", error)
                self.failed.emit("listen", _("This cart has no loudspeaker: the stethoscope "
                                             "cannot be heard here."),
                                 _("Plug headphones or the cart's speaker in, then switch "
                                   "listening on again. The doctor still hears the "
                                   "stethoscope."))
                self.listening_changed.emit(False)
                return False
        speaker = self._speaker
        self._stop_listening = device.add_listener(lambda block: speaker.play(_as_float(block)))
        self.listening_changed.emit(True)
        return True

    @property
    def listening(self) -> bool:
        """True while the stethoscope plays on the cart."""
        return self._stop_listening is not None

    # --- ending ----------------------------------------------------------------------------

    def withdraw_consent(self, capacity: ConsentCapacity, note: str = "") -> asyncio.Task[Any]:
        """Consent withdrawn: the core records it and ends the media at once; then
        the devices and the server stop. Raises the core's error if not allowed now."""
        self.session.withdraw_consent(capacity, note=note)
        return self.spawn(self.stop(_("consent withdrawn")), "stop after withdrawal")

    def finish(self) -> asyncio.Task[Any]:
        """End the examination (if still under way) and stop everything live."""
        session = self.session
        if session.state is SessionState.EXAMINE:
            session.finish_examination()
        return self.spawn(self.stop(_("session finished by the nurse")), "finish")

    # --- the report ---------------------------------------------------------------------------

    def send_review(self, fields: dict[str, Any]) -> int:
        """Send the nurse's corrections to the doctor as a ``nurse`` revision of the draft
        (stored like every revision); returns its revision number."""
        revision = self._require_runtime().send_nurse_draft(fields)
        self.review_sent.emit(revision)
        return revision

    def outbox(self) -> Outbox:
        """The outbox the report is sent through."""
        if self.runtime is not None:
            return self.runtime.outbox
        return Outbox(self.controller.store)

    def report(self) -> ReportVersion | None:
        """The latest report version of the session, if any."""
        return ReportService(self.controller.store).latest(self.session.id)

    def deliveries(self) -> list[Delivery]:
        """Where sending stands, one delivery per recipient (the session's report and link)."""
        return self.outbox().deliveries(session_id=self.session.id)

    def retry_delivery(self, delivery_id: str) -> asyncio.Task[Any]:
        """Ask for another attempt at once (a refused delivery is queued again)."""
        return self.spawn(self._retry(delivery_id), "retry delivery")

    async def _retry(self, delivery_id: str) -> None:
        outbox = self.outbox()
        self.work_started.emit("report", _("Sending the report again…"))
        try:
            outbox.retry_now(delivery_id, actor=self.session.nurse.login)
        except StationError as error:
            self._fail("report", error.message, _("Nothing to do: it was already delivered."))
            return
        config = self.runtime.outbox_config if self.runtime is not None else None
        if config is not None:
            await OutboxWorker(outbox, config, actor="station").run_once()
        self.work_finished.emit("report")

    async def report_files(self, version: ReportVersion) -> tuple[Path, Path, bytes | None]:
        """The report's PDF and FHIR files on disk, and page 1 of the PDF as PNG bytes
        when poppler's ``pdftoppm`` is installed (None otherwise)."""
        folder = self.controller.settings.home / "reports" / version.session_id
        pdf, fhir = await asyncio.to_thread(
            ReportService(self.controller.store).render_files, version, folder)
        return pdf, fhir, await asyncio.to_thread(pdf_first_page, pdf)


def pdf_first_page(pdf: Path, width_px: int = 700) -> bytes | None:
    """Page 1 of ``pdf`` as PNG bytes (poppler's pdftoppm), or None without it."""
    tool = shutil.which("pdftoppm")
    if tool is None:
        return None
    with tempfile.TemporaryDirectory() as folder:
        target = Path(folder) / "page"
        try:
            subprocess.run([tool, "-png", "-f", "1", "-l", "1", "-scale-to", str(width_px),
                            "-singlefile", str(pdf), str(target)], capture_output=True,
                           timeout=20, check=True)
            return target.with_suffix(".png").read_bytes()
        except (OSError, subprocess.SubprocessError):
            return None


def delivery_text(delivery: Delivery) -> str:
    """Where a delivery stands, with the server's reason when it was refused."""
    text = delivery.state_label
    if delivery.error_message:
        text += " — " + delivery.error_message
    return text
