"""SimulatedStethoscope: blocks like a real input, pacing, determinism, misbehaviour."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import numpy as np
import pytest

from devices.audio import (
    BLOCK_FRAMES,
    SAMPLE_RATE,
    AudioBlock,
    Fault,
    Scene,
    SimulatedStethoscope,
)
from devices.errors import ConnectionLostError, DeviceConfigurationError

T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    """Run ``coro`` in a fresh loop; a hang fails the test instead of blocking it."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


async def take(source: SimulatedStethoscope, count: int) -> list[AudioBlock]:
    blocks = []
    async for block in source:
        blocks.append(block)
        if len(blocks) == count:
            break
    return blocks


def test_blocks_are_960_mono_int16_samples_at_48_khz() -> None:
    blocks = run(take(SimulatedStethoscope(paced=False), 60))
    for number, block in enumerate(blocks):
        assert block.samples.shape == (BLOCK_FRAMES,)
        assert block.samples.dtype == np.int16
        assert block.sample_rate == SAMPLE_RATE == 48_000
        assert block.index == number and block.pts == number * 960
        assert block.duration == pytest.approx(0.02)
        assert not block.gap_before
        assert not block.samples.flags.writeable  # shared by preview and call: read-only
    peak = max(int(np.abs(b.samples.astype(np.int32)).max()) for b in blocks)
    assert 5_000 < peak < 20_000  # S1 at about a third of full scale, far from clipping


def test_float32_blocks_match_the_int16_ones() -> None:
    ints = run(take(SimulatedStethoscope(paced=False), 20))
    floats = run(take(SimulatedStethoscope(paced=False, dtype="float32"), 20))
    assert floats[0].samples.dtype == np.float32
    for a, b in zip(ints, floats, strict=True):
        assert np.allclose(a.samples / 32767.0, b.samples, atol=1 / 32767)


def test_same_seed_same_blocks_other_seed_other_blocks() -> None:
    def blocks(seed: int) -> list[AudioBlock]:
        return run(take(SimulatedStethoscope(Scene(seed=seed), paced=False), 100))

    first, again, other = blocks(1), blocks(1), blocks(2)
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a.samples, b.samples)
                   for a, b in zip(first, other, strict=True))


def test_a_paced_stream_delivers_the_same_sound_as_an_unpaced_one() -> None:
    async def paced() -> list[AudioBlock]:
        source = await SimulatedStethoscope.open(Scene(seed=4))
        try:
            return await take(source, 10)
        finally:
            await source.close()

    live = run(paced())
    instant = run(take(SimulatedStethoscope(Scene(seed=4), paced=False), 10))
    assert [b.index for b in live] == list(range(10))
    assert all(np.array_equal(a.samples, b.samples) for a, b in zip(live, instant, strict=True))


def test_close_ends_the_stream_cleanly() -> None:
    async def scenario(paced: bool) -> None:
        source = SimulatedStethoscope(paced=paced)
        await source.read()
        await source.close()
        assert await source.read() is None
        assert [block async for block in source] == []
        await source.close()

    run(scenario(paced=True))
    run(scenario(paced=False))


@pytest.mark.parametrize("paced", [False, True])
def test_a_drop_out_ends_in_connection_lost(paced: bool) -> None:
    async def scenario() -> tuple[int, ConnectionLostError]:
        source = SimulatedStethoscope(paced=paced, drop_out_after_blocks=5)
        received = 0
        try:
            async for _block in source:
                received += 1
        except ConnectionLostError as exc:
            with pytest.raises(ConnectionLostError):  # sticky
                await source.read()
            return received, exc
        finally:
            await source.close()
        raise AssertionError("the stream ended quietly")

    received, error = run(scenario())
    assert received == 5
    assert str(error) == ("audio input 'simulated stethoscope' stopped delivering sound (the "
                          "audio stream stopped): is the stethoscope still plugged in?")


def test_drop_out_wakes_a_waiting_reader() -> None:
    async def scenario() -> None:
        source = await SimulatedStethoscope.open()

        async def listen() -> None:
            while await source.read() is not None:
                pass

        listener = asyncio.create_task(listen())
        await asyncio.sleep(0.1)
        source.drop_out()
        with pytest.raises(ConnectionLostError, match="is the stethoscope still plugged in"):
            await listener
        await source.close()

    run(scenario())


def test_clipping_saturates_and_silence_is_digital_zero() -> None:
    async def scenario() -> tuple[list[AudioBlock], list[AudioBlock], list[AudioBlock]]:
        source = SimulatedStethoscope(Scene(seed=9), paced=False)
        normal = await take(source, 50)
        source.fault = Fault.CLIPPING
        clipped = await take(source, 50)
        source.fault = Fault.SILENCE
        silent = await take(source, 50)
        return normal, clipped, silent

    normal, clipped, silent = run(scenario())

    def railed(blocks: list[AudioBlock]) -> float:
        samples = np.concatenate([b.samples for b in blocks])
        return float(np.mean((samples == 32767) | (samples == -32768)))

    assert railed(normal) == 0.0
    assert railed(clipped) > 0.01
    assert all(not b.samples.any() for b in silent)
    assert [b.index for b in normal + clipped + silent] == list(range(150))  # one stream


def test_the_rate_can_change_while_streaming() -> None:
    source = SimulatedStethoscope(Scene(heart_rate_bpm=60), paced=False)
    run(take(source, 250))
    source.set_rates(100)
    run(take(source, 250))
    gaps = np.diff([beat.s1 for beat in source.synth.beats]) / SAMPLE_RATE
    assert gaps[0] == pytest.approx(1.0, rel=0.08)
    assert gaps[-1] == pytest.approx(0.6, rel=0.08)
    assert source.synth.respiratory_rate_bpm == 15.0


def test_bad_options_are_configuration_errors() -> None:
    with pytest.raises(DeviceConfigurationError, match="use int16 or float32"):
        SimulatedStethoscope(dtype="int24")
