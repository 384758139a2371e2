"""The Camera front class with a scripted backend: threads, hand-over to asyncio, errors."""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import numpy as np
import pytest

from devices.camera import Camera, CameraStoppedError, ExamKind, Frame, Image
from devices.errors import ConnectionLostError, DeviceNotFoundError

TIMEOUT = 20.0  # any hang fails the test instead of blocking the run
T = TypeVar("T")


def run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coroutine, TIMEOUT))


def picture(value: int, width: int = 64, height: int = 48) -> Image:
    return np.full((height, width, 3), value, np.uint8)


class ScriptedBackend:
    """Hands out whatever the test puts in its queue: images, or exceptions to raise."""

    url = "fake://camera"

    def __init__(self, fail_open: bool = False) -> None:
        self.items: queue.Queue[Image | BaseException] = queue.Queue()
        self.fail_open = fail_open
        self.threads: set[int] = set()
        self.closed = 0

    def open(self) -> None:
        self.threads.add(threading.get_ident())
        if self.fail_open:
            raise DeviceNotFoundError("no camera at fake: is it plugged in?")

    def read(self) -> Image:
        self.threads.add(threading.get_ident())
        item = self.items.get()
        if isinstance(item, BaseException):
            raise item
        return item

    def still(self) -> Image:
        self.threads.add(threading.get_ident())
        return picture(200, 640, 480)

    def interrupt(self) -> None:
        self.items.put(ConnectionLostError("interrupted"))

    def close(self) -> None:
        self.closed += 1


@pytest.fixture
def backend() -> ScriptedBackend:
    return ScriptedBackend()


@pytest.fixture
def camera(backend: ScriptedBackend) -> Iterator[Camera]:
    cam = Camera(backend, ExamKind.DERMATOSCOPE)
    cam.start()
    yield cam
    cam.stop()


async def wait_for_sequence(camera: Camera, sequence: int) -> None:
    while camera.latest is None or camera.latest.sequence < sequence:
        await asyncio.sleep(0.005)


def test_frames_come_from_the_worker_thread_to_the_awaiting_consumer(
        camera: Camera, backend: ScriptedBackend) -> None:
    async def main() -> Frame:
        waiting = asyncio.ensure_future(camera.next_frame())
        await asyncio.sleep(0.01)
        backend.items.put(picture(7))
        return await waiting

    frame = run(main())
    assert (frame.sequence, frame.width, frame.height) == (0, 64, 48)
    assert frame.captured_at.tzinfo is not None
    assert int(frame.image[0, 0, 0]) == 7
    assert threading.get_ident() not in backend.threads
    assert len(backend.threads) == 1  # one thread owns the device: open, reads


def test_frames_are_read_only(camera: Camera, backend: ScriptedBackend) -> None:
    backend.items.put(picture(1))
    frame = run(camera.next_frame(after=-1))
    with pytest.raises(ValueError, match="read-only"):
        frame.image[0, 0, 0] = 9


def test_a_slow_consumer_gets_the_latest_frame_not_a_queue(
        camera: Camera, backend: ScriptedBackend) -> None:
    for value in range(5):
        backend.items.put(picture(value))

    async def main() -> Frame:
        await wait_for_sequence(camera, 4)
        return await camera.next_frame(after=0)

    frame = run(main())
    assert frame.sequence == 4  # frames 1..3 were dropped, never queued
    assert int(frame.image[0, 0, 0]) == 4


def test_frames_iterator_yields_increasing_sequences_and_ends_on_stop(
        camera: Camera, backend: ScriptedBackend) -> None:
    async def main() -> list[int]:
        seen: list[int] = []
        async for frame in camera.frames():
            seen.append(frame.sequence)
            if len(seen) == 3:
                await asyncio.to_thread(camera.stop)
            else:
                backend.items.put(picture(len(seen)))
        return seen

    backend.items.put(picture(0))
    assert run(main()) == [0, 1, 2]


def test_a_lost_camera_reaches_every_waiting_consumer(
        camera: Camera, backend: ScriptedBackend) -> None:
    async def main() -> list[BaseException | Frame]:
        waiters = [asyncio.ensure_future(camera.next_frame()) for _ in range(3)]
        await asyncio.sleep(0.01)
        backend.items.put(ConnectionLostError("camera fake://camera unplugged"))
        return await asyncio.gather(*waiters, return_exceptions=True)

    outcomes = run(main())
    assert all(isinstance(o, ConnectionLostError) for o in outcomes)
    assert str(outcomes[0]) == "camera fake://camera unplugged"
    assert not camera.running
    assert isinstance(camera.error, ConnectionLostError)
    with pytest.raises(ConnectionLostError):  # later callers get it at once
        run(camera.next_frame())
    assert backend.closed == 1


def test_a_bug_in_a_backend_is_a_lost_camera_not_a_thread_traceback(
        camera: Camera, backend: ScriptedBackend, monkeypatch: pytest.MonkeyPatch,
        caplog: pytest.LogCaptureFixture) -> None:
    hooked: list[object] = []
    monkeypatch.setattr(threading, "excepthook", hooked.append)

    async def main() -> None:
        waiting = asyncio.ensure_future(camera.next_frame())
        await asyncio.sleep(0.01)
        backend.items.put(RuntimeError("driver exploded"))
        await waiting

    with pytest.raises(ConnectionLostError, match="driver exploded"):
        run(main())
    assert hooked == []
    assert "capture failed" in caplog.text  # the trace is in the log, for the technician


def test_stop_releases_waiters_with_a_clear_error(camera: Camera) -> None:
    async def main() -> None:
        waiting = asyncio.ensure_future(camera.next_frame())
        await asyncio.sleep(0.01)
        await asyncio.to_thread(camera.stop)
        await waiting

    with pytest.raises(CameraStoppedError, match="camera fake://camera is not running"):
        run(main())


def test_open_failure_is_raised_in_the_caller_and_leaves_no_thread() -> None:
    camera = Camera(ScriptedBackend(fail_open=True), ExamKind.ROOM)
    with pytest.raises(DeviceNotFoundError, match="is it plugged in"):
        camera.start()
    assert not camera.running
    assert not [t for t in threading.enumerate() if t.name.startswith("camera fake")]


def test_async_context_manager_starts_and_stops(backend: ScriptedBackend) -> None:
    camera = Camera(backend, ExamKind.ROOM)

    async def main() -> bool:
        async with camera:
            backend.items.put(picture(3))
            await camera.next_frame(after=-1)
            return camera.running

    assert run(main()) is True
    assert not camera.running
    assert backend.closed == 1


def test_snapshot_is_taken_by_the_worker_thread_at_full_size(
        camera: Camera, backend: ScriptedBackend) -> None:
    async def main() -> tuple[int, int, str]:
        asking = asyncio.ensure_future(camera.snapshot_async())
        await asyncio.sleep(0.01)
        backend.items.put(picture(1))  # the worker serves stills between reads
        snapshot = await asking
        return snapshot.info.width, snapshot.info.height, snapshot.info.exam

    assert run(main()) == (640, 480, ExamKind.DERMATOSCOPE)
    assert threading.get_ident() not in backend.threads
    assert len(backend.threads) == 1


def test_snapshot_of_a_stopped_camera_is_refused(backend: ScriptedBackend) -> None:
    with pytest.raises(CameraStoppedError):
        Camera(backend, ExamKind.ROOM).snapshot()


def test_a_failing_still_answers_the_caller_instead_of_hanging(
        camera: Camera, backend: ScriptedBackend, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken() -> Image:
        raise RuntimeError("sensor mode rejected")

    monkeypatch.setattr(backend, "still", broken)

    async def main() -> None:
        asking = asyncio.ensure_future(camera.snapshot_async())
        await asyncio.sleep(0.01)
        backend.items.put(picture(1))
        await asking

    with pytest.raises(ConnectionLostError, match="failed taking a still: sensor mode rejected"):
        run(main())


def test_a_lost_camera_can_be_started_again(camera: Camera, backend: ScriptedBackend) -> None:
    backend.items.put(ConnectionLostError("unplugged"))
    with pytest.raises(ConnectionLostError):
        run(camera.next_frame())
    camera.start()  # the nurse plugged it back in
    backend.items.put(picture(5))
    frame = run(camera.next_frame(after=-1))
    assert camera.error is None
    assert int(frame.image[0, 0, 0]) == 5
