"""What every stethoscope audio source hands its consumer: 20 ms blocks, asynchronously.

:class:`AudioSource` is the face shared by the real capture
(:class:`~devices.audio.capture.AudioCapture`) and the simulator
(:class:`~devices.audio.simulator.SimulatedStethoscope`): the same
:class:`AudioBlock` type, shape and dtype, the same ``read()`` and ``async
for``, the same errors. Code written against it cannot tell which one it
is reading (habit 4: front class, swappable backends).
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Self

import numpy as np
import numpy.typing as npt

from devices.errors import ConnectionLostError, DeviceError

SAMPLE_RATE = 48_000
BLOCK_FRAMES = 960  # 20 ms: one Opus frame, so a block maps onto one packet
BLOCK_SECONDS = BLOCK_FRAMES / SAMPLE_RATE
DTYPES = ("int16", "float32")
Samples = npt.NDArray[np.int16] | npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True, eq=False)
class AudioBlock:
    """20 ms of mono sound: ``samples`` has shape ``(960,)``, dtype int16 or float32.

    ``index`` counts blocks since the stream started (lost blocks included), so
    ``pts`` is the position of the first sample in samples at 48 kHz.
    ``gap_before`` is True when sound was lost just before this block (an
    input overflow, or a consumer too slow to keep up): a gap is flagged,
    never hidden. The samples are made read-only because one block may feed
    both the local preview and the call.
    """

    samples: Samples
    index: int
    sample_rate: int = SAMPLE_RATE
    gap_before: bool = False

    def __post_init__(self) -> None:
        if self.samples.ndim != 1 or self.samples.dtype.name not in DTYPES:
            raise ValueError(f"audio block must be 1-D int16 or float32, not "
                             f"{self.samples.dtype.name} {self.samples.shape}")
        self.samples.flags.writeable = False

    @property
    def pts(self) -> int:
        """Index of the block's first sample since the stream started."""
        return self.index * len(self.samples)

    @property
    def duration(self) -> float:
        """Length of the block in seconds."""
        return len(self.samples) / self.sample_rate


def stream_lost(name: str, detail: str) -> ConnectionLostError:
    """The error every source raises when its sound stops mid-stream."""
    return ConnectionLostError(
        f"audio input {name!r} stopped delivering sound ({detail}): "
        "is the stethoscope still plugged in?")


class BlockChannel:
    """Hands blocks from a producer to one consumer on the event loop (loop thread only).

    Bounded: when the consumer falls ``capacity`` blocks behind, the newest
    block is dropped and the next one accepted is marked ``gap_before``, so
    memory stays flat and the loss is visible. An error or the end is always
    queued after the blocks already waiting.
    """

    def __init__(self, capacity: int = 250) -> None:
        self._items: deque[AudioBlock | DeviceError | None] = deque()
        self._capacity = capacity
        self._ready = asyncio.Event()
        self._gap = False
        self._closed = False
        self.dropped = 0

    def put(self, block: AudioBlock) -> None:
        """Queue a block, or drop it (counted) if the consumer is too far behind."""
        if self._closed:
            return
        if len(self._items) >= self._capacity:
            self.dropped += 1
            self._gap = True
            return
        if self._gap:
            block = AudioBlock(block.samples, block.index, block.sample_rate, gap_before=True)
            self._gap = False
        self._push(block)

    def fail(self, error: DeviceError) -> None:
        """End the stream with ``error`` (raised to the consumer after waiting blocks)."""
        self._push(error)
        self._closed = True

    def end(self) -> None:
        """End the stream locally: blocks not yet read are discarded, then ``None`` is read.

        After :meth:`fail` this changes nothing: the error stays what is read.
        """
        if not self._closed:
            self._items.clear()
        self._push(None)
        self._closed = True

    def _push(self, item: AudioBlock | DeviceError | None) -> None:
        if not self._closed:
            self._items.append(item)
            self._ready.set()

    async def get(self, timeout: float | None = None) -> AudioBlock | None:
        """The next block, ``None`` at the end; raises the stream's error, or TimeoutError."""
        while not self._items:
            self._ready.clear()
            await asyncio.wait_for(self._ready.wait(), timeout)
        item = self._items[0]
        if isinstance(item, AudioBlock):
            self._items.popleft()
            return item
        if item is None:
            return None
        raise item  # left queued: the error is sticky


class AudioSource(ABC):
    """A live mono 48 kHz stethoscope stream read as 20 ms :class:`AudioBlock`s.

    ``read()`` returns the next block, ``None`` once the source was closed
    locally, and raises :class:`~devices.errors.ConnectionLostError` when the
    sound stops mid-stream (sticky). ``async for block in source`` stops at
    the end and raises on loss. Nothing in the chain applies echo
    cancellation, noise suppression or automatic gain: a stethoscope's
    murmurs and low frequencies are the signal.
    """

    sample_rate: int = SAMPLE_RATE
    block_frames: int = BLOCK_FRAMES
    dtype: str = "int16"

    @property
    @abstractmethod
    def name(self) -> str:
        """A human-readable name of the input, for messages and reports."""

    @abstractmethod
    async def read(self) -> AudioBlock | None:
        """The next block; ``None`` after :meth:`close`; raises ConnectionLostError on loss."""

    @abstractmethod
    async def close(self) -> None:
        """Stop the stream; pending and later reads return ``None``."""

    def __aiter__(self) -> AsyncIterator[AudioBlock]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[AudioBlock]:
        while (block := await self.read()) is not None:
            yield block

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()
