"""Typed device errors: one root, subclasses with fields, messages a technician can act on.

Native errors (bleak, pyserial, PortAudio, OpenCV, D-Bus) are translated into
these in one place per transport; nothing above ``devices/`` sees them.
Messages are plain English here; the station renders them for the nurse.
"""

from __future__ import annotations


class DeviceError(Exception):
    """Root of every error a device adapter raises on purpose."""


class DecodeError(DeviceError):
    """Bytes that do not form a valid frame of ``protocol``.

    ``offset`` is the byte offset where decoding failed, ``reason`` says why.
    """

    def __init__(self, protocol: str, offset: int, reason: str) -> None:
        self.protocol = protocol
        self.offset = offset
        self.reason = reason
        super().__init__(f"{protocol}: byte {offset}: {reason}")


class DeviceUnavailableError(DeviceError):
    """The transport itself is missing (no Bluetooth stack, no serial port, no camera)."""


class DeviceNotFoundError(DeviceError):
    """The addressed device did not answer (not in range, unplugged, switched off)."""


class ConnectionLostError(DeviceError):
    """A connected device vanished mid-stream."""


class DeviceConfigurationError(DeviceError):
    """A device URL or setting is malformed or unsupported."""
