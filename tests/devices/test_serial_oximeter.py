"""Serial oximeters end to end over a real pty: simulator → pyserial → driver → events.

Every protocol is driven by :class:`SerialOximeterSimulator` writing real
frames at its real rate (faster with ``rate_scale``: content per frame is
unchanged) into a pseudo-terminal that :class:`SerialOximeter` opens like
``/dev/ttyUSB0``. The gating and dating rules are also checked byte by byte
on :class:`OximeterReader`, where no clock is involved.
"""

from __future__ import annotations

import asyncio
import itertools
import math
import threading
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import pytest

from devices.codecs import cms50d, cms50d_v46
from devices.device import DeviceEvent, EventKind
from devices.errors import (
    ConnectionLostError,
    DeviceConfigurationError,
    DeviceError,
    DeviceNotFoundError,
)
from devices.measurement import Kind, Measurement, Quality, WaveformChunk
from devices.serial import SerialSettings, open_serial
from devices.serial.latency import measure_pty_latency
from devices.serial.oximeter import PROTOCOLS, SerialOximeter, settings_for
from devices.serial.oximeter_reader import OximeterReader
from devices.serial.sim_vitals import SentFrame, VitalsModel, encode, pleth_shape
from devices.serial.simulator import SerialOximeterSimulator

T = TypeVar("T")
URL = "serial:///dev/ttyUSB0?protocol=test"
RATES = {"cms50d": 60.0, "cms50d-v46": 60.0, "nonin-2": 75.0}
PROBE_OFF = frozenset({Quality.FINGER_OUT, Quality.SEARCHING})
T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def run(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    """Run ``coro`` in a fresh loop; a hang fails the test instead of blocking it."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Exceptions that escaped any thread during the test (there must be none)."""
    seen: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    return seen


@dataclass
class Recording:
    """What one driver stream emitted, and how it ended."""

    events: list[DeviceEvent]
    error: BaseException | None
    device: SerialOximeter

    def vitals(self, kind: Kind) -> list[Measurement]:
        return [e.measurement for e in self.events
                if e.measurement is not None and e.measurement.kind is kind]

    @property
    def chunks(self) -> list[WaveformChunk]:
        return [e.waveform for e in self.events if e.waveform is not None]


Until = Callable[[list[DeviceEvent]], bool]


async def record(sim: SerialOximeterSimulator, until: Until, *,
                 silence_timeout: float = 3.0) -> Recording:
    """Stream the driver on the simulator's pty until ``until(events)`` or the stream ends."""
    protocol = sim.protocol
    device = SerialOximeter(URL, settings_for(protocol, sim.path), protocol,
                            silence_timeout=silence_timeout)
    events: list[DeviceEvent] = []
    enough = asyncio.Event()

    def emit(event: DeviceEvent) -> None:
        events.append(event)
        if until(events):
            enough.set()

    stream = asyncio.create_task(device.stream(emit))
    waiter = asyncio.create_task(enough.wait())
    await asyncio.wait({stream, waiter}, return_when=asyncio.FIRST_COMPLETED)
    waiter.cancel()
    error: BaseException | None = None
    if stream.done():
        error = stream.exception()
    else:
        stream.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stream
    return Recording(events, error, device)


async def eventually(condition: Callable[[], bool]) -> None:
    """Wait until ``condition()`` holds (the caller's overall timeout bounds the wait)."""
    while not condition():
        await asyncio.sleep(0.01)


def chunks_at_least(count: int) -> Until:
    return lambda events: sum(e.kind is EventKind.WAVEFORM for e in events) >= count


def never(_events: list[DeviceEvent]) -> bool:
    return False


def runs(values: Sequence[object]) -> list[object]:
    """Consecutive repeats collapsed: [1, 1, 2, 2, 1] → [1, 2, 1]."""
    return [value for value, _ in itertools.groupby(values)]


def contains_run(haystack: Sequence[object], needle: Sequence[object]) -> bool:
    """True when ``needle`` appears in ``haystack`` as a contiguous slice."""
    return any(list(haystack[i:i + len(needle)]) == list(needle)
               for i in range(len(haystack) - len(needle) + 1))


def number(m: Measurement) -> float | None:
    return m.value if m.has_value else None


# --- one recorded session per protocol: values, waveform, probe-off ---------------------------

@dataclass
class Session:
    protocol: str
    recording: Recording
    sent: list[SentFrame]


@pytest.fixture(scope="module", params=PROTOCOLS)
def session(request: pytest.FixtureRequest) -> Iterator[Session]:
    protocol: str = request.param
    # Device time runs 4x: 9 s of signal (two probe-off periods) in about 2.3 s.
    with SerialOximeterSimulator(protocol, seed=7, rate_scale=4.0, probe_off_every=4.0,
                                 probe_off_for=1.2, corrupt_probability=0.0) as sim:
        recording = run(record(sim, chunks_at_least(9)))
        yield Session(protocol, recording, sim.sent)


def test_connected_comes_first_and_the_stream_is_still_alive(session: Session) -> None:
    events = session.recording.events
    assert events[0].kind is EventKind.CONNECTED
    assert events[0].url == URL
    assert session.recording.error is None
    assert session.recording.device.discarded_bytes <= 2 * 9  # the first, cut frame at most


def test_spo2_and_pulse_follow_the_values_sent(session: Session) -> None:
    spo2 = session.recording.vitals(Kind.SPO2)
    pulse = session.recording.vitals(Kind.PULSE_RATE)
    assert spo2 and pulse
    assert {m.unit for m in spo2} == {"%"} and {m.unit for m in pulse} == {"/min"}
    assert all(m.device == URL and m.time.tzinfo is not None for m in spo2 + pulse)
    # The changes the nurse sees are exactly the changes the oximeter sent, in order.
    assert contains_run(runs([f.spo2 for f in session.sent]), runs([number(m) for m in spo2]))
    assert contains_run(runs([f.pulse_rate for f in session.sent]),
                        runs([number(m) for m in pulse]))
    assert len(runs([number(m) for m in pulse])) >= 3  # the walk and probe-off did change it


def test_values_are_not_emitted_once_per_frame(session: Session) -> None:
    spo2 = session.recording.vitals(Kind.SPO2)
    sent = session.sent
    seconds = len(sent) / RATES[session.protocol]
    changes = len(runs([(f.spo2, f.finger_out, f.searching) for f in sent]))
    assert len(spo2) <= seconds + changes + 2
    assert len(spo2) < len(sent) / 10


def test_waveform_chunks_hold_a_second_of_the_pleth_sent(session: Session) -> None:
    chunks = session.recording.chunks
    rate = RATES[session.protocol]
    assert len(chunks) >= 9
    assert all(c.sample_rate_hz == rate and c.kind is Kind.PLETH for c in chunks)
    assert all(len(c.samples) == rate for c in chunks[:-1])  # the last may be a flushed tail
    assert all(a.start < b.start for a, b in itertools.pairwise(chunks))
    received = bytes(int(s) for c in chunks for s in c.samples)
    assert received in bytes(f.pleth for f in session.sent)  # contiguous, sample for sample


def test_probe_off_periods_arrive_flagged_without_a_value(session: Session) -> None:
    spo2 = session.recording.vitals(Kind.SPO2)
    pulse = session.recording.vitals(Kind.PULSE_RATE)
    flagged = [m for m in spo2 + pulse if m.quality & PROBE_OFF]
    assert flagged
    assert all(not m.has_value and Quality.NOT_A_NUMBER in m.quality for m in flagged)
    assert all(m.quality & PROBE_OFF for m in spo2 + pulse if not m.has_value)
    # Each probe-off period the driver received reached the nurse (one that began in the
    # last packet received may not have been complete yet).
    received = received_frames(session)
    periods_seen = sum(1 for off, _ in itertools.groupby(not m.has_value for m in spo2) if off)
    assert probe_off_periods(received[:-25]) <= periods_seen <= probe_off_periods(received)
    assert periods_seen >= 2
    if session.protocol != "nonin-2":  # Nonin says "out of track", not "finger out"
        assert any(Quality.FINGER_OUT in m.quality for m in flagged)
    assert any(Quality.SEARCHING in m.quality for m in flagged)


def received_frames(session: Session) -> list[SentFrame]:
    """The frames the driver decoded: where its pleth samples sit in what was sent."""
    received = bytes(int(s) for c in session.recording.chunks for s in c.samples)
    at = bytes(f.pleth for f in session.sent).find(received)
    assert at >= 0
    return session.sent[at:at + len(received)]


def probe_off_periods(frames: list[SentFrame]) -> int:
    return sum(1 for off, _ in itertools.groupby(f.finger_out or f.searching for f in frames)
               if off)


# --- imperfect cables and misbehaving devices -------------------------------------------------

@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_corrupted_bytes_are_counted_and_the_stream_goes_on(
        protocol: str, thread_errors: list[BaseException]) -> None:
    with SerialOximeterSimulator(protocol, seed=3, rate_scale=4.0, probe_off_every=0,
                                 corrupt_probability=0.05, misbehave=["malformed"]) as sim:
        recording = run(record(sim, chunks_at_least(8)))
        sent = sim.sent
        garbage = sim.garbage_sent
    assert recording.error is None
    assert garbage > 0 and any(f.corrupted for f in sent)
    assert recording.device.discarded_bytes > 0
    good = {f.spo2 for f in sent} | {f.pulse_rate for f in sent}
    values = [m for m in recording.vitals(Kind.SPO2) + recording.vitals(Kind.PULSE_RATE)]
    assert values
    assert all(m.value in good for m in values if Quality.IMPLAUSIBLE not in m.quality)
    assert thread_errors == []


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_implausible_values_arrive_flagged(protocol: str) -> None:
    def both_seen(events: list[DeviceEvent]) -> bool:
        kinds = {e.measurement.kind for e in events
                 if e.measurement and Quality.IMPLAUSIBLE in e.measurement.quality}
        return {Kind.SPO2, Kind.PULSE_RATE} <= kinds

    with SerialOximeterSimulator(protocol, rate_scale=4.0, probe_off_every=0,
                                 corrupt_probability=0, misbehave=["implausible"]) as sim:
        recording = run(record(sim, both_seen))
    assert recording.error is None
    spo2 = [m for m in recording.vitals(Kind.SPO2) if Quality.IMPLAUSIBLE in m.quality]
    pulse = [m for m in recording.vitals(Kind.PULSE_RATE) if Quality.IMPLAUSIBLE in m.quality]
    assert {m.value for m in spo2} == {104}
    assert {m.value for m in pulse} == {300 if protocol == "nonin-2" else 254}  # kept, flagged


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_pulled_cable_ends_the_stream_with_connection_lost(
        protocol: str, thread_errors: list[BaseException]) -> None:
    with SerialOximeterSimulator(protocol, rate_scale=4.0, misbehave=["drop"],
                                 drop_after=2.0) as sim:
        recording = run(record(sim, never))
        assert sim.closed
    assert isinstance(recording.error, ConnectionLostError)
    assert "is the cable plugged in?" in str(recording.error)
    assert recording.events[0].kind is EventKind.CONNECTED
    assert recording.vitals(Kind.SPO2)
    assert thread_errors == []


def test_a_cable_pulled_at_run_time_ends_the_stream() -> None:
    def pull_after_first_value(events: list[DeviceEvent]) -> bool:
        if any(e.measurement for e in events) and not sim.closed:
            sim.set_misbehaviour("drop")
        return False

    with SerialOximeterSimulator("cms50d", rate_scale=4.0) as sim:
        recording = run(record(sim, pull_after_first_value))
    assert isinstance(recording.error, ConnectionLostError)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_silent_device_ends_the_stream_with_connection_lost(protocol: str) -> None:
    def hush_after_first_value(events: list[DeviceEvent]) -> bool:
        if any(e.measurement for e in events):
            sim.set_misbehaviour("silent")
        return False

    with SerialOximeterSimulator(protocol, rate_scale=4.0) as sim:
        recording = run(record(sim, hush_after_first_value, silence_timeout=1.0))
        commands = sim.commands
        assert not sim.closed  # silent, not unplugged
    assert isinstance(recording.error, ConnectionLostError)
    assert "sent nothing for 1 s" in str(recording.error)
    if protocol == "cms50d-v46":  # the driver asked again before giving up
        assert commands.count(cms50d_v46.START_LIVE_COMMAND) >= 2


# --- firmware 4.6: start command, live window, stop ------------------------------------------

def test_v46_says_nothing_until_the_driver_sends_the_start_command() -> None:
    with SerialOximeterSimulator("cms50d-v46", rate_scale=4.0) as sim:
        line = open_serial(SerialSettings.cms50d_v46(sim.path))
        try:
            line.timeout = 0.5
            assert line.read(64) == b""  # half a second (two of device time) of silence
        finally:
            line.close()
        assert sim.sent_count == 0 and sim.commands == []
        recording = run(record(sim, chunks_at_least(1)))
        assert sim.commands[0] == cms50d_v46.START_LIVE_COMMAND
    assert recording.vitals(Kind.SPO2)


def test_v46_simulator_stops_when_its_live_window_ends() -> None:
    with SerialOximeterSimulator("cms50d-v46", rate_scale=40.0, probe_off_every=0,
                                 corrupt_probability=0) as sim:
        line = open_serial(SerialSettings.cms50d_v46(sim.path))
        try:
            line.write(cms50d_v46.START_LIVE_COMMAND)
            line.timeout = 1.0
            received = b""
            while chunk := line.read(4096):  # until a second of wall time passes in silence
                received += chunk
        finally:
            line.close()
    framer = cms50d_v46.Framer()
    assert len(framer.feed(received)) == 30 * 60  # 30 s of live data, then nothing


def test_v46_driver_keeps_live_data_coming_past_the_window() -> None:
    live_window = 30 * 60
    with SerialOximeterSimulator("cms50d-v46", rate_scale=20.0, probe_off_every=0,
                                 corrupt_probability=0) as sim:
        # 45 s of device time: one and a half live windows.
        recording = run(record(sim, chunks_at_least(45)), timeout=30.0)
        commands = sim.commands
    assert recording.error is None
    assert len(recording.chunks) >= 45 > live_window / 60
    assert commands.count(cms50d_v46.START_LIVE_COMMAND) >= 3  # at 0, 15 s and 30 s
    assert commands.count(cms50d_v46.KEEPALIVE_COMMAND) >= 4


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_cancelling_closes_the_port_cleanly(protocol: str) -> None:
    with SerialOximeterSimulator(protocol, rate_scale=4.0) as sim:
        recording = run(record(sim, lambda events: any(e.measurement for e in events)))
        assert recording.error is None  # it was cancelled, and re-raised CancelledError
        # The exclusive lock is released: the port can be opened again at once. (At 8N1: some
        # kernels' ptys refuse to set odd parity a second time, a pty quirk, not the driver's.)
        open_serial(SerialSettings(sim.path, 9600)).close()
        if protocol == "cms50d-v46":
            run(eventually(lambda: cms50d_v46.STOP_LIVE_COMMAND in sim.commands))
            assert sim.commands[-1] == cms50d_v46.STOP_LIVE_COMMAND
    assert not [t for t in threading.enumerate() if t.name.startswith("serial reader")]


# --- configuration and errors -----------------------------------------------------------------

def test_an_unknown_protocol_is_refused_before_connecting() -> None:
    with pytest.raises(DeviceConfigurationError, match="use one of cms50d, cms50d-v46, nonin-2"):
        SerialOximeter(URL, SerialSettings("/dev/null", 9600), "cms50e")
    with pytest.raises(DeviceConfigurationError):
        SerialOximeterSimulator("cms50d", misbehave=["explode"])


def test_a_missing_port_is_a_device_error_and_nothing_is_emitted() -> None:
    events: list[DeviceEvent] = []
    device = SerialOximeter(URL, settings_for("cms50d", "/dev/ttyUSB-none"), "cms50d")
    with pytest.raises(DeviceNotFoundError):
        run(device.stream(events.append))
    assert events == []


def test_a_failing_listener_surfaces_as_a_device_error() -> None:
    def broken(event: DeviceEvent) -> None:
        if event.kind is EventKind.MEASUREMENT:
            raise RuntimeError("listener bug")

    with SerialOximeterSimulator("nonin-2", rate_scale=4.0) as sim:
        device = SerialOximeter(URL, settings_for("nonin-2", sim.path), "nonin-2")
        with pytest.raises(DeviceError, match="RuntimeError: listener bug"):
            run(device.stream(broken))


def test_the_latency_benchmark_returns_one_figure_per_change() -> None:
    latencies = run(measure_pty_latency(5, "cms50d"))
    assert len(latencies) == 5 and all(s > 0 for s in latencies)


# --- the reader, byte by byte (no pty, no clock) ----------------------------------------------

def frames_of(protocol: str, model: VitalsModel, count: int) -> list[tuple[bytes, SentFrame]]:
    produced: list[tuple[bytes, SentFrame]] = []
    while len(produced) < count:
        produced.extend(encode(protocol, model))
    return produced[:count]


def feed_one_by_one(reader: OximeterReader, frames: list[tuple[bytes, SentFrame]],
                    rate: float) -> list[tuple[int, DeviceEvent]]:
    """Each frame fed alone at its due time; events tagged with the frame that completed them."""
    return [(sent.index, event) for sent_data, sent in frames
            for event in reader.feed(sent_data, T0 + timedelta(seconds=sent.index / rate))]


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_probe_off_is_reported_at_the_first_frame_that_can_tell(protocol: str) -> None:
    rate = RATES[protocol]
    model = VitalsModel(1, rate, probe_off_every=3.0, probe_off_for=1.0)
    frames = frames_of(protocol, model, round(3 * rate))
    first_off = next(sent.index for _, sent in frames if sent.finger_out)
    tagged = feed_one_by_one(OximeterReader(protocol, URL), frames, rate)
    flagged = next(index for index, e in tagged
                   if e.measurement and e.measurement.quality & PROBE_OFF)
    # CMS50D: the second frame confirms it (17 ms); Nonin: the end of the packet saying it.
    assert flagged == (first_off + 1 if protocol != "nonin-2" else first_off + 24)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_an_unchanged_value_is_repeated_once_per_second(protocol: str) -> None:
    rate = RATES[protocol]
    model = VitalsModel(2, rate, probe_off_every=0, probe_off_for=0)
    model.pin(97, 72)
    tagged = feed_one_by_one(OximeterReader(protocol, URL), frames_of(protocol, model,
                                                                      round(10 * rate)), rate)
    spo2 = [e.measurement for _, e in tagged if e.measurement and e.measurement.kind is Kind.SPO2]
    assert [m.value for m in spo2] == [97.0] * 10
    chunks = [e.waveform for _, e in tagged if e.waveform]
    assert [c.start for c in chunks] == [T0 + timedelta(seconds=n) for n in range(10)]


@pytest.mark.parametrize("protocol", ["cms50d", "cms50d-v46"])
def test_a_single_corrupted_cms50d_frame_does_not_reach_the_nurse(protocol: str) -> None:
    module: Any = cms50d if protocol == "cms50d" else cms50d_v46
    model = VitalsModel(2, 60.0, probe_off_every=0, probe_off_for=0)
    model.pin(97, 72)
    good = frames_of(protocol, model, 120)
    glitch = module.encode_frame(replace(module.decode_frame(good[60][0]), spo2=88))
    reader = OximeterReader(protocol, URL)
    events = [e for n, (data, _) in enumerate(good)
              for e in reader.feed(glitch if n == 60 else data, T0 + timedelta(seconds=n / 60))]
    assert {e.measurement.value for e in events
            if e.measurement and e.measurement.kind is Kind.SPO2} == {97.0}


def test_reads_split_anywhere_give_the_same_events() -> None:
    model = VitalsModel(4, 75.0, probe_off_every=2.0, probe_off_for=0.5)
    stream = b"".join(data for data, _ in frames_of("nonin-2", model, 600))
    whole = OximeterReader("nonin-2", URL).feed(stream, T0)
    reader = OximeterReader("nonin-2", URL)
    pieces = [reader.feed(stream[i:i + 7], T0) for i in range(0, len(stream), 7)]
    split = [e for piece in pieces for e in piece]
    assert [(e.kind, e.measurement and number(e.measurement)) for e in whole] == \
        [(e.kind, e.measurement and number(e.measurement)) for e in split]


# --- the simulated physiology -----------------------------------------------------------------

def test_the_same_seed_gives_the_same_signal() -> None:
    def signal(seed: int) -> list[SentFrame]:
        model = VitalsModel(seed, 60.0, 30.0, 2.0)
        return [sent for _, sent in frames_of("cms50d", model, 3000)]

    assert signal(5) == signal(5) != signal(6)
    values = signal(5)
    assert {f.spo2 for f in values} - {None} <= set(range(95, 100))
    assert {f.pulse_rate for f in values} - {None} <= set(range(60, 91))


def test_the_pleth_beat_has_a_dicrotic_notch() -> None:
    wave = [pleth_shape(i / 200) for i in range(200)]
    peaks = [i for i in range(1, 199) if wave[i - 1] < wave[i] >= wave[i + 1]]
    troughs = [i for i in range(1, 199) if wave[i - 1] > wave[i] <= wave[i + 1]]
    assert len(peaks) == 2 and len(troughs) == 1  # systolic peak, notch, diastolic wave
    assert peaks[0] < troughs[0] < peaks[1]
    assert math.isclose(max(wave), 1.0, rel_tol=1e-3)
