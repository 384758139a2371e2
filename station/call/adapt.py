"""Video that fits the link: lower size and frame rate by itself, come back up with care.

aiortc has no simulcast, and its VP8 encoder only moves its bitrate between
250 kbit/s and 1.5 Mbit/s when the browser's REMB says so; worse, the REMB
carries the *total* estimate for every video stream and aiortc gives each
stream all of it, and every change of more than 10 % rebuilds the encoder
(a keyframe each time). On a 1 Mbit/s 4G link two 720p streams cannot fit:
the modem's queue fills, packets drop, pictures freeze, and the call ends up
losing video altogether.

So the station chooses, for both videos at once, a rung of :data:`LADDER`
(size and frame rate, 16:9 throughout, and a bitrate range), starting at
640x360 (:data:`START_LEVEL`):

- **down** at once when the doctor's receiver reports show congestion: loss
  ≥ 5 % over the last 3 s (:class:`LossWindow`, both streams together: one
  report's ``fractionLost`` is too noisy at small video's packet rates), or
  the round trip ``queue_rtt`` above the lowest seen (the bottleneck's queue
  filling); two rungs when it is severe;
- **up** one rung after a clean run (2 s until a first fall, then
  ``up_after``, doubled each time a rung fails within ``relapse_window``),
  once the browser's estimate is ``up_gate`` times the floor of the rung
  above for both videos (a receiver's estimate rises above what it receives
  only while it sees no queue building). The rung above's, not the current
  one's: gated on the current floor, a 1 Mbit/s 4G link climbed from
  640x360 to 960x540 (2 x 550 kbit/s floor) and froze there 2.7 s. The
  estimate never takes a rung down by itself: a receiver's estimate only
  grows to about 1.5 times what it receives, so it is low at the start of
  any call;
- within a rung, the encoders' bitrate follows the estimate shared between
  the streams, seldom (each change is a keyframe in aiortc);
- **stop video** when even the bottom rung drowns the link (``exhausted``:
  loss ≥ 15 % after ``exhaust_after`` s at the bottom, and the browser's
  estimate below what the bottom rung needs): the call goes audio only
  (cause ``link``); the link monitor
  (:mod:`station.call.link`) brings video back as before. While the link
  keeps video stopped, the two Opus streams are made leaner
  (:data:`LEAN_AUDIO_BITRATES`): two 96 kbit/s streams are 243 kbit/s on the
  wire, a 256 kbit/s link full.

:class:`AdaptPolicy` is the decision, fed one sample at a time (unit-tested
on fixtures). :class:`VideoAdaptation` applies it to one connection: it gives
each video sender an :class:`AdaptiveVp8Encoder` (which hears the REMB and
uses the policy's bitrate), samples the video senders' receiver reports every
``interval`` seconds and sets the rung on the cameras' tracks
(:meth:`~station.call.tracks.CameraTrack.set_output`) and the encoders. The
policy lives on the call, so a rung survives reconnections; the round-trip
baseline does not.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from aiortc import RTCRtpSender, RTCRtpTransceiver
from aiortc.codecs.vpx import Vp8Encoder

from station.call.link import LinkSample, worst_sample

log = logging.getLogger(__name__)

# RTCRtpSender keeps its encoder in a name-mangled private attribute (see opus.py).
_SENDER_ENCODER = "_RTCRtpSender__encoder"
_VP8_TARGET = "_Vp8Encoder__target_bitrate"


@dataclass(frozen=True, slots=True)
class Level:
    """One rung: what each video stream sends, and the bitrates it is given."""

    width: int
    height: int
    fps: float
    max_bitrate: int  # bit/s per stream on a clean link
    min_bitrate: int  # the floor when the browser's estimate asks for less

    @property
    def label(self) -> str:
        return f"{self.width}x{self.height}@{self.fps:g}"


LADDER: tuple[Level, ...] = (
    Level(1280, 720, 30, 1_500_000, 1_000_000),  # as shipped; 1.5 Mbit/s is aiortc's ceiling
    Level(960, 540, 25, 900_000, 550_000),
    Level(640, 360, 20, 450_000, 300_000),
    Level(480, 270, 15, 250_000, 170_000),
    Level(320, 180, 10, 130_000, 80_000),
)
START_LEVEL = len(LADDER) - 1  # until the first round trip is known: fits even a poor link
OPEN_LEVEL = 2  # where a call opens when its round trip is not that of a fast link


@dataclass
class AdaptPolicy:
    """Chooses the rung from receiver reports, and the encoders' bitrate within it
    from the browser's estimate (REMB: the rate the video streams may use
    together; the sound carries no send-time stamps, so it is for video).

    The estimate never takes the rung down: a receiver's estimate only grows
    to about 1.5 times what it receives, so at the start of a call it is low
    without meaning congestion. The rung goes down on evidence of congestion
    (loss, a filling queue) and up after a clean run, one rung at a time, once
    the estimate leaves each stream at least the next rung's floor.
    """

    ladder: tuple[Level, ...] = LADDER
    level: int = START_LEVEL
    headroom: float = 0.8  # share of the estimate the videos may use
    congested_loss: float = 0.05
    severe_loss: float = 0.15
    queue_rtt: float = 0.25  # s of round trip above the lowest seen: a filling queue
    severe_queue_rtt: float = 0.5
    clean_loss: float = 0.03
    clean_queue_rtt: float = 0.1
    start_up_after: float = 2.0  # seconds of clean link before climbing, until a first fall
    up_after: float = 10.0  # ... after it
    max_up_after: float = 160.0
    relapse_window: float = 30.0
    up_gate: float = 1.0  # climb once the estimate covers the rung above's floor, both videos
    # A round trip this low is a fixed or fibre link, not a cellular one (4G: 60-200 ms
    # queue empty): the call opens at full size there, and climbs back without waiting for
    # the estimate (which a small video cannot raise: aiortc cannot pad or probe).
    fast_rtt: float = 0.1
    open_rtt: float = 0.25  # above this (or losing), the call opens at the bottom rung
    opened: bool = False  # the first round trip has chosen the opening rung
    retune_after: float = 3.0  # s between bitrate changes (each one is a keyframe in aiortc)
    retune_change: float = 0.25  # relative change worth a new bitrate
    exhaust_after: float = 4.0  # s at the bottom rung (more than the loss window) still
    # losing severely: stop video
    _bitrate: int = field(default=0, init=False)
    _min_rtt: float | None = field(default=None, init=False)
    _clean_since: float | None = field(default=None, init=False)
    _raised_at: float | None = field(default=None, init=False)
    _retuned_at: float | None = field(default=None, init=False)
    _wait: float = field(default=0.0, init=False)
    _bottom_since: float | None = field(default=None, init=False)
    exhausted: bool = field(default=False, init=False)

    def __post_init__(self) -> None:
        self._wait = self.start_up_after
        self._bitrate = self.current.max_bitrate

    @property
    def current(self) -> Level:
        return self.ladder[self.level]

    @property
    def bitrate(self) -> int:
        """Bit/s each video encoder is given now."""
        return self._bitrate

    @property
    def wait(self) -> float:
        """Seconds of clean link needed before the next rung up."""
        return self._wait

    @property
    def bottom_since(self) -> float | None:
        """Since when (monotonic s) the smallest rung has been held, None above it."""
        return self._bottom_since

    def reset(self, now: float | None = None) -> None:
        """A new connection, or video back after a stop: forget the round-trip baseline
        and the clean run, keep the rung; the bottom rung gets a new grace period."""
        self._min_rtt = None
        self._clean_since = None
        self.exhausted = False
        if now is not None and self._bottom_since is not None:
            self._bottom_since = now

    def share(self, estimate: float | None, streams: int) -> float | None:
        """Bit/s each video stream may use according to the browser's estimate."""
        if estimate is None or streams <= 0:
            return None
        return estimate * self.headroom / streams

    def observe(self, now: float, sample: LinkSample | None, estimate: float | None,
                streams: int = 2) -> Level | None:
        """The new rung if this sample changes it, else None (:attr:`bitrate` may change)."""
        loss = sample.loss if sample is not None else 0.0
        queue = 0.0
        if sample is not None and sample.rtt is not None:
            self._min_rtt = sample.rtt if self._min_rtt is None else min(self._min_rtt,
                                                                         sample.rtt)
            queue = sample.rtt - self._min_rtt
        share = self.share(estimate, streams)
        bottom = len(self.ladder) - 1
        if self.level == bottom and self._bottom_since is None:
            self._bottom_since = now  # started there: the grace period runs from now
        if not self.opened and sample is not None and sample.rtt is not None:
            return self._open(now, sample, share)
        steps = 0
        if loss >= self.severe_loss or queue >= self.severe_queue_rtt:
            steps = 2
        elif loss >= self.congested_loss or queue >= self.queue_rtt:
            steps = 1
        # Even the smallest video drowns the link: the sound needs it (the call stops
        # video, as the link monitor would after longer, before the heartbeats drown).
        # Loss, not the queue: a queue filled by a rung above drains once the bottom
        # rung takes effect, a link that cannot carry even that keeps losing.
        # And only if the browser's estimate does not leave room for the bottom rung
        # (on a 1 Mbit/s 4G link it does: losses there come and go).
        self.exhausted = (loss >= self.severe_loss and self.level == bottom
                          and self._bottom_since is not None
                          and now - self._bottom_since >= self.exhaust_after
                          and (estimate is None
                               or estimate < streams * self.ladder[bottom].max_bitrate))
        if steps and self.level < bottom:
            return self._move(min(bottom, self.level + steps), now, share)
        clean = (sample is not None and loss <= self.clean_loss
                 and queue <= self.clean_queue_rtt)
        if steps or not clean:
            self._clean_since = None
            if steps:  # at the bottom already: as little as the rung allows
                self._retune(now, self.current.min_bitrate)
            return None
        # The receiver's estimate grows up to ~1.5 x what it receives while it sees no
        # queue building: above what is sent, the link has room for more.
        above = self.ladder[max(0, self.level - 1)]
        room = (estimate is None or estimate >= self.up_gate * streams * above.min_bitrate
                or (self._min_rtt is not None and self._min_rtt <= self.fast_rtt))
        if self.level > 0 and room and self.opened:
            if self._clean_since is None:
                self._clean_since = now
            if now - self._clean_since >= self._wait:
                return self._move(self.level - 1, now, share)
        else:
            self._clean_since = None
        self._retune(now, share if share is not None else self.current.max_bitrate)
        return None

    def _open(self, now: float, sample: LinkSample, share: float | None) -> Level | None:
        """The first round trip chooses where the call opens: full size on a fast link
        (a good link holds 720p from the first seconds), :data:`OPEN_LEVEL` on a
        cellular one, the bottom rung (as started) on a slow or losing one."""
        self.opened = True
        rtt = sample.rtt if sample.rtt is not None else math.inf
        clean = sample.loss < self.congested_loss
        level = 0 if clean and rtt <= self.fast_rtt else (
            min(OPEN_LEVEL, self.level) if clean and rtt <= self.open_rtt else self.level)
        if level == self.level:
            return None
        self._wait = self.start_up_after  # opening is not a failed climb
        moved = self._move(level, now, share)
        self._raised_at = None
        return moved

    def _retune(self, now: float, share: float) -> None:
        """Follow the estimate within the rung, seldom (each change is a keyframe)."""
        target = int(max(self.current.min_bitrate, min(share, self.current.max_bitrate)))
        if abs(target - self._bitrate) < self._bitrate * self.retune_change:
            return
        if self._retuned_at is not None and now - self._retuned_at < self.retune_after \
                and target > self._bitrate:
            return  # going down is never postponed
        self._bitrate = target
        self._retuned_at = now

    def _move(self, level: int, now: float, share: float | None) -> Level:
        if level > self.level:  # down
            relapsed = self._raised_at is not None and now - self._raised_at < self.relapse_window
            if relapsed:
                self._wait = min(max(self._wait, self.up_after) * 2, self.max_up_after)
            else:
                self._wait = max(self._wait, self.up_after)
            self._raised_at = None
        else:
            self._raised_at = now
        self.level = level
        self._clean_since = None
        self._bottom_since = now if level == len(self.ladder) - 1 else None
        rung = self.current
        wanted = rung.max_bitrate if share is None else share
        self._bitrate = int(max(rung.min_bitrate, min(wanted, rung.max_bitrate)))
        self._retuned_at = now
        return rung


class AdaptiveVp8Encoder(Vp8Encoder):
    """aiortc's VP8 encoder at the rung's bitrate; the REMB it is given is only noted.

    aiortc's sender sets ``target_bitrate`` on every REMB (the total for all
    video streams); here that becomes :attr:`estimate`, read by
    :class:`VideoAdaptation`, and the encoder keeps the bitrate set with
    :meth:`set_bitrate` (so it is rebuilt, with a keyframe, only when the
    rung changes). Below aiortc's 250 kbit/s floor is allowed.
    """

    def __init__(self, bitrate: int = LADDER[START_LEVEL].min_bitrate) -> None:
        super().__init__()
        self.estimate: float | None = None
        self.estimated_at: float | None = None
        self._bitrate = bitrate
        setattr(self, _VP8_TARGET, bitrate)

    @property
    def target_bitrate(self) -> int:
        return self._bitrate

    @target_bitrate.setter
    def target_bitrate(self, bitrate: int) -> None:
        self.estimate = float(bitrate)
        self.estimated_at = time.monotonic()

    def set_bitrate(self, bitrate: int) -> None:
        self._bitrate = int(bitrate)
        setattr(self, _VP8_TARGET, int(bitrate))


class LossWindow:
    """Packet loss over the last ``span`` seconds, all streams together.

    One receiver report's ``fractionLost`` is too noisy to act on at the
    packet rates of small video (at 15 packets a second, a single loss reads
    as 7 %); the cumulative counters of the reports, summed over a few
    seconds and both streams, are not.
    """

    def __init__(self, span: float = 3.0) -> None:
        self.span = span
        self._last: dict[str, tuple[int, int]] = {}
        self._deltas: deque[tuple[float, int, int]] = deque()

    def add(self, reports: Iterable[Any], now: float) -> None:
        lost = total = 0
        for report in reports:
            if getattr(report, "type", None) != "remote-inbound-rtp":
                continue
            key = str(report.ssrc)
            counts = (int(report.packetsLost or 0),
                      int(report.packetsLost or 0) + int(report.packetsReceived or 0))
            before = self._last.get(key)
            self._last[key] = counts
            if before is not None and counts[1] >= before[1]:
                lost += max(0, counts[0] - before[0])
                total += counts[1] - before[1]
        self._deltas.append((now, lost, total))
        while self._deltas and now - self._deltas[0][0] > self.span:
            self._deltas.popleft()

    def loss(self) -> float | None:
        lost = sum(d[1] for d in self._deltas)
        total = sum(d[2] for d in self._deltas)
        return min(1.0, lost / total) if total > 0 else None


LEAN_AUDIO_BITRATES = {"stethoscope": 48_000, "voice": 24_000}
FULL_AUDIO_BITRATE = 96_000  # aiortc's; used when an encoder's own bitrate is unknown


def set_opus_bitrate(sender: RTCRtpSender | None, bitrate: int) -> bool:
    """Give ``sender``'s Opus encoder a new libopus context at ``bitrate``, with every
    other setting of its kind (PyAV cannot change an open encoder's bitrate).
    Timestamps go on: aiortc derives them from the frames, not the context."""
    encoder = getattr(sender, _SENDER_ENCODER, None) if sender is not None else None
    codec = getattr(encoder, "codec", None)
    if encoder is None or codec is None or getattr(codec, "bit_rate", None) == bitrate:
        return False
    fresh = type(encoder)()
    fresh.codec.bit_rate = bitrate
    encoder.codec = fresh.codec
    return True


class Scalable(Protocol):
    """A video source whose output the adaptation can set (a CameraTrack)."""

    def set_output(self, width: int, height: int, fps: float | None = None) -> None: ...


class VideoAdaptation:
    """Applies :class:`AdaptPolicy` to a call's video senders and camera tracks.

    ``sources()`` gives the call's current video sources (those with a
    ``set_output`` are scaled). :meth:`install` is called for each video
    transceiver as a connection is built, :meth:`run` watches until cancelled.
    """

    def __init__(self, policy: AdaptPolicy, sources: Callable[[], Iterable[object]],
                 interval: float = 1.0, *, stop_video: Callable[[], None] | None = None,
                 lean_audio: Callable[[], bool] | None = None,
                 audio_senders: Callable[[], dict[str, RTCRtpSender | None]] | None = None
                 ) -> None:
        self.policy = policy
        self._sources = sources
        self._stop_video = stop_video
        self._lean_audio = lean_audio
        self._audio_senders = audio_senders
        self._lean: bool = False  # the sound as built: full bitrate
        self._full: dict[str, int] = {}  # each audio stream's bitrate before leaning
        self.interval = interval
        self._senders: list[RTCRtpSender] = []
        self._encoders: list[AdaptiveVp8Encoder] = []
        self._seen: dict[str, Any] = {}
        self._loss = LossWindow()
        self.changes: list[tuple[float, str]] = []

    def install(self, transceiver: RTCRtpTransceiver) -> None:
        """Give a video transceiver VP8 (with its RTX) and an :class:`AdaptiveVp8Encoder`."""
        codecs = [codec for codec in RTCRtpSender.getCapabilities("video").codecs
                  if codec.mimeType.lower() in ("video/vp8", "video/rtx")]
        transceiver.setCodecPreferences(codecs)
        sender = transceiver.sender
        if not hasattr(sender, _SENDER_ENCODER):
            log.warning("aiortc's sender changed: video adaptation disabled for it")
            return
        encoder = AdaptiveVp8Encoder(self.policy.bitrate)
        setattr(sender, _SENDER_ENCODER, encoder)
        self._senders.append(sender)
        self._encoders.append(encoder)

    def estimate(self) -> float | None:
        """The browser's latest total estimate for the video streams (REMB), if fresh."""
        now = time.monotonic()
        fresh = [(e.estimated_at, e.estimate) for e in self._encoders
                 if e.estimate is not None and e.estimated_at is not None
                 and now - e.estimated_at < 5.0]
        return max(fresh)[1] if fresh else None

    def apply(self) -> None:
        """Set the current rung on the sources and encoders (idempotent)."""
        level = self.policy.current
        for source in self._sources():
            set_output = getattr(source, "set_output", None)
            if set_output is not None:
                set_output(level.width, level.height, level.fps)
        for encoder in self._encoders:
            if encoder.target_bitrate != self.policy.bitrate:
                encoder.set_bitrate(self.policy.bitrate)

    async def run(self) -> None:
        """Sample every ``interval`` s while video flows; until cancelled."""
        self.policy.reset(time.monotonic())
        self.apply()
        flowing = True
        while True:
            await asyncio.sleep(self.interval)
            self._tune_audio()
            active = [s for s in self._senders if s.track is not None]
            if not active:
                flowing = False
                continue  # video stopped (by a person or the link): nothing to adapt
            if not flowing:  # video back: what was seen before the stop is stale
                flowing = True
                self.policy.reset(time.monotonic())
                self._loss = LossWindow()
                self._seen.clear()
                continue
            reports: list[Any] = []
            for sender in active:
                try:
                    reports.extend((await sender.getStats()).values())
                except Exception:  # a sender closing under us
                    log.debug("stats unavailable", exc_info=True)
            now = time.monotonic()
            fresh = worst_sample(reports, self._seen)
            self._loss.add(reports, now)
            loss = self._loss.loss()
            sample = None if fresh is None else LinkSample(
                fresh.loss if loss is None else loss, fresh.rtt)
            estimate = self.estimate()
            level = self.policy.observe(now, sample, estimate, len(active))
            if level is not None:
                log.info("video: %s at %d kbit/s (loss %s, rtt %s, estimate %s)", level.label,
                         self.policy.bitrate // 1000,
                         f"{sample.loss * 100:.1f} %" if sample else "?",
                         f"{sample.rtt * 1000:.0f} ms" if sample and sample.rtt else "?",
                         f"{estimate / 1000:.0f} kbit/s" if estimate else "?")
                self.changes.append((time.monotonic(), level.label))
            if self.policy.exhausted and self._stop_video is not None:
                log.info("video: even %s does not fit the link, stopping it",
                         self.policy.current.label)
                self._stop_video()
            self.apply()

    def _tune_audio(self) -> None:
        """Leaner Opus while the link has stopped video (sound is then all that
        matters, and two 96 kbit/s streams nearly fill a 256 kbit/s link)."""
        if self._lean_audio is None or self._audio_senders is None:
            return
        lean = self._lean_audio()
        if lean == self._lean:
            return
        self._lean = lean
        for name, sender in self._audio_senders().items():
            codec = getattr(getattr(sender, _SENDER_ENCODER, None), "codec", None)
            if lean and codec is not None:  # each encoder's own, to give back (opus.py's...)
                self._full.setdefault(name, int(getattr(codec, "bit_rate", 0)
                                                or FULL_AUDIO_BITRATE))
            bitrate = LEAN_AUDIO_BITRATES.get(name, FULL_AUDIO_BITRATE) if lean \
                else self._full.get(name, FULL_AUDIO_BITRATE)
            if set_opus_bitrate(sender, bitrate):
                log.info("audio: %s at %d kbit/s", name, bitrate // 1000)

