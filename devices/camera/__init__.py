"""Cameras: USB UVC exam and room cameras, their simulators, and lossless snapshots.

One front class, :class:`Camera`, whatever is behind it (habit 4): a real
camera via OpenCV (``camera://0``, ``camera:///dev/video2``) or a simulator
(``sim://dermatoscope``, ``sim://otoscope``, ``sim://room``). Capture runs in
a worker thread per camera; frames reach asyncio code through
:meth:`Camera.next_frame` with latest-frame semantics. Snapshots are
full-resolution stills stored as PNG with their metadata and pixel hash.

    camera = open_camera("sim://otoscope")
    async with camera:
        frame = await camera.next_frame()
        snapshot = await camera.snapshot_async()
    save_snapshot(snapshot, Path("ear.png"))
"""

from __future__ import annotations

from urllib.parse import urlsplit

from devices.camera.capture import OpenCvCamera, parse_camera_url
from devices.camera.frame import VIDEO_HEIGHT, VIDEO_WIDTH, ExamKind, Frame, Image
from devices.camera.rate import measure_fps, measure_fps_async
from devices.camera.simulator import SCENES, SimulatedCamera
from devices.camera.snapshot import (
    Snapshot,
    SnapshotCorruptError,
    SnapshotInfo,
    decode_snapshot,
    encode_snapshot,
    load_snapshot,
    pixels_sha256,
    save_snapshot,
)
from devices.camera.source import Camera, CameraBackend, CameraStoppedError
from devices.errors import DeviceConfigurationError

__all__ = [
    "SCENES", "VIDEO_HEIGHT", "VIDEO_WIDTH", "Camera", "CameraBackend", "CameraStoppedError",
    "ExamKind", "Frame", "Image", "OpenCvCamera", "SimulatedCamera", "Snapshot",
    "SnapshotCorruptError", "SnapshotInfo", "decode_snapshot", "encode_snapshot",
    "load_snapshot", "measure_fps", "measure_fps_async", "open_camera", "parse_camera_url",
    "pixels_sha256", "save_snapshot",
]


def open_camera(url: str, exam: ExamKind | str | None = None) -> Camera:
    """A (not yet started) :class:`Camera` for ``url``.

    ``exam`` says what a real camera is used for (it is written into every
    snapshot, so it is required for ``camera://``); a simulator knows its own.
    """
    scheme = urlsplit(url).scheme
    if scheme == "sim":
        simulator = SimulatedCamera.from_url(url)
        return Camera(simulator, ExamKind(exam) if exam is not None else simulator.exam)
    if scheme == "camera":
        if exam is None:
            raise DeviceConfigurationError(f"say which exam {url} serves "
                                           f"({', '.join(kind.value for kind in ExamKind)})")
        return Camera(OpenCvCamera(url), ExamKind(exam))
    raise DeviceConfigurationError(f"{url!r}: unknown camera scheme (use camera:// or sim://)")
