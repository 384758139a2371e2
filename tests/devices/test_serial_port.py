"""SerialPort against a real pseudo-terminal: raw bytes, commands, pulled cables, errors."""

from __future__ import annotations

import asyncio
import errno
import os
import threading
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
import serial

from devices.errors import (
    ConnectionLostError,
    DeviceConfigurationError,
    DeviceNotFoundError,
    DeviceUnavailableError,
)
from devices.serial import (
    PacedWriter,
    PseudoTerminal,
    SerialPort,
    SerialSettings,
    open_serial,
    translate_serial_error,
)

T = TypeVar("T")
CMS50D_V46_START = bytes.fromhex("7D81A1808080808080")
CMS50D_V46_FRAME = bytes.fromhex("01E085D59ABDE3FFFF")
# Every byte value, then the ones a cooked line would eat or rewrite: NUL, XON, XOFF, LF, CR.
AWKWARD = bytes(range(256)) + b"\x00\x11\x13\x0a\x0d\x0d\x0a\x03\x04\x1a\x7f\x80\xff"
PRESETS = [SerialSettings.cms50d_classic, SerialSettings.cms50d_v46, SerialSettings.nonin]


def run(coro: Coroutine[Any, Any, T], timeout: float = 10.0) -> T:
    """Run ``coro`` in a fresh loop; a hang fails the test instead of blocking it."""
    return asyncio.run(asyncio.wait_for(coro, timeout))


@pytest.fixture
def pty() -> Iterator[PseudoTerminal]:
    with PseudoTerminal() as opened:
        yield opened


@pytest.fixture
def thread_errors(monkeypatch: pytest.MonkeyPatch) -> list[BaseException]:
    """Exceptions that escaped any thread during the test (there must be none)."""
    seen: list[BaseException] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: seen.append(args.exc_value))
    return seen


async def read_exactly(port: SerialPort, count: int) -> bytes:
    received = b""
    while len(received) < count:
        received += await port.read()
    return received


@pytest.mark.parametrize("preset", PRESETS, ids=["cms50d-19200-8O1", "cms50d46-115200-8N1",
                                                 "nonin-9600-8N1"])
def test_bytes_pass_unaltered_with_each_device_setting(pty: PseudoTerminal, preset: Any) -> None:
    async def scenario() -> bytes:
        async with await SerialPort.open(preset(pty.slave_path)) as port:
            pty.write(AWKWARD + CMS50D_V46_FRAME)
            return await read_exactly(port, len(AWKWARD) + len(CMS50D_V46_FRAME))

    assert run(scenario()) == AWKWARD + CMS50D_V46_FRAME


def test_a_command_from_the_product_reaches_the_simulator(pty: PseudoTerminal) -> None:
    async def scenario() -> None:
        async with await SerialPort.open(SerialSettings.cms50d_v46(pty.slave_path)) as port:
            await port.write(CMS50D_V46_START)

    run(scenario())
    assert pty.read_available(timeout=2.0) == CMS50D_V46_START


def test_a_pulled_cable_reaches_the_consumer_as_connection_lost(
        pty: PseudoTerminal, thread_errors: list[BaseException]) -> None:
    frame = bytes([0x80 | 0x07, 0x40, 0x05, 72, 97])  # classic 5-byte CMS50D+ frame
    writer = PacedWriter(pty.write, [frame] * 600, rate_hz=60)

    async def scenario() -> tuple[int, ConnectionLostError]:
        port = await SerialPort.open(SerialSettings.cms50d_classic(pty.slave_path))
        writer.start()
        received = 0
        try:
            async for chunk in port:
                received += len(chunk)
                if received >= 10 * len(frame) and not pty.closed:
                    pty.close()  # mid-stream, while the writer thread is still sending
            raise AssertionError("the stream ended quietly")
        except ConnectionLostError as exc:
            with pytest.raises(ConnectionLostError):  # sticky: the next read says it again
                await port.read()
            return received, exc
        finally:
            await port.close()

    received, error = run(scenario())
    writer.join(2.0)
    assert received >= 50
    assert pty.slave_path in str(error) and "is the cable plugged in?" in str(error)
    assert isinstance(writer.error, ValueError)  # the simulator noticed its own close
    assert thread_errors == []


def test_silence_past_the_idle_timeout_is_a_lost_connection(pty: PseudoTerminal) -> None:
    settings = SerialSettings(pty.slave_path, 9600, idle_timeout=0.3)

    async def scenario() -> None:
        async with await SerialPort.open(settings) as port:
            await port.read()

    with pytest.raises(ConnectionLostError, match=r"no data for 0\.3 s"):
        run(scenario())


def test_waiting_for_bytes_does_not_block_the_loop(pty: PseudoTerminal) -> None:
    async def scenario() -> tuple[bytes, int]:
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                await asyncio.sleep(0.01)
                ticks += 1

        async with await SerialPort.open(SerialSettings.nonin(pty.slave_path)) as port:
            task = asyncio.create_task(ticker())
            threading.Timer(0.3, pty.write, args=(b"\x01\x81\x01\x00\x83",)).start()
            data = await read_exactly(port, 5)
            task.cancel()
            return data, ticks

    data, ticks = run(scenario())
    assert data == b"\x01\x81\x01\x00\x83"
    assert ticks >= 5  # the loop kept running while the reader thread waited


def test_close_ends_reading_and_iteration(pty: PseudoTerminal) -> None:
    async def scenario() -> None:
        port = await SerialPort.open(SerialSettings.nonin(pty.slave_path))
        pending = asyncio.create_task(port.read())
        await asyncio.sleep(0.05)
        await port.close()
        assert await pending == b""
        assert await port.read() == b""
        assert [chunk async for chunk in port] == []
        with pytest.raises(ConnectionLostError, match="is closed"):
            await port.write(b"\x00")
        await port.close()  # twice is harmless

    run(scenario())


def test_close_drops_unread_bytes() -> None:
    async def scenario(pty: PseudoTerminal) -> bytes:
        port = await SerialPort.open(SerialSettings.nonin(pty.slave_path))
        pty.write(b"\x01\x80\x01\x48\xca")
        await port.read()
        pty.write(b"\x01\x80\x01\x48\xca")
        await asyncio.sleep(0.2)  # queued by the reader thread, never read
        await port.close()
        return await port.read()

    with PseudoTerminal() as pty:
        assert run(scenario(pty)) == b""


def test_any_pyserial_compatible_object_can_be_wrapped() -> None:
    """Backends are swappable: pyserial's own loop:// URL stands in for a device."""
    async def scenario() -> bytes:
        raw = serial.serial_for_url("loop://", timeout=0.1)
        async with SerialPort(raw, SerialSettings("loop://", 9600),
                              asyncio.get_running_loop()) as port:
            await port.write(b"\x01\x80\x01\x48\xca")
            return await read_exactly(port, 5)

    assert run(scenario()) == b"\x01\x80\x01\x48\xca"


def test_a_missing_path_is_device_not_found() -> None:
    with pytest.raises(DeviceNotFoundError) as caught:
        run(SerialPort.open(SerialSettings.nonin("/dev/ttyUSB_station_test")))
    assert str(caught.value) == ("no serial port at /dev/ttyUSB_station_test: "
                                 "is the cable plugged in?")
    assert isinstance(caught.value.__cause__, serial.SerialException)


def test_a_port_held_by_another_program_is_unavailable(pty: PseudoTerminal) -> None:
    first = open_serial(SerialSettings.nonin(pty.slave_path))
    try:
        with pytest.raises(DeviceUnavailableError, match="in use by another program"):
            open_serial(SerialSettings.nonin(pty.slave_path))
    finally:
        first.close()


def test_a_path_that_is_not_a_serial_port_is_a_configuration_error() -> None:
    with pytest.raises(DeviceConfigurationError, match="/dev/null is not a serial port"):
        open_serial(SerialSettings.nonin("/dev/null"))


def test_permission_denied_says_to_join_the_dialout_group(pty: PseudoTerminal) -> None:
    """A real EACCES from the kernel through pyserial and the real translation.

    Tests run as root, who may open anything, so a forked child drops to the
    ``nobody`` user first; the pty slave belongs to root with mode 0600/0620.
    As an ordinary user, the slave is ours and ``chmod 000`` locks us out.
    """
    if os.geteuid() != 0:
        os.chmod(pty.slave_path, 0)
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never return into pytest
        try:
            if os.geteuid() == 0:
                os.setgroups([])
                os.setresgid(65534, 65534, 65534)
                os.setresuid(65534, 65534, 65534)
            try:
                open_serial(SerialSettings.nonin(pty.slave_path))
                outcome = "opened"
            except Exception as exc:
                outcome = f"{type(exc).__name__}|{exc}"
            os.write(write_end, outcome.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end, "rb") as pipe:
        kind, _, message = pipe.read().decode().partition("|")
    assert kind == "DeviceUnavailableError"
    assert message.startswith(f"permission denied on serial port {pty.slave_path}")
    assert "dialout group" in message


@pytest.mark.parametrize(("code", "expected", "words"), [
    (errno.ENOENT, DeviceNotFoundError, "no serial port at /dev/ttyS9"),
    (errno.ENXIO, DeviceNotFoundError, "is the cable plugged in?"),
    (errno.EACCES, DeviceUnavailableError, "dialout"),
    (errno.EBUSY, DeviceUnavailableError, "in use by another program"),
    (errno.EIO, DeviceUnavailableError, "cannot open serial port /dev/ttyS9"),
])
def test_open_errors_by_errno(code: int, expected: type[Exception], words: str) -> None:
    native = serial.SerialException(code, f"could not open port /dev/ttyS9: {os.strerror(code)}")
    translated = translate_serial_error(native, "/dev/ttyS9", "open")
    assert type(translated) is expected
    assert words in str(translated)


def test_any_error_while_reading_or_writing_is_a_lost_connection() -> None:
    for native in (serial.SerialException("device reports readiness to read but returned no "
                                          "data"), OSError(errno.EIO, "Input/output error")):
        for phase in ("read", "write"):
            translated = translate_serial_error(native, "/dev/ttyUSB0", phase)  # type: ignore[arg-type]
            assert type(translated) is ConnectionLostError
            assert "/dev/ttyUSB0 stopped answering" in str(translated)


def test_bad_settings_are_configuration_errors() -> None:
    with pytest.raises(DeviceConfigurationError,
                       match=r"9 data bits, parity 'X' \(use N, E, O, M or S\)"):
        SerialSettings("/dev/ttyUSB0", 9600, bytesize=9, parity="X")
    with pytest.raises(DeviceConfigurationError, match="baud rate 0"):
        SerialSettings("/dev/ttyUSB0", 0)
