"""Camera simulators: moving textured frames, a live clock, the misbehaviour switches."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Coroutine
from typing import Any, TypeVar

import cv2
import numpy as np
import pytest

from devices.camera import SCENES, ExamKind, Frame, Image, SimulatedCamera, open_camera
from devices.camera.simulator import CLOCK_COLUMNS, CLOCK_ROWS, scene_for
from devices.errors import ConnectionLostError, DeviceConfigurationError

TIMEOUT = 30.0  # painting a scene takes ~2 s on this machine; a hang must still fail
T = TypeVar("T")
NAMES = sorted(SCENES)


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT))


def consecutive(backend: SimulatedCamera, count: int) -> list[Image]:
    """``count`` frames in a row straight from an opened backend."""
    return [backend.read() for _ in range(count)]


@pytest.fixture(params=NAMES)
def backend(request: pytest.FixtureRequest) -> SimulatedCamera:
    simulator = SimulatedCamera(request.param)
    simulator.open()
    return simulator


def outside_clock(image: Image) -> Image:
    body = np.array(image)
    body[CLOCK_ROWS, CLOCK_COLUMNS] = 0
    return body


def test_frames_are_1080p_bgr_through_the_camera(backend: SimulatedCamera) -> None:
    camera = open_camera(backend.url)

    async def main() -> Frame:
        async with camera:
            return await camera.next_frame()

    frame = run(main())
    assert frame.image.shape == (1080, 1920, 3)
    assert frame.image.dtype == np.uint8
    assert (frame.width, frame.height) == (1920, 1080)
    assert camera.exam == ExamKind(backend.scene_name)


def test_consecutive_frames_differ_beyond_the_clock(backend: SimulatedCamera) -> None:
    frames = consecutive(backend, 4)
    for before, after in itertools.pairwise(frames):
        assert not np.array_equal(outside_clock(before), outside_clock(after))


def test_the_clock_changes_every_frame(backend: SimulatedCamera) -> None:
    frames = consecutive(backend, 5)
    clocks = [f[CLOCK_ROWS, CLOCK_COLUMNS] for f in frames]
    for before, after in itertools.pairwise(clocks):
        assert not np.array_equal(before, after)
    assert all(clock.max() == 255 for clock in clocks)  # white text on the dark box


def test_the_view_moves_over_time(backend: SimulatedCamera) -> None:
    scene = scene_for(backend.scene_name)
    early, later = scene.frame(0.0), scene.frame(1.5)
    small = [cv2.resize(f, (480, 270), interpolation=cv2.INTER_AREA) for f in (early, later)]
    assert np.abs(small[0].astype(int) - small[1]).mean() > 0.5  # motion, not just grain


def test_textures_are_not_flat(backend: SimulatedCamera) -> None:
    # Downscaled 4x, sensor grain averages away and only painted structure remains.
    small = cv2.resize(backend.read(), (480, 270), interpolation=cv2.INTER_AREA)
    assert all(small[:, :, c].std() > 20 for c in range(3))
    gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
    centre = gray[60:210, 140:340].astype(np.float32)
    local = centre.reshape(15, 10, 20, 10).std(axis=(1, 3))
    assert np.median(local) > 1.5  # detail everywhere, not a few shapes on flat colour
    assert (cv2.Canny(gray, 30, 90) > 0).mean() > 0.005


def test_each_scene_looks_different() -> None:
    frames = {name: scene_for(name).frame(1.0) for name in NAMES}
    for i, first in enumerate(NAMES):
        for second in NAMES[i + 1:]:
            a, b = frames[first], frames[second]
            assert np.abs(a.astype(int) - b).mean() > 30
            hists = [cv2.calcHist([f], [0, 1, 2], None, [8, 8, 8], [0, 256] * 3) for f in (a, b)]
            assert cv2.compareHist(hists[0], hists[1], cv2.HISTCMP_CORREL) < 0.5


def test_otoscope_is_dark_outside_the_speculum_and_lit_inside() -> None:
    image = scene_for("otoscope").frame(0.0)
    assert image[-40:, :40].max() == 0 and image[-40:, -40:].max() == 0
    assert image[500:580, 920:1000].mean() > 120


def test_dermatoscope_lesion_is_darker_than_the_skin_around_it() -> None:
    gray = cv2.cvtColor(scene_for("dermatoscope").frame(0.0), cv2.COLOR_BGR2GRAY)
    assert gray[440:640, 860:1060].mean() < gray[900:1080, 0:300].mean() - 40


def test_freeze_repeats_the_same_frame_and_stops_the_clock(backend: SimulatedCamera) -> None:
    backend.read()
    backend.freeze = True
    frozen = consecutive(backend, 3)
    assert all(np.array_equal(frozen[0], f) for f in frozen[1:])
    backend.freeze = False
    assert not np.array_equal(frozen[-1], backend.read())


def test_freeze_from_the_url_through_the_camera() -> None:
    camera = open_camera("sim://otoscope?fault=freeze&fps=60")

    async def main() -> tuple[Frame, Frame]:
        async with camera:
            first = await camera.next_frame()
            return first, await camera.next_frame(after=first.sequence)

    first, second = run(main())
    assert second.sequence > first.sequence  # the stream goes on...
    assert np.array_equal(first.image, second.image)  # ...but the picture does not


def test_black_frames(backend: SimulatedCamera) -> None:
    backend.black = True
    assert not backend.read().any()


def test_drop_reaches_the_awaiting_consumer_as_connection_lost() -> None:
    camera = open_camera("sim://room")

    async def main() -> None:
        async with camera:
            await camera.next_frame()
            waiting = asyncio.ensure_future(camera.next_frame())
            await asyncio.sleep(0)
            simulator = camera.backend
            assert isinstance(simulator, SimulatedCamera)
            simulator.dropped = True
            await waiting

    with pytest.raises(ConnectionLostError, match=r"camera sim://room vanished \(simulated drop\)"):
        run(main())
    assert isinstance(camera.error, ConnectionLostError)


def test_low_frame_rate_and_options_from_the_url() -> None:
    simulator = SimulatedCamera.from_url("sim://room?fps=2&seed=3&fault=black")
    assert (simulator.fps, simulator.black, simulator.freeze, simulator.dropped) == (
        2.0, True, False, False)
    assert simulator.url == "sim://room?fps=2&seed=3&fault=black"


@pytest.mark.parametrize("url", ["sim://ultrasound", "sim://room?speed=2", "sim://room?fps=x",
                                 "sim://room?fault=smoke", "sim://room?fps=0"])
def test_bad_simulator_urls(url: str) -> None:
    with pytest.raises(DeviceConfigurationError):
        open_camera(url)


@pytest.mark.parametrize(("name", "size"), [("dermatoscope", (1944, 2592)),
                                            ("otoscope", (1944, 2592)), ("room", (1440, 2560))])
def test_stills_are_larger_than_video_and_sharper_than_an_upscale(
        name: str, size: tuple[int, int]) -> None:
    scene = scene_for(name)
    still = scene.still(1.0)
    assert still.shape == (*size, 3)
    # A real full-resolution still has more fine detail than the video frame blown up.
    band = round((size[0] - 1080 / scene.scale) / 2)
    upscaled = cv2.resize(scene.frame(1.0), (size[1], size[0] - 2 * band),
                          interpolation=cv2.INTER_LINEAR)
    detail = [cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_32F).var()
              for img in (still[band:size[0] - band], upscaled)]
    assert detail[0] > detail[1]
