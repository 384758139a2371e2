"""The doctor's voice at the bedside: the console's microphone track, played on the cart.

:class:`DoctorVoice` reads the remote audio track the doctor's browser sends
(Opus decoded by aiortc into 48 kHz 16-bit frames, usually stereo), mixes
it to mono float and hands it to a sink, the cart's
:class:`~devices.audio.playback.Speaker`. It keeps the level heard, so the
nurse's screen can show that the doctor is speaking even where no speaker
is connected.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame

from devices.audio.playback import SILENCE_DBFS, AudioSink, Samples, level_dbfs

log = logging.getLogger(__name__)
HEARD_DBFS = -50.0  # louder than a quiet room's microphone: someone is speaking


def mono_float(frame: AudioFrame) -> Samples:
    """A decoded frame as mono float samples in −1..1 (interleaved s16 or planar)."""
    data = frame.to_ndarray()
    channels = len(frame.layout.channels)
    if frame.format.is_planar:
        samples = data.reshape(channels, -1).astype(np.float32).mean(axis=0)
    else:
        samples = data.reshape(-1, channels).astype(np.float32).mean(axis=1)
    if frame.format.name.startswith("s16"):
        samples /= 32768.0
    result: Samples = samples.astype(np.float32, copy=False)
    return result


class DoctorVoice:
    """Plays one remote audio track until it ends; ``level`` is the last block's dBFS."""

    def __init__(self, track: MediaStreamTrack, sink: AudioSink | None) -> None:
        self.track = track
        self.sink = sink
        self.level = SILENCE_DBFS
        self.frames = 0
        self.heard = asyncio.Event()  # set once the doctor is audible (above HEARD_DBFS)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start reading the track on the running loop."""
        self._task = asyncio.create_task(self._run(), name="doctor voice")

    async def _run(self) -> None:
        while True:
            try:
                frame = await self.track.recv()
            except MediaStreamError:
                return  # the connection ended or was replaced
            samples = mono_float(frame)  # type: ignore[arg-type]
            self.level = level_dbfs(samples)
            self.frames += 1
            if self.level > HEARD_DBFS:
                self.heard.set()
            if self.sink is not None:
                self.sink.play(samples)

    async def stop(self) -> None:
        """Stop reading (the sink stays open for the next connection's track)."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
