"""The station's worker threads yield the CPU to its event loop.

The event loop sends the stethoscope's sound every 20 ms: a block late by
more than 60 ms is dropped (station/call/tracks.py) and, worse, a burst of
late packets makes the doctor's browser grow its jitter buffer for tens of
seconds (docs/stethoscope-fidelity.md). Everything heavy runs in the loop's
default thread pool instead: converting camera frames, aiortc's VP8
encoding of two 1280x720 streams, files written with ``asyncio.to_thread``.
On a busy machine those threads took the loop's CPU: the loop stalled for
hundreds of milliseconds and the sound arrived in bursts.

So the station gives its loop a pool whose threads run at a lower priority
(Linux's per-thread nice value): when the CPU is short, video slows down a
little and the sound stays on time; when it is not, nothing changes.
``STATION_WORKER_NICE`` sets the increment (0 turns it off). The nurse's app
(a qasync loop, whose pool is made of QThreads) keeps its pool as it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import weakref
from concurrent.futures import ThreadPoolExecutor

WORKER_NICE = 5  # weight ~1/3 of the loop thread's under Linux's fair scheduler
_ENV = "STATION_WORKER_NICE"

log = logging.getLogger(__name__)
_loops: weakref.WeakSet[asyncio.AbstractEventLoop] = weakref.WeakSet()


def worker_nice() -> int:
    """The nice increment of worker threads (``STATION_WORKER_NICE``, default 5)."""
    try:
        return max(0, min(19, int(os.environ.get(_ENV, WORKER_NICE))))
    except ValueError:
        return WORKER_NICE


def _lower_priority(increment: int) -> None:
    with contextlib.suppress(OSError):  # not Linux, or not allowed: run as is
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, os.getpriority(os.PRIO_PROCESS, tid) + increment)


def yield_to_loop(loop: asyncio.AbstractEventLoop | None = None) -> bool:
    """Give ``loop`` (the running one by default) a default executor of lower-priority
    threads, once per loop; False when turned off or already done."""
    loop = loop or asyncio.get_running_loop()
    increment = worker_nice()
    if increment == 0 or loop in _loops:
        return False
    _loops.add(loop)
    # qasync's loop (the nurse's app) keeps its own pool of QThreads, which must not be
    # dropped (a QThread destroyed while running aborts the process): that loop is left
    # as it is. asyncio makes its pool on first use; an existing one is shut down.
    if type(loop).__module__.split(".")[0] == "qasync":
        return False
    current = getattr(loop, "_default_executor", None)
    if current is not None and type(current) is not ThreadPoolExecutor:
        return False
    executor = ThreadPoolExecutor(max_workers=min(32, (os.cpu_count() or 1) + 4),
                                  thread_name_prefix="station-worker",
                                  initializer=_lower_priority, initargs=(increment,))
    loop.set_default_executor(executor)
    if current is not None:
        current.shutdown(wait=False)  # its idle threads end; running work finishes
    log.debug("worker threads run at nice +%d", increment)
    return True
