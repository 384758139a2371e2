"""Serial transport: real ports through pyserial, and pseudo-terminals for simulators.

The product opens :class:`SerialPort` on a path; a simulator stands behind a
:class:`PseudoTerminal` whose slave path the product opens like any device,
and writes frames at the device's real rate with a :class:`PacedWriter`.
"""

from devices.serial.pacing import PacedWriter
from devices.serial.port import SerialPort, SerialSettings, open_serial, translate_serial_error
from devices.serial.pty import PseudoTerminal

__all__ = ["PacedWriter", "PseudoTerminal", "SerialPort", "SerialSettings", "open_serial",
           "translate_serial_error"]
