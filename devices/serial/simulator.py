"""Serial pulse oximeters behind a real pseudo-terminal: CMS50D+ (classic, firmware 4.6), Nonin.

:class:`SerialOximeterSimulator` writes real frames (encoded by the codecs)
into a :class:`~devices.serial.pty.PseudoTerminal` at the device's real rate
with a :class:`~devices.serial.pacing.PacedWriter`: 60 frames/s for both
CMS50D+ protocols, 75 frames/s for Nonin (each frame as it is due; 25 frames
make a packet). The product opens :attr:`~SerialOximeterSimulator.path`
exactly as it opens ``/dev/ttyUSB0``.

Content is what a real finger and a real cable give (see
:mod:`devices.serial.sim_vitals`): a pleth wave with a dicrotic notch at the
simulated pulse, SpO2 and pulse drifting by a seeded random walk, a probe-off
period now and then, the odd corrupted byte. A firmware 4.6 CMS50D+ stays
silent until it reads the start command, and stops 30 s (of device time)
after the last one, as the vendor's device does.

Misbehaviour switches, at start (``misbehave=``) or at run time
(:meth:`~SerialOximeterSimulator.set_misbehaviour`): ``drop`` closes the pty
(the cable is pulled; given at start, after ``drop_after`` s of data),
``malformed`` adds bursts of garbage, ``implausible`` sends SpO2 104 and pulse
300 (254 on CMS50D, whose byte cannot carry more), ``silent`` stops sending
without closing. :attr:`~SerialOximeterSimulator.sent` logs every frame
written, so tests and benchmarks can compare what the product decoded.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Collection, Iterator
from dataclasses import replace
from types import TracebackType

import numpy as np

from devices.codecs import cms50d_v46
from devices.errors import DeviceConfigurationError
from devices.serial.oximeter_reader import check_protocol
from devices.serial.pacing import PacedWriter
from devices.serial.pty import PseudoTerminal
from devices.serial.sim_vitals import FRAME_RATES, SentFrame, VitalsModel, encode

__all__ = ["MISBEHAVIOURS", "SentFrame", "SerialOximeterSimulator"]

MISBEHAVIOURS = ("drop", "malformed", "implausible", "silent")
V46_LIVE_SECONDS = 30.0  # vendor: live data stops about 30 s after the start command
_GARBAGE_EVERY_S = 0.5  # mean interval between bursts while "malformed" is on
_WRITE_TIMEOUT_S = 0.1  # nobody reading: frames fall on the floor, as on a real line
_RESET_LINE_EVERY = 30  # chunks (about half a second): how soon a reopen may succeed


class SerialOximeterSimulator:
    """A serial oximeter on a pty, writing frames at its real rate in a thread.

    ``rate_scale`` runs device time faster (2.0: 120 CMS50D frames per wall
    second) without changing content per frame, so tests are quick while
    every period (probe-off, live window, once-per-second values) keeps its
    length in frames. ``probe_off_every`` / ``probe_off_for`` (seconds, 0 to
    disable), ``corrupt_probability`` (per frame) and ``drop_after`` tune
    the imperfections. ``log_size`` bounds :attr:`sent`.
    """

    def __init__(self, protocol: str, *, misbehave: Collection[str] = (), seed: int = 0,
                 rate_scale: float = 1.0, probe_off_every: float = 30.0,
                 probe_off_for: float = 2.0, corrupt_probability: float = 0.002,
                 drop_after: float = 2.0, log_size: int = 36_000) -> None:
        self.protocol = check_protocol(protocol)
        unknown = set(misbehave) - set(MISBEHAVIOURS)
        if unknown or rate_scale <= 0 or not 0 <= corrupt_probability <= 1:
            raise DeviceConfigurationError(
                f"oximeter simulator: misbehave must be among {', '.join(MISBEHAVIOURS)} "
                f"(got {sorted(unknown)}), rate_scale positive, corrupt_probability 0-1")
        self.frame_rate_hz = FRAME_RATES[protocol]
        self.rate_scale = rate_scale
        self.corrupt_probability = corrupt_probability
        self.model = VitalsModel(seed, self.frame_rate_hz, probe_off_every, probe_off_for)
        self._rng = np.random.default_rng([seed, 1])  # imperfections apart from content
        self._misbehaviours = frozenset(misbehave)
        self.model.implausible = "implausible" in self._misbehaviours
        self._drop_at = round(drop_after * self.frame_rate_hz) if "drop" in misbehave else None
        self._live_left: int | None = 0 if protocol == "cms50d-v46" else None
        self._queue: deque[tuple[bytes, SentFrame]] = deque()
        self._pending: SentFrame | None = None
        self._log: deque[SentFrame] = deque(maxlen=log_size)
        self._lock = threading.Lock()
        self._commands: list[bytes] = []
        self._command_framer = cms50d_v46.Framer()
        self._pty: PseudoTerminal | None = None
        self._chunks_since_reset = 0
        self._writer: PacedWriter | None = None
        self.sent_count = 0
        self.garbage_sent = 0
        self.undelivered = 0

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> SerialOximeterSimulator:
        """Open the pty and start writing (a v46 waits for its start command)."""
        if self._pty is not None:
            raise RuntimeError("the simulator was already started")
        self._pty = PseudoTerminal()
        self._writer = PacedWriter(self._send, self._chunks(),
                                   self.frame_rate_hz * self.rate_scale).start()
        return self

    @property
    def path(self) -> str:
        """The pty slave path the product opens, as it would open ``/dev/ttyUSB0``."""
        if self._pty is None:
            raise RuntimeError("start() the simulator first")
        return self._pty.slave_path

    def stop(self) -> None:
        """Stop writing and close the pty."""
        if self._writer is not None:
            self._writer.stop()
        if self._pty is not None:
            self._pty.close()

    def __enter__(self) -> SerialOximeterSimulator:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None,
                 exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    # --- controls and observations ----------------------------------------------------------

    @property
    def misbehaviours(self) -> frozenset[str]:
        """The misbehaviours switched on."""
        return self._misbehaviours

    def set_misbehaviour(self, name: str, enabled: bool = True) -> None:
        """Switch a misbehaviour on or off now; ``drop`` pulls the cable at once."""
        if name not in MISBEHAVIOURS:
            raise DeviceConfigurationError(f"unknown misbehaviour {name!r}; use one of "
                                           + ", ".join(MISBEHAVIOURS))
        changed = set(self._misbehaviours)
        (changed.add if enabled else changed.discard)(name)
        self._misbehaviours = frozenset(changed)  # one atomic swap: the writer reads it unlocked
        self.model.implausible = "implausible" in changed
        if name == "drop" and enabled and self._pty is not None:
            self._pty.close()

    def set_vitals(self, spo2: int | None = None, pulse_rate: int | None = None) -> None:
        """Hold SpO2 and/or pulse at these values (the walk stops for them)."""
        self.model.pin(spo2, pulse_rate)

    def release_vitals(self) -> None:
        """Let SpO2 and pulse drift again."""
        self.model.release()

    @property
    def sent(self) -> list[SentFrame]:
        """The frames written so far (the latest ``log_size``), oldest first."""
        with self._lock:
            return list(self._log)

    @property
    def commands(self) -> list[bytes]:
        """The command packages the product sent (firmware 4.6 ``7D ...`` packages)."""
        with self._lock:
            return list(self._commands)

    @property
    def closed(self) -> bool:
        """True once the pty is closed (stopped or dropped)."""
        return self._pty is not None and self._pty.closed

    # --- writer thread ----------------------------------------------------------------------

    def _chunks(self) -> Iterator[bytes]:
        """One chunk per tick of the writer (b"" when the device says nothing)."""
        while True:
            try:
                self._poll_commands()
            except (ValueError, OSError):
                return  # the pty was closed: the cable is pulled
            yield self._next_chunk()

    def _poll_commands(self) -> None:
        assert self._pty is not None
        self._chunks_since_reset += 1
        if self._chunks_since_reset >= _RESET_LINE_EVERY:
            self._chunks_since_reset = 0
            self._pty.forget_line_settings()  # so the product can reopen a "re-plugged" port
        received = self._pty.read_available()
        if not received:
            return
        for command in self._command_framer.feed(received):
            with self._lock:
                self._commands.append(command)
            if self._live_left is None:
                continue  # classic CMS50D and Nonin ignore the host
            if command == cms50d_v46.START_LIVE_COMMAND:
                self._live_left = round(V46_LIVE_SECONDS * self.frame_rate_hz)
            elif command == cms50d_v46.STOP_LIVE_COMMAND:
                self._live_left = 0

    def _next_chunk(self) -> bytes:
        assert self._pty is not None
        if self._drop_at is not None and self.sent_count >= self._drop_at:
            self._pty.close()
            return b""
        if "silent" in self._misbehaviours or self._live_left == 0:
            return b""
        if not self._queue:
            self._queue.extend(encode(self.protocol, self.model))
        data, record = self._queue.popleft()
        if self._live_left is not None:
            self._live_left -= 1
        if self._rng.random() < self.corrupt_probability:
            data, record = self._corrupt(data), replace(record, corrupted=True)
        if "malformed" in self._misbehaviours and \
                self._rng.random() < 1 / (_GARBAGE_EVERY_S * self.frame_rate_hz):
            garbage = self._rng.integers(0, 256, int(self._rng.integers(8, 33)), np.uint8)
            data += garbage.tobytes()
            self.garbage_sent += len(garbage)
        self._pending = record
        return data

    def _corrupt(self, data: bytes) -> bytes:
        """One byte replaced by another, or one stray byte inserted: what a noisy cable does."""
        at = int(self._rng.integers(0, len(data)))
        byte = int(self._rng.integers(0, 256))
        if self._rng.random() < 0.5:
            return data[:at] + bytes((byte,)) + data[at:]
        return data[:at] + bytes((byte if byte != data[at] else byte ^ 0xFF,)) + data[at + 1:]

    def _send(self, chunk: bytes) -> None:
        if not chunk or self._pending is None:
            return
        assert self._pty is not None
        # Logged before writing: a fast reader may decode the frame before write() returns.
        with self._lock:
            self._log.append(replace(self._pending, time=time.monotonic()))
        try:
            self._pty.write(chunk, timeout=_WRITE_TIMEOUT_S)
        except Exception as exc:
            with self._lock:
                self._log.pop()
            if not isinstance(exc, TimeoutError):
                raise  # the pty is closed: the writer stops
            self.undelivered += 1  # the product is not reading: a real line drops it too
            return
        self.sent_count += 1
