"""Worker threads of a call run below the event loop's priority (station/call/scheduling.py)."""

from __future__ import annotations

import asyncio
import os
import threading

import pytest

from station.call import scheduling
from tests.call.doctor import loopback_call, until


def _nice_of_this_thread() -> int:
    return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_a_call_runs_its_worker_threads_below_the_loop(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("STATION_WORKER_NICE", raising=False)

    async def scenario() -> tuple[int, int]:
        async with loopback_call() as loop_call:
            await until(lambda: loop_call.doctor.video_frames[0] > 3, "video flows")
            worker = await asyncio.to_thread(_nice_of_this_thread)  # the loop's default pool
            return _nice_of_this_thread(), worker

    loop_nice, worker_nice = asyncio.run(asyncio.wait_for(scenario(), 60))
    assert worker_nice == loop_nice + scheduling.WORKER_NICE


def test_zero_turns_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STATION_WORKER_NICE", "0")

    async def scenario() -> bool:
        return scheduling.yield_to_loop()

    assert asyncio.run(scenario()) is False
    monkeypatch.setenv("STATION_WORKER_NICE", "junk")
    assert scheduling.worker_nice() == scheduling.WORKER_NICE
