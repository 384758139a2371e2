"""The cart's loudspeaker: the remote doctor's voice, heard at the bedside.

:class:`Speaker` plays mono 48 kHz float blocks through PortAudio
(sounddevice) with a small bounded queue: late audio is dropped rather than
played late, so the conversation never drifts behind. It keeps the level of
what it plays (dBFS), for a meter on screen. Without a sound card (or
without PortAudio) :func:`open_speaker` raises a clear
:class:`~devices.errors.DeviceUnavailableError`; the station then shows the
doctor's voice level but cannot play it, and says so.
"""

from __future__ import annotations

import math
import threading
from collections import deque
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from devices.audio.block import BLOCK_FRAMES, SAMPLE_RATE
from devices.audio.capture import DeviceSpec, _sounddevice, parse_audio_url
from devices.errors import DeviceError, DeviceNotFoundError, DeviceUnavailableError

Samples = npt.NDArray[np.float32]
SILENCE_DBFS = -120.0


class AudioSink(Protocol):
    """Where received speech goes: a loudspeaker, or anything that takes blocks."""

    def play(self, samples: Samples) -> None:
        """Queue mono float samples (−1..1) at 48 kHz; never blocks."""

    def close(self) -> None:
        """Stop playing and release the device."""


def level_dbfs(samples: Samples) -> float:
    """RMS level of ``samples`` in dBFS (−120 for silence)."""
    if samples.size == 0:
        return SILENCE_DBFS
    rms = float(np.sqrt(np.mean(np.square(samples, dtype=np.float64))))
    return max(SILENCE_DBFS, 20 * math.log10(rms)) if rms > 0 else SILENCE_DBFS


def translate_output_error(exc: BaseException, device: DeviceSpec) -> DeviceError:
    """PortAudio and sounddevice errors of an output, as :mod:`devices.errors` types."""
    if isinstance(exc, DeviceError):
        return exc
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and "PortAudio" in detail:
        return DeviceUnavailableError("no loudspeaker: the PortAudio library is missing "
                                      f"(install libportaudio2): {detail}")
    which = "the default output" if device is None else repr(device)
    if isinstance(exc, ValueError):
        return DeviceNotFoundError(f"no audio output {which}: {detail}")
    return DeviceUnavailableError(f"no loudspeaker ({which}): {detail}; is the cart's speaker "
                                  "connected and seen by the system?")


class Speaker:
    """A PortAudio output playing queued blocks; at most ``capacity`` blocks wait."""

    def __init__(self, url: str = "audio://default", *, capacity: int = 10) -> None:
        self.url = url
        self._device = parse_audio_url(url)
        self._queue: deque[Samples] = deque(maxlen=capacity)
        self._pending: Samples = np.zeros(0, np.float32)
        self._lock = threading.Lock()
        self.dropped = 0
        self.level = SILENCE_DBFS
        try:
            sd = _sounddevice()
            self._stream: Any = sd.OutputStream(
                samplerate=SAMPLE_RATE, channels=1, dtype="float32", device=self._device,
                blocksize=BLOCK_FRAMES, latency="low", callback=self._fill)
            self._stream.start()
        except Exception as exc:  # PortAudio reports everything as generic errors
            raise translate_output_error(exc, self._device) from exc

    def play(self, samples: Samples) -> None:
        """Queue a block; the oldest waiting block goes when the queue is full."""
        self.level = level_dbfs(samples)
        with self._lock:
            if self._queue.maxlen is not None and len(self._queue) == self._queue.maxlen:
                self.dropped += 1
            self._queue.append(np.asarray(samples, np.float32))

    def _fill(self, outdata: Any, frames: int, _time: Any, _status: Any) -> None:
        """PortAudio's thread: copy queued samples out, silence when there are none."""
        out = np.zeros(frames, np.float32)
        filled = 0
        with self._lock:
            while filled < frames:
                if self._pending.size == 0:
                    if not self._queue:
                        break
                    self._pending = self._queue.popleft()
                take = min(frames - filled, self._pending.size)
                out[filled:filled + take] = self._pending[:take]
                self._pending = self._pending[take:]
                filled += take
        outdata[:, 0] = out

    def close(self) -> None:
        """Stop the stream (idempotent)."""
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.stop()
            stream.close()


def open_speaker(url: str = "audio://default") -> Speaker:
    """Open the cart's loudspeaker, or raise a clear :class:`DeviceError`."""
    return Speaker(url)
