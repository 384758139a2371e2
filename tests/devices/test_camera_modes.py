"""Camera video modes and idling: what keeps an unseen camera from costing a core."""

from __future__ import annotations

import time
from datetime import datetime

import numpy as np
import pytest

from devices.camera import SimulatedCamera, open_camera
from devices.camera.simulator import (
    overlay_mask,
    parse_video_size,
    read_machine_clock,
    reference_frame,
    scene_for,
)
from devices.errors import DeviceConfigurationError
from station.runtime import _in_video_mode


def test_a_video_mode_films_at_that_size_and_stills_keep_the_sensor() -> None:
    backend = SimulatedCamera.from_url("sim://otoscope?video=1280x720")
    backend.open()
    try:
        frame = backend.read()
        assert frame.shape == (720, 1280, 3)
        assert backend.still().shape[:2] == (scene_for("otoscope").still_size[1],
                                             scene_for("otoscope").still_size[0])
        stamped = read_machine_clock(frame)
        assert stamped is not None
        now = round(datetime.now().timestamp() * 1000) % (1 << 32)  # the code keeps 32 bits
        assert abs(stamped - now) < 5_000
    finally:
        backend.close()


def test_video_modes_share_one_painting() -> None:
    full, small = scene_for("room"), scene_for("room", video_size=(640, 360))
    assert small.master is full.master
    assert small.frame(1.0).shape == (360, 640, 3)
    assert full.frame(1.0).shape == (1080, 1920, 3)


@pytest.mark.parametrize("text", ["1280x700", "3840x2160", "axb", "1280"])
def test_a_bad_video_mode_is_refused(text: str) -> None:
    with pytest.raises(DeviceConfigurationError):
        parse_video_size(text)


def test_an_idle_camera_sends_no_frames_but_takes_stills_and_resumes() -> None:
    camera = open_camera("sim://dermatoscope?video=640x360")
    with camera:
        deadline = time.monotonic() + 10
        while camera.latest is None and time.monotonic() < deadline:
            time.sleep(0.02)
        camera.set_streaming(False)
        time.sleep(0.2)  # a frame being read when idling began may still land
        idle_at = camera.latest.sequence if camera.latest else -1
        time.sleep(0.5)
        assert camera.latest is not None and camera.latest.sequence == idle_at
        still = camera.snapshot(timeout=10)
        assert still.info.width == scene_for("dermatoscope").still_size[0]
        camera.set_streaming(True)
        deadline = time.monotonic() + 5
        while camera.latest.sequence <= idle_at + 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert camera.latest.sequence > idle_at + 3


def test_the_runtime_films_in_the_mode_it_sends() -> None:
    assert _in_video_mode("sim://otoscope") == "sim://otoscope?video=1280x720"
    assert _in_video_mode("sim://room-camera?video=1920x1080") == \
        "sim://room-camera?video=1920x1080"
    assert _in_video_mode("sim://oximeter-ble") == "sim://oximeter-ble"


def test_a_clock_driven_frame_can_be_rendered_again_from_its_clock() -> None:
    backend = SimulatedCamera.from_url("sim://dermatoscope?video=1280x720&clock=1")
    backend.open()
    try:
        frame = backend.read()
    finally:
        backend.close()
    millis = read_machine_clock(frame)
    assert millis is not None
    again = reference_frame(scene_for("dermatoscope", video_size=(1280, 720)), millis)
    mask = overlay_mask(1280, 720)
    assert np.array_equal(frame[mask], again[mask])
    later = reference_frame(scene_for("dermatoscope", video_size=(1280, 720)), millis + 40)
    assert not np.array_equal(frame[mask], later[mask])
