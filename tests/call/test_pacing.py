"""The snapshot pacing window against a modelled bottleneck link.

A small discrete-event model: one drop-tail FIFO served at the link's rate,
a fixed one-way delay each way, and optionally the live media as a constant
bit rate through the same queue. The sender is driven exactly as
``StationCall.send_snapshot`` drives it (``wait_before`` / ``sent`` /
``acked``), and the receiver acknowledges every chunk as the console does.
What is checked: alone, the transfer fills most of the link; next to the
media, it keeps the queue near its target instead of filling the buffer.
The real browser and link are in tests/e2e/test_weak_networks.py.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

from station.call.pacing import (
    FIRST_ACK_TIMEOUT_S,
    INITIAL_WINDOW,
    MIN_WINDOW,
    NO_ACK_TIMEOUT_S,
    TARGET_QUEUE_S,
    ScavengerWindow,
)

CHUNK = 16 * 1024


@dataclass
class Link:
    """A FIFO bottleneck: ``rate_bps``, ``delay_s`` each way, a 0.5 s buffer."""

    rate_bps: float
    delay_s: float
    busy_until: float = 0.0
    queue_delays: list[float] = field(default_factory=list)
    drops: int = 0

    def enter(self, size: int, now: float) -> float | None:
        """When a packet entering now reaches the far end (None: dropped)."""
        start = max(now, self.busy_until)
        if start - now > 0.5:
            self.drops += 1
            return None
        self.queue_delays.append(start - now)
        self.busy_until = start + size * 8 / self.rate_bps
        return self.busy_until + self.delay_s


def transfer(link: Link, total: int, media_bps: float = 0.0,
             seconds: float = 60.0) -> tuple[float, ScavengerWindow]:
    """Send ``total`` bytes through ``link`` next to ``media_bps``; returns when the
    last byte was acknowledged (or ``seconds``) and the window."""
    pacer = ScavengerWindow()
    events: list[tuple[float, int, str, int]] = []  # (time, order, kind, value)
    order = 0

    def at(time: float, kind: str, value: int = 0) -> None:
        nonlocal order
        order += 1
        heapq.heappush(events, (time, order, kind, value))

    media_packet = 1200
    if media_bps:
        at(0.0, "media")
    at(0.0, "try")
    sent = 0
    delivered_until = 0.0  # SCTP delivers in order: a lost piece holds up the rest
    while events:
        now, _, kind, value = heapq.heappop(events)
        if now > seconds:
            break
        if kind == "media":
            link.enter(media_packet, now)
            at(now + media_packet * 8 / media_bps, "media")
        elif kind == "try":
            if sent >= total:
                continue
            size = min(pacer.piece_size(), total - sent)
            wait = pacer.wait_before(size, now)
            if wait > 0:
                at(now + wait, "try")
                continue
            sent += size
            pacer.sent(size, now)
            arrival = link.enter(size, now)
            if arrival is None:  # dropped: SCTP retransmits after its timeout
                arrival = (link.enter(size, now + 1.0) or now + 2.0) + link.delay_s
            delivered_until = max(delivered_until, arrival)
            at(delivered_until + link.delay_s, "ack", sent)
            at(now, "try")
        elif kind == "ack":
            pacer.acked(value, now)
            if value >= total:
                return now, pacer
            at(now, "try")
    return seconds, pacer


def test_alone_on_a_fast_link_the_transfer_takes_most_of_it() -> None:
    link = Link(rate_bps=20e6, delay_s=0.020)
    done, pacer = transfer(link, 6_000_000)
    # 6 MB at 20 Mbit/s is 2.4 s; slow start and the queue target cost a little.
    assert done < 4.0, done
    assert link.drops == 0
    assert max(link.queue_delays) < 4 * TARGET_QUEUE_S
    assert pacer.base_rtt is not None and 0.040 <= pacer.base_rtt < 0.050


def test_next_to_the_media_the_queue_stays_near_its_target() -> None:
    # The 4G-weak link: 1 Mbit/s, 80 ms; the videos and sounds take 700 kbit/s.
    link = Link(rate_bps=1e6, delay_s=0.080)
    done, _ = transfer(link, 1_000_000, media_bps=700e3, seconds=120.0)
    assert link.drops == 0
    delays = sorted(link.queue_delays)
    p95 = delays[int(len(delays) * 0.95)]
    assert p95 < 3 * TARGET_QUEUE_S, p95  # without pacing the buffer fills: 0.5 s
    # The still still arrives, on the ~300 kbit/s left: about 27 s for 1 MB.
    assert done < 60.0, done


def test_unpaced_the_same_transfer_fills_the_buffer() -> None:
    """The model is able to show the harm: a sender ignoring the window."""
    link = Link(rate_bps=1e6, delay_s=0.080)
    for chunk in range(60):
        link.enter(CHUNK, chunk * 0.001)
    assert link.drops > 0
    assert max(link.queue_delays) > 0.45


def test_a_standing_queue_shrinks_the_window() -> None:
    pacer = ScavengerWindow()
    now = 0.0
    for i in range(1, 40):  # round trips 40 ms: the window grows
        pacer.sent(CHUNK, now)
        now += 0.040
        pacer.acked(i * CHUNK, now)
    grown = pacer.window
    assert grown > INITIAL_WINDOW
    for i in range(40, 80):  # then 200 ms: 160 ms of queue
        pacer.sent(CHUNK, now)
        now += 0.200
        pacer.acked(i * CHUNK, now)
    assert pacer.queue_delay > 0.1
    assert pacer.window < grown / 4
    assert pacer.window >= MIN_WINDOW


def test_odd_acknowledgements_teach_nothing() -> None:
    pacer = ScavengerWindow()
    pacer.sent(CHUNK, 0.0)
    pacer.acked(CHUNK * 5, 0.05)  # more than was sent
    pacer.acked(-3, 0.05)
    assert pacer.acked_bytes == 0 and pacer.srtt is None
    pacer.acked(CHUNK, 0.05)
    pacer.acked(CHUNK, 0.06)  # a duplicate
    assert pacer.acked_bytes == CHUNK and pacer.srtt == 0.05


def test_a_silent_receiver_is_noticed() -> None:
    pacer = ScavengerWindow()
    pacer.sent(CHUNK, 0.0)
    assert not pacer.stalled(NO_ACK_TIMEOUT_S + 0.1)  # a first chunk may take a while
    assert pacer.stalled(FIRST_ACK_TIMEOUT_S + 0.1)
    assert pacer.wait_before(CHUNK, 0.01) > 0  # a full window waits for acknowledgements


def test_a_receiver_that_acknowledged_then_went_quiet_is_a_lossy_link() -> None:
    pacer = ScavengerWindow()
    assert pacer.never_acknowledged()
    pacer.sent(CHUNK, 0.0)
    pacer.acked(CHUNK, 0.1)
    pacer.sent(CHUNK, 0.2)
    assert not pacer.never_acknowledged()
    later = 0.2 + NO_ACK_TIMEOUT_S + 0.5
    assert pacer.stalled(later)
    pacer.back_off(later)
    assert pacer.window == MIN_WINDOW
    assert not pacer.stalled(later + 0.1)  # the silence is counted anew
    assert pacer.wait_before(1024, later + 0.1) > 0  # still waits for the chunk in flight
