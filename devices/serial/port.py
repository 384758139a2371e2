"""A real serial port (pyserial) read asynchronously for one asyncio event loop.

:class:`SerialPort` opens a device path with :class:`SerialSettings` and hands
the bytes it receives to an asyncio consumer (``await port.read()`` or
``async for chunk in port``). Every native error (``serial.SerialException``,
``OSError``) is translated into a :mod:`devices.errors` type by
:func:`translate_serial_error`, the one translation point of this transport.

Why a reader thread rather than ``loop.add_reader`` on the file descriptor:

* portability: Windows' default proactor loop has no ``add_reader`` and
  pyserial on Windows has no file descriptor at all; a thread works with any
  loop, including a Qt-hosted one;
* pyserial's own ``read`` already handles partial reads, ``EINTR`` and the
  "ready but no data" signature of an unplugged USB adapter; ``add_reader``
  would mean re-implementing that on the raw descriptor;
* the cost is one mostly idle thread per port, and serial rates are tiny
  (115200 baud is at most 11.5 kB/s).

The thread only blocks in pyserial and posts results to the loop with
``loop.call_soon_threadsafe``; an error in the thread becomes a
:class:`~devices.errors.ConnectionLostError` delivered to the consumer, never
a traceback printed from the thread.
"""

from __future__ import annotations

import asyncio
import errno
import termios
import threading
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import serial

from devices.errors import (
    ConnectionLostError,
    DeviceConfigurationError,
    DeviceError,
    DeviceNotFoundError,
    DeviceUnavailableError,
)

Phase = Literal["open", "read", "write"]
_PARITIES = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD,
             "M": serial.PARITY_MARK, "S": serial.PARITY_SPACE}
_NOT_FOUND = {errno.ENOENT, errno.ENODEV, errno.ENXIO}
_DENIED = {errno.EACCES, errno.EPERM}
_BUSY = {errno.EBUSY, errno.EAGAIN}  # EAGAIN: pyserial's exclusive flock is held elsewhere
_WRITE_TIMEOUT_S = 1.0  # a start command that cannot leave in 1 s will never leave
# Bytes read but not yet consumed, at most: a device flooding faster than the
# station decodes holds the reader thread back (the line's own buffer fills and
# the sender waits, or the kernel drops, as with any UART) instead of growing
# the station's memory without bound.
_MAX_QUEUED_BYTES = 256 * 1024
_MAX_READ = 16 * 1024  # one read's size: bounds the work the loop gets in one item


@dataclass(frozen=True, slots=True)
class SerialSettings:
    """Where a serial device is and how its line is framed.

    ``timeout`` is how long one blocking read waits; it bounds how late the
    reader thread notices :meth:`SerialPort.close`. ``idle_timeout`` (seconds,
    ``None`` = never) turns silence into :class:`ConnectionLostError`: an RS-232
    device unplugged from its USB adapter produces no error, only silence.
    ``exclusive`` takes an advisory lock so a second program cannot share the port.
    """

    path: str
    baudrate: int
    bytesize: int = 8
    parity: str = "N"
    stopbits: float = 1
    timeout: float = 0.1
    idle_timeout: float | None = None
    exclusive: bool = True

    def __post_init__(self) -> None:
        problems = []
        if not self.path:
            problems.append("empty path")
        if self.baudrate <= 0:
            problems.append(f"baud rate {self.baudrate}")
        if self.bytesize not in (5, 6, 7, 8):
            problems.append(f"{self.bytesize} data bits")
        if self.parity not in _PARITIES:
            problems.append(f"parity {self.parity!r} (use N, E, O, M or S)")
        if self.stopbits not in (1, 1.5, 2):
            problems.append(f"{self.stopbits} stop bits")
        if self.timeout <= 0 or (self.idle_timeout is not None and self.idle_timeout <= 0):
            problems.append("timeouts must be positive")
        if problems:
            raise DeviceConfigurationError(f"serial settings for {self.path!r}: "
                                           + ", ".join(problems))

    @classmethod
    def cms50d_classic(cls, path: str) -> SerialSettings:
        """Contec CMS50D+ with classic 5-byte frames: 19200 baud, 8O1."""
        return cls(path, 19200, 8, "O", 1)

    @classmethod
    def cms50d_v46(cls, path: str) -> SerialSettings:
        """Contec CMS50D+ firmware 4.6 (9-byte frames, needs a start command): 115200 8N1."""
        return cls(path, 115200, 8, "N", 1)

    @classmethod
    def nonin(cls, path: str) -> SerialSettings:
        """Nonin serial data format #2: 9600 8N1."""
        return cls(path, 9600, 8, "N", 1)


def translate_serial_error(exc: BaseException, path: str, phase: Phase) -> DeviceError:
    """The one place where pyserial and OS errors become :mod:`devices.errors` types.

    While opening: a missing path is :class:`DeviceNotFoundError`; permission,
    a port held by another program or an unusable port is
    :class:`DeviceUnavailableError`; a path that is not a serial port is
    :class:`DeviceConfigurationError`. While reading or writing, any failure
    means the device vanished: :class:`ConnectionLostError`.
    """
    if isinstance(exc, DeviceError):
        return exc
    detail = str(exc) or type(exc).__name__
    if phase != "open":
        return ConnectionLostError(
            f"serial device at {path} stopped answering ({detail}): is the cable plugged in?")
    return _open_error(getattr(exc, "errno", None), detail, path)


def _open_error(code: int | None, detail: str, path: str) -> DeviceError:
    """Classify an error raised while opening ``path`` by its errno."""
    if code in _NOT_FOUND:
        return DeviceNotFoundError(f"no serial port at {path}: is the cable plugged in?")
    if code in _DENIED:
        return DeviceUnavailableError(
            f"permission denied on serial port {path}: add the station's user to the "
            "dialout group (sudo usermod -aG dialout <user>), then log in again")
    if code in _BUSY:
        return DeviceUnavailableError(
            f"serial port {path} is in use by another program: close that program and retry")
    if code == errno.ENOTTY or "Inappropriate ioctl" in detail:
        # pyserial reports tcgetattr failing on a non-tty without an errno.
        return DeviceConfigurationError(f"{path} is not a serial port ({detail})")
    return DeviceUnavailableError(f"cannot open serial port {path}: {detail}")


def open_serial(settings: SerialSettings) -> Any:
    """Open ``settings.path`` with pyserial (blocking); errors come out translated.

    Returns the ``serial.Serial`` object. Most callers want the asynchronous
    :meth:`SerialPort.open` instead.
    """
    try:
        return serial.Serial(
            settings.path, settings.baudrate, bytesize=settings.bytesize,
            parity=_PARITIES[settings.parity], stopbits=settings.stopbits,
            timeout=settings.timeout, write_timeout=_WRITE_TIMEOUT_S,
            xonxoff=False, rtscts=False, dsrdtr=False,  # 0x11/0x13 are data, not flow control
            exclusive=settings.exclusive or None)
    except (serial.SerialException, OSError, ValueError) as exc:
        raise translate_serial_error(exc, settings.path, "open") from exc
    except termios.error as exc:  # not an OSError: pyserial lets it through from tcsetattr
        code, text = (*exc.args, 0, str(exc))[:2]
        raise translate_serial_error(OSError(code, text), settings.path, "open") from exc


_Item = bytes | DeviceError | None  # None marks the end after a local close


class SerialPort:
    """An open serial port whose received bytes are read from an asyncio loop.

    Create it with ``await SerialPort.open(settings)`` inside the loop that
    will consume it, or wrap any already open pyserial-compatible object
    (``serial.serial_for_url("loop://")``, say) with ``SerialPort(raw,
    settings, loop)``. ``read()`` returns the next chunk of bytes as received
    (frame boundaries are the codec's business), ``b""`` once the port was
    closed locally, and raises :class:`ConnectionLostError` if the device
    vanished (the error is sticky: later reads raise it again).
    """

    def __init__(self, raw: Any, settings: SerialSettings,
                 loop: asyncio.AbstractEventLoop) -> None:
        self._raw = raw
        self.settings = settings
        self._loop = loop
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._queued = 0  # bytes posted to the loop and not read yet (guarded by _room)
        self._room = threading.Condition()
        self._lost: DeviceError | None = None
        self._ended = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._pump, daemon=True,
                                        name=f"serial reader {settings.path}")
        self._thread.start()

    @classmethod
    async def open(cls, settings: SerialSettings) -> SerialPort:
        """Open the port in a worker thread (USB adapters can take a while) and start reading."""
        raw = await asyncio.to_thread(open_serial, settings)
        return cls(raw, settings, asyncio.get_running_loop())

    @property
    def path(self) -> str:
        """The device path this port was opened on."""
        return self.settings.path

    async def read(self) -> bytes:
        """The next bytes received; ``b""`` after :meth:`close`; raises on device loss."""
        if self._lost is not None:
            raise self._lost
        if self._ended:
            return b""
        item = await self._queue.get()
        if isinstance(item, DeviceError):
            self._lost = item
            raise item
        if item is None:
            self._ended = True
            return b""
        with self._room:
            self._queued -= len(item)
            self._room.notify()
        return item

    def __aiter__(self) -> AsyncIterator[bytes]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[bytes]:
        while chunk := await self.read():
            yield chunk

    async def write(self, data: bytes) -> None:
        """Send ``data`` (e.g. a start command) from a worker thread; raises on device loss."""
        if self._stopping.is_set():
            raise ConnectionLostError(f"serial port {self.path} is closed")
        try:
            await asyncio.to_thread(self._write_all, data)
        except (serial.SerialException, OSError) as exc:
            raise translate_serial_error(exc, self.path, "write") from exc

    def _write_all(self, data: bytes) -> None:
        written = self._raw.write(data)
        if written != len(data):
            raise serial.SerialTimeoutException(f"only {written} of {len(data)} bytes sent")
        self._raw.flush()

    async def close(self) -> None:
        """Stop the reader, close the port; pending and later reads return ``b""``."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        with self._room:
            self._room.notify()  # a reader thread waiting for room must see the stop
        self._raw.cancel_read()  # wakes the reader thread out of select() at once
        await asyncio.to_thread(self._thread.join)
        self._raw.close()
        # The thread's last posts ran before join() returned to us (the loop runs
        # callbacks in order), so the queue is complete: unread bytes are dropped
        # because the consumer chose to stop.
        while not self._queue.empty():
            self._queue.get_nowait()
        self._ended = True
        self._queue.put_nowait(None)  # wakes a read() already waiting

    async def __aenter__(self) -> SerialPort:
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.close()

    # --- reader thread -------------------------------------------------------------------

    def _pump(self) -> None:
        """Thread body: read until closed or lost; everything goes to the loop."""
        last_data = time.monotonic()
        idle = self.settings.idle_timeout
        try:
            while not self._stopping.is_set():
                chunk = self._raw.read(min(self._raw.in_waiting, _MAX_READ) or 1)
                if chunk and self._raw.in_waiting:  # the rest of a frame that was arriving
                    chunk += self._raw.read(min(self._raw.in_waiting, _MAX_READ))
                if chunk:
                    last_data = time.monotonic()
                    self._wait_for_room()
                    with self._room:
                        self._queued += len(chunk)
                    self._post(bytes(chunk))
                elif idle is not None and time.monotonic() - last_data > idle:
                    raise TimeoutError(f"no data for {idle:g} s")
        except Exception as exc:  # every failure must reach the consumer, not stderr
            if not self._stopping.is_set():
                self._post(translate_serial_error(exc, self.path, "read"))

    def _wait_for_room(self) -> None:
        """Block the reader thread while the loop has :data:`_MAX_QUEUED_BYTES` unread."""
        with self._room:
            while self._queued >= _MAX_QUEUED_BYTES and not self._stopping.is_set():
                self._room.wait(0.1)

    def _post(self, item: _Item) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop is closed: nobody is left to tell
            self._stopping.set()
