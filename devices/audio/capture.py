"""Stethoscope capture from a real audio input through sounddevice (PortAudio).

:class:`AudioCapture` opens one input at 48 kHz, mono, in blocks of 960
frames (20 ms), with a callback stream: PortAudio calls us from its own
thread, we copy the block and post it to the event loop with
``loop.call_soon_threadsafe``, so the loop never waits on the sound card.

Nothing alters the sound. PortAudio itself applies no echo cancellation, no
noise suppression and no automatic gain control (those live in browsers,
WebRTC's audio processing module and desktop sound servers' optional
filters, none of which is in this chain), and this module adds none: a
stethoscope's faint low-frequency murmurs are exactly what such processing
would remove.

Native errors (``sounddevice.PortAudioError``, a missing PortAudio library,
sounddevice's ``ValueError`` for bad device names) are translated by
:func:`translate_audio_error`, the one translation point of this transport.
A stream that stops on its own, or stays silent for ``stall_timeout``,
becomes :class:`~devices.errors.ConnectionLostError`.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import unquote

from devices.audio.block import (
    BLOCK_FRAMES,
    DTYPES,
    SAMPLE_RATE,
    AudioBlock,
    AudioSource,
    BlockChannel,
    stream_lost,
)
from devices.errors import (
    DeviceConfigurationError,
    DeviceError,
    DeviceNotFoundError,
    DeviceUnavailableError,
)

DeviceSpec = int | str | None  # index, name (or part of it), or None for the system default
StreamFactory = Callable[..., Any]  # sounddevice.InputStream or a stand-in with its signature
_SCHEME = "audio://"


@dataclass(frozen=True, slots=True)
class AudioInputInfo:
    """One audio input as the system lists it."""

    index: int
    name: str
    channels: int
    default_sample_rate: float
    host_api: str


def parse_audio_url(url: str) -> DeviceSpec:
    """``audio://default`` → None, ``audio://2`` → 2, ``audio://Littmann%20CORE`` → a name."""
    if not url.startswith(_SCHEME) or url == _SCHEME:
        raise DeviceConfigurationError(f"not an audio input URL: {url!r} "
                                       "(expected audio://default, audio://<index> or "
                                       "audio://<name>)")
    # Not urlsplit: ALSA names such as "USB Audio: - (hw:1,0)" are not host:port.
    target = unquote(url[len(_SCHEME):])
    if target == "default":
        return None
    return int(target) if target.isdecimal() else target


def _sounddevice() -> ModuleType:
    """Import sounddevice on first use: without libportaudio2 the import itself fails,
    and that must be a device error, not a crash of whoever imports this module."""
    return importlib.import_module("sounddevice")


def describe(device: DeviceSpec) -> str:
    """How a device spec reads in messages."""
    return "the default input" if device is None else repr(device)


def translate_audio_error(exc: BaseException, device: DeviceSpec) -> DeviceError:
    """The one place where PortAudio and sounddevice errors become :mod:`devices.errors` types."""
    if isinstance(exc, DeviceError):
        return exc
    detail = str(exc) or type(exc).__name__
    if isinstance(exc, OSError) and "PortAudio" in detail:  # raised by `import sounddevice`
        return DeviceUnavailableError(f"no audio input device: the PortAudio library is missing "
                                      f"(install libportaudio2): {detail}")
    if isinstance(exc, ValueError):  # sounddevice's "No input device matching ..."
        return DeviceNotFoundError(f"no audio input device {describe(device)}: {detail}")
    if device is None:
        return DeviceUnavailableError(
            f"no audio input device: {detail}; is the stethoscope plugged in and seen by "
            "the system?")
    return DeviceUnavailableError(f"audio input {describe(device)} cannot record 48 kHz mono: "
                                  f"{detail}")


def list_input_devices() -> list[AudioInputInfo]:
    """Every input the system offers (an empty list when there is none)."""
    try:
        sd = _sounddevice()
        host_apis = [api["name"] for api in sd.query_hostapis()]
        return [AudioInputInfo(int(d["index"]), str(d["name"]), int(d["max_input_channels"]),
                               float(d["default_samplerate"]), host_apis[d["hostapi"]])
                for d in sd.query_devices() if d["max_input_channels"] > 0]
    except Exception as exc:
        raise translate_audio_error(exc, None) from exc


def _resolve(device: DeviceSpec) -> int | None:
    """The PortAudio index of ``device``; absent or ambiguous names are errors here."""
    if device is None:
        return None  # PortAudio's own default; its error says why if there is none
    inputs = list_input_devices()
    present = ", ".join(f"{i.index}: {i.name}" for i in inputs) or "none"
    if isinstance(device, int):
        matches = [i for i in inputs if i.index == device]
    else:
        matches = ([i for i in inputs if i.name == device]
                   or [i for i in inputs if device.lower() in i.name.lower()])
    if not matches:
        raise DeviceNotFoundError(f"no audio input device {describe(device)} (inputs present: "
                                  f"{present}): is the stethoscope plugged in?")
    if len(matches) > 1:
        raise DeviceConfigurationError(f"audio input name {device!r} is ambiguous: it matches "
                                       + ", ".join(m.name for m in matches))
    return matches[0].index


def _pick_dtype(index: int | None) -> str:
    """int16 if the input takes it (USB stethoscopes speak 16-bit PCM), else float32."""
    sd = _sounddevice()
    try:
        sd.check_input_settings(index, channels=1, dtype="int16", samplerate=SAMPLE_RATE)
        return "int16"
    except sd.PortAudioError:
        sd.check_input_settings(index, channels=1, dtype="float32", samplerate=SAMPLE_RATE)
        return "float32"


class AudioCapture(AudioSource):
    """A live stethoscope stream from a real audio input (see :class:`AudioSource`).

    Open with ``await AudioCapture.open(device)`` or ``open_url("audio://2")``.
    ``stall_timeout`` (seconds, None = never) turns a stream that silently
    stops calling back (a USB device pulled on some drivers) into
    :class:`~devices.errors.ConnectionLostError`.
    """

    def __init__(self, device: DeviceSpec, dtype: str, stall_timeout: float | None,
                 loop: asyncio.AbstractEventLoop) -> None:
        self._device = device
        self.dtype = dtype
        self._stall_timeout = stall_timeout
        self._loop = loop
        self._channel = BlockChannel()
        self._stream: Any = None
        self._next_index = 0  # touched only by PortAudio's callback thread
        self._closing = False

    @classmethod
    async def open(cls, device: DeviceSpec = None, *, dtype: str | None = None,
                   stall_timeout: float | None = 1.0,
                   stream_factory: StreamFactory | None = None) -> AudioCapture:
        """Open and start ``device``; ``dtype`` None asks PortAudio for int16, then float32.

        Device enumeration and stream start run in a worker thread (ALSA can
        take a noticeable time). ``stream_factory`` replaces
        ``sounddevice.InputStream`` (tests on machines without a sound card).
        """
        if dtype is not None and dtype not in DTYPES:
            raise DeviceConfigurationError(f"audio sample format {dtype!r}: use int16 or float32")
        capture = cls(device, dtype or "int16", stall_timeout, asyncio.get_running_loop())
        await asyncio.to_thread(capture._start, stream_factory, dtype is None)
        return capture

    @classmethod
    async def open_url(cls, url: str, **options: Any) -> AudioCapture:
        """Open the input named by an ``audio://`` URL (see :func:`parse_audio_url`)."""
        return await cls.open(parse_audio_url(url), **options)

    @property
    def name(self) -> str:
        """The device as it was asked for."""
        return "default" if self._device is None else str(self._device)

    @property
    def dropped(self) -> int:
        """Blocks dropped because the consumer fell too far behind."""
        return self._channel.dropped

    def _start(self, stream_factory: StreamFactory | None, pick_dtype: bool) -> None:
        try:
            index = _resolve(self._device)
            if pick_dtype:
                self.dtype = _pick_dtype(index)
            factory = stream_factory or _sounddevice().InputStream
            self._stream = factory(
                samplerate=SAMPLE_RATE, blocksize=BLOCK_FRAMES, device=index, channels=1,
                dtype=self.dtype, callback=self._on_block, finished_callback=self._on_finished)
            self._stream.start()
        except DeviceError:
            raise
        except Exception as exc:
            raise translate_audio_error(exc, self._device) from exc

    def _on_block(self, indata: Any, frames: int, _time: Any, status: Any) -> None:
        """PortAudio thread: copy (the buffer is reused after we return) and post to the loop."""
        samples = indata[:, 0].copy()  # PortAudio guarantees `blocksize` frames per call
        block = AudioBlock(samples, self._next_index, gap_before=bool(status.input_overflow))
        self._next_index += 1
        with contextlib.suppress(RuntimeError):  # loop closed: nobody left to deliver to
            self._loop.call_soon_threadsafe(self._channel.put, block)

    def _on_finished(self) -> None:
        """PortAudio thread: the stream became inactive, by our close or on its own."""
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._finished)

    def _finished(self) -> None:
        if not self._closing:
            self._channel.fail(stream_lost(self.name, "the audio stream stopped"))

    async def read(self) -> AudioBlock | None:
        """The next block (see :class:`AudioSource`)."""
        timeout = None if self._closing else self._stall_timeout
        try:
            return await self._channel.get(timeout)
        except TimeoutError:
            self._channel.fail(stream_lost(self.name, f"nothing for {self._stall_timeout:g} s"))
            return await self._channel.get()

    async def close(self) -> None:
        """Stop and close the stream (in a worker thread: stopping waits for PortAudio)."""
        if self._closing:
            return
        self._closing = True
        self._channel.end()
        if self._stream is not None:
            await asyncio.to_thread(self._close_stream)

    def _close_stream(self) -> None:
        # A device already gone cannot be stopped cleanly; it is released either way.
        with contextlib.suppress(Exception):
            self._stream.stop()
        with contextlib.suppress(Exception):
            self._stream.close()
