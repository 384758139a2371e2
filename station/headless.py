"""Driving a station with no window from another program: tests, benchmarks,
external checks. ``station demo --wait-for-doctor`` runs as a real subprocess
exactly as a person would start it; its output is read line by line and the
one-time doctor link is picked from its ``DOCTOR-LINK <url>`` line.
"""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

STATION_BIN = Path(sys.executable).parent / "station"
DEFAULT_COMMAND = (str(STATION_BIN), "demo", "--wait-for-doctor", "--port", "0")


class HeadlessStation:
    """One headless station subprocess, its output drained by a thread."""

    def __init__(self, home: Path, command: Sequence[str] = DEFAULT_COMMAND,
                 timeout: float = 60.0) -> None:
        self.home = home
        self.timeout = timeout
        env = {**os.environ, "STATION_HOME": str(home), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(list(command), env=env, stdout=subprocess.PIPE,
                                        stderr=subprocess.STDOUT, text=True, encoding="utf-8")
        self.lines: list[str] = []
        self._queue: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()
        self.link = self.wait_line("DOCTOR-LINK ").split(" ", 1)[1].strip()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))
            self._queue.put(line)

    def wait_line(self, prefix: str) -> str:
        """The next output line starting with ``prefix``; RuntimeError (with the
        output) if the station exits or ``timeout`` passes first."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            try:
                line = self._queue.get(timeout=0.5)
            except queue.Empty:
                if self.process.poll() is not None:
                    break
                continue
            if line.startswith(prefix):
                return line
        raise RuntimeError(f"no {prefix!r} line; output:\n" + "\n".join(self.lines[-40:]))

    def stop(self) -> int:
        """SIGTERM (a clean, recorded shutdown) and the exit code; killed if it hangs."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=self.timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()
