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
import math
import time
from collections import deque
from datetime import datetime
from typing import cast

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
_MAX_INDEX_STEP = 50  # blocks: a bigger jump of an input's index is a new stream, not a gap


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


class CaptureClock:
    """When each block of an input was captured, on the loop's monotonic clock.

    An input delivers block ``n`` once its last sample is captured, so
    ``arrival - (n + 1) x 20 ms`` is, for every block, an upper bound of the
    time the input's sample 0 was captured: a late delivery (a stalled loop,
    a busy machine) can only overestimate it. The smallest value over the
    last ``window`` seconds is the estimate; a window rather than a running
    minimum lets a sound card whose clock runs slow against ours be followed,
    and an input that starts over (its index going back) is learnt anew.
    """

    def __init__(self, window: float = 10.0) -> None:
        self.window = window
        self._offsets: deque[tuple[float, float]] = deque()  # arrival, origin candidate
        self._last_index: int | None = None

    def note(self, index: int, arrival: float) -> None:
        """Block ``index`` arrived at ``arrival`` (monotonic seconds)."""
        if self._last_index is not None and index <= self._last_index:
            self._offsets.clear()  # a new stream (a reconnected input): its own origin
        self._last_index = index
        candidate = arrival - (index + 1) * BLOCK_SECONDS
        while self._offsets and self._offsets[-1][1] >= candidate:
            self._offsets.pop()  # never the minimum again: keeps the deque monotonic
        self._offsets.append((arrival, candidate))
        while self._offsets[0][0] < arrival - self.window and len(self._offsets) > 1:
            self._offsets.popleft()

    def age(self, index: int, now: float) -> float:
        """Seconds since block ``index``'s last sample was captured (0 if unknown)."""
        if not self._offsets:
            return 0.0
        return now - (self._offsets[0][1] + (index + 1) * BLOCK_SECONDS)


class BlockAudioTrack(MediaStreamTrack):
    """Mono 48 kHz audio track fed with 20 ms blocks; silence while nothing comes.

    Blocks arrive through :meth:`push` (e.g. as a
    :meth:`devices.media.StethoscopeDevice.add_listener` callback) or from an
    :class:`AudioSource` read by the track itself. Each block is sent as soon
    as it arrives, paced by the input itself (the stethoscope's own clock):
    the track adds no delay of its own.

    A block older than ``max_age`` (from its capture, see
    :class:`CaptureClock`) is never sent. A stalled event loop (a busy
    machine) delays the input and this track alike, and the input then
    delivers the blocks it held in one burst. Sent late, such a burst is what
    the doctor's browser sees as network jitter: Chromium's jitter buffer
    (NetEq) sets its delay to the 95th percentile of the lateness it sees and
    takes tens of seconds to come back down; measured on the 2-core machine,
    bursts kept its delay at 200-700 ms (docs/stethoscope-fidelity.md). So the
    stale part of a burst is dropped, and the frame timestamps (``pts``) jump
    over what was dropped: the receiver conceals a short gap instead of
    delaying everything after it. ``max_age`` bounds the lateness it can see,
    hence its delay.

    While the input sends nothing for ``idle`` seconds (not started, lost, no
    stethoscope), silence goes out every 20 ms on the loop's clock, so the
    receiver's timeline keeps going.
    """

    kind = "audio"

    def __init__(self, source: AudioSource | None = None, *, capacity: int = 25,
                 max_age: float = 0.06, idle: float = 0.1) -> None:
        super().__init__()
        self._queue: deque[AudioBlock] = deque(maxlen=capacity)
        self.max_age = max_age
        self._idle = idle
        self._clock = CaptureClock()
        self._arrived = asyncio.Event()
        self._source = source
        self._reader: asyncio.Task[None] | None = None
        self._last_arrival: float | None = None
        self._last_index: int | None = None  # of the last block sent (None: silence)
        self._sent_at: float | None = None
        # A run of silence is paced from its start (when, and frames into it), not from
        # the previous frame: a wake-up a few ms late is then no gap in the timeline.
        self._silence_run: tuple[float, int] | None = None
        self._pts = 0
        self.dropped = 0
        self.silent_frames = 0

    def push(self, block: AudioBlock) -> None:
        """Queue one block for sending (loop thread); the oldest is dropped when full."""
        now = time.monotonic()
        self._clock.note(block.index, now)
        if self._queue.maxlen is not None and len(self._queue) == self._queue.maxlen:
            self.dropped += 1
        self._queue.append(block)
        self._last_arrival = now
        self._arrived.set()

    async def recv(self) -> AudioFrame:
        """The next 20 ms frame, s16 mono 48 kHz: the next fresh block, or silence."""
        if self._source is not None and self._reader is None:
            self._reader = asyncio.create_task(self._read_source(self._source))
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            now = time.monotonic()
            while self._queue and self._clock.age(self._queue[0].index, now) > self.max_age:
                self._queue.popleft()  # too late to be worth hearing late: see the class doc
                self.dropped += 1
            if self._queue:
                block = self._queue.popleft()
                frame = self._frame(_int16(block), block.index, now)
                # When its last sample was captured (monotonic s), for the last check before
                # the wire (station.call.opus.InlineOpusTrack): the relay and the sender wait
                # for the loop too.
                frame.opaque = now - self._clock.age(block.index, now)
                return frame
            idle_at = (self._last_arrival or -math.inf) + self._idle
            if now >= idle_at:
                due = now if self._sent_at is None else self._silence_due()
                if now >= due:
                    self.silent_frames += 1
                    return self._frame(np.zeros(BLOCK_FRAMES, dtype=np.int16), None, now)
                await self._wait_block(due - now)
            else:
                await self._wait_block(idle_at - now)

    def _frame(self, samples: np.ndarray, index: int | None, now: float) -> AudioFrame:
        """A frame whose ``pts`` keeps the input's timeline: consecutive blocks are
        960 apart, a gap (dropped blocks, silence, a stall) advances it as long."""
        if self._sent_at is not None:
            if index is not None and self._last_index is not None \
                    and 0 < index - self._last_index <= _MAX_INDEX_STEP:
                step = index - self._last_index
            elif index is None and self._silence_run is not None:
                started, frames = self._silence_run
                step = max(1, int((now - started) / BLOCK_SECONDS) - frames)
            else:
                step = max(1, round((now - self._sent_at) / BLOCK_SECONDS))
            self._pts += step * BLOCK_FRAMES
        if index is not None:
            self._silence_run = None
        elif self._silence_run is None:
            self._silence_run = (now, 0)
        else:
            started, frames = self._silence_run
            self._silence_run = (started, frames + step)
        self._last_index = index
        self._sent_at = now
        frame = AudioFrame.from_ndarray(samples.reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        frame.pts = self._pts
        frame.time_base = AUDIO_TIME_BASE
        return frame

    def _silence_due(self) -> float:
        """When the next silent frame is due: 20 ms after the previous frame, or, within a
        run of silence, on the run's own 20 ms grid (late wake-ups do not add up)."""
        assert self._sent_at is not None
        if self._silence_run is None:
            return self._sent_at + BLOCK_SECONDS
        started, frames = self._silence_run
        return started + (frames + 1) * BLOCK_SECONDS

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


class SwitchingVideoTrack(MediaStreamTrack):
    """The one track a video sender reads for a whole connection; its source can change.

    aiortc's sender awaits ``track.recv()`` in a loop. Swapping the sender's
    track (``replaceTrack``) while it awaits the old one leaves it waiting on
    a track that may never deliver again (a stopped relay proxy, a camera
    closed by the exam switch), and a source that ends raises
    ``MediaStreamError``, on which the sender stops for good. Measured: about
    one exam switch in three, right after a call opened, froze the doctor's
    exam video for the rest of the call (``tests/e2e/test_video_quality.py``).
    Here the pending ``recv`` is moved to the new source at once, and a
    source that ends or is taken away (video stopped) only makes ``recv``
    wait for the next one.
    """

    kind = "video"

    def __init__(self, source: MediaStreamTrack | None = None) -> None:
        super().__init__()
        self._source = source
        self._switched = asyncio.Event()

    def switch(self, source: MediaStreamTrack | None) -> None:
        """Read from ``source`` from now on; the previous one is stopped."""
        old, self._source = self._source, source
        self._switched.set()
        if old is not None and old is not source:
            old.stop()

    async def recv(self) -> VideoFrame:
        """The next frame of the current source, waiting through switches."""
        while True:
            if self.readyState != "live":
                raise MediaStreamError
            source = self._source
            self._switched.clear()
            if source is None or source.readyState != "live":
                await self._switched.wait()
                continue
            reading = asyncio.ensure_future(source.recv())
            switching = asyncio.ensure_future(self._switched.wait())
            try:
                await asyncio.wait({reading, switching}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                switching.cancel()
            if not reading.done():
                reading.cancel()
                continue  # switched: read from the new source
            try:
                return cast(VideoFrame, reading.result())
            except MediaStreamError:
                if self._source is source:  # ended without a switch: wait for one
                    await self._switched.wait()

    def stop(self) -> None:
        """Stop this track and its current source."""
        super().stop()
        self._switched.set()  # a pending recv sees the stop
        if self._source is not None:
            self._source.stop()
