"""The archive file: a plain header, then AES-256-GCM records.

Layout::

    MAGIC (16 bytes) | header length (4 bytes, big-endian) | header (JSON)
    record 0 | record 1 | ... | last record

Each record is up to ``CHUNK`` bytes of plaintext encrypted with AES-256-GCM
(16-byte tag). The nonce is a random 7-byte prefix, the record's 4-byte
counter and a 1-byte "last" flag (the STREAM construction used by Tink and
age), and every record's associated data is the SHA-256 of magic and header.
So a changed header byte, a changed, swapped or removed record, or a file
cut short anywhere fails authentication; plaintext is released only after
its record authenticated.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import json
import os
import struct
from dataclasses import dataclass
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from station.backup.errors import BackupError, TamperedArchiveError, WrongKeyError
from station.backup.keys import BackupKey, BackupSecret, derive

MAGIC = b"STATION-BACKUP\n\x00"
FORMAT_VERSION = 1
CHUNK = 1 << 16
_TAG = 16
_MAX_HEADER = 1 << 16
_MAX_RECORDS = 1 << 32


@dataclass(frozen=True, slots=True)
class Header:
    """What an archive says about itself, readable without the key."""

    fields: dict[str, object]
    raw: bytes  # magic + length + JSON, exactly as in the file

    @property
    def aad(self) -> bytes:
        """Associated data binding every record to this exact header."""
        return hashlib.sha256(self.raw).digest()

    def get_str(self, name: str) -> str:
        """A text field ('' when absent)."""
        value = self.fields.get(name)
        return value if isinstance(value, str) else ""


def build_header(fields: dict[str, object]) -> Header:
    """Serialise header fields (sorted keys, so the bytes are reproducible)."""
    body = json.dumps(fields, sort_keys=True, ensure_ascii=False).encode("utf-8")
    return Header(fields, MAGIC + struct.pack(">I", len(body)) + body)


def read_header(file: BinaryIO, name: str) -> Header:
    """Parse the header at the start of ``file``; refuses what is not an archive."""
    start = file.read(len(MAGIC) + 4)
    if len(start) < len(MAGIC) + 4 or not start.startswith(MAGIC):
        raise BackupError("backup.not_an_archive", path=name)
    (length,) = struct.unpack(">I", start[len(MAGIC):])
    if length > _MAX_HEADER:
        raise TamperedArchiveError("backup.tampered", path=name)
    body = file.read(length)
    try:
        fields = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise TamperedArchiveError("backup.tampered", path=name) from exc
    if len(body) < length or not isinstance(fields, dict):
        raise TamperedArchiveError("backup.tampered", path=name)
    version = fields.get("format")
    if version != FORMAT_VERSION:
        raise BackupError("backup.format_unknown", path=name, found=version,
                          known=FORMAT_VERSION)
    return Header(fields, start + body)


def _nonce(prefix: bytes, counter: int, last: bool) -> bytes:
    if counter >= _MAX_RECORDS:
        raise BackupError("backup.too_large")
    return prefix + struct.pack(">IB", counter, 1 if last else 0)


class EncryptingWriter(io.RawIOBase):
    """A write-only stream that encrypts into ``out`` record by record."""

    def __init__(self, out: BinaryIO, key: BackupKey, nonce_prefix: bytes, aad: bytes) -> None:
        super().__init__()
        self._out, self._aead, self._prefix, self._aad = out, AESGCM(key.cipher_key), \
            nonce_prefix, aad
        self._buffer = bytearray()
        self._counter = 0
        self._finished = False

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        view = memoryview(data)  # type: ignore[arg-type]
        self._buffer += view
        # Keep at least one byte back: the last record is sealed only in finish().
        while len(self._buffer) > CHUNK:
            self._seal(bytes(self._buffer[:CHUNK]), last=False)
            del self._buffer[:CHUNK]
        return view.nbytes

    def finish(self) -> None:
        """Seal the last record (possibly empty); the stream is complete after this."""
        if not self._finished:
            self._seal(bytes(self._buffer), last=True)
            self._buffer.clear()
            self._finished = True

    def _seal(self, plain: bytes, *, last: bool) -> None:
        nonce = _nonce(self._prefix, self._counter, last)
        self._out.write(self._aead.encrypt(nonce, plain, self._aad))
        self._counter += 1


class DecryptingReader(io.RawIOBase):
    """A read-only stream of authenticated plaintext from an archive's records.

    Raises :class:`TamperedArchiveError` at the first record that fails, and
    at the end if the file stops before its last record.
    """

    def __init__(self, source: BinaryIO, key: BackupKey, nonce_prefix: bytes, aad: bytes,
                 name: str) -> None:
        super().__init__()
        self._source, self._aead, self._prefix, self._aad, self._name = \
            source, AESGCM(key.cipher_key), nonce_prefix, aad, name
        self._pending = source.read(CHUNK + _TAG)
        self._plain = b""
        self._counter = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: object) -> int:
        view = memoryview(buffer)  # type: ignore[arg-type]
        while not self._plain and not self._done:
            self._next_record()
        count = min(len(view), len(self._plain))
        view[:count] = self._plain[:count]
        self._plain = self._plain[count:]
        return count

    def _next_record(self) -> None:
        record = self._pending
        self._pending = self._source.read(CHUNK + _TAG) if len(record) == CHUNK + _TAG else b""
        last = not self._pending
        try:
            self._plain = self._aead.decrypt(_nonce(self._prefix, self._counter, last),
                                             record, self._aad)
        except InvalidTag as exc:
            raise TamperedArchiveError("backup.tampered", path=self._name) from exc
        self._counter += 1
        self._done = last

    def drain(self) -> None:
        """Read to the end, so truncation or trailing damage is detected."""
        while not self._done:
            self._next_record()
        self._plain = b""


def new_stream_fields(secret: BackupSecret) -> tuple[dict[str, object], BackupKey]:
    """Header fields of the key and stream, and the key itself, for a new archive."""
    spec = secret.header_spec()
    salt, prefix = os.urandom(16), os.urandom(7)
    key = derive(secret.master(spec), salt)
    fields: dict[str, object] = {
        "format": FORMAT_VERSION, "cipher": "AES-256-GCM-STREAM", "chunk": CHUNK,
        "key": spec, "file_salt": salt.hex(), "nonce_prefix": prefix.hex(),
        "key_check": key.check.hex(),
    }
    return fields, key


def open_stream(header: Header, secret: BackupSecret) -> tuple[BackupKey, bytes]:
    """The archive's key (checked against the header's key-check) and nonce prefix."""
    spec = header.fields.get("key")
    try:
        salt = bytes.fromhex(header.get_str("file_salt"))
        prefix = bytes.fromhex(header.get_str("nonce_prefix"))
        check = bytes.fromhex(header.get_str("key_check"))
    except ValueError as exc:
        raise TamperedArchiveError("backup.tampered", path="header") from exc
    if not isinstance(spec, dict) or len(prefix) != 7 or header.fields.get("chunk") != CHUNK:
        raise TamperedArchiveError("backup.tampered", path="header")
    key = derive(secret.master(spec), salt)
    if not hmac.compare_digest(key.check, check):
        raise WrongKeyError("backup.wrong_key")
    return key, prefix
