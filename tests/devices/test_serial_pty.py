"""PseudoTerminal: raw line discipline, commands, buffer limits, a pulled cable."""

from __future__ import annotations

import os
import termios

import pytest
import serial

from devices.serial import PseudoTerminal, SerialSettings, open_serial


def test_the_line_is_raw_before_the_product_opens_it() -> None:
    with PseudoTerminal() as pty:
        fd = os.open(pty.slave_path, os.O_RDWR | os.O_NOCTTY)
        try:
            iflag, oflag, _cflag, lflag, *_ = termios.tcgetattr(fd)
        finally:
            os.close(fd)
        assert lflag & (termios.ECHO | termios.ICANON | termios.ISIG | termios.IEXTEN) == 0
        assert iflag & (termios.IXON | termios.IXOFF | termios.ICRNL | termios.INLCR) == 0
        assert oflag & termios.OPOST == 0


def test_device_bytes_are_not_echoed_back_to_the_simulator() -> None:
    with PseudoTerminal() as pty:
        pty.write(b"\x01\x81\x01\x00\x83\r\n")
        assert pty.read_available(timeout=0.2) == b""


def test_the_product_command_arrives_unaltered_at_the_simulator() -> None:
    command = bytes.fromhex("7D81A1808080808080") + b"\x00\x11\x13\r\n"
    with PseudoTerminal() as pty:
        port = open_serial(SerialSettings.cms50d_v46(pty.slave_path))
        try:
            port.write(command)
            port.flush()
            received = b""
            while len(received) < len(command):
                chunk = pty.read_available(timeout=2.0)
                assert chunk, "command never arrived"
                received += chunk
        finally:
            port.close()
        assert received == command
        assert pty.read_available() == b""


def test_the_product_can_close_and_reopen_the_port() -> None:
    with PseudoTerminal() as pty:
        open_serial(SerialSettings.nonin(pty.slave_path)).close()
        port = open_serial(SerialSettings.nonin(pty.slave_path))
        try:
            pty.write(b"\x01\x80\x01\x48\xca")
            assert port.read(5) == b"\x01\x80\x01\x48\xca"
        finally:
            port.close()


def test_a_write_nobody_drains_times_out_instead_of_hanging() -> None:
    with PseudoTerminal() as pty, pytest.raises(TimeoutError, match="not draining"):
        pty.write(bytes(4 * 1024 * 1024), timeout=0.2)


def test_close_is_a_pulled_cable_for_the_product() -> None:
    pty = PseudoTerminal()
    port = open_serial(SerialSettings.nonin(pty.slave_path))
    try:
        pty.close()
        pty.close()  # idempotent
        assert pty.closed
        with pytest.raises((serial.SerialException, OSError)):
            port.read(1)
        with pytest.raises(ValueError, match="is closed"):
            pty.write(b"\x00")
        with pytest.raises(ValueError, match="is closed"):
            pty.read_available()
    finally:
        port.close()
