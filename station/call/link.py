"""Whether the link can carry video: stop it when it cannot, bring it back when it can.

The doctor's browser reports every second or so, in RTCP receiver reports,
the fraction of our packets it lost and (with our sender reports) the round
trip. :class:`LinkPolicy` turns those samples into two decisions, with
hysteresis so a call does not flap between video and sound:

- **stop video** after ``bad_samples`` bad samples in a row (loss or round
  trip above the limits): sound and vitals need a few tens of kbit/s, two
  video streams need hundreds; on a link that drops packets, stopping video
  is what keeps the stethoscope and the voice intelligible;
- **try video again** once the sound streams alone have been clean for
  ``good_seconds``; if video fails again soon after, the next try waits
  twice as long (up to ``max_wait``).

:class:`LinkMonitor` samples a :class:`~station.call.peer.StationCall`'s
senders and applies the decisions. A choice made by a person (the doctor or
the nurse asking for audio only) is never undone by the monitor.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

log = logging.getLogger(__name__)


class Decision(enum.Enum):
    """What the link asks of the call."""

    STOP_VIDEO = "stop-video"
    RESUME_VIDEO = "resume-video"


@dataclass(frozen=True, slots=True)
class LinkSample:
    """The worst of the current receiver reports: loss fraction (0–1), round trip in seconds."""

    loss: float
    rtt: float | None


@dataclass
class LinkPolicy:
    """Hysteresis between "video on" and "sound only", fed one sample at a time."""

    bad_loss: float = 0.10
    bad_rtt: float = 1.0
    bad_samples: int = 3
    good_loss: float = 0.02
    good_rtt: float = 0.5
    good_seconds: float = 15.0
    max_wait: float = 300.0
    relapse_window: float = 60.0

    def __post_init__(self) -> None:
        self._bad_run = 0
        self._good_since: float | None = None
        self._wait = self.good_seconds
        self._resumed_at: float | None = None

    def reset(self) -> None:
        """Forget the samples (a new connection), keep the backoff."""
        self._bad_run = 0
        self._good_since = None

    def observe(self, sample: LinkSample, now: float, video_on: bool) -> Decision | None:
        """The decision this sample leads to, if any."""
        rtt = sample.rtt
        bad = sample.loss >= self.bad_loss or (rtt is not None and rtt >= self.bad_rtt)
        good = sample.loss <= self.good_loss and (rtt is None or rtt <= self.good_rtt)
        if video_on:
            self._bad_run = self._bad_run + 1 if bad else 0
            if self._bad_run < self.bad_samples:
                return None
            self._bad_run = 0
            relapsed = self._resumed_at is not None and now - self._resumed_at < self.relapse_window
            self._wait = min(self._wait * 2, self.max_wait) if relapsed else self.good_seconds
            self._good_since = None
            return Decision.STOP_VIDEO
        if not good:
            self._good_since = None
            return None
        if self._good_since is None:
            self._good_since = now
        if now - self._good_since < self._wait:
            return None
        self._good_since = None
        self._resumed_at = now
        return Decision.RESUME_VIDEO

    @property
    def wait(self) -> float:
        """Seconds of clean sound needed before the next try of video."""
        return self._wait


class _Sender(Protocol):
    async def getStats(self) -> Any: ...  # noqa: N802 - aiortc's name


def worst_sample(reports: Iterable[Any], seen: dict[str, Any]) -> LinkSample | None:
    """The worst fresh ``remote-inbound-rtp`` report among ``reports``.

    ``seen`` maps a report id to the timestamp already used, so a report
    that did not change since the last look (no receiver report came) is not
    counted twice.
    """
    loss: float | None = None
    rtt: float | None = None
    for report in reports:
        if getattr(report, "type", None) != "remote-inbound-rtp":
            continue
        key = f"{report.id}:{report.ssrc}"
        if seen.get(key) == report.timestamp:
            continue
        seen[key] = report.timestamp
        fraction = (report.fractionLost or 0) / 256.0
        loss = fraction if loss is None else max(loss, fraction)
        if report.roundTripTime is not None:
            rtt = report.roundTripTime if rtt is None else max(rtt, report.roundTripTime)
    return None if loss is None else LinkSample(loss, rtt)


class LinkMonitor:
    """Samples the senders every ``interval`` seconds and applies :class:`LinkPolicy`.

    ``senders(video_on)`` gives the senders to watch: the video ones while
    video flows, the sound ones while it does not. ``video_on()`` tells
    whether video currently flows because of the link (a person's choice of
    audio only makes the monitor stand aside). ``apply(decision)`` acts.
    """

    def __init__(self, policy: LinkPolicy, senders: Callable[[bool], Sequence[_Sender]],
                 video_on: Callable[[], bool | None], apply: Callable[[Decision], None],
                 interval: float = 2.0) -> None:
        self.policy = policy
        self._senders = senders
        self._video_on = video_on
        self._apply = apply
        self.interval = interval
        self._seen: dict[str, Any] = {}

    async def run(self) -> None:
        """Watch until cancelled."""
        self.policy.reset()
        while True:
            await asyncio.sleep(self.interval)
            video_on = self._video_on()
            if video_on is None:
                continue  # a person chose audio only: not ours to undo
            reports: list[Any] = []
            for sender in self._senders(video_on):
                try:
                    reports.extend((await sender.getStats()).values())
                except Exception:  # a sender closing under us: just skip this round
                    log.debug("stats unavailable", exc_info=True)
            sample = worst_sample(reports, self._seen)
            if sample is None:
                continue
            decision = self.policy.observe(sample, time.monotonic(), video_on)
            if decision is not None:
                log.info("link: %s (loss %.1f %%, rtt %s)", decision.value, sample.loss * 100,
                         f"{sample.rtt * 1000:.0f} ms" if sample.rtt is not None else "?")
                self._apply(decision)
