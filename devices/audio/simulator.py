"""A simulated stethoscope behind the same face as the real capture.

:class:`SimulatedStethoscope` is an :class:`~devices.audio.block.AudioSource`
like :class:`~devices.audio.capture.AudioCapture`: same 960-sample mono
blocks at 48 kHz (int16 by default), same ``read()`` / ``async for``, same
errors, so the product cannot tell it from a real input.

Two ways to run it:

* ``paced=True`` (a live stream): a task produces one block every 20 ms of
  loop time, each due at ``start + (n + 1) x 20 ms`` from one fixed origin,
  so sleeps that overshoot never accumulate into drift. Blocks go through
  the same bounded channel as the real capture (a slow consumer sees gaps,
  flagged, exactly as with a sound card).
* ``paced=False``: each ``read()`` renders the next block at once, for tests
  and benchmarks that should not wait for real time.

Misbehaviour switches reproduce what goes wrong with real stethoscopes: a
drop-out (the stream ends in :class:`~devices.errors.ConnectionLostError`),
clipping from an implausible gain, and dead silence.
"""

from __future__ import annotations

import asyncio
import contextlib
from enum import StrEnum

import numpy as np

from devices.audio.block import (
    BLOCK_FRAMES,
    BLOCK_SECONDS,
    DTYPES,
    AudioBlock,
    AudioSource,
    BlockChannel,
    Samples,
    stream_lost,
)
from devices.audio.synth import HeartLungSynth, Scene, Signal
from devices.audio.test_signals import SignalRenderer
from devices.errors import ConnectionLostError, DeviceConfigurationError

_CLIPPING_GAIN = 12.0  # drives S1 peaks far past full scale, as a gain knob turned to max


class Fault(StrEnum):
    """How the simulated input misbehaves (a drop-out is :meth:`SimulatedStethoscope.drop_out`)."""

    NONE = "none"
    CLIPPING = "clipping"
    SILENCE = "silence"


def quantise(signal: Signal, dtype: str) -> Samples:
    """Full-scale-1.0 floats as the device would deliver them (saturating, never wrapping)."""
    if dtype == "float32":
        return np.clip(signal, -1.0, 1.0).astype(np.float32)
    return np.clip(np.rint(signal * 32767.0), -32768, 32767).astype(np.int16)


class SimulatedStethoscope(AudioSource):
    """Heart and lung sounds from a :class:`Scene`, delivered like a real input.

    ``drop_out_after_blocks`` ends the stream after that many blocks with
    :class:`ConnectionLostError`; ``fault`` can be changed at any time.
    ``signal`` streams a known test signal instead of the scene
    (:mod:`devices.audio.test_signals`, for measuring the chain).
    """

    def __init__(self, scene: Scene | None = None, *, paced: bool = True,
                 dtype: str = "int16", fault: Fault = Fault.NONE,
                 drop_out_after_blocks: int | None = None,
                 name: str = "simulated stethoscope",
                 signal: SignalRenderer | None = None) -> None:
        if dtype not in DTYPES:
            raise DeviceConfigurationError(f"audio sample format {dtype!r}: use int16 or float32")
        self.synth = HeartLungSynth(scene or Scene())
        self.signal = signal
        self.paced = paced
        self.dtype = dtype
        self.fault = fault
        self.drop_out_after_blocks = drop_out_after_blocks
        self._name = name
        self._produced = 0
        self._channel = BlockChannel()
        self._lost: ConnectionLostError | None = None
        self._closed = False
        self._task: asyncio.Task[None] | None = None

    @classmethod
    async def open(cls, scene: Scene | None = None, *, paced: bool = True,
                   dtype: str = "int16", fault: Fault = Fault.NONE,
                   drop_out_after_blocks: int | None = None,
                   name: str = "simulated stethoscope",
                   signal: SignalRenderer | None = None) -> SimulatedStethoscope:
        """Create and start at once, as :meth:`AudioCapture.open` does for a real input."""
        source = cls(scene, paced=paced, dtype=dtype, fault=fault,
                     drop_out_after_blocks=drop_out_after_blocks, name=name, signal=signal)
        source.start()
        return source

    @property
    def name(self) -> str:
        """The name given to this simulated input."""
        return self._name

    @property
    def dropped(self) -> int:
        """Blocks dropped because the consumer fell too far behind (paced mode)."""
        return self._channel.dropped

    def start(self) -> None:
        """Start producing in real time (paced mode; needs a running loop). Idempotent."""
        if self.paced and self._task is None and not self._closed:
            self._task = asyncio.get_running_loop().create_task(self._produce())

    def set_rates(self, heart_rate_bpm: float, respiratory_rate_bpm: float | None = None) -> None:
        """Change the heart (and optionally breathing) rate while streaming."""
        if respiratory_rate_bpm is None:
            respiratory_rate_bpm = self.synth.respiratory_rate_bpm
        self.synth.set_rates(heart_rate_bpm, respiratory_rate_bpm)

    def drop_out(self) -> None:
        """Make the stream die now, as a pulled USB stethoscope does."""
        if not self._closed:
            self._lose("the audio stream stopped")

    def next_block(self) -> AudioBlock:
        """Render the next block now (no pacing, no drop-out check)."""
        signal = (self.signal or self.synth).render(BLOCK_FRAMES)
        if self.fault is Fault.CLIPPING:
            signal = signal * _CLIPPING_GAIN
        elif self.fault is Fault.SILENCE:
            signal = np.zeros_like(signal)
        block = AudioBlock(quantise(signal, self.dtype), self._produced)
        self._produced += 1
        return block

    async def read(self) -> AudioBlock | None:
        """The next block (see :class:`AudioSource`)."""
        if self.paced:
            self.start()
            return await self._channel.get()
        if self._lost is not None:
            raise self._lost
        if self._closed:
            return None
        if self._due_to_drop():
            raise self._lose("the audio stream stopped")
        await asyncio.sleep(0)  # stay a well-behaved coroutine: let others run between blocks
        return self.next_block()

    async def close(self) -> None:
        """Stop producing; pending and later reads return ``None``."""
        if self._closed:
            return
        self._closed = True
        self._channel.end()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def _due_to_drop(self) -> bool:
        limit = self.drop_out_after_blocks
        return limit is not None and self._produced >= limit

    def _lose(self, detail: str) -> ConnectionLostError:
        """Record the loss once, hand it to a paced consumer, stop producing."""
        if self._lost is None:
            self._lost = stream_lost(self._name, detail)
            self._channel.fail(self._lost)
            if self._task is not None and self._task is not asyncio.current_task():
                self._task.cancel()
        return self._lost

    async def _produce(self) -> None:
        """Paced producer: block n is delivered when its last sample would have been captured."""
        loop = asyncio.get_running_loop()
        origin = loop.time()
        try:
            while self._lost is None:
                if self._due_to_drop():
                    self._lose("the audio stream stopped")
                    return
                delay = origin + (self._produced + 1) * BLOCK_SECONDS - loop.time()
                if delay > 0:
                    await asyncio.sleep(delay)
                self._channel.put(self.next_block())
        except Exception as exc:  # a simulator bug must end the stream, not hang the reader
            self._lose(f"simulator failed: {exc!r}")
