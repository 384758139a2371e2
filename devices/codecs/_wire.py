"""Byte-level helpers shared by the codecs: struct formats and error messages.

Kept private: the public faces are each protocol module's ``decode_*`` and
``encode_*`` functions.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence

from devices.errors import DecodeError

U16 = struct.Struct("<H")
U16X2 = struct.Struct("<HH")
U16X3 = struct.Struct("<HHH")
U32 = struct.Struct("<I")

Layout = Sequence[tuple[str, int]]


def plural(count: int, noun: str) -> str:
    """``1 byte``, ``2 bytes``."""
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def layout_error(protocol: str, data: bytes, layout: Layout) -> DecodeError:
    """The DecodeError for ``data`` whose length does not match ``layout``.

    ``layout`` lists the fields (name, size) laid end to end, as the flags
    announced them. Only called on the error path, so it may be slow.
    """
    offset = 0
    for name, size in layout:
        left = len(data) - offset
        if left < size:
            return DecodeError(protocol, offset,
                               f"truncated: {name} needs {plural(size, 'byte')}, {left} left")
        offset += size
    extra = len(data) - offset
    return DecodeError(protocol, offset, f"{plural(extra, 'unexpected trailing byte')}")


def u24(data: bytes, offset: int) -> int:
    """The little-endian uint24 at ``offset``."""
    return data[offset] | data[offset + 1] << 8 | data[offset + 2] << 16


def pack_u24(value: int) -> bytes:
    """Three little-endian bytes; ValueError if ``value`` does not fit."""
    if not 0 <= value <= 0xFFFFFF:
        raise ValueError(f"{value} does not fit a uint24")
    return value.to_bytes(3, "little")


class FramerBase:
    """Book-keeping shared by the serial framers.

    ``position`` counts bytes fed, ``frames`` frames emitted, ``discarded``
    bytes dropped while resynchronising, and ``first_problem`` keeps the
    stream offset and reason of the first drop (for error messages).
    """

    def __init__(self) -> None:
        self._buffer = b""
        self._start = 0  # stream offset of self._buffer[0]
        self.position = 0
        self.frames = 0
        self.discarded = 0
        self.first_problem: tuple[int, str] | None = None

    @property
    def pending(self) -> int:
        """Bytes held back as the beginning of an incomplete frame."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data`` and return the complete frames it finished, in order."""
        raise NotImplementedError

    def _drop(self, offset: int, count: int, reason: str) -> None:
        self.discarded += count
        if self.first_problem is None:
            self.first_problem = (offset, reason)
