"""AudioCapture: real PortAudio errors on this machine, delivery through a stand-in stream,
and one consumer reading the simulator and the capture alike."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Coroutine
from types import SimpleNamespace
from typing import Any, TypeVar

import numpy as np
import pytest
import sounddevice

from devices.audio import (
    AudioBlock,
    AudioCapture,
    AudioInputInfo,
    AudioSource,
    BlockChannel,
    Scene,
    SimulatedStethoscope,
    list_input_devices,
    parse_audio_url,
    translate_audio_error,
)
from devices.errors import (
    ConnectionLostError,
    DeviceConfigurationError,
    DeviceNotFoundError,
    DeviceUnavailableError,
)

T = TypeVar("T")
HAS_INPUTS = bool(list_input_devices())


def run(coro: Coroutine[Any, Any, T], timeout: float = 20.0) -> T:
    """Run ``coro`` in a fresh loop; a hang fails the test instead of blocking it."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


class FakeInputStream:
    """Stands in for ``sounddevice.InputStream`` where there is no sound card.

    Like PortAudio, it calls back from its own thread with ``(frames, 1)``
    buffers it reuses, then calls ``finished_callback`` when it stops, whether
    asked to (``stop``) or not (``die``: a pulled USB device).
    """

    def __init__(self, blocks: list[np.ndarray], *, die: bool = False,
                 overflow_at: int | None = None, **settings: Any) -> None:
        self.settings = settings
        self._blocks = blocks
        self._die = die
        self._overflow_at = overflow_at
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        buffer = np.zeros((self.settings["blocksize"], 1), dtype=self.settings["dtype"])
        for number, block in enumerate(self._blocks):
            if self._stopped.is_set():
                return
            buffer[:, 0] = block
            status = SimpleNamespace(input_overflow=number == self._overflow_at)
            self.settings["callback"](buffer, len(buffer), None, status)
        if self._die:
            self.settings["finished_callback"]()
        # otherwise the stream just stops calling back: a stall

    def stop(self) -> None:
        self._stopped.set()
        self._thread.join()
        self.settings["finished_callback"]()

    def close(self) -> None:
        pass


def simulated_blocks(count: int, seed: int = 0) -> list[np.ndarray]:
    source = SimulatedStethoscope(Scene(seed=seed), paced=False)
    return [source.next_block().samples for _ in range(count)]


def fake(blocks: list[np.ndarray], **options: Any) -> Callable[..., FakeInputStream]:
    made: list[FakeInputStream] = []

    def factory(**settings: Any) -> FakeInputStream:
        made.append(FakeInputStream(blocks, **options, **settings))
        return made[-1]

    factory.made = made  # type: ignore[attr-defined]
    return factory


async def consume(source: AudioSource, count: int) -> list[AudioBlock]:
    """Product-side code: knows only the AudioSource face."""
    blocks = []
    async with source:
        async for block in source:
            assert block.samples.shape == (source.block_frames,)
            assert block.samples.dtype.name == source.dtype
            assert block.sample_rate == source.sample_rate == 48_000
            blocks.append(block)
            if len(blocks) == count:
                break
    return blocks


# --- real PortAudio on this machine ---------------------------------------------------------

def test_the_list_of_inputs_is_reported_cleanly() -> None:
    inputs = list_input_devices()
    assert isinstance(inputs, list)
    assert all(isinstance(i, AudioInputInfo) and i.channels > 0 for i in inputs)


@pytest.mark.skipif(HAS_INPUTS, reason="this machine has an audio input")
def test_no_sound_card_means_no_audio_input_device() -> None:
    with pytest.raises(DeviceUnavailableError) as caught:
        run(AudioCapture.open_url("audio://default"))
    assert str(caught.value).startswith("no audio input device: ")
    assert "is the stethoscope plugged in" in str(caught.value)
    assert isinstance(caught.value.__cause__, sounddevice.PortAudioError)  # the real one


def test_a_named_input_that_is_absent_is_not_found() -> None:
    with pytest.raises(DeviceNotFoundError, match=r"no audio input device 'Littmann 3200 "
                                                  r"\(station test\)' \(inputs present: "):
        run(AudioCapture.open_url("audio://Littmann%203200%20(station%20test)"))


def test_an_input_index_that_is_absent_is_not_found() -> None:
    with pytest.raises(DeviceNotFoundError, match="no audio input device 999"):
        run(AudioCapture.open_url("audio://999"))


def test_audio_urls() -> None:
    assert parse_audio_url("audio://default") is None
    assert parse_audio_url("audio://2") == 2
    assert parse_audio_url("audio://USB%20Audio:%20-%20(hw:1,0)") == "USB Audio: - (hw:1,0)"
    for bad in ("audio://", "serial:///dev/ttyUSB0", "default"):
        with pytest.raises(DeviceConfigurationError, match="not an audio input URL"):
            parse_audio_url(bad)


def test_native_errors_translate_in_one_place() -> None:
    missing = translate_audio_error(OSError("PortAudio library not found"), None)
    assert type(missing) is DeviceUnavailableError and "libportaudio2" in str(missing)
    busy = translate_audio_error(sounddevice.PortAudioError("Device unavailable"), 2)
    assert str(busy) == "audio input 2 cannot record 48 kHz mono: Device unavailable"
    named = translate_audio_error(ValueError("No input device matching 'x'"), "x")
    assert type(named) is DeviceNotFoundError


# --- delivery, through a stand-in stream ----------------------------------------------------

def test_blocks_cross_from_the_audio_thread_to_the_loop_intact() -> None:
    sent = simulated_blocks(40)
    factory = fake(sent)

    async def scenario() -> list[AudioBlock]:
        capture = await AudioCapture.open(stream_factory=factory, dtype="int16")
        return await consume(capture, 40)

    got = run(scenario())
    assert [b.index for b in got] == list(range(40))
    assert all(np.array_equal(a, b.samples) for a, b in zip(sent, got, strict=True))
    settings = factory.made[0].settings  # type: ignore[attr-defined]
    assert (settings["samplerate"], settings["blocksize"], settings["channels"]) == (48000, 960, 1)


def test_an_input_overflow_is_flagged_on_the_block() -> None:
    async def scenario() -> list[AudioBlock]:
        capture = await AudioCapture.open(stream_factory=fake(simulated_blocks(5), overflow_at=3),
                                          dtype="int16")
        return await consume(capture, 5)

    assert [b.gap_before for b in run(scenario())] == [False, False, False, True, False]


@pytest.mark.parametrize(("die", "words"), [(True, "the audio stream stopped"),
                                            (False, "nothing for 0.3 s")])
def test_a_stream_that_dies_or_stalls_is_a_lost_connection(die: bool, words: str) -> None:
    async def scenario() -> int:
        capture = await AudioCapture.open(stream_factory=fake(simulated_blocks(8), die=die),
                                          dtype="int16", stall_timeout=0.3)
        received = 0
        try:
            async for _block in capture:
                received += 1
        finally:
            await capture.close()
        return received

    with pytest.raises(ConnectionLostError, match=words):
        run(scenario())


def test_float32_inputs_deliver_float32_blocks() -> None:
    floats = [b.astype(np.float32) / 32768 for b in simulated_blocks(3)]

    async def scenario() -> list[AudioBlock]:
        capture = await AudioCapture.open(stream_factory=fake(floats), dtype="float32")
        return await consume(capture, 3)

    assert all(b.samples.dtype == np.float32 for b in run(scenario()))


def test_the_same_consumer_reads_the_simulator_and_the_capture_alike() -> None:
    async def scenario() -> tuple[list[AudioBlock], list[AudioBlock]]:
        simulated = await consume(await SimulatedStethoscope.open(Scene(seed=11)), 25)
        capture = await AudioCapture.open(stream_factory=fake(simulated_blocks(25, seed=11)),
                                          dtype="int16")
        return simulated, await consume(capture, 25)

    simulated, captured = run(scenario())
    assert [type(b) for b in simulated] == [type(b) for b in captured]
    assert all(np.array_equal(a.samples, b.samples) and a.index == b.index
               for a, b in zip(simulated, captured, strict=True))


def test_a_slow_consumer_gets_flagged_gaps_not_unbounded_memory() -> None:
    async def scenario() -> None:
        channel = BlockChannel(capacity=3)
        for index, samples in enumerate(simulated_blocks(6)):
            channel.put(AudioBlock(samples, index))
        assert channel.dropped == 3
        assert [b.index for b in [await channel.get() for _ in range(3)]] == [0, 1, 2]  # type: ignore[union-attr]
        channel.put(AudioBlock(simulated_blocks(1)[0], 6))
        late = await channel.get()
        assert late is not None and late.index == 6 and late.gap_before
        channel.end()
        assert await channel.get() is None

    run(scenario())
