"""The camera front class: one worker thread per camera, frames handed to asyncio.

:class:`Camera` is the one public class of the camera family (habit 4). What
talks to the hardware is a :class:`CameraBackend` injected into it: OpenCV
for real UVC cameras (``capture.py``), a texture renderer for simulators
(``simulator.py``). Backends are plain blocking objects used from a single
worker thread, which owns the device (habit 3): it opens, reads, takes
stills and closes, so the event loop never blocks on a camera.

Latest-frame semantics: the worker keeps only the newest frame. A consumer
awaiting :meth:`Camera.next_frame` gets the newest one when it is ready;
frames nobody asked for in time are dropped, never queued, so a slow
consumer sees a lower frame rate, never a growing delay. Frames and errors
cross to each waiting loop through ``loop.call_soon_threadsafe``, once per
loop per frame.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import threading
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from types import TracebackType
from typing import Protocol

from devices.camera.frame import ExamKind, Frame, Image
from devices.camera.snapshot import Snapshot
from devices.errors import ConnectionLostError, DeviceError

_log = logging.getLogger(__name__)
_Outcome = Frame | DeviceError
_Still = tuple[Image, datetime]


_IDLE_POLL = 0.5  # seconds an idle worker sleeps between checks (woken at once anyway)

class CameraStoppedError(DeviceError):
    """The camera was stopped (or never started) while someone wanted a frame from it."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(f"camera {url} is not running")


class CameraBackend(Protocol):
    """Blocking access to one camera, used only from its :class:`Camera`'s worker thread.

    ``open`` raises :class:`~devices.errors.DeviceNotFoundError` when there is
    no such camera; ``read`` blocks until the next frame and raises
    :class:`~devices.errors.ConnectionLostError` once the camera is gone;
    ``still`` returns a picture at the camera's full resolution; ``interrupt``
    may be called from any thread to cut a blocking ``read`` short.
    """

    @property
    def url(self) -> str:
        """The URL this camera was opened from, as recorded in snapshots."""
        ...

    def open(self) -> None:
        """Open the device and start streaming."""

    def read(self) -> Image:
        """Block until the next video frame and return it (BGR, owned by the caller)."""
        ...

    def still(self) -> Image:
        """Take one full-resolution still and return it (BGR)."""
        ...

    def interrupt(self) -> None:
        """Ask a blocked ``read`` to return soon (best effort, any thread)."""

    def close(self) -> None:
        """Release the device."""


def _settle(futures: list[asyncio.Future[Frame]], outcome: _Outcome) -> None:
    """Runs on the consumer's loop: resolve whatever is still waiting."""
    for future in futures:
        if future.done():  # cancelled by a timeout meanwhile
            continue
        if isinstance(outcome, Frame):
            future.set_result(outcome)
        else:
            future.set_exception(outcome)


class Camera:
    """A running camera: start/stop, latest frame, awaitable next frame, snapshots.

    Thread-safe. ``start``/``stop``/``snapshot`` block (opening a UVC camera or
    switching it to still resolution takes up to seconds): from asyncio, use
    ``async with camera:`` and :meth:`snapshot_async`, which run them in a thread.
    """

    def __init__(self, backend: CameraBackend, exam: ExamKind) -> None:
        self._backend = backend
        self.exam = ExamKind(exam)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._streaming = threading.Event()  # cleared: idle, stills only
        self._streaming.set()
        self._wakeup = threading.Event()
        self._thread: threading.Thread | None = None
        self._running = False
        self._latest: Frame | None = None
        self._error: DeviceError | None = None
        self._sequence = 0
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[Frame]]] = []
        self._stills: list[concurrent.futures.Future[_Still]] = []

    @property
    def url(self) -> str:
        """The device URL (``camera://0``, ``sim://otoscope``...)."""
        return self._backend.url

    @property
    def backend(self) -> CameraBackend:
        """The injected backend (simulators expose their misbehaviour switches there)."""
        return self._backend

    @property
    def latest(self) -> Frame | None:
        """The newest frame, or None before the first one."""
        return self._latest

    @property
    def error(self) -> DeviceError | None:
        """Why the stream ended (e.g. :class:`ConnectionLostError`), or None."""
        return self._error

    @property
    def streaming(self) -> bool:
        """False while idle (see :meth:`set_streaming`)."""
        return self._streaming.is_set()

    def set_streaming(self, on: bool) -> None:
        """Stream video (the default), or idle: the device stays open and still takes
        full-resolution stills, but no video frame is read, which spares the USB
        link and the CPU for a camera nobody is looking at (the exam camera not
        shown). Frames resume within one frame time. Thread-safe."""
        if on:
            self._streaming.set()
        else:
            self._streaming.clear()
        self._wakeup.set()

    @property
    def running(self) -> bool:
        """True between a successful ``start`` and ``stop`` or the loss of the camera."""
        return self._running

    def start(self, timeout: float = 30.0) -> None:
        """Open the camera in a new worker thread and start streaming. Blocking.

        Raises the backend's translated error (e.g. DeviceNotFoundError) here,
        in the caller's thread.
        """
        if self._thread is not None and self._thread.is_alive():
            return
        opened: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._stopping.clear()
        self._error = None
        self._latest = None  # a frame from a previous run must not pass for a new one
        self._thread = threading.Thread(target=self._run, args=(opened,),
                                        name=f"camera {self.url}", daemon=True)
        self._thread.start()
        try:
            opened.result(timeout)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 5.0) -> None:
        """Stop streaming, release the device and fail every waiter. Blocking, idempotent."""
        thread = self._thread
        if thread is None:
            return
        self._stopping.set()
        self._wakeup.set()
        self._backend.interrupt()
        thread.join(timeout)
        if thread.is_alive():
            _log.warning("camera %s: worker did not stop within %.1f s", self.url, timeout)
        self._thread = None
        self._finish(CameraStoppedError(self.url))

    def __enter__(self) -> Camera:
        self.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    async def __aenter__(self) -> Camera:
        starting = asyncio.ensure_future(asyncio.to_thread(self.start))
        try:
            await asyncio.shield(starting)
        except asyncio.CancelledError:
            # Cancelled while the worker thread was being started (painting a
            # simulated scene takes seconds): let the start finish, then stop,
            # or the worker would outlive everyone and abort the interpreter.
            with contextlib.suppress(Exception):
                await starting
            await asyncio.to_thread(self.stop)
            raise
        return self

    async def __aexit__(self, kind: type[BaseException] | None, error: BaseException | None,
                        trace: TracebackType | None) -> None:
        await asyncio.to_thread(self.stop)

    async def next_frame(self, after: int | None = None) -> Frame:
        """The first frame whose sequence is above ``after`` (default: the latest now).

        Returns at once if such a frame is already there (with skipped frames
        dropped). Raises the camera's error (ConnectionLostError...) or
        :class:`CameraStoppedError`. Wrap in ``asyncio.timeout`` to bound it.
        """
        loop = asyncio.get_running_loop()
        with self._lock:
            if self._error is not None:
                raise self._error
            if not self._running:
                raise CameraStoppedError(self.url)
            latest = self._latest
            if after is None:
                after = latest.sequence if latest is not None else -1
            if latest is not None and latest.sequence > after:
                return latest
            future: asyncio.Future[Frame] = loop.create_future()
            self._waiters.append((loop, future))
        try:
            return await future
        finally:
            with self._lock:
                if (loop, future) in self._waiters:
                    self._waiters.remove((loop, future))

    async def frames(self) -> AsyncIterator[Frame]:
        """Newest frames as they come, skipping any the consumer was too slow for.

        Ends quietly when the camera is stopped; raises if the camera is lost.
        """
        sequence = -1
        while True:
            try:
                frame = await self.next_frame(after=sequence)
            except CameraStoppedError:
                return
            sequence = frame.sequence
            yield frame

    def snapshot(self, timeout: float = 30.0) -> Snapshot:
        """A full-resolution still, taken by the worker thread between frames. Blocking.

        Video pauses while a real camera switches resolution for the still.
        The pixel hash is computed here, in the caller's thread, to keep the
        video stall short.
        """
        image, captured_at = self._request_still().result(timeout)
        return Snapshot.create(image, self.url, self.exam, captured_at)

    async def snapshot_async(self) -> Snapshot:
        """:meth:`snapshot` for asyncio callers: waits without blocking the loop."""
        image, captured_at = await asyncio.wrap_future(self._request_still())
        return await asyncio.to_thread(Snapshot.create, image, self.url, self.exam, captured_at)

    def _request_still(self) -> concurrent.futures.Future[_Still]:
        request: concurrent.futures.Future[_Still] = concurrent.futures.Future()
        with self._lock:
            if self._error is not None:
                raise self._error
            if not self._running:
                raise CameraStoppedError(self.url)
            self._stills.append(request)
        self._wakeup.set()
        return request

    # --- worker thread -------------------------------------------------------

    def _run(self, opened: concurrent.futures.Future[None]) -> None:
        try:
            self._backend.open()
        except BaseException as error:  # reported to start()'s caller, not as a thread traceback
            opened.set_exception(error)
            return
        if self._stopping.is_set():  # start() gave up waiting while we were opening
            self._close_backend()
            return
        with self._lock:
            self._running = True
        opened.set_result(None)
        outcome: DeviceError = CameraStoppedError(self.url)
        try:
            while not self._stopping.is_set():
                self._serve_stills()
                if not self._streaming.is_set():
                    self._wakeup.wait(_IDLE_POLL)  # a still, a stop or streaming again
                    self._wakeup.clear()
                    continue
                image = self._backend.read()
                if not self._stopping.is_set():
                    self._publish(image)
        except DeviceError as error:
            if not self._stopping.is_set():  # an interrupted read is not a lost camera
                outcome = error
        except Exception as error:  # a bug, not a device failure: keep the trace in the log
            _log.exception("camera %s: capture failed", self.url)
            outcome = ConnectionLostError(f"camera {self.url} stopped: {error}")
        finally:
            self._close_backend()
        if not isinstance(outcome, CameraStoppedError):
            _log.warning("camera %s: %s", self.url, outcome)
            self._finish(outcome)

    def _close_backend(self) -> None:
        try:
            self._backend.close()
        except Exception:  # releasing a vanished device may fail; nothing left to do
            _log.exception("camera %s: close failed", self.url)

    def _serve_stills(self) -> None:
        with self._lock:
            requests, self._stills = self._stills, []
        for request in requests:
            if not request.set_running_or_notify_cancel():
                continue
            try:
                request.set_result((self._backend.still(), datetime.now(UTC)))
            except DeviceError as error:
                request.set_exception(error)
                if isinstance(error, ConnectionLostError):
                    raise
            except Exception as error:  # a bug: answer the caller, then fail like a read would
                request.set_exception(ConnectionLostError(f"camera {self.url} failed taking a "
                                                          f"still: {error}"))
                raise

    def _publish(self, image: Image) -> None:
        frame = Frame.of(image, datetime.now(UTC), self._sequence)
        self._sequence += 1
        with self._lock:
            self._latest = frame
            waiters, self._waiters = self._waiters, []
        self._deliver(waiters, frame)

    def _finish(self, outcome: DeviceError) -> None:
        """The stream ended: record why, fail waiters and pending stills."""
        with self._lock:
            if not self._running:
                return
            self._running = False
            if not isinstance(outcome, CameraStoppedError):
                self._error = outcome
            waiters, self._waiters = self._waiters, []
            stills, self._stills = self._stills, []
        for request in stills:
            if request.set_running_or_notify_cancel():
                request.set_exception(outcome)
        self._deliver(waiters, outcome)

    @staticmethod
    def _deliver(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[Frame]]],
                 outcome: _Outcome) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Future[Frame]]] = {}
        for loop, future in waiters:
            by_loop.setdefault(loop, []).append(future)
        for loop, futures in by_loop.items():
            with contextlib.suppress(RuntimeError):  # that loop is closed: nobody to tell
                loop.call_soon_threadsafe(_settle, futures, outcome)
