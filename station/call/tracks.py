"""Media tracks of the call: cameras and block-fed audio as aiortc tracks (habit 9).

:class:`CameraTrack` turns a :class:`~devices.camera.Camera` into a video
track; :class:`BlockAudioTrack` (and its :class:`StethoscopeTrack` face)
turns 20 ms :class:`~devices.audio.AudioBlock`\\ s into audio frames. Both
always hand out the newest media: a consumer slower than the source sees
dropped frames, never a growing delay (aiortc users report latency building
up when frames are queued faster than they are encoded).

One capture feeds the local preview and the peer through :class:`TrackHub`,
a thin wrapper around aiortc's ``MediaRelay``: the peer connection stops the
tracks it was given when it closes, so it must be given a relay proxy, never
the source itself, or a reconnection would find the camera track dead.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import time
from collections import deque
from datetime import datetime

import cv2
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from av import AudioFrame, VideoFrame

from devices.audio.block import BLOCK_FRAMES, SAMPLE_RATE, AudioBlock, AudioSource
from devices.camera.frame import Frame
from devices.camera.source import Camera
from devices.errors import DeviceError

VIDEO_CLOCK_RATE = 90_000  # RTP clock of every video codec
VIDEO_TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK_RATE)
AUDIO_TIME_BASE = fractions.Fraction(1, SAMPLE_RATE)
BLOCK_SECONDS = BLOCK_FRAMES / SAMPLE_RATE
CAMERA_RETRY_SECONDS = 0.1  # how often a track looks again at a camera that is not running
_MIN_WAIT = 0.01  # seconds a late audio frame still waits for its block (see BlockAudioTrack)


def _to_video_frame(frame: Frame, width: int, height: int) -> VideoFrame:
    """BGR camera picture → scaled yuv420p frame (CPU-bound: run in a worker thread).

    OpenCV scales and converts to I420 (the yuv420p plane layout) about six
    times faster than libswscale through PyAV at 640x360 (1.4 ms against
    8.3 ms a 1080p frame, measured here); the encoder then needs no reformat.
    """
    image = frame.image
    if (image.shape[1], image.shape[0]) != (width, height):
        image = np.asarray(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA),
                           dtype=np.uint8)
    planes = np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2YUV_I420), dtype=np.uint8)
    return VideoFrame.from_ndarray(planes, format="yuv420p")


_VIDEO_ORIGIN: list[datetime] = []


def _shared_video_origin(first_capture: datetime) -> datetime:
    """One time origin for every camera track of the process.

    A sender's track is replaced when the nurse switches exam camera: the new
    track's frames must continue the stream's timeline. With an origin per
    track, the dermatoscope's first frame would get pts 0 after the otoscope's
    thousands; libvpx refuses a pts that goes back ("Invalid data found when
    processing input") and aiortc's sender then stops for good, freezing the
    exam video at the doctor's end."""
    if not _VIDEO_ORIGIN:
        _VIDEO_ORIGIN.append(first_capture)
    return _VIDEO_ORIGIN[0]


class CameraTrack(MediaStreamTrack):
    """A video track showing a running camera, scaled to ``width`` x ``height``.

    Paced by the camera itself: each ``recv`` waits for the first frame newer
    than the last one sent and returns the newest available, so frames the
    encoder had no time for are skipped. ``pts`` comes from the capture
    time on the 90 kHz clock, so the receiver plays frames at the pace they
    were taken. The camera is started and stopped by its owner, not here:
    while it is not running (not started yet, or lost and being reconnected
    by the device manager) the track waits, and the call carries on.
    """

    kind = "video"

    def __init__(self, camera: Camera, width: int = 1280, height: int = 720) -> None:
        super().__init__()
        self.camera = camera
        self.width = width
        self.height = height
        self.max_fps: float | None = None
        self._sequence: int | None = None
        self._origin: datetime | None = None
        self._last_pts = -1
        self._last_sent: datetime | None = None

    def set_output(self, width: int, height: int, fps: float | None = None) -> None:
        """Send ``width`` x ``height``, at most ``fps`` frames a second, from the next
        frame on (the call adapting to its link: :mod:`station.call.adapt`)."""
        self.width, self.height, self.max_fps = width, height, fps

    async def recv(self) -> VideoFrame:
        """The next (newest) camera frame as a ``VideoFrame``; ends when the camera stops."""
        frame = await self._next_frame()
        self._sequence = frame.sequence
        while self.max_fps and self._last_sent is not None and 0 <= (
                frame.captured_at - self._last_sent).total_seconds() < 0.9 / self.max_fps:
            frame = await self._next_frame()  # too soon for the frame rate asked: skip
            self._sequence = frame.sequence
        self._last_sent = frame.captured_at
        video = await asyncio.to_thread(_to_video_frame, frame, self.width, self.height)
        if self._origin is None:
            self._origin = _shared_video_origin(frame.captured_at)
        pts = round((frame.captured_at - self._origin).total_seconds() * VIDEO_CLOCK_RATE)
        # Capture times come from the wall clock, which may step: never go backwards.
        pts = max(pts, self._last_pts + 1)
        self._last_pts = pts
        video.pts = pts
        video.time_base = VIDEO_TIME_BASE
        return video

    async def _next_frame(self) -> Frame:
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            if self.camera.running:
                try:
                    return await self.camera.next_frame(after=self._sequence)
                except DeviceError:
                    pass  # lost mid-wait: the device manager restarts it, the call goes on
            await asyncio.sleep(CAMERA_RETRY_SECONDS)


class BlockAudioTrack(MediaStreamTrack):
    """Mono 48 kHz audio track fed with 20 ms blocks; silence while nothing comes.

    Blocks arrive through :meth:`push` (e.g. as a
    :meth:`devices.media.StethoscopeDevice.add_listener` callback) or from an
    :class:`AudioSource` read by the track itself. Frames are paced by the
    loop clock, one every 20 ms, so the receiver's timeline keeps going
    through a silent or lost input.

    A stalled event loop (a busy machine) delays the input and this track
    alike, and the input then delivers the blocks it held in one burst: they
    are all kept (up to ``capacity``, oldest dropped beyond) and sent as the
    track catches up with its schedule, and a frame that finds no block waits
    up to ``grace`` seconds past its due time for one before becoming silence.
    Measured on the 2-core machine under load (docs/stethoscope-fidelity.md),
    a 3-block queue with immediate silence sent 30-60 % silence. Latency stays
    bounded: whenever the track is on schedule, blocks beyond ``target`` are
    dropped (oldest first), so a backlog never lasts more than ``target`` x 20 ms.
    """

    kind = "audio"

    def __init__(self, source: AudioSource | None = None, *, capacity: int = 25,
                 target: int = 3, grace: float = 0.06) -> None:
        super().__init__()
        self._queue: deque[AudioBlock] = deque(maxlen=capacity)
        self._target = target
        self._grace = grace
        self._arrived = asyncio.Event()
        self._source = source
        self._reader: asyncio.Task[None] | None = None
        self._start: float | None = None
        self._index = 0
        self.dropped = 0
        self.silent_frames = 0

    def push(self, block: AudioBlock) -> None:
        """Queue one block for sending (loop thread); the oldest is dropped when full."""
        if self._queue.maxlen is not None and len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(block)
        self._arrived.set()

    async def recv(self) -> AudioFrame:
        """The next 20 ms frame, s16 mono 48 kHz, due every 20 ms."""
        if self.readyState != "live":
            raise MediaStreamError
        if self._source is not None and self._reader is None:
            self._reader = asyncio.create_task(self._read_source(self._source))
        if self._start is None:
            self._start = time.monotonic()
        due = self._start + self._index * BLOCK_SECONDS
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
            while len(self._queue) > self._target:  # on schedule: a backlog is only latency
                self._queue.popleft()
                self.dropped += 1
        if not self._queue:
            # At least a moment, even when late: after a stall the input's burst is on its way.
            await self._wait_block(max(due + self._grace - time.monotonic(), _MIN_WAIT))
        samples = _int16(self._queue.popleft()) if self._queue else None
        if samples is None:
            self.silent_frames += 1
            samples = np.zeros(BLOCK_FRAMES, dtype=np.int16)
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._index * BLOCK_FRAMES
        frame.time_base = AUDIO_TIME_BASE
        self._index += 1
        return frame

    async def _wait_block(self, timeout: float) -> None:
        self._arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._arrived.wait(), timeout)

    def stop(self) -> None:
        """Stop the track and the reader task of its source (the source stays open)."""
        super().stop()
        if self._reader is not None:
            self._reader.cancel()

    async def _read_source(self, source: AudioSource) -> None:
        try:
            while (block := await source.read()) is not None:
                self.push(block)
        except DeviceError:
            return  # the input is gone: the track goes on with silence, the device layer reports it


class StethoscopeTrack(BlockAudioTrack):
    """The stethoscope's sound, untouched: no gain, no filter, no speech processing."""


def _int16(block: AudioBlock) -> np.ndarray:
    if block.samples.dtype == np.int16:
        return np.asarray(block.samples)
    scaled = np.clip(np.rint(block.samples.astype(np.float64) * 32767.0), -32768, 32767)
    return scaled.astype(np.int16)


class TrackHub:
    """One relay for the station's sources: the preview and each call get their own proxy.

    Video proxies are unbuffered (latest frame only); audio proxies are
    buffered because every 20 ms frame matters and the sender drains them
    at the rate they are produced.
    """

    def __init__(self) -> None:
        self._relay = MediaRelay()

    def subscribe(self, source: MediaStreamTrack) -> MediaStreamTrack:
        """A new consumer's view of ``source``; stopping it leaves the source running."""
        return self._relay.subscribe(source, buffered=source.kind == "audio")
