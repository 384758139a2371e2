"""Real UVC capture: URLs, error translation (for real on this camera-less machine), stills."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import cv2
import numpy as np
import pytest

from devices.camera import Camera, ExamKind, OpenCvCamera, open_camera, parse_camera_url
from devices.errors import ConnectionLostError, DeviceConfigurationError, DeviceNotFoundError

TIMEOUT = 20.0


class FakeCapture:
    """Behaves like cv2.VideoCapture on a V4L2 camera whose largest mode is 2592x1944."""

    MAX = (2592, 1944)

    def __init__(self, good_reads: int = 1_000_000, read_error: bool = False) -> None:
        self.good_reads = good_reads
        self.read_error = read_error
        self.reads = 0
        self.sets: list[tuple[int, float]] = []
        self.props: dict[int, float] = {cv2.CAP_PROP_FRAME_WIDTH: 640,
                                        cv2.CAP_PROP_FRAME_HEIGHT: 480}
        self.released = False

    def isOpened(self) -> bool:
        return True

    def read(self) -> tuple[bool, Any]:
        self.reads += 1
        if self.read_error:
            raise cv2.error("V4L2: VIDIOC_DQBUF failed")
        if self.reads > self.good_reads:
            return False, None
        width = int(self.props[cv2.CAP_PROP_FRAME_WIDTH])
        height = int(self.props[cv2.CAP_PROP_FRAME_HEIGHT])
        return True, np.full((height, width, 3), 90, np.uint8)

    def set(self, prop: int, value: float) -> bool:
        self.sets.append((prop, value))
        if prop == cv2.CAP_PROP_FRAME_WIDTH:
            value = min(value, self.MAX[0])
        elif prop == cv2.CAP_PROP_FRAME_HEIGHT:
            value = min(value, self.MAX[1])
        self.props[prop] = value
        return True

    def get(self, prop: int) -> float:
        return self.props.get(prop, 0.0)

    def release(self) -> None:
        self.released = True


def fake_camera(capture: FakeCapture, **options: Any) -> OpenCvCamera:
    return OpenCvCamera("camera://0", opener=lambda address: capture, **options)


@pytest.mark.skipif(os.path.exists("/dev/video0"), reason="a camera is plugged in here")
def test_no_camera_at_index_0_is_translated_for_real(capfd: pytest.CaptureFixture[str]) -> None:
    camera = open_camera("camera://0", ExamKind.OTOSCOPE)
    with pytest.raises(DeviceNotFoundError) as raised:
        camera.start()
    assert str(raised.value) == "no camera at index 0: is it plugged in?"
    assert not camera.running
    assert "VIDEOIO" not in capfd.readouterr().err  # OpenCV's own noise is silenced


@pytest.mark.skipif(os.path.exists("/dev/video2"), reason="a camera is plugged in here")
def test_no_camera_at_a_device_path_is_translated_for_real() -> None:
    with pytest.raises(DeviceNotFoundError) as raised:
        open_camera("camera:///dev/video2", "room").start()
    assert str(raised.value) == "no camera at /dev/video2: is it plugged in?"


def test_a_device_node_that_is_not_a_camera_is_explained() -> None:
    with pytest.raises(DeviceNotFoundError, match="does not answer: is another program"):
        open_camera("camera:///dev/null", "room").start()


@pytest.mark.parametrize(("url", "address"), [
    ("camera://0", 0), ("camera://12", 12), ("camera:///dev/video2", "/dev/video2"),
    ("camera:///dev/v4l/by-id/usb-Firefly-video-index0", "/dev/v4l/by-id/usb-Firefly-video-index0"),
])
def test_camera_urls(url: str, address: int | str) -> None:
    assert parse_camera_url(url) == address


@pytest.mark.parametrize("url", ["camera://", "camera://front", "video://0", "camera://0/x"])
def test_bad_camera_urls_are_configuration_errors(url: str) -> None:
    with pytest.raises(DeviceConfigurationError):
        parse_camera_url(url)


def test_a_real_camera_needs_its_exam_kind() -> None:
    with pytest.raises(DeviceConfigurationError, match="say which exam camera://0 serves"):
        open_camera("camera://0")


def test_open_asks_for_mjpg_at_1080p_with_a_short_buffer() -> None:
    capture = FakeCapture()
    camera = fake_camera(capture)
    camera.open()
    assert (cv2.CAP_PROP_FOURCC, cv2.VideoWriter.fourcc(*"MJPG")) in capture.sets
    assert (cv2.CAP_PROP_BUFFERSIZE, 1) in capture.sets
    assert camera.read().shape == (1080, 1920, 3)


def test_still_switches_to_the_largest_mode_then_restores_video() -> None:
    capture = FakeCapture()
    camera = fake_camera(capture, still_warmup=3)
    camera.open()
    still = camera.still()
    assert still.shape == (1944, 2592, 3)
    assert (cv2.CAP_PROP_FRAME_WIDTH, 100_000) in capture.sets
    restored = [(cv2.CAP_PROP_FRAME_WIDTH, 1920), (cv2.CAP_PROP_FRAME_HEIGHT, 1080)]
    assert capture.sets[-2:] == restored
    assert camera.read().shape == (1080, 1920, 3)


def test_reads_failing_after_open_reach_the_consumer_as_connection_lost() -> None:
    capture = FakeCapture(good_reads=2)
    camera = Camera(fake_camera(capture, lost_after=0.05, min_failures=3), ExamKind.ROOM)
    camera.start()

    async def consume() -> list[int]:
        seen: list[int] = []
        async for frame in camera.frames():
            seen.append(frame.sequence)
        return seen

    try:
        with pytest.raises(ConnectionLostError, match="stopped sending pictures"):
            asyncio.run(asyncio.wait_for(consume(), TIMEOUT))
    finally:
        camera.stop()
    assert capture.released


def test_opencv_exceptions_are_translated() -> None:
    camera = fake_camera(FakeCapture(read_error=True))
    camera.open()
    with pytest.raises(ConnectionLostError, match="OpenCV failed while reading: V4L2"):
        camera.read()
