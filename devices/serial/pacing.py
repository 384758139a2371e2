"""Send a simulator's frames at a real device's rate, in a thread, without drift.

A CMS50D+ sends 60 frames/s, a Nonin 75 frames/s (in packets of 25). A
simulator that writes as fast as it can floods the product with minutes of
data in a second, which no real device does; one that sleeps ``1/rate``
after each frame runs slow, because each sleep overshoots a little and the
errors add up. :class:`PacedWriter` computes the due time of frame ``n`` as
``start + n / rate`` from one fixed origin, so an overshoot never carries
over to the next frame.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable

_MAX_LAG_S = 1.0


class PacedWriter:
    """Write each chunk of ``chunks`` with ``send`` at ``rate_hz`` chunks per second.

    Runs in its own daemon thread after :meth:`start` (or synchronously with
    :meth:`run`). A chunk that comes late (the machine stalled) is sent at
    once and the next ones keep their original due times, so the long-run
    rate is exact; after a stall longer than 1 s the schedule restarts from
    now rather than bursting a second of data. The writer stops at the end of
    ``chunks``, on :meth:`stop`, or when ``send`` raises (the pty was closed):
    that exception is kept in :attr:`error`, not printed.

    ``clock`` and ``wait`` are injectable so tests can check the schedule
    without sleeping; ``wait(seconds)`` returns True when asked to stop.
    """

    def __init__(self, send: Callable[[bytes], object], chunks: Iterable[bytes],
                 rate_hz: float, *, clock: Callable[[], float] = time.monotonic,
                 wait: Callable[[float], bool] | None = None) -> None:
        if rate_hz <= 0:
            raise ValueError(f"rate must be positive, not {rate_hz}")
        self._send = send
        self._chunks = chunks
        self.rate_hz = rate_hz
        self._clock = clock
        self._stop = threading.Event()
        self._wait = wait or self._stop.wait
        self._thread: threading.Thread | None = None
        self.sent = 0
        self.error: BaseException | None = None

    def start(self) -> PacedWriter:
        """Run in a daemon thread; returns self for chaining."""
        self._thread = threading.Thread(target=self.run, daemon=True, name="paced writer")
        self._thread.start()
        return self

    def run(self) -> None:
        """Send every chunk on schedule (blocking); the thread body."""
        origin = self._clock()
        index = 0
        for chunk in self._chunks:
            due = origin + index / self.rate_hz
            delay = due - self._clock()
            if delay > 0 and self._wait(delay):
                return
            if delay < -_MAX_LAG_S:
                origin, index = self._clock(), 0  # resynchronise instead of bursting
            if self._stop.is_set():
                return
            try:
                self._send(chunk)
            except Exception as exc:  # a closed pty ends the stream; keep why
                self.error = exc
                return
            self.sent += 1
            index += 1

    def stop(self, timeout: float = 2.0) -> None:
        """Ask the writer to stop and wait for its thread to end."""
        self._stop.set()
        self.join(timeout)

    def join(self, timeout: float | None = None) -> None:
        """Wait for the writer thread to finish (all chunks sent, stopped or failed)."""
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        """True while the writer thread is alive."""
        return self._thread is not None and self._thread.is_alive()
