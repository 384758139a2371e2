"""Real UVC cameras through OpenCV's VideoCapture; native failures translated here only.

Addresses: ``camera://0`` (index) or ``camera:///dev/video2`` (device path).
Video is requested at 1920x1080 in MJPG (a USB 2 link cannot carry raw YUYV
at 1080p/30); if the camera refuses, we keep what it offers and log it.

Stills: OpenCV/V4L2 give no access to the UVC still-image pipe, so a
full-resolution still is taken by switching the *stream* to the largest
mode the driver offers (asking for 100000x100000, which V4L2 clamps to the
nearest supported size, i.e. the largest), discarding a few frames while
exposure settles and stale buffers of the old mode drain, keeping one frame,
then restoring the video mode. Video pauses for that second or so; that is
the price of a true full-resolution picture instead of an upscaled grab.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol, cast
from urllib.parse import urlsplit

import cv2

from devices.camera.frame import VIDEO_HEIGHT, VIDEO_WIDTH, Image
from devices.errors import (
    ConnectionLostError,
    DeviceConfigurationError,
    DeviceError,
    DeviceNotFoundError,
)

_log = logging.getLogger(__name__)
_HUGE = 100_000  # "as large as you can": V4L2 clamps it to the largest supported size


class VideoCaptureLike(Protocol):
    """The part of ``cv2.VideoCapture`` we use; tests inject fakes of it."""

    def isOpened(self) -> bool:  # noqa: N802 (OpenCV's name)
        """True when the device was opened."""
        ...

    def read(self) -> tuple[bool, Any]:
        """(ok, BGR picture or None)."""
        ...

    def set(self, prop: int, value: float) -> bool:
        """Ask for a property (size, format); the driver may adjust it."""
        ...

    def get(self, prop: int) -> float:
        """A property as the driver actually set it."""
        ...

    def release(self) -> None:
        """Close the device."""


Opener = Callable[[int | str], VideoCaptureLike]


def parse_camera_url(url: str) -> int | str:
    """``camera://0`` → 0, ``camera:///dev/video2`` → ``"/dev/video2"``.

    Raises :class:`DeviceConfigurationError` for anything else.
    """
    parts = urlsplit(url)
    if parts.scheme != "camera":
        raise DeviceConfigurationError(f"{url!r} is not a camera URL (expected camera://0 "
                                       "or camera:///dev/video0)")
    if parts.netloc and not parts.path and parts.netloc.isdigit():
        return int(parts.netloc)
    if parts.path and not parts.netloc:
        return parts.path
    raise DeviceConfigurationError(f"camera URL {url!r} names neither an index (camera://0) "
                                   "nor a device path (camera:///dev/video0)")


def _open_with_opencv(address: int | str) -> VideoCaptureLike:
    # V4L2 directly on Linux: the default (FFmpeg first) cannot open device indexes.
    api = cv2.CAP_V4L2 if sys.platform.startswith("linux") else cv2.CAP_ANY
    return cast(VideoCaptureLike, cv2.VideoCapture(address, api))


@contextmanager
def _quiet_opencv() -> Iterator[None]:
    """Silence OpenCV's own stderr warnings: we raise a clearer error ourselves."""
    level = cv2.utils.logging.getLogLevel()
    cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)
    try:
        yield
    finally:
        cv2.utils.logging.setLogLevel(level)


def _not_found_message(address: int | str) -> str:
    where = f"index {address}" if isinstance(address, int) else str(address)
    node = f"/dev/video{address}" if isinstance(address, int) else str(address)
    if sys.platform.startswith("linux") and os.path.exists(node):
        if not os.access(node, os.R_OK | os.W_OK):
            return (f"camera at {where} cannot be opened: permission denied on {node} "
                    "(is the station user in the 'video' group?)")
        return (f"camera at {where} does not answer: is another program using it, "
                "or is it not a video capture device?")
    return f"no camera at {where}: is it plugged in?"


def _fourcc_text(value: float) -> str:
    code = int(value)
    return "".join(chr((code >> shift) & 0xFF) for shift in (0, 8, 16, 24)).strip("\0")


class OpenCvCamera:
    """A :class:`~devices.camera.source.CameraBackend` for a UVC camera via OpenCV.

    ``lost_after`` is how long reads may keep failing (and at least
    ``min_failures`` of them) before the camera counts as lost: a single bad
    USB transfer must not end an examination, an unplugged camera must.
    """

    def __init__(self, url: str, *, width: int = VIDEO_WIDTH, height: int = VIDEO_HEIGHT,
                 fourcc: str = "MJPG", lost_after: float = 2.0, min_failures: int = 5,
                 still_warmup: int = 5, opener: Opener = _open_with_opencv) -> None:
        self._url = url
        self._address = parse_camera_url(url)
        self._size = (width, height)
        self._fourcc = fourcc
        self._lost_after = lost_after
        self._min_failures = min_failures
        self._still_warmup = still_warmup
        self._opener = opener
        self._capture: VideoCaptureLike | None = None
        self._interrupted = threading.Event()

    @property
    def url(self) -> str:
        """The URL the camera was addressed by."""
        return self._url

    def open(self) -> None:
        """Open the device, ask for MJPG at 1920x1080; DeviceNotFoundError if absent."""
        self._interrupted.clear()
        with _quiet_opencv(), self._native("opening", DeviceNotFoundError):
            capture = self._opener(self._address)
            if not capture.isOpened():
                capture.release()
                raise DeviceNotFoundError(_not_found_message(self._address))
            capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # fewer queued, stale frames
            capture.set(cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*self._fourcc))
            self._capture = capture
            self._set_size(*self._size)
        _log.info("camera %s: streaming %s", self._url, self._mode())

    def read(self) -> Image:
        """The next frame; ConnectionLostError once reads have failed for ``lost_after`` s."""
        failures, since = 0, time.monotonic()
        while True:
            image = self._grab()
            if image is not None:
                return image
            failures += 1
            if failures >= self._min_failures and time.monotonic() - since >= self._lost_after:
                raise ConnectionLostError(f"camera {self._url} stopped sending pictures "
                                          f"({failures} failed reads): check its USB cable")
            if self._interrupted.wait(0.05):  # stopping: no need to insist
                raise ConnectionLostError(f"camera {self._url}: reading interrupted")

    def still(self) -> Image:
        """A frame at the largest resolution the driver offers, video mode restored after."""
        self._set_size(_HUGE, _HUGE)
        try:
            _log.info("camera %s: still mode %s", self._url, self._mode())
            for _ in range(self._still_warmup):  # exposure settles, old-mode buffers drain
                self._grab()
            return self.read()
        finally:
            self._set_size(*self._size)

    def interrupt(self) -> None:
        """Make a failing ``read`` give up at once instead of retrying."""
        self._interrupted.set()

    def close(self) -> None:
        """Release the device (safe to call twice)."""
        capture, self._capture = self._capture, None
        if capture is not None:
            with self._native("closing"):
                capture.release()

    # --- the one place where OpenCV's own failures become device errors -------

    @contextmanager
    def _native(self, doing: str,
                becomes: type[DeviceError] = ConnectionLostError) -> Iterator[None]:
        try:
            yield
        except cv2.error as error:
            raise becomes(f"camera {self._url}: OpenCV failed while {doing}: "
                          f"{str(error).strip()}") from error

    def _grab(self) -> Image | None:
        """One read: the BGR picture, or None when the driver gave nothing usable."""
        capture = self._live()
        with self._native("reading"):
            ok, image = capture.read()
            if not ok or image is None or image.size == 0:
                return None
            if image.ndim == 2:  # some drivers hand out grey for odd formats
                image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
        return cast(Image, image)

    def _set_size(self, width: int, height: int) -> None:
        capture = self._live()
        with self._native("changing resolution"):
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, height)

    def _mode(self) -> str:
        capture = self._live()
        with self._native("querying the mode"):
            width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
            fourcc = _fourcc_text(capture.get(cv2.CAP_PROP_FOURCC))
        if fourcc != self._fourcc:
            _log.warning("camera %s: %s not offered, got %r (lower frame rate likely)",
                         self._url, self._fourcc, fourcc)
        return f"{width}x{height} {fourcc}"

    def _live(self) -> VideoCaptureLike:
        if self._capture is None:
            raise ConnectionLostError(f"camera {self._url} is closed")
        return self._capture
