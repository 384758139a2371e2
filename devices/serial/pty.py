"""A real pseudo-terminal pair that lets a simulator stand where a serial device plugs in.

The simulator keeps the master side; the product opens :attr:`PseudoTerminal.slave_path`
(``/dev/pts/N``) exactly as it opens ``/dev/ttyUSB0``, through the same
:class:`~devices.serial.port.SerialPort` and pyserial code. :meth:`close`
closes the master, which is what a pulled cable looks like from the product's
side: its next read fails with ``EIO``.

The line is put in raw mode at once: a fresh pty echoes, maps CR/NL and
treats 0x11/0x13 as XON/XOFF, any of which would corrupt binary frames (and
the echo would hand the simulator its own bytes back) before the product
has even opened the port.
"""

from __future__ import annotations

import errno
import os
import select
import termios
import threading
import time
import tty
from types import TracebackType

_POLL_SLICE_S = 0.05  # waits are cut in slices so close() from another thread is noticed


class PseudoTerminal:
    """A pty pair: the simulator writes device bytes to it and reads the product's commands.

    ``write`` and ``read_available`` may be called from any thread (a paced
    writer thread and a test, say); ``close`` simulates the cable being pulled.
    """

    def __init__(self) -> None:
        self._master, self._slave = os.openpty()
        tty.setraw(self._slave)
        # Keep our slave descriptor open: with no slave open the master reads EIO,
        # and the product may close and reopen the port like a real one.
        self.slave_path = os.ttyname(self._slave)
        os.set_blocking(self._master, False)  # waits go through poll(), never a stuck write
        self._lock = threading.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once :meth:`close` was called."""
        return self._closed

    def forget_line_settings(self) -> None:
        """Put speed and parity back to a neutral state, as a re-plugged adapter would.

        A pty cannot do parity: Linux silently drops PARENB, and when a second
        open asks for nothing else new (8O1 again), tcsetattr fails with
        EINVAL. Resetting speed and parity bits (and nothing the reader relies
        on: no lflag, iflag or VMIN/VTIME) lets the product reopen the port
        with its real settings. Data flow is not affected: ptys ignore speed.
        """
        with self._lock:
            if self._closed:
                return
            attributes = termios.tcgetattr(self._slave)
            attributes[2] &= ~(termios.PARENB | termios.PARODD)
            attributes[4] = attributes[5] = termios.B38400
            termios.tcsetattr(self._slave, termios.TCSANOW, attributes)

    def write(self, data: bytes, timeout: float = 2.0) -> None:
        """Send ``data`` to the product as the device would, all of it or raise.

        Raises ``TimeoutError`` if the product stops reading and the pty buffer
        stays full for ``timeout`` seconds, ``ValueError`` after :meth:`close`.
        """
        view = memoryview(data)
        deadline = time.monotonic() + timeout
        while view:
            with self._lock:
                self._check_open()
                try:
                    view = view[os.write(self._master, view):]
                    continue
                except BlockingIOError:
                    pass
            if not self._wait(select.POLLOUT, deadline - time.monotonic()):
                raise TimeoutError(f"{self.slave_path}: the reader is not draining the line")

    def read_available(self, timeout: float = 0.0) -> bytes:
        """Bytes the product sent to the device (e.g. a start command), possibly ``b""``.

        Waits up to ``timeout`` seconds for the first byte, then returns all
        bytes available without waiting further.
        """
        self._wait(select.POLLIN, timeout)
        received = bytearray()
        with self._lock:
            self._check_open()
            while True:
                try:
                    chunk = os.read(self._master, 4096)
                except BlockingIOError:
                    break
                except OSError as exc:
                    if exc.errno == errno.EIO:  # no slave open: nothing more will come
                        break
                    raise
                if not chunk:
                    break
                received += chunk
        return bytes(received)

    def close(self) -> None:
        """Close both sides held here: the product's next read fails, as with a pulled cable."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            os.close(self._master)
            os.close(self._slave)

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"pseudo-terminal {self.slave_path} is closed")

    def _wait(self, event: int, timeout: float) -> bool:
        """Wait until the master is ready for ``event``; False on timeout."""
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            self._check_open()
            poller = select.poll()
            poller.register(self._master, event)
            left = deadline - time.monotonic()
            # Sliced so a close() from another thread is noticed. Polling a descriptor
            # closed meanwhile only wakes us early; callers re-check under the lock.
            if poller.poll(max(0.0, min(left, _POLL_SLICE_S)) * 1000):
                return True
            if left <= 0:
                return False

    def __enter__(self) -> PseudoTerminal:
        return self

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
