"""PacedWriter: frames at a device's rate, no drift, stalls, stop and failure."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import pytest

from devices.serial import PacedWriter, PseudoTerminal, SerialPort, SerialSettings


class FakeTime:
    """A clock that only moves when the writer waits (overshooting) or a send takes time."""

    def __init__(self, overshoot: float = 0.0, send_cost: float = 0.0) -> None:
        self.now = 100.0
        self.overshoot = overshoot
        self.send_cost = send_cost
        self.sent_at: list[float] = []
        self.stalls: dict[int, float] = {}

    def clock(self) -> float:
        return self.now

    def wait(self, seconds: float) -> bool:
        self.now += seconds + self.overshoot  # every sleep wakes a little late
        return False

    def send(self, _chunk: bytes) -> None:
        self.now += self.stalls.pop(len(self.sent_at), 0.0)
        self.sent_at.append(self.now - 100.0)
        self.now += self.send_cost


def test_overshooting_sleeps_do_not_accumulate() -> None:
    time = FakeTime(overshoot=0.004, send_cost=0.001)
    writer = PacedWriter(time.send, [b"f"] * 600, rate_hz=60, clock=time.clock, wait=time.wait)
    writer.run()
    assert writer.sent == 600
    errors = [at - n / 60 for n, at in enumerate(time.sent_at)]
    assert max(errors) <= 0.004 + 1e-9  # one overshoot at most, never a sum of them
    assert min(errors) >= 0.0


def test_a_short_stall_is_caught_up_then_the_schedule_holds() -> None:
    time = FakeTime()
    time.stalls[10] = 0.1  # the machine froze for 100 ms before frame 10
    writer = PacedWriter(time.send, [b"f"] * 40, rate_hz=75, clock=time.clock, wait=time.wait)
    writer.run()
    late = [n for n, at in enumerate(time.sent_at) if at > n / 75 + 1e-9]
    assert late == list(range(10, 18))  # sent back to back until the schedule is met again
    assert time.sent_at[30] == pytest.approx(30 / 75)


def test_a_long_stall_restarts_the_schedule_instead_of_bursting() -> None:
    time = FakeTime()
    time.stalls[5] = 3.0
    writer = PacedWriter(time.send, [b"f"] * 20, rate_hz=60, clock=time.clock, wait=time.wait)
    writer.run()
    restart = time.sent_at[6]
    assert restart == pytest.approx(5 / 60 + 3.0)  # sent once, then the schedule starts over
    assert time.sent_at[10] == pytest.approx(restart + 4 / 60)


def test_a_failing_send_stops_the_writer_and_keeps_the_reason() -> None:
    calls: list[bytes] = []

    def send(chunk: bytes) -> None:
        if len(calls) == 3:
            raise ValueError("pseudo-terminal closed")
        calls.append(chunk)

    writer = PacedWriter(send, [b"a"] * 10, rate_hz=1000)
    writer.start().join(5.0)
    assert not writer.running
    assert writer.sent == 3
    assert isinstance(writer.error, ValueError)


def test_stop_ends_an_endless_stream() -> None:
    def endless() -> Iterator[bytes]:
        while True:
            yield b"\x01\x80\x01\x48\xca"

    with PseudoTerminal() as pty:
        writer = PacedWriter(pty.write, endless(), rate_hz=75).start()
        writer.stop(5.0)
        assert not writer.running


def test_paced_frames_reach_the_product_intact() -> None:
    frame = bytes.fromhex("01E085D59ABDE3FFFF")

    async def scenario(pty: PseudoTerminal) -> bytes:
        async with await SerialPort.open(SerialSettings.cms50d_v46(pty.slave_path)) as port:
            PacedWriter(pty.write, [frame] * 30, rate_hz=60).start()
            received = b""
            while len(received) < 30 * len(frame):
                received += await port.read()
            return received

    with PseudoTerminal() as pty:
        assert asyncio.run(asyncio.wait_for(scenario(pty), 10)) == frame * 30


def test_rate_must_be_positive() -> None:
    with pytest.raises(ValueError, match="rate must be positive"):
        PacedWriter(lambda _chunk: None, [], rate_hz=0)
