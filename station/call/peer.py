"""The station's side of a call: one RTCPeerConnection at a time, per the call contract.

:class:`StationCall` knows nothing of the signaling transport: it returns
offer SDP strings, takes answer SDP strings and announces what happens to
subscribers (habit 2). The station always offers, also to reconnect: aiortc
has no ICE restart, so :meth:`StationCall.reconnect` builds a fresh peer
connection and returns a new offer for the same session.

A dropped connection is noticed two ways: aiortc's ``connectionState``
(fast when the peer closes properly) and a heartbeat on ``control`` every
second (the only quick way when the peer vanishes: ICE consent checks in
aioice take about 30 s). Three missed heartbeats mean ``reconnecting``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from aiortc import (
    MediaStreamTrack,
    RTCBundlePolicy,
    RTCConfiguration,
    RTCDataChannel,
    RTCIceServer,
    RTCPeerConnection,
    RTCRtpSender,
    RTCSessionDescription,
)
from aiortc.codecs.opus import OpusEncoder

from devices.measurement import Measurement
from station.call import messages
from station.call.adapt import AdaptPolicy, VideoAdaptation
from station.call.bundle_sdp import candidates_in_every_section
from station.call.events import (
    AudioOnlyChanged,
    CallEvent,
    CallListener,
    CallState,
    ControlReceived,
    RemoteTrack,
    ReportDraftReceived,
    ReportValidationRequested,
    StateChanged,
)
from station.call.link import Decision, LinkMonitor, LinkPolicy
from station.call.opus import InlineOpusTrack, StethoscopeOpusEncoder, install_encoder
from station.call.pacing import ScavengerWindow
from station.call.scheduling import yield_to_loop
from station.call.sctp import tune_sctp
from station.call.tracks import BlockAudioTrack, SwitchingVideoTrack, TrackHub

tune_sctp()  # vitals on a poor link: see station/call/sctp.py

log = logging.getLogger(__name__)
STREAMS = ("room", "exam", "voice", "stethoscope")  # transceiver order of the contract
_BACKLOG = 500  # reliable messages kept while reconnecting; the oldest go first
_SNAPSHOT_BUFFER = 1 << 20  # pause snapshot chunks above 1 MiB queued in SCTP
_OPENING_GRACE = 10.0  # seconds after connecting during which only the adaptation acts
_LINK_WAIT = 0.5  # seconds between checks of whether a poor link carries video again
_WAVEFORM_BACKLOG = 4096  # bytes of waveforms queued in SCTP above which chunks are dropped


class CallError(RuntimeError):
    """The call cannot do what was asked in its present state."""


class StationCall:
    """The station's peer: tracks in contract order, five data channels, observable state.

    ``sources`` maps ``room``/``exam``/``voice``/``stethoscope`` to source
    tracks (a :class:`~station.call.tracks.CameraTrack`,
    :class:`~station.call.tracks.StethoscopeTrack`...). Each peer connection
    gets relay proxies of them, so the sources outlive reconnections. A
    missing ``voice`` is replaced by silence so every stream keeps its msid.
    """

    def __init__(self, sources: Mapping[str, MediaStreamTrack | None], *,
                 ice_servers: Sequence[RTCIceServer] | Callable[[], Sequence[RTCIceServer]],
                 hub: TrackHub | None = None,
                 context: Mapping[str, Any] | None = None, heartbeat_interval: float = 1.0,
                 missed_heartbeats: int = 3, link_policy: LinkPolicy | None = None,
                 link_interval: float = 2.0, adapt_video: bool = True) -> None:
        self._sources: dict[str, MediaStreamTrack | None] = {name: sources.get(name)
                                                             for name in STREAMS}
        # Silence keeps the voice stream (and its msid) when there is no microphone.
        self._silence = BlockAudioTrack() if self._sources["voice"] is None else None
        if self._silence is not None:
            self._sources["voice"] = self._silence
        # A callable is asked at each new connection (fresh TURN credentials).
        self._ice_servers = ice_servers if callable(ice_servers) else list(ice_servers)
        self._hub = hub or TrackHub()
        self.context = dict(context) if context is not None else None
        self.heartbeat_interval = heartbeat_interval
        self.missed_heartbeats = missed_heartbeats
        self._listeners: list[CallListener] = []
        self._pc: RTCPeerConnection | None = None
        self._senders: dict[str, RTCRtpSender] = {}
        self._switchers: dict[str, SwitchingVideoTrack] = {}  # the video senders' tracks
        self._channels: dict[str, RTCDataChannel] = {}
        self._backlog: deque[tuple[str, str]] = deque(maxlen=_BACKLOG)
        self._heartbeat: asyncio.Task[None] | None = None
        self._monitor: asyncio.Task[None] | None = None
        # Video size and frame rate follow the link (station/call/adapt.py).
        self.video_policy = AdaptPolicy() if adapt_video else None
        self._connected_at = 0.0  # monotonic time of the last connection
        # Snapshots being sent, by id, each with its pacing window and a wake-up on ack.
        self._snapshot_pacers: dict[str, tuple[ScavengerWindow, asyncio.Event]] = {}
        self._bulk_base_rtt: float | None = None  # this connection's smallest round trip
        self.video_adaptation: VideoAdaptation | None = None
        self._adapting: asyncio.Task[None] | None = None
        self.link_policy = link_policy
        self.link_interval = link_interval
        self._last_heard: float | None = None
        self._heartbeat_seq = 0
        self._report_revision = 0
        self.report_revisions: list[dict[str, Any]] = []
        self.state = CallState.NEW
        self.audio_only = False
        self.audio_only_cause: str | None = None
        # Measurements the doctor acknowledged (his heartbeats carry the last id
        # seen); ``missed_measurements(after_id)`` gives the rest from the store.
        self.missed_measurements: Callable[[int], list[tuple[int, Measurement]]] | None = None
        self._vitals_acked = 0
        self._last_sent_measurement = 0

    # --- observation ---------------------------------------------------------

    def subscribe(self, listener: CallListener) -> Callable[[], None]:
        """Call ``listener`` with every :data:`CallEvent`; returns a function that unsubscribes."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _emit(self, event: CallEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:  # a broken view must not break the call
                log.exception("call listener %r failed", listener)

    def _set_state(self, state: CallState, reason: str = "") -> None:
        if self.state in (state, CallState.ENDED):
            return
        log.info("call %s -> %s (%s)", self.state, state, reason)
        self.state = state
        if state is CallState.CONNECTED:
            self._connected_at = time.monotonic()
        self._emit(StateChanged(state, self.audio_only, reason))
        self._announce_state()

    def _announce_state(self) -> None:
        if self.state != CallState.NEW:
            self._send("vitals", messages.call_state_message(self.state.value, self.audio_only),
                       keep=False)

    # --- offer / answer ------------------------------------------------------

    async def create_offer(self) -> str:
        """Build the peer connection and return the offer SDP, all candidates gathered."""
        if self.state == CallState.ENDED:
            raise CallError("the call has ended")
        if self._pc is None:
            self._pc = self._build()
        offer = await self._pc.createOffer()
        await self._pc.setLocalDescription(offer)
        if self.state == CallState.NEW:
            self._set_state(CallState.RINGING, "offer ready")
        return str(self._pc.localDescription.sdp)

    async def accept_answer(self, sdp: str) -> None:
        """Apply the doctor's answer to the current offer."""
        if self._pc is None:
            raise CallError("no offer to answer")
        # Browsers list a bundled answer's candidates once; aiortc would miss them.
        await self._pc.setRemoteDescription(RTCSessionDescription(
            sdp=candidates_in_every_section(sdp), type="answer"))

    async def reconnect(self) -> str:
        """Drop the current connection and return a fresh offer for the same session."""
        self._set_state(CallState.RECONNECTING, "reconnecting")
        await self._teardown()
        return await self.create_offer()

    async def close(self, reason: str = "ended") -> None:
        """End the call: tell the doctor on ``control``, close everything. Idempotent."""
        if self.state == CallState.ENDED:
            return
        self._send("control", {"type": "end"}, keep=False)
        self._set_state(CallState.ENDED, reason)
        await self._teardown()
        if self._silence is not None:
            self._silence.stop()  # ends the relay's reader of it; other sources are the caller's

    # --- building one connection ---------------------------------------------

    def _build(self) -> RTCPeerConnection:
        # max-bundle: under "balanced", aiortc 1.16 leaves a second audio transceiver on a
        # transport it discards when the answer bundles everything: that stream never flows.
        self._bulk_base_rtt = None  # a new connection may take another path
        yield_to_loop()  # video work must not delay the sound (station/call/scheduling.py)
        servers = self._ice_servers() if callable(self._ice_servers) else self._ice_servers
        pc = RTCPeerConnection(RTCConfiguration(iceServers=list(servers),
                                                bundlePolicy=RTCBundlePolicy.MAX_BUNDLE))
        self._senders = {}
        self._switchers = {}
        adaptation = None if self.video_policy is None else VideoAdaptation(
            self.video_policy, lambda: (self._sources["room"], self._sources["exam"]),
            stop_video=lambda: self.set_audio_only(True, cause="link"),
            lean_audio=lambda: self.audio_only and self.audio_only_cause == "link",
            audio_senders=lambda: {n: self._senders.get(n) for n in ("voice", "stethoscope")})
        for name in STREAMS:
            source = self._sources[name]
            kind = "audio" if name in ("voice", "stethoscope") else "video"
            direction = "sendrecv" if name == "voice" else "sendonly"
            track: MediaStreamTrack | None = self._proxy(source) if source is not None and not (
                kind == "video" and self.audio_only) else None
            if kind == "video":
                # One track per video sender for the connection's life, its source
                # switched inside (see SwitchingVideoTrack: a replaced track froze it).
                self._switchers[name] = SwitchingVideoTrack(track)
                track = self._switchers[name] if track is not None else None
            # Both sounds are encoded on the loop (no thread hop: see InlineOpusTrack); the
            # voice with aiortc's own Opus settings, the stethoscope with ours.
            encoder = (StethoscopeOpusEncoder() if name == "stethoscope"
                       else OpusEncoder() if name == "voice" else None)
            if encoder is not None and track is not None:
                track = InlineOpusTrack(track, encoder)
            transceiver = pc.addTransceiver(track or kind, direction=direction)
            transceiver.sender._stream_id = name  # aiortc writes it as the msid stream id
            self._senders[name] = transceiver.sender
            if encoder is not None:
                transceiver.setCodecPreferences(_opus_only())
                install_encoder(transceiver.sender, encoder)
            elif kind == "video" and adaptation is not None:
                adaptation.install(transceiver)
        self._channels = {
            "vitals": pc.createDataChannel("vitals"),
            "waveforms": pc.createDataChannel("waveforms", ordered=False, maxRetransmits=0),
            "snapshots": pc.createDataChannel("snapshots"),
            "report": pc.createDataChannel("report"),
            "control": pc.createDataChannel("control"),
        }
        for name, channel in self._channels.items():
            channel.on("message", lambda message, name=name: self._on_message(name, message))
        self._channels["vitals"].on("open", self._on_vitals_open)
        pc.on("connectionstatechange", lambda: self._on_connection_state(pc))
        pc.on("track", lambda track: self._emit(RemoteTrack(track)))
        self._last_heard = None
        self._heartbeat = asyncio.create_task(self._beat(pc))
        if self.link_policy is not None:
            monitor = LinkMonitor(self.link_policy, self._watched_senders, self._video_on_by_link,
                                  self._on_link_decision, self.link_interval)
            self._monitor = asyncio.create_task(monitor.run(), name="link monitor")
        if adaptation is not None:
            self.video_adaptation = adaptation
            self._adapting = asyncio.create_task(adaptation.run(), name="video adaptation")
        return pc

    def _proxy(self, source: MediaStreamTrack) -> MediaStreamTrack:
        return self._hub.subscribe(source)

    async def _teardown(self) -> None:
        pc, self._pc = self._pc, None
        for task in (self._heartbeat, self._monitor, self._adapting):
            if task is not None:
                task.cancel()
        self._heartbeat = self._monitor = self._adapting = None
        self._channels = {}
        self._senders = {}
        for switcher in self._switchers.values():
            switcher.stop()  # and the camera proxy it reads (the camera goes on)
        self._switchers = {}
        if pc is not None:
            await pc.close()

    def _on_connection_state(self, pc: RTCPeerConnection) -> None:
        if pc is not self._pc:
            return  # a connection being replaced
        state = pc.connectionState
        if state == "connected":
            # The watchdog starts now: a console that never sends a heartbeat is as
            # silent as a vanished one (the contract has both sides send them).
            if self._last_heard is None:
                self._last_heard = time.monotonic()
            self._set_state(CallState.CONNECTED, "media flowing")
        elif state in ("failed", "closed", "disconnected") and self.state != CallState.NEW:
            self._set_state(CallState.RECONNECTING, f"connection {state}")

    def _on_vitals_open(self) -> None:
        if self.context is not None:
            self._send("vitals", {"type": "context", **self.context}, keep=False)
        self._announce_state()
        self._replay_missed()
        while self._backlog:
            name, text = self._backlog.popleft()
            self._channels[name].send(text)

    def _replay_missed(self) -> None:
        """Send, in order, every stored measurement the doctor has not acknowledged
        (taken during a cut, or before he joined), before anything live."""
        if self.missed_measurements is None:
            return
        for measurement_id, measurement in self.missed_measurements(self._vitals_acked):
            self._send("vitals", messages.measurement_message(measurement, None,
                                                              measurement_id), keep=False)

    # --- heartbeat ---------------------------------------------------------------

    async def _beat(self, pc: RTCPeerConnection) -> None:
        """Send a heartbeat every interval; silence after the first one heard means trouble."""
        limit = self.missed_heartbeats * self.heartbeat_interval
        while pc is self._pc:
            await asyncio.sleep(self.heartbeat_interval)
            self._heartbeat_seq += 1
            self._send("control", {"type": messages.HEARTBEAT, "seq": self._heartbeat_seq},
                       keep=False)
            # Armed from the connection on (see _on_connection_state).
            heard = self._last_heard
            if heard is not None and time.monotonic() - heard > limit \
                    and self.state == CallState.CONNECTED:
                self._set_state(CallState.RECONNECTING,
                                f"no heartbeat for {self.missed_heartbeats} s")

    # --- receiving -------------------------------------------------------------

    def _on_message(self, channel: str, message: str | bytes) -> None:
        if channel not in ("report", "control", "snapshots"):
            return  # the doctor only writes on report and control, and acknowledges stills
        try:
            parsed = messages.decode(message)
        except messages.MessageError as error:
            log.warning("bad message on %s: %s", channel, error)
            return
        if channel == "snapshots":
            if parsed["type"] == messages.SNAPSHOT_ACK:
                self._on_snapshot_ack(parsed)
            return
        if channel == "control":
            if parsed["type"] == messages.HEARTBEAT:
                self._last_heard = time.monotonic()
                acked = parsed.get("vitals")
                if isinstance(acked, int) and not isinstance(acked, bool):
                    self._vitals_acked = max(self._vitals_acked, acked)
                return
            if parsed["type"] == "audio-only":
                self.set_audio_only(bool(parsed.get("on")), cause="doctor")
            self._emit(ControlReceived(parsed))
        elif parsed["type"] == "report-validate":
            self._emit(ReportValidationRequested(parsed))
        elif parsed["type"] == "report-draft":
            self.report_revisions.append(parsed)
            self._report_revision = max(self._report_revision, int(parsed.get("revision", 0)))
            self._emit(ReportDraftReceived(parsed))

    # --- sending -------------------------------------------------------------------

    def _send(self, name: str, message: Mapping[str, Any], *, keep: bool = True) -> bool:
        """Send JSON on a channel; if it is not open, keep it for later when ``keep``."""
        text = messages.encode(message)
        channel = self._channels.get(name)
        if channel is not None and channel.readyState == "open":
            channel.send(text)
            return True
        if keep:
            self._backlog.append((name, text))
        return False

    def send_measurement(self, measurement: Measurement, stored_at: datetime | None = None,
                         measurement_id: int | None = None) -> None:
        """Send a measurement on ``vitals`` (kept and sent later while reconnecting).

        With an id, a measurement the doctor never acknowledged is replayed from
        ``missed_measurements`` when the next connection opens, so a cut loses none.
        """
        if measurement_id is not None:
            self._last_sent_measurement = max(self._last_sent_measurement, measurement_id)
            channel = self._channels.get("vitals")
            if channel is None or channel.readyState != "open":
                return  # replayed from the store when the channel opens
        self._send("vitals", messages.measurement_message(measurement, stored_at,
                                                          measurement_id))

    def send_context(self, context: Mapping[str, Any]) -> None:
        """Set the resident's context; sent now if ``vitals`` is open, and on every (re)open."""
        self.context = {key: value for key, value in context.items() if key != "type"}
        self._send("vitals", {"type": "context", **self.context}, keep=False)

    def send_vitals(self, message: Mapping[str, Any]) -> None:
        """Send another contract message on ``vitals`` (``device``, ``battery``)."""
        self._send("vitals", message)

    def send_waveform(self, kind: str, rate: float, start: Any, samples: Sequence[float]) -> bool:
        """Send a pleth/phono chunk on the unreliable ``waveforms`` channel (dropped if closed,
        or if the link is not keeping up: live drawing is worth nothing late, and a
        backlog of it would hold up the vitals sharing the association)."""
        channel = self._channels.get("waveforms")
        if channel is not None and channel.bufferedAmount > _WAVEFORM_BACKLOG:
            return False
        return self._send("waveforms", messages.waveform_message(kind, rate, start, samples),
                          keep=False)

    def send_report_draft(self, fields: Mapping[str, Any], author: str = "nurse") -> int:
        """Send the nurse's revision of the report; returns its revision number."""
        self._report_revision += 1
        message = messages.report_draft_message(self._report_revision, author, fields)
        self.report_revisions.append(message)
        self._send("report", message)
        return self._report_revision

    def send_report_message(self, message: Mapping[str, Any]) -> None:
        """Send another ``report`` message (``report-validated``, ``report-error``)."""
        self._send("report", message)

    def send_control(self, message: Mapping[str, Any]) -> bool:
        """Send a control message (``switch-exam``...) if ``control`` is open."""
        return self._send("control", message, keep=False)

    async def send_snapshot(self, png: bytes, meta: Mapping[str, Any]) -> str:
        """Send a PNG on ``snapshots`` in ≤ 16 KiB chunks; returns its id (channel must be open).

        The chunks are paced by the console's ``snapshot-ack`` messages
        (:mod:`station.call.pacing`): the still takes the link's spare
        capacity, not the live media's. A receiver that never acknowledges
        gets the rest unpaced, as fast as SCTP's buffer drains.
        """
        channel = self._channels.get("snapshots")
        if channel is None or channel.readyState != "open":
            raise CallError("snapshots channel is not open")
        snapshot_id = uuid.uuid4().hex
        channel.bufferedAmountLowThreshold = _SNAPSHOT_BUFFER // 2
        pacer = ScavengerWindow(base_rtt=self._bulk_base_rtt)
        progress = asyncio.Event()
        self._snapshot_pacers[snapshot_id] = (pacer, progress)
        paced = True
        try:
            for part in messages.snapshot_messages(snapshot_id, png, meta):
                if isinstance(part, bytes) and paced:
                    paced = await self._pace(pacer, progress, len(part), channel)
                if channel.bufferedAmount > _SNAPSHOT_BUFFER:
                    drained = asyncio.Event()
                    channel.once("bufferedamountlow", drained.set)
                    await drained.wait()
                if channel.readyState != "open":
                    raise CallError("snapshots channel closed while sending")
                channel.send(part)
                if isinstance(part, bytes):
                    pacer.sent(len(part), time.monotonic())
        finally:
            del self._snapshot_pacers[snapshot_id]
            self._bulk_base_rtt = pacer.base_rtt
        log.info("snapshot sent: %d bytes, window %.0f KiB, round trip %.0f ms (base %.0f ms)%s",
                 len(png), pacer.window / 1024, pacer.rtt() * 1000,
                 (pacer.base_rtt or 0) * 1000, "" if paced else ", unpaced (no acknowledgement)")
        return snapshot_id

    async def _pace(self, pacer: ScavengerWindow, progress: asyncio.Event, size: int,
                    channel: RTCDataChannel) -> bool:
        """Wait until ``pacer`` lets ``size`` bytes go; False when the receiver has never
        acknowledged anything (an older console: the caller then sends unpaced)."""
        # A link too poor for video is too poor for a still: the vitals and the sound go
        # first (measured on the poor profile: with a still under way, vitals stopped
        # arriving for the whole window). The still goes on when video comes back.
        while self.audio_only and self.audio_only_cause == "link" and self._pc is not None:
            await asyncio.sleep(_LINK_WAIT)
        while (wait := pacer.wait_before(size, time.monotonic())) > 0:
            if channel.readyState != "open":
                raise CallError("snapshots channel closed while sending")
            if pacer.stalled(time.monotonic()):
                if pacer.never_acknowledged():
                    log.warning("the doctor's console does not acknowledge snapshot chunks:"
                                " sending the rest unpaced")
                    return False
                # Acknowledgements stopped coming: loss on the link, not an old console.
                log.info("snapshot: no acknowledgement for a while, sending slower")
                pacer.back_off(time.monotonic())
            progress.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(progress.wait(), wait)
        return True

    def _on_snapshot_ack(self, parsed: Mapping[str, Any]) -> None:
        entry = self._snapshot_pacers.get(str(parsed.get("id", "")))
        received = parsed.get("received")
        if entry is None or not isinstance(received, int) or isinstance(received, bool):
            return
        pacer, progress = entry
        pacer.acked(received, time.monotonic())
        progress.set()

    # --- media switches --------------------------------------------------------------

    def set_audio_only(self, on: bool, cause: str = "nurse") -> None:
        """Stop (or resume) both videos; sound and data channels go on.

        ``cause`` is who decided: ``doctor``, ``nurse`` or ``link`` (the
        station itself, the link being too poor for video). The doctor is
        told of any choice that is not his own.
        """
        if on == self.audio_only:
            return
        self.audio_only = on
        self.audio_only_cause = cause if on else None
        for name in ("room", "exam"):
            self._replace(name, None if on else self._sources[name])
        if cause != "doctor":
            self._send("control", {"type": "audio-only", "on": on, "cause": cause}, keep=False)
        self._emit(AudioOnlyChanged(on, cause))
        if self.state != CallState.NEW:
            self._emit(StateChanged(self.state, on, "audio only" if on else "video back"))
            self._announce_state()

    # --- the link's own decisions --------------------------------------------------

    def _video_on_by_link(self) -> bool | None:
        """True while video flows, False while the link stopped it, None if a person did."""
        if not self.audio_only:
            return True
        return False if self.audio_only_cause == "link" else None

    def _watched_senders(self, video_on: bool) -> list[RTCRtpSender]:
        names = ("room", "exam") if video_on else ("voice", "stethoscope")
        return [self._senders[name] for name in names
                if name in self._senders and self._senders[name].track is not None]

    def _on_link_decision(self, decision: Decision) -> None:
        if self.state != CallState.CONNECTED:
            return
        if decision is Decision.STOP_VIDEO and self._adaptation_still_trying():
            # The adaptation steps the video down first; the monitor's coarser rule
            # stopped video on a burst of loss a 4G link recovers from
            # (docs/network-profiles.md). Once at its smallest rung, past the opening,
            # the monitor's stop stands (the adaptation's own needs the browser's
            # estimate to fall, which loss alone does not do).
            log.info("link: loss, but the video adaptation is still stepping down")
            return
        self.set_audio_only(decision is Decision.STOP_VIDEO, cause="link")

    def _adaptation_still_trying(self) -> bool:
        """True while the video adaptation runs and is still stepping down (above its
        smallest rung), or the connection is in its first :data:`_OPENING_GRACE` seconds
        (keyframes and the first still make a burst of loss a 4G link recovers from)."""
        policy = self.video_policy
        if self._adapting is None or policy is None:
            return False
        opening = time.monotonic() - self._connected_at < _OPENING_GRACE
        return opening or policy.bottom_since is None

    def replace_exam(self, source: MediaStreamTrack | None) -> None:
        """Show another exam camera (otoscope ↔ dermatoscope) on the ``exam`` stream."""
        self._sources["exam"] = source
        if not self.audio_only:
            self._replace("exam", source)

    def _replace(self, name: str, source: MediaStreamTrack | None) -> None:
        sender, switcher = self._senders.get(name), self._switchers.get(name)
        if sender is None or switcher is None:
            return
        # The sender keeps awaiting the switcher, whose pending read moves to the new
        # source at once; with no source (video stopped) the sender has no track.
        switcher.switch(self._proxy(source) if source is not None else None)
        sender.replaceTrack(switcher if source is not None else None)

    def sender(self, name: str) -> RTCRtpSender | None:
        """The current sender of stream ``name`` (for stats and checks)."""
        return self._senders.get(name)


def _opus_only() -> list[Any]:
    """Opus alone for the stethoscope: the forced encoder is an Opus encoder."""
    return [codec for codec in RTCRtpSender.getCapabilities("audio").codecs
            if codec.mimeType.lower() == "audio/opus"]
