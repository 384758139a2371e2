"""Bulk data that yields to the live call: a delay-based window for snapshots.

A full-resolution snapshot is several megabytes. Handed to SCTP at once, it
is sent as fast as SCTP's loss-based congestion control allows: it fills
whatever buffer sits at the link's bottleneck (a 4G modem holds about half a
second) before anything is lost. Measured on the emulated 20 Mbit/s link
(docs/network-profiles.md): a 6 MB dermatoscope still went out at ~28 Mbit/s
for 2 s, the bottleneck queue reached its 0.5 s limit and dropped 430–860
frames, most of them the videos' and the stethoscope's. On a 1 Mbit/s link
the same still would hold the queue full for a minute.

So the station sends snapshots as a *scavenger*, in the manner of LEDBAT
(RFC 6817): the console acknowledges every chunk it has received
(``snapshot-ack`` with the bytes received so far), each acknowledgement gives
a round-trip sample, and the extra delay over the smallest round trip seen
is the queue this transfer (or anything else) builds at the bottleneck. The
window of unacknowledged bytes grows while that queue stays under
:data:`TARGET_QUEUE_S` and shrinks above it, halving when the queue passes
twice the target, so a snapshot takes the link's spare capacity and leaves
the media their room. Sends are paced over the round trip (a window sent in
one burst would itself be a queue on a slow link).

:class:`ScavengerWindow` is the arithmetic alone (times are given, nothing
waits); :meth:`station.call.peer.StationCall.send_snapshot` drives it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

TARGET_QUEUE_S = 0.050  # queueing delay the transfer aims at (LEDBAT allows up to 100 ms)
INITIAL_WINDOW = 16 * 1024  # one chunk: the first round trip costs a slow link little
MIN_WINDOW = 2 * 1024  # below a chunk, chunks are spaced out instead (about 100 kbit/s on 4G)
MAX_WINDOW = 16 * 1024 * 1024
CHUNK = 16 * 1024  # LEDBAT's MSS: the growth unit per round trip
FIRST_RTT_S = 0.100  # assumed until the first sample
RECENT_SAMPLES = 4  # the current delay is the smallest of the last few (jitter filter)
NO_ACK_TIMEOUT_S = 3.0  # a receiver that acknowledged before, silent this long: back off
# A receiver that never acknowledged, this long after the first chunk, does not (an
# older console). Longer: on a 1 Mbit/s 4G link a first chunk lost behind a full queue
# took over 3 s, and the still then went out unpaced into the call's media.
FIRST_ACK_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class _Sent:
    end: int  # bytes sent up to and including this chunk
    at: float


class ScavengerWindow:
    """How many bytes of a bulk transfer may be in flight, and when the next may go.

    ``base_rtt`` carries the smallest round trip seen by an earlier transfer
    on the same connection (:attr:`base_rtt` after it), so a second snapshot
    does not mistake a standing queue for the link's own delay.
    """

    def __init__(self, base_rtt: float | None = None) -> None:
        self.window = float(INITIAL_WINDOW)
        self.base_rtt = base_rtt
        self.srtt: float | None = None
        self.sent_bytes = 0
        self.acked_bytes = 0
        self.queue_delay = 0.0
        self.slow_start = True
        self._recent: deque[float] = deque(maxlen=RECENT_SAMPLES)
        self._outstanding: deque[_Sent] = deque()
        self._last_send = -1e9
        self._last_cut = -1e9
        self._last_progress: float | None = None

    @property
    def in_flight(self) -> int:
        """Bytes sent and not yet acknowledged."""
        return self.sent_bytes - self.acked_bytes

    def rtt(self) -> float:
        """The smoothed round trip, or a guess before the first sample."""
        return self.srtt if self.srtt is not None else FIRST_RTT_S

    def piece_size(self) -> int:
        """How many bytes to send as the next message: a quarter of the window, between
        1 and 16 KiB. On a 1 Mbit/s link a 16 KiB message alone is 130 ms of queue
        (SCTP sends a message's packets back to back), more than the target."""
        return int(min(CHUNK, max(1024, self.window // 4 // 1024 * 1024)))

    def wait_before(self, size: int, now: float) -> float:
        """Seconds to wait before sending ``size`` more bytes (0: send now).

        Sends are spaced by ``size / window`` of a round trip, so a window
        goes out evenly over the round trip; and nothing goes while a full
        window is unacknowledged (a window under one chunk allows a single
        chunk in flight).
        """
        if self.in_flight > 0 and self.in_flight + size > max(self.window, size):
            return self.rtt() / 4  # wait for acknowledgements (woken early by one)
        spacing = self.rtt() * size / self.window
        return max(0.0, self._last_send + spacing - now)

    def sent(self, size: int, now: float) -> None:
        """Record ``size`` bytes handed to the channel at ``now``."""
        self.sent_bytes += size
        self._outstanding.append(_Sent(self.sent_bytes, now))
        self._last_send = now
        if self._last_progress is None:
            self._last_progress = now

    def acked(self, received: int, now: float) -> None:
        """The receiver has ``received`` bytes of the transfer: grow or shrink."""
        if received <= self.acked_bytes or received > self.sent_bytes:
            return  # old, duplicate or impossible: nothing learnt
        newly = received - self.acked_bytes
        self.acked_bytes = received
        self._last_progress = now
        sample: float | None = None
        newly = min(newly, CHUNK)  # a jump (after a retransmission) is not a round's growth
        while self._outstanding and self._outstanding[0].end <= received:
            record = self._outstanding.popleft()
            if record.end == received:
                sample = now - record.at
        if sample is None:
            return  # an acknowledgement between chunk boundaries: no clean sample
        self._learn(sample)
        self._resize(newly, now)

    def stalled(self, now: float) -> bool:
        """True when bytes are in flight and nothing was acknowledged for a long time
        (a receiver that does not acknowledge, or a lossy or dead link)."""
        limit = FIRST_ACK_TIMEOUT_S if self.never_acknowledged() else NO_ACK_TIMEOUT_S
        return (self.in_flight > 0 and self._last_progress is not None
                and now - self._last_progress > max(limit, 4 * self.rtt()))

    def never_acknowledged(self) -> bool:
        """True while no acknowledgement at all has come: with :meth:`stalled`, a
        receiver that does not acknowledge (an older console), not a lossy link."""
        return self.acked_bytes == 0

    def back_off(self, now: float) -> None:
        """A receiver that acknowledged before has gone quiet: the link is losing (SCTP
        retransmits; a reliable channel's acknowledgements all arrive in the end) or
        gone. Shrink to the smallest window and start the silence count anew.

        Measured on the 4G-weak profile (1 % loss, 180 ms): going unpaced there sent
        megabytes into a 1 Mbit/s link, filled its queue and cost the stethoscope
        2 % of its packets."""
        self.window = float(MIN_WINDOW)
        self.slow_start = False
        self._last_cut = now
        self._last_progress = now

    def _learn(self, sample: float) -> None:
        self.base_rtt = sample if self.base_rtt is None else min(self.base_rtt, sample)
        self.srtt = sample if self.srtt is None else 0.875 * self.srtt + 0.125 * sample
        self._recent.append(sample)
        # In slow start the latest sample decides (leaving it early only slows the ramp);
        # after, the smallest of the last few, so one jittered sample does not cut.
        current = sample if self.slow_start else min(self._recent)
        self.queue_delay = max(0.0, current - self.base_rtt)

    def _resize(self, newly: int, now: float) -> None:
        if self.slow_start and self.queue_delay < TARGET_QUEUE_S / 2:
            self.window += newly  # doubles every round trip
        else:
            self.slow_start = False
            off_target = (TARGET_QUEUE_S - self.queue_delay) / TARGET_QUEUE_S
            # LEDBAT's growth, a unit per round trip at most; the unit is an eighth of the
            # window up to a chunk, so a small window on a slow link grows gently.
            unit = min(CHUNK, max(1024, self.window / 8))
            self.window += min(newly, off_target * newly * unit / self.window)
            # LEDBAT alone yields slowly (a chunk per round trip); a queue twice
            # the target is the live media suffering: halve, once per round trip.
            if self.queue_delay > 2 * TARGET_QUEUE_S and now - self._last_cut > self.rtt():
                self.window /= 2
                self._last_cut = now
        self.window = min(MAX_WINDOW, max(MIN_WINDOW, self.window))
