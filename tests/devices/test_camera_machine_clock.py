"""The simulated cameras' machine-readable clock survives scaling and lossy coding."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from devices.camera import SimulatedCamera
from devices.camera.simulator import (
    MACHINE_CLOCK_COLUMNS,
    MACHINE_CLOCK_ROWS,
    burn_machine_clock,
    machine_clock_bits,
    read_machine_clock,
    scene_for,
)

STAMPS = [0, 1, 1234567, 2**31 + 5, 2**32 - 1, 1_760_000_123_456 % 2**32]


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(data, cv2.IMREAD_COLOR)


@pytest.fixture(scope="module")
def scene_frame() -> np.ndarray:
    return scene_for("room").frame(1.0)


def test_the_code_is_48_blocks_with_guards() -> None:
    bits = machine_clock_bits(5)
    assert len(bits) == 48
    assert bits[:4] == [1, 0, 1, 0] and bits[-4:] == [0, 1, 1, 0]


@pytest.mark.parametrize("millis", STAMPS)
def test_exact_at_full_size(scene_frame: np.ndarray, millis: int) -> None:
    image = np.array(scene_frame)
    burn_machine_clock(image, millis)
    assert read_machine_clock(image) == millis


@pytest.mark.parametrize("size", [(1280, 720), (640, 360)])
@pytest.mark.parametrize("millis", STAMPS)
def test_scaled_and_jpeg_60_round_trip(scene_frame: np.ndarray, millis: int,
                                       size: tuple[int, int]) -> None:
    image = np.array(scene_frame)
    burn_machine_clock(image, millis)
    small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
    assert read_machine_clock(jpeg(small, 60)) == millis
    assert read_machine_clock(cv2.cvtColor(jpeg(small, 60), cv2.COLOR_BGR2GRAY)) == millis


def test_values_wrap_modulo_2_32(scene_frame: np.ndarray) -> None:
    image = np.array(scene_frame)
    burn_machine_clock(image, 2**32 + 7)
    assert read_machine_clock(image) == 7


def test_no_code_reads_none(scene_frame: np.ndarray) -> None:
    assert read_machine_clock(scene_frame) is None
    assert read_machine_clock(np.zeros((720, 1280, 3), np.uint8)) is None


def test_a_damaged_code_reads_none(scene_frame: np.ndarray) -> None:
    image = np.array(scene_frame)
    burn_machine_clock(image, 123456789)
    # flip one data block (line 0, column 10): the CRC catches it
    top, left = MACHINE_CLOCK_ROWS.start + 8, MACHINE_CLOCK_COLUMNS.start + 8
    block = image[top + 8:top + 24, left + 10 * 32 + 8:left + 10 * 32 + 24]
    block[...] = 255 - block
    assert read_machine_clock(image) is None


def test_every_simulated_frame_carries_its_capture_time() -> None:
    camera = SimulatedCamera("otoscope", fps=1000.0)
    camera.open()
    before = round(time.time() * 1000) % 2**32
    frame = camera.read()
    after = round(time.time() * 1000) % 2**32
    stamp = read_machine_clock(frame)
    assert stamp is not None
    assert before - 1 <= stamp <= after + 1
