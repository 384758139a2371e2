"""Serial pulse oximeters as a :class:`~devices.device.Device`: CMS50D+ and Nonin.

:class:`SerialOximeter` opens the port (a real ``/dev/ttyUSB0`` or a
simulator's pty, through the same :class:`~devices.serial.port.SerialPort`),
speaks the start / keep-alive commands a firmware 4.6 CMS50D+ needs, feeds an
:class:`~devices.serial.oximeter_reader.OximeterReader`, emits what it
decodes, and turns silence into :class:`~devices.errors.ConnectionLostError`
(an RS-232 oximeter unplugged from its USB adapter gives no error, only
silence).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime

from devices.codecs import cms50d_v46
from devices.device import Device, DeviceEvent, Emit, EventKind
from devices.errors import ConnectionLostError, DeviceConfigurationError, DeviceError
from devices.garbage import GarbageWatch
from devices.serial.oximeter_reader import (
    PROTOCOLS,
    OximeterReader,
    check_protocol,
    settings_for,
)
from devices.serial.port import SerialPort, SerialSettings, translate_serial_error

__all__ = ["PROTOCOLS", "SerialOximeter", "settings_for"]

log = logging.getLogger(__name__)

_KEEPALIVE_S = 5.0  # vendor: "inform device being connected" every 5 s
_RESTART_S = 15.0  # live data lasts ~30 s after a start command: renew it half way
# Bytes decoded before the pump lets the event loop run: a line flooding at full
# speed must not starve the call, the other devices or the screen (~3 ms of work).
_BYTE_BUDGET = 4096


class _LiveRenewal:
    """When a firmware 4.6 CMS50D+ needs a keep-alive or a renewed start command.

    Counted in live frames (device time) as gagistech/bedsidemon does: the
    device stops sending about 30 s after a start command, and expects the
    "being connected" message every 5 s.
    """

    def __init__(self, sample_rate: float) -> None:
        self._keepalive = round(_KEEPALIVE_S * sample_rate)
        self._restart = round(_RESTART_S * sample_rate)
        self._next_keepalive = self._keepalive
        self._next_restart = self._restart

    def due(self, frames: int) -> bytes | None:
        """The command to send now that ``frames`` live frames arrived, if any."""
        if frames >= self._next_restart:
            self._next_restart = frames + self._restart
            self._next_keepalive = frames + self._keepalive
            return cms50d_v46.START_LIVE_COMMAND
        if frames >= self._next_keepalive:
            self._next_keepalive = frames + self._keepalive
            return cms50d_v46.KEEPALIVE_COMMAND
        return None


class SerialOximeter(Device):
    """A pulse oximeter on a serial port, or on a simulator's pty: same code, same path handling.

    ``protocol`` is one of :data:`PROTOCOLS`; ``settings`` says where and how
    the line is framed (:func:`settings_for` gives the usual ones). The
    stream ends in :class:`ConnectionLostError` when no valid frame came for
    ``silence_timeout`` seconds or the port vanished. ``discarded_bytes``
    counts corrupted bytes skipped over the device's lifetime (all streams);
    ``watch`` says whether the line is currently flagged as unreadable.
    """

    def __init__(self, url: str, settings: SerialSettings, protocol: str, *,
                 device: str | None = None, silence_timeout: float = 3.0,
                 chunk_seconds: float = 1.0, repeat_seconds: float = 1.0) -> None:
        super().__init__(url)
        check_protocol(protocol)  # an unknown protocol is refused now, not at connection time
        if silence_timeout <= 0 or chunk_seconds <= 0 or repeat_seconds <= 0:
            raise DeviceConfigurationError(f"{url}: timeouts and periods must be positive")
        self.settings = settings
        self.protocol = protocol
        self._device = device
        self._silence = silence_timeout
        self._chunk_seconds = chunk_seconds
        self._repeat_seconds = repeat_seconds
        self._reader: OximeterReader | None = None
        self._past_discards = 0
        self.watch = GarbageWatch()

    @property
    def discarded_bytes(self) -> int:
        """Corrupted bytes skipped since this object was created."""
        return self._past_discards + (self._reader.discarded_bytes if self._reader else 0)

    async def stream(self, emit: Emit) -> None:
        """Open the port, emit ``connected``, then vitals and pleth until lost or cancelled."""
        if self._reader is not None:
            self._past_discards += self._reader.discarded_bytes
        reader = self._reader = OximeterReader(
            self.protocol, self.url, device=self._device, chunk_seconds=self._chunk_seconds,
            repeat_seconds=self._repeat_seconds, watch=self.watch)
        try:
            port = await _open(self.settings)
        except DeviceError:
            raise
        except Exception as exc:  # termios.error escapes pyserial on some kernels' ptys
            raise translate_serial_error(exc, self.settings.path, "open") from exc
        try:
            if self.protocol == "cms50d-v46":
                await port.write(cms50d_v46.START_LIVE_COMMAND)  # silent until asked
            log.info("%s oximeter on %s: port open", self.protocol, port.path)
            emit(DeviceEvent(EventKind.CONNECTED, self.url, datetime.now(UTC),
                             detail=f"{self.protocol} oximeter on {port.path}"))
            await self._pump(port, reader, emit)
        except asyncio.CancelledError:
            if self.protocol == "cms50d-v46":
                with contextlib.suppress(DeviceError, TimeoutError):  # leaving anyway
                    await asyncio.wait_for(port.write(cms50d_v46.STOP_LIVE_COMMAND), 0.5)
            raise
        except DeviceError as exc:
            log.warning("%s oximeter on %s: %s", self.protocol, port.path, exc)
            raise
        except Exception as exc:  # a bug must reach the manager as a device error, not a crash
            log.exception("%s oximeter on %s failed", self.protocol, port.path)
            raise DeviceError(f"{self.protocol} oximeter on {port.path}: unexpected "
                              f"{type(exc).__name__}: {exc}") from exc
        finally:
            with contextlib.suppress(Exception):  # keep the last partial second of pleth
                for event in reader.flush():
                    emit(event)
            # Shielded: a second cancellation must not leave the port open and locked.
            await asyncio.shield(port.close())

    async def _pump(self, port: SerialPort, reader: OximeterReader, emit: Emit) -> None:
        """Read, decode and emit until the device falls silent or the port fails."""
        loop = asyncio.get_running_loop()
        renewal = _LiveRenewal(reader.sample_rate) if self.protocol == "cms50d-v46" else None
        nudge_every = self._silence / 3
        last_frame = loop.time()
        next_nudge = last_frame + nudge_every
        garbage = 0  # bytes received since the last valid frame
        budget = 0  # bytes handled since the loop last ran something else
        while True:
            deadline = last_frame + self._silence
            try:
                async with asyncio.timeout_at(min(deadline, next_nudge) if renewal else deadline):
                    data = await port.read()
            except TimeoutError:
                if loop.time() >= deadline:
                    raise self._silence_error(port.path, garbage) from None
                # Firmware 4.6 stopped (its 30 s ran out, or it missed our command): ask again.
                next_nudge = loop.time() + nudge_every
                await port.write(cms50d_v46.START_LIVE_COMMAND)
                continue
            if not data:
                raise ConnectionLostError(f"serial port {port.path} was closed")
            frames = reader.frames
            for start in range(0, len(data), _BYTE_BUDGET):
                if start:
                    await asyncio.sleep(0)
                for event in reader.feed(data[start:start + _BYTE_BUDGET], datetime.now(UTC)):
                    emit(event)
            budget += len(data)
            if budget >= _BYTE_BUDGET:  # queued reads come back without yielding: yield here
                budget = 0
                await asyncio.sleep(0)
            garbage += len(data)
            if reader.frames > frames:
                last_frame = next_nudge = loop.time()
                next_nudge += nudge_every
                garbage = 0
                command = renewal.due(reader.frames) if renewal else None
                if command is not None:
                    await port.write(command)

    def _silence_error(self, path: str, garbage: int) -> ConnectionLostError:
        if garbage:
            return ConnectionLostError(
                f"{self.protocol} oximeter on {path} sent {garbage} bytes in {self._silence:g} s "
                f"but no valid frame: is the protocol right for this oximeter?")
        return ConnectionLostError(
            f"{self.protocol} oximeter on {path} sent nothing for {self._silence:g} s: is it "
            "switched on and its cable plugged in?")


async def _open(settings: SerialSettings) -> SerialPort:
    """Open the port; if cancelled meanwhile, close it once the opening thread is done."""
    opening = asyncio.ensure_future(SerialPort.open(settings))
    try:
        return await asyncio.shield(opening)
    except asyncio.CancelledError:
        opening.add_done_callback(_close_late)
        raise


_closing: set[asyncio.Task[None]] = set()  # strong references to fire-and-forget closes


def _close_late(opening: asyncio.Future[SerialPort]) -> None:
    if opening.cancelled() or opening.exception() is not None:
        return
    task = asyncio.ensure_future(opening.result().close())
    _closing.add(task)
    task.add_done_callback(_closing.discard)
